"""`moments.welford` against Spark's CentralMomentAgg update written out value by value."""

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
