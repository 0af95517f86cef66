"""A reduced `make demo`: the whole loop against moto, and that it stops everything on error and Ctrl-C."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from model import synthetic
from tests.workshop_helpers import small_model
from workshop import demo
from workshop.demo import DemoConfig, DemoError, run_demo


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo-model")
    small_model(folder / "model.tar.gz", rows=1000, rounds=20)
    synthetic.write_csv(folder / "train.csv", 1000, seed=6)
    return folder


def config(model_files, tmp_path) -> DemoConfig:
    return DemoConfig(model=model_files / "model.tar.gz", train_csv=model_files / "train.csv",
                      workdir=tmp_path / "demo", requests_per_hour=200, seconds_per_hour=1.0, concurrency=4)


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
    assert run_demo(config(model_files, tmp_path)) == 0
    out = capsys.readouterr().out
    assert "first hour:  Completed: Job completed successfully with no violations." in out
    assert "drift on the inputs: CustServ Calls, Day Mins (the drifted scenario changes exactly: CustServ Calls, " \
           "Day Mins)" in out
    assert "Subject: churn-demo: " in out and "Model monitoring found" in out
    assert lingering(before) == []
    assert os.environ.get("AWS_ENDPOINT_URL") == endpoint_url

    workdir = tmp_path / "demo"
    reports = sorted(workdir.glob("report-*.html"))
    assert len(reports) == 2 and all("<svg" in r.read_text() for r in reports)
    # The emulator's bucket, copied out: every request captured once, two hour folders, two runs.
    bucket = workdir / "s3" / "churn-monitor-demo"
    captures = list((bucket / "datacapture" / "churn-demo" / "AllTraffic").rglob("*.jsonl"))
    records = [json.loads(line) for path in captures for line in path.read_text().splitlines()]
    assert len(records) == 400 and len({r["eventMetadata"]["eventId"] for r in records}) == 400
    assert len({path.parent for path in captures}) == 2
    runs = sorted((bucket / "reports" / "churn-demo").rglob("constraint_violations.json"))
    assert [len(json.loads(p.read_text())["violations"]) for p in runs][0] == 0
    assert len(runs) == 2 and json.loads(runs[1].read_text())["violations"]


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
