"""Read an EventBridge event into the facts an alert needs about one monitoring run.

Two event kinds reach the function (contract, section 8):
- `SageMaker Processing Job State Change`: `detail` is the DescribeProcessingJob shape. The run's
  report folder is its S3 output, laid out `.../<endpoint>/<schedule>/yyyy/mm/dd/HH/`.
- `Step Functions Execution Status Change`: the self-hosted engine's state machine failed. When it
  failed because its job did (error `JOB_FAILED_ERROR`), the cause is the job's DescribeProcessingJob
  subset and the run is read as that job's, like a job event: the alert names the job, its reason and
  exit message, and shares the job's de-duplication key. The execution of the model-quality state
  machine (`Defaults.quality_state_machine_arn`) is a run of the model-quality schedule.

A Lambda-runner run (`RUNNER_EVENT`, sent by the self-hosted state machine) is read as the job's event
it mirrors: same fields, same de-duplication key (the hour's job name); its console link is the state
machine execution (`RUNNER_EXECUTION_FIELD`), as no SageMaker job exists.

A managed model-quality execution is two jobs (`contract.events`): the merge job names neither endpoint
nor schedule, so it is read as a run of the function's model-quality schedule (`Run.is_merge_job`), and
it shares the analysis job's de-duplication key (`Run.dedup_id`): one execution, one alert.

A run that had no data says which input was missing (`Run.missing`): the state machine's error name
(`NO_DATA_ERROR`, `NO_LABELS_ERROR`) when it has one, else the input locations that a
"Job inputs had no data" reason names (contract: the reason names the empty prefix; a join that matched
nothing names both sides).

Endpoint and schedule names come from the job's container environment when present (both engines
set `sagemaker_endpoint_name` / `sagemaker_monitoring_schedule_name`), else from the report path,
else from `MonitoringScheduleArn` (not confirmed to be in the event; SageMaker may lower-case names
in ARNs, so the path, which keeps their case, is preferred), else from the function's defaults.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

from contract.errors import EventShapeError
from contract.events import (
    JOB_FAILED_ERROR,
    MERGE_JOB_PREFIX,
    NO_DATA_ERROR,
    NO_LABELS_ERROR,
    PROCESSING_JOB_EVENT,
    QUALITY_JOB_PREFIX,
    RUNNER_EVENT,
    RUNNER_EXECUTION_FIELD,
    STATE_MACHINE_EVENT,
)
from contract.layout import CAPTURE_PREFIX, GROUND_TRUTH_PREFIX, VIOLATIONS_FILE, report_folder_names, split_s3_uri
from contract.processing import (
    ENDPOINT_INPUT_PATH,
    GROUND_TRUTH_INPUT_PATH,
    MERGE_DATASET_PATH,
    NO_DATA_REASON,
    OUTPUT_PATH,
    Env,
    exit_message_has_violations,
)

logger = logging.getLogger("alerts")

PROCESSING_JOB = "processing-job"
STATE_MACHINE = "state-machine"
# What a run without data lacked (`Run.missing`), and where each input is (the jobs' local paths, the S3 prefixes).
CAPTURES, LABELS, UNMATCHED = "captures", "labels", "unmatched"
_CAPTURE_LOCATIONS = (ENDPOINT_INPUT_PATH, MERGE_DATASET_PATH, f"/{CAPTURE_PREFIX}/")
_LABEL_LOCATIONS = (GROUND_TRUTH_INPUT_PATH, f"/{GROUND_TRUTH_PREFIX}/")


@dataclass(frozen=True)
class Defaults:
    """Names and region used when the event does not carry them (from the function's environment)."""

    endpoint: str = "unknown-endpoint"
    schedule: str = "unknown-schedule"
    region: str = "us-east-1"
    quality_schedule: str | None = None
    """The model-quality schedule, when deployed."""
    quality_state_machine_arn: str | None = None
    """The self-hosted model-quality state machine: its failures are runs of `quality_schedule`."""


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
    notes: tuple[str, ...] = ()
    """Fields of the event that have an unexpected shape and were ignored (`detail.X is a list, ...`)."""
    error: str = ""
    """A state machine's error name (`contract.events`)."""
    console_name: str = "Processing job"
    """What `console_url` opens."""

    @property
    def is_merge_job(self) -> bool:
        """A managed model-quality execution's merge job (it writes no report: its analysis job does)."""
        return self.kind == PROCESSING_JOB and self.run_id.startswith(MERGE_JOB_PREFIX)

    @property
    def dedup_id(self) -> str:
        """The de-duplication key with `status`: the run, or for a merge job its execution's analysis job."""
        return QUALITY_JOB_PREFIX + self.run_id.removeprefix(MERGE_JOB_PREFIX) if self.is_merge_job else self.run_id

    @property
    def missing(self) -> str | None:
        """CAPTURES, LABELS or UNMATCHED (both sides named: nothing joined) for a run without data, else None."""
        return missing_input(self.error, f"{self.failure_reason} {self.exit_message}")

    @property
    def report_uri(self) -> str | None:
        return f"{self.output_uri.rstrip('/')}/{VIOLATIONS_FILE}" if self.output_uri else None

    @property
    def has_violations(self) -> bool | None:
        """From the exit message (`CompletedWithViolations: ...` / `Completed: ...`); None if it
        does not say."""
        return exit_message_has_violations(self.exit_message)


def missing_input(error: str, reason: str) -> str | None:
    """What a run without data lacked, from its state machine's error name, else its reason's locations."""
    if error in (NO_DATA_ERROR, NO_LABELS_ERROR):
        return CAPTURES if error == NO_DATA_ERROR else LABELS
    if NO_DATA_REASON not in reason:
        return None
    captures, labels = (any(place in reason for place in places) for places in (_CAPTURE_LOCATIONS, _LABEL_LOCATIONS))
    if captures and labels:
        return UNMATCHED
    return CAPTURES if captures else LABELS if labels else None


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
        raise EventShapeError(f"{where}.{key} is missing or not a string (got {_shown(value)})")
    return value


def _shown(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


class _Reader:
    """Reads the optional fields of an event, noting each one of an unexpected shape instead of failing:
    the alert is still sent with what the event does say."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def mapping(self, parent: Mapping, key: str, where: str) -> Mapping:
        value = parent.get(key)
        if value is None or isinstance(value, Mapping):
            return value or {}
        self.notes.append(f"{where}.{key} is {_kind(value)}, not an object ({_shown(value)}); it was ignored")
        return {}

    def text(self, parent: Mapping, key: str, where: str) -> str:
        """A string field; another value is quoted as JSON (and noted)."""
        value = parent.get(key)
        if value is None or isinstance(value, str):
            return value or ""
        self.notes.append(f"{where}.{key} is {_kind(value)}, not a string")
        return _shown(value)

    def name(self, parent: Mapping, key: str, where: str) -> str | None:
        """A name, or None when the field is absent or not a non-empty string (noted)."""
        value = parent.get(key)
        if isinstance(value, str) and value:
            return value
        if value is not None:
            self.notes.append(f"{where}.{key} is {_shown(value)}, not a name; it was ignored")
        return None

    def output_uri(self, detail: Mapping) -> str | None:
        """The report folder: preferably the output laid out like one, then the analyzer's output path,
        then the first S3 output."""
        where = "detail.ProcessingOutputConfig"
        outputs = self.mapping(detail, "ProcessingOutputConfig", "detail").get("Outputs")
        if outputs is None:
            return None
        if not isinstance(outputs, list):
            self.notes.append(f"{where}.Outputs is {_kind(outputs)}, not a list; it was ignored")
            return None
        candidates = []
        for index, output in enumerate(outputs):
            if isinstance(output, Mapping) and "S3Output" not in output:
                continue  # another kind of output (a feature store's)
            s3 = output.get("S3Output") if isinstance(output, Mapping) else None
            uri = s3.get("S3Uri") if isinstance(s3, Mapping) else None
            if isinstance(uri, str) and uri.startswith("s3://") and split_s3_uri(uri)[0]:
                candidates.append(s3)
            else:
                self.notes.append(f"{where}.Outputs[{index}] has no s3://bucket/... S3Output.S3Uri "
                                  f"({_shown(output)}); it was ignored")
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


def _names(detail: Mapping, environment: Mapping, reader: _Reader, output_uri: str | None
           ) -> tuple[str | None, str | None]:
    """(endpoint, schedule) from the job's environment, else its report path, else the schedule's ARN."""
    folder = report_folder_names(output_uri) if output_uri else None
    schedule_arn = reader.name(detail, "MonitoringScheduleArn", "detail")
    arn_schedule = schedule_arn.rsplit("/", 1)[-1] if schedule_arn and "/" in schedule_arn else None
    endpoint = reader.name(environment, Env.ENDPOINT_NAME, "detail.Environment") or (folder and folder[0])
    schedule = reader.name(environment, Env.SCHEDULE_NAME, "detail.Environment") or (folder and folder[1])
    return endpoint or None, schedule or arn_schedule


def _processing_job_run(event: Mapping, detail: Mapping, defaults: Defaults) -> Run:
    job_name = _text(detail, "ProcessingJobName", "detail")
    status = _text(detail, "ProcessingJobStatus", "detail")
    region = _region(event, defaults)
    reader = _Reader()
    output_uri = reader.output_uri(detail)
    environment = reader.mapping(detail, "Environment", "detail")
    endpoint, schedule = _names(detail, environment, reader, output_uri)
    if schedule is None and job_name.startswith(MERGE_JOB_PREFIX):
        schedule = defaults.quality_schedule
    start, end = (reader.name(environment, key, "detail.Environment") for key in (Env.START_TIME, Env.END_TIME))
    return Run(
        kind=PROCESSING_JOB, run_id=job_name, status=status, endpoint=endpoint or defaults.endpoint,
        schedule=schedule or defaults.schedule, region=region,
        console_url=f"https://{console_host(region)}/sagemaker/home?region={region}"
                    f"#/processing-jobs/{job_name}",
        exit_message=reader.text(detail, "ExitMessage", "detail"),
        failure_reason=reader.text(detail, "FailureReason", "detail"),
        output_uri=output_uri,
        window=f"{start} to {end}" if start and end else "",
        notes=tuple(reader.notes),
    )


def execution_url(region: str, execution_arn: str) -> str:
    return f"https://{console_host(region)}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _runner_run(event: Mapping, detail: Mapping, defaults: Defaults) -> Run:
    """A Lambda-runner run: read as its job's event; linked to its state machine execution."""
    run = _processing_job_run(event, detail, defaults)
    execution = detail.get(RUNNER_EXECUTION_FIELD)
    if not isinstance(execution, str) or not execution:
        return run
    return replace(run, console_url=execution_url(run.region, execution),
                   console_name="Lambda run (state machine execution)")


def _failed_job(detail: Mapping) -> Mapping | None:
    """The job summary a `JOB_FAILED_ERROR` failure carries as its cause; None for any other failure (or a
    cause that is not such a summary, which is then quoted as it is)."""
    if detail.get("error") != JOB_FAILED_ERROR or not isinstance(detail.get("cause"), str):
        return None
    try:
        job = json.loads(detail["cause"])
    except (ValueError, RecursionError):  # RecursionError: nested beyond what the parser follows
        return None
    names = ("ProcessingJobName", "ProcessingJobStatus")
    return job if isinstance(job, Mapping) and all(isinstance(job.get(name), str) for name in names) else None


def _machine_defaults(detail: Mapping, defaults: Defaults) -> Defaults:
    """The defaults of a state machine's run: the model-quality machine's runs are that schedule's."""
    machine = defaults.quality_state_machine_arn
    quality = defaults.quality_schedule and (
        detail.get("error") == NO_LABELS_ERROR or (machine is not None and detail.get("stateMachineArn") == machine))
    return replace(defaults, schedule=defaults.quality_schedule) if quality else defaults


def _state_machine_run(event: Mapping, detail: Mapping, defaults: Defaults) -> Run:
    defaults = _machine_defaults(detail, defaults)
    job = _failed_job(detail)
    if job is not None:
        return _processing_job_run(event, job, defaults)
    execution_arn = _text(detail, "executionArn", "detail")
    region = _region(event, defaults)
    reader = _Reader()
    error = reader.text(detail, "error", "detail")
    reason = ": ".join(filter(None, (error, reader.text(detail, "cause", "detail"))))
    return Run(
        kind=STATE_MACHINE, run_id=reader.name(detail, "name", "detail") or execution_arn.rsplit(":", 1)[-1],
        status=_text(detail, "status", "detail"), endpoint=defaults.endpoint, schedule=defaults.schedule,
        region=region,
        console_url=execution_url(region, execution_arn),
        failure_reason=reason, notes=tuple(reader.notes), error=error,
    )


def parse_event(event: object, defaults: Defaults) -> Run:
    """The run an EventBridge event describes; EventShapeError names the field that is wrong."""
    if not isinstance(event, Mapping):
        raise EventShapeError(f"the event is a {type(event).__name__}, not an EventBridge event object")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventShapeError(f"event.detail is missing or not an object (got {type(detail).__name__})")
    detail_type = event.get("detail-type")
    readers = {PROCESSING_JOB_EVENT: _processing_job_run, RUNNER_EVENT: _runner_run,
               STATE_MACHINE_EVENT: _state_machine_run}
    if detail_type in readers:
        run = readers[detail_type](event, detail, defaults)
        for note in run.notes:
            logger.warning("Event %s of run %s: %s", event_id(event), run.run_id, note)
        return run
    raise EventShapeError(
        f"event detail-type {detail_type!r} is none of {', '.join(map(repr, readers))}: "
        "check the EventBridge rule that targets this function")


def placeholder_run(event: object, defaults: Defaults) -> Run:
    """Stands in for a run the event could not describe, so the alert can still say where to look (and
    for which endpoint and schedule, when the readable part of the event names them)."""
    region = _region(event, defaults) if isinstance(event, Mapping) else defaults.region
    detail = event.get("detail") if isinstance(event, Mapping) else None
    endpoint = schedule = None
    if isinstance(detail, Mapping):
        reader = _Reader()
        environment = reader.mapping(detail, "Environment", "detail")
        endpoint, schedule = _names(detail, environment, reader, reader.output_uri(detail))
    return Run(kind="unreadable-event", run_id=event_id(event), status="unknown",
               endpoint=endpoint or defaults.endpoint, schedule=schedule or defaults.schedule, region=region,
               console_url=f"https://{console_host(region)}/events/home?region={region}#/rules")
