"""Ground-truth labels from a local folder or `s3://` prefix (contract `contract.ground_truth`).

Files are listed as capture files are (`analyzer.capture_sources`); with a collection window only
the hour folders `yyyy/mm/dd/HH` inside [start, end) are read (the hour is when the labels were
collected, so a folder's hour must be in the window; a file outside any hour folder is read
whatever the window). One `pyarrow.json.read_json` call per file; a file pyarrow cannot read is
read line by line (`contract.ground_truth.parse_ground_truth`), each bad line an `Issue` naming
file:line, the others kept. Labels come out with their collection order (`order`: hour, then file,
then line), which the merge uses to let the latest label of a key win.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import index_array, string_array, string_scalar, to_numpy
from analyzer.capture_fast_path import record_lines
from analyzer.capture_outputs import read_records
from analyzer.capture_sources import capture_files, read_problem
from analyzer.captures import Issue
from analyzer.value_types import parses_as_number
from contract.errors import CaptureSourceError, QualityInputError
from contract.ground_truth import CSV_ENCODING, parse_ground_truth
from contract.layout import Window, capture_file_hour
from contract.model_quality import BINARY, REGRESSION

_STRING = pa.string()
_SCHEMA = pa.schema([
    ("groundTruthData", pa.struct([("data", _STRING), ("encoding", _STRING)])),
    ("eventMetadata", pa.struct([("eventId", _STRING)])),
])  # fmt: skip


@dataclass(frozen=True)
class LabelWindow:
    """The hours of label collection to read: hour folders in [start, end); None = unbounded."""

    window: Window = field(default_factory=Window)

    def may_hold(self, key: str) -> bool:
        hour = capture_file_hour(key)
        return hour is None or self.window.contains(hour)


@dataclass
class LabelChunk:
    file: str
    table: pa.Table  # key, label, line
    issues: list[Issue] = field(default_factory=list)


def _fast(content: bytes, lines: np.ndarray) -> pa.Table | None:
    table = read_records(content, _SCHEMA)
    if table is None:
        return None
    table = table.flatten()
    keys, labels = table.column("eventMetadata.eventId"), table.column("groundTruthData.data")
    encodings = table.column("groundTruthData.encoding")
    csv = to_numpy(pc.equal(encodings, string_scalar(CSV_ENCODING)), null_value=True)
    well_formed = to_numpy(keys.is_valid()) & to_numpy(labels.is_valid()) & csv
    if len(table) != len(lines) or not (well_formed.all() and (to_numpy(pc.utf8_length(keys), 0) > 0).all()):
        return None  # some record is not as it should be: the strict per-line reading names it
    return _table(keys, pc.utf8_trim_whitespace(labels), lines)


def _table(keys: pa.Array, labels: pa.Array, lines: np.ndarray) -> pa.Table:
    return pa.table({"key": keys, "label": labels, "line": index_array(lines)})


def _slow(name: str, content: bytes, issues: list[Issue]) -> pa.Table:
    keys, labels, lines = [], [], []
    for number, line in enumerate(content.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            label = parse_ground_truth(line, f"{name}:{number}")
        except QualityInputError as exc:
            location, _, problem = str(exc).partition(": ")
            issues.append(Issue(location, problem))
            continue
        keys.append(label.join_key)
        labels.append(label.label)
        lines.append(number)
    return _table(string_array(keys), string_array(labels), np.array(lines, dtype=np.int64))


def read_label_file(name: str, content: bytes) -> LabelChunk:
    issues: list[Issue] = []
    lines, regular = record_lines(content)
    table = _fast(content, lines) if regular and len(lines) else None
    return LabelChunk(name, _slow(name, content, issues) if table is None else table, issues)


def ground_truth_labels(source: str, window: Window | None = None) -> Iterator[LabelChunk]:
    """Every label file's labels under `source` (collection hours in `window`), in key order."""
    if not source.startswith("s3://") and not os.path.exists(source):
        raise CaptureSourceError(
            f"ground-truth folder {source} does not exist; pass the folder holding the label files "
            "(…/yyyy/mm/dd/HH/*.jsonl) or an s3:// prefix"
        )
    # capture_files only asks its window's may_hold: the label rule (hour folder inside the window).
    for label_file in capture_files(source, LabelWindow(window or Window())):
        try:
            content = label_file.read()
        except Exception as exc:  # OSError locally, botocore errors on S3
            empty = _table(string_array([]), string_array([]), np.zeros(0, dtype=np.int64))
            yield LabelChunk(label_file.name, empty, [Issue(label_file.name, read_problem(exc))])
            continue
        yield read_label_file(label_file.name, content)


def _is_binary(text: str) -> bool:
    try:
        return float(text) in (0.0, 1.0)
    except ValueError:
        return False


def check_values(values: pa.Array, problem_type: str, what: str, where: Callable[[int], str]) -> None:
    """QualityInputError listing the values seen (and where the first bad one is: `where(row)`) when
    some are not of the problem type (binary: 0 or 1; regression: numbers; multiclass: anything)."""
    test = {BINARY: _is_binary, REGRESSION: parses_as_number}.get(problem_type)
    if test is None or not len(values):
        return
    counts = pc.value_counts(values)
    seen = sorted(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True),
                  key=lambda item: -item[1])  # fmt: skip
    bad = [value for value, _ in seen if value is None or not test(value)]
    if not bad:
        return
    first = int(np.argmax(to_numpy(pc.is_in(values, value_set=string_array(bad)), null_value=True)))
    wanted = "0 or 1" if problem_type == BINARY else "numbers"
    listed = ", ".join(f"{value!r} ({count})" for value, count in seen[:10])
    more = f" and {len(seen) - 10} more" if len(seen) > 10 else ""
    raise QualityInputError(
        f"{what} must be {wanted} for {problem_type}; values seen: {listed}{more} (first: {where(first)})"
    )
