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
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from contract.errors import BaselineJobFailed, PropertiesError
from contract.layout import CONSTRAINTS_FILE, MAX_NAME, STATISTICS_FILE
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
        )


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


def failure_message(describe: Mapping) -> str:
    name = describe["ProcessingJobName"]
    parts = [f"Baseline job {name} {describe['ProcessingJobStatus']}"]
    if describe.get("FailureReason"):
        parts.append(f"reason: {describe['FailureReason']}")
    if describe.get("ExitMessage"):
        parts.append(f"exit message: {describe['ExitMessage']}")
    parts.append(f"logs: CloudWatch log group /aws/sagemaker/ProcessingJobs, streams {name}/*")
    return "; ".join(parts) + "."
