"""Baselining end to end: a CSV file in, statistics.json and constraints.json out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer import partitions, profile
from analyzer.aggregator_process import AggregatorProcess
from analyzer.baseline import profile_dataset, suggest_baseline
from analyzer.suggest import suggest_constraints
from contract.documents import MonitoringConfig
from contract.errors import DatasetError
from tests.data import churn_reference as ref


def _write_churn_columns(path: Path) -> None:
    names = list(ref.COLUMN_VALUES)
    rows = zip(*(ref.COLUMN_VALUES[name] for name in names), strict=True)
    path.write_text(",".join(names) + "\n" + "".join(",".join(row) + "\n" for row in rows))


def test_baseline_files_match_the_service(tmp_path: Path) -> None:
    dataset = tmp_path / "train.csv"
    _write_churn_columns(dataset)
    suggest_baseline(str(dataset), str(tmp_path / "out"))
    text = (tmp_path / "out" / "statistics.json").read_text()
    assert text.startswith('{\n  "version" : 0.0,\n  "dataset" : {\n    "item_count" : 2333\n  },')
    statistics = json.loads(text)
    for feature in statistics["features"]:
        expected = ref.EXPECTED[feature["name"]]
        stats = feature["numerical_statistics"]
        assert [stats[k] for k in ("sum", "mean", "std_dev", "min", "max")] == [
            expected[k] for k in ("sum", "mean", "std_dev", "min", "max")
        ]
        assert stats["distribution"]["kll"]["sketch"]["data"] == expected["sketch_data"]
    constraints = json.loads((tmp_path / "out" / "constraints.json").read_text())
    assert constraints["features"] == [
        {"name": name, "inferred_type": ref.EXPECTED[name]["inferred_type"], "completeness": 1.0,
         "num_constraints": {"is_non_negative": True}}
        for name in ref.COLUMN_VALUES
    ]  # fmt: skip
    assert constraints["monitoring_config"] == MonitoringConfig().to_document()


def test_background_process_gives_identical_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = tmp_path / "train.csv"
    _write_churn_columns(dataset)
    monkeypatch.setattr(profile, "FLUSH_CELLS", 500 * 3)
    in_process = profile_dataset(str(dataset)).statistics
    started = []
    monkeypatch.setattr(profile, "PROCESS_AFTER_ROWS", 0)
    monkeypatch.setattr(AggregatorProcess, "__init__", _recording(AggregatorProcess.__init__, started))
    assert profile_dataset(str(dataset)).statistics == in_process
    assert started


def _recording(function, calls: list):
    def wrapper(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    return wrapper


def test_partitions_keep_counts_and_exact_integer_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = tmp_path / "train.csv"
    _write_churn_columns(dataset)
    single = profile_dataset(str(dataset)).statistics["features"]
    monkeypatch.setattr(partitions, "OPEN_COST_BYTES", 4096)
    monkeypatch.setattr(partitions, "MAX_PARTITION_BYTES", 4096)
    split = profile_dataset(str(dataset)).statistics["features"]
    for one, many in zip(single, split, strict=True):
        a, b = one["numerical_statistics"], many["numerical_statistics"]
        assert a["common"] == b["common"] and a["min"] == b["min"] and a["max"] == b["max"]
        sketch = b["distribution"]["kll"]["sketch"]["data"]
        assert sum(len(level) << h for h, level in enumerate(sketch)) == ref.ITEM_COUNT
    churn_single, churn_split = single[0]["numerical_statistics"], split[0]["numerical_statistics"]
    assert churn_single["sum"] == churn_split["sum"] == 325.0  # integers: exact in any order


def test_header_only_and_unreadable_datasets(tmp_path: Path) -> None:
    only_header = tmp_path / "header.csv"
    only_header.write_text("a,b\n")
    with pytest.raises(DatasetError, match="no data rows after the header"):
        suggest_baseline(str(only_header), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_string_features_and_negative_numbers(tmp_path: Path) -> None:
    dataset = tmp_path / "mixed.csv"
    dataset.write_text("state,delta,id\n" + "".join(f"{s},{d},id{i}\n" for i, (s, d) in enumerate(
        [("Ohio", "-1.5"), ("Texas", "2"), ("Ohio", "0")] * 100)))  # fmt: skip
    profile_result = suggest_baseline(str(dataset), str(tmp_path / "out"))
    constraints = json.loads((tmp_path / "out" / "constraints.json").read_text())["features"]
    assert constraints[0] == {
        "name": "state",
        "inferred_type": "String",
        "completeness": 1.0,
        "string_constraints": {"domains": ["Ohio", "Texas"]},
    }
    assert constraints[1]["num_constraints"] == {"is_non_negative": False}
    assert constraints[2] == {"name": "id", "inferred_type": "String", "completeness": 1.0}
    assert profile_result.value_counts["state"] == {"Ohio": 200, "Texas": 100}
    assert profile_result.value_counts["id"] is None


def test_suggested_completeness_uses_present_share() -> None:
    statistics = {
        "version": 0.0,
        "dataset": {"item_count": 4},
        "features": [
            {
                "name": "x",
                "inferred_type": "Integral",
                "numerical_statistics": {"common": {"num_present": 3, "num_missing": 1}, "min": 0.0},
            },
            {"name": "e", "inferred_type": "Unknown", "string_statistics": {"common": {"num_present": 0}}},
        ],
    }
    features = suggest_constraints(statistics)["features"]
    assert features[0] == {
        "name": "x",
        "inferred_type": "Integral",
        "completeness": 0.75,
        "num_constraints": {"is_non_negative": True},
    }
    assert features[1] == {"name": "e", "inferred_type": "Unknown", "completeness": 0.0}


def test_a_failing_read_stops_the_child_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = tmp_path / "bad.csv"
    dataset.write_text("a,b\n" + "1,2\n" * 3000 + "1,2,3\n")
    monkeypatch.setattr(profile, "FLUSH_CELLS", 500 * 3)
    monkeypatch.setattr(profile, "PROCESS_AFTER_ROWS", 0)
    processes: list = []
    start = _recording(AggregatorProcess.__init__, processes)
    monkeypatch.setattr(AggregatorProcess, "__init__", start)
    with pytest.raises(DatasetError, match="line 3002"):
        profile_dataset(str(dataset))
    assert processes and processes[0][0]._process.poll() is not None
