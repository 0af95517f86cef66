"""What both self-hosted schedules share: an EventBridge Scheduler schedule starting a JSONata state
machine that runs one analyzer job per scheduled hour, then publishes the job's metrics file.

`SelfHostedRun` is that construct; a subclass (`schedule_self_hosted.SelfHostedSchedule` for data
quality, `schedule_self_hosted_quality.SelfHostedQualitySchedule` for model quality) gives the states
before the job (the window, the input checks), the job request, and what its state machine may list.

Creating the job is idempotent. Its name is fixed per hour (`<prefix><yyyymmddHH>`, so an hour is
analysed at most once) and SageMaker refuses a second job of a name, while a Step Functions retry
re-sends identical arguments. So the state machine looks the hour's job up (FindJob) before creating
it and after any error of the create task, and acts on what it finds:
- no job: create it (RunAnalyzer), at most MAX_CREATE_ATTEMPTS times;
- InProgress or Stopping: wait POLL_SECONDS and look again: a retried create, or a re-run of the
  hour, waits on the existing job instead of creating another;
- Completed: publish its metrics (ReadMetrics, then PublishMetrics in batches of PutMetricData);
- Failed or Stopped: end the execution with JOB_FAILED_ERROR, whose cause carries the job's
  FailureReason and ExitMessage (as a DescribeProcessingJob-shaped JSON object the alerts read).
FindJob uses ListProcessingJobs: it answers an empty list for a job that does not exist, where
DescribeProcessingJob answers a generic ValidationException that Step Functions cannot tell apart
from throttling. The create task retries only `SageMaker.ResourceLimitExceededException` (a quota or
capacity refusal: no job exists), with backoff. Every other error is caught and decided by the lookup:
throttling and a "name already exists" both arrive as the generic `SageMaker.AmazonSageMakerException`,
and the task also fails when the job it waits on fails.

With `monitoring_runner` auto or lambda, the input checks lead to `runner_route.RoutedRun`'s routing first
(the Lambda runner for a small window, falling back to FindJob); with processing, straight to FindJob.

The job is network-isolated (no network, no credentials): the state machine publishes its metrics.
A failed run fails the execution, which EventBridge reports as a `Step Functions Execution Status
Change` event: the run's one failure alert (see `alerts.RunAlerts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.events import JOB_FAILED_ERROR
from contract.layout import monitoring_job_prefix
from contract.metrics import BATCH_SIZE as METRICS_BATCH
from contract.metrics import METRICS_FOLDER
from contract.processing import (
    ACTIVE_JOB_STATUSES,
    CODE_INPUT,
    CODE_INPUT_PATH,
    JOB_COMPLETED,
    UNSUCCESSFUL_JOB_STATUSES,
    ProcessingInput,
    ProcessingJobSpec,
    monitoring_outputs,
)
from stacks.config import LambdaRunnerConfig
from stacks.constructs.analyzer_job import VOLUME_SIZE_GB, grant_run_jobs
from stacks.constructs.log_groups import log_group
from stacks.constructs.monitoring_job import MonitoringProps, grant_put_metrics, monitoring_job_role
from stacks.nag import acknowledge_wildcard_resources

SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
HOUR_MS = 3_600_000
MAX_CREATE_ATTEMPTS = 3
POLL_SECONDS = 60
ISO = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z"
FOLDER = "[Y0001]/[M01]/[D01]/[H01]"
JOB_SUFFIX = "[Y0001][M01][D01][H01]"
# The scheduled hour (epoch milliseconds), the Hour state's output.
SCHEDULED_HOUR = "$states.input.end"

# (sid, actions, resources, conditions) of one statement of the state machine's role.
Statement = tuple[str, list[str], list[str], Mapping | None]


def expr(body: str) -> str:
    return "{% " + body + " %}"


def utc(millis: str, picture: str) -> str:
    return f"$fromMillis({millis}, '{picture}')"


def hours_after(hours: int) -> str:
    """The scheduled hour moved by `hours` (negative: earlier), in epoch milliseconds."""
    if hours == 0:
        return SCHEDULED_HOUR
    return f"({SCHEDULED_HOUR} {'-' if hours < 0 else '+'} {abs(hours) * HOUR_MS})"


def jsonata_list(values: Sequence[str]) -> str:
    """A JSONata array of string literals."""
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


def retry_s3(state: sfn.CustomState) -> None:
    state.add_retry(
        errors=["S3.S3Exception", "S3.SdkClientException"],
        max_attempts=4,
        interval=Duration.seconds(5),
        backoff_rate=2,
    )


class SelfHostedRun(Construct):
    """Exposes `schedule_name`, `processing_job_name_prefix`, `state_machine`, `schedule`, `job_role`.

    Subclasses set `KIND` (the monitoring type, for descriptions), `METRICS_FILE` and `NAMESPACE` (the
    job's metrics file and where its values go), and implement `_definition` (which starts with
    `scheduled_hour`, assigns `run_variables`, and ends in `_run_job`), `_processing_job`,
    `_failure_environment` and `_list_statements`."""

    KIND: str
    METRICS_FILE: str
    NAMESPACE: str

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        props: MonitoringProps,
        *,
        log_retention_days: int,
        retain_logs: bool,
        runner: str = "processing",
        lambda_runner: LambdaRunnerConfig | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # The runner settings, read by `runner_route.RoutedRun` (the Lambda runner and the routing to it).
        self.runner, self.lambda_runner_config = runner, lambda_runner or LambdaRunnerConfig()
        self.log_retention_days, self.retain_logs = log_retention_days, retain_logs
        self.schedule_name = props.schedule_name
        self.processing_job_name_prefix = monitoring_job_prefix(props.schedule_name)
        self.job_role = monitoring_job_role(self, "JobRole", props, publish_metrics=False)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(props)),
            query_language=sfn.QueryLanguage.JSONATA,
            # A Lambda run that falls back to a job may take the Lambda's time first.
            timeout=Duration.seconds(props.max_runtime_seconds + 1800 + (
                0 if runner == "processing" else self.lambda_runner_config.timeout_seconds)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group(self, "Logs", log_retention_days, retain_logs),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            comment=f"Hourly {self.KIND} run of {props.endpoint_name} (self-hosted analyzer)",
        )
        self._grant(props)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=props.schedule_name,
            schedule=scheduler.ScheduleExpression.expression(props.schedule_expression),
            description=f"Hourly {self.KIND} monitoring of {props.endpoint_name}",
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"scheduledTime": scheduler.ContextAttribute.scheduled_time}
                ),
                retry_attempts=3,
                max_event_age=Duration.minutes(30),
            ),
        )

    def _definition(self, props: MonitoringProps) -> sfn.IChainable:
        raise NotImplementedError

    def _processing_job(self, props: MonitoringProps) -> dict:
        """The CreateProcessingJob arguments of a run, with JSONata expressions for the run's values."""
        raise NotImplementedError

    def job_spec(self, props: MonitoringProps, environment: Mapping[str, str],
                 inputs: Sequence[ProcessingInput]) -> ProcessingJobSpec:
        """The run's processing job: the analyzer image with `environment`, `inputs`, and the report folder
        and its metrics folder as outputs (JSONata values from the Window state)."""
        image, bucket = props.image, f"s3://{props.bucket_name}/"
        return ProcessingJobSpec(
            role_arn=self.job_role.role_arn,
            image_uri=image.uri,
            kms_key_arn=props.key.key_arn,
            instance_type=props.instance_type,
            volume_size_gb=VOLUME_SIZE_GB,
            max_runtime_seconds=props.max_runtime_seconds,
            environment=image.environment(environment),
            entrypoint=image.entrypoint,
            inputs=(*inputs, ProcessingInput(CODE_INPUT, image.code.s3_uri, CODE_INPUT_PATH)),
            outputs=monitoring_outputs(
                expr(f"'{bucket}' & $reportFolder"), expr(f"'{bucket}' & $reportFolder & '/{METRICS_FOLDER}'")
            ),
        )

    def _failure_environment(self) -> dict[str, str]:
        """The window a failed run analysed, as the job's environment states it: name -> JSONata."""
        raise NotImplementedError

    def _list_statements(self, props: MonitoringProps, bucket: str) -> list[Statement]:
        """The S3 listings the input checks make."""
        raise NotImplementedError

    def scheduled_hour(self) -> sfn.Pass:
        """The hour that ends at the scheduled time (or at the start of a manual run without input)."""
        return sfn.Pass.jsonata(
            self,
            "Hour",
            outputs={
                "end": expr(
                    "($s := $exists($states.input.scheduledTime) ? $states.input.scheduledTime"
                    " : $states.context.Execution.StartTime; $t := $toMillis($s); $t - $t % 3600000)"
                )
            },
        )

    def run_variables(self, props: MonitoringProps) -> dict[str, object]:
        """The variables the job states read, named by the scheduled hour: report folder and job name."""
        return {
            "reportFolder": expr(f"'{props.report_key_prefix}' & {utc(SCHEDULED_HOUR, FOLDER)}"),
            "jobName": expr(f"'{self.processing_job_name_prefix}' & {utc(SCHEDULED_HOUR, JOB_SUFFIX)}"),
            # Set by RunAnalyzer's catcher: how many creates failed, and the last one's error.
            "createAttempts": 0,
            "createError": {},
        }

    def _run_job(self, props: MonitoringProps, *, completed: sfn.IChainable) -> sfn.IChainable:
        """FindJob and what follows it: create the hour's job, wait on it, or end with its outcome (`job_failed`,
        the run's failure in the shape the alerts read); returns the state the input checks lead to."""
        find_job = sfn.CustomState(
            self,
            "FindJob",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:sagemaker:listProcessingJobs",
                "Arguments": {"NameContains": expr("$jobName"), "MaxResults": 100},
                # The summary of the job of exactly this name ({} when there is none).
                "Output": expr(
                    "($job := $states.result.ProcessingJobSummaries[ProcessingJobName = $jobName];"
                    " $exists($job) ? $job[0] : {})"
                ),
            },
        )
        # A read: safe to repeat on any error of the call.
        find_job.add_retry(
            errors=["SageMaker.SageMakerException", "SageMaker.SdkClientException"],
            max_attempts=4,
            interval=Duration.seconds(5),
            backoff_rate=2,
        )
        wait = sfn.Wait.jsonata(self, "WaitForJob", time=sfn.WaitTime.duration(Duration.seconds(POLL_SECONDS)))
        run = self._run_analyzer(props, after_error=wait)
        status = "$states.input.ProcessingJobStatus"
        self.job_failed = self._job_failed()
        find_job.next(
            sfn.Choice.jsonata(self, "JobState")
            .when(sfn.Condition.jsonata(expr(f"{status} = '{JOB_COMPLETED}'")), completed)
            .when(sfn.Condition.jsonata(expr(f"{status} in {jsonata_list(UNSUCCESSFUL_JOB_STATUSES)}")),
                  self.job_failed)
            .when(sfn.Condition.jsonata(expr(f"{status} in {jsonata_list(ACTIVE_JOB_STATUSES)}")), wait)
            .when(sfn.Condition.jsonata(expr(f"$createAttempts < {MAX_CREATE_ATTEMPTS}")), run)
            .otherwise(
                sfn.Fail.jsonata(
                    self, "CreateFailed", error=expr("$createError.Error"), cause=expr("$createError.Cause")
                )
            )
        )
        wait.next(find_job)
        run.next(completed)
        return self._route(props, find_job=find_job, completed=completed)

    def _route(self, props: MonitoringProps, *, find_job: sfn.IChainable, completed: sfn.IChainable
               ) -> sfn.IChainable:
        """The state after the input checks: here the job path (`runner_route.RoutedRun` adds the Lambda runner)."""
        return find_job

    def _run_analyzer(self, props: MonitoringProps, *, after_error: sfn.IChainable) -> sfn.CustomState:
        run = sfn.CustomState(
            self,
            "RunAnalyzer",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createProcessingJob.sync",
                "Arguments": self._processing_job(props),
            },
        )
        # A quota or capacity refusal: the job was not created, and capacity frees up within minutes.
        run.add_retry(
            errors=["SageMaker.ResourceLimitExceededException"],
            max_attempts=3,
            interval=Duration.seconds(30),
            backoff_rate=2,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        # Anything else may have left a job behind (or is the job's own failure): look before acting.
        run.add_catch(
            after_error,
            errors=["States.ALL"],
            assign={"createAttempts": expr("$createAttempts + 1"), "createError": expr("$states.errorOutput")},
        )
        return run

    def _job_failed(self) -> sfn.Fail:
        """The run's end when its job failed or was stopped: the job's summary, in the shape the alerts read
        (a DescribeProcessingJob subset, with the analysed window as the job's environment states it)."""
        job = "$states.input"
        environment = ", ".join(f"'{name}': {value}" for name, value in self._failure_environment().items())
        return sfn.Fail.jsonata(
            self,
            "JobFailed",
            error=JOB_FAILED_ERROR,
            cause=expr(
                f"$string({{'ProcessingJobName': $jobName, 'ProcessingJobStatus': {job}.ProcessingJobStatus, "
                f"'FailureReason': {job}.FailureReason, 'ExitMessage': {job}.ExitMessage, "
                f"'Environment': {{{environment}}}}})"
            ),
        )

    def _publish_metrics(self, props: MonitoringProps) -> sfn.CustomState:
        """Read the run's metrics file and publish its values in batches; then the run is done."""
        read_metrics = sfn.CustomState(
            self,
            "ReadMetrics",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:getObject",
                "Arguments": {
                    "Bucket": props.bucket_name,
                    "Key": expr(f"$reportFolder & '/{METRICS_FOLDER}/{self.METRICS_FILE}'"),
                },
                "Output": expr("$parse($states.result.Body).MetricData"),
            },
        )
        retry_s3(read_metrics)
        done = sfn.Succeed(self, "Done")
        # No metrics file: the constraints disable emit_metrics.
        read_metrics.add_catch(done, errors=["S3.NoSuchKeyException"])
        put_metrics = self._put_metrics()
        publish = sfn.Map.jsonata(
            self,
            "PublishMetrics",
            max_concurrency=2,
            # Batches of METRICS_BATCH values; each batch is an object so one batch stays a list.
            items=sfn.ProvideItems.jsonata(
                expr(
                    f"($d := $states.input; $n := $count($d); [$map($n = 0 ? [] : [0..$floor(($n - 1) / "
                    f"{METRICS_BATCH})], function($i) {{ {{'MetricData': [$d[[$i * {METRICS_BATCH} .. "
                    f"$i * {METRICS_BATCH} + {METRICS_BATCH - 1}]]]}} }})])"
                )
            ),
        )
        publish.item_processor(put_metrics)
        read_metrics.next(publish).next(done)
        return read_metrics

    def _put_metrics(self) -> sfn.CustomState:
        put_metrics = sfn.CustomState(
            self,
            "PutMetricData",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:cloudwatch:putMetricData",
                "Arguments": {
                    "Namespace": self.NAMESPACE,
                    "MetricData": expr("$states.input.MetricData"),
                },
            },
        )
        put_metrics.add_retry(
            # Throttling arrives as the generic exception: the SDK integration raises no bare ThrottlingException.
            errors=["CloudWatch.CloudWatchException", "CloudWatch.LimitExceededException"],
            max_attempts=5,
            interval=Duration.seconds(5),
            backoff_rate=2,
        )
        return put_metrics

    def _grant(self, props: MonitoringProps) -> None:
        role = self.state_machine.role
        partition = Stack.of(self).partition
        bucket = f"arn:{partition}:s3:::{props.bucket_name}"
        # AWS's policy for the createProcessingJob.sync integration also lists the tag actions.
        grant_run_jobs(
            role,
            job_name_prefix=self.processing_job_name_prefix,
            job_role=self.job_role,
            key=props.key,
            extra_actions=("sagemaker:AddTags", "sagemaker:ListTags"),
        )
        sync_rule = f"arn:{partition}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{SYNC_RULE}"
        metrics_files = f"{bucket}/{props.report_key_prefix}*/{METRICS_FOLDER}/{self.METRICS_FILE}"
        statements: list[Statement] = [
            # createProcessingJob.sync waits through this managed EventBridge rule.
            ("SyncProcessingJobs", ["events:PutTargets", "events:PutRule", "events:DescribeRule"], [sync_rule], None),
            *self._list_statements(props, bucket),
            # FindJob: ListProcessingJobs supports no resource-level scoping.
            ("FindJobs", ["sagemaker:ListProcessingJobs"], ["*"], None),
            ("ReadMetricsFiles", ["s3:GetObject"], [metrics_files], None),
            (
                "DecryptMetricsFiles",
                ["kms:Decrypt"],
                [props.key.key_arn],
                {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
        ]
        for sid, actions, resources, conditions in statements:
            role.add_to_principal_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
            )
        grant_put_metrics(role, self.NAMESPACE)
        acknowledge_wildcard_resources(
            role,
            (
                (metrics_files, "The run's metrics file, in any hour folder of this schedule's reports."),
                ("*", "sagemaker:ListProcessingJobs supports no resource scoping; it only reads job summaries."),
            ),
        )
