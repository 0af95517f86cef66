"""The bulk KLL sketch equals Deequ's one-at-a-time algorithm, and matches real service output."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import kll
from tests.data import churn_reference as ref


def _bulk(values: np.ndarray, chunks: list[int]) -> kll.SketchState:
    group = kll.SketchGroup(1)
    position = 0
    for size in chunks:
        group.update(values[None, position : position + size])
        position += size
    group.update(values[None, position:])
    return group.states()[0]


def _reference(values: np.ndarray) -> kll.SketchState:
    sketch = kll.ReferenceSketch()
    for value in values.tolist():
        sketch.update(value)
    return sketch.state()


def _assert_same(a: kll.SketchState, b: kll.SketchState) -> None:
    assert len(a.levels) == len(b.levels)
    for level_a, level_b in zip(a.levels, b.levels, strict=True):
        # Bit-level equality: tells -0.0 from 0.0.
        assert level_a.tobytes() == level_b.tobytes()
    assert a.num_compress == b.num_compress
    assert a.offsets == b.offsets


def _stream(seed: int, size: int, kind: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "binary":
        return rng.integers(0, 2, size).astype(np.float64)
    if kind == "zeros":
        # Signed zeros must sort as Java does (-0.0 first).
        return rng.choice([-0.0, 0.0, 1.5, -2.0], size)
    return np.round(rng.normal(100.0, 30.0, size), 1)


def test_capacities_are_deequs() -> None:
    assert [kll.capacity(h) for h in range(6)] == [2050, 1314, 842, 540, 346, 222]


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=50_000),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    kind=st.sampled_from(["normal", "binary", "zeros"]),
    chunk_seed=st.integers(min_value=0, max_value=1000),
)
def test_bulk_equals_one_at_a_time(size: int, seed: int, kind: str, chunk_seed: int) -> None:
    values = _stream(seed, size, kind)
    chunks = np.random.default_rng(chunk_seed).integers(1, 7000, 40).tolist()
    _assert_same(_bulk(values, chunks), _reference(values))


@pytest.mark.parametrize("size", [120_001, 262_144])
def test_bulk_equals_one_at_a_time_large(size: int) -> None:
    values = _stream(size, size, "normal")
    state = _bulk(values, [size // 3, 5, 70_000])
    assert len(state.levels) >= 6
    _assert_same(state, _reference(values))


@settings(max_examples=10, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=9000), min_size=1, max_size=4),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_partition_merge_equals_reference_merge(sizes: list[int], seed: int) -> None:
    parts = [_stream(seed + i, n, "normal") for i, n in enumerate(sizes)]
    merged = kll.finalize_partitions([_bulk(part, [777]) for part in parts])
    expected = kll.ReferenceSketch()
    for part in parts:
        partial = kll.ReferenceSketch()
        for value in part.tolist():
            partial.update(value)
        expected.merge(partial)
    _assert_same(merged, expected.state())
    assert merged.count == sum(sizes)


@settings(max_examples=15, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=30_000),
    seed=st.integers(min_value=0, max_value=1000),
    third_value_at=st.one_of(st.none(), st.integers(min_value=0, max_value=30_000)),
)
def test_counting_two_valued_rows_equals_sorting(size: int, seed: int, third_value_at: int | None) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, 1.0], size=(2, size), p=[0.9, 0.1])
    if third_value_at is not None and third_value_at < size:
        values[1, third_value_at] = 7.0  # row 1 stops being two-valued: back to sorting
    group = kll.SketchGroup(2)
    for start in range(0, size, 4000):
        chunk = values[:, start : start + 4000]
        pairs = np.array([[row.min(), row.max()] if len(np.unique(row)) <= 2 else [np.nan, np.nan] for row in chunk])
        group.update(chunk, pairs=pairs)
    for row, state in enumerate(group.states()):
        _assert_same(state, _reference(values[row]))


def test_group_rows_are_independent_sketches() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(3, 9000))
    group = kll.SketchGroup(3)
    group.update(values[:, :4000])
    group.update(values[:, 4000:])
    for row, state in enumerate(group.states()):
        _assert_same(state, _reference(values[row]))
    _assert_same(group.select([2]).states()[0], _reference(values[2]))


def test_level_sizes_match_real_housing_baseline() -> None:
    # housing-baseline-2024: 23,432 rows give levels of 266, 1093, 2127, 1 and 779 items.
    state = kll.finalize_partitions([_bulk(np.arange(23_432, dtype=np.float64), [])])
    assert [len(level) for level in state.levels] == [266, 1093, 2127, 1, 779]


def test_final_merge_condenses_a_full_sketch() -> None:
    # Spark's final merge condenses while stored items >= capacity: 2050 values leave level 0 empty.
    state = kll.finalize_partitions([_bulk(np.arange(2050, dtype=np.float64), [])])
    assert [len(level) for level in state.levels] == [0, 1025]
    assert state.levels[1].tolist() == list(np.arange(0, 2050, 2, dtype=np.float64))


@pytest.mark.parametrize("name", ["Churn", "Day Mins", "CustServ Calls"])
def test_churn_sketch_and_buckets_match_the_service(name: str) -> None:
    values = np.array([float(v) for v in ref.COLUMN_VALUES[name]])
    expected = ref.EXPECTED[name]
    state = kll.finalize_partitions([_bulk(values, [1000])])
    assert state.data() == expected["sketch_data"]
    got = kll.buckets(state.levels, float(values.min()), float(values.max()))
    assert [b["lower_bound"] for b in got] == expected["lower_bounds"]
    assert [b["upper_bound"] for b in got] == expected["upper_bounds"]
    assert [b["count"] for b in got] == expected["counts"]


def test_buckets_are_half_open_except_the_last() -> None:
    levels = [np.arange(11, dtype=np.float64)]  # 0..10, one value on each bound
    got = kll.buckets(levels, 0.0, 10.0)
    assert [b["count"] for b in got] == [1.0] * 9 + [2.0]
    assert got[3] == {"lower_bound": 3.0, "upper_bound": 4.0, "count": 1.0}


def test_bucket_bounds_use_deequs_evaluation_order() -> None:
    got = kll.buckets([np.array([0.0, 1.0])], 0.0, 1.0)
    # (1.0 - 0.0) * 3 / 10 = 0.3, as the service writes it; 0.0 + 3 * (1.0 / 10) = 0.30000000000000004.
    assert got[2]["upper_bound"] == got[3]["lower_bound"] == 0.3
    assert [b["count"] for b in got] == [1.0] + [0.0] * 8 + [1.0]


def test_ranks_weigh_items_by_level() -> None:
    items, cumulative = kll.sorted_items([[5.0, 1.0], [3.0], [1.0]])
    assert items.tolist() == [1.0, 1.0, 3.0, 5.0]
    assert cumulative.tolist() == [1, 5, 7, 8]
    keys = np.array([0.5, 1.0, 2.0, 5.0, 6.0])
    assert kll.rank_exclusive(items, cumulative, keys).tolist() == [0, 0, 5, 7, 8]
    assert kll.rank_inclusive(items, cumulative, keys).tolist() == [0, 5, 5, 8, 8]


def test_a_column_holding_an_infinity_keeps_every_count_non_negative() -> None:
    # "1e400" reads as Infinity: the first lower bound is (inf - 3) * 0 = NaN, every other bound inf.
    result = kll.buckets([[3.0, 4.0, np.inf]], 3.0, np.inf)
    counts = [b["count"] for b in result]
    assert np.isnan(result[0]["lower_bound"]) and all(b["upper_bound"] == np.inf for b in result)
    # A NaN bound ranks 0 (the JVM's `item < NaN` is false): 3 and 4 in the first bucket, inf in the last.
    assert counts == [2.0] + [0.0] * 8 + [1.0]
    assert sum(counts) == 3 and min(counts) >= 0


def test_a_nan_key_ranks_zero_both_ways() -> None:
    items, cumulative = kll.sorted_items([[1.0, 2.0], [5.0]])
    keys = np.array([np.nan, 2.0, 10.0])
    assert list(kll.rank_exclusive(items, cumulative, keys)) == [0, 1, 4]
    assert list(kll.rank_inclusive(items, cumulative, keys)) == [0, 2, 4]
