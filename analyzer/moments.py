"""The moments of the profiler's numeric columns: Spark's `CentralMomentAgg` update and merge.

Per partition and column, value by value (`delta = x - avg; n += 1; avg += delta / n;
m2 += delta * (delta - delta / n)`), then the partitions' buffers merged in partition order.

The recurrence is sequential per column. In the child process (large inputs), with numba
installed, it is compiled (the same floating-point operations in the same order, so the same bits;
no fast-math, so no fused multiply-add); otherwise (small inputs, or the SageMaker processing
image, which has no numba) it runs as one numpy loop over rows with every (partition, column) as
a lane, so its cost is per row, not per value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from analyzer.numeric import Block, _Partition

WELFORD_CHUNK = 4096  # rows of the moment recurrence held in memory at once
# Below this magnitude (every value and the running mean; m2 below its cube) no step of the update
# can overflow or meet inf - inf, so numpy's lanes never warn. A lane beyond it (a "1e400" read as
# infinity, say) takes Python floats: the same IEEE operations as Spark's doubles, which give
# NaN or infinity as Java does, without warnings.
TAME_MAGNITUDE = 1e100


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
        _compiled_welford(kernel, partitions, blocks)
    else:
        _lane_welford(partitions, blocks)


def _compiled_welford(kernel: Callable, partitions: Sequence[_Partition], blocks: Sequence[Block]) -> None:
    """The compiled kernel, block by block: the block's columns' n, avg and m2 gathered, advanced, put back."""
    for block in blocks:
        if block.values.shape[1]:
            partition, columns = partitions[block.partition], block.columns
            n, avg, m2 = partition.n[columns], partition.mean[columns], partition.m2[columns]
            kernel(block.values, n, avg, m2)
            partition.n[columns], partition.mean[columns], partition.m2[columns] = n, avg, m2


def _scalar_update(n: float, avg: float, m2: float, values: np.ndarray) -> tuple[float, float, float]:
    """Spark's update value by value in Python floats (for lanes that are not tame)."""
    n, avg, m2 = float(n), float(avg), float(m2)
    for x in values.tolist():
        delta = x - avg
        n += 1.0
        delta_n = delta / n
        avg += delta_n
        m2 += delta * (delta - delta_n)
    return n, avg, m2


def _tame_lanes(partitions: Sequence[_Partition], blocks: Sequence[Block]) -> list[tuple[int, int, np.ndarray]]:
    """Every (partition, column, values) lane of the blocks whose values and state are below
    `TAME_MAGNITUDE`; the others are updated here, one value at a time in Python floats."""
    tame = []
    for block in blocks:
        partition = partitions[block.partition]
        for c, values in zip(block.columns.tolist(), block.values, strict=True):
            state = (partition.n[c], partition.mean[c], partition.m2[c])
            largest = float(np.abs(values).max()) if len(values) else 0.0
            if largest < TAME_MAGNITUDE and abs(state[1]) < TAME_MAGNITUDE and 0.0 <= state[2] < TAME_MAGNITUDE**3:
                tame.append((block.partition, c, values))
            else:
                partition.n[c], partition.mean[c], partition.m2[c] = _scalar_update(*state, values)
    return tame


def _lane_welford(partitions: Sequence[_Partition], blocks: Sequence[Block]) -> None:
    """The update as one numpy loop over rows, every (partition, column) a lane, longest first."""
    lanes = sorted(_tame_lanes(partitions, blocks), key=lambda lane: -len(lane[2]))
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
    for part in parts:
        # Python floats: a NaN or infinite buffer merges as in Spark, without numpy's warnings.
        n2, avg2, m2_right = (float(value) for value in part)
        new_n = n + n2
        delta = avg2 - avg
        delta_n = 0.0 if new_n == 0.0 else delta / new_n
        avg = avg + delta_n * n2
        m2 = m2 + m2_right + delta * delta_n * n * n2
        n = new_n
    return n, m2
