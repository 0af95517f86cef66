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
value counting run on distinct values only; the order-dependent numeric aggregates are in
`numeric` (in a child process for large inputs, overlapping the reading). Small batches are
buffered to `FLUSH_CELLS` values first; memory stays bounded by that buffer, the batches in
flight to the child and the sketches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import hll, kll, numeric
from analyzer.aggregator_process import AggregatorProcess
from analyzer.arrays import bool_array, single_byte_encoded, to_numpy
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

FLUSH_CELLS = 1 << 22  # values buffered before a flush (about 60,000 rows of 70 columns)
PROCESS_AFTER_ROWS = 65_536  # rows profiled before numeric aggregation moves to a child process
CATEGORICAL_LIMIT = 120
VALUE_COUNT_CAP = 1_024
SMALL_DICTIONARY = 64  # columns with at most this many distinct values are typed through a cache


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
    """One column of one flush, by distinct value."""

    dictionary: pa.Array  # distinct values (strings)
    indices: np.ndarray  # per row: position in `dictionary`, len(dictionary) for null
    counts: np.ndarray  # per distinct value, then nulls
    codes: np.ndarray  # type code per distinct value
    parsed: np.ndarray  # number per distinct value (NaN if not numeric or the cast fails)
    fresh: np.ndarray  # distinct values this column had not shown before (all, once it is large)


class _Column:
    """Partition-independent state of one column."""

    def __init__(self) -> None:
        self.type_counts = np.zeros(len(TYPE_NAMES), dtype=np.int64)
        self.registers = np.zeros(hll.M, dtype=np.uint8)
        self.value_counts: dict[str, int] | None = {}
        # (type code, number) of every value seen, while the column has few distinct values:
        # low-cardinality columns are then typed and hashed once per value, not once per batch.
        self.known: dict[str | None, tuple[int, float]] | None = {}
        self.numeric = True
        self.minimum = math.inf
        self.maximum = -math.inf


def _encoded(array: pa.Array) -> pa.DictionaryArray:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return array
    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    return single_byte_encoded(array) or pc.dictionary_encode(array)


def _digest(column: _Column, array: pa.Array) -> _Digest:
    array = _encoded(array)
    dictionary = array.dictionary
    width = len(dictionary)
    index = to_numpy(array.indices, null_value=width).astype(np.intp, copy=False)
    counts = np.bincount(index, minlength=width + 1)
    known = column.known
    if known is not None and width <= SMALL_DICTIONARY:
        texts = dictionary.to_pylist()
        fresh = np.array([text not in known for text in texts], dtype=bool)
        typed = {}
        if fresh.any():
            unseen = dictionary.filter(bool_array(fresh))
            codes = classify(unseen)
            typed = {
                text: (int(code), float(number))
                for text, code, number in zip(unseen.to_pylist(), codes, parse_numbers(unseen, codes), strict=True)
            }
        pairs = [known[text] if text in known else typed[text] for text in texts]
        codes = np.array([code for code, _ in pairs], dtype=np.uint8)
        parsed = np.array([number for _, number in pairs], dtype=np.float64)
        # Only values present in this batch become known: they are hashed now (see `_count`).
        present = zip(texts, counts[:-1], strict=True)
        known.update((text, typed[text]) for text, count in present if text in typed and count)
        if len(known) > SMALL_DICTIONARY:
            column.known = None
    else:
        column.known = None
        codes = classify(dictionary)
        parsed = parse_numbers(dictionary, codes) if column.numeric else np.full(width, np.nan)
        fresh = np.ones(width, dtype=bool)
    return _Digest(dictionary, index, counts, codes, parsed, fresh)


def _numeric_batches(c: int, digest: _Digest, bounds: list[tuple[int, int, int]]) -> tuple[list, float, float]:
    """Per-partition `numeric.Batch`es of a column, with the min and max (NaN if none)."""
    table = np.append(digest.parsed, np.nan)
    used = table[digest.counts > 0]
    parsed = used[~np.isnan(used)]
    clean = len(parsed) == len(used)
    indices = digest.indices.astype(np.min_scalar_type(len(table)), copy=False)
    low, high = (float(parsed.min()), float(parsed.max())) if len(parsed) else (math.nan, math.nan)
    # A batch of the whole flush has the digest's counts (one partition: always, when monitoring).
    whole = [digest.counts if (start, stop) == (0, len(indices)) else None for _, start, stop in bounds]
    batches = [
        numeric.Batch(p, c, table, indices[start:stop], clean, counts)
        for (p, start, stop), counts in zip(bounds, whole, strict=True)
    ]
    return batches, low, high


class Profiler:
    """Streams batches of string columns into a `Profile` (see the module docstring).

    `Profiler(names, partitions=1)`; `update(columns, partition=0)` takes one batch, one
    pyarrow string (or dictionary-encoded string) array per column in `names` order, null or
    "" meaning missing; `result()` returns the `Profile`. Numeric aggregation runs in a child
    process when `background` is True, or (None) once the input exceeds `PROCESS_AFTER_ROWS`
    rows; the results are identical either way.
    """

    def __init__(self, names: Sequence[str], partitions: int = 1, background: bool | None = None) -> None:
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate feature names: {sorted({n for n in names if list(names).count(n) > 1})}")
        self.names = list(names)
        self._columns = [_Column() for _ in self.names]
        self._partitions = partitions
        self._numeric: numeric.NumericAggregator | AggregatorProcess | None = None
        self._background = background
        self._pending: dict[int, list[Sequence[pa.Array]]] = {}
        self._pending_rows = 0
        self._rows = 0
        # Numeric calls of flushes made before the aggregator is chosen (see `_numeric_call`).
        self._held: list[tuple[str, object]] = []
        if background:
            self._aggregator()  # start the child now: its start-up overlaps the first reads

    def update(self, columns: Sequence[pa.Array], partition: int = 0) -> None:
        """Add one batch of rows of `partition` (rows of a partition must arrive in order)."""
        if len(columns) != len(self.names):
            raise ValueError(f"batch has {len(columns)} columns, the profile has {len(self.names)}")
        if not 0 <= partition < self._partitions:
            raise ValueError(f"partition {partition} out of range 0..{self._partitions - 1}")
        rows = len(columns[0]) if columns else 0
        if any(len(column) != rows for column in columns):
            raise ValueError("columns of a batch must have the same length")
        if rows == 0:
            return
        self._pending.setdefault(partition, []).append(columns)
        self._pending_rows += rows
        if self._numeric is None and self._background is None and self._rows + self._pending_rows >= PROCESS_AFTER_ROWS:
            self._aggregator()  # a large input: start the child now, before the first flush
        if self._pending_rows * max(len(self.names), 1) >= FLUSH_CELLS:
            self._flush()

    def _aggregator(self) -> numeric.NumericAggregator | AggregatorProcess:
        if self._numeric is None:
            width = len(self.names)
            rows = self._rows + self._pending_rows
            background = rows >= PROCESS_AFTER_ROWS if self._background is None else self._background
            self._numeric = (
                AggregatorProcess(width, self._partitions)
                if background
                else numeric.NumericAggregator(width, self._partitions)
            )
            held, self._held = self._held, []
            for method, argument in held:
                getattr(self._numeric, method)(argument)
        return self._numeric

    def _numeric_call(self, method: str, argument: object) -> None:
        """`add` or `drop` on the aggregator; held back while it is not chosen yet. A flush can come
        before the input reaches `PROCESS_AFTER_ROWS` (a wide table's flush holds fewer rows): its
        numbers then wait, so that a large input still gets the child process (their memory is
        bounded by `PROCESS_AFTER_ROWS` rows of one index per value)."""
        if self._numeric is None and self._background is None and self._rows < PROCESS_AFTER_ROWS:
            self._held.append((method, argument))
        else:
            getattr(self._aggregator(), method)(argument)

    def _flush(self) -> None:
        # Batches in partition order; each partition's rows form one contiguous range.
        pending = sorted(self._pending.items())
        self._pending, self._pending_rows = {}, 0
        bounds, row = [], 0
        for p, batches in pending:
            rows = sum(len(columns[0]) for columns in batches)
            bounds.append((p, row, row + rows))
            row += rows
        self._rows += row
        ordered = [columns for _, batches in pending for columns in batches]
        sent, dropped = [], []
        for c, column in enumerate(self._columns):
            # All partitions of a column at once: one dictionary, typed and hashed once.
            digest = _digest(column, self._joined([columns[c] for columns in ordered]))
            was_numeric = column.numeric
            self._count(column, digest)
            if was_numeric and not column.numeric:
                dropped.append(c)
            if column.numeric:
                column_batches, low, high = _numeric_batches(c, digest, bounds)
                sent.extend(column_batches)
                if not math.isnan(low):
                    column.minimum, column.maximum = min(column.minimum, low), max(column.maximum, high)
        if dropped:
            self._numeric_call("drop", dropped)
        self._numeric_call("add", sent)

    @staticmethod
    def _joined(arrays: list[pa.Array]) -> pa.Array:
        if len(arrays) == 1:
            return arrays[0]
        if len({array.type for array in arrays}) > 1:
            arrays = [array.cast(pa.string()) if pa.types.is_dictionary(array.type) else array for array in arrays]
        return pa.concat_arrays(arrays)

    @staticmethod
    def _count(column: _Column, digest: _Digest) -> None:
        present_counts = digest.counts[:-1]
        column.type_counts += np.bincount(digest.codes, weights=present_counts, minlength=len(TYPE_NAMES)).astype(
            np.int64
        )
        present = (present_counts > 0) & (digest.codes != UNKNOWN)
        if column.numeric and np.isin(digest.codes[present], (BOOLEAN, STRING)).any():
            column.numeric = False
        if not present.any():
            return
        unhashed = present & digest.fresh
        if unhashed.any():
            new_values = digest.dictionary.filter(bool_array(unhashed))
            np.maximum(column.registers, hll.registers_of(hll.xxhash64(new_values)), out=column.registers)
        if column.value_counts is not None:
            if present.sum() > VALUE_COUNT_CAP:
                column.value_counts = None
                return
            values = digest.dictionary.filter(bool_array(present)).to_pylist()
            for value, count in zip(values, present_counts[present].tolist(), strict=True):
                column.value_counts[value] = column.value_counts.get(value, 0) + count
            if len(column.value_counts) > VALUE_COUNT_CAP:
                column.value_counts = None

    def close(self) -> None:
        """Stop the numeric child process, if any, without a result (safe to call twice)."""
        if isinstance(self._numeric, AggregatorProcess):
            self._numeric.close()

    def result(self) -> Profile:
        """The profile of everything added so far (call once: it ends the numeric aggregation)."""
        if self._pending:
            self._flush()
        numeric_columns = [c for c, column in enumerate(self._columns) if column.numeric]
        merged = self._aggregator().finish(numeric_columns)
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
                statistics = _numerical(merged[c], column, common, distinct, completeness)
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


def _numerical(merged: numeric.Result, column: _Column, common: dict, distinct: int, completeness: float) -> dict:
    statistics: dict = {"common": common}
    if merged.count == 0:
        # Every present value failed Spark's cast: Deequ has no numeric metrics to report.
        statistics.update({"approximate_num_distinct_values": distinct, "completeness": completeness})
        return statistics
    low = min(kll.KLL_MIN_START, column.minimum)
    high = max(kll.KLL_MAX_START, column.maximum)
    statistics.update(
        {
            "mean": merged.total / merged.count,
            "sum": merged.total,
            "std_dev": numeric.std_dev(merged),
            "min": column.minimum,
            "max": column.maximum,
            "approximate_num_distinct_values": distinct,
            "completeness": completeness,
            "distribution": {
                "kll": {
                    "buckets": kll.buckets(merged.sketch.levels, low, high),
                    "sketch": {
                        "parameters": {"c": kll.SHRINKING_FACTOR, "k": float(kll.SKETCH_SIZE)},
                        "data": merged.sketch.data(),
                    },
                }
            },
        }
    )
    return statistics
