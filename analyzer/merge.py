"""The merge: the window's predictions joined with the labels on the join key (model-quality contract §2).

Rules (documented where the service says, ours where it does not):
- Join key: the capture's inferenceId, else its eventId (documented); a label's eventId holds it.
- Only matched pairs are scored (inferred: the real run's metrics are those of its matched records).
- One label matches every capture with its key (real: the 2021 run replayed 334 ids in a loop).
- Several labels for one key (ours): the one collected last wins: latest hour folder, then the later
  file in key order, then the later line. The others are counted as `duplicate_labels`.
- Unmatched captures and unmatched (distinct) label keys are counted in the `MergeSummary`, never
  dropped silently; the monitor logs their shares.
- Matched records keep capture order (file order, then line): the metrics' seeded samples depend
  on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import bool_array, index_array, string_array, string_scalar, to_numpy
from analyzer.ground_truth import LabelChunk
from contract.ground_truth import CSV_ENCODING, EVENT_VERSION, MERGE_FOLDER, MERGED_FILE, MergeSummary

WRITE_RECORDS = 1 << 16
_QUOTE, _NOTHING = string_scalar('"'), string_scalar("")


def _empty(*names: str) -> pa.Table:
    return pa.table({name: string_array([]) for name in names})


def latest_labels(chunks: Iterable[LabelChunk]) -> tuple[pa.Table, int, int]:
    """(one label per key: the latest collected, labels read, duplicates replaced)."""
    tables = [chunk.table.select(["key", "label"]) for chunk in chunks]
    labels = pa.concat_tables(tables) if tables else _empty("key", "label")
    keys = pc.unique(labels.column("key"))
    if len(keys) == len(labels):
        return labels, len(labels), 0  # the usual case: nothing to choose
    # index_in finds a value's first occurrence: in the reversed labels, the latest collected.
    latest_first = labels.take(index_array(np.arange(len(labels) - 1, -1, -1)))
    rows = to_numpy(pc.index_in(keys, value_set=latest_first.column("key")))
    # Keys in first-seen order (pc.unique's), so the merge does not depend on a hash table's order.
    return latest_first.take(index_array(rows)), len(labels), len(labels) - len(keys)


class Merger:
    """Joins batches of capture records (in capture order) with one label per key; writes each batch's
    merged records under `<output>/merge/<capture hour>/` and counts what matched."""

    def __init__(self, labels: pa.Table, output: str | None) -> None:
        self.labels = labels
        self.output = output
        self.captures = 0
        self.matched = 0
        self.paths: dict[str, str] = {}
        self._seen = np.zeros(len(labels), dtype=bool)  # label keys some capture had
        # The merged records are written in a thread (pyarrow and file writes release the GIL), while
        # the run goes on; `finish` waits for them.
        self._writer = ThreadPoolExecutor(max_workers=1)
        self._writes: list[Future] = []

    def add(self, captures: pa.Table) -> pa.Table:
        """The batch's matched records with their `label`, in the batch's order."""
        found = pc.index_in(captures.column("key"), value_set=self.labels.column("key"))
        hit = to_numpy(found.is_valid())
        rows = to_numpy(found, null_value=0).astype(np.int64)[hit]
        self._seen[rows] = True
        matched = captures if hit.all() else captures.filter(bool_array(hit))
        matched = matched.append_column("label", self.labels.column("label").take(index_array(rows)))
        self.captures += len(captures)
        self.matched += len(matched)
        if self.output is not None and len(matched):
            self._writes.append(self._writer.submit(self._write, matched))
        return matched

    def finish(self) -> list[str]:
        """Wait for the merged records to be written (re-raising a failed write); returns the files."""
        try:
            for write in self._writes:
                write.result()
        finally:
            self._writer.shutdown(wait=True, cancel_futures=True)
        return sorted(self.paths.values())

    def summary(self, read: int, duplicates: int, unusable: tuple[int, int]) -> MergeSummary:
        """What the merge found, once every batch was added (the labels are let go: the run's metrics
        come next and need the memory). `unusable` = (capture records, label lines) not usable."""
        self.labels = self.labels.slice(0, 0)
        return MergeSummary(
            captures=self.captures,
            labels=read,
            matched=self.matched,
            unmatched_captures=self.captures - self.matched,
            unmatched_labels=int(len(self._seen) - self._seen.sum()),
            duplicate_labels=duplicates,
            unusable_captures=unusable[0],
            unusable_labels=unusable[1],
        )

    def _write(self, matched: pa.Table) -> None:
        hours = matched.column("hour")
        names = pc.unique(hours).to_pylist()
        for hour in names:
            part = matched if len(names) == 1 else matched.filter(pc.equal(hours, string_scalar(hour)))
            path = self.paths.get(hour)
            if path is None:
                path = self.paths[hour] = os.path.join(self.output, MERGE_FOLDER, *hour.split("/"), MERGED_FILE)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").close()  # a rerun into the same folder starts the file afresh
            with open(path, "ab") as handle:
                for start in range(0, len(part), WRITE_RECORDS):  # slices: the texts' memory stays small
                    handle.write(_text_bytes(merged_lines(part.slice(start, WRITE_RECORDS))))


_ESCAPED = {ord(plain): (plain, escaped) for plain, escaped in
            (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))}  # fmt: skip


def _needing_escape(values: pa.Array | pa.ChunkedArray) -> set[int]:
    """The bytes of the texts (no nulls) that JSON escapes: quote, backslash, controls (a scan of the
    data buffers; UTF-8 multi-byte sequences have no byte below 0x80)."""
    found: set[int] = set()
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else (values,):
        data = np.frombuffer(_text_bytes(chunk), dtype=np.uint8)
        found.update(np.unique(data[(data < 0x20) | (data == 0x22) | (data == 0x5C)]).tolist())
    return found


def _json_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """The texts as the inside of JSON string literals, escaped by columns (each replacement only
    when some value needs it); the rare other control characters by json.dumps, value by value."""
    needed = _needing_escape(values)
    if needed - _ESCAPED.keys():
        return string_array([json.dumps(value)[1:-1] for value in values.to_pylist()])
    for byte in sorted(needed, key=list(_ESCAPED).index):  # the backslash first
        values = pc.replace_substring(values, *_ESCAPED[byte])
    return values


def _text(table: pa.Table, name: str, default: str = "") -> pa.Array | pa.ChunkedArray:
    column = table.column(name)
    return _json_text(column if column.null_count == 0 else pc.coalesce(column, string_scalar(default)))


def merged_lines(table: pa.Table) -> pa.Array:
    """The merged records (format: `contract.ground_truth.merged_record`) as JSON lines, built by columns
    (the literals' quotes are in the joined pieces)."""
    ids = table.column("inference_id")
    inference_id = _NOTHING if ids.null_count == len(ids) else pc.if_else(
        ids.is_valid(),
        pc.binary_join_element_wise(string_scalar(',"inferenceId":"'), _text(table, "inference_id"), _QUOTE, _NOTHING),
        _NOTHING,
    )  # fmt: skip
    parts = [
        '{"captureData":{"endpointOutput":{"data":"', _text(table, "data"),
        '","encoding":"', _text(table, "encoding", CSV_ENCODING),
        '"}},"groundTruthData":{"data":"', _text(table, "label"), f'","encoding":"{CSV_ENCODING}"}},',
        '"eventMetadata":{"eventId":"', _text(table, "event_id"), '"', inference_id,
        ',"inferenceTime":"', _text(table, "inference_time"), f'"}},"eventVersion":"{EVENT_VERSION}"}}\n',
    ]  # fmt: skip
    return pc.binary_join_element_wise(*(string_scalar(p) if isinstance(p, str) else p for p in parts), _NOTHING)


def _text_bytes(values: pa.Array | pa.ChunkedArray) -> memoryview | bytes:
    """The concatenated texts of a string array without nulls: a view of its data buffer."""
    if isinstance(values, pa.ChunkedArray):
        return b"".join(_text_bytes(chunk) for chunk in values.chunks)
    if not len(values) or values.buffers()[2] is None:
        return b""
    dtype = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(
        values.buffers()[1], dtype=dtype, count=len(values) + 1, offset=values.offset * np.dtype(dtype).itemsize
    )
    return memoryview(values.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
