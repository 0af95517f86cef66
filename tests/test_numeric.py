"""`moments.welford` against Spark's CentralMomentAgg update written out value by value."""

import math
import warnings

import numpy as np
import pytest

from analyzer import moments, numeric


def _spark_moments(n: float, avg: float, m2: float, values: np.ndarray) -> tuple[float, float, float]:
    for x in values.tolist():
        delta = x - avg
        n += 1.0
        delta_n = delta / n
        avg += delta_n
        m2 += delta * (delta - delta_n)
    return n, avg, m2


def test_numba_is_installed_so_the_compiled_path_is_the_one_tested() -> None:
    assert moments.compiled_moments() is not None


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy-lockstep"])
def test_welford_matches_the_value_by_value_update_bit_for_bit_across_chunks_and_lane_lengths(compiled: bool) -> None:
    rng = np.random.default_rng(3)
    chunk = moments.WELFORD_CHUNK
    lengths = [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk + 17, 5, chunk, 5, 5]  # equal lengths share a block
    partitions = [numeric._Partition(len(lengths)) for _ in range(2)]
    lanes = []
    for p, partition in enumerate(partitions):
        partition.n[:] = rng.integers(0, 40, len(lengths))
        partition.mean[:] = rng.normal(50.0, 300.0, len(lengths))
        partition.m2[:] = rng.random(len(lengths)) * 1e5
        for c, length in enumerate(lengths):
            values = np.round(rng.normal(rng.normal(0.0, 1e4), 10.0 ** rng.uniform(-2, 5), length), 1)
            lanes.append((p, c, values))
    expected = {
        (p, c): _spark_moments(partitions[p].n[c], partitions[p].mean[c], partitions[p].m2[c], values)
        for p, c, values in lanes
    }
    by_length: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    for p, c, values in lanes:
        by_length.setdefault((p, len(values)), []).append((c, values))
    blocks = []
    for (p, n), group in by_length.items():
        values = np.array([values for _, values in group]).reshape(len(group), n)
        blocks.append(numeric.Block(p, np.array([c for c, _ in group]), values))
    moments.welford(partitions, blocks, compiled=compiled)
    for (p, c), (n, avg, m2) in expected.items():
        got = (partitions[p].n[c], partitions[p].mean[c], partitions[p].m2[c])
        assert [float(v).hex() for v in got] == [n.hex(), avg.hex(), m2.hex()], (p, c)


@pytest.mark.parametrize("compiled", [True, False], ids=["numba", "numpy-lockstep"])
@pytest.mark.parametrize(
    "values",
    [[1.0, np.inf, 2.0], [np.inf], [-np.inf, np.inf], [1e300, -1e300, 5.0], [2.0, 3.0, -np.inf]],
    ids=["inf-inside", "inf-alone", "both-infinities", "overflowing", "inf-last"],
)
def test_welford_of_infinite_or_huge_values_is_the_update_of_java_doubles_without_warnings(
    compiled: bool, values: list[float]
) -> None:
    # Lanes that are not tame take Python floats; the tame lane beside them keeps the numpy loop.
    partitions = [numeric._Partition(2)]
    block = numeric.Block(0, np.array([0, 1]), np.array([values, [4.0] * len(values)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        moments.welford(partitions, [block], compiled=compiled)
    for c, column in enumerate(block.values):
        expected = _spark_moments(0.0, 0.0, 0.0, column)
        got = (partitions[0].n[c], partitions[0].mean[c], partitions[0].m2[c])
        assert [float(v).hex() for v in got] == [v.hex() for v in expected], c


@pytest.mark.parametrize("values", [[1.5, np.inf, 2.5, -np.inf], [1e308, 1e308, -1e308], [0.5, -np.inf, 2.5]], ids=str)
def test_sums_that_reach_infinity_are_added_left_to_right_without_warnings(values: list[float]) -> None:
    table = np.append(np.unique(values), np.nan)
    indices = np.searchsorted(table[:-1], values)
    aggregator = numeric.NumericAggregator(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for partition in range(2):  # the partitions' sums are then merged in order
            aggregator.add([numeric.Batch(partition, 0, table, indices, clean=True)])
        result = aggregator.finish([0])[0]
    partition_sum = 0.0
    for value in values:
        partition_sum += value
    expected = 0.0 + partition_sum + partition_sum
    assert float(result.total).hex() == expected.hex()
    assert math.isnan(result.m2)
