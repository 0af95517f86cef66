"""A reduced `make demo`: the whole loop against moto, and that it stops everything on error and Ctrl-C."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from model import synthetic
from tests.workshop_helpers import small_model
from workshop import demo
from workshop.baseline import validation_predictions
from workshop.demo import DemoConfig, DemoError, run_demo


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-model")
    booster = small_model(folder / "model.tar.gz", rows=1000, rounds=20)
    synthetic.write_csv(folder / "train.csv", 1000, seed=6)
    synthetic.write_csv(folder / "holdout.csv", 1000, seed=77)
    validation_predictions(folder / "holdout.csv", booster, folder / "validation.csv")
    return folder


def config(model_files, tmp_path) -> DemoConfig:
    # 300 requests an hour: above the 200 matched records that give standard deviations.
    return DemoConfig(model=model_files / "model.tar.gz", train_csv=model_files / "train.csv",
                      validation_csv=model_files / "validation.csv", workdir=tmp_path / "demo",
                      requests_per_hour=300, seconds_per_hour=0.5, concurrency=4,
                      now=datetime(2024, 5, 1, 12, 20, tzinfo=UTC))


def lingering(before: list[threading.Thread]) -> list[str]:
    """Threads started since `before` that are still alive after a short grace period."""
    deadline = time.monotonic() + 5
    while True:
        extra = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.05)


def test_reduced_demo_runs_the_whole_loop(model_files, tmp_path, capsys):
    before, endpoint_url = threading.enumerate(), os.environ.get("AWS_ENDPOINT_URL")
    result = demo.Demo(config(model_files, tmp_path), demo.Output(), threading.Event()).run()
    assert lingering(before) == []
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_url

    # Data quality: hour 1 clean, hour 2 drift on exactly the drifted inputs (and the model's output), hour 3
    # clean although its outcomes changed; one alert.
    clean, drifted, shifted = result.data_quality
    hour = datetime(2024, 5, 1, 8, tzinfo=UTC)  # the third hour's model-quality run is at `now`, 12:00
    assert [r.run_hour for r in result.data_quality] == [hour + timedelta(hours=h) for h in (1, 2, 3)]
    assert clean.violations == [] and shifted.violations == []
    drift = synthetic.SCENARIOS["drifted"]
    assert {v.feature_name for v in drifted.violations} - {"Churn Probability"} == set(drift.scale) | set(drift.shift)
    assert [len(r.alerts) for r in result.data_quality] == [0, 1, 0]

    # Model quality: the labelled hours 1 and 3, each run two hours later; every prediction matched its label.
    normal, concept = result.model_quality
    assert (normal.hour, normal.run_hour) == (hour, hour + timedelta(hours=2))
    assert (concept.hour, concept.run_hour) == (hour + timedelta(hours=2), hour + timedelta(hours=4))
    assert normal.summary.matched == concept.summary.matched == 300 == normal.labels == concept.labels
    assert normal.violations == [] and normal.alerts == []
    assert {"auc", "recall", "f2"} <= set(concept.violated)
    assert len(concept.alerts) == 1 and "auc" in concept.alerts[0]["Message"]

    workdir = tmp_path / "demo"
    reports = [r.html for r in result.data_quality + result.model_quality]
    assert all(path.exists() and "<svg" in path.read_text() for path in reports)
    # The emulator's bucket, copied out: every request captured once with its InferenceId, three hour
    # folders, ground truth in the hours after the first and third, five runs.
    bucket = workdir / "s3" / "churn-monitor-demo"
    captures = list((bucket / "datacapture" / "churn-demo" / "AllTraffic").rglob("*.jsonl"))
    records = [json.loads(line) for path in captures for line in path.read_text().splitlines()]
    assert len(records) == 900 and len({r["eventMetadata"]["inferenceId"] for r in records}) == 900
    assert len({path.parent for path in captures}) == 3
    truth = sorted((bucket / "ground-truth" / "churn-demo").rglob("*.jsonl"))
    assert [p.parent.relative_to(bucket / "ground-truth" / "churn-demo").as_posix() for p in truth] == [
        "2024/05/01/09", "2024/05/01/11"]
    assert len(list((bucket / "reports" / "churn-demo").rglob("constraint_violations.json"))) == 5


def test_loosened_constraints_move_each_threshold_in_the_metrics_favour_within_0_and_1():
    from workshop.demo_quality import loosen

    suggested = {"version": 0.0, "binary_classification_constraints": {
        "recall": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"},
        "auc": {"threshold": 0.1, "comparison_operator": "LessThanThreshold"},
        "false_positive_rate": {"threshold": 0.03, "comparison_operator": "GreaterThanThreshold"},
        "false_negative_rate": {"threshold": 0.95, "comparison_operator": "GreaterThanThreshold"}}}
    loosened = loosen(suggested, 0.15)["binary_classification_constraints"]
    assert {name: item["threshold"] for name, item in loosened.items()} == pytest.approx(
        {"recall": 0.35, "auc": 0.0, "false_positive_rate": 0.18, "false_negative_rate": 1.0})
    assert [item["comparison_operator"] for item in loosened.values()] == [
        item["comparison_operator"] for item in suggested["binary_classification_constraints"].values()]
    assert suggested["binary_classification_constraints"]["recall"]["threshold"] == 0.5  # a copy


def test_an_error_midway_stops_everything(model_files, tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise DemoError("the monitoring run broke")

    monkeypatch.setattr(demo.Demo, "monitor", fail)
    before, endpoint_url = threading.enumerate(), os.environ.get("AWS_ENDPOINT_URL")
    assert run_demo(config(model_files, tmp_path)) == 1
    assert "error: the monitoring run broke" in capsys.readouterr().err
    assert lingering(before) == []
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_url


def test_ctrl_c_during_traffic_stops_everything(model_files, tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "send_rows", interrupted)
    before = threading.enumerate()
    assert run_demo(config(model_files, tmp_path)) == 130
    assert "interrupted" in capsys.readouterr().err
    assert lingering(before) == []


def test_missing_model_is_explained(tmp_path, capsys):
    missing = DemoConfig(model=tmp_path / "nope.tar.gz", train_csv=tmp_path / "train.csv", workdir=tmp_path / "d")
    assert run_demo(missing) == 1
    assert "nope.tar.gz is missing; build the model first with `make model`" in capsys.readouterr().err


def test_a_foreign_workdir_is_never_deleted(model_files, tmp_path, capsys):
    precious = tmp_path / "demo" / "notes.txt"
    precious.parent.mkdir()
    precious.write_text("keep me")
    assert run_demo(config(model_files, tmp_path)) == 1
    assert "is not empty and not a previous demo's folder" in capsys.readouterr().err
    assert precious.read_text() == "keep me"
