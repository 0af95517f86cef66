"""Look at what the endpoint captured and at what the monitoring runs found.

Both work on a local folder or an `s3://` prefix (see `workshop.store`): captures under
`{destination}/{endpoint}/{variant}/yyyy/mm/dd/HH/*.jsonl`, runs under
`{reports}/.../yyyy/mm/dd/HH/` holding `statistics.json` and `constraint_violations.json`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from analyzer.violations import CHECK_TYPES, Violation, ViolationsFormatError, parse_violations
from workshop.store import Store, StoreError, join

_CAPTURE_NAME = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/(\d{2})-(\d{2})-(\d{3})-[0-9a-fA-F-]+\.jsonl$")
_RUN_FOLDER = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})$")
VIOLATIONS_FILE = "constraint_violations.json"
STATISTICS_FILE = "statistics.json"
# A file is named after the time it was opened and may hold records up to a roll later.
FILE_SPAN = timedelta(hours=1)


class InspectError(ValueError):
    """Something to inspect is missing or malformed; the message says which file and what to do."""


def parse_utc(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InspectError(f"{what} {text!r} is not an ISO-8601 time; write it like 2024-05-01T10:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    key: str
    opened: datetime


@dataclass(frozen=True)
class CapturedRecord:
    file: str
    line: int
    time: str
    event_id: str
    inference_id: str
    output: list[str]
    inputs: list[str]


def capture_files(
    store: Store, endpoint: str, variant: str, start: datetime | None = None, end: datetime | None = None
) -> list[CaptureFile]:
    """Capture files of the endpoint/variant that may hold records of [start, end), oldest first."""
    root = join(endpoint, variant)
    if start is not None and end is not None:
        hours, hour = [], (start - FILE_SPAN).replace(minute=0, second=0, microsecond=0)
        while hour < end:
            hours.append(hour)
            hour += timedelta(hours=1)
        keys = [key for hour in hours for key in store.list(join(root, f"{hour:%Y/%m/%d/%H}"))]
    else:
        keys = store.list(root)
    files = []
    for key in keys:
        match = _CAPTURE_NAME.search(key)
        if not match:
            continue  # not a capture file (the service writes nothing else here)
        y, mo, d, h, mi, s, ms = (int(g) for g in match.groups())
        opened = datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)
        if (start is None or opened >= start - FILE_SPAN) and (end is None or opened < end):
            files.append(CaptureFile(key, opened))
    return sorted(files, key=lambda f: (f.opened, f.key))


def _part_fields(part: object) -> list[str]:
    if not isinstance(part, dict):
        return []
    data = str(part.get("data", ""))
    if part.get("encoding") != "CSV":
        return [f"<{part.get('encoding', '?')} {len(data)} chars>"]
    return data.rstrip("\r\n").split(",")


def read_records(
    store: Store, files: list[CaptureFile], start: datetime | None = None, end: datetime | None = None
) -> tuple[list[CapturedRecord], list[str]]:
    """Records of [start, end) in file order, and a message for each line that is not a record."""
    records, problems = [], []
    for item in files:
        for number, line in enumerate(store.read(item.key).splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{store.describe(item.key)}:{number}"
            try:
                record = json.loads(line)
                meta, capture = record["eventMetadata"], record["captureData"]
                moment = parse_utc(meta["inferenceTime"], "inferenceTime")
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"{where}: not a capture record ({type(exc).__name__}: {exc})")
                continue
            if (start is not None and moment < start) or (end is not None and moment >= end):
                continue
            records.append(
                CapturedRecord(
                    file=item.key,
                    line=number,
                    time=meta["inferenceTime"],
                    event_id=str(meta.get("eventId", "")),
                    inference_id=str(meta.get("inferenceId", "")),
                    output=_part_fields(capture.get("endpointOutput")),
                    inputs=_part_fields(capture.get("endpointInput")),
                )
            )
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
        [f.opened.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", str(per_file[f.key]), f.key]
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
    violations: list[Violation] = field(default_factory=list)
    item_count: int | None = None
    problem: str = ""

    @property
    def status(self) -> str:
        if self.problem:
            return "Unreadable"
        if not self.has_violations_file:
            return "NoViolationsFile"
        return "CompletedWithViolations" if self.violations else "Completed"

    @property
    def window(self) -> str:
        return window_text(self.hour)


def window_text(run_hour: datetime) -> str:
    """The run at hour HH analyses HH-1:00 to HH:00 (contract, section 8)."""
    return f"{run_hour - timedelta(hours=1):%Y-%m-%dT%H:%M}Z..{run_hour:%H:%M}Z"


def run_hour(folder: str) -> datetime | None:
    """The hour of a run folder ending in yyyy/mm/dd/HH, else None."""
    match = _RUN_FOLDER.search(folder)
    if not match:
        return None
    y, mo, d, h = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, tzinfo=UTC)


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
                run.violations = parse_violations(store.read(key).decode(), store.describe(key))
            else:
                run.item_count = int(json.loads(store.read(key))["dataset"]["item_count"])
        except (ViolationsFormatError, ValueError, KeyError, TypeError, StoreError) as exc:
            run.problem = f"{store.describe(key)}: {exc}"
    return sorted(runs.values(), key=lambda r: (r.hour, r.folder))


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
    rows = [[v.feature_name, v.constraint_check_type, v.description] for v in run.violations]
    return format_table(["feature", "check", "description"], rows, max_width=140)
