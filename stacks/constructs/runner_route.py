"""The self-hosted runs' choice of runner: the hour in the Lambda runner, or as a SageMaker Processing job.

`RoutedRun` is `run_states.SelfHostedRun` with the Lambda runner (`lambda_runner.LambdaRunner`, one per
schedule) in front of the job path, by `monitoring_runner`:
- `processing`: no Lambda resources; the definition is `SelfHostedRun`'s (the input checks lead to FindJob).
- `lambda`: the input checks lead to RunLambda.
- `auto`: they lead to SizeWindow, one ListObjectsV2 of the capture prefix from the first hour folder the
  job reads (`StartAfter`, MaxKeys = `lambda_runner.max_window_objects`), which counts the objects and
  bytes (`$sum` of `Size`) of the job's capture folders. Route sends the hour to RunLambda when the listing
  covers those folders (not truncated, or its last key lies past them) and both are within
  `max_window_objects` / `max_window_bytes`; else to FindJob (so a window of exactly max_window_objects
  files with more keys after it goes to the job: the listing cannot tell).

RunLambda (`lambda:invoke`) sends `contract.lambdas.RunnerEvent`, with the job's capture folders
(`captureFolders`): both runners read the same files and write byte-identical reports. It retries only
Lambda's throttling and service errors; the runner's named failures (`RUNNER_NO_DATA_ERROR`,
`RUNNER_FAILED_ERROR`) end the run at JobFailed (through RunnerFailed) with the job-failure cause the
alerts read (the runner's message as ExitMessage); any other failure (the function's timeout or memory
limit, retries exhausted, the task's own timeout) falls back to FindJob: the job path then runs the hour,
so a traffic spike never fails for lack of Lambda memory or time.

A Lambda run produces no SageMaker job event, so on success NotifyRun sends one (`contract.events`
RUNNER_EVENT from RUNNER_SOURCE, PutEvents to the default bus) shaped like the job's completion event,
which the alerts' run rule matches and the alerts Lambda reads as a job's (its de-duplication marker is
the hour's job name); then ReadMetrics and PublishMetrics as after a job.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from contract.events import RUNNER_EVENT, RUNNER_EXECUTION_FIELD, RUNNER_SOURCE
from contract.lambdas import RUNNER_FAILED_ERROR, RUNNER_NO_DATA_ERROR, RunnerEvent, RunnerResult
from contract.metrics import METRICS_FOLDER
from contract.processing import JOB_COMPLETED, JOB_FAILED, Env, monitoring_outputs
from stacks.config import RUNNERS
from stacks.constructs.lambda_runner import LambdaRunner, LambdaRunnerProps
from stacks.constructs.monitoring_job import MonitoringProps
from stacks.constructs.run_states import SelfHostedRun, expr

# Lambda's throttling and service errors as the lambda:invoke integration names them: the function did not run.
LAMBDA_SERVICE_ERRORS = [
    "Lambda.TooManyRequestsException", "Lambda.ServiceException", "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]  # fmt: skip
RUNNER_ERRORS = [RUNNER_NO_DATA_ERROR, RUNNER_FAILED_ERROR]
# Anything else: the function's timeout or memory limit, the task's timeout, retries exhausted.
FALLBACK_ERRORS = ["States.TaskFailed", "States.Timeout"]
# Seconds RunLambda waits beyond the function's own timeout before giving up on the invocation.
TASK_TIMEOUT_MARGIN = 60
# The runner's message, from a function error's cause (`{"errorMessage": ..., "errorType": ...}`).
RUNNER_MESSAGE = "($c := $states.input.Cause; $substring($c, 0, 1) = '{' ? $parse($c).errorMessage : $c)"


class RoutedRun(SelfHostedRun):
    """Exposes `lambda_runner` (None with `monitoring_runner` processing) besides `SelfHostedRun`'s names.

    Subclasses also implement `_capture_folders` (the job's capture hour folders, JSONata) and
    `_runner_event` (their kind's keys of the runner's event)."""

    lambda_runner: LambdaRunner | None = None

    def _capture_folders(self) -> str:
        raise NotImplementedError

    def _runner_event(self, props: MonitoringProps) -> dict:
        raise NotImplementedError

    def _route(self, props: MonitoringProps, *, find_job: sfn.IChainable, completed: sfn.IChainable
               ) -> sfn.IChainable:
        if self.runner not in RUNNERS:
            raise ValueError(f"monitoring_runner={self.runner!r}: use one of {', '.join(RUNNERS)}")
        if self.runner == "processing":
            return find_job
        config = self.lambda_runner_config
        self.lambda_runner = LambdaRunner(self, "Runner", LambdaRunnerProps(
            monitoring=props, memory_mb=config.memory_mb, timeout_seconds=config.timeout_seconds,
            log_retention_days=self.log_retention_days, retain_logs=self.retain_logs,
            ephemeral_storage_mb=config.ephemeral_storage_mb,
        ))  # fmt: skip
        run_lambda = self._run_lambda(props, find_job)
        run_lambda.next(self._notify_run(props)).next(completed)
        if self.runner == "lambda":
            return run_lambda
        fits = (
            f"$windowSize.complete and $windowSize.objects <= {config.max_window_objects} and "
            f"$windowSize.bytes <= {config.max_window_bytes}"
        )
        return self._size_window(props).next(
            sfn.Choice.jsonata(self, "Route")
            .when(sfn.Condition.jsonata(expr(fits)), run_lambda)
            .otherwise(find_job)
        )

    def _size_window(self, props: MonitoringProps) -> sfn.CustomState:
        """`windowSize`: objects and bytes in the job's capture folders, and whether the listing covers them."""
        prefix, folders = props.capture_key_prefix, self._capture_folders()
        size = sfn.CustomState(self, "SizeWindow", state_json={
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:listObjectsV2",
            "Arguments": {
                "Bucket": props.bucket_name,
                "Prefix": prefix,
                "StartAfter": expr(f"'{prefix}' & {folders}[0]"),
                "MaxKeys": self.lambda_runner_config.max_window_objects,
            },
            "Assign": {"windowSize": expr(
                f"($p := '{prefix}'; $f := {folders}; $r := $states.result; $at := $length($p);"
                " $in := [$r.Contents[$substring(Key, $at, 13) in $f]];"
                " {'objects': $count($in), 'bytes': $sum($in.Size),"
                " 'complete': $not($r.IsTruncated) or $substring($r.Contents[-1].Key, $at, 13) > $f[-1]})"
            )},
        })  # fmt: skip
        size.add_retry(errors=["S3.S3Exception", "S3.SdkClientException"], max_attempts=4,
                       interval=Duration.seconds(5), backoff_rate=2)  # fmt: skip
        return size

    def _run_lambda(self, props: MonitoringProps, fallback: sfn.IChainable) -> sfn.CustomState:
        run = sfn.CustomState(self, "RunLambda", state_json={
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::lambda:invoke",
            "Arguments": {
                "FunctionName": self.lambda_runner.function.function_arn,
                "Payload": {**self._common_event(props), **self._runner_event(props)},
            },
            "Output": expr("$states.result.Payload"),
            "TimeoutSeconds": self.lambda_runner_config.timeout_seconds + TASK_TIMEOUT_MARGIN,
        })  # fmt: skip
        run.add_retry(errors=LAMBDA_SERVICE_ERRORS, max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
        # The analysis itself failed: the job would fail the same way. End as a failed job ends.
        runner_failed = sfn.Pass.jsonata(self, "RunnerFailed", outputs=expr(
            f"{{'ProcessingJobStatus': '{JOB_FAILED}', 'ExitMessage': {RUNNER_MESSAGE},"
            f" 'FailureReason': $states.input.Error & ': ' & {RUNNER_MESSAGE}}}"
        ))  # fmt: skip
        run.add_catch(runner_failed.next(self.job_failed), errors=RUNNER_ERRORS)
        run.add_catch(fallback, errors=FALLBACK_ERRORS)
        return run

    def _common_event(self, props: MonitoringProps) -> dict:
        bucket = f"s3://{props.bucket_name}/"
        return {
            RunnerEvent.ENDPOINT_NAME: props.endpoint_name,
            RunnerEvent.SCHEDULE_NAME: props.schedule_name,
            RunnerEvent.WINDOW_START: expr("$windowStart"),
            RunnerEvent.WINDOW_END: expr("$windowEnd"),
            RunnerEvent.CAPTURE_URI: f"{bucket}{props.capture_key_prefix}",
            RunnerEvent.CAPTURE_FOLDERS: expr(self._capture_folders()),
            RunnerEvent.CONSTRAINTS_URI: props.constraints_uri,
            RunnerEvent.REPORT_URI: expr(f"'{bucket}' & $reportFolder"),
        }

    def _notify_run(self, props: MonitoringProps) -> sfn.CustomState:
        """The run's completion as the job's event would state it (the fields the alerts read)."""
        bucket = f"s3://{props.bucket_name}/"
        outputs = monitoring_outputs(expr(f"'{bucket}' & $reportFolder"),
                                     expr(f"'{bucket}' & $reportFolder & '/{METRICS_FOLDER}'"))
        environment = {Env.ENDPOINT_NAME: props.endpoint_name, Env.SCHEDULE_NAME: props.schedule_name,
                       **{name: expr(value) for name, value in self._failure_environment().items()}}
        notify = sfn.CustomState(self, "NotifyRun", state_json={
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::events:putEvents",
            "Arguments": {"Entries": [{
                "Source": RUNNER_SOURCE,
                "DetailType": RUNNER_EVENT,
                "Detail": {
                    "ProcessingJobName": expr("$jobName"),
                    "ProcessingJobStatus": JOB_COMPLETED,
                    "ExitMessage": expr(f"$states.input.{RunnerResult.EXIT_MESSAGE}"),
                    "Environment": environment,
                    "ProcessingOutputConfig": {"Outputs": [output.render() for output in outputs]},
                    RUNNER_EXECUTION_FIELD: expr("$states.context.Execution.Id"),
                },
            }]},
        })  # fmt: skip
        # Service errors and a rejected entry (EventBridge.FailedEntry): a repeated event is harmless, the alerts
        # keep one alert per job name and status. Still failing, the run fails: the state machine's failure alerts.
        notify.add_retry(errors=["States.TaskFailed"], max_attempts=3, interval=Duration.seconds(2), backoff_rate=2)
        return notify

    def _grant(self, props: MonitoringProps) -> None:
        super()._grant(props)
        if self.lambda_runner is None:
            return
        role, partition = self.state_machine.role, Stack.of(self).partition
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="InvokeRunner", actions=["lambda:InvokeFunction"],
            resources=[self.lambda_runner.function.function_arn],
        ))  # fmt: skip
        role.add_to_principal_policy(iam.PolicyStatement(
            sid="SendRunEvents", actions=["events:PutEvents"],
            resources=[f"arn:{partition}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:event-bus/default"],
            conditions={"StringEquals": {"events:source": RUNNER_SOURCE}},
        ))  # fmt: skip
