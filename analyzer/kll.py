"""Deequ's KLL quantile sketch (`QuantileNonSample` / `NonSampleCompactor`), bit for bit.

The sketch keeps levels of items; an item on level h stands for 2**h input values. Level h has
capacity `2 * (ceil(k * c**h / 2) + 1)` (2050, 1314, 842, ... for k=2048, c=0.64). Each update
appends to level 0; when the stored items exceed the summed capacity of the existing levels the
sketch *condenses once*: the first level whose buffer is at or over its capacity is compacted
(an odd last item is held back, the rest sorted, every second item from `offset` moves up; the
offset flips before a compaction when the level's compaction count so far is odd).

Two implementations with identical results:

- `ReferenceSketch`: one value at a time, a line-by-line transcription of Deequ (the oracle).
- `SketchGroup`: the bulk version used by the profiler. The compaction schedule depends only on
  how many values arrived, never on the values, so columns that received the same number of
  values share one schedule: a group holds their levels as 2-D arrays (one row per column),
  appends whole slices up to the next compaction point and compacts all rows with one sort.

Finished sketches are `SketchState`s (per column). Spark always ends an aggregation by merging
the partial buffers into a fresh one (`finalize_partitions`), which condenses while the stored
items are *at or over* capacity: this is why a sketch of exactly 2050 values comes out with an
empty level 0.

Ranks (`sorted_items`, `rank_exclusive`, `rank_inclusive`) serve the 10 histogram buckets and
the L-infinity drift distance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SKETCH_SIZE = 2048
SHRINKING_FACTOR = 0.64
NUM_BUCKETS = 10

# Deequ's StatefulKLLSketch starts its min/max buffer at Int.MaxValue / Int.MinValue (as doubles)
# and the buckets use that buffer: a column entirely above 2147483647 gets buckets from
# 2147483647.0 (inferred from Deequ's source; reproduced on purpose).
KLL_MIN_START = float(2**31 - 1)
KLL_MAX_START = float(-(2**31))


def capacity(height: int) -> int:
    """Capacity of level `height`: `2 * (ceil(k * c**height / 2) + 1)` (Deequ's `capacity`)."""
    return 2 * (math.ceil(SKETCH_SIZE * SHRINKING_FACTOR**height / 2) + 1)


def _total_capacity(levels: int) -> int:
    return sum(capacity(h) for h in range(levels))


def has_negative_zero(values: np.ndarray) -> bool:
    return bool(np.signbit(values[values == 0.0]).any())


def _sort_total_order(values: np.ndarray, runs: bool = False, signed_zeros: bool = True) -> np.ndarray:
    """Sort along the last axis in Java's `Double.compare` order (-0.0 before 0.0).

    numpy treats -0.0 == 0.0 and may leave them in any order; Scala's `sorted` puts every -0.0
    first. When a negative zero is present, rewrite each row's zero block in that order
    (`signed_zeros=False` promises there is none). `runs`: the rows are a few sorted runs
    (levels above 0), which timsort merges fastest.
    """
    out = np.sort(values, axis=-1, kind="stable" if runs else "quicksort")
    if not signed_zeros:
        return out
    negative_zero = (values == 0.0) & np.signbit(values)
    if not negative_zero.any():
        return out
    rows = out.reshape(-1, out.shape[-1])
    n_neg = negative_zero.reshape(rows.shape).sum(axis=1)
    start = (rows < 0.0).sum(axis=1)
    n_zero = (rows == 0.0).sum(axis=1)
    index = np.arange(rows.shape[1])
    in_neg = (index >= start[:, None]) & (index < (start + n_neg)[:, None])
    in_pos = (index >= (start + n_neg)[:, None]) & (index < (start + n_zero)[:, None])
    rows[in_neg] = -0.0
    rows[in_pos] = 0.0
    return out


# --------------------------------------------------------------------------------------------
# Reference implementation: one value at a time, as Deequ does it.
# --------------------------------------------------------------------------------------------


class _ReferenceCompactor:
    def __init__(self) -> None:
        self.num_compress = 0
        self.offset = 0
        self.buffer: list[float] = []

    def compact(self) -> list[float]:
        items = len(self.buffer)
        even = items - items % 2
        if self.num_compress % 2 == 1:
            self.offset = 1 - self.offset
        ordered = sorted(self.buffer[:even], key=lambda v: (v, math.copysign(1.0, v)))
        output = ordered[self.offset : even : 2]
        self.buffer = [self.buffer[items - 1]] if items % 2 else []
        self.num_compress += 1
        return output


class ReferenceSketch:
    """Deequ's `QuantileNonSample[Double]`, one update at a time (the test oracle)."""

    def __init__(self) -> None:
        self.compactors: list[_ReferenceCompactor] = []
        self.actual = 0
        self.total = 0
        self._expand()

    def _expand(self) -> None:
        self.compactors.append(_ReferenceCompactor())
        self.total = _total_capacity(len(self.compactors))

    def update(self, value: float) -> None:
        self.compactors[0].buffer.append(value)
        self.actual += 1
        if self.actual > self.total:
            self._condense()

    def _condense(self) -> None:
        for height, compactor in enumerate(self.compactors):
            if len(compactor.buffer) >= capacity(height):
                if height + 1 >= len(self.compactors):
                    self._expand()
                self.compactors[height + 1].buffer.extend(compactor.compact())
                self.actual = sum(len(c.buffer) for c in self.compactors)
                return

    def merge(self, other: ReferenceSketch) -> ReferenceSketch:
        """Deequ's `merge`: concatenate level by level, then condense while at or over capacity."""
        while len(self.compactors) < len(other.compactors):
            self._expand()
        for mine, theirs in zip(self.compactors, other.compactors, strict=False):
            mine.buffer.extend(theirs.buffer)
        self.actual = sum(len(c.buffer) for c in self.compactors)
        while self.actual >= self.total:
            self._condense()
        return self

    def state(self) -> SketchState:
        return SketchState(
            levels=[np.array(c.buffer, dtype=np.float64) for c in self.compactors],
            num_compress=[c.num_compress for c in self.compactors],
            offsets=[c.offset for c in self.compactors],
        )

    @classmethod
    def from_state(cls, state: SketchState) -> ReferenceSketch:
        sketch = cls()
        sketch.compactors = []
        for level, count, offset in zip(state.levels, state.num_compress, state.offsets, strict=True):
            compactor = _ReferenceCompactor()
            compactor.buffer = [float(v) for v in level]
            compactor.num_compress, compactor.offset = count, offset
            sketch.compactors.append(compactor)
        sketch.total = _total_capacity(len(sketch.compactors))
        sketch.actual = sum(len(c.buffer) for c in sketch.compactors)
        return sketch


# --------------------------------------------------------------------------------------------
# Bulk implementation.
# --------------------------------------------------------------------------------------------


@dataclass
class SketchState:
    """One column's sketch: level buffers (level 0 first) and each compactor's counters."""

    levels: list[np.ndarray] = field(default_factory=lambda: [np.empty(0)])
    num_compress: list[int] = field(default_factory=lambda: [0])
    offsets: list[int] = field(default_factory=lambda: [0])

    @property
    def count(self) -> int:
        """Total weight: the number of values the sketch summarises."""
        return sum(len(level) << h for h, level in enumerate(self.levels))

    def data(self) -> list[list[float]]:
        """The `sketch.data` field of statistics.json."""
        return [level.tolist() for level in self.levels]


class SketchGroup:
    """KLL sketches of several columns that have received the same number of values.

    Rows of every level array are columns. `update` takes a 2-D array (columns x new values).
    """

    def __init__(self, rows: int) -> None:
        self.levels: list[np.ndarray] = [np.empty((rows, 0))]
        self.num_compress = [0]
        self.offsets = [0]
        self.actual = 0
        self.total = capacity(0)
        self.signed_zeros = False  # a -0.0 was added: sorts must then order signed zeros
        # Per row, the (low, high) pair every value so far belongs to, or NaN: such a row's sorted
        # buffer is `low` repeated, then `high`, so compactions count instead of sorting.
        self.pairs = np.full((rows, 2), np.nan)

    @property
    def rows(self) -> int:
        return self.levels[0].shape[0]

    def update(self, values: np.ndarray, signed_zeros: bool | None = None, pairs: np.ndarray | None = None) -> None:
        """Append values (rows x n) exactly as n one-at-a-time updates would.

        `signed_zeros`: whether `values` holds a -0.0 (checked here when not given).
        `pairs`: per row, two numbers (low <= high, possibly equal) that the row's new values are
        all equal to, or NaN when unknown (the profiler knows them from its value dictionaries).
        """
        self.signed_zeros |= has_negative_zero(values) if signed_zeros is None else signed_zeros
        self._merge_pairs(pairs)
        n = values.shape[1]
        position = 0
        while position < n:
            # Appending up to `room` items triggers nothing; item `room + 1` triggers one condense.
            take = min(n - position, self.total - self.actual + 1)
            self.levels[0] = np.concatenate((self.levels[0], values[:, position : position + take]), axis=1)
            self.actual += take
            position += take
            if self.actual > self.total:
                self._condense()

    def _condense(self) -> None:
        for height, buffer in enumerate(self.levels):
            if buffer.shape[1] >= capacity(height):
                if height + 1 >= len(self.levels):
                    self.levels.append(np.empty((self.rows, 0)))
                    self.num_compress.append(0)
                    self.offsets.append(0)
                    self.total = _total_capacity(len(self.levels))
                output = self._compact(height)
                self.levels[height + 1] = np.concatenate((self.levels[height + 1], output), axis=1)
                self.actual = sum(level.shape[1] for level in self.levels)
                return

    def _merge_pairs(self, pairs: np.ndarray | None) -> None:
        if pairs is None or self.signed_zeros:
            self.pairs[:] = np.nan
            return
        known = ~np.isnan(self.pairs[:, 0])
        empty = self.actual == 0  # nothing added yet: the new pair is the row's pair
        union = np.stack((np.minimum(self.pairs[:, 0], pairs[:, 0]), np.maximum(self.pairs[:, 1], pairs[:, 1])), 1)
        # Still two values at most: every old and new value is one of the union's ends.
        fits = np.isin(self.pairs, union).all(axis=1) & np.isin(pairs, union).all(axis=1)
        self.pairs = pairs.copy() if empty else np.where((known & fits)[:, None], union, np.nan)

    def _halve(self, height: int, even: np.ndarray) -> np.ndarray:
        """Every second item, from the level's offset, of each row of `even` sorted."""
        offset = self.offsets[height]
        paired = ~np.isnan(self.pairs[:, 0])
        if not paired.any():
            return _sort_total_order(even, runs=height > 0, signed_zeros=self.signed_zeros)[:, offset::2]
        # Every row at once, without copying the paired ones out: an unpaired row's NaN pair
        # matches nothing, and its sorted items replace what it gets here.
        low, high = self.pairs[:, 0:1], self.pairs[:, 1:2]
        lows = np.count_nonzero(even == low, axis=1)
        positions = offset + 2 * np.arange(even.shape[1] // 2)
        out = np.where(positions[None, :] < lows[:, None], low, high)
        if not paired.all():
            rest = ~paired
            out[rest] = _sort_total_order(even[rest], runs=height > 0, signed_zeros=self.signed_zeros)[:, offset::2]
        return out

    def _compact(self, height: int) -> np.ndarray:
        buffer = self.levels[height]
        items = buffer.shape[1]
        even = items - items % 2
        if self.num_compress[height] % 2 == 1:
            self.offsets[height] = 1 - self.offsets[height]
        output = self._halve(height, buffer[:, :even])
        self.levels[height] = buffer[:, even:].copy()
        self.num_compress[height] += 1
        return output

    def select(self, rows: np.ndarray | Sequence[int]) -> SketchGroup:
        """A new group holding only the given rows (the schedule state is shared, so copied)."""
        group = SketchGroup.__new__(SketchGroup)
        group.levels = [level[rows] for level in self.levels]
        group.num_compress = list(self.num_compress)
        group.offsets = list(self.offsets)
        group.actual, group.total = self.actual, self.total
        group.signed_zeros = self.signed_zeros
        group.pairs = self.pairs[rows]
        return group

    def states(self) -> list[SketchState]:
        """Per-row sketch states."""
        return [
            SketchState(
                levels=[level[row].copy() for level in self.levels],
                num_compress=list(self.num_compress),
                offsets=list(self.offsets),
            )
            for row in range(self.rows)
        ]


def merge_states(target: SketchState, other: SketchState) -> SketchState:
    """Deequ's `QuantileNonSample.merge(target, other)` on single-column states (returns a new state)."""
    levels = [level.copy() for level in target.levels]
    num_compress, offsets = list(target.num_compress), list(target.offsets)
    while len(levels) < len(other.levels):
        levels.append(np.empty(0))
        num_compress.append(0)
        offsets.append(0)
    for h, level in enumerate(other.levels):
        levels[h] = np.concatenate((levels[h], level))
    group = SketchGroup(1)
    group.levels = [level[None, :] for level in levels]
    group.num_compress, group.offsets = num_compress, offsets
    group.total = _total_capacity(len(levels))
    group.actual = sum(len(level) for level in levels)
    group.signed_zeros = any(has_negative_zero(level) for level in levels)
    group.pairs = np.full((1, 2), np.nan)
    while group.actual >= group.total:
        group._condense()
    return group.states()[0]


def finalize_partitions(partials: Sequence[SketchState]) -> SketchState:
    """The final aggregation: a fresh sketch merged with each partition's sketch in order."""
    result = SketchState()
    for partial in partials:
        result = merge_states(result, partial)
    return result


# --------------------------------------------------------------------------------------------
# Ranks, buckets.
# --------------------------------------------------------------------------------------------


def sorted_items(levels: Sequence[Sequence[float] | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All items of a sketch's `data` sorted ascending, with the running sum of their weights.

    An item on level h weighs 2**h. Returns `(items, cumulative)` where `cumulative[i]` is the
    total weight of `items[: i + 1]` (int64). Repeated items appear once per copy.
    """
    arrays = [np.asarray(level, dtype=np.float64) for level in levels]
    if not arrays:
        return np.empty(0), np.empty(0, dtype=np.int64)
    items = np.concatenate(arrays)
    weights = np.concatenate([np.full(len(a), 1 << h, dtype=np.int64) for h, a in enumerate(arrays)])
    order = np.argsort(items, kind="stable")
    return items[order], np.cumsum(weights[order])


def rank_exclusive(items: np.ndarray, cumulative: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Total weight of items strictly below each key (Deequ's `getRankExclusive`)."""
    return _rank(items, cumulative, keys, "left")


def rank_inclusive(items: np.ndarray, cumulative: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Total weight of items at or below each key (Deequ's `getRank`)."""
    return _rank(items, cumulative, keys, "right")


def _rank(items: np.ndarray, cumulative: np.ndarray, keys: np.ndarray, side: str) -> np.ndarray:
    # A NaN key (a bound of a column holding an infinity: (inf - min) * 0) ranks 0, as the JVM's
    # `item < key` is false for every item (inferred: numpy's sort order would put it above all items and
    # give the first bucket a negative count).
    index = np.searchsorted(items, keys, side=side)
    ranks = np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0)
    return np.where(np.isnan(keys), 0, ranks)


def buckets(levels: Sequence[Sequence[float] | np.ndarray], low: float, high: float) -> list[dict]:
    """The 10 KLL buckets: `[lower, upper)` except the last, `[lower, upper]`.

    Bounds are `low + (high - low) * i / 10` evaluated in that order (Deequ's `KLLSketch`);
    counts are rank differences, written as doubles.
    """
    items, cumulative = sorted_items(levels)
    width = high - low
    lowers = np.array([low + width * i / float(NUM_BUCKETS) for i in range(NUM_BUCKETS)])
    uppers = np.array([low + width * (i + 1) / float(NUM_BUCKETS) for i in range(NUM_BUCKETS)])
    below_lower = rank_exclusive(items, cumulative, lowers)
    below_upper = rank_exclusive(items, cumulative, uppers)
    below_upper[-1] = rank_inclusive(items, cumulative, uppers[-1:])[0]
    return [
        {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(hi_rank - lo_rank)}
        for lo, hi, lo_rank, hi_rank in zip(lowers, uppers, below_lower, below_upper, strict=True)
    ]
