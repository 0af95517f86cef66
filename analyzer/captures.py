"""Read endpoint data-capture files (contract, section 1) into rows for the profiler.

Each capture record becomes one row: the endpointOutput fields first, then the endpointInput
fields, named positionally with the baseline's feature names. Consecutive files are read together
(about `GROUP_RECORDS` records: one `pyarrow.json` call, then one `pyarrow.csv` call over the rows'
text), in a background thread ahead of the profiler; the common case (CSV input and output,
second-precision times, no quotes or line breaks in the data) never loops over records in Python
(`analyzer.capture_fast_path`). Every other record, and every record when a preprocessor script is
configured, takes the per-record path (`analyzer.capture_records`, `analyzer.preprocessors`); rows
stay in file order and messages name the file and line either way. Files come from
`analyzer.capture_sources`.

Bad input never stops the reading: a malformed line, an unknown encoding or an unreadable file is
counted and described (file and line) in `CaptureSummary.issues`, and the other records are kept.
Every record read is either analysed or unusable with its reason (`CaptureSummary.reasons`), on
the fast path and the per-record path alike; the monitor fails a run whose unusable share is too
large (`CaptureSummary.unusable_share`).
`window_records` reads the same files record by record, for a look at what the run would analyse:
each usable record with its fields, each other line with the issue the run would report.

Column-count decisions (the service's own behaviour is not documented):
- a row with fewer fields than the baseline has columns is padded with missing values (so the
  absent columns also show up in the completeness check); `CaptureSummary.field_counts` lets the
  monitor report a `missing_column_check`;
- fields beyond the baseline's column count are not analysed; they are reported as an
  `extra_column_check`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from analyzer.arrays import bool_array, index_array, string_array
from analyzer.capture_fast_path import all_strings_simple, fast_candidates, fast_rows, read_table, record_lines
from analyzer.capture_records import RecordError, Row, parse_record, record_parts, record_rows
from analyzer.capture_sources import CaptureFile, capture_files, read_problem
from analyzer.prefetch import prefetched
from analyzer.preprocessors import InferenceRecord, handler_rows, inference_record
from contract.layout import Window

MAX_ISSUES = 200  # issues kept for the report; all are counted
_DETAIL = re.compile(r" \([^()]*\)")  # a problem's parenthesised details (positions, parser text)
GROUP_RECORDS = 1 << 14  # records of consecutive files parsed together: few, large pyarrow calls, bounded memory
PREFETCH_BATCHES = 2  # batches read ahead of the profiler (each about GROUP_RECORDS rows)


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
    analysed: int = 0  # records of the window that gave rows or were dropped by the preprocessor
    bad_records: int = 0  # records that cannot be used, each with its reason
    unreadable_files: int = 0
    field_counts: Counter = field(default_factory=Counter)  # rows per number of fields
    first_row_with: dict[int, str] = field(default_factory=dict)  # field count -> where first seen
    issues: list[Issue] = field(default_factory=list)
    # Every problem counted by its kind (details such as positions left out), with its first issue.
    reasons: Counter = field(default_factory=Counter)
    first_issue: dict[str, Issue] = field(default_factory=dict)

    def report(self, location: str, problem: str, record: bool = True) -> None:
        if record:
            self.bad_records += 1
        else:
            self.unreadable_files += 1
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(Issue(location, problem))
        kind = _DETAIL.sub("", problem)
        self.reasons[kind] += 1
        self.first_issue.setdefault(kind, Issue(location, problem))

    @property
    def unusable_share(self) -> float:
        """Unusable records / records that were analysed or unusable (0.0 when there were none)."""
        seen = self.analysed + self.bad_records
        return self.bad_records / seen if seen else 0.0

    def top_reasons(self, count: int = 3) -> list[tuple[int, str, str]]:
        """(records, first location, first problem) of the most frequent kinds of problem."""
        return [
            (number, self.first_issue[kind].location, self.first_issue[kind].problem)
            for kind, number in self.reasons.most_common(count)
        ]

    def count_fields(self, lengths: np.ndarray, location: Callable[[int], str]) -> None:
        values, first_index, counts = np.unique(lengths, return_index=True, return_counts=True)
        for value, first, count in zip(values.tolist(), first_index.tolist(), counts.tolist(), strict=True):
            self.field_counts[value] += count
            self.first_row_with.setdefault(value, location(first))
        self.rows += int(len(lengths))


@dataclass
class _Files:
    """Consecutive capture files whose records are read together, in file order."""

    names: list[str] = field(default_factory=list)
    contents: list[bytes] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)  # per file: the line number of each record
    records: int = 0
    simple_strings: bool = True  # `all_strings_simple` holds for every file

    def add(self, name: str, content: bytes, lines: np.ndarray) -> None:
        self.names.append(name)
        self.contents.append(content)
        self.lines.append(lines)
        self.records += len(lines)
        self.simple_strings = self.simple_strings and all_strings_simple(content)

    def each(self) -> Iterator[_Files]:
        for name, content, lines in zip(self.names, self.contents, self.lines, strict=True):
            one = _Files()
            one.add(name, content, lines)
            yield one


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
        names: Sequence[str] | None = None,
    ):
        """`names`: the baseline's columns, for JSON objects' fields (`capture_records.mapped_row`)."""
        self.source = source
        self.width = width
        self.names = names
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
                self.summary.report(capture_file.name, read_problem(exc), record=False)
                continue
            self.summary.files += 1
            lines, regular = record_lines(content)
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
        table = read_table(files.contents, files.records) if self.preprocessor is None and files.records else None
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
            fast, settled, lines = fast_candidates(table, self.window, files.simple_strings)
            fast_index = np.flatnonzero(fast)
            if len(fast_index):
                fast_lines = lines if fast.all() else lines.filter(bool_array(fast))
                fast_parts, fast_lengths = fast_rows(fast_lines, self.width)
                parts.extend((fast_index[positions], columns) for positions, columns in fast_parts)
            self.summary.in_window += len(fast_index)
            self.summary.analysed += len(fast_index)
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
            except RecordError as exc:
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
        record = parse_record(line, self.window)
        if record is None:
            return []
        self.summary.in_window += 1
        if self.preprocessor is None:
            rows = record_rows(record, self.names)
        else:
            try:
                result = self.preprocessor(inference_record(record))
            except Exception as exc:  # the user's handler may raise anything
                raise RecordError(f"preprocess_handler raised {type(exc).__name__}: {exc}") from None
            rows = handler_rows(result, self.names)
            if not rows:
                self.summary.dropped += 1
        self.summary.analysed += 1
        return rows


# --- record by record, for inspection ----------------------------------------------------------


@dataclass(frozen=True)
class CaptureRecord:
    """A capture record of the window that the run would analyse, decoded as the run decodes it."""

    file: str  # the capture file's name, as in messages (a local path or s3://bucket/key)
    line: int
    inference_time: str | None  # eventMetadata's
    event_id: str | None
    inference_id: str | None
    output: list[Row]  # the rows of endpointOutput, as many as of endpointInput
    inputs: list[Row]


def _metadata(record: dict, key: str) -> str | None:
    meta = record.get("eventMetadata")
    value = meta.get(key) if isinstance(meta, dict) else None
    return None if value is None else str(value)


def window_records(files: Iterable[CaptureFile], window: Window) -> Iterator[CaptureRecord | Issue]:
    """Every record of the window in `files` (from `capture_files`), in file order, and an `Issue`
    (the run's message) for each file that cannot be read and each line that gives no rows."""
    for capture_file in files:
        try:
            content = capture_file.read()
        except Exception as exc:  # OSError locally, botocore errors on S3
            yield Issue(capture_file.name, read_problem(exc))
            continue
        for number, line in enumerate(content.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                record = parse_record(line, window)
                if record is None:
                    continue
                output, inputs = record_parts(record)
            except RecordError as exc:
                yield Issue(f"{capture_file.name}:{number}", str(exc))
                continue
            meta = [_metadata(record, key) for key in ("inferenceTime", "eventId", "inferenceId")]
            yield CaptureRecord(capture_file.name, number, *meta, output, inputs)
