"""Pure logic of the baseline custom resource (no AWS calls): what to run, under which name, and what a
DescribeProcessingJob response means for CloudFormation.

The job name is `<prefix>-<hash>`, the hash covering everything that decides the baseline's content
(dataset, image, analyzer code and settings, output bucket). So a deploy with the same inputs maps to
the job that already ran, and a changed dataset maps to a new job, whose name becomes the resource's
new physical id (CloudFormation then deletes the old resource). A job of the same content that failed
or was stopped is retried on a later deploy as `<prefix>-<hash>-2`, `-3`, ... (job names are unique
forever in SageMaker, and a failure may have been transient, e.g. instance capacity).

The request is the contract's one processing-job specification (`contract.processing`), which the
asset carries next to these modules.

A model-quality baseline may carry alarm margins (`AlarmMargins`, metric -> margin, with `ProblemType`):
once its job completed, each metric's alarm threshold is its baseline value worsened by the margin.
The margins are not part of the content hash: changing one recomputes the thresholds from the same
job's statistics.json (the Provider calls is_complete after every Update too) and reruns nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from contract.errors import BaselineJobFailed, PropertiesError, QualityDocumentError
from contract.layout import CONSTRAINTS_FILE, MAX_NAME, STATISTICS_FILE
from contract.model_quality import (
    LESS_THAN,
    PROBLEM_TYPES,
    QualityStatistics,
    alarm_threshold_attribute,
    statistics_section,
    suggested_operators,
)
from contract.processing import (
    CODE_INPUT,
    CODE_INPUT_PATH,
    DATASET_INPUT,
    DATASET_INPUT_PATH,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_IN_PROGRESS,
    JOB_STOPPED,
    JOB_STOPPING,
    OUTPUT_PATH,
    REPORT_OUTPUT,
    ProcessingInput,
    ProcessingJobSpec,
    ProcessingOutput,
)

HASH_LENGTH = 12
MAX_ATTEMPTS = 5
# Room for "-<hash>" and an attempt suffix "-N" within SageMaker's 63 characters.
MAX_PREFIX = MAX_NAME - 1 - HASH_LENGTH - 2
_JOB_NAME = re.compile(rf"^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{MAX_NAME - 1}}}$")

RUNNING = frozenset({JOB_IN_PROGRESS})
REUSABLE = frozenset({JOB_IN_PROGRESS, JOB_COMPLETED})
FAILED = frozenset({JOB_FAILED, JOB_STOPPED, JOB_STOPPING})
_WHAT = "Baseline resource property"


@dataclass(frozen=True)
class BaselineSpec:
    """The custom resource's properties (CloudFormation passes every scalar as a string)."""

    job_name_prefix: str
    dataset_uri: str
    output_uri: str
    """s3:// folder; each job writes to `<output_uri>/<job name>/`."""
    code_uri: str | None
    """s3:// URI of the analyzer code (self-hosted engine), downloaded to CODE_INPUT_PATH."""
    job: ProcessingJobSpec
    """Container, environment and resources of every attempt; `processing_job_request` adds the inputs
    and the output."""
    problem_type: str | None = None
    alarm_margins: Mapping[str, float] = field(default_factory=dict)
    """metric -> margin of the alarm thresholds (model quality; not part of the content hash)."""

    @classmethod
    def from_properties(cls, properties: Mapping[str, object]) -> BaselineSpec:
        def text(key: str) -> str:
            value = properties.get(key)
            if not isinstance(value, str) or not value:
                raise PropertiesError(f"{_WHAT} {key} is missing or empty (got {value!r}).")
            return value

        def integer(key: str) -> int:
            try:
                return int(text(key))
            except ValueError:
                raise PropertiesError(f"{_WHAT} {key} must be an integer, got {properties[key]!r}.") from None

        environment = properties.get("Environment") or {}
        entrypoint = properties.get("ContainerEntrypoint") or []
        if not isinstance(environment, Mapping) or not all(isinstance(v, str) for v in environment.values()):
            raise PropertiesError(f"{_WHAT} Environment must map names to strings, got {environment!r}.")
        if not isinstance(entrypoint, list) or not all(isinstance(v, str) for v in entrypoint):
            raise PropertiesError(
                f"{_WHAT} ContainerEntrypoint must be a list of strings, got {entrypoint!r}."
            )
        prefix = text("JobNamePrefix")
        if len(prefix) > MAX_PREFIX or not _JOB_NAME.match(prefix):
            raise PropertiesError(
                f"{_WHAT} JobNamePrefix {prefix!r} must be 1-{MAX_PREFIX} letters, digits and single hyphens."
            )
        for key in ("DatasetUri", "OutputUri"):
            if not text(key).startswith("s3://"):
                raise PropertiesError(f"{_WHAT} {key} must be an s3:// URI, got {properties[key]!r}.")
        problem_type, margins = _alarm_settings(properties)
        return cls(
            job_name_prefix=prefix,
            dataset_uri=text("DatasetUri"),
            output_uri=text("OutputUri").rstrip("/"),
            code_uri=properties.get("CodeUri") or None,
            job=ProcessingJobSpec(
                role_arn=text("RoleArn"),
                image_uri=text("ImageUri"),
                kms_key_arn=text("KmsKeyArn"),
                instance_type=text("InstanceType"),
                volume_size_gb=integer("VolumeSizeInGB"),
                max_runtime_seconds=integer("MaxRuntimeInSeconds"),
                environment=dict(environment),
                entrypoint=tuple(entrypoint),
            ),
            problem_type=problem_type,
            alarm_margins=margins,
        )


def _margin(metric: str, value: object) -> float:
    try:
        margin = float(value)
    except (TypeError, ValueError):
        margin = math.nan
    if isinstance(value, bool) or not math.isfinite(margin) or margin < 0:
        raise PropertiesError(f"{_WHAT} AlarmMargins.{metric} must be a number >= 0, got {value!r}.")
    return margin


def _alarm_settings(properties: Mapping[str, object]) -> tuple[str | None, dict[str, float]]:
    """`ProblemType` and `AlarmMargins` (CloudFormation sends the margins as strings)."""
    problem_type = properties.get("ProblemType") or None
    margins = properties.get("AlarmMargins") or {}
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise PropertiesError(f"{_WHAT} ProblemType {problem_type!r} must be one of {', '.join(PROBLEM_TYPES)}.")
    if not isinstance(margins, Mapping):
        raise PropertiesError(f"{_WHAT} AlarmMargins must map metric names to numbers, got {margins!r}.")
    if margins and problem_type is None:
        raise PropertiesError(f"{_WHAT} ProblemType is missing: AlarmMargins needs it for the metrics' direction.")
    operators = suggested_operators(problem_type) if margins else {}
    for metric in margins:
        if metric not in operators:
            raise PropertiesError(
                f"{_WHAT} AlarmMargins: {metric!r} is not a {problem_type} metric with a suggested constraint "
                f"(one of {', '.join(operators)})."
            )
    return problem_type, {metric: _margin(metric, value) for metric, value in margins.items()}


def content_hash(spec: BaselineSpec) -> str:
    """Hash of what decides the baseline's content; the role, instance type and timeouts are left out."""
    content = {
        "dataset": spec.dataset_uri,
        "image": spec.job.image_uri,
        "environment": dict(sorted(spec.job.environment.items())),
        "entrypoint": list(spec.job.entrypoint),
        "code": spec.code_uri,
        "output": spec.output_uri,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:HASH_LENGTH]


def job_name(spec: BaselineSpec, attempt: int = 1) -> str:
    base = f"{spec.job_name_prefix}-{content_hash(spec)}"
    return base if attempt == 1 else f"{base}-{attempt}"


def candidate_names(spec: BaselineSpec) -> list[str]:
    """Every name a job of this content may have, in the order they are tried."""
    return [job_name(spec, attempt) for attempt in range(1, MAX_ATTEMPTS + 1)]


def is_valid_job_name(name: str) -> bool:
    return bool(_JOB_NAME.match(name))


def output_uri(spec: BaselineSpec, name: str) -> str:
    return f"{spec.output_uri}/{name}"


def processing_job_request(spec: BaselineSpec, name: str) -> dict:
    """Keyword arguments of CreateProcessingJob for the baselining job `name`: the dataset (and the
    analyzer code) in, the baseline out to the job's own folder."""
    inputs = [ProcessingInput(DATASET_INPUT, spec.dataset_uri, DATASET_INPUT_PATH)]
    if spec.code_uri:
        inputs.append(ProcessingInput(CODE_INPUT, spec.code_uri, CODE_INPUT_PATH))
    output = ProcessingOutput(REPORT_OUTPUT, output_uri(spec, name), OUTPUT_PATH)
    return replace(spec.job, inputs=tuple(inputs), outputs=(output,)).create_request(name)


def completion_data(describe: Mapping, job_name_prefix: str) -> dict[str, str] | None:
    """The resource's attributes once the job completed; None while it runs; raises if it ended otherwise.

    `BaselineId` is the name without `job_name_prefix` (content hash and attempt): short enough for other
    resources to put in their names, so that they are replaced when the baseline changes.
    """
    name = describe["ProcessingJobName"]
    status = describe["ProcessingJobStatus"]
    if status == JOB_COMPLETED:
        outputs = describe.get("ProcessingOutputConfig", {}).get("Outputs", [])
        folder = next((o["S3Output"]["S3Uri"] for o in outputs if o.get("OutputName") == REPORT_OUTPUT), None)
        if folder is None:
            raise BaselineJobFailed(f"Baseline job {name} completed but has no output named {REPORT_OUTPUT}.")
        folder = folder.rstrip("/")
        return {
            "StatisticsS3Uri": f"{folder}/{STATISTICS_FILE}",
            "ConstraintsS3Uri": f"{folder}/{CONSTRAINTS_FILE}",
            "BaseliningJobName": name,
            "BaselineId": name.removeprefix(f"{job_name_prefix}-"),
        }
    if status in FAILED:
        raise BaselineJobFailed(failure_message(describe))
    return None


def alarm_thresholds(
    text: bytes | str, source: str, problem_type: str, margins: Mapping[str, float]
) -> dict[str, str]:
    """The alarm-threshold attributes of a completed model-quality baseline: each metric's value in the
    statistics document `text` (read from `source`) worsened by its margin, i.e. lowered for a
    LessThanThreshold metric (a score) and raised for a GreaterThanThreshold one (an error)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise BaselineJobFailed(
            f"Alarm thresholds: {source} is not valid JSON ({error}); the baseline job's output is truncated "
            "or damaged: read the job's logs, then change the dataset or the analyzer settings to run a new job."
        ) from None
    try:
        statistics = QualityStatistics.of(document, source, problem_type)
    except QualityDocumentError as error:
        raise BaselineJobFailed(f"Alarm thresholds: {error}") from None
    operators = suggested_operators(problem_type)
    thresholds = {}
    for metric, margin in margins.items():
        value = statistics.metric(metric)
        if value is None:
            raise BaselineJobFailed(
                f"Alarm thresholds: {source} has no metric {metric!r} in {statistics_section(problem_type)}; "
                "remove it from the alarm margins or rerun the baseline with a dataset that gives it."
            )
        worse = value.value - margin if operators[metric] == LESS_THAN else value.value + margin
        thresholds[alarm_threshold_attribute(metric)] = repr(worse)
    return thresholds


def failure_message(describe: Mapping) -> str:
    name = describe["ProcessingJobName"]
    parts = [f"Baseline job {name} {describe['ProcessingJobStatus']}"]
    if describe.get("FailureReason"):
        parts.append(f"reason: {describe['FailureReason']}")
    if describe.get("ExitMessage"):
        parts.append(f"exit message: {describe['ExitMessage']}")
    parts.append(f"logs: CloudWatch log group /aws/sagemaker/ProcessingJobs, streams {name}/*")
    return "; ".join(parts) + "."
