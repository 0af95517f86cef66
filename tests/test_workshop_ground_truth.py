"""`python -m workshop ground-truth`: labels for captured records, by inferenceId else eventId, in the
ground-truth layout, locally and on S3, and a named error for each kind of bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contract.ground_truth import parse_ground_truth
from tests.workshop_helpers import SteppingClock
from workshop.capture import CaptureConfig, CaptureWriter
from workshop.cli import main
from workshop.server import RESPONSE_TYPE
from workshop.store import LocalStore
from workshop.traffic import scenario_ids, scenario_rows

T0 = datetime(2024, 5, 1, 9, 10, tzinfo=UTC)
COLLECTED = "2024-05-01T11:30:05Z"


def capture(root, rows, ids) -> list[dict]:
    """Capture records as the endpoint writes them, a minute apart from T0; returns them."""
    writer = CaptureWriter(CaptureConfig(str(root), "churn"), clock=SteppingClock(T0, timedelta(minutes=1)))
    for row, inference_id in zip(rows, ids, strict=True):
        writer.capture(",".join(row).encode(), "text/csv", b"0.25\n", RESPONSE_TYPE, inference_id)
    writer.close()
    store = LocalStore(str(root))
    return [json.loads(line) for key in store.list() for line in store.read(key).splitlines()]


def uploaded(root) -> dict[str, dict[str, str]]:
    """Ground-truth file key -> {join key: label}, read with the contract's parser."""
    store = LocalStore(str(root))
    return {key: labels(store.read(key), key) for key in store.list()}


def labels(data: bytes, source: str) -> dict[str, str]:
    lines = data.decode().splitlines()
    return {r.join_key: r.label for r in (parse_ground_truth(line, f"{source}:{n}") for n, line in enumerate(lines, 1))}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["ground-truth", "--endpoint", "churn", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_generated_traffic_gets_its_true_outcomes_in_the_collection_hour(tmp_path, capsys):
    rows, ids = scenario_rows("concept_shift", 40, seed=3), scenario_ids("concept_shift", 3, 40)
    capture(tmp_path / "captures", rows, ids)  # 40 records, 09:10 to 09:49
    code, out, err = run(capsys, "--captures", str(tmp_path / "captures"), "--from-generator",
                         "--to", str(tmp_path / "gt"), "--collected-at", COLLECTED)
    assert code == 0, err
    truth = scenario_rows("concept_shift", 40, seed=3, label=True)
    expected = {inference_id: row[0] for inference_id, row in zip(ids, truth, strict=True)}
    assert uploaded(tmp_path / "gt") == {"2024/05/01/11/3005.jsonl": expected}
    assert "wrote 40 labels to" in out and "(40 of 40 captured ids" in out


def test_a_labels_file_joins_inference_ids_and_event_ids_within_the_window(tmp_path, capsys):
    rows = scenario_rows("normal", 4, seed=1)
    records = capture(tmp_path / "captures", rows, ["a-1", None, "a-3", None])
    event_ids = [r["eventMetadata"]["eventId"] for r in records if "inferenceId" not in r["eventMetadata"]]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"id,label\na-1,1\n{event_ids[0]},0\n\na-3,0\n")  # the 4th record (09:13) stays unlabelled
    code, out, err = run(capsys, "--captures", str(tmp_path / "captures"), "--labels", str(labels),
                         "--to", str(tmp_path / "gt"), "--collected-at", COLLECTED, "--end", "2024-05-01T09:13:00Z")
    assert code == 0, err
    assert list(uploaded(tmp_path / "gt").values()) == [{"a-1": "1", event_ids[0]: "0", "a-3": "0"}]
    assert "(3 of 3 captured ids; 1 record without an InferenceId keyed by the eventId)" in out


def test_labels_go_to_s3(tmp_path, capsys, monkeypatch):
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    rows, ids = scenario_rows("normal", 5, seed=2), scenario_ids("normal", 2, 5)
    capture(tmp_path / "captures", rows, ids)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="labels-bucket")
        code, out, err = run(capsys, "--captures", str(tmp_path / "captures"), "--from-generator",
                             "--to", "s3://labels-bucket/ground-truth/churn", "--collected-at", COLLECTED)
        assert code == 0, err
        body = s3.get_object(Bucket="labels-bucket", Key="ground-truth/churn/2024/05/01/11/3005.jsonl")["Body"].read()
    assert list(labels(body, "s3")) == ids
    assert "s3://labels-bucket/ground-truth/churn/2024/05/01/11/3005.jsonl" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,label\na-1,1\na-2\n", "labels.csv line 3: 'a-2' is not `id,label` (two non-empty values)"),
        ("a-1,1,extra\n", "labels.csv line 1: 'a-1,1,extra' is not `id,label`"),
        ("a-1,\n", "labels.csv line 1: 'a-1,' is not `id,label`"),
        ("a-1,1\na-2,0\na-1,0\n", "labels.csv line 3: id 'a-1' again (first on line 1); give each id one label"),
        ("id,label\n", "labels.csv has no labels"),
        ("a-1,1\nb-7,0\nb-8,1\n", "labels.csv: 2 of 3 ids were not captured in that time range: 'b-7' (line 2), "
                                  "'b-8' (line 3); check --start/--end"),
    ],
)
def test_bad_labels_files_are_named_with_the_line_and_nothing_is_written(tmp_path, capsys, text, message):
    capture(tmp_path / "captures", scenario_rows("normal", 2, seed=1), ["a-1", "a-2"])
    (tmp_path / "labels.csv").write_text(text)
    code, _, err = run(capsys, "--captures", str(tmp_path / "captures"), "--labels", str(tmp_path / "labels.csv"),
                       "--to", str(tmp_path / "gt"))
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "gt").exists()


def test_uncaptured_ids_can_be_uploaded_on_purpose(tmp_path, capsys):
    capture(tmp_path / "captures", scenario_rows("normal", 1, seed=1), ["a-1"])
    (tmp_path / "labels.csv").write_bytes(b"a-1,1\nlater-9,0\n")
    code, out, err = run(capsys, "--captures", str(tmp_path / "captures"), "--labels", str(tmp_path / "labels.csv"),
                         "--to", str(tmp_path / "gt"), "--allow-uncaptured", "--collected-at", COLLECTED)
    assert code == 0, err
    assert list(uploaded(tmp_path / "gt").values()) == [{"a-1": "1", "later-9": "0"}]
    assert "wrote 2 labels" in out and "(1 of 1 captured ids" in out


def test_a_labels_file_that_is_not_utf8_or_missing_is_named(tmp_path, capsys):
    capture(tmp_path / "captures", scenario_rows("normal", 1, seed=1), ["a-1"])
    (tmp_path / "labels.csv").write_bytes(b"a-1,\xff\n")
    common = ["--captures", str(tmp_path / "captures"), "--to", str(tmp_path / "gt"), "--labels"]
    assert run(capsys, *common, str(tmp_path / "labels.csv"))[2].startswith(
        f"error: {tmp_path / 'labels.csv'} is not a UTF-8 CSV file")
    assert f"cannot read {tmp_path / 'nope.csv'}" in run(capsys, *common, str(tmp_path / "nope.csv"))[2]


def test_generator_labels_need_the_ids_traffic_sends(tmp_path, capsys):
    capture(tmp_path / "captures", scenario_rows("normal", 3, seed=1), ["normal-s1-n3-000001", "customer-42", None])
    code, _, err = run(capsys, "--captures", str(tmp_path / "captures"), "--from-generator",
                       "--to", str(tmp_path / "gt"))
    assert code == 1
    assert "2 of 3 captured records do not carry an InferenceId of `workshop traffic --scenario`" in err
    assert "customer-42" in err and "label them with --labels FILE.csv" in err


def test_no_captures_in_the_window_is_named(tmp_path, capsys):
    capture(tmp_path / "captures", scenario_rows("normal", 2, seed=1), ["a-1", "a-2"])
    common = ["--captures", str(tmp_path / "captures"), "--from-generator", "--to", str(tmp_path / "gt")]
    code, _, err = run(capsys, *common, "--start", "2024-05-02T00:00:00Z")
    assert code == 1 and "no captured records under" in err and "check --captures, --endpoint" in err
    code, _, err = run(capsys, *common, "--start", "2024-05-02T00:00:00Z", "--end", "2024-05-01T00:00:00Z")
    assert code == 1 and "is not before --end" in err
