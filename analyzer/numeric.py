"""Order-dependent numeric aggregates of the profiler: sum, moments and KLL sketches.

Spark aggregates each input partition separately, then merges the partial buffers into a fresh
one in partition order. Per partition and column:

- sum: left to right from 0.0 (integer-valued sums below 2**53 are exact in any order, so they
  skip the sequential pass);
- moments: Spark's `CentralMomentAgg` update, value by value
  (`delta = x - avg; n += 1; avg += delta / n; m2 += delta * (delta - delta / n)`);
- a KLL sketch (`kll.SketchGroup`: columns that received the same number of values share one
  compaction schedule).

The moment recurrence is sequential per column. In the child process (large inputs), with numba
installed, it is compiled (the same floating-point operations in the same order, so the same bits;
no fast-math, so no fused multiply-add); otherwise (small inputs, or the SageMaker processing
image, which has no numba) it runs as one numpy loop over rows with every (partition, column) as
a lane, so its cost is per row, not per value.

`NumericAggregator` does the work in-process. `AggregatorProcess` runs the same object in a
child process so this work overlaps the parent's reading and typing (used for large inputs);
both have `add`, `drop` and `finish`.
"""

from __future__ import annotations

import math
import os
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from analyzer import kll

try:
    import fcntl
except ImportError:  # not on Windows: the default pipe size then applies
    fcntl = None

EXACT_INTEGER_BOUND = float(2**53)
PIPE_BYTES = 1 << 20  # Linux's default maximum pipe size for unprivileged processes
MAX_IN_FLIGHT = 4  # requests the parent may send ahead of the child (bounds the memory in flight)
WELFORD_CHUNK = 4096  # rows of the moment recurrence held in memory at once
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
        missing = np.bincount(self.indices, minlength=len(self.table))[np.isnan(self.table)]
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
                counts = np.bincount(batch.indices, minlength=len(batch.table))[:-1]
                used = (counts > 0) & known
                largest = float(np.abs(numbers[used]).max())
                if largest * len(values) + abs(self.sums[column]) < EXACT_INTEGER_BOUND:
                    self.sums[column] += float(np.dot(counts[used].astype(np.float64), numbers[used]))
                    return
            self.exact[column] = False
        self.sums[column] = float(np.cumsum(np.concatenate(([self.sums[column]], values)))[-1])

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


def _rows_of(where: dict[int, tuple[Block, int]], columns: np.ndarray) -> np.ndarray:
    """The values matrix of `columns` (all in one block): the block's own when it holds exactly
    these columns in this order (the usual case), else a copy of their rows."""
    block = where[int(columns[0])][0]
    rows = [where[c][1] for c in columns.tolist()]
    return block.values if rows == list(range(len(block.columns))) else block.values[rows]


def _moments(values: np.ndarray, n: np.ndarray, avg: np.ndarray, m2: np.ndarray) -> None:
    """Spark's update over a block's values, one lane per row, in place on `n`, `avg`, `m2`
    (compiled by `compiled_moments`). Lanes advance together, a value of each per step, so their
    independent dependency chains overlap in the processor instead of waiting on each division."""
    lanes, steps = values.shape
    for i in range(steps):
        for j in range(lanes):
            delta = values[j, i] - avg[j]
            n[j] += 1.0
            delta_n = delta / n[j]
            avg[j] += delta_n
            m2[j] += delta * (delta - delta_n)


_compiled_moments: list = []  # the compiled `_moments` (or None), once looked for


def compiled_moments():
    """`_moments` compiled by numba (cached on disk), or None without numba. Imported on first use:
    only the process that aggregates pays for loading numba."""
    if not _compiled_moments:
        try:
            import numba
        except ImportError:
            _compiled_moments.append(None)
        else:
            try:
                kernel = numba.njit(cache=True, nogil=True)(_moments)
            except RuntimeError:  # no writable cache folder: compile in memory (about a second more)
                kernel = numba.njit(nogil=True)(_moments)
            _compiled_moments.append(kernel)
    return _compiled_moments[0]


def warm_up() -> None:
    """Load numba and the compiled update now (about half a second), not at the first block."""
    kernel = compiled_moments()
    if kernel is not None:
        kernel(np.empty((1, 0)), np.zeros(1), np.zeros(1), np.zeros(1))


def welford(partitions: Sequence[_Partition], blocks: Sequence[Block], compiled: bool = True) -> None:
    """Advance the moments of every column of every block: compiled block by block when numba is
    there (and `compiled`), else every (partition, column) as a lane of one numpy loop.

    Spark's update, value by value: `delta = x - avg; n += 1; delta_n = delta / n;
    avg += delta_n; m2 += delta * (delta - delta_n)`. One numpy step per row covers every
    lane; lanes are ordered by length so the still-active ones are always a prefix. Rows go
    through in chunks of `WELFORD_CHUNK` to bound memory. (Keeping
    only `avg` in the loop and recomputing the rest with whole-array operations gives the same
    bits but measured barely faster: the loop cost is per numpy call, not per value.)
    """
    kernel = compiled_moments() if compiled else None
    if kernel is not None:
        for block in blocks:
            if block.values.shape[1]:
                partition, columns = partitions[block.partition], block.columns
                n, avg, m2 = partition.n[columns], partition.mean[columns], partition.m2[columns]
                kernel(block.values, n, avg, m2)
                partition.n[columns], partition.mean[columns], partition.m2[columns] = n, avg, m2
        return
    lanes = [
        (block.partition, c, values)
        for block in blocks
        for c, values in zip(block.columns.tolist(), block.values, strict=True)
    ]
    lanes = sorted(lanes, key=lambda lane: -len(lane[2]))
    lengths = np.array([len(values) for _, _, values in lanes])
    if not len(lanes) or lengths[0] == 0:
        return
    width, steps = len(lanes), int(lengths[0])
    n0 = np.array([partitions[p].n[c] for p, c, _ in lanes])
    mean = np.array([partitions[p].mean[c] for p, c, _ in lanes])
    m2 = np.array([partitions[p].m2[c] for p, c, _ in lanes])
    delta, delta_n, term = np.empty(width), np.empty(width), np.empty(width)
    subtract, divide, add, multiply = np.subtract, np.divide, np.add, np.multiply
    for start in range(0, steps, WELFORD_CHUNK):
        stop = min(start + WELFORD_CHUNK, steps)
        values = np.zeros((stop - start, width))
        for lane, (_, _, column) in enumerate(lanes):
            part = column[start:stop]
            values[: len(part), lane] = part
        counts = n0[None, :] + np.arange(start + 1.0, stop + 1.0)[:, None]
        row = start
        for active in range(width, 0, -1):
            end = min(int(lengths[active - 1]), stop)
            if end <= row:
                continue
            m, s, d, dn, t = mean[:active], m2[:active], delta[:active], delta_n[:active], term[:active]
            rows = slice(row - start, end - start)
            for x, n in zip(values[rows, :active], counts[rows, :active], strict=True):
                subtract(x, m, d)
                divide(d, n, dn)
                add(m, dn, m)
                subtract(d, dn, t)
                multiply(d, t, t)
                add(s, t, s)
            row = end
    for lane, (p, c, _) in enumerate(lanes):
        partitions[p].n[c] = n0[lane] + lengths[lane]
        partitions[p].mean[c] = mean[lane]
        partitions[p].m2[c] = m2[lane]


def merge_moments(parts: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """Spark's merge of (n, avg, m2) partition buffers into a fresh one; returns (n, m2)."""
    n, avg, m2 = 0.0, 0.0, 0.0
    for n2, avg2, m2_right in parts:
        new_n = n + n2
        delta = avg2 - avg
        delta_n = 0.0 if new_n == 0.0 else delta / new_n
        avg = avg + delta_n * n2
        m2 = m2 + m2_right + delta * delta_n * n * n2
        n = new_n
    return n, m2


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
                    total = total + partition.sums[c]
            count, m2 = merge_moments([(p.n[c], p.mean[c], p.m2[c]) for p in self._partitions])
            sketch = kll.finalize_partitions([p.sketch(c) for p in self._partitions])
            results[c] = Result(total, count, m2, sketch)
        return results


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Child side of `AggregatorProcess`: pickled `(method, argument)` in, `(kind, answer)` out.

    A reader thread unpickles requests into a queue, so the parent's writes never wait for the
    work of earlier requests.
    """
    # The reader thread must get the GIL quickly from the busy worker loop, or the parent's
    # writes stall on a full pipe.
    sys.setswitchinterval(0.0005)
    width, partitions = pickle.load(requests)
    aggregator = NumericAggregator(width, partitions, compiled=True)
    pending: queue.Queue = queue.Queue()

    def receive() -> None:
        while True:
            try:
                message = pickle.load(requests)
            except EOFError:
                message = ("stop", None)
            pending.put(message)
            if message[0] == "stop":
                return

    threading.Thread(target=receive, daemon=True).start()
    warm_up()  # while the parent reads its first rows
    while True:
        method, argument = pending.get()
        if method == "stop":
            # Every answer is flushed and nothing needs cleaning up: skip the interpreter's teardown
            # (unloading numba's LLVM takes a noticeable fraction of a second).
            os._exit(0)
        try:
            answer = ("done", getattr(aggregator, method)(argument))
        except Exception:  # reported to the parent, which raises it
            answer = ("error", traceback.format_exc())
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
        if answer[0] == "error":
            return


class AggregatorProcess:
    """`NumericAggregator` in a child Python process; `add`/`drop` return at once, `finish` waits.

    The child is a plain `python -c` (no re-import of the caller's `__main__`, unlike
    multiprocessing's spawn) fed through its standard input and output.
    """

    def __init__(self, width: int, partitions: int) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        environment = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        )
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from analyzer.numeric import serve; serve(sys.stdin.buffer, sys.stdout.buffer)",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        if fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
            try:
                fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:
                pass  # keep the default size
        self._in_flight = 0
        self._send((width, partitions))

    def _send(self, message: object) -> None:
        try:
            pickle.dump(message, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except BrokenPipeError:
            raise RuntimeError("the numeric aggregation process stopped unexpectedly") from None

    def _call(self, method: str, argument: object) -> None:
        while self._in_flight >= MAX_IN_FLIGHT:
            self._answer()
        self._send((method, argument))
        self._in_flight += 1

    def _answer(self) -> object:
        try:
            kind, answer = pickle.load(self._process.stdout)
        except EOFError:
            self.close()
            raise RuntimeError("the numeric aggregation process stopped unexpectedly") from None
        self._in_flight -= 1
        if kind == "error":
            self.close()
            raise RuntimeError(f"numeric aggregation failed in the child process:\n{answer}")
        return answer

    def add(self, batches: Sequence[Batch]) -> None:
        self._call("add", batches)

    def drop(self, columns: Sequence[int]) -> None:
        self._call("drop", list(columns))

    def finish(self, columns: Sequence[int]) -> dict[int, Result]:
        self._call("finish", list(columns))
        answer = None
        while self._in_flight:
            answer = self._answer()
        self.close()
        return answer

    def close(self) -> None:
        """Stop the child (idempotent); work still queued is abandoned."""
        if self._process.poll() is None:
            if self._in_flight:
                self._process.kill()
            else:
                try:
                    self._send(("stop", None))
                    self._process.stdin.close()
                except (RuntimeError, OSError):
                    self._process.kill()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if not self._process.stdout.closed:
            self._process.stdout.close()


def std_dev(result: Result) -> float:
    """Deequ's population standard deviation, sqrt(m2 / n)."""
    return math.sqrt(result.m2 / result.count)
