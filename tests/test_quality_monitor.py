"""monitor-model-quality end to end (CLI and container mode) on small generated data, and bad inputs."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from analyzer.cli import EXIT_FAILED, EXIT_VIOLATIONS, main
from analyzer.container import run_container
from analyzer.quality_monitor import run_quality_monitoring
from contract.errors import CaptureSourceError, NoMatchedDataError, QualityInputError
from contract.ground_truth import MERGE_SUMMARY_FILE, MergeSummary, ground_truth_line, label_file_key
from contract.metrics import MODEL_METRICS_FILE
from contract.model_quality import NAMESPACE, QualityStatistics, parse_quality_violations
from contract.processing import MODEL_QUALITY, Env
from tests.capture_helpers import write_file
from tests.test_merge import START, capture, write_labels

N = 60


def _data(root: Path, flip: bool = False) -> dict:
    """N captures (score, inferenceId) and their labels; `flip` makes the model wrong."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, N)
    scores = np.round(np.where(labels == 1, 0.45, 0.1) + rng.random(N) * 0.45, 3)  # overlapping classes
    truth = 1 - labels if flip else labels
    write_file(root / "captures", [capture(f"{s}\n", i, str(i)) for i, s in enumerate(scores)], START)
    write_labels(root / "gt", [(str(i), int(t)) for i, t in enumerate(truth[: N - 5])], START + timedelta(hours=1))
    constraints = {
        "version": 0.0,
        "binary_classification_constraints": {
            "accuracy": {"threshold": 0.6, "comparison_operator": "LessThanThreshold"},
            "false_positive_rate": {"threshold": 0.4, "comparison_operator": "GreaterThanThreshold"},
        },
    }
    (root / "constraints.json").write_text(json.dumps(constraints))
    predicted = (scores > 0.5).astype(int)[: N - 5]
    return {"accuracy": float(np.mean(predicted == truth[: N - 5])), "matched": N - 5}


def _args(root: Path, *extra: str) -> list[str]:
    return ["-q", "monitor-model-quality", "--problem-type", "BinaryClassification",
            "--captures", str(root / "captures"), "--ground-truth", str(root / "gt"),
            "--constraints", str(root / "constraints.json"),
            "--probability-attribute", "0", "--output", str(root / "out"), *extra]  # fmt: skip


def test_cli_clean_run_writes_every_file(tmp_path, capsys):
    expected = _data(tmp_path)
    assert main(_args(tmp_path, "--endpoint", "churn", "--schedule", "churn-model-quality")) == 0
    out = tmp_path / "out"
    assert capsys.readouterr().out.startswith("Completed: Job completed successfully with no violations.")
    statistics = QualityStatistics.read(str(out / "statistics.json"))
    assert statistics.item_count == expected["matched"]
    assert statistics.metric("accuracy").value == pytest.approx(expected["accuracy"])
    assert 0.6 < expected["accuracy"] < 1.0
    assert math.isnan(statistics.metric("accuracy").standard_deviation)  # "NaN" below 200 records
    assert parse_quality_violations((out / "constraint_violations.json").read_text()) == []
    summary = MergeSummary.of(json.loads((out / MERGE_SUMMARY_FILE).read_text()))
    assert (summary.matched, summary.unmatched_captures, summary.unmatched_labels) == (N - 5, 5, 0)
    assert len((out / "merge/2026/01/01/10/merged.jsonl").read_text().splitlines()) == N - 5
    metrics = json.loads((out / "metrics" / MODEL_METRICS_FILE).read_text())
    assert metrics["Namespace"] == NAMESPACE
    assert {d["Name"]: d["Value"] for d in metrics["MetricData"][0]["Dimensions"]} == {
        "Endpoint": "churn",
        "MonitoringSchedule": "churn-model-quality",
    }
    assert "auc" in {d["MetricName"] for d in metrics["MetricData"]}


def test_cli_violations_and_fail_on_violations(tmp_path, capsys):
    _data(tmp_path, flip=True)
    assert main(_args(tmp_path, "--fail-on-violations")) == EXIT_VIOLATIONS
    printed = capsys.readouterr().out
    assert printed.startswith("CompletedWithViolations: Job completed successfully with 2 violations.")
    names = [v.metric_name for v in parse_quality_violations((tmp_path / "out/constraint_violations.json").read_text())]
    assert names == ["accuracy", "falsePositiveRate"]  # the service's order, camelCase rates


def test_windows_select_captures_and_label_hours(tmp_path):
    _data(tmp_path)
    write_labels(tmp_path / "gt", [(str(i), 0) for i in range(N)], START + timedelta(hours=5))  # outside the window
    result = run_quality_monitoring(
        str(tmp_path / "captures"), str(tmp_path / "gt"), str(tmp_path / "constraints.json"), str(tmp_path / "out"),
        problem_type="BinaryClassification", probability_attribute="0",
        start="2026-01-01T10:00:00Z", end="2026-01-01T10:00:30Z",
        ground_truth_start="2026-01-01T11:00:00Z", ground_truth_end="2026-01-01T12:00:00Z",
    )  # fmt: skip
    assert (result.summary.captures, result.summary.matched, result.summary.duplicate_labels) == (30, 30, 0)


def test_container_mode(tmp_path):
    expected = _data(tmp_path)
    env = {
        Env.ANALYSIS_TYPE: MODEL_QUALITY,
        Env.PROBLEM_TYPE: "BinaryClassification",
        Env.DATASET_FORMAT: json.dumps({"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}),
        Env.DATASET_SOURCE: str(tmp_path / "captures"),
        Env.GROUND_TRUTH_SOURCE: str(tmp_path / "gt"),
        Env.OUTPUT_PATH: str(tmp_path / "out"),
        Env.BASELINE_CONSTRAINTS: str(tmp_path / "constraints.json"),
        Env.PROBABILITY_ATTRIBUTE: "0",
        Env.PROBABILITY_THRESHOLD: "0.5",
        Env.PUBLISH_METRICS: "Enabled",
        Env.MESSAGE_FILE: str(tmp_path / "message"),
        Env.METRICS_PATH: str(tmp_path / "metrics"),
    }
    assert run_container(env) == 0
    assert (tmp_path / "message").read_text() == "Completed: Job completed successfully with no violations."
    assert QualityStatistics.read(str(tmp_path / "out/statistics.json")).item_count == expected["matched"]
    assert (tmp_path / "metrics" / MODEL_METRICS_FILE).is_file()
    assert run_container({**env, Env.PROBLEM_TYPE: "Ranking"}) == 1
    assert "problem_type='Ranking'" in (tmp_path / "message").read_text()


def _run(root: Path, **options):
    return run_quality_monitoring(
        str(root / "captures"), str(root / "gt"), str(root / "constraints.json"), str(root / "out"),
        problem_type="BinaryClassification", **{"probability_attribute": "0", **options},
    )  # fmt: skip


def test_no_matched_pair_fails_like_the_service(tmp_path):
    _data(tmp_path)
    for path in (tmp_path / "gt").rglob("*.jsonl"):
        path.unlink()
    write_labels(tmp_path / "gt", [("other", 1)], START)
    with pytest.raises(NoMatchedDataError) as caught:
        _run(tmp_path)
    message = str(caught.value)
    assert message.startswith("Job inputs had no data: no capture record under ")
    assert str(tmp_path / "captures") in message and str(tmp_path / "gt") in message
    assert "eventMetadata.inferenceId, else eventMetadata.eventId" in message


def test_labels_not_binary_list_what_was_seen(tmp_path, capsys):
    _data(tmp_path)
    bad = write_labels(tmp_path / "gt", [("1", "yes"), ("2", "2")], START + timedelta(hours=2))
    assert main(_args(tmp_path)) == EXIT_FAILED
    error = capsys.readouterr().err
    assert "must be 0 or 1 for BinaryClassification; values seen: " in error and "'yes' (1)" in error
    assert f"(first: {bad}:1)" in error


def test_malformed_label_lines_are_named_and_too_many_fail(tmp_path):
    _data(tmp_path)
    gt = tmp_path / "gt" / label_file_key("", START + timedelta(hours=2), "bad")
    gt.parent.mkdir(parents=True, exist_ok=True)
    gt.write_text(ground_truth_line("0", 0) + "{broken\n")
    result = _run(tmp_path)  # one bad line of 57: kept going, counted, named
    assert result.summary.unusable_labels == 1
    assert [str(issue) for issue in result.issues][0].startswith(f"{gt}:2: not a JSON object")
    gt.write_text("{broken\n" * 20)
    with pytest.raises(QualityInputError, match=r"20 of 75 ground-truth lines .* could not be used.*bad.jsonl:1"):
        _run(tmp_path)


def test_bad_probabilities_and_missing_attribute(tmp_path):
    _data(tmp_path)
    bad = [capture("abc\n", 100, "0"), capture("1.5\n", 101, "1"), capture("0.5\n", 102, "2")]
    write_file(tmp_path / "captures", bad, START + timedelta(minutes=2))
    result = _run(tmp_path)
    problems = [issue.problem for issue in result.issues]
    assert problems == [
        "probability attribute 0 is 'abc', not a number",
        "probability attribute 0 is 1.5, outside [0, 1]",
    ]
    with pytest.raises(QualityInputError, match=r"has no field 3 \(CSV fields count from 0\)"):
        _run(tmp_path, probability_attribute="3")


def test_bad_constraints_fail_before_reading(tmp_path):
    _data(tmp_path)
    bad = {"acuracy": {"threshold": 1, "comparison_operator": "LessThanThreshold"}}
    (tmp_path / "constraints.json").write_text(json.dumps({"version": 0.0, "binary_classification_constraints": bad}))
    with pytest.raises(Exception, match="unknown metric 'acuracy'"):
        _run(tmp_path)


def test_regression_with_an_inference_attribute(tmp_path):
    predictions = [1.0, 2.5, 4.0, 3.0]
    truth = [1.5, 2.5, 3.0, 5.0]
    write_file(tmp_path / "captures", [capture(f"{p},x\n", i, f"r{i}") for i, p in enumerate(predictions)], START)
    write_labels(tmp_path / "gt", [(f"r{i}", t) for i, t in enumerate(truth)], START)
    bad = {"mae": {"threshold": 0.5, "comparison_operator": "GreaterThanThreshold"}}
    (tmp_path / "constraints.json").write_text(json.dumps({"version": 0.0, "regression_constraints": bad}))
    result = run_quality_monitoring(
        str(tmp_path / "captures"), str(tmp_path / "gt"), str(tmp_path / "constraints.json"), str(tmp_path / "out"),
        problem_type="Regression", inference_attribute="0",
    )  # fmt: skip
    mae = sum(abs(p - t) for p, t in zip(predictions, truth, strict=True)) / len(truth)
    assert QualityStatistics.read(str(tmp_path / "out/statistics.json")).metric("mae").value == pytest.approx(mae)
    assert [v.metric_name for v in result.violations] == ["mae"]


def test_captures_and_labels_are_read_from_s3_as_from_folders(tmp_path, s3):
    _data(tmp_path)
    s3.create_bucket(Bucket="mq-data")
    for folder in ("captures", "gt"):
        for path in (tmp_path / folder).rglob("*.jsonl"):
            key = f"{folder}/{path.relative_to(tmp_path / folder)}"
            s3.put_object(Bucket="mq-data", Key=key, Body=path.read_bytes())
    local = _run(tmp_path)
    remote = run_quality_monitoring(
        "s3://mq-data/captures", "s3://mq-data/gt", str(tmp_path / "constraints.json"), str(tmp_path / "s3-out"),
        problem_type="BinaryClassification", probability_attribute="0",
    )
    assert (remote.summary, remote.violations) == (local.summary, local.violations)
    assert remote.summary.matched == N - 5

    def metrics(folder: str) -> dict:
        return json.loads((tmp_path / folder / "statistics.json").read_text())["binary_classification_metrics"]

    assert metrics("s3-out") == metrics("out")


def test_a_missing_ground_truth_bucket_is_a_named_error(tmp_path, s3):
    _data(tmp_path)
    with pytest.raises(CaptureSourceError, match="s3://absent") as error:
        run_quality_monitoring(
            str(tmp_path / "captures"), "s3://absent/gt", str(tmp_path / "constraints.json"), str(tmp_path / "o"),
            problem_type="BinaryClassification", probability_attribute="0")
    assert "Traceback" not in str(error.value)


def test_multiclass_with_an_inference_attribute(tmp_path):
    predictions = ["cat", "dog", "dog", "bird", "cat", "dog"]
    truth = ["cat", "dog", "cat", "bird", "bird", "dog"]
    write_file(tmp_path / "captures", [capture(f"{p},0.9\n", i, f"m{i}") for i, p in enumerate(predictions)], START)
    write_labels(tmp_path / "gt", [(f"m{i}", t) for i, t in enumerate(truth)], START)
    bad = {"accuracy": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}
    (tmp_path / "constraints.json").write_text(
        json.dumps({"version": 0.0, "multiclass_classification_constraints": bad}))
    result = run_quality_monitoring(
        str(tmp_path / "captures"), str(tmp_path / "gt"), str(tmp_path / "constraints.json"), str(tmp_path / "out"),
        problem_type="MulticlassClassification", inference_attribute="0",
    )  # fmt: skip
    statistics = QualityStatistics.read(str(tmp_path / "out/statistics.json"))
    assert statistics.metric("accuracy").value == pytest.approx(4 / 6)
    # Weighted recall is the accuracy (each class's recall weighted by its share of the labels).
    assert statistics.metric("weighted_recall").value == pytest.approx(4 / 6)
    assert statistics.confusion_matrix["cat"] == {"bird": 0, "cat": 1, "dog": 1}  # actual cat: predicted cat, dog
    assert [v.metric_name for v in result.violations] == ["accuracy"]
    assert result.summary.matched == 6
