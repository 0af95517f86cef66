"""Ground-truth records, layout and reading (contract.ground_truth, analyzer.ground_truth)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analyzer.ground_truth import check_values, ground_truth_labels, read_label_file
from contract.errors import CaptureSourceError, QualityInputError
from contract.ground_truth import (
    MergeSummary,
    ground_truth_line,
    ground_truth_record,
    join_key,
    label_file_key,
    parse_ground_truth,
)
from contract.layout import GROUND_TRUTH_PREFIX, Window, ground_truth_prefix, model_quality_schedule_name


def test_record_is_the_documented_one():
    assert ground_truth_record("58", 1) == {
        "groundTruthData": {"data": "1", "encoding": "CSV"},
        "eventMetadata": {"eventId": "58"},
        "eventVersion": "0",
    }
    label = parse_ground_truth(ground_truth_line("58", 1), "f:1")
    assert (label.join_key, label.label) == ("58", "1")


def test_layout_names():
    collected = datetime(2021, 5, 18, 0, 29, 10, tzinfo=UTC)
    assert label_file_key(ground_truth_prefix("churn"), collected) == "ground-truth/churn/2021/05/18/00/2910.jsonl"
    assert ground_truth_prefix("churn").startswith(GROUND_TRUTH_PREFIX + "/")
    assert label_file_key("gt/", collected, "batch") == "gt/2021/05/18/00/batch.jsonl"
    assert model_quality_schedule_name("churn") == "churn-model-quality"
    assert len(model_quality_schedule_name("x" * 80)) <= 63


def test_join_key_prefers_inference_id():
    assert join_key({"eventId": "e", "inferenceId": "i"}) == "i"
    assert join_key({"eventId": "e"}) == "e"
    assert join_key({}) is None


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "not a JSON object"),
        ('{"groundTruthData": {"data": "1"}}', "needs groundTruthData and eventMetadata"),
        ('{"groundTruthData": {"data": 1}, "eventMetadata": {"eventId": "3"}}', "must be non-empty strings"),
        ('{"groundTruthData": {"data": "1", "encoding": "JSON"}, "eventMetadata": {"eventId": "3"}}', "not supported"),
    ],
)
def test_strict_parse_names_the_line(line, words):
    with pytest.raises(QualityInputError, match=words) as caught:
        parse_ground_truth(line, "labels.jsonl:7")
    assert str(caught.value).startswith("labels.jsonl:7: ")


def test_malformed_lines_are_named_and_the_others_kept():
    content = (
        ground_truth_line("1", 1) + "{oops\n" + "\n" + ground_truth_line("2", 0) + '{"eventVersion": "0"}\n'
    ).encode()
    chunk = read_label_file("gt/2021/05/18/00/a.jsonl", content)
    assert chunk.table.column("key").to_pylist() == ["1", "2"]
    assert chunk.table.column("line").to_pylist() == [1, 4]
    assert [issue.location for issue in chunk.issues] == ["gt/2021/05/18/00/a.jsonl:2", "gt/2021/05/18/00/a.jsonl:5"]


def test_collection_window_reads_only_its_hour_folders(tmp_path):
    for hour in (9, 10, 11):
        path = tmp_path / label_file_key("", datetime(2026, 1, 1, hour, 5, tzinfo=UTC))
        path.parent.mkdir(parents=True)
        path.write_text(ground_truth_line(f"id{hour}", 1))
    window = Window.parse("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z")
    keys = [
        key for chunk in ground_truth_labels(str(tmp_path), window) for key in chunk.table.column("key").to_pylist()
    ]
    assert keys == ["id10"]
    every = [key for chunk in ground_truth_labels(str(tmp_path)) for key in chunk.table.column("key").to_pylist()]
    assert every == ["id9", "id10", "id11"]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(CaptureSourceError, match="ground-truth folder .* does not exist"):
        list(ground_truth_labels(str(tmp_path / "nowhere")))


def test_labels_not_of_the_problem_type_list_what_was_seen():
    import pyarrow as pa

    seen = r"values seen: 'yes' \(2\), '1' \(1\) \(first: line 1\)"
    with pytest.raises(QualityInputError, match=r"must be 0 or 1 for BinaryClassification; " + seen):
        check_values(pa.array(["1", "yes", "yes"]), "BinaryClassification", "labels", "line {}".format)
    check_values(pa.array(["0", "1.0"]), "BinaryClassification", "labels", "line {}".format)
    with pytest.raises(QualityInputError, match="must be numbers for Regression"):
        check_values(pa.array(["2.5", "n/a"]), "Regression", "labels", "line {}".format)


def test_merge_summary_round_trip_and_validation():
    summary = MergeSummary(
        captures=10, labels=9, matched=7, unmatched_captures=3, unmatched_labels=1, duplicate_labels=1
    )
    assert MergeSummary.of(json.loads(json.dumps(summary.to_document()))) == summary
    assert summary.unmatched_capture_share == pytest.approx(3 / 10)
    assert summary.unmatched_label_share == pytest.approx(1 / 8)
    with pytest.raises(QualityInputError, match=r"\$.matched must be an integer"):
        MergeSummary.of({**summary.to_document(), "matched": "7"})
