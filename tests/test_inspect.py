"""`python -m workshop captures` and `runs`: on a local folder, and on s3:// through AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from contract.layout import Window
from tests.capture_helpers import record, write_file
from tests.workshop_helpers import SteppingClock
from workshop import inspection
from workshop.capture import CaptureConfig, CaptureWriter
from workshop.cli import main
from workshop.store import LocalStore, S3Store

T0 = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
CLEAN = {"violations": []}
DRIFTED = {
    "violations": [
        {"feature_name": "Day Mins", "constraint_check_type": "baseline_drift_check",
         "description": "Baseline drift distance: 0.31 exceeds threshold: 0.1"},
        {"feature_name": "CustServ Calls", "constraint_check_type": "baseline_drift_check",
         "description": "Baseline drift distance: 0.42 exceeds threshold: 0.1"},
        {"feature_name": "Churn", "constraint_check_type": "data_type_check",
         "description": "Data type match requirement is not met. Expected data type: Integral, Expected match: "
                        "100.0%. Observed: Only 0.0% of data is Integral."},
    ]
}


def write_captures(store, count: int = 120, step: timedelta = timedelta(seconds=60)) -> list[str]:
    """`count` captured requests one `step` apart from 10:30 (120 minutes: 10:30 to 12:29)."""
    writer = CaptureWriter(CaptureConfig(store.location, "churn"), store=store, clock=SteppingClock(T0, step))
    ids = [f"id-{i:03d}" for i in range(count)]
    for i, inference_id in enumerate(ids):
        inputs = f"{100 + i},{i % 7},180.{i % 10}," + ",".join(["0"] * 66)
        writer.capture(inputs.encode(), "text/csv", f"0.{i:03d}\n".encode(), "text/csv; charset=utf-8", inference_id)
    writer.close()
    return ids


def write_run(store, hour: str, violations: dict, rows: int = 400) -> None:
    folder = f"churn/churn-hourly/{hour}"
    store.write(f"{folder}/constraint_violations.json", json.dumps(violations).encode())
    store.write(f"{folder}/statistics.json", json.dumps({"dataset": {"item_count": rows}, "features": []}).encode())


def test_capture_files_and_records_of_a_time_range(tmp_path):
    store = LocalStore(str(tmp_path))
    ids = write_captures(store)
    window = Window(datetime(2024, 5, 1, 11, tzinfo=UTC), datetime(2024, 5, 1, 12, tzinfo=UTC))
    files = inspection.capture_files(str(tmp_path), "churn", "AllTraffic", window)
    records, problems = inspection.read_records(files, window)
    assert problems == []
    # Requests at 11:00 ... 11:59 are ids 30 to 89.
    assert [r.inference_id for r in records] == ids[30:90]
    assert all(r.time.startswith("2024-05-01T11:") for r in records)
    assert records[0].output == ["0.030"] and records[0].inputs[:3] == ["130", "2", "180.0"]
    everything = inspection.capture_files(str(tmp_path), "churn", "AllTraffic", Window())
    assert len(inspection.read_records(everything, Window())[0]) == 120


def test_captures_command_prints_the_table(tmp_path, capsys):
    store = LocalStore(str(tmp_path))
    write_captures(store)
    names = tmp_path / "header.csv"
    names.write_text("Churn Probability,Account Length,VMail Message,Day Mins,Day Calls\n")
    code = main(["captures", "--source", str(tmp_path), "--endpoint", "churn", "--start", "2024-05-01T12:00:00Z",
                 "--limit", "3", "--names", str(names), "--files"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("inferenceTime"))
    assert header.split() [:4] == ["inferenceTime", "eventId", "inferenceId", "Churn"]
    assert "Account Length" in header and "Day Calls" in header and "(+65 inputs)" in header
    assert any(line.startswith("2024-05-01T12:00:00Z") and "id-090" in line and "0.090" in line for line in lines)
    assert "3 of 30 records from" in out
    assert "records  key" in out  # the --files table


def test_captures_command_explains_an_empty_location(tmp_path, capsys):
    code = main(["captures", "--source", str(tmp_path), "--endpoint", "nothing-here"])
    assert code == 1
    assert "no capture files under" in capsys.readouterr().err


def test_a_broken_capture_line_is_reported_and_the_rest_kept(tmp_path):
    store = LocalStore(str(tmp_path))
    write_captures(store, count=3, step=timedelta(seconds=1))
    (key,) = store.list()
    store.write(key, store.read(key) + b"{not json\n")
    files = inspection.capture_files(str(tmp_path), "churn", "AllTraffic", Window())
    records, problems = inspection.read_records(files, Window())
    assert len(records) == 3
    # The monitoring run's message for that line.
    (problem,) = problems
    assert problem.startswith(f"{tmp_path / key}:4: not a JSON object (") and "may be truncated" in problem


def test_base64_and_json_records_are_shown_with_their_fields(tmp_path, capsys):
    opened = datetime(2024, 5, 1, 10, 0)
    base64_csv = record("7,x\n", "0.25\n", opened, encoding="BASE64", content_type="text/csv")
    json_record = record('{"b": 2.50, "a": "y"}', '{"score": 0.75}', opened + timedelta(seconds=1),
                         encoding="JSON", content_type="application/json")
    base64_json = record('{"b": 3, "a": "z"}', '{"score": 0.5}', opened + timedelta(seconds=2),
                         encoding="BASE64", content_type="application/json")
    write_file(tmp_path, [base64_csv, json_record, base64_json], opened)
    files = inspection.capture_files(str(tmp_path), "churn", "AllTraffic", Window())
    records, problems = inspection.read_records(files, Window())
    assert problems == []
    # Decoded as the monitoring run decodes them: JSON objects by key name, numbers as written.
    assert [(r.output, r.inputs) for r in records] == [
        (["0.25"], ["7", "x"]), (["0.75"], ["y", "2.50"]), (["0.5"], ["z", "3"]),
    ]
    assert main(["captures", "--source", str(tmp_path), "--endpoint", "churn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2:] for line in lines if line.startswith("2024-05-01T10:00:0")] == [
        ["0.25", "7", "x"], ["0.75", "y", "2.50"], ["0.5", "z", "3"],
    ]


def test_runs_list_statuses_and_one_runs_violations(tmp_path, capsys):
    store = LocalStore(str(tmp_path))
    write_run(store, "2024/05/01/11", CLEAN)
    write_run(store, "2024/05/01/12", DRIFTED, rows=380)
    runs = inspection.list_runs(store)
    assert [(r.folder, r.status, len(r.violations), r.item_count) for r in runs] == [
        ("churn/churn-hourly/2024/05/01/11", "Completed", 0, 400),
        ("churn/churn-hourly/2024/05/01/12", "CompletedWithViolations", 3, 380),
    ]
    assert main(["runs", "--reports", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "2024-05-01T11:00Z..12:00Z" in table
    assert "1 data_type_check, 2 baseline_drift_check" in table
    assert main(["runs", "--reports", str(tmp_path), "--run", "latest"]) == 0
    shown = capsys.readouterr().out
    assert "CompletedWithViolations, 3 violations" in shown
    assert "CustServ Calls  baseline_drift_check  Baseline drift distance: 0.42 exceeds threshold: 0.1" in shown
    assert main(["runs", "--reports", str(tmp_path), "--run", "2024/05/01/09"]) == 1
    assert "no run matches '2024/05/01/09'" in capsys.readouterr().err


def test_model_quality_runs_are_listed_with_their_metrics(tmp_path, capsys):
    store = LocalStore(str(tmp_path))
    write_run(store, "2024/05/01/11", CLEAN)
    folder = "churn/churn-model-quality/2024/05/01/12"
    auc = "Metric auc with 0.55 +/- 0.01 was LessThanThreshold '0.75'"
    store.write(f"{folder}/constraint_violations.json", json.dumps({"violations": [
        {"constraint_check_type": "LessThanThreshold", "description": auc, "metric_name": "auc"}]}).encode())
    store.write(f"{folder}/statistics.json", json.dumps({"version": 0.0, "dataset": {"item_count": 300},
                                                         "binary_classification_metrics": {}}).encode())
    runs = inspection.list_runs(store)
    assert [(r.quality, r.status, len(r.violations), r.item_count) for r in runs] == [
        (False, "Completed", 0, 400), (True, "CompletedWithViolations", 1, 300)]
    assert main(["runs", "--reports", str(tmp_path), "--run", "latest"]) == 0
    shown = capsys.readouterr().out
    assert "window run at 2024-05-01T12:00Z" in shown and f"auc     LessThanThreshold  {auc}" in shown


def test_a_malformed_violations_file_is_named(tmp_path):
    store = LocalStore(str(tmp_path))
    write_run(store, "2024/05/01/11", CLEAN)
    store.write("churn/churn-hourly/2024/05/01/11/constraint_violations.json", b'{"violations": [')
    (run,) = inspection.list_runs(store)
    assert run.status == "Unreadable" and "constraint_violations.json: not valid JSON" in run.problem


@pytest.fixture(scope="module")
def emulator():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_both_commands_work_on_s3_through_aws_endpoint_url(emulator, monkeypatch, capsys):
    for key, value in {"AWS_ENDPOINT_URL": emulator, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    boto3.client("s3").create_bucket(Bucket="inspect-test")
    write_captures(S3Store("s3://inspect-test/datacapture"), count=10, step=timedelta(seconds=1))
    write_run(S3Store("s3://inspect-test/reports"), "2024/05/01/12", DRIFTED)
    assert os.environ["AWS_ENDPOINT_URL"] == emulator  # the commands get no other hint of the emulator

    assert main(["captures", "--source", "s3://inspect-test/datacapture", "--endpoint", "churn"]) == 0
    out = capsys.readouterr().out
    assert "10 of 10 records from 1 files under s3://inspect-test/datacapture/churn/AllTraffic/" in out
    assert main(["runs", "--reports", "s3://inspect-test/reports/churn", "--run", "latest"]) == 0
    assert re.search(r"^Day Mins +baseline_drift_check +Baseline drift distance: 0.31", capsys.readouterr().out, re.M)
