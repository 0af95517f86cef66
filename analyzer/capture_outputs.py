"""The endpoint's predictions in capture files, for the model-quality merge.

Per capture file (listed by `analyzer.capture_sources`, kept when its hour folder may hold records of
the window): one `pyarrow.json.read_json` call with only the fields the merge needs, then column
operations: the join key (`contract.ground_truth.join_key`: inferenceId, else eventId), the window
on inferenceTime, and the probability and inference attributes taken from the endpoint's output.
CSV output (the common case, no loop per record): the attribute is a field index, `"0"` being the
first field. JSON output: the attribute is a path of keys and list indexes (`predictions.0.score`);
BASE64 output is decoded and read as CSV; those records are read one by one.

Bad input: a file whose lines pyarrow cannot read (a malformed line, a bad byte) is read line by
line; every unusable record becomes an `Issue` naming file:line and the problem (malformed JSON,
no join key, no output, no such field, a probability that is no number or outside [0, 1]); the
other records are kept.
"""

from __future__ import annotations

import base64
import io
import json
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from analyzer.arrays import bool_array, index_array, string_array, string_scalar, to_numpy
from analyzer.capture_fast_path import record_lines
from analyzer.capture_sources import capture_files, read_problem
from analyzer.captures import Issue
from contract.layout import Window, capture_file_hour, hour_folder, parse_time
from contract.model_quality import BINARY

_STRING = pa.string()
_SCHEMA = pa.schema([
    ("captureData", pa.struct([("endpointOutput", pa.struct([("data", _STRING), ("encoding", _STRING)]))])),
    ("eventMetadata", pa.struct([("eventId", _STRING), ("inferenceId", _STRING), ("inferenceTime", _STRING)])),
])  # fmt: skip
COLUMNS = ("data", "encoding", "event_id", "inference_id", "inference_time")
# What the merge keeps of a record: the join key, the prediction, and the merged record's fields.
KEPT = ("key", "score", "inference", *COLUMNS)
UNKNOWN_HOUR = "unknown-hour"  # the merge folder of records from a file outside any hour folder


@dataclass(frozen=True)
class Attributes:
    """Where the prediction is in the endpoint's output (`EndpointInput`'s attributes)."""

    probability: str | None = None
    inference: str | None = None
    problem_type: str = BINARY

    @property
    def binary(self) -> bool:  # probabilities must lie in [0, 1]
        return self.problem_type == BINARY

    def named(self) -> dict[str, str]:
        return {
            name: value for name, value in (("probability", self.probability), ("inference", self.inference)) if value
        }


@dataclass
class OutputChunk:
    """One capture file's usable records of the window (`table`: key, line, the attributes' texts
    as `probability`/`inference`, `score` (float, when a probability attribute is given) and the
    columns a merged record keeps) and its problems."""

    file: str
    hour: str
    table: pa.Table
    issues: list[Issue] = field(default_factory=list)
    records: int = 0  # records read from the file, inside the window or not


def _flat(table: pa.Table) -> pa.Table:
    table = table.flatten().flatten()
    names = ("captureData.endpointOutput.data", "captureData.endpointOutput.encoding", "eventMetadata.eventId",
             "eventMetadata.inferenceId", "eventMetadata.inferenceTime")  # fmt: skip
    return pa.table([table.column(name) for name in names], names=list(COLUMNS))


def read_records(content: bytes, schema: pa.Schema) -> pa.Table | None:
    """A file's JSON lines in one pyarrow call, only `schema`'s fields; None when some line or byte
    is not as pyarrow reads it (the caller then reads line by line and names the bad ones)."""
    try:
        content.decode("utf-8")  # pyarrow's reader does not check it
        return pa_json.read_json(
            io.BytesIO(content),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (UnicodeDecodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def float_array(values: np.ndarray) -> pa.Array:
    """A pyarrow float64 array of numpy floats, from its buffer (`pa.array` would import pandas)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    return pa.Array.from_buffers(pa.float64(), len(values), [None, pa.py_buffer(values)])


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _read_lines(name: str, content: bytes, issues: list[Issue]) -> tuple[pa.Table, np.ndarray]:
    """The per-line fallback: each line parsed alone; a bad one becomes an issue."""
    rows, lines = [], []
    for number, line in enumerate(content.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as exc:
            issues.append(Issue(f"{name}:{number}", f"not a capture record ({exc})"))
            continue
        output = (record.get("captureData") or {}).get("endpointOutput") or {}
        metadata = record.get("eventMetadata") or {}
        output, metadata = (part if isinstance(part, dict) else {} for part in (output, metadata))
        rows.append((_text(output.get("data")), _text(output.get("encoding")), _text(metadata.get("eventId")),
                     _text(metadata.get("inferenceId")), _text(metadata.get("inferenceTime"))))  # fmt: skip
        lines.append(number)
    columns = [string_array([row[i] for row in rows]) for i in range(len(COLUMNS))]
    return pa.table(columns, names=list(COLUMNS)), np.array(lines, dtype=np.int64)


def _issues_at(mask: np.ndarray, table: pa.Table, name: str, problem) -> list[Issue]:
    """Issues for the rows of `mask` (few: only the bad ones are looked at one by one)."""
    if not mask.any():
        return []
    rows = np.flatnonzero(mask)
    lines = table.column("line").take(index_array(rows)).to_pylist()
    return [Issue(f"{name}:{line}", problem(int(row))) for row, line in zip(rows, lines, strict=True)]


def _kept(values: pa.Table | pa.Array, keep: np.ndarray):
    """The rows of `keep` (no copy when that is all of them: the usual case)."""
    return values if keep.all() else values.filter(bool_array(keep))


def _in_window(table: pa.Table, window: Window) -> np.ndarray:
    """Rows whose inferenceTime lies in the window; an unreadable time is outside (and reported)."""
    times = table.column("inference_time")
    seconds = pc.strptime(times, format="%Y-%m-%dT%H:%M:%SZ", unit="s", error_is_null=True)
    keep = np.zeros(len(table), dtype=bool)
    parsed = to_numpy(pc.is_valid(seconds))
    stamps = to_numpy(pc.cast(seconds, pa.int64()), null_value=0)
    low = -(2**62) if window.start is None else int(window.start.timestamp())
    high = 2**62 if window.end is None else int(window.end.timestamp())
    keep[parsed] = (stamps[parsed] >= low) & (stamps[parsed] < high)
    for row in np.flatnonzero(~parsed & to_numpy(times.is_valid())):
        try:
            keep[row] = window.contains(parse_time(times[int(row)].as_py()))
        except ValueError:
            keep[row] = False
    return keep


def _json_field(text: str, path: str) -> object:
    value = json.loads(text)
    for step in path.split("."):
        value = value[int(step)] if isinstance(value, list) else value[step]
    return value


def _one_value(data: str, encoding: str | None, attribute: str) -> str:
    """The attribute of one non-CSV output (KeyError/IndexError/ValueError when absent)."""
    if encoding == "JSON":
        value = _json_field(data, attribute)
        if isinstance(value, (dict, list)):
            raise ValueError(f"field {attribute!r} is not a single value")
        return str(value)
    if encoding == "BASE64":
        data = base64.b64decode(data, validate=True).decode("utf-8")
    return data.strip().split(",")[int(attribute)].strip()


def _attribute(table: pa.Table, attribute: str, name: str, issues: list[Issue]) -> pa.Array:
    """The attribute's text per row (null where the output lacks it: an issue each)."""
    data, encoding = table.column("data"), table.column("encoding")
    fast = to_numpy(pc.equal(encoding, string_scalar("CSV")), null_value=True) & attribute.isdigit()
    values = np.full(len(table), None, dtype=object)
    if fast.any():
        rows = np.flatnonzero(fast)
        texts = data if len(rows) == len(table) else data.take(index_array(rows))
        fields = pc.split_pattern(pc.utf8_rtrim(texts, characters="\r\n"), ",")
        has = to_numpy(pc.list_value_length(fields), null_value=0) > int(attribute)
        position = index_array(np.array([int(attribute)]))[0]
        picked = pc.utf8_trim_whitespace(pc.list_element(_kept(fields, has), position))
        if fast.all() and has.all():  # the common case: no Python per record
            return picked.combine_chunks() if isinstance(picked, pa.ChunkedArray) else picked
        values[rows[has]] = picked.to_pylist()
        missing = np.zeros(len(table), dtype=bool)
        missing[rows[~has]] = True
        problem = f"has no field {attribute} (CSV fields count from 0)"
        issues.extend(_issues_at(missing, table, name, lambda r: f"the endpoint output {data[r].as_py()!r} {problem}"))
    for row in np.flatnonzero(~fast).tolist():
        try:
            values[row] = _one_value(data[row].as_py(), encoding[row].as_py(), attribute)
        except (KeyError, IndexError, ValueError, TypeError, UnicodeDecodeError) as exc:
            line = table.column("line")[row].as_py()
            issues.append(Issue(f"{name}:{line}", f"the endpoint output has no attribute {attribute!r} ({exc!r})"))
    return string_array(values.tolist())


def _scores(values: pa.Array, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Floats of the texts, and which are usable probabilities."""
    numbers = np.full(len(values), np.nan)
    valid = to_numpy(values.is_valid())
    try:
        numbers[valid] = to_numpy(pc.cast(_kept(values, valid), pa.float64()))
    except pa.ArrowInvalid:
        for row in np.flatnonzero(valid).tolist():
            try:
                numbers[row] = float(values[row].as_py())
            except ValueError:
                numbers[row] = np.nan
    good = np.isfinite(numbers) & ((numbers >= 0.0) & (numbers <= 1.0) if binary else True)
    return numbers, good


def _score_problem(values: pa.Array, attribute: str, binary: bool):
    def problem(row: int) -> str:
        text = values[row].as_py()
        try:
            float(text)
        except ValueError:
            return f"probability attribute {attribute} is {text!r}, not a number"
        return f"probability attribute {attribute} is {text}, outside [0, 1]" if binary else f"{text} is not finite"

    return problem


def _usable(name: str, table: pa.Table, attributes: Attributes, issues: list[Issue]) -> pa.Table:
    """The rows with a join key and every attribute usable; the others become issues."""
    ids = table.column("inference_id")
    # Without any inferenceId the key is the eventId column itself (no copy).
    keys = table.column("event_id") if ids.null_count == len(ids) else pc.coalesce(ids, table.column("event_id"))
    no_key = to_numpy(keys.is_null())
    issues.extend(_issues_at(no_key, table, name, lambda _r: "no eventMetadata.eventId nor inferenceId to join on"))
    no_data = ~no_key & to_numpy(table.column("data").is_null())
    issues.extend(_issues_at(no_data, table, name, lambda _r: "no captureData.endpointOutput.data"))
    table = _kept(table.append_column("key", keys), ~no_key & ~no_data)
    for role, attribute in attributes.named().items():
        values = _attribute(table, attribute, name, issues)
        keep = to_numpy(values.is_valid())
        table = table.append_column(role, values)
        if role == "probability":
            numbers, good = _scores(values, attributes.binary)
            issues.extend(_issues_at(keep & ~good, table, name, _score_problem(values, attribute, attributes.binary)))
            keep &= good
            table = table.append_column("score", float_array(numbers))
        table = _kept(table, keep)
    return table


def read_file(name: str, content: bytes, window: Window, attributes: Attributes) -> OutputChunk:
    """One capture file's usable records of the window."""
    issues: list[Issue] = []
    lines, regular = record_lines(content)
    table = read_records(content, _SCHEMA) if regular and len(lines) else None
    table = None if table is None else _flat(table)
    if table is None or len(table) != len(lines):
        table, lines = _read_lines(name, content, issues)
    records = len(table)
    table = table.append_column("line", index_array(lines))
    if window.bounded:
        table = _kept(table, _in_window(table, window))
    hour = capture_file_hour(name)
    chunk = OutputChunk(name, hour_folder(hour) if hour else UNKNOWN_HOUR, table, issues, records)
    usable = _usable(name, table, attributes, issues)
    kept = [column for column in KEPT if column in usable.column_names]
    chunk.table = usable.select(kept).append_column("hour", pa.repeat(string_scalar(chunk.hour), len(usable)))
    issues.sort(key=lambda issue: int(issue.location.rsplit(":", 1)[1]))
    return chunk


def _file_output(capture_file, window: Window, attributes: Attributes) -> OutputChunk:
    try:
        content = capture_file.read()
    except Exception as exc:  # OSError locally, botocore errors on S3
        empty = pa.table({name: string_array([]) for name in ("key", *COLUMNS, "hour")})
        return OutputChunk(capture_file.name, UNKNOWN_HOUR, empty, [Issue(capture_file.name, read_problem(exc))])
    return read_file(capture_file.name, content, window, attributes)


def capture_outputs(source: str, window: Window, attributes: Attributes, *, workers: int = 1) -> Iterator[OutputChunk]:
    """Each capture file's usable records of the window, in key order; an unreadable file is one issue.

    `workers` > 1: that many files are read at once in threads (pyarrow parses and computes without
    the GIL; small files are parsed by one thread each), up to twice as many ahead of the consumer."""
    files = capture_files(source, window)
    if workers <= 1:
        yield from (_file_output(capture_file, window, attributes) for capture_file in files)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future] = deque()
        try:
            for capture_file in files:
                pending.append(pool.submit(_file_output, capture_file, window, attributes))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
