"""Spark's partitions of a dataset's files and Hadoop's rule of which lines each split owns.

Spark splits its input before aggregating and merges the per-partition results, so results on
inputs larger than one split depend on the split (sums, standard deviation and KLL sketches are
merged, not computed in one pass). `plan_partitions` reproduces Spark's `FilePartition`
arithmetic (splits of `min(128 MB, max(4 MB, total / parallelism))` bytes, 4 MB open cost per
file, splits packed largest first); `line_range` and `split_lines` apply Hadoop's line rules (a
split owns the lines that start after its first byte and at or before its end). Inputs below
4 MB are always one partition, read in order, exactly like the service. The service's
parallelism is not published: `DEFAULT_PARALLELISM` = 4 assumes the 4 vCPUs of the SDK's usual
`ml.m5.xlarge` (inferred; pass another value to match a different instance).
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAX_PARTITION_BYTES = 128 * 1024 * 1024  # spark.sql.files.maxPartitionBytes
OPEN_COST_BYTES = 4 * 1024 * 1024  # spark.sql.files.openCostInBytes
DEFAULT_PARALLELISM = 4


@dataclass(frozen=True)
class Split:
    """Bytes [start, start + length) of one file (Spark's `PartitionedFile`)."""

    path: str
    start: int
    length: int


def plan_partitions(files: Sequence[tuple[str, int]], parallelism: int = DEFAULT_PARALLELISM) -> list[list[Split]]:
    """Spark's split and packing of (path, size) files into partitions, in partition order."""
    total = sum(size + OPEN_COST_BYTES for _, size in files)
    max_split = min(MAX_PARTITION_BYTES, max(OPEN_COST_BYTES, total // max(parallelism, 1)))
    splits = [
        Split(path, offset, min(max_split, size - offset))
        for path, size in files
        for offset in range(0, size, max_split)
    ]
    splits.sort(key=lambda split: split.length, reverse=True)  # stable, as Scala's sortBy
    partitions: list[list[Split]] = []
    current: list[Split] = []
    current_size = 0
    for split in splits:
        if current and current_size + split.length > max_split:
            partitions.append(current)
            current, current_size = [], 0
        current_size += split.length + OPEN_COST_BYTES
        current.append(split)
    if current:
        partitions.append(current)
    return partitions


def _line_end_at_or_after(handle: io.BufferedReader, position: int, size: int) -> int:
    """Offset just past the first newline at or after `position` (the file size if none)."""
    handle.seek(position)
    while position < size:
        chunk = handle.read(1 << 16)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(chunk)
    return size


def line_range(split: Split) -> tuple[int, int]:
    """Byte range of the lines a split owns (Hadoop's `LineRecordReader`)."""
    size = os.path.getsize(split.path)
    with open(split.path, "rb") as handle:
        begin = 0 if split.start == 0 else _line_end_at_or_after(handle, split.start, size)
        end = _line_end_at_or_after(handle, split.start + split.length, size)
    return begin, max(begin, end)


class RangeFile(io.RawIOBase):
    """Read-only view of bytes [begin, end) of a file, for pyarrow's streaming readers.

    Bytes that are not UTF-8 raise UnicodeDecodeError as they are read, before pyarrow parses them
    (pyarrow would otherwise fail in odd places: opening the file, or its invalid-row handler)."""

    def __init__(self, path: str, begin: int, end: int) -> None:
        self._handle = open(path, "rb")  # noqa: SIM115 - closed with this object
        self._handle.seek(begin)
        self._left = end - begin
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)[: self._left]
        count = self._handle.readinto(view)
        self._left -= count
        chunk = view[:count].tobytes()
        # ASCII (the usual file) needs no decoding, unless a character was cut at the last chunk's end.
        if not chunk.isascii() or self._decoder.getstate()[0]:
            self._decoder.decode(chunk, final=not count)
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()


def _newlines_before(handle: io.BufferedReader, position: int) -> int:
    handle.seek(0)
    count, left = 0, position
    while left > 0:
        chunk = handle.read(min(left, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        left -= len(chunk)
    return count


def split_lines(split: Split) -> Iterator[tuple[int, bytes]]:
    """(1-based line number in the file, raw line without terminator) of a split's lines."""
    begin, end = line_range(split)
    with open(split.path, "rb") as handle:
        line_number = _newlines_before(handle, begin) + 1
        handle.seek(begin)
        position = begin
        while position < end:
            raw = handle.readline()
            if not raw:
                break
            position += len(raw)
            yield line_number, raw.rstrip(b"\r\n")
            line_number += 1
