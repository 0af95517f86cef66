"""The `self-hosted` engine's model-quality schedule: the analyzer's model-quality container mode, run
hourly as a SageMaker Processing job on a window's captures and the labels collected since.

A second EventBridge Scheduler schedule (`<endpoint>-model-quality`, `model_quality.schedule_expression`)
starts a second state machine, as Model Monitor has one schedule per monitoring type: the two runs
have their own windows, baselines, runtime limits, reports and failures, and one failing (no labels
yet) never holds the other back. The state machine has the data-quality one's shape
(`run_states.SelfHostedRun`: idempotent FindJob/RunAnalyzer, only ResourceLimitExceeded retried,
JobFailed with the job's FailureReason/ExitMessage, ReadMetrics and PublishMetrics in batches).

With `monitoring_runner` auto or lambda the hour may run in the Lambda runner instead, on the same
capture hour folders (`runner_route.RoutedRun`); it reads the label hours inside the label window, which
are the hours the analyzer reads from the job's day folders.

Windows (ours; contract §2): a run scheduled at T (its hour, taken as the data-quality run takes
it) scores the captures of [T + start_hours h, T + end_hours h) (inferenceTime) against the labels
collected in the hours [T + start_hours h, T) (folders `ground-truth/<endpoint>/yyyy/mm/dd/HH/`).
The job is `<prefix><yyyymmddHH of T>` and writes to `reports/<endpoint>/<endpoint>-model-quality/
<yyyy/mm/dd/HH of T>/`, as the data-quality run's report folder is that of its scheduled time.

Either side of the join empty fails the run with the service's reason (`Job inputs had no data`),
naming the empty prefix and window: one ListObjectsV2 per side (captures first, then labels) with
`StartAfter` = the prefix and the first hour folder and MaxKeys 1; the side has data when the first
key returned sorts before the prefix and the end hour folder (keys sort by yyyy/mm/dd/HH).

Inputs (config validation keeps them within SageMaker's 10): one per capture hour folder (copied to
`input_data/<endpoint>/<variant>/yyyy/mm/dd/HH`), one per label DAY folder the label window touches
(copied to `groundtruth/yyyy/mm/dd`), the model-quality baseline's constraints and the analyzer's
code. One input per label hour would be 25 for the default window; a day folder also copies the
labels of the day's hours outside the window, which the analyzer then skips (it reads only the hour
folders inside ground_truth_start_time/end_time): some copying, no effect on the results. The number
of day folders varies with T, so the request's ProcessingInputs is a JSONata expression over the
lists the Window state assigns, each element rendered from the one `ProcessingInput` shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict

from aws_cdk import Aws
from aws_cdk import aws_stepfunctions as sfn

from contract.events import NO_DATA_ERROR, NO_LABELS_ERROR
from contract.lambdas import RunnerEvent
from contract.metrics import MODEL_METRICS_FILE
from contract.model_quality import NAMESPACE
from contract.processing import (
    CONSTRAINTS_INPUT,
    CONSTRAINTS_INPUT_DIR,
    ENDPOINT_INPUT,
    GROUND_TRUTH_INPUT,
    GROUND_TRUTH_INPUT_PATH,
    MERGE_DATASET_PATH,
    NO_DATA_REASON,
    Env,
    ProcessingInput,
    quality_monitoring_environment,
)
from stacks.constructs.monitoring_job import ModelQualityProps
from stacks.constructs.run_states import (
    FOLDER,
    ISO,
    SCHEDULED_HOUR,
    Statement,
    expr,
    hours_after,
    retry_s3,
    utc,
)
from stacks.constructs.runner_route import RoutedRun

DAY_MS = 86_400_000
DAY = "[Y0001]/[M01]/[D01]"
_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.DOTALL)


def jsonata_value(value: object) -> str:
    """JSONata source that builds `value`: its `{% ... %}` strings inlined as expressions, the rest literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {jsonata_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(jsonata_value(item) for item in value) + "]"
    match = _EXPRESSION.match(value) if isinstance(value, str) else None
    return f"({match.group(1).strip()})" if match else json.dumps(value)


class SelfHostedQualitySchedule(RoutedRun):
    """Exposes `schedule_name`, `processing_job_name_prefix`, `state_machine`, `schedule`, `job_role`,
    `lambda_runner`."""

    KIND = "model-quality"
    METRICS_FILE = MODEL_METRICS_FILE
    NAMESPACE = NAMESPACE

    def _definition(self, props: ModelQualityProps) -> sfn.IChainable:
        hour, window = self.scheduled_hour(), self._window(props)
        read_metrics = self._publish_metrics(props)
        find_job = self._run_job(props, completed=read_metrics)
        find_labels = self._find_inputs(
            props, "Labels", props.ground_truth_key_prefix, "$labelEndFolder", "no ground-truth label",
            "'the labels collected from ' & $windowStart & ' to ' & $labelEnd", then=find_job,
        )  # fmt: skip
        find_captures = self._find_inputs(
            props, "Captures", props.capture_key_prefix, "$captureEndFolder", "no capture file",
            "'the captures of ' & $windowStart & ' to ' & $windowEnd", then=find_labels,
        )  # fmt: skip
        return hour.next(window).next(find_captures)

    def _window(self, props: ModelQualityProps) -> sfn.Pass:
        """The run's windows, folders, and the lists of capture hour folders and label day folders."""
        quality = props.quality
        start, end = hours_after(quality.start_hours), hours_after(quality.end_hours)
        # The label window's days: from the day of its start to the day of its last millisecond.
        label_days = (
            f"($d := {start} - {start} % {DAY_MS}; [$map([0..$floor(({SCHEDULED_HOUR} - 1 - $d) / {DAY_MS})], "
            f"function($i) {{ {utc(f'$d + $i * {DAY_MS}', DAY)} }})])"
        )
        return sfn.Pass.jsonata(
            self,
            "Window",
            assign={
                "windowStart": expr(utc(start, ISO)),
                "windowEnd": expr(utc(end, ISO)),
                "labelEnd": expr(utc(SCHEDULED_HOUR, ISO)),
                "firstFolder": expr(utc(start, FOLDER)),
                "captureEndFolder": expr(utc(end, FOLDER)),
                "labelEndFolder": expr(utc(SCHEDULED_HOUR, FOLDER)),
                "captureFolders": expr(
                    "[" + ", ".join(utc(hours_after(hour), FOLDER)
                                    for hour in range(quality.start_hours, quality.end_hours)) + "]"
                ),  # fmt: skip
                "labelDays": expr(label_days),
                **self.run_variables(props),
            },
        )

    def _find_inputs(
        self, props: ModelQualityProps, side: str, prefix: str, end_folder: str, missing: str, window: str,
        *, then: sfn.IChainable,
    ) -> sfn.Chain:
        """Find<side>: whether `prefix` holds a key in the hour folders [$firstFolder, `end_folder`);
        Has<side>: on to `then` when it does, else No<side>, the service's failure naming the prefix,
        the folders and `window` (a JSONata text)."""
        bucket = props.bucket_name
        find = sfn.CustomState(
            self,
            f"Find{side}",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::aws-sdk:s3:listObjectsV2",
                "Arguments": {
                    "Bucket": bucket,
                    "Prefix": prefix,
                    "StartAfter": expr(f"'{prefix}' & $firstFolder"),
                    "MaxKeys": 1,
                },
                "Assign": {
                    f"has{side}": expr(
                        f"($r := $states.result; $r.KeyCount > 0 and $r.Contents[0].Key < ('{prefix}' & {end_folder}))"
                    )
                },
            },
        )
        retry_s3(find)
        fail = sfn.Fail.jsonata(
            self,
            f"No{side}",
            # The alerts tell "labels missing" from "captures missing" by the error name.
            error=NO_LABELS_ERROR if side == "Labels" else NO_DATA_ERROR,
            cause=expr(
                f"'{NO_DATA_REASON}: {missing} under s3://{bucket}/{prefix} in the hour folders ' & $firstFolder & "
                f"' up to (not including) ' & {end_folder} & ' (' & {window} & ')'"
            ),
        )
        return find.next(
            sfn.Choice.jsonata(self, f"Has{side}")
            .when(sfn.Condition.jsonata(expr(f"$has{side}")), then)
            .otherwise(fail)
        )

    def _failure_environment(self) -> dict[str, str]:
        return {
            Env.START_TIME: "$windowStart",
            Env.END_TIME: "$windowEnd",
            Env.GROUND_TRUTH_START_TIME: "$windowStart",
            Env.GROUND_TRUTH_END_TIME: "$labelEnd",
        }

    def _list_statements(self, props: ModelQualityProps, bucket: str) -> list[Statement]:
        return [
            (f"Find{side}", ["s3:ListBucket"], [bucket], {"StringLike": {"s3:prefix": [f"{prefix}*"]}})
            for side, prefix in (("Captures", props.capture_key_prefix), ("Labels", props.ground_truth_key_prefix))
        ]

    def _capture_folders(self) -> str:
        return "$captureFolders"  # one job input each

    def _runner_event(self, props: ModelQualityProps) -> dict:
        return {
            RunnerEvent.GROUND_TRUTH_URI: f"s3://{props.bucket_name}/{props.ground_truth_key_prefix}",
            RunnerEvent.LABELS_END: expr("$labelEnd"),
            # Unset fields left out: the runner's defaults are the contract's.
            RunnerEvent.QUALITY_ATTRIBUTES: {
                name: value for name, value in asdict(props.attributes).items() if value is not None
            },
        }

    def _processing_job(self, props: ModelQualityProps) -> dict:
        environment = quality_monitoring_environment(
            props.endpoint_name,
            props.schedule_name,
            props.attributes,
            captures=(expr("$windowStart"), expr("$windowEnd")),
            labels=(expr("$windowStart"), expr("$labelEnd")),
        )
        job = self.job_spec(props, environment, (
            ProcessingInput(CONSTRAINTS_INPUT, props.constraints_uri, CONSTRAINTS_INPUT_DIR),
        ))
        request = job.create_request(expr("$jobName"))
        request["ProcessingInputs"] = expr(self._window_inputs(props, request["ProcessingInputs"]))
        return request

    @staticmethod
    def _window_inputs(props: ModelQualityProps, fixed: list[dict]) -> str:
        """The job's inputs: one per capture hour folder (`$f`), one per label day folder (`$d`), then `fixed`."""
        bucket = f"s3://{props.bucket_name}/"
        local_captures = f"{MERGE_DATASET_PATH}/{props.endpoint_name}/{props.variant_name}/"
        capture = ProcessingInput(
            expr(f"'{ENDPOINT_INPUT}_' & $replace($f, '/', '')"),
            expr(f"'{bucket}{props.capture_key_prefix}' & $f & '/'"),
            expr(f"'{local_captures}' & $f"),
        )
        label = ProcessingInput(
            expr(f"'{GROUND_TRUTH_INPUT}_' & $replace($d, '/', '')"),
            expr(f"'{bucket}{props.ground_truth_key_prefix}' & $d & '/'"),
            expr(f"'{GROUND_TRUTH_INPUT_PATH}/' & $d"),
        )
        return (
            f"$append([$map($captureFolders, function($f) {{ {jsonata_value(capture.render())} }}), "
            f"$map($labelDays, function($d) {{ {jsonata_value(label.render())} }})], {jsonata_value(fixed)})"
        )
