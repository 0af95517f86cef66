"""Read endpoint data-capture files (contract, section 1) into rows for the profiler.

Each capture record becomes one row: the endpointOutput fields first, then the endpointInput
fields, named positionally with the baseline's feature names. Consecutive files are read together
(about `GROUP_RECORDS` records: one `pyarrow.json` call, then one `pyarrow.csv` call over the rows'
text), in a background thread ahead of the profiler; the common case (CSV input and output,
second-precision times, no quotes or line breaks in the data) never loops over records in Python.
Every other record, and every record when a preprocessor script is configured, takes the
per-record path below; rows stay in file order and messages name the file and line either way.

Bad input never stops the run: a malformed line, an unknown encoding or an unreadable file is
counted and described (file and line) in `CaptureSummary.issues`, and the other records are kept.

Column-count decisions (the service's own behaviour is not documented):
- a row with fewer fields than the baseline has columns is padded with missing values (so the
  absent columns also show up in the completeness check); `CaptureSummary.field_counts` lets the
  monitor report a `missing_column_check`;
- fields beyond the baseline's column count are not analysed; they are reported as an
  `extra_column_check`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import importlib.util
import inspect
import io
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from analyzer.arrays import bool_array, index_array, string_array, string_scalar, to_numpy
from analyzer.datasets import prefetched

Row = list[str | None]  # one value per field; None or "" = missing

# Output first, then input (contract, section 6).
CAPTURE_PARTS = ("endpointOutput", "endpointInput")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_ISSUES = 200  # issues kept for the report; all are counted

# Only what the fast path reads: other fields are ignored (a record the fast path does not take is
# read again, whole, by the per-record path).
_PART = pa.struct([("data", pa.string()), ("encoding", pa.string())])
_CAPTURE_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _PART), ("endpointOutput", _PART)])),
        ("eventMetadata", pa.struct([("inferenceTime", pa.string())])),
    ]
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INPUT, _OUTPUT, _DATA, _ENCODING, _TIME = 0, 1, 0, 1, 0  # struct field positions in _CAPTURE_SCHEMA
_BOM = b"\xef\xbb\xbf"
# One literal each: a literal search runs at memchr speed, a character class byte by byte.
_QUOTE_OR_BREAK = [re.compile(re.escape(char)) for char in (b'"', b"\r", b"\n")]
GROUP_RECORDS = 1 << 14  # records of consecutive files parsed together: few, large pyarrow calls, bounded memory
JSON_BLOCK_BYTES = 1 << 22
CSV_BLOCK_BYTES = 1 << 22
PREFETCH_BATCHES = 2  # batches read ahead of the profiler (each about GROUP_RECORDS rows)
# Capture key layout: .../{yyyy}/{mm}/{dd}/{HH}/{MM}-{SS}-{mmm}-{uuid}.jsonl
_HOUR_FOLDER = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


class CaptureSourceError(ValueError):
    """The capture location cannot be listed or read at all."""


class WindowError(ValueError):
    """A start or end time cannot be read, or the window is empty."""


class PreprocessorError(ValueError):
    """The record preprocessor script cannot be loaded."""


class _RecordError(ValueError):
    """One record cannot be turned into rows; the message says why."""


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO-8601 time (`2019-12-01T15:20:00Z`); a time without zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise WindowError(f"{what} {text!r} is not an ISO-8601 time; write it like 2019-12-01T15:20:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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

    def may_hold(self, path: str) -> bool:
        """False only for files in an hour folder that cannot hold records of the window.

        A file sits in the folder of the hour it was opened and is rolled about every minute,
        so its records may run into the next hour: keep one spare hour.
        """
        match = _HOUR_FOLDER.search(path.replace(os.sep, "/"))
        if not match or not self.bounded:
            return True
        try:
            opened = datetime(*map(int, match.groups()), tzinfo=UTC)
        except ValueError:
            return True
        return (self.end is None or opened < self.end) and (
            self.start is None or opened + timedelta(hours=2) > self.start
        )

    def describe(self) -> str:
        def text(moment: datetime | None) -> str:
            return moment.strftime(TIME_FORMAT) if moment else "any time"

        return f"{text(self.start)} to {text(self.end)}"


@dataclass(frozen=True)
class Issue:
    location: str  # "path:line" or "path"
    problem: str

    def __str__(self) -> str:
        return f"{self.location}: {self.problem}"


@dataclass
class CaptureSummary:
    """What reading the captures found; filled in while batches are consumed."""

    files: int = 0
    records: int = 0  # capture records read, inside the window or not
    in_window: int = 0
    rows: int = 0
    dropped: int = 0  # records the preprocessor asked to drop
    bad_records: int = 0
    unreadable_files: int = 0
    field_counts: Counter = field(default_factory=Counter)  # rows per number of fields
    first_row_with: dict[int, str] = field(default_factory=dict)  # field count -> where first seen
    issues: list[Issue] = field(default_factory=list)

    def report(self, location: str, problem: str, record: bool = True) -> None:
        if record:
            self.bad_records += 1
        else:
            self.unreadable_files += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(Issue(location, problem))

    def count_fields(self, lengths: np.ndarray, location: Callable[[int], str]) -> None:
        values, first_index, counts = np.unique(lengths, return_index=True, return_counts=True)
        for value, first, count in zip(values.tolist(), first_index.tolist(), counts.tolist(), strict=True):
            self.field_counts[value] += count
            self.first_row_with.setdefault(value, location(first))
        self.rows += int(len(lengths))


# --- preprocessor scripts (contract, section 9) -------------------------------------------------


@dataclass(frozen=True)
class CapturePart:
    data: str | None
    encoding: str | None
    observedContentType: str | None  # the service's attribute name
    mode: str | None


@dataclass(frozen=True)
class EventMetadata:
    event_id: str | None
    event_time: str | None
    # Inferred: the service's name for the caller's CustomAttributes in the capture record.
    custom_attribute: str | None


@dataclass(frozen=True)
class InferenceRecord:
    endpoint_input: CapturePart | None
    endpoint_output: CapturePart | None
    event_metadata: EventMetadata
    event_version: str | None
    event_dict: dict


def inference_record(record: dict) -> InferenceRecord:
    capture = record.get("captureData") or {}
    meta = record.get("eventMetadata") or {}

    def part(name: str) -> CapturePart | None:
        raw = capture.get(name)
        if not isinstance(raw, dict):
            return None
        return CapturePart(raw.get("data"), raw.get("encoding"), raw.get("observedContentType"), raw.get("mode"))

    return InferenceRecord(
        endpoint_input=part("endpointInput"),
        endpoint_output=part("endpointOutput"),
        event_metadata=EventMetadata(meta.get("eventId"), meta.get("inferenceTime"), meta.get("customAttributes")),
        event_version=record.get("eventVersion"),
        event_dict=record,
    )


def load_handler(path: str, name: str, signature: str) -> Callable:
    """Import `name` from the script at `path`; PreprocessorError says what to fix."""
    spec = importlib.util.spec_from_file_location(f"user_script_{name}", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise PreprocessorError(f"{path}: script not found; pass the path of a .py file defining {signature}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module may raise anything at import time
        raise PreprocessorError(f"{path}: cannot import the script ({type(exc).__name__}: {exc})") from None
    handler = getattr(module, name, None)
    if not callable(handler):
        raise PreprocessorError(f"{path}: defines no function {signature}")
    return handler


def load_preprocessor(path: str) -> Callable[[InferenceRecord], object]:
    """`preprocess_handler(inference_record)` or `preprocess_handler(inference_record, logger)`."""
    handler = load_handler(path, "preprocess_handler", "preprocess_handler(inference_record)")
    try:
        positional = [
            p
            for p in inspect.signature(handler).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        positional = []
    if len(positional) >= 2:
        logger = logging.getLogger("record_preprocessor")
        return lambda record: handler(record, logger)
    return handler


def _text(value: object, key: object) -> str | None:
    """A preprocessor or JSON value as the text the profiler reads."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        raise _RecordError(
            f"value of {key!r} is a {type(value).__name__}; rows must be flat: "
            "flatten nested values in a preprocess_handler"
        )
    return str(value)


def _dict_row(item: dict) -> Row:
    # Keys sorted define the column order (contract, section 9).
    return [_text(item[key], key) for key in sorted(item, key=str)]


def _handler_rows(result: object) -> list[Row]:
    items = result if isinstance(result, list) else [result]
    if not all(isinstance(item, dict) for item in items):
        raise _RecordError(
            f"preprocess_handler returned {type(result).__name__}; "
            "return a flat dict (one row) or [] to drop the record"
        )
    return [_dict_row(item) for item in items]


# --- decoding one record ------------------------------------------------------------------------


def _content_kind(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if "json" in media:
        return "JSON"
    if "csv" in media or media == "text/plain":
        return "CSV"
    raise _RecordError(
        f"BASE64 data of content type {content_type!r} cannot be read; "
        "add the type to the capture's CsvContentTypes/JsonContentTypes or use a preprocess_handler"
    )


def _csv_rows(text: str) -> list[Row]:
    lines = text.rstrip("\r\n").split("\n")
    return [next(csv.reader([line.rstrip("\r")]), []) for line in lines]


def _json_rows(text: str, name: str) -> list[Row]:
    try:
        # Numbers keep their text so the profiler sees exactly what was sent.
        value = json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as exc:
        raise _RecordError(f"{name}.data is not valid JSON ({exc.msg} at column {exc.colno})") from None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise _RecordError(
            f"{name}.data must be a flat JSON object (or a list of them); use a preprocess_handler for other shapes"
        )
    return [_dict_row(item) for item in items]


def _part_rows(part: object, name: str) -> list[Row]:
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise _RecordError(f"captureData.{name} has no 'data' string")
    encoding, data = part.get("encoding"), part["data"]
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _RecordError(f"{name}.data is not base64-encoded UTF-8 text ({exc})") from None
        encoding = _content_kind(part.get("observedContentType"))
    if encoding == "CSV":
        return _csv_rows(data)
    if encoding == "JSON":
        return _json_rows(data, name)
    raise _RecordError(f"{name}.encoding {encoding!r} is unknown; expected CSV, JSON or BASE64")


def record_rows(record: dict) -> list[Row]:
    """The rows of one capture record: output fields, then input fields."""
    capture = record.get("captureData")
    if not isinstance(capture, dict):
        raise _RecordError("no 'captureData' object; is this a data-capture file?")
    decoded = [_part_rows(capture[name], name) for name in CAPTURE_PARTS if capture.get(name) is not None]
    if not decoded:
        raise _RecordError("captureData has neither endpointInput nor endpointOutput")
    if len({len(rows) for rows in decoded}) > 1:
        counts = " and ".join(f"{len(rows)}" for rows in decoded)
        raise _RecordError(f"output and input hold {counts} rows: they cannot be paired; send one row per request")
    return [[value for rows in parts for value in rows] for parts in zip(*decoded, strict=True)]


def _event_time(record: dict) -> datetime:
    meta = record.get("eventMetadata")
    text = meta.get("inferenceTime") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise _RecordError("no eventMetadata.inferenceTime, so the record cannot be placed in the window")
    try:
        return parse_time(text, "eventMetadata.inferenceTime")
    except WindowError as exc:
        raise _RecordError(str(exc)) from None


# --- files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureFile:
    name: str  # shown in messages: a local path or s3://bucket/key
    read: Callable[[], bytes]


def _local_files(root: str, window: Window) -> Iterator[CaptureFile]:
    if os.path.isfile(root):
        yield CaptureFile(root, lambda: _read_local(root))
        return
    if not os.path.isdir(root):
        raise CaptureSourceError(
            f"capture folder {root} does not exist; pass the folder holding the endpoint's capture "
            "files (…/{endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl) or an s3:// prefix"
        )
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            if not name.startswith(".") and window.may_hold(os.path.relpath(path, root)):
                yield CaptureFile(path, lambda path=path: _read_local(path))


def _read_local(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _s3_files(uri: str, window: Window) -> Iterator[CaptureFile]:
    import boto3  # only needed for S3 sources
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, prefix = uri[len("s3://") :].partition("/")
    # boto3 honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_S3) by itself.
    client = boto3.client("s3")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or not window.may_hold(key[len(prefix) :]):
                    continue
                yield CaptureFile(
                    f"s3://{bucket}/{key}",
                    lambda key=key: client.get_object(Bucket=bucket, Key=key)["Body"].read(),
                )
    except (BotoCoreError, ClientError) as exc:
        raise CaptureSourceError(
            f"cannot list {uri}: {exc}; check the bucket name, your AWS credentials and region "
            "(and AWS_ENDPOINT_URL when using a local S3)"
        ) from None


def capture_files(source: str, window: Window) -> Iterator[CaptureFile]:
    """Every capture file under a local folder (or a single file) or an s3:// prefix, sorted."""
    if source.startswith("s3://"):
        return _s3_files(source, window)
    return _local_files(source, window)


# --- reader -----------------------------------------------------------------------------------


def _record_lines(content: bytes) -> tuple[np.ndarray, bool]:
    """1-based line numbers of a file's records (its non-blank lines), and whether every line is one.

    The usual file has a JSON object on every line: that is checked without a loop per line.
    """
    text = np.frombuffer(content, dtype=np.uint8)
    breaks = text == ord("\n")
    inner = np.count_nonzero(breaks) - content.endswith(b"\n")  # line breaks followed by a line
    # Counted, not located: counting runs at memory speed, locating does not.
    if content.startswith(b"{") and np.count_nonzero(breaks[:-1] & (text[1:] == ord("{"))) == inner:
        return np.arange(1, inner + 2), True
    numbers = [i + 1 for i, line in enumerate(content.split(b"\n")) if line.strip()]
    return np.array(numbers, dtype=np.int64), False


def _simple_strings(content: bytes) -> bool:
    """Whether no JSON string of the file can hold a quote or a carriage return, nor a line feed
    but as its last character: no raw carriage return, and every backslash starts a `\\n"`
    (JSON escapes quotes and control characters; pyarrow rejects raw ones inside strings). Then
    the capture `data` values need no per-value scan (`_plain_text`)."""
    if b"\r" in content:
        return False
    text = np.frombuffer(content, dtype=np.uint8)
    escapes = text == ord("\\")
    count = np.count_nonzero(escapes)
    if not count:
        return True
    line_feeds = escapes[:-2] & (text[1:-1] == ord("n")) & (text[2:] == ord('"'))
    return bool(np.count_nonzero(line_feeds) == count)


@dataclass
class _Files:
    """Consecutive capture files whose records are read together, in file order."""

    names: list[str] = field(default_factory=list)
    contents: list[bytes] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)  # per file: the line number of each record
    records: int = 0
    simple_strings: bool = True  # `_simple_strings` holds for every file

    def add(self, name: str, content: bytes, lines: np.ndarray) -> None:
        self.names.append(name)
        self.contents.append(content)
        self.lines.append(lines)
        self.records += len(lines)
        self.simple_strings = self.simple_strings and _simple_strings(content)

    def each(self) -> Iterator[_Files]:
        for name, content, lines in zip(self.names, self.contents, self.lines, strict=True):
            one = _Files()
            one.add(name, content, lines)
            yield one


def _read_table(files: _Files) -> pa.Table | None:
    """The files' records as one table, or None when some line is unusual (read record by record)."""
    content = b"".join(part if part.endswith(b"\n") else part + b"\n" for part in files.contents if part)
    try:
        table = pa_json.read_json(
            io.BytesIO(content),
            read_options=pa_json.ReadOptions(block_size=JSON_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(explicit_schema=_CAPTURE_SCHEMA, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if len(table) == files.records else None


def _equals(values: pa.Array, text: str) -> np.ndarray:
    """`values == text` as a numpy mask (False for nulls), compared once per distinct value."""
    if not values.null_count and _all_equal(values, text.encode()):
        return np.ones(len(values), dtype=bool)
    encoded = pc.dictionary_encode(values)
    matches = np.append(to_numpy(pc.equal(encoded.dictionary, string_scalar(text)), null_value=False), False)
    return matches[to_numpy(encoded.indices, null_value=len(matches) - 1)]


def _all_equal(values: pa.Array, text: bytes) -> bool:
    """Whether every value of a string array without nulls is `text` (two buffer comparisons)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=4 * values.offset)
    if not len(values) or not (np.diff(offsets) == len(text)).all():
        return False
    data = values.buffers()[2].slice(int(offsets[0]), len(text) * len(values))
    return data.equals(pa.py_buffer(text * len(values)))


def _any_ends_in_line_feed(data: pa.Array) -> bool:
    offsets = np.frombuffer(data.buffers()[1], dtype=np.int32, count=len(data) + 1, offset=4 * data.offset)
    ends = offsets[1:][np.diff(offsets) > 0] - 1
    return bool(len(ends)) and bool((np.frombuffer(data.buffers()[2], dtype=np.uint8)[ends] == ord("\n")).any())


def _quote_or_break(data: pa.Array) -> bool:
    """Whether any value may hold a quote or a line break (one scan of the whole text buffer)."""
    text = data.buffers()[2]
    return text is not None and any(pattern.search(memoryview(text)) for pattern in _QUOTE_OR_BREAK)


def _plain_text(data: pa.Array, simple_strings: bool) -> tuple[pa.Array, np.ndarray]:
    """`data` without trailing line breaks, and which values are present and hold no quote or line
    break (commas then separate the fields). Usually settled by buffer scans, not per value; with
    `simple_strings` (see `_simple_strings`) by the last byte of each value."""
    if simple_strings:
        if _any_ends_in_line_feed(data):
            data = pc.utf8_rtrim(data, characters="\n")
        return data, ~to_numpy(pc.is_null(data))
    if _quote_or_break(data):
        data = pc.utf8_rtrim(data, characters="\r\n")
    present = ~to_numpy(pc.is_null(data))
    if not _quote_or_break(data):
        return data, present
    quoted = to_numpy(pc.match_substring_regex(data, r'["\r\n]'), null_value=True)
    return data, present & ~quoted


def _epoch_seconds(moment: datetime) -> int:
    # Whole seconds, rounded down (as a second-precision pyarrow timestamp of `moment`).
    return (moment - _EPOCH) // timedelta(seconds=1)


def _fast_candidates(table: pa.Table, window: Window, simple_strings: bool) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Which records pyarrow can turn into rows directly, which are settled (outside the window,
    no rows), and every record's row text (output fields, then input fields) ending in a newline."""
    capture = table.column("captureData").combine_chunks()
    out_part, in_part = pc.struct_field(capture, [_OUTPUT]), pc.struct_field(capture, [_INPUT])
    out_data, out_plain = _plain_text(pc.struct_field(out_part, [_DATA]), simple_strings)
    in_data, in_plain = _plain_text(pc.struct_field(in_part, [_DATA]), simple_strings)
    no_output = to_numpy(pc.is_null(out_part))
    ok = in_plain & _equals(pc.struct_field(in_part, [_ENCODING]), "CSV")
    ok &= no_output | (out_plain & _equals(pc.struct_field(out_part, [_ENCODING]), "CSV"))
    outside = np.zeros(len(table), dtype=bool)
    if window.bounded:
        times = pc.strptime(
            pc.struct_field(table.column("eventMetadata").combine_chunks(), [_TIME]),
            format=TIME_FORMAT,
            unit="s",
            error_is_null=True,
        )
        inside = ~to_numpy(pc.is_null(times))
        ok &= inside
        seconds = to_numpy(times.cast(pa.int64()), null_value=0)
        if window.start:
            inside &= seconds >= _epoch_seconds(window.start)
        if window.end:
            inside &= seconds < _epoch_seconds(window.end)
        # Records outside the window are settled here: "handled, no rows".
        outside = ~inside
    comma, newline, nothing = (string_scalar(text) for text in (",", "\n", ""))
    lines = pc.binary_join_element_wise(out_data, comma, in_data, newline, nothing)
    if no_output.any():
        lines = pc.if_else(bool_array(no_output), pc.binary_join_element_wise(in_data, newline, nothing), lines)
    return ok & ~outside, ok & outside, lines


def _columns_from_split(lines: pa.Array, width: int) -> list[pa.Array]:
    """Split newline-terminated rows on commas into `width` string columns (missing beyond a row's end)."""
    fields = pc.split_pattern(pc.utf8_rtrim(lines, characters="\n"), ",")
    lengths = to_numpy(pc.list_value_length(fields))
    starts = to_numpy(fields.offsets)[:-1]
    values = fields.flatten()
    columns = []
    for j in range(width):
        present = lengths > j
        columns.append(values.take(index_array(np.where(present, starts + j, 0), valid=present)))
    return columns


def _columns_from_csv(lines: pa.Array, width: int) -> list[pa.Array] | None:
    """`width` string columns of newline-terminated rows without quotes or line breaks, parsed by
    one `pyarrow.csv` call; None when some row does not hold `width` fields. (Plain strings: the
    profiler dictionary-encodes a whole flush at once, cheaper than per-block dictionaries.)"""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=4 * lines.offset)
    text = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    if text.slice(0, len(_BOM)).to_pybytes() == _BOM:
        return None  # pyarrow would drop a leading byte-order mark
    names = [f"c{j}" for j in range(width)]
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(text),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except pa.ArrowInvalid:
        return None
    if len(table) != len(lines):
        return None
    return [column.combine_chunks() for column in table.columns]


def _fast_rows(lines: pa.Array, width: int) -> tuple[list[tuple[np.ndarray, list[pa.Array]]], np.ndarray]:
    """(positions, columns) parts of plain-CSV rows, and each row's number of fields.

    Rows with the baseline's number of fields (the usual case) go through the CSV parser; the others
    are split one by one (padded or cut to `width`).
    """
    columns = _columns_from_csv(lines, width)
    if columns is not None:
        return [(np.arange(len(lines)), columns)], np.full(len(lines), width)
    lengths = to_numpy(pc.count_substring(lines, ",")) + 1
    whole = lengths == width
    parts = []
    if whole.any():
        columns = _columns_from_csv(lines.filter(bool_array(whole)), width)
        if columns is not None:
            parts.append((np.flatnonzero(whole), columns))
            lines = lines.filter(bool_array(~whole))
        else:
            whole[:] = False
    if len(lines):
        parts.append((np.flatnonzero(~whole), _columns_from_split(lines, width)))
    return parts, lengths


def _columns_from_rows(rows: Sequence[Row], width: int) -> list[pa.Array]:
    return [string_array([row[j] if j < len(row) else None for row in rows]) for j in range(width)]


def _in_order(parts: list[tuple[np.ndarray, list[pa.Array]]], width: int) -> list[pa.Array]:
    """The parts' rows merged by position (positions may repeat: those rows keep their order)."""
    if len(parts) == 1:
        return parts[0][1]
    permutation = index_array(np.argsort(np.concatenate([positions for positions, _ in parts]), kind="stable"))
    return [pa.concat_arrays([columns[j] for _, columns in parts]).take(permutation) for j in range(width)]


class CaptureReader:
    """Streams capture rows as profiler batches (lists of `width` string arrays), in file order."""

    def __init__(
        self,
        source: str,
        width: int,
        window: Window | None = None,
        preprocessor: Callable[[InferenceRecord], object] | None = None,
    ):
        self.source = source
        self.width = width
        self.window = window or Window()
        self.preprocessor = preprocessor
        self.summary = CaptureSummary()

    def batches(self) -> Iterator[list[pa.Array]]:
        """Batches of rows; reading runs ahead in a thread (pyarrow parses without the GIL) unless a
        preprocessor script is configured, which then runs in the caller's thread."""
        batches = self._batches()
        return prefetched(batches, PREFETCH_BATCHES) if self.preprocessor is None else batches

    def _batches(self) -> Iterator[list[pa.Array]]:
        pending = _Files()
        for capture_file in capture_files(self.source, self.window):
            try:
                content = capture_file.read()
            except Exception as exc:  # OSError locally, botocore errors on S3
                yield from self._flush(pending)  # issues stay in file order
                pending = _Files()
                self.summary.report(
                    capture_file.name, f"cannot read the file ({exc}); check its permissions", record=False
                )
                continue
            self.summary.files += 1
            lines, regular = _record_lines(content)
            self.summary.records += len(lines)
            if not regular:
                # Blank or odd lines: this file alone, as the line count cannot vouch for its records.
                yield from self._flush(pending)
                pending = _Files()
            pending.add(capture_file.name, content, lines)
            if not regular or pending.records >= GROUP_RECORDS:
                yield from self._flush(pending)
                pending = _Files()
        yield from self._flush(pending)

    def _flush(self, files: _Files) -> Iterator[list[pa.Array]]:
        if not files.names:
            return
        table = _read_table(files) if self.preprocessor is None and files.records else None
        if table is None and len(files.names) > 1:
            # Some file is unusual: read each on its own, so the others keep the fast path.
            for one in files.each():
                yield from self._flush(one)
            return
        batch = self._batch(files, table)
        if batch is not None:
            yield batch

    def _batch(self, files: _Files, table: pa.Table | None) -> list[pa.Array] | None:
        file_of = np.repeat(np.arange(len(files.names)), [len(lines) for lines in files.lines])
        line_of = np.concatenate(files.lines)

        def location(index: int) -> str:
            return f"{files.names[file_of[index]]}:{line_of[index]}"

        parts: list[tuple[np.ndarray, list[pa.Array]]] = []
        fast_index, fast_lengths = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        slow = np.arange(files.records)
        if table is not None and len(table):
            fast, settled, lines = _fast_candidates(table, self.window, files.simple_strings)
            fast_index = np.flatnonzero(fast)
            if len(fast_index):
                fast_lines = lines if fast.all() else lines.filter(bool_array(fast))
                fast_parts, fast_lengths = _fast_rows(fast_lines, self.width)
                parts.extend((fast_index[positions], columns) for positions, columns in fast_parts)
            self.summary.in_window += len(fast_index)
            slow = np.flatnonzero(~(fast | settled))
        rows, row_records = self._slow_rows(files, slow, file_of, line_of, location)
        if rows:
            parts.append((np.array(row_records), _columns_from_rows(rows, self.width)))
        self._count_fields(
            np.concatenate([fast_lengths, [len(row) for row in rows]]).astype(np.int64),
            np.concatenate([fast_index, row_records]).astype(np.int64),
            np.concatenate([np.zeros(len(fast_index), dtype=np.int64), np.ones(len(rows), dtype=np.int64)]),
            file_of,
            location,
        )
        # Rows stay in file order: the profile's sketches depend on arrival order.
        return _in_order(parts, self.width) if parts else None

    def _slow_rows(
        self, files: _Files, slow: np.ndarray, file_of: np.ndarray, line_of: np.ndarray, location
    ) -> tuple[list[Row], list[int]]:
        """Rows of the records the fast path could not take, one record at a time, and their records."""
        rows: list[Row] = []
        row_records: list[int] = []
        split: dict[int, list[bytes]] = {}
        for index in slow.tolist():
            number = int(file_of[index])
            if number not in split:
                split[number] = files.contents[number].split(b"\n")
            try:
                record_rows = self._record(split[number][line_of[index] - 1])
            except _RecordError as exc:
                self.summary.report(location(index), str(exc))
                continue
            rows.extend(record_rows)
            row_records.extend([index] * len(record_rows))
        return rows, row_records

    def _count_fields(
        self, lengths: np.ndarray, records: np.ndarray, slow: np.ndarray, file_of: np.ndarray, location
    ) -> None:
        # Where a field count is first seen is judged file by file, the fast rows of a file before
        # its slow ones (as when every file was read on its own).
        order = np.argsort(file_of[records] * 2 + slow, kind="stable")
        self.summary.count_fields(lengths[order], lambda i: location(records[order[i]]))

    def _record(self, line: bytes) -> list[Row]:
        """Rows of one record line inside the window ([] when outside or dropped)."""
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _RecordError(f"not a JSON object ({exc}); the file may be truncated or not a capture file") from None
        if not isinstance(record, dict):
            raise _RecordError("not a JSON object; is this a data-capture file?")
        if self.window.bounded and not self.window.contains(_event_time(record)):
            return []
        self.summary.in_window += 1
        if self.preprocessor is None:
            return record_rows(record)
        try:
            result = self.preprocessor(inference_record(record))
        except Exception as exc:  # the user's handler may raise anything
            raise _RecordError(f"preprocess_handler raised {type(exc).__name__}: {exc}") from None
        rows = _handler_rows(result)
        if not rows:
            self.summary.dropped += 1
        return rows
