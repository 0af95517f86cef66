"""Read an EventBridge event into the facts an alert needs about one monitoring run.

Two event kinds reach the function (contract, section 8):
- `SageMaker Processing Job State Change`: `detail` is the DescribeProcessingJob shape. The run's
  report folder is its S3 output, laid out `.../<endpoint>/<schedule>/yyyy/mm/dd/HH/`.
- `Step Functions Execution Status Change`: the self-hosted engine's state machine failed. When it
  failed because its job did (error `JOB_FAILED_ERROR`), the cause is the job's DescribeProcessingJob
  subset and the run is read as that job's, like a job event: the alert names the job, its reason and
  exit message, and shares the job's de-duplication key.

Endpoint and schedule names come from the job's container environment when present (both engines
set `sagemaker_endpoint_name` / `sagemaker_monitoring_schedule_name`), else from the report path,
else from `MonitoringScheduleArn` (not confirmed to be in the event; SageMaker may lower-case names
in ARNs, so the path, which keeps their case, is preferred), else from the function's defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from contract.errors import EventShapeError
from contract.events import JOB_FAILED_ERROR, PROCESSING_JOB_EVENT, STATE_MACHINE_EVENT
from contract.layout import VIOLATIONS_FILE, report_folder_names, split_s3_uri
from contract.processing import OUTPUT_PATH, Env, exit_message_has_violations

PROCESSING_JOB = "processing-job"
STATE_MACHINE = "state-machine"


@dataclass(frozen=True)
class Defaults:
    """Names and region used when the event does not carry them (from the function's environment)."""

    endpoint: str = "unknown-endpoint"
    schedule: str = "unknown-schedule"
    region: str = "us-east-1"


@dataclass(frozen=True)
class Run:
    """One monitoring run as an alert describes it."""

    kind: str
    """PROCESSING_JOB or STATE_MACHINE."""
    run_id: str
    """Processing job name or state machine execution name: the de-duplication key with `status`."""
    status: str
    endpoint: str
    schedule: str
    region: str
    console_url: str
    exit_message: str = ""
    failure_reason: str = ""
    output_uri: str | None = None
    """The run's report folder, `s3://bucket/.../<endpoint>/<schedule>/yyyy/mm/dd/HH/`."""
    window: str = ""
    """The analysed time window, when the job's environment says (`start_time` to `end_time`)."""

    @property
    def report_uri(self) -> str | None:
        return f"{self.output_uri.rstrip('/')}/{VIOLATIONS_FILE}" if self.output_uri else None

    @property
    def has_violations(self) -> bool | None:
        """From the exit message (`CompletedWithViolations: ...` / `Completed: ...`); None if it
        does not say."""
        return exit_message_has_violations(self.exit_message)


def console_host(region: str) -> str:
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return f"{region}.console.aws.amazon.com"


def s3_console_url(uri: str, region: str) -> str:
    bucket, key = split_s3_uri(uri)
    return f"https://{console_host(region)}/s3/object/{bucket}?region={region}&prefix={quote(key, safe='/')}"


def event_id(event: object) -> str:
    """EventBridge's event id, or a digest of the event when it has none (for de-duplication)."""
    if isinstance(event, Mapping) and isinstance(event.get("id"), str) and event["id"]:
        return event["id"]
    text = json.dumps(event, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _text(mapping: Mapping, key: str, where: str) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value:
        raise EventShapeError(f"{where}.{key} is missing or not a string (got {value!r})")
    return value


def _output_uri(detail: Mapping) -> str | None:
    """The report folder: preferably the output laid out like one, then the analyzer's output path,
    then the first S3 output."""
    outputs = (detail.get("ProcessingOutputConfig") or {}).get("Outputs")
    if not isinstance(outputs, list):
        return None
    candidates = [o["S3Output"] for o in outputs
                  if isinstance(o, Mapping) and isinstance(o.get("S3Output"), Mapping)
                  and isinstance(o["S3Output"].get("S3Uri"), str)]
    if not candidates:
        return None

    def rank(s3: Mapping) -> int:
        if report_folder_names(s3["S3Uri"]):
            return 0
        return 1 if s3.get("LocalPath") == OUTPUT_PATH else 2

    return min(candidates, key=rank)["S3Uri"]


def _region(event: Mapping, defaults: Defaults) -> str:
    region = event.get("region")
    return region if isinstance(region, str) and region else defaults.region


def _processing_job_run(event: Mapping, detail: Mapping, defaults: Defaults) -> Run:
    job_name = _text(detail, "ProcessingJobName", "detail")
    status = _text(detail, "ProcessingJobStatus", "detail")
    region = _region(event, defaults)
    environment = detail.get("Environment") if isinstance(detail.get("Environment"), Mapping) else {}
    output_uri = _output_uri(detail)
    folder = report_folder_names(output_uri) if output_uri else None
    schedule_arn = detail.get("MonitoringScheduleArn")
    arn_schedule = None
    if isinstance(schedule_arn, str) and "/" in schedule_arn:
        arn_schedule = schedule_arn.rsplit("/", 1)[-1]
    endpoint = environment.get(Env.ENDPOINT_NAME) or (folder and folder[0]) or defaults.endpoint
    schedule = environment.get(Env.SCHEDULE_NAME) or (folder and folder[1]) or arn_schedule or defaults.schedule
    start, end = environment.get(Env.START_TIME), environment.get(Env.END_TIME)
    return Run(
        kind=PROCESSING_JOB, run_id=job_name, status=status, endpoint=str(endpoint), schedule=str(schedule),
        region=region,
        console_url=f"https://{console_host(region)}/sagemaker/home?region={region}"
                    f"#/processing-jobs/{job_name}",
        exit_message=str(detail.get("ExitMessage") or ""),
        failure_reason=str(detail.get("FailureReason") or ""),
        output_uri=output_uri,
        window=f"{start} to {end}" if start and end else "",
    )


def _failed_job(detail: Mapping) -> Mapping | None:
    """The job summary a `JOB_FAILED_ERROR` failure carries as its cause; None for any other failure (or a
    cause that is not such a summary, which is then quoted as it is)."""
    if detail.get("error") != JOB_FAILED_ERROR or not isinstance(detail.get("cause"), str):
        return None
    try:
        job = json.loads(detail["cause"])
    except ValueError:
        return None
    names = ("ProcessingJobName", "ProcessingJobStatus")
    return job if isinstance(job, Mapping) and all(isinstance(job.get(name), str) for name in names) else None


def _state_machine_run(event: Mapping, detail: Mapping, defaults: Defaults) -> Run:
    job = _failed_job(detail)
    if job is not None:
        return _processing_job_run(event, job, defaults)
    execution_arn = _text(detail, "executionArn", "detail")
    region = _region(event, defaults)
    reason = ": ".join(str(detail[k]) for k in ("error", "cause") if detail.get(k))
    return Run(
        kind=STATE_MACHINE, run_id=str(detail.get("name") or execution_arn.rsplit(":", 1)[-1]),
        status=_text(detail, "status", "detail"), endpoint=defaults.endpoint, schedule=defaults.schedule,
        region=region,
        console_url=f"https://{console_host(region)}/states/home?region={region}#/v2/executions/details/"
                    f"{execution_arn}",
        failure_reason=reason,
    )


def parse_event(event: object, defaults: Defaults) -> Run:
    """The run an EventBridge event describes; EventShapeError names the field that is wrong."""
    if not isinstance(event, Mapping):
        raise EventShapeError(f"the event is a {type(event).__name__}, not an EventBridge event object")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventShapeError(f"event.detail is missing or not an object (got {type(detail).__name__})")
    detail_type = event.get("detail-type")
    if detail_type == PROCESSING_JOB_EVENT:
        return _processing_job_run(event, detail, defaults)
    if detail_type == STATE_MACHINE_EVENT:
        return _state_machine_run(event, detail, defaults)
    raise EventShapeError(
        f"event detail-type {detail_type!r} is neither {PROCESSING_JOB_EVENT!r} nor {STATE_MACHINE_EVENT!r}: "
        "check the EventBridge rule that targets this function")


def placeholder_run(event: object, defaults: Defaults) -> Run:
    """Stands in for a run the event could not describe, so the alert can still say where to look."""
    region = _region(event, defaults) if isinstance(event, Mapping) else defaults.region
    return Run(kind="unreadable-event", run_id=event_id(event), status="unknown", endpoint=defaults.endpoint,
               schedule=defaults.schedule, region=region,
               console_url=f"https://{console_host(region)}/events/home?region={region}#/rules")
