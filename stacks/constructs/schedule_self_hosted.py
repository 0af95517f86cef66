"""The `self-hosted` engine's data-quality schedule: the project's analyzer, run hourly as a SageMaker
Processing job.

EventBridge Scheduler (the same cron as Model Monitor) starts a Step Functions state machine with the
scheduled time. The state machine (JSONata, no Lambda) computes the previous hour's window, capture
folder, report folder and job name; fails the run with the service's reason "Job inputs had no data"
when the hour has no capture file (CreateProcessingJob itself rejects an empty input prefix); runs
`python3 -m analyzer container` with `createProcessingJob.sync`; then publishes the run's metrics file
with PutMetricData (the job is network-isolated: no network, no credentials).

With `monitoring_runner` auto or lambda the hour may run in the Lambda runner instead (same inputs, same
files, same metrics, same alert path): `runner_route.RoutedRun`.

The schedule, the idempotent job creation (FindJob before RunAnalyzer; only
`SageMaker.ResourceLimitExceededException` retried), the JobFailed cause and the metrics publishing
are `run_states.SelfHostedRun`'s, shared with the model-quality schedule.

A failed run fails the execution, which EventBridge reports as a `Step Functions Execution Status
Change` event: the run's one failure alert (the alerts' job-event rule passes only this engine's
completed jobs, see `alerts.RunAlerts`).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn

from contract.events import NO_DATA_ERROR
from contract.lambdas import RunnerEvent
from contract.metrics import METRICS_FILE, NAMESPACE
from contract.processing import (
    CONSTRAINTS_INPUT,
    CONSTRAINTS_INPUT_DIR,
    ENDPOINT_INPUT,
    ENDPOINT_INPUT_PATH,
    NO_DATA_REASON,
    STATISTICS_INPUT,
    STATISTICS_INPUT_DIR,
    Env,
    ProcessingInput,
    monitoring_environment,
)
from stacks.constructs.monitoring_job import MonitoringProps
from stacks.constructs.run_states import (
    FOLDER,
    HOUR_MS,
    ISO,
    SCHEDULED_HOUR,
    Statement,
    expr,
    retry_s3,
    utc,
)
from stacks.constructs.runner_route import RoutedRun


class SelfHostedSchedule(RoutedRun):
    """Exposes `schedule_name`, `processing_job_name_prefix`, `state_machine`, `schedule`, `job_role`,
    `lambda_runner`."""

    KIND = "data-quality"
    METRICS_FILE = METRICS_FILE
    NAMESPACE = NAMESPACE

    def _definition(self, props: MonitoringProps) -> sfn.IChainable:
        hour, window = self.scheduled_hour(), self._window(props)
        find_captures, no_data = self._find_captures(props)
        read_metrics = self._publish_metrics(props)
        find_job = self._run_job(props, completed=read_metrics)
        return (
            hour.next(window)
            .next(find_captures)
            .next(
                sfn.Choice.jsonata(self, "HasCaptures")
                .when(sfn.Condition.jsonata(expr("$captureFiles > 0")), find_job)
                .otherwise(no_data)
            )
        )

    def _window(self, props: MonitoringProps) -> sfn.Pass:
        """The variables every later state reads: the hour before the scheduled time, its capture folder."""
        start = f"({SCHEDULED_HOUR} - {HOUR_MS})"
        return sfn.Pass.jsonata(
            self,
            "Window",
            assign={
                "windowStart": expr(utc(start, ISO)),
                "windowEnd": expr(utc(SCHEDULED_HOUR, ISO)),
                "hourFolder": expr(utc(start, FOLDER)),
                **self.run_variables(props),
            },
        )

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
                    "Prefix": expr(f"'{props.capture_key_prefix}' & $hourFolder & '/'"),
                },
                "Assign": {"captureFiles": expr("$states.result.KeyCount")},
            },
        )
        retry_s3(find_captures)
        no_data = sfn.Fail.jsonata(
            self,
            "NoData",
            error=NO_DATA_ERROR,
            cause=expr(
                f"'{NO_DATA_REASON}: no capture file under s3://{bucket}/{props.capture_key_prefix}' & "
                "$hourFolder & '/ for the window ' & $windowStart & ' to ' & $windowEnd"
            ),
        )
        return find_captures, no_data

    def _failure_environment(self) -> dict[str, str]:
        return {Env.START_TIME: "$windowStart", Env.END_TIME: "$windowEnd"}

    def _list_statements(self, props: MonitoringProps, bucket: str) -> list[Statement]:
        return [
            ("FindCaptures", ["s3:ListBucket"], [bucket],
             {"StringLike": {"s3:prefix": [f"{props.capture_key_prefix}*"]}}),
        ]  # fmt: skip

    def _capture_folders(self) -> str:
        return "[$hourFolder]"  # the job's one capture input

    def _runner_event(self, props: MonitoringProps) -> dict:
        return {RunnerEvent.STATISTICS_URI: props.statistics_uri,
                RunnerEvent.METRICS_BUDGET: props.metrics_budget.to_text()}

    def _processing_job(self, props: MonitoringProps) -> dict:
        bucket = f"s3://{props.bucket_name}/"
        local_captures = f"{ENDPOINT_INPUT_PATH}/{props.endpoint_name}/{props.variant_name}/"
        environment = monitoring_environment(
            props.endpoint_name, props.schedule_name, expr("$windowStart"), expr("$windowEnd"), props.metrics_budget
        )
        job = self.job_spec(props, environment, (
            ProcessingInput(
                ENDPOINT_INPUT,
                expr(f"'{bucket}{props.capture_key_prefix}' & $hourFolder & '/'"),
                expr(f"'{local_captures}' & $hourFolder"),
            ),
            ProcessingInput(STATISTICS_INPUT, props.statistics_uri, STATISTICS_INPUT_DIR),
            ProcessingInput(CONSTRAINTS_INPUT, props.constraints_uri, CONSTRAINTS_INPUT_DIR),
        ))
        return job.create_request(expr("$jobName"))
