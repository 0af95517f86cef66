"""Order-dependent numeric aggregates of the profiler: sum, moments and KLL sketches.

Spark aggregates each input partition separately, then merges the partial buffers into a fresh
one in partition order. Per partition and column:

- sum: left to right from 0.0 (integer-valued sums below 2**53 are exact in any order, so they
  skip the sequential pass);
- moments: Spark's `CentralMomentAgg` update, value by value (`analyzer.moments`);
- a KLL sketch (`kll.SketchGroup`: columns that received the same number of values share one
  compaction schedule).

`NumericAggregator` does the work in-process, on the `Batch`es the profiler sends (one `Block` of
values per number of values). `analyzer.aggregator_process.AggregatorProcess` runs the same object
in a child process so this work overlaps the parent's reading and typing (used for large inputs);
both have `add`, `drop` and `finish`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer import kll
from analyzer.moments import merge_moments, welford

EXACT_INTEGER_BOUND = float(2**53)
SAFE_SUM_BOUND = 1e300  # a running sum of values this far below the largest double cannot overflow
PAIR_TABLE_SIZE = 8  # value tables up to this size are checked for holding two numbers at most


@dataclass
class Batch:
    """One column of one partition's batch, by distinct value.

    `table[indices]` are the parsed values in row order, NaN for missing or uncastable values
    (`clean` says that none are); the profiler sends this instead of the values (smaller).
    """

    partition: int
    column: int
    table: np.ndarray
    indices: np.ndarray
    clean: bool
    counts: np.ndarray | None = None  # per table entry, its indices (the profiler's, when it has them)

    def table_counts(self) -> np.ndarray:
        """How many of `indices` point at each table entry."""
        if self.counts is None:
            self.counts = np.bincount(self.indices, minlength=len(self.table))
        return self.counts

    @property
    def pair(self) -> tuple[float, float]:
        """(low, high) when every value is one of at most two numbers, else NaNs (see `kll.SketchGroup`)."""
        if len(self.table) > PAIR_TABLE_SIZE:
            return math.nan, math.nan
        numbers = np.unique(self.table[~np.isnan(self.table)])
        return (float(numbers[0]), float(numbers[-1])) if 0 < len(numbers) <= 2 else (math.nan, math.nan)

    def values(self) -> np.ndarray:
        values = self.table[self.indices]
        return values if self.clean else values[~np.isnan(values)]

    @property
    def count(self) -> int:
        """len(self.values()), without building them."""
        if self.clean:
            return len(self.indices)
        missing = self.table_counts()[np.isnan(self.table)]
        return len(self.indices) - int(missing.sum())

    def values_into(self, out: np.ndarray) -> None:
        if self.clean:
            np.take(self.table, self.indices, out=out)
        else:
            out[:] = self.values()

    @property
    def signed_zeros(self) -> bool:
        return kll.has_negative_zero(self.table)


@dataclass
class Block:
    """Values of some columns of one partition that received the same number of values: one
    matrix row per column (the layout the sketches and the moment update take)."""

    partition: int
    columns: np.ndarray
    values: np.ndarray  # len(columns) x number of values


def value_blocks(partition: int, batches: dict[int, Batch]) -> list[Block]:
    """The batches' values, one `Block` per number of values; rows are filled in place, so each
    value is held once."""
    by_count: dict[int, list[int]] = {}
    for c, batch in batches.items():
        by_count.setdefault(batch.count, []).append(c)
    blocks = []
    for count, columns in by_count.items():
        values = np.empty((len(columns), count))
        for row, c in enumerate(columns):
            batches[c].values_into(values[row])
        blocks.append(Block(partition, np.array(columns, dtype=np.intp), values))
    return blocks


@dataclass
class Result:
    """A column's merged aggregates: sum, count, second central moment sum, sketch."""

    total: float
    count: float
    m2: float
    sketch: kll.SketchState


class _Partition:
    """Numeric state of all columns of one partition (index = column)."""

    def __init__(self, width: int) -> None:
        self.sums = np.zeros(width)
        self.exact = np.ones(width, dtype=bool)  # sum so far is an integer below 2**53
        self.n = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.groups: list[tuple[kll.SketchGroup, np.ndarray]] = (
            [(kll.SketchGroup(width), np.arange(width))] if width else []
        )

    def add_sums(self, batches: dict[int, Batch], blocks: list[Block]) -> None:
        for block in blocks:
            if block.values.shape[1]:
                for c, values in zip(block.columns.tolist(), block.values, strict=True):
                    self.add_sum(c, batches[c], values)

    def add_sum(self, column: int, batch: Batch, values: np.ndarray) -> None:
        """Sum left to right; integer values with every partial sum below 2**53 add exactly in any
        order, so they are summed by distinct value (count x value) instead."""
        if self.exact[column]:
            numbers = batch.table[:-1]
            known = ~np.isnan(numbers)
            if bool((numbers[known] == np.floor(numbers[known])).all()):
                counts = batch.table_counts()[:-1]
                used = (counts > 0) & known
                largest = float(np.abs(numbers[used]).max())
                if largest * len(values) + abs(self.sums[column]) < EXACT_INTEGER_BOUND:
                    self.sums[column] += float(np.dot(counts[used].astype(np.float64), numbers[used]))
                    return
            self.exact[column] = False
        self.sums[column] = _left_to_right(float(self.sums[column]), values)

    def update_sketches(self, batches: dict[int, Batch], blocks: list[Block], dropped: Sequence[int]) -> None:
        # column -> (its block, its row there)
        where = {c: (block, row) for block in blocks for row, c in enumerate(block.columns.tolist())}
        groups = []
        for group, columns in self.groups:
            keep = ~np.isin(columns, dropped)
            if not keep.all():
                group, columns = group.select(np.flatnonzero(keep)), columns[keep]
            if not len(columns):
                continue
            lengths = np.array([where[c][0].values.shape[1] if c in where else 0 for c in columns])
            for length in np.unique(lengths):
                rows = np.flatnonzero(lengths == length)
                part = group if len(rows) == len(columns) else group.select(rows)
                if length:
                    signed_zeros = any(batches[c].signed_zeros for c in columns[rows])
                    pairs = np.array([batches[c].pair for c in columns[rows]])
                    part.update(_rows_of(where, columns[rows]), signed_zeros=signed_zeros, pairs=pairs)
                groups.append((part, columns[rows]))
        self.groups = groups

    def sketch(self, column: int) -> kll.SketchState:
        for group, columns in self.groups:
            rows = np.flatnonzero(columns == column)
            if len(rows):
                return group.select(rows).states()[0]
        return kll.SketchState()


def _left_to_right(start: float, values: np.ndarray) -> float:
    """`start + values[0] + values[1] + ...` in that order. numpy's running sum, unless it could
    overflow or meet inf - inf (a "1e400" read as infinity): then Python floats, the same IEEE
    additions, which give infinity or NaN as Java does instead of numpy's warnings."""
    largest = float(np.abs(values).max()) if len(values) else 0.0
    if largest * len(values) + abs(start) < SAFE_SUM_BOUND:
        return float(np.cumsum(np.concatenate(([start], values)))[-1])
    total = start
    for value in values.tolist():
        total += value
    return total


def _rows_of(where: dict[int, tuple[Block, int]], columns: np.ndarray) -> np.ndarray:
    """The values matrix of `columns` (all in one block): the block's own when it holds exactly
    these columns in this order (the usual case), else a copy of their rows."""
    block = where[int(columns[0])][0]
    rows = [where[c][1] for c in columns.tolist()]
    return block.values if rows == list(range(len(block.columns))) else block.values[rows]


class NumericAggregator:
    """Sums, moments and sketches of `width` columns over `partitions` partitions."""

    def __init__(self, width: int, partitions: int, compiled: bool = False) -> None:
        """`compiled`: use numba for the moment update (worth its half-second load for large
        inputs only, so the child process of `AggregatorProcess` uses it)."""
        self._partitions = [_Partition(width) for _ in range(partitions)]
        self._dropped: set[int] = set()
        self._compiled = compiled

    def add(self, batches: Sequence[Batch]) -> None:
        """One flush: at most one `Batch` per (partition, column); columns not sent got no values."""
        by_partition: dict[int, dict[int, Batch]] = {}
        for batch in batches:
            if batch.column not in self._dropped:
                by_partition.setdefault(batch.partition, {})[batch.column] = batch
        blocks = []
        for p, partition_batches in sorted(by_partition.items()):
            partition = self._partitions[p]
            partition_blocks = value_blocks(p, partition_batches)
            partition.update_sketches(partition_batches, partition_blocks, sorted(self._dropped))
            partition.add_sums(partition_batches, partition_blocks)
            blocks.extend(partition_blocks)
        welford(self._partitions, blocks, compiled=self._compiled)

    def drop(self, columns: Sequence[int]) -> None:
        """Stop aggregating columns that turned out not numeric."""
        self._dropped.update(columns)

    def finish(self, columns: Sequence[int]) -> dict[int, Result]:
        """Merged results of the given columns, partitions merged in order as Spark does."""
        results = {}
        for c in columns:
            total = 0.0
            for partition in self._partitions:
                if partition.n[c] > 0:  # Spark's sum skips a partition's null (empty) sum
                    total = total + float(partition.sums[c])  # Python floats: inf + -inf is NaN, quietly
            count, m2 = merge_moments([(p.n[c], p.mean[c], p.m2[c]) for p in self._partitions])
            sketch = kll.finalize_partitions([p.sketch(c) for p in self._partitions])
            results[c] = Result(total, count, m2, sketch)
        return results


def std_dev(result: Result) -> float:
    """Deequ's population standard deviation, sqrt(m2 / n)."""
    return math.sqrt(result.m2 / result.count)
