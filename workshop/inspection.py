"""Look at what the endpoint captured and at what the monitoring runs found.

Captures are read by the analyzer's own reader (`analyzer.captures.window_records`), on a local
folder or an `s3://` prefix: the files a monitoring run of the window reads
(`{destination}/{endpoint}/{variant}/yyyy/mm/dd/HH/*.jsonl`, kept by the window rule of
`contract.layout.Window`), decoded as it decodes them (CSV, JSON, BASE64), and the messages it
gives for lines that are not usable records. Runs are read through `workshop.store`: folders
`{reports}/.../yyyy/mm/dd/HH/` holding `statistics.json` and `constraint_violations.json`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from analyzer import capture_sources
from analyzer.capture_records import Row
from analyzer.captures import CaptureRecord, Issue, window_records
from contract.errors import ViolationsFormatError
from contract.layout import STATISTICS_FILE, VIOLATIONS_FILE, Window, capture_file_opened, run_hour
from contract.model_quality import QualityViolation, parse_quality_violations, problem_type_of_section
from contract.processing import COMPLETED, COMPLETED_WITH_VIOLATIONS
from contract.violations import CHECK_TYPES, Violation, parse_violations
from workshop.store import Store, StoreError, join


class InspectError(ValueError):
    """Something to inspect is missing or malformed; the message says which file and what to do."""


def format_table(headers: list[str], rows: list[list[str]], max_width: int = 40) -> str:
    """A plain-text table; cells longer than `max_width` are cut with an ellipsis."""

    def cut(text: str) -> str:
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cut(h) for h in headers]] + [[cut(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- captures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureFile:
    key: str  # relative to the capture destination: {endpoint}/{variant}/yyyy/mm/dd/HH/{name}
    opened: datetime | None  # from the name (None for a file not named like a capture file)
    source: capture_sources.CaptureFile


@dataclass(frozen=True)
class CapturedRecord:
    """One row of a capture record (a record of a batch request holds several)."""

    file: str  # the file's key
    line: int
    time: str
    event_id: str
    inference_id: str
    output: list[str]
    inputs: list[str]


def capture_location(destination: str, endpoint: str, variant: str) -> str:
    """The folder or s3:// prefix of one variant's capture files (without a final slash)."""
    if destination.startswith("s3://"):
        return "s3://" + join(destination.removeprefix("s3://"), endpoint, variant)
    return os.path.join(destination, endpoint, variant)


def capture_files(destination: str, endpoint: str, variant: str, window: Window) -> list[CaptureFile]:
    """The capture files of the endpoint/variant a monitoring run of `window` reads, in key order."""
    location = capture_location(destination, endpoint, variant)
    if not location.startswith("s3://") and not os.path.isdir(location):
        return []  # nothing captured there: the command says where it looked
    files = []
    for source in capture_sources.capture_files(location + "/", window):
        key = join(endpoint, variant, source.name[len(location) :].replace(os.sep, "/"))
        files.append(CaptureFile(key, capture_file_opened(key), source))
    return files


def _texts(row: Row) -> list[str]:
    return ["" if value is None else value for value in row]


def _rows(record: CaptureRecord) -> list[tuple[list[str], list[str]]]:
    """(output fields, input fields) of each row of a record."""
    count = max(len(record.output), len(record.inputs))
    return [
        (_texts(record.output[i]) if record.output else [], _texts(record.inputs[i]) if record.inputs else [])
        for i in range(count)
    ]


def read_records(files: list[CaptureFile], window: Window) -> tuple[list[CapturedRecord], list[str]]:
    """Rows of the window's records in file order, and the run's message for each file or line it
    cannot use."""
    keys = {item.source.name: item.key for item in files}
    records, problems = [], []
    for item in window_records([f.source for f in files], window):
        if isinstance(item, Issue):
            problems.append(str(item))
            continue
        for output, inputs in _rows(item):
            meta = (text or "" for text in (item.inference_time, item.event_id, item.inference_id))
            records.append(CapturedRecord(keys[item.file], item.line, *meta, output, inputs))
    return records, problems


def column_names(text: str, source: str) -> list[str]:
    """Column names (output first, then inputs) from a statistics.json or a CSV header line."""
    if source.endswith(".json"):
        try:
            return [feature["name"] for feature in json.loads(text)["features"]]
        except (ValueError, KeyError, TypeError):
            raise InspectError(f"{source} is not a statistics.json with a 'features' list of names") from None
    return next(iter(text.splitlines()), "").split(",")


def records_table(records: list[CapturedRecord], names: list[str] | None = None, columns: int = 4) -> str:
    """The workshop's look at the captured data: time, ids, output, the first few input columns."""
    n_out = max((len(r.output) for r in records), default=1)
    names = names or []
    out_names = [names[i] if i < len(names) else f"output{i + 1}" for i in range(n_out)]
    in_names = [names[n_out + i] if n_out + i < len(names) else f"input{i + 1}" for i in range(columns)]
    with_ids = any(r.inference_id for r in records)
    headers = ["inferenceTime", "eventId", *(["inferenceId"] if with_ids else []), *out_names, *in_names]
    width = max((len(r.inputs) for r in records), default=0)
    if width > columns:
        headers.append(f"(+{width - columns} inputs)")
    rows = []
    for r in records:
        row = [r.time, r.event_id[:8], *([r.inference_id] if with_ids else [])]
        row += [r.output[i] if i < len(r.output) else "" for i in range(n_out)]
        row += [r.inputs[i] if i < len(r.inputs) else "" for i in range(columns)]
        if width > columns:
            row.append("…")
        rows.append(row)
    return format_table(headers, rows, max_width=24)


def files_table(files: list[CaptureFile], records: list[CapturedRecord]) -> str:
    """The files holding `records` (a file opened before the range may hold none of them)."""
    per_file = Counter(r.file for r in records)
    rows = [
        [f.opened.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if f.opened else "", str(per_file[f.key]), f.key]
        for f in files
        if per_file[f.key]
    ]
    return format_table(["opened", "records", "key"], rows, max_width=120)


# --- monitoring runs ----------------------------------------------------------------------------


@dataclass
class RunInfo:
    folder: str  # relative to the reports location, ends in yyyy/mm/dd/HH
    hour: datetime
    has_violations_file: bool = False
    violations: list[Violation | QualityViolation] = field(default_factory=list)
    item_count: int | None = None
    problem: str = ""
    quality: bool = False  # a model-quality run

    @property
    def status(self) -> str:
        if self.problem:
            return "Unreadable"
        if not self.has_violations_file:
            return "NoViolationsFile"
        return COMPLETED_WITH_VIOLATIONS if self.violations else COMPLETED

    @property
    def window(self) -> str:
        # A model-quality schedule's window depends on its offsets (the label delay): not the folder's.
        return f"run at {self.hour:%Y-%m-%dT%H:%M}Z" if self.quality else window_text(self.hour)


def window_text(hour: datetime) -> str:
    """The run at hour HH analyses HH-1:00 to HH:00 (contract, section 8)."""
    return f"{hour - timedelta(hours=1):%Y-%m-%dT%H:%M}Z..{hour:%H:%M}Z"


def list_runs(store: Store) -> list[RunInfo]:
    """Every run folder under the reports location, oldest first, with its violations read."""
    runs: dict[str, RunInfo] = {}
    for key in store.list():
        folder, _, name = key.rpartition("/")
        hour = run_hour(folder)
        if hour is None or name not in (VIOLATIONS_FILE, STATISTICS_FILE):
            continue
        run = runs.setdefault(folder, RunInfo(folder, hour))
        try:
            if name == VIOLATIONS_FILE:
                run.has_violations_file = True
                run.violations = _violations(store.read(key).decode(), store.describe(key))
                run.quality = run.quality or any(isinstance(v, QualityViolation) for v in run.violations)
            else:
                statistics = json.loads(store.read(key))
                run.item_count = int(statistics["dataset"]["item_count"])
                run.quality = run.quality or any(problem_type_of_section(name) for name in statistics)
        except (ViolationsFormatError, ValueError, KeyError, TypeError, StoreError) as exc:
            run.problem = f"{store.describe(key)}: {exc}"
    return sorted(runs.values(), key=lambda r: (r.hour, r.folder))


# The keys only a model-quality violation has (`metric_name`).
_QUALITY_ONLY_KEYS = frozenset(f.name for f in fields(QualityViolation)) - {f.name for f in fields(Violation)}


def _violations(text: str, source: str) -> list[Violation | QualityViolation]:
    """A violations file of either monitor: its entries say which (`metric_name` or `feature_name`)."""
    try:
        items = json.loads(text).get("violations")
    except (ValueError, AttributeError):
        items = None  # the data-quality parser names the defect
    if isinstance(items, list) and any(isinstance(item, dict) and _QUALITY_ONLY_KEYS & item.keys() for item in items):
        return parse_quality_violations(text, source)
    return parse_violations(text, source)


def runs_table(runs: list[RunInfo]) -> str:
    rows = []
    for run in runs:
        by_check = Counter(v.constraint_check_type for v in run.violations)
        order = [*CHECK_TYPES, *sorted(set(by_check) - set(CHECK_TYPES))]
        checks = ", ".join(f"{by_check[c]} {c}" for c in order if c in by_check)
        item_count = "" if run.item_count is None else str(run.item_count)
        rows.append([run.folder, run.window, run.status, str(len(run.violations)), item_count, checks or run.problem])
    return format_table(["run", "window", "status", "violations", "rows", "checks"], rows, max_width=90)


def find_run(runs: list[RunInfo], wanted: str) -> RunInfo:
    """A run by folder (or its yyyy/mm/dd/HH ending), or `latest`."""
    if not runs:
        raise InspectError("no monitoring runs found there; check the reports location (s3://bucket/reports/...)")
    if wanted == "latest":
        return runs[-1]
    matches = [r for r in runs if r.folder == wanted.strip("/") or r.folder.endswith("/" + wanted.strip("/"))]
    if len(matches) != 1:
        known = ", ".join(r.folder for r in runs[-5:])
        what = "no run" if not matches else f"{len(matches)} runs"
        raise InspectError(f"{what} matches {wanted!r}; give a folder such as one of: {known}")
    return matches[0]


def violations_table(run: RunInfo) -> str:
    rows = [[v.metric_name if isinstance(v, QualityViolation) else v.feature_name, v.constraint_check_type,
             v.description] for v in run.violations]
    return format_table(["metric" if run.quality else "feature", "check", "description"], rows, max_width=140)
