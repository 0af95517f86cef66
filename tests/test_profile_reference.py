"""The profiler reproduces the real 2020 churn baseline bit for bit, however the rows are batched."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from analyzer import kll, profile
from analyzer.profile import Profiler
from tests.data import churn_reference as ref

NAMES = list(ref.COLUMN_VALUES)


def _columns(start: int = 0, stop: int | None = None) -> list[pa.Array]:
    return [pa.array(ref.COLUMN_VALUES[name][start:stop]) for name in NAMES]


def _profile_in_batches(sizes: list[int]) -> dict:
    profiler = Profiler(NAMES)
    position = 0
    for size in sizes:
        profiler.update(_columns(position, position + size))
        position += size
    profiler.update(_columns(position))
    return profiler.result().statistics


def _assert_matches_service(statistics: dict) -> None:
    assert statistics["dataset"] == {"item_count": ref.ITEM_COUNT}
    assert [f["name"] for f in statistics["features"]] == NAMES
    for feature in statistics["features"]:
        expected = ref.EXPECTED[feature["name"]]
        assert feature["inferred_type"] == expected["inferred_type"]
        stats = feature["numerical_statistics"]
        assert stats["common"] == {"num_present": ref.ITEM_COUNT, "num_missing": 0}
        for key in ("sum", "mean", "std_dev", "min", "max"):
            assert stats[key] == expected[key], (feature["name"], key)
        distribution = stats["distribution"]["kll"]
        assert [b["lower_bound"] for b in distribution["buckets"]] == expected["lower_bounds"]
        assert [b["upper_bound"] for b in distribution["buckets"]] == expected["upper_bounds"]
        assert [b["count"] for b in distribution["buckets"]] == expected["counts"]
        assert distribution["sketch"]["parameters"] == {"c": 0.64, "k": 2048.0}
        assert distribution["sketch"]["data"] == expected["sketch_data"]
        assert stats["completeness"] == 1.0


def test_one_batch_matches_the_service() -> None:
    _assert_matches_service(_profile_in_batches([]))


@pytest.mark.parametrize("sizes", [[1, 2, 3], [700, 700], [2050, 1]])
def test_any_batching_matches_the_service(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> None:
    monkeypatch.setattr(profile, "FLUSH_CELLS", 5 * 3)  # flush nearly every batch
    _assert_matches_service(_profile_in_batches(sizes))


def test_2024_fields_are_added() -> None:
    feature = _profile_in_batches([])["features"][0]
    stats = feature["numerical_statistics"]
    assert list(stats) == (
        ["common", "mean", "sum", "std_dev", "min", "max"]
        + ["approximate_num_distinct_values", "completeness", "distribution"]
    )
    assert stats["approximate_num_distinct_values"] == 2  # Churn: "0" and "1"


def _spark_merge(parts: list[list[float]]) -> tuple[float, float, list[list[float]]]:
    """Sum, std_dev and sketch of partitions merged as Spark does, from scalar code."""
    total, n, avg, m2 = 0.0, 0.0, 0.0, 0.0
    final = kll.ReferenceSketch()
    for values in parts:
        s, pn, pavg, pm2 = 0.0, 0.0, 0.0, 0.0
        sketch = kll.ReferenceSketch()
        for x in values:
            s += x
            delta = x - pavg
            pn += 1.0
            pavg += delta / pn
            pm2 += delta * (delta - delta / pn)
            sketch.update(x)
        total += s
        new_n = n + pn
        delta = pavg - avg
        delta_n = delta / new_n
        avg = avg + delta_n * pn
        m2 = m2 + pm2 + delta * delta_n * n * pn
        n = new_n
        final.merge(sketch)
    return total, math.sqrt(m2 / n), final.state().data()


def test_partitions_merge_like_spark() -> None:
    day_mins = ref.COLUMN_VALUES["Day Mins"]
    cut = 1500
    profiler = Profiler(["Day Mins"], partitions=2)
    profiler.update([pa.array(day_mins[cut:])], partition=1)
    profiler.update([pa.array(day_mins[:cut])], partition=0)
    stats = profiler.result().statistics["features"][0]["numerical_statistics"]
    values = [float(v) for v in day_mins]
    total, std_dev, data = _spark_merge([values[:cut], values[cut:]])
    assert (stats["sum"], stats["std_dev"], stats["distribution"]["kll"]["sketch"]["data"]) == (total, std_dev, data)
    assert stats["mean"] == total / len(values)
    # Partitioning changes the low digits: the single-pass figures differ.
    assert stats["std_dev"] != ref.EXPECTED["Day Mins"]["std_dev"]


def test_missing_and_unparseable_values() -> None:
    profiler = Profiler(["x"])
    profiler.update([pa.array(["1", "", None, " 2", "- 3", "4.5"])])
    result = profiler.result()
    stats = result.statistics["features"][0]["numerical_statistics"]
    assert result.statistics["features"][0]["inferred_type"] == "Fractional"
    assert stats["common"] == {"num_present": 4, "num_missing": 2}
    # "- 3" is present and numeric-looking, but Spark's cast fails: left out of the numbers.
    assert (stats["sum"], stats["mean"], stats["min"], stats["max"]) == (7.5, 2.5, 1.0, 4.5)
    assert stats["completeness"] == 4 / 6
    assert result.type_counts["x"] == {"Integral": 3, "Fractional": 1, "Boolean": 0, "String": 0}


def test_string_columns_get_categorical_buckets_and_counts() -> None:
    profiler = Profiler(["state", "flag", "id", "empty"])
    states = ["Ohio"] * 3 + ["Texas"] * 3 + ["Utah"]
    profiler.update(
        [
            pa.array(states),
            pa.array(["true", "false", "true", "true", "", "false", "true"]),
            pa.array([f"id-{i}" for i in range(7)]),
            pa.array([None] * 7, type=pa.string()),
        ]
    )
    result = profiler.result()
    state, flag, ids, empty = result.statistics["features"]
    assert state["inferred_type"] == "String"
    assert state["string_statistics"]["distinct_count"] == 3.0
    assert state["string_statistics"]["distribution"]["categorical"]["buckets"] == [
        {"value": "Ohio", "count": 3},
        {"value": "Texas", "count": 3},
        {"value": "Utah", "count": 1},
    ]
    assert flag["inferred_type"] == "String"  # a Boolean column is written as String
    assert result.type_counts["flag"]["Boolean"] == 6
    assert result.value_counts["flag"] == {"true": 4, "false": 2}
    assert ids["string_statistics"]["distinct_count"] == 7.0
    assert empty["inferred_type"] == "Unknown"
    assert empty["string_statistics"]["common"] == {"num_present": 0, "num_missing": 7}
    assert result.value_counts["empty"] is None


def test_high_cardinality_strings_have_no_histogram() -> None:
    profiler = Profiler(["id"])
    profiler.update([pa.array([f"customer-{i}" for i in range(5000)])])
    result = profiler.result()
    stats = result.statistics["features"][0]["string_statistics"]
    assert "distribution" not in stats
    assert abs(stats["distinct_count"] - 5000) < 500
    assert result.value_counts["id"] is None


def test_a_late_string_turns_a_numeric_column_into_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "FLUSH_CELLS", 1)
    profiler = Profiler(["x"])
    profiler.update([pa.array(["1", "2", "1"])])
    profiler.update([pa.array(["oops"])])
    result = profiler.result()
    feature = result.statistics["features"][0]
    assert feature["inferred_type"] == "String"
    assert feature["string_statistics"]["distribution"]["categorical"]["buckets"][0] == {"value": "1", "count": 2}


def test_buckets_start_from_deequs_initial_min_above_int_range() -> None:
    # Deequ's KLL buffer starts its minimum at Int.MaxValue: it leaks into the bucket bounds.
    profiler = Profiler(["big"])
    profiler.update([pa.array(["3000000000", "4000000000"])])
    stats = profiler.result().statistics["features"][0]["numerical_statistics"]
    assert stats["min"] == 3e9
    buckets = stats["distribution"]["kll"]["buckets"]
    assert buckets[0]["lower_bound"] == 2147483647.0
    assert sum(b["count"] for b in buckets) == 2.0


def test_batch_shape_errors_are_explicit() -> None:
    profiler = Profiler(["a", "b"])
    with pytest.raises(ValueError, match="2"):
        profiler.update([pa.array(["1"])])
    with pytest.raises(ValueError, match="partition"):
        profiler.update([pa.array(["1"]), pa.array(["2"])], partition=3)
    with pytest.raises(ValueError, match="duplicate"):
        Profiler(["a", "a"])


def test_negative_zero_is_sorted_first_in_sketches() -> None:
    profiler = Profiler(["z"])
    profiler.update([pa.array(["0.0", "-0.0"] * 1100)])
    data = profiler.result().statistics["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
    assert np.signbit(data[1][0]) and not np.signbit(data[1][-1])


def test_unused_dictionary_entries_are_counted_when_they_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profile, "FLUSH_CELLS", 1)
    dictionary = pa.array(["a", "b", "c"])
    profiler = Profiler(["x"])
    # The first batch's dictionary also lists "c", which no row uses yet.
    profiler.update([pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), dictionary)])
    profiler.update([pa.DictionaryArray.from_arrays(pa.array([2, 2], pa.int32()), dictionary)])
    stats = profiler.result().statistics["features"][0]["string_statistics"]
    assert stats["distinct_count"] == 3.0
    assert {b["value"]: b["count"] for b in stats["distribution"]["categorical"]["buckets"]} == {"a": 2, "b": 1, "c": 2}


@pytest.mark.parametrize("background", [False, True])
def test_many_flushes_with_missing_values_match_scalar_spark(monkeypatch: pytest.MonkeyPatch, background: bool) -> None:
    monkeypatch.setattr(profile, "FLUSH_CELLS", 777 * 3)
    rng = np.random.default_rng(5)
    n = 6000
    minutes = [f"{v:.1f}" for v in rng.normal(180.0, 50.0, n)]
    calls = [str(v) for v in rng.integers(0, 9, n)]
    flags = [str(v) for v in rng.integers(0, 2, n)]
    for column in (minutes, calls):
        for i in rng.choice(n, 300, replace=False):
            column[i] = ""  # missing values give the columns different lengths per flush
    names = ["minutes", "calls", "flag"]
    profiler = Profiler(names, partitions=2, background=background)
    cut = 3500
    pieces = [(partition, start, min(start + 500, high)) for partition, (low, high) in enumerate([(0, cut), (cut, n)])
              for start in range(low, high, 500)]  # fmt: skip
    for partition, a, b in sorted(pieces, key=lambda piece: (piece[1] - (cut if piece[0] else 0), piece[0])):
        # The two partitions arrive interleaved, in pieces, each in its own order.
        profiler.update([pa.array(col[a:b]) for col in (minutes, calls, flags)], partition=partition)
    features = profiler.result().statistics["features"]
    for feature, column in zip(features, (minutes, calls, flags), strict=True):
        parts = [[float(v) for v in column[:cut] if v], [float(v) for v in column[cut:] if v]]
        total, std_dev, data = _spark_merge(parts)
        stats = feature["numerical_statistics"]
        sketch = stats["distribution"]["kll"]["sketch"]["data"]
        assert (stats["sum"], stats["std_dev"], sketch) == (total, std_dev, data)
        assert stats["common"]["num_present"] == sum(len(part) for part in parts)
