"""Column profiles: the statistics.json document (contract, section 3), computed as Deequ does.

Per column, over present values (not null, not ""):

- type counts from the value regexes (`value_types`), the column type from Deequ's rule;
- `distinct_count` / `approximate_num_distinct_values`: HyperLogLog++ of the values' text (`hll`);
- exact value counts while a column has at most `VALUE_COUNT_CAP` distinct values; a String
  column whose distinct estimate is <= 120 (Deequ's `DEFAULT_CARDINALITY_THRESHOLD`) gets a
  categorical histogram (sorted by count, then value);
- for numeric columns (every present value Integral/Fractional), values parsed as Spark casts
  them, then: sum (left to right from 0.0), mean = sum / count, population standard deviation
  by Spark's `CentralMomentAgg` update (value by value), min, max, and a KLL sketch with its 10
  buckets (`kll`). Deequ sums an Integral column as a long; that equals the double sum while
  the total stays below 2**53, the only range this profiler treats exactly for Integral sums.

Spark aggregates each input partition separately and merges the partial results into a fresh
buffer in partition order (sum: `0.0 + s0 + s1...`; moments: Chan's merge as Spark writes it;
sketch: Deequ's merge). The profiler does the same: `update(columns, partition=i)`; with one
partition (the default) the result is the sequential one-pass result, bit for bit.

Speed: every column of a batch is dictionary-encoded once, so typing, parsing, hashing and
value counting run on distinct values only. The exact recurrence for the standard deviation
is sequential per column; it runs as one numpy loop over rows with every (partition, column)
as a lane, so its cost is per row, not per value. Columns that received the same number of
values share one KLL compaction schedule (`kll.SketchGroup`). Small batches are buffered to
`MIN_FLUSH_ROWS` rows first; memory stays bounded by that buffer plus the sketches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import hll, kll
from analyzer.value_types import (
    BOOLEAN,
    FRACTIONAL,
    INTEGRAL,
    STRING,
    TYPE_NAMES,
    UNKNOWN,
    classify,
    column_type,
    parse_numbers,
)

MIN_FLUSH_ROWS = 65_536
CATEGORICAL_LIMIT = 120
VALUE_COUNT_CAP = 1_024
# Integer-valued sums below this bound are exact in any order, so they need no sequential pass.
EXACT_INTEGER_BOUND = float(2**53)


@dataclass
class Profile:
    """A profiled dataset.

    - `statistics`: the statistics.json document (2024 shape, key order as the service's).
    - `type_counts`: per feature, present values by their own type
      (`{"Integral": n, "Fractional": n, "Boolean": n, "String": n}`).
    - `value_counts`: per feature, exact counts of present values for String-typed features
      with few distinct values (the categorical histogram's counts); None otherwise.
    """

    statistics: dict
    type_counts: dict[str, dict[str, int]]
    value_counts: dict[str, dict[str, int] | None]


@dataclass
class _Digest:
    """One column of one batch, by distinct value."""

    dictionary: pa.Array  # distinct values (strings)
    indices: np.ndarray  # per row: position in `dictionary`, len(dictionary) for null
    counts: np.ndarray  # per distinct value, then nulls
    codes: np.ndarray  # type code per distinct value


class _Column:
    """Partition-independent state of one column."""

    def __init__(self) -> None:
        self.type_counts = np.zeros(len(TYPE_NAMES), dtype=np.int64)
        self.registers = np.zeros(hll.M, dtype=np.uint8)
        self.value_counts: dict[str, int] | None = {}
        self.numeric = True
        self.minimum = math.inf
        self.maximum = -math.inf


class _Partition:
    """Per-partition numeric state of all columns (index = column)."""

    def __init__(self, width: int, numeric: list[int]) -> None:
        self.sums = np.zeros(width)
        self.exact_sums = np.ones(width, dtype=bool)  # sum so far is an integer below 2**53
        self.n = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.groups: list[tuple[kll.SketchGroup, np.ndarray]] = (
            [(kll.SketchGroup(len(numeric)), np.array(numeric, dtype=np.intp))] if numeric else []
        )


def _digest(array: pa.Array) -> _Digest:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        if array.type not in (pa.string(), pa.large_string()):
            array = array.cast(pa.string())
        array = pc.dictionary_encode(array)
    dictionary = array.dictionary
    width = len(dictionary)
    indices = array.indices
    if indices.null_count:
        indices = indices.fill_null(width)
    index = np.asarray(indices).astype(np.intp, copy=False)
    counts = np.bincount(index, minlength=width + 1)
    return _Digest(dictionary, index, counts, classify(dictionary))


def _numeric_values(digest: _Digest) -> np.ndarray:
    """Parsed numbers of the batch's present values in row order (failed casts left out)."""
    parsed = np.append(parse_numbers(digest.dictionary, digest.codes), np.nan)
    used = digest.counts > 0
    if not np.isnan(parsed[used]).any():
        return parsed[digest.indices]
    values = parsed[digest.indices]
    return values[~np.isnan(values)]


def _welford(partitions: list[_Partition], lanes: list[tuple[int, int, np.ndarray]]) -> None:
    """Spark's update `delta = x - avg; n += 1; avg += delta / n; m2 += delta * (delta - delta / n)`.

    All lanes (partition, column) advance together, one numpy step per row; lanes are ordered
    by length so the still-active ones are always a prefix.
    """
    lanes = sorted(lanes, key=lambda lane: -len(lane[2]))
    lengths = np.array([len(values) for _, _, values in lanes])
    if lengths[0] == 0:
        return
    width = len(lanes)
    n0 = np.array([partitions[p].n[c] for p, c, _ in lanes])
    mean = np.array([partitions[p].mean[c] for p, c, _ in lanes])
    m2 = np.array([partitions[p].m2[c] for p, c, _ in lanes])
    steps = int(lengths[0])
    if (lengths == steps).all():
        values = np.column_stack([values for _, _, values in lanes])
    else:
        values = np.zeros((steps, width))
        for lane, (_, _, column) in enumerate(lanes):
            values[: len(column), lane] = column
    counts = n0[None, :] + np.arange(1.0, steps + 1.0)[:, None]
    delta, delta_n, term = np.empty(width), np.empty(width), np.empty(width)
    subtract, divide, add, multiply = np.subtract, np.divide, np.add, np.multiply
    start = 0
    for active in range(width, 0, -1):
        stop = int(lengths[active - 1])
        if stop <= start:
            continue
        m, s, d, dn, t = mean[:active], m2[:active], delta[:active], delta_n[:active], term[:active]
        for x, n in zip(values[start:stop, :active], counts[start:stop, :active], strict=True):
            subtract(x, m, d)
            divide(d, n, dn)
            add(m, dn, m)
            subtract(d, dn, t)
            multiply(d, t, t)
            add(s, t, s)
        start = stop
    for lane, (p, c, _) in enumerate(lanes):
        partitions[p].n[c] = n0[lane] + lengths[lane]
        partitions[p].mean[c] = mean[lane]
        partitions[p].m2[c] = m2[lane]


def _merge_moments(parts: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """Spark's final merge of (n, avg, m2) buffers into a fresh one; returns (n, m2)."""
    n, avg, m2 = 0.0, 0.0, 0.0
    for n2, avg2, m2_right in parts:
        new_n = n + n2
        delta = avg2 - avg
        delta_n = 0.0 if new_n == 0.0 else delta / new_n
        avg = avg + delta_n * n2
        m2 = m2 + m2_right + delta * delta_n * n * n2
        n = new_n
    return n, m2


class Profiler:
    """Streams batches of string columns into a `Profile` (see the module docstring).

    `Profiler(names, partitions=1)`; `update(columns, partition=0)` takes one batch, one
    pyarrow string (or dictionary-encoded string) array per column in `names` order, null or
    "" meaning missing; `result()` returns the `Profile`.
    """

    def __init__(self, names: Sequence[str], partitions: int = 1) -> None:
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate feature names: {sorted({n for n in names if list(names).count(n) > 1})}")
        self.names = list(names)
        self._columns = [_Column() for _ in self.names]
        self._partitions = [_Partition(len(self.names), list(range(len(self.names)))) for _ in range(partitions)]
        self._pending: dict[int, list[Sequence[pa.Array]]] = {}
        self._pending_rows = 0
        self._rows = 0

    def update(self, columns: Sequence[pa.Array], partition: int = 0) -> None:
        """Add one batch of rows of `partition` (rows of a partition must arrive in order)."""
        if len(columns) != len(self.names):
            raise ValueError(f"batch has {len(columns)} columns, the profile has {len(self.names)}")
        if not 0 <= partition < len(self._partitions):
            raise ValueError(f"partition {partition} out of range 0..{len(self._partitions) - 1}")
        rows = len(columns[0]) if columns else 0
        if any(len(column) != rows for column in columns):
            raise ValueError("columns of a batch must have the same length")
        if rows == 0:
            return
        self._pending.setdefault(partition, []).append(columns)
        self._pending_rows += rows
        if self._pending_rows >= MIN_FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        batches = {p: self._merged(pending) for p, pending in sorted(self._pending.items())}
        self._pending, self._pending_rows = {}, 0
        self._rows += sum(len(columns[0]) for columns in batches.values())
        numeric_values: dict[int, dict[int, np.ndarray]] = {p: {} for p in batches}
        for c, column in enumerate(self._columns):
            digests = {p: _digest(columns[c]) for p, columns in batches.items()}
            for digest in digests.values():
                self._count(column, digest)
            if column.numeric:
                for p, digest in digests.items():
                    values = _numeric_values(digest)
                    numeric_values[p][c] = values
                    if len(values):
                        column.minimum = min(column.minimum, float(values.min()))
                        column.maximum = max(column.maximum, float(values.max()))
        dropped = [c for c, column in enumerate(self._columns) if not column.numeric]
        lanes = []
        for p, values_by_column in numeric_values.items():
            partition = self._partitions[p]
            for c in dropped:
                values_by_column.pop(c, None)
            self._update_sketches(partition, values_by_column, dropped)
            for c, values in values_by_column.items():
                self._add_sum(partition, c, values)
                lanes.append((p, c, values))
        if lanes:
            _welford(self._partitions, lanes)

    @staticmethod
    def _merged(pending: list[Sequence[pa.Array]]) -> list[pa.Array]:
        if len(pending) == 1:
            return list(pending[0])
        return [pa.concat_arrays([batch[c] for batch in pending]) for c in range(len(pending[0]))]

    def _count(self, column: _Column, digest: _Digest) -> None:
        present_counts = digest.counts[:-1]
        column.type_counts += np.bincount(digest.codes, weights=present_counts, minlength=len(TYPE_NAMES)).astype(
            np.int64
        )
        present = (present_counts > 0) & (digest.codes != UNKNOWN)
        if column.numeric and np.isin(digest.codes[present], (BOOLEAN, STRING)).any():
            column.numeric = False
        if not present.any():
            return
        values = digest.dictionary.filter(pa.array(present))
        np.maximum(column.registers, hll.registers_of(hll.xxhash64(values)), out=column.registers)
        if column.value_counts is not None:
            if len(values) > VALUE_COUNT_CAP:
                column.value_counts = None
                return
            for value, count in zip(values.to_pylist(), present_counts[present].tolist(), strict=True):
                column.value_counts[value] = column.value_counts.get(value, 0) + count
            if len(column.value_counts) > VALUE_COUNT_CAP:
                column.value_counts = None

    @staticmethod
    def _add_sum(partition: _Partition, c: int, values: np.ndarray) -> None:
        if not len(values):
            return
        if partition.exact_sums[c]:
            largest = float(np.abs(values).max())
            exact = largest * len(values) + abs(partition.sums[c]) < EXACT_INTEGER_BOUND
            if exact and bool((values == np.floor(values)).all()):
                partition.sums[c] += float(values.sum())
                return
            partition.exact_sums[c] = False
        partition.sums[c] = float(np.cumsum(np.concatenate(([partition.sums[c]], values)))[-1])

    @staticmethod
    def _update_sketches(partition: _Partition, values: dict[int, np.ndarray], dropped: list[int]) -> None:
        groups = []
        for group, columns in partition.groups:
            keep = ~np.isin(columns, dropped)
            if not keep.all():
                group, columns = group.select(np.flatnonzero(keep)), columns[keep]
            if not len(columns):
                continue
            lengths = np.array([len(values[c]) for c in columns])
            for length in np.unique(lengths):
                rows = np.flatnonzero(lengths == length)
                part = group if len(rows) == len(columns) else group.select(rows)
                if length:
                    part.update(np.stack([values[c] for c in columns[rows]]))
                groups.append((part, columns[rows]))
        partition.groups = groups

    def result(self) -> Profile:
        """The profile of everything added so far."""
        if self._pending:
            self._flush()
        features, type_counts, value_counts = [], {}, {}
        for c, (name, column) in enumerate(zip(self.names, self._columns, strict=True)):
            counts = {TYPE_NAMES[t]: int(column.type_counts[t]) for t in (INTEGRAL, FRACTIONAL, BOOLEAN, STRING)}
            type_counts[name] = counts
            inferred = column_type(counts)
            present = sum(counts.values())
            distinct = hll.estimate(column.registers)
            common = {"num_present": present, "num_missing": self._rows - present}
            completeness = present / self._rows if self._rows else 0.0
            if inferred in ("Integral", "Fractional"):
                value_counts[name] = None
                statistics = self._numerical(c, column, common, distinct, completeness)
                features.append({"name": name, "inferred_type": inferred, "numerical_statistics": statistics})
                continue
            categorical = column.value_counts if distinct <= CATEGORICAL_LIMIT and present else None
            value_counts[name] = dict(categorical) if categorical is not None else None
            statistics = {"common": common, "distinct_count": float(distinct), "completeness": completeness}
            if categorical:
                ordered = sorted(categorical.items(), key=lambda item: (-item[1], item[0]))
                statistics["distribution"] = {
                    "categorical": {"buckets": [{"value": value, "count": count} for value, count in ordered]}
                }
            # Deequ's Boolean columns are written as String (contract, section 6).
            written = "Unknown" if inferred == "Unknown" else "String"
            features.append({"name": name, "inferred_type": written, "string_statistics": statistics})
        document = {"version": 0.0, "dataset": {"item_count": self._rows}, "features": features}
        return Profile(statistics=document, type_counts=type_counts, value_counts=value_counts)

    def _numerical(self, c: int, column: _Column, common: dict, distinct: int, completeness: float) -> dict:
        partitions = self._partitions
        total = 0.0
        for partition in partitions:
            if partition.n[c] > 0:
                total = total + partition.sums[c]
        count, m2 = _merge_moments([(p.n[c], p.mean[c], p.m2[c]) for p in partitions])
        statistics: dict = {"common": common}
        if count == 0:
            # Every present value failed Spark's cast: Deequ has no numeric metrics to report.
            statistics.update({"approximate_num_distinct_values": distinct, "completeness": completeness})
            return statistics
        sketch = kll.finalize_partitions([self._sketch_state(p, c) for p in partitions])
        low = min(kll.KLL_MIN_START, column.minimum)
        high = max(kll.KLL_MAX_START, column.maximum)
        statistics.update(
            {
                "mean": total / count,
                "sum": total,
                "std_dev": math.sqrt(m2 / count),
                "min": column.minimum,
                "max": column.maximum,
                "approximate_num_distinct_values": distinct,
                "completeness": completeness,
                "distribution": {
                    "kll": {
                        "buckets": kll.buckets(sketch.levels, low, high),
                        "sketch": {
                            "parameters": {"c": kll.SHRINKING_FACTOR, "k": float(kll.SKETCH_SIZE)},
                            "data": sketch.data(),
                        },
                    }
                },
            }
        )
        return statistics

    @staticmethod
    def _sketch_state(partition: _Partition, c: int) -> kll.SketchState:
        for group, columns in partition.groups:
            rows = np.flatnonzero(columns == c)
            if len(rows):
                return group.select(rows).states()[0]
        return kll.SketchState()

