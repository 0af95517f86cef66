"""The `self-hosted` engine: the project's analyzer, run hourly as a SageMaker Processing job.

EventBridge Scheduler (the same cron as Model Monitor) starts a Step Functions state machine with the
scheduled time. The state machine (JSONata, no Lambda) computes the previous hour's window, capture
folder, report folder and job name; fails the run with the service's reason "Job inputs had no data"
when the hour has no capture file (CreateProcessingJob itself rejects an empty input prefix); runs
`python3 -m analyzer container` with `createProcessingJob.sync`; then publishes the run's metrics file
with PutMetricData (the job is network-isolated: no network, no credentials).

Creating the job is idempotent. Its name is fixed per hour (`<prefix><yyyymmddHH>`, so an hour is
analysed at most once) and SageMaker refuses a second job of a name, while a Step Functions retry
re-sends identical arguments. So the state machine looks the hour's job up (FindJob) before creating
it and after any error of the create task, and acts on what it finds:
- no job: create it (RunAnalyzer), at most MAX_CREATE_ATTEMPTS times;
- InProgress or Stopping: wait POLL_SECONDS and look again: a retried create, or a re-run of the
  hour, waits on the existing job instead of creating another;
- Completed: publish its metrics;
- Failed or Stopped: end the execution with JOB_FAILED_ERROR, whose cause carries the job's
  FailureReason and ExitMessage (as a DescribeProcessingJob-shaped JSON object the alerts read).
FindJob uses ListProcessingJobs: it answers an empty list for a job that does not exist, where
DescribeProcessingJob answers a generic ValidationException that Step Functions cannot tell apart
from throttling. The create task retries only `SageMaker.ResourceLimitExceededException` (a quota or
capacity refusal: no job exists), with backoff. Every other error is caught and decided by the lookup:
throttling and a "name already exists" both arrive as the generic `SageMaker.AmazonSageMakerException`,
and the task also fails when the job it waits on fails.

A failed run fails the execution, which EventBridge reports as a `Step Functions Execution Status
Change` event: the run's one failure alert (the alerts' job-event rule passes only this engine's
completed jobs, see `alerts.RunAlerts`).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.events import JOB_FAILED_ERROR, NO_DATA_ERROR
from contract.layout import monitoring_job_prefix
from contract.metrics import BATCH_SIZE as METRICS_BATCH
from contract.metrics import METRICS_FILE, METRICS_FOLDER, NAMESPACE
from contract.processing import (
    ACTIVE_JOB_STATUSES,
    CODE_INPUT,
    CODE_INPUT_PATH,
    CONSTRAINTS_INPUT,
    CONSTRAINTS_INPUT_DIR,
    ENDPOINT_INPUT,
    ENDPOINT_INPUT_PATH,
    JOB_COMPLETED,
    NO_DATA_REASON,
    STATISTICS_INPUT,
    STATISTICS_INPUT_DIR,
    UNSUCCESSFUL_JOB_STATUSES,
    Env,
    ProcessingInput,
    ProcessingJobSpec,
    monitoring_environment,
    monitoring_outputs,
)
from stacks.constructs.analyzer_job import VOLUME_SIZE_GB, grant_run_jobs
from stacks.constructs.log_groups import log_group
from stacks.constructs.monitoring_job import MonitoringProps, grant_put_metrics, monitoring_job_role
from stacks.nag import acknowledge_wildcard_resources

SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"
HOUR_MS = 3_600_000
MAX_CREATE_ATTEMPTS = 3
POLL_SECONDS = 60


def _expr(body: str) -> str:
    return "{% " + body + " %}"


def _utc(millis: str, picture: str) -> str:
    return f"$fromMillis({millis}, '{picture}')"


ISO = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]Z"
FOLDER = "[Y0001]/[M01]/[D01]/[H01]"
JOB_SUFFIX = "[Y0001][M01][D01][H01]"


class SelfHostedSchedule(Construct):
    """Exposes `schedule_name`, `processing_job_name_prefix`, `state_machine`, `schedule`, `job_role`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        props: MonitoringProps,
        *,
        log_retention_days: int,
        retain_logs: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedule_name = props.schedule_name
        self.processing_job_name_prefix = monitoring_job_prefix(props.schedule_name)
        self.job_role = monitoring_job_role(self, "JobRole", props, publish_metrics=False)

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition(props)),
            query_language=sfn.QueryLanguage.JSONATA,
            timeout=Duration.seconds(props.max_runtime_seconds + 1800),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group(self, "Logs", log_retention_days, retain_logs),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            comment=f"Hourly data-quality run of {props.endpoint_name} (self-hosted analyzer)",
        )
        self._grant(props)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=props.schedule_name,
            schedule=scheduler.ScheduleExpression.expression(props.schedule_expression),
            description=f"Hourly data-quality monitoring of {props.endpoint_name}",
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
        hour, window = self._window(props)
        find_captures, no_data = self._find_captures(props)
        read_metrics = self._publish_metrics(props)
        find_job = self._run_job(props, completed=read_metrics)
        return (
            hour.next(window)
            .next(find_captures)
            .next(
                sfn.Choice.jsonata(self, "HasCaptures")
                .when(sfn.Condition.jsonata(_expr("$captureFiles > 0")), find_job)
                .otherwise(no_data)
            )
        )

    def _window(self, props: MonitoringProps) -> tuple[sfn.Pass, sfn.Pass]:
        """The run's hour and the variables every later state reads (window, folders, job name)."""
        # The hour that ends at the scheduled time (or at the start of a manual run without input).
        hour = sfn.Pass.jsonata(
            self,
            "Hour",
            outputs={
                "end": _expr(
                    "($s := $exists($states.input.scheduledTime) ? $states.input.scheduledTime"
                    " : $states.context.Execution.StartTime; $t := $toMillis($s); $t - $t % 3600000)"
                )
            },
        )
        start = f"($states.input.end - {HOUR_MS})"
        end = "$states.input.end"
        window = sfn.Pass.jsonata(
            self,
            "Window",
            assign={
                "windowStart": _expr(_utc(start, ISO)),
                "windowEnd": _expr(_utc(end, ISO)),
                "hourFolder": _expr(_utc(start, FOLDER)),
                "reportFolder": _expr(f"'{props.report_key_prefix}' & {_utc(end, FOLDER)}"),
                "jobName": _expr(f"'{self.processing_job_name_prefix}' & {_utc(end, JOB_SUFFIX)}"),
                # Set by RunAnalyzer's catcher: how many creates failed, and the last one's error.
                "createAttempts": 0,
                "createError": {},
            },
        )
        return hour, window

    def _find_captures(self, props: MonitoringProps) -> tuple[sfn.CustomState, sfn.Fail]:
        """Whether the hour folder holds a capture file, and the service's failure when it holds none."""
        bucket = props.bucket_name
        find_captures = sfn.CustomState(
            self,
            "FindCaptures",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:listObjectsV2",
                "Arguments": {
                    "Bucket": bucket,
                    "MaxKeys": 1,
                    "Prefix": _expr(f"'{props.capture_key_prefix}' & $hourFolder & '/'"),
                },
                "Assign": {"captureFiles": _expr("$states.result.KeyCount")},
            },
        )
        _retry_s3(find_captures)
        no_data = sfn.Fail.jsonata(
            self,
            "NoData",
            error=NO_DATA_ERROR,
            cause=_expr(
                f"'{NO_DATA_REASON}: no capture file under s3://{bucket}/{props.capture_key_prefix}' & "
                "$hourFolder & '/ for the window ' & $windowStart & ' to ' & $windowEnd"
            ),
        )
        return find_captures, no_data

    def _run_job(self, props: MonitoringProps, *, completed: sfn.IChainable) -> sfn.CustomState:
        """FindJob and what follows it: create the hour's job, wait on it, or end with its outcome."""
        find_job = sfn.CustomState(
            self,
            "FindJob",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:sagemaker:listProcessingJobs",
                "Arguments": {"NameContains": _expr("$jobName"), "MaxResults": 100},
                # The summary of the job of exactly this name ({} when there is none).
                "Output": _expr(
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
        find_job.next(
            sfn.Choice.jsonata(self, "JobState")
            .when(sfn.Condition.jsonata(_expr(f"{status} = '{JOB_COMPLETED}'")), completed)
            .when(sfn.Condition.jsonata(_expr(f"{status} in {_list(UNSUCCESSFUL_JOB_STATUSES)}")),
                  self._job_failed())
            .when(sfn.Condition.jsonata(_expr(f"{status} in {_list(ACTIVE_JOB_STATUSES)}")), wait)
            .when(sfn.Condition.jsonata(_expr(f"$createAttempts < {MAX_CREATE_ATTEMPTS}")), run)
            .otherwise(
                sfn.Fail.jsonata(
                    self, "CreateFailed", error=_expr("$createError.Error"), cause=_expr("$createError.Cause")
                )
            )
        )
        wait.next(find_job)
        run.next(completed)
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
            assign={"createAttempts": _expr("$createAttempts + 1"), "createError": _expr("$states.errorOutput")},
        )
        return run

    def _job_failed(self) -> sfn.Fail:
        """The run's end when its job failed or was stopped: the job's summary, in the shape the alerts read
        (a DescribeProcessingJob subset, with the analysed window as the job's environment states it)."""
        job = "$states.input"
        return sfn.Fail.jsonata(
            self,
            "JobFailed",
            error=JOB_FAILED_ERROR,
            cause=_expr(
                f"$string({{'ProcessingJobName': $jobName, 'ProcessingJobStatus': {job}.ProcessingJobStatus, "
                f"'FailureReason': {job}.FailureReason, 'ExitMessage': {job}.ExitMessage, "
                f"'Environment': {{'{Env.START_TIME}': $windowStart, '{Env.END_TIME}': $windowEnd}}}})"
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
                    "Key": _expr(f"$reportFolder & '/{METRICS_FOLDER}/{METRICS_FILE}'"),
                },
                "Output": _expr("$parse($states.result.Body).MetricData"),
            },
        )
        _retry_s3(read_metrics)
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
                _expr(
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
                    "Namespace": NAMESPACE,
                    "MetricData": _expr("$states.input.MetricData"),
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

    def _processing_job(self, props: MonitoringProps) -> dict:
        """The CreateProcessingJob arguments of a run, with JSONata expressions for the run's values."""
        image = props.image
        bucket = f"s3://{props.bucket_name}/"
        local_captures = f"{ENDPOINT_INPUT_PATH}/{props.endpoint_name}/{props.variant_name}/"
        environment = monitoring_environment(
            props.endpoint_name, props.schedule_name, _expr("$windowStart"), _expr("$windowEnd")
        )
        job = ProcessingJobSpec(
            role_arn=self.job_role.role_arn,
            image_uri=image.uri,
            kms_key_arn=props.key.key_arn,
            instance_type=props.instance_type,
            volume_size_gb=VOLUME_SIZE_GB,
            max_runtime_seconds=props.max_runtime_seconds,
            environment=image.environment(environment),
            entrypoint=image.entrypoint,
            inputs=(
                ProcessingInput(
                    ENDPOINT_INPUT,
                    _expr(f"'{bucket}{props.capture_key_prefix}' & $hourFolder & '/'"),
                    _expr(f"'{local_captures}' & $hourFolder"),
                ),
                ProcessingInput(STATISTICS_INPUT, props.statistics_uri, STATISTICS_INPUT_DIR),
                ProcessingInput(CONSTRAINTS_INPUT, props.constraints_uri, CONSTRAINTS_INPUT_DIR),
                ProcessingInput(CODE_INPUT, image.code.s3_uri, CODE_INPUT_PATH),
            ),
            outputs=monitoring_outputs(
                _expr(f"'{bucket}' & $reportFolder"), _expr(f"'{bucket}' & $reportFolder & '/{METRICS_FOLDER}'")
            ),
        )
        return job.create_request(_expr("$jobName"))

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
        metrics_files = f"{bucket}/{props.report_key_prefix}*/{METRICS_FOLDER}/{METRICS_FILE}"
        for sid, actions, resources, conditions in (
            # createProcessingJob.sync waits through this managed EventBridge rule.
            (
                "SyncProcessingJobs",
                ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                [sync_rule],
                None,
            ),
            (
                "FindCaptures",
                ["s3:ListBucket"],
                [bucket],
                {"StringLike": {"s3:prefix": [f"{props.capture_key_prefix}*"]}},
            ),
            # FindJob: ListProcessingJobs supports no resource-level scoping.
            ("FindJobs", ["sagemaker:ListProcessingJobs"], ["*"], None),
            ("ReadMetricsFiles", ["s3:GetObject"], [metrics_files], None),
            (
                "DecryptMetricsFiles",
                ["kms:Decrypt"],
                [props.key.key_arn],
                {"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            ),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions)
            )
        grant_put_metrics(role)
        acknowledge_wildcard_resources(
            role,
            (
                (metrics_files, "The run's metrics file, in any hour folder of this schedule's reports."),
                ("*", "sagemaker:ListProcessingJobs supports no resource scoping; it only reads job summaries."),
            ),
        )


def _list(values: tuple[str, ...]) -> str:
    """A JSONata array of string literals."""
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


def _retry_s3(state: sfn.CustomState) -> None:
    state.add_retry(
        errors=["S3.S3Exception", "S3.SdkClientException"],
        max_attempts=4,
        interval=Duration.seconds(5),
        backoff_rate=2,
    )
