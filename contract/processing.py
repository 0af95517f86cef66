"""The analyzer container's contract (section 2) and the one processing-job specification.

Both engines run an analyzer in a SageMaker Processing job configured only by environment
variables, with inputs copied to fixed local paths and the output folder uploaded at the end. The
names below are the service's (the SageMaker Python SDK's for input and output names);
`ProcessingJobSpec` is the one description of such a job, rendered as a CreateProcessingJob
request by the baseline Lambda, the self-hosted state machine (with JSONata expressions as
values) and the demo, and read field by field by the managed job definition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from contract.ground_truth import merge_dataset_format
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE
from contract.metrics import ALL, PUBLISH_ALL, MetricsBudget

# --- local paths inside the container --------------------------------------------------------------

PROCESSING_ROOT = "/opt/ml/processing"
ENDPOINT_INPUT_PATH = f"{PROCESSING_ROOT}/input/endpoint"
DATASET_INPUT_PATH = f"{PROCESSING_ROOT}/input/baseline_dataset_input"
CODE_INPUT_PATH = f"{PROCESSING_ROOT}/input/code"
STATISTICS_INPUT_DIR = f"{PROCESSING_ROOT}/baseline/stats"
CONSTRAINTS_INPUT_DIR = f"{PROCESSING_ROOT}/baseline/constraints"
OUTPUT_PATH = f"{PROCESSING_ROOT}/output"
# Model quality (real): the merge job's inputs keep their yyyy/mm/dd/HH suffix under these.
GROUND_TRUTH_INPUT_PATH = f"{PROCESSING_ROOT}/groundtruth"
MERGE_DATASET_PATH = f"{PROCESSING_ROOT}/input_data"
MODEL_QUALITY = "MODEL_QUALITY"  # analysis_type of a model-quality run
# Ours: the self-hosted job's metrics file goes to its own output (the state machine publishes it).
METRICS_OUTPUT_PATH = f"{PROCESSING_ROOT}/metrics"
MESSAGE_FILE = "/opt/ml/output/message"
METRICS_PATH = "/opt/ml/output/metrics/cloudwatch"

# --- input and output names ----------------------------------------------------------------------

DATASET_INPUT = "baseline_dataset_input"
CODE_INPUT = "code"
ENDPOINT_INPUT = "endpoint"
GROUND_TRUTH_INPUT = "ground_truth"  # ours: + the day folder's yyyymmdd (input names are unique per job)
STATISTICS_INPUT = "baseline_statistics"
CONSTRAINTS_INPUT = "baseline_constraints"
REPORT_OUTPUT = "monitoring_output"
METRICS_OUTPUT = "metrics"


class Env:
    """Environment variables of the analyzer container (the service's, and ours where marked)."""

    DATASET_FORMAT = "dataset_format"
    DATASET_SOURCE = "dataset_source"
    OUTPUT_PATH = "output_path"
    BASELINE_STATISTICS = "baseline_statistics"
    BASELINE_CONSTRAINTS = "baseline_constraints"
    PUBLISH_METRICS = "publish_cloudwatch_metrics"
    RECORD_PREPROCESSOR = "record_preprocessor_script"
    POST_ANALYTICS_PROCESSOR = "post_analytics_processor_script"
    START_TIME = "start_time"
    END_TIME = "end_time"
    ENDPOINT_NAME = "sagemaker_endpoint_name"
    SCHEDULE_NAME = "sagemaker_monitoring_schedule_name"
    CATEGORICAL_DRIFT_METHOD = "categorical_drift_method"
    MESSAGE_FILE = "output_message_file"  # ours
    METRICS_PATH = "output_metrics_path"  # ours
    UNUSABLE_THRESHOLD = "unusable_record_threshold"  # ours: overrides the constraints' monitoring_config
    METRICS_BUDGET = "metrics_budget"  # ours: which metrics the run writes (contract.metrics.MetricsBudget)
    # Model quality (documented, and the real jobs' environments).
    ANALYSIS_TYPE = "analysis_type"
    PROBLEM_TYPE = "problem_type"
    INFERENCE_ATTRIBUTE = "inference_attribute"
    PROBABILITY_ATTRIBUTE = "probability_attribute"
    PROBABILITY_THRESHOLD = "probability_threshold_attribute"
    GROUND_TRUTH_SOURCE = "ground_truth_source"
    GROUND_TRUTH_ATTRIBUTE = "ground_truth_attribute"  # a model-quality baseline's label column
    METRIC_TIME = "metric_time"
    GROUND_TRUTH_START_TIME = "ground_truth_start_time"  # ours: the labels' collection window
    GROUND_TRUTH_END_TIME = "ground_truth_end_time"  # ours


ENABLED, DISABLED = "Enabled", "Disabled"

# --- dataset_format ------------------------------------------------------------------------------

CSV_FORMAT = "csv"
JSON_FORMAT = "json"
CAPTURE_FORMAT = "sagemakerCaptureJson"
CAPTURE_PARTS = ("endpointInput", "endpointOutput")
# A capture record's row: the output fields first, then the input fields (section 6).
ROW_PARTS = CAPTURE_PARTS[::-1]


def csv_dataset_format(header: bool = True) -> dict:
    """A baseline CSV whose label (here: the model's score) is the first column: the SDK's default."""
    return {CSV_FORMAT: {"header": header, "output_columns_position": "START"}}


def capture_dataset_format() -> dict:
    return {CAPTURE_FORMAT: {"captureIndexNames": list(CAPTURE_PARTS)}}


# --- outcomes ------------------------------------------------------------------------------------

COMPLETED = "Completed"
COMPLETED_WITH_VIOLATIONS = "CompletedWithViolations"
NO_DATA_REASON = "Job inputs had no data"
# DescribeProcessingJob's ProcessingJobStatus values.
JOB_IN_PROGRESS, JOB_COMPLETED, JOB_FAILED, JOB_STOPPING, JOB_STOPPED = (
    "InProgress",
    "Completed",
    "Failed",
    "Stopping",
    "Stopped",
)
TERMINAL_JOB_STATUSES = (JOB_COMPLETED, JOB_FAILED, JOB_STOPPED)
UNSUCCESSFUL_JOB_STATUSES = (JOB_FAILED, JOB_STOPPED)
ACTIVE_JOB_STATUSES = (JOB_IN_PROGRESS, JOB_STOPPING)


def exit_message(violation_count: int) -> tuple[str, str]:
    """(execution status, exit message) of a monitoring run that completed."""
    if violation_count == 0:
        return COMPLETED, f"{COMPLETED}: Job completed successfully with no violations."
    return (
        COMPLETED_WITH_VIOLATIONS,
        f"{COMPLETED_WITH_VIOLATIONS}: Job completed successfully with {violation_count} violations.",
    )


def no_matched_data_message(captures: str, ground_truth: str, join_key: str, found: str) -> str:
    """A model-quality run without a single matched (prediction, label) pair (the service fails too)."""
    return (
        f"{NO_DATA_REASON}: no capture record under {captures} matched a ground-truth label under "
        f"{ground_truth} on {join_key} ({found}). Check both windows, and that the labels' eventId "
        "holds the captures' inferenceId (or eventId)."
    )


UNUSABLE_DATA_REASON = "Job inputs had too many unusable records"
MESSAGE_MAX_BYTES = 1024  # the service keeps the first 1 KB of the exit message file


def cut_to_bytes(text: str, limit: int = MESSAGE_MAX_BYTES) -> str:
    """`text` within `limit` UTF-8 bytes, marked with "..." when cut."""
    if len(text.encode()) <= limit:
        return text
    return text.encode()[: max(limit - 3, 0)].decode("utf-8", "ignore") + "..."


def unusable_data_message(unusable: int, total: int, threshold: float, reasons: Sequence[tuple[int, str, str]]) -> str:
    """A failed run's message: the share of unusable records and the top (count, first location,
    problem) reasons, within `MESSAGE_MAX_BYTES`."""
    head = (
        f"{UNUSABLE_DATA_REASON}: {unusable} of {total} capture records of the window "
        f"({100 * unusable / total:.1f}%) could not be used, "
        f"above the {Env.UNUSABLE_THRESHOLD} of {100 * threshold:g}%."
    )
    tail = (
        f" Fix the endpoint's capture (content types, encodings) or the preprocessor, or raise "
        f"{Env.UNUSABLE_THRESHOLD} in the constraints' monitoring_config."
    )
    budget = MESSAGE_MAX_BYTES - len((head + tail).encode()) - len(" Top reasons: .")
    items: list[str] = []
    for count, location, problem in reasons:
        item = f"{count} record{'s' if count > 1 else ''}: {problem} (first: {location})"
        if len(item.encode()) + 2 > budget:
            if not items:  # at least the top reason, shortened
                items.append(cut_to_bytes(item, budget))
            break
        items.append(item)
        budget -= len(item.encode()) + 2
    return head + (f" Top reasons: {'; '.join(items)}." if items else "") + tail


def exit_message_has_violations(message: str) -> bool | None:
    """What an exit message says of violations; None when it is not a completed run's message."""
    status = message.split(":", 1)[0].strip()
    return {COMPLETED_WITH_VIOLATIONS: True, COMPLETED: False}.get(status)


# --- the processing job --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessingInput:
    name: str
    s3_uri: str
    local_path: str

    def render(self) -> dict:
        return {
            "InputName": self.name,
            "S3Input": {
                "S3Uri": self.s3_uri,
                "LocalPath": self.local_path,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }


@dataclass(frozen=True)
class ProcessingOutput:
    name: str
    s3_uri: str
    local_path: str

    def render(self) -> dict:
        return {
            "OutputName": self.name,
            "S3Output": {"S3Uri": self.s3_uri, "LocalPath": self.local_path, "S3UploadMode": "EndOfJob"},
        }


@dataclass(frozen=True)
class ProcessingJobSpec:
    """One analyzer job: container, inputs, outputs and resources. Values may be CloudFormation tokens
    or JSONata expressions; the job name is given when rendering."""

    role_arn: str
    image_uri: str
    kms_key_arn: str
    instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    environment: Mapping[str, str] = field(default_factory=dict)
    entrypoint: Sequence[str] = ()
    inputs: Sequence[ProcessingInput] = ()
    outputs: Sequence[ProcessingOutput] = ()
    instance_count: int = 1
    # Both engines: the container gets no network and no AWS credentials.
    network_isolation: bool = True

    def output(self, name: str) -> ProcessingOutput | None:
        return next((o for o in self.outputs if o.name == name), None)

    def create_request(self, job_name: str) -> dict:
        """Keyword arguments of CreateProcessingJob (also the Step Functions task's Arguments)."""
        app = {"ImageUri": self.image_uri}
        if self.entrypoint:
            app["ContainerEntrypoint"] = list(self.entrypoint)
        return {
            "ProcessingJobName": job_name,
            "RoleArn": self.role_arn,
            "AppSpecification": app,
            "Environment": dict(self.environment),
            "ProcessingInputs": [i.render() for i in self.inputs],
            "ProcessingOutputConfig": {"KmsKeyId": self.kms_key_arn, "Outputs": [o.render() for o in self.outputs]},
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_gb,
                    "VolumeKmsKeyId": self.kms_key_arn,
                }
            },
            "NetworkConfig": {
                "EnableNetworkIsolation": self.network_isolation,
                "EnableInterContainerTrafficEncryption": True,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds},
        }


# --- the hourly data-quality run ------------------------------------------------------------------


def monitoring_environment(
    endpoint: str, schedule: str, start_time: str, end_time: str, budget: MetricsBudget = PUBLISH_ALL
) -> dict[str, str]:
    """The analyzer container's environment for one hourly run over the captures of [start, end);
    `budget`: which metrics it writes (the variable is left out for the service's default, all)."""
    limited = {Env.METRICS_BUDGET: budget.to_text()} if budget.publish != ALL else {}
    return {
        Env.DATASET_FORMAT: json.dumps(capture_dataset_format()),
        Env.DATASET_SOURCE: ENDPOINT_INPUT_PATH,
        Env.OUTPUT_PATH: OUTPUT_PATH,
        Env.BASELINE_STATISTICS: f"{STATISTICS_INPUT_DIR}/{STATISTICS_FILE}",
        Env.BASELINE_CONSTRAINTS: f"{CONSTRAINTS_INPUT_DIR}/{CONSTRAINTS_FILE}",
        Env.PUBLISH_METRICS: ENABLED,
        Env.METRICS_PATH: METRICS_OUTPUT_PATH,
        Env.ENDPOINT_NAME: endpoint,
        Env.SCHEDULE_NAME: schedule,
        Env.START_TIME: start_time,
        Env.END_TIME: end_time,
        **limited,
    }


def monitoring_outputs(report_uri: str, metrics_uri: str) -> tuple[ProcessingOutput, ...]:
    """The run's report folder, and the metrics file's folder (`<report folder>/metrics`)."""
    return (
        ProcessingOutput(REPORT_OUTPUT, report_uri, OUTPUT_PATH),
        ProcessingOutput(METRICS_OUTPUT, metrics_uri, METRICS_OUTPUT_PATH),
    )


def baseline_environment() -> dict[str, str]:
    """The deploy-time data-quality baselining job's environment: a CSV with header, score first."""
    return {
        Env.DATASET_FORMAT: json.dumps(csv_dataset_format()),
        Env.DATASET_SOURCE: DATASET_INPUT_PATH,
        Env.OUTPUT_PATH: OUTPUT_PATH,
        Env.PUBLISH_METRICS: DISABLED,
    }


@dataclass(frozen=True)
class QualityAttributes:
    """Where a model-quality run finds the prediction: in the endpoint output (CSV field index or JSON
    path) for monitoring, or columns of the validation CSV for a baseline (documented, §3)."""

    problem_type: str
    probability_attribute: str | None = None
    probability_threshold: float | None = None
    inference_attribute: str | None = None

    def environment(self) -> dict[str, str]:
        values = {
            Env.ANALYSIS_TYPE: MODEL_QUALITY,
            Env.PROBLEM_TYPE: self.problem_type,
            Env.PROBABILITY_ATTRIBUTE: self.probability_attribute,
            Env.PROBABILITY_THRESHOLD: None if self.probability_threshold is None else repr(self.probability_threshold),
            Env.INFERENCE_ATTRIBUTE: self.inference_attribute,
        }
        return {name: value for name, value in values.items() if value is not None}


def quality_baseline_environment(attributes: QualityAttributes, ground_truth_attribute: str) -> dict[str, str]:
    """The deploy-time model-quality baselining job's environment (the SDK's `ModelQualityMonitor.
    suggest_baseline`): a CSV with header holding the predictions and the labels."""
    return {
        **baseline_environment(),
        **attributes.environment(),
        Env.GROUND_TRUTH_ATTRIBUTE: ground_truth_attribute,
    }


def quality_monitoring_environment(
    endpoint: str,
    schedule: str,
    attributes: QualityAttributes,
    captures: tuple[str, str],
    labels: tuple[str, str],
) -> dict[str, str]:
    """The model-quality container's environment for one run: the captures of `captures` [start, end)
    joined with the labels collected in the hours of `labels` [start, end)."""
    return {
        **attributes.environment(),
        Env.DATASET_FORMAT: json.dumps(merge_dataset_format()),
        Env.DATASET_SOURCE: MERGE_DATASET_PATH,
        Env.GROUND_TRUTH_SOURCE: GROUND_TRUTH_INPUT_PATH,
        Env.OUTPUT_PATH: OUTPUT_PATH,
        Env.BASELINE_CONSTRAINTS: f"{CONSTRAINTS_INPUT_DIR}/{CONSTRAINTS_FILE}",
        Env.PUBLISH_METRICS: ENABLED,
        Env.METRICS_PATH: METRICS_OUTPUT_PATH,
        Env.ENDPOINT_NAME: endpoint,
        Env.SCHEDULE_NAME: schedule,
        Env.START_TIME: captures[0],
        Env.END_TIME: captures[1],
        Env.GROUND_TRUTH_START_TIME: labels[0],
        Env.GROUND_TRUTH_END_TIME: labels[1],
    }
