"""One hourly monitoring run in a Lambda: what the self-hosted processing job does, without the job.

The job copies its inputs from S3 to fixed local paths, runs `python3 -m analyzer container` with the
contract's environment (`contract.processing.monitoring_environment`, or for model quality
`quality_monitoring_environment`) and uploads its two output
folders (`monitoring_outputs`: the report folder, and its `metrics` folder). Here the same happens
under a work folder: the container's paths (`/opt/ml/...`) are re-rooted under it, the same
environment is handed to the same entry point (`analyzer.container.run_container`), and the message
file it writes is the run's exit message, or the failure's reason.

Captures: the hour folders the event names (`RunnerEvent.CAPTURE_FOLDERS`: the state machine sends
the folders it gives the job as inputs, so both runners analyse the same files and write byte-identical
reports), laid out as the job lays them out (`<input folder>/<endpoint>/<variant>/yyyy/mm/dd/HH/...`).
Model quality: also the labels of the label window's hour folders (`<ground-truth input>/yyyy/mm/dd/HH/...`;
the job copies whole day folders, of which the analyzer reads the same hours).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path

from analyzer.container import run_container
from contract.errors import PropertiesError, WindowError
from contract.lambdas import RUNNER_FAILED_ERROR, RUNNER_NO_DATA_ERROR, RunnerEvent, RunnerResult
from contract.layout import VIOLATIONS_FILE, Window, hour_folder, split_s3_uri
from contract.metrics import METRICS_FOLDER, PUBLISH_ALL, MetricsBudget
from contract.processing import (
    MESSAGE_FILE,
    NO_DATA_REASON,
    PROCESSING_ROOT,
    Env,
    QualityAttributes,
    monitoring_environment,
    monitoring_outputs,
    quality_monitoring_environment,
)

log = logging.getLogger(__name__)

# The container's root (`/opt/ml`): every local path of the job lies under it.
CONTAINER_ROOT = os.path.commonpath((PROCESSING_ROOT, MESSAGE_FILE))


class RunnerError(RuntimeError):
    """A run that failed; the message is the container's message file (the job's failure reason)."""


# Named by the contract: the class name is the Lambda's errorType, which the state machine catches.
NoCapturedData = type(RUNNER_NO_DATA_ERROR, (RunnerError,), {"__doc__": f"{NO_DATA_REASON} (the window)."})
AnalysisFailed = type(RUNNER_FAILED_ERROR, (RunnerError,), {"__doc__": "Any other failure of the analyzer."})


# The event's keys of every run, and those only one kind of run has.
COMMON_KEYS = (
    RunnerEvent.ENDPOINT_NAME, RunnerEvent.SCHEDULE_NAME, RunnerEvent.WINDOW_START, RunnerEvent.WINDOW_END,
    RunnerEvent.CAPTURE_URI, RunnerEvent.CONSTRAINTS_URI, RunnerEvent.REPORT_URI,
)  # fmt: skip
DATA_QUALITY_KEYS = (RunnerEvent.STATISTICS_URI,)
MODEL_QUALITY_KEYS = (RunnerEvent.GROUND_TRUTH_URI, RunnerEvent.LABELS_END)
FOLDER_PATTERN = re.compile(r"\d{4}/\d{2}/\d{2}/\d{2}")
URI_KEYS = (RunnerEvent.CAPTURE_URI, RunnerEvent.STATISTICS_URI, RunnerEvent.CONSTRAINTS_URI,
            RunnerEvent.REPORT_URI, RunnerEvent.GROUND_TRUTH_URI)  # fmt: skip


@dataclass(frozen=True)
class RunRequest:
    endpoint: str
    schedule: str
    start: str
    end: str
    captures: str  # s3://bucket/<capture prefix of the variant>/
    constraints: str
    report: str  # s3://bucket/<report folder>, no final slash
    folders: tuple[str, ...] = ()  # the capture hour folders (yyyy/mm/dd/HH) under `captures`
    statistics: str | None = None  # data quality
    metrics_budget: MetricsBudget = PUBLISH_ALL  # data quality
    ground_truth: str | None = None  # model quality: s3://bucket/ground-truth/<endpoint>/
    labels_end: str | None = None
    attributes: QualityAttributes | None = None

    @classmethod
    def of(cls, event: Mapping) -> RunRequest:
        if not isinstance(event, Mapping):
            raise PropertiesError(f"the runner's event must be an object with {', '.join(COMMON_KEYS)}; got {event!r}")
        quality = RunnerEvent.GROUND_TRUTH_URI in event
        keys = COMMON_KEYS + (MODEL_QUALITY_KEYS if quality else DATA_QUALITY_KEYS)
        missing = [key for key in keys if not isinstance(event.get(key), str) or not event[key]]
        if missing:
            raise PropertiesError(f"the runner's event lacks {', '.join(missing)} (strings); got keys {sorted(event)}")
        for key in (key for key in URI_KEYS if key in keys):
            if not event[key].startswith("s3://"):
                raise PropertiesError(f"the runner's event {key}={event[key]!r} is not an s3:// URI")
        values = dict(zip(("endpoint", "schedule", "start", "end", "captures", "constraints", "report"),
                          (event[key] for key in COMMON_KEYS), strict=True))  # fmt: skip
        values["folders"] = _folders(event.get(RunnerEvent.CAPTURE_FOLDERS))
        if not quality:
            budget = event.get(RunnerEvent.METRICS_BUDGET)
            return cls(**values, statistics=event[RunnerEvent.STATISTICS_URI],
                       metrics_budget=MetricsBudget.from_text(budget) if budget else PUBLISH_ALL)
        return cls(**values, ground_truth=event[RunnerEvent.GROUND_TRUTH_URI],
                   labels_end=event[RunnerEvent.LABELS_END], attributes=_attributes(event))  # fmt: skip

    @property
    def capture_folder(self) -> str:
        """`<endpoint>/<variant>`: where the job puts the captures under its input folder."""
        return "/".join(split_s3_uri(self.captures)[1].rstrip("/").split("/")[-2:])


def _folders(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(item, str) and FOLDER_PATTERN.fullmatch(item) for item in value):
        raise PropertiesError(
            f"the runner's event {RunnerEvent.CAPTURE_FOLDERS}={value!r}: give the list of capture hour folders "
            "the run reads, such as ['2024/05/01/10']"
        )
    return tuple(value)


def _attributes(event: Mapping) -> QualityAttributes:
    value = event.get(RunnerEvent.QUALITY_ATTRIBUTES)
    names = [item.name for item in fields(QualityAttributes)]
    try:
        return QualityAttributes(**value)
    except TypeError:
        raise PropertiesError(
            f"the runner's event {RunnerEvent.QUALITY_ATTRIBUTES}={value!r}: give an object with problem_type "
            f"and any of {', '.join(names[1:])}"
        ) from None


def local_path(root: str, container_path: str) -> str:
    """The container's path (`/opt/ml/...`) under `root`."""
    return os.path.join(root, os.path.relpath(container_path, CONTAINER_ROOT))


def local_environment(request: RunRequest, root: str) -> dict[str, str]:
    """The job's environment with its paths under `root`, and the message file the container writes."""
    if request.attributes is None:
        environment = monitoring_environment(request.endpoint, request.schedule, request.start, request.end,
                                             request.metrics_budget)
    else:
        environment = quality_monitoring_environment(
            request.endpoint, request.schedule, request.attributes,
            captures=(request.start, request.end), labels=(request.start, request.labels_end),
        )  # fmt: skip
    rerooted = {
        name: local_path(root, value) if value.startswith(CONTAINER_ROOT + "/") else value
        for name, value in environment.items()
    }
    return {**rerooted, Env.MESSAGE_FILE: local_path(root, MESSAGE_FILE)}


def download_folders(s3, uri: str, folders: list[str], target: Path, threads: int) -> int:
    """The objects under `uri` + each folder, to `target` + their path below `uri`; returns how many."""
    bucket, prefix = split_s3_uri(uri)
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    target.mkdir(parents=True, exist_ok=True)  # an empty window is the analyzer's no-data failure
    keys = []
    for folder in folders:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{folder}/")
        keys += [item["Key"] for page in pages for item in page.get("Contents", ())]

    def fetch(key: str) -> None:
        destination = target / key[len(prefix):]
        destination.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(destination))

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(fetch, keys))
    return len(keys)


def download_inputs(s3, request: RunRequest, environment: Mapping[str, str], threads: int) -> int:
    """The captures of the event's hour folders (and, for model quality, the labels of the label
    window's hours), laid out as the job lays them out; returns how many capture files."""
    captures = Path(environment[Env.DATASET_SOURCE]) / request.capture_folder
    files = download_folders(s3, request.captures, list(request.folders), captures, threads)
    if request.ground_truth is not None:
        window = Window.parse(request.start, request.labels_end)
        hour, label_hours = window.start.replace(minute=0, second=0, microsecond=0), []
        while hour < window.end:
            label_hours.append(hour_folder(hour))
            hour += timedelta(hours=1)
        download_folders(s3, request.ground_truth, label_hours, Path(environment[Env.GROUND_TRUTH_SOURCE]), threads)
    return files


def download_baseline(s3, request: RunRequest, environment: Mapping[str, str]) -> None:
    """The baseline's two files where the environment says; a missing object is left for the analyzer
    to name (its BaselineError), as a bad one is."""
    from botocore.exceptions import ClientError

    for uri, name in ((request.statistics, Env.BASELINE_STATISTICS), (request.constraints, Env.BASELINE_CONSTRAINTS)):
        if name not in environment:  # a model-quality run reads the constraints only
            continue
        os.makedirs(os.path.dirname(environment[name]), exist_ok=True)
        try:
            s3.download_file(*split_s3_uri(uri), environment[name])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                raise
            log.warning("baseline file %s does not exist", uri)


def upload_outputs(s3, request: RunRequest, root: str) -> None:
    """Every output file to the job's output URIs (`<S3Uri>/<path below LocalPath>`)."""
    for output in monitoring_outputs(request.report, f"{request.report}/{METRICS_FOLDER}"):
        folder = Path(local_path(root, output.local_path))
        bucket, key_prefix = split_s3_uri(output.s3_uri)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{key_prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
            s3.upload_file(str(path), bucket, key)


def _failure(message: str, root: str) -> RunnerError:
    """The failure, its message naming the container's paths (as the job's does) rather than this run's."""
    message = message.replace(root, CONTAINER_ROOT)
    return (NoCapturedData if message.startswith(NO_DATA_REASON) else AnalysisFailed)(message)


def run(request: RunRequest, s3, work_dir: str, threads: int) -> dict:
    """Download, analyse as the container does, upload; raises a RunnerError when the run fails."""
    os.makedirs(work_dir, exist_ok=True)
    root = tempfile.mkdtemp(dir=work_dir, prefix="run-")  # a warm Lambda keeps /tmp: one folder per run
    try:
        environment = local_environment(request, root)
        try:
            files = download_inputs(s3, request, environment, threads)
        except WindowError as exc:  # the container fails on the same window with the same text
            raise AnalysisFailed(str(exc)) from None
        download_baseline(s3, request, environment)
        code = run_container(environment)
        message = Path(environment[Env.MESSAGE_FILE]).read_text(encoding="utf-8")
        if code != 0:
            raise _failure(message, root)
        with open(os.path.join(environment[Env.OUTPUT_PATH], VIOLATIONS_FILE), encoding="utf-8") as handle:
            violations = len(json.load(handle)["violations"])
        upload_outputs(s3, request, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        RunnerResult.STATUS: message.split(":", 1)[0],
        RunnerResult.EXIT_MESSAGE: message,
        RunnerResult.VIOLATIONS: violations,
        RunnerResult.REPORT_URI: request.report,
        RunnerResult.CAPTURE_FILES: files,
    }
