"""Where things are: the S3 layout, the report file names, schedule and job names, UTC times.

Bucket layout (contract, sections 1 and 8), the same for both engines:

    datacapture/<endpoint>/<variant>/yyyy/mm/dd/HH/MM-SS-mmm-<uuid>.jsonl   captured records
    baselines/<baselining job>/statistics.json, constraints.json            deploy-time baseline
    reports/<endpoint>/<schedule>/yyyy/mm/dd/HH/                             one folder per run
    alert-markers/<endpoint>/<run kind>/<run>/<status>                       alert de-duplication

A capture file sits in the folder of the hour it was opened and is rolled about once a minute, so
its records may run past that hour: `file_may_hold` is the one window rule every reader applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contract.errors import WindowError

CAPTURE_PREFIX = "datacapture"
BASELINE_PREFIX = "baselines"
REPORTS_PREFIX = "reports"
ALERT_MARKER_PREFIX = "alert-markers"

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
BASELINE_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE)
REPORT_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE, VIOLATIONS_FILE)

CAPTURE_FILE_SUFFIX = ".jsonl"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
HOUR_FOLDER_FORMAT = "%Y/%m/%d/%H"
# Records of a file opened in hour H may carry times up to this long after H (one spare hour).
CAPTURE_FILE_SPAN = timedelta(hours=2)

SCHEDULE_SUFFIX = "-data-quality"
MODEL_QUALITY_SCHEDULE_SUFFIX = "-model-quality"
# Ground-truth labels: ground-truth/<endpoint>/yyyy/mm/dd/HH/<name>.jsonl (hour = when collected).
GROUND_TRUTH_PREFIX = "ground-truth"
MAX_NAME = 63  # SageMaker's limit for schedule and job names

_HOUR_PATH = r"(\d{4})/(\d{2})/(\d{2})/(\d{2})"
# .../{yyyy}/{mm}/{dd}/{HH}/{file}: the hour folder a capture file was opened in.
_HOUR_FOLDER = re.compile(_HOUR_PATH + r"/[^/]+$")
# .../{yyyy}/{mm}/{dd}/{HH}/{MM}-{SS}-{mmm}-{uuid}.jsonl: the moment it was opened.
_CAPTURE_NAME = re.compile(_HOUR_PATH + r"/(\d{2})-(\d{2})-(\d{3})-[0-9a-fA-F-]+\.jsonl$")
# A run's report folder, relative or absolute, ending in yyyy/mm/dd/HH.
_RUN_FOLDER = re.compile(r"(?:^|/)" + _HOUR_PATH + r"/?$")
# s3://bucket/[...]/<endpoint>/<schedule>/yyyy/mm/dd/HH[/]: a run's report folder in S3.
_REPORT_FOLDER = re.compile(r"^s3://[^/]+/(?:.*/)?(?P<endpoint>[^/]+)/(?P<schedule>[^/]+)/" + _HOUR_PATH + "/?$")


# --- times --------------------------------------------------------------------------------------


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO-8601 time (`2019-12-01T15:20:00Z`) in UTC; a time without zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise WindowError(f"{what} {text!r} is not an ISO-8601 time; write it like 2019-12-01T15:20:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def hour_folder(moment: datetime) -> str:
    """`yyyy/mm/dd/HH` of a moment (UTC)."""
    return moment.astimezone(UTC).strftime(HOUR_FOLDER_FORMAT)


def _hour(groups: tuple[str, ...]) -> datetime | None:
    try:
        return datetime(*map(int, groups), tzinfo=UTC)
    except ValueError:
        return None


# --- captures -----------------------------------------------------------------------------------


def capture_prefix(endpoint: str, variant: str) -> str:
    """The key prefix of one variant's capture files (with its final slash)."""
    return f"{CAPTURE_PREFIX}/{endpoint}/{variant}/"


def capture_file_key(endpoint: str, variant: str, opened: datetime, file_id: str) -> str:
    """`<endpoint>/<variant>/yyyy/mm/dd/HH/MM-SS-mmm-<file_id>.jsonl`, relative to the capture destination."""
    opened = opened.astimezone(UTC)
    name = f"{opened:%M-%S}-{opened.microsecond // 1000:03d}-{file_id}{CAPTURE_FILE_SUFFIX}"
    return f"{endpoint}/{variant}/{hour_folder(opened)}/{name}"


def capture_file_opened(key: str) -> datetime | None:
    """When a capture file was opened, from its key; None for a key not named like a capture file."""
    match = _CAPTURE_NAME.search(key.replace("\\", "/"))
    if not match:
        return None
    y, mo, d, h, mi, s, ms = (int(g) for g in match.groups())
    try:
        return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)
    except ValueError:
        return None


def capture_file_hour(key: str) -> datetime | None:
    """The hour folder a capture file sits in, from its key; None when the key has none."""
    match = _HOUR_FOLDER.search(key.replace("\\", "/"))
    return _hour(match.groups()) if match else None


@dataclass(frozen=True)
class Window:
    """The analysis window [start, end) on `eventMetadata.inferenceTime`; None = unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> Window:
        window = cls(
            parse_time(start, "start time") if start else None,
            parse_time(end, "end time") if end else None,
        )
        if window.start and window.end and window.start >= window.end:
            raise WindowError(f"start time {start} is not before end time {end}; swap or widen them")
        return window

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def may_hold(self, key: str) -> bool:
        """False only for a capture file in an hour folder that cannot hold records of the window."""
        opened = capture_file_hour(key)
        if opened is None or not self.bounded:
            return True
        return (self.end is None or opened < self.end) and (
            self.start is None or opened + CAPTURE_FILE_SPAN > self.start
        )

    def hours(self) -> list[datetime]:
        """The hour folders `may_hold` keeps, for a bounded window (to list them one by one)."""
        if self.start is None or self.end is None:
            raise WindowError("listing hour folders needs both a start and an end time")
        hour = (self.start - CAPTURE_FILE_SPAN + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        hours = []
        while hour < self.end:
            hours.append(hour)
            hour += timedelta(hours=1)
        return hours

    def describe(self) -> str:
        def text(moment: datetime | None) -> str:
            return moment.strftime(TIME_FORMAT) if moment else "any time"

        return f"{text(self.start)} to {text(self.end)}"


# --- window offsets -----------------------------------------------------------------------------

# Model Monitor's StartTimeOffset / EndTimeOffset: negative ISO-8601 durations; ours take whole hours.
_OFFSET = re.compile(r"^-P(?:(\d+)D)?(?:T(\d+)H)?$")


def offset_hours(text: str) -> int:
    """`-PT25H` -> -25, `-P1D` -> -24, `-P1DT1H` -> -25: a window offset in (negative) whole hours."""
    match = _OFFSET.match(text) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise WindowError(
            f"window offset {text!r}: use a negative ISO-8601 duration in whole hours or days, such as -PT1H or -P1D"
        )
    days, hours = (int(group or 0) for group in match.groups())
    return -(24 * days + hours)


def offset_text(hours: int) -> str:
    """The ISO-8601 form of a negative whole-hour offset (`-25` -> `-PT25H`)."""
    if hours >= 0:
        raise WindowError(f"window offset {hours} h: offsets are negative (hours before the scheduled time)")
    return f"-PT{-hours}H"


# --- reports and names --------------------------------------------------------------------------


def schedule_name(endpoint: str) -> str:
    """The monitoring schedule's name (both engines): `<endpoint>-data-quality`, within 63 characters."""
    return f"{endpoint[: MAX_NAME - len(SCHEDULE_SUFFIX)].rstrip('-')}{SCHEDULE_SUFFIX}"


def model_quality_schedule_name(endpoint: str) -> str:
    """The model-quality schedule's (and report folder's) name: `<endpoint>-model-quality`."""
    suffix = MODEL_QUALITY_SCHEDULE_SUFFIX
    return f"{endpoint[: MAX_NAME - len(suffix)].rstrip('-')}{suffix}"


def is_model_quality_schedule(name: str) -> bool:
    """Whether a schedule (or report folder) name is a model-quality one (`model_quality_schedule_name`)."""
    return name.endswith(MODEL_QUALITY_SCHEDULE_SUFFIX)


def ground_truth_prefix(endpoint: str) -> str:
    """The key prefix of an endpoint's label files (no final slash): `ground-truth/<endpoint>`."""
    return f"{GROUND_TRUTH_PREFIX}/{endpoint}"


def monitoring_job_prefix(schedule: str) -> str:
    """Every self-hosted run's job is `<prefix><yyyymmddHH>` of its scheduled hour: unique per hour,
    within 63 characters."""
    return f"{schedule[:52].rstrip('-')}-"


def monitoring_job_name(schedule: str, run_hour: datetime) -> str:
    return f"{monitoring_job_prefix(schedule)}{run_hour.astimezone(UTC):%Y%m%d%H}"


def report_prefix(endpoint: str, schedule: str) -> str:
    """The key prefix of a schedule's run folders (with its final slash)."""
    return f"{REPORTS_PREFIX}/{endpoint}/{schedule}/"


def run_hour(folder: str) -> datetime | None:
    """The hour of a run folder ending in yyyy/mm/dd/HH, else None (the run analysed the hour before)."""
    match = _RUN_FOLDER.search(folder)
    return _hour(match.groups()) if match else None


def report_folder_names(uri: str) -> tuple[str, str] | None:
    """(endpoint, schedule) of an `s3://.../<endpoint>/<schedule>/yyyy/mm/dd/HH/` folder, else None."""
    match = _REPORT_FOLDER.match(uri)
    return (match["endpoint"], match["schedule"]) if match else None


def alert_marker_prefix(endpoint: str) -> str:
    return f"{ALERT_MARKER_PREFIX}/{endpoint}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
