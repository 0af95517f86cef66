"""analyzer.quality_baseline and `suggest-baseline --problem-type`: the real baseline's format, bad input."""

import json

import numpy as np
import pytest

from analyzer.cli import main
from analyzer.quality_baseline import suggest_quality_baseline
from contract.errors import QualityInputError
from contract.model_quality import BINARY, MULTICLASS, REGRESSION, QualityConstraints, QualityStatistics
from tests.data import model_quality_reference as ref


def _validation_csv(path, rows=201, seed=3):
    """A validation set like the real baseline's: probability, prediction = probability > 0.8, label."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.14).astype(int)
    scores = np.where(labels == 1, rng.beta(5, 2, rows), rng.beta(2, 6, rows)).round(4)
    lines = ["probability,prediction,label"] + [f"{s},{int(s > 0.8)},{y}" for s, y in zip(scores, labels, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return scores, labels


def _baseline(tmp_path, *extra):
    argv = ["-q", "suggest-baseline", "--problem-type", "BinaryClassification", "--dataset", str(tmp_path / "v.csv"),
            "--inference-attribute", "prediction", "--probability-attribute", "probability",
            "--ground-truth-attribute", "label", *extra, "--output", str(tmp_path / "out")]  # fmt: skip
    return main(argv)


def _load(tmp_path, name):
    return json.loads((tmp_path / "out" / name).read_text())


def test_the_format_of_the_real_baseline(tmp_path):
    scores, labels = _validation_csv(tmp_path / "v.csv")
    assert _baseline(tmp_path) == 0
    statistics = _load(tmp_path, "statistics.json")
    assert list(statistics) == ["version", "dataset", "binary_classification_metrics"]
    assert statistics["version"] == 0.0 and statistics["dataset"]["item_count"] == ref.BASELINE_ITEM_COUNT
    section = statistics["binary_classification_metrics"]
    assert list(section) == ref.BASELINE_KEYS
    matrix = section["confusion_matrix"]
    assert [list(row) for row in matrix.values()] == [list(row) for row in ref.BASELINE_CONFUSION.values()]
    assert all(type(n) is int for row in matrix.values() for n in row.values())
    for name in ref.BASELINE_TABLE:
        assert list(section[name]) == ["value", "standard_deviation"]
        assert all(type(x) is float for x in section[name].values())  # 201 records: deviations are numbers
    for curve, fields in ref.BASELINE_CURVE_FIELDS.items():
        assert list(section[curve]) == fields
    assert sum(matrix["1"].values()) == labels.sum() and matrix["1"]["1"] == int(((scores > 0.8) & labels).sum())
    constraints = _load(tmp_path, "constraints.json")
    assert list(constraints) == ["version", "binary_classification_constraints"]
    entries = constraints["binary_classification_constraints"]
    assert [(m, e["comparison_operator"]) for m, e in entries.items()] == [
        (m, op) for m, _, op in ref.BASELINE_CONSTRAINTS
    ]
    assert all(entries[m]["threshold"] == section[m]["value"] for m in entries)  # thresholds = baseline values
    QualityConstraints.of(constraints)  # and the typed views read them back
    assert QualityStatistics.of(statistics).item_count == 201


def test_the_threshold_predicts_when_no_inference_column(tmp_path):
    (tmp_path / "v.csv").write_text("probability,label\n0.8,1\n0.81,1\n0.2,0\n0.9,0\n")
    suggest_quality_baseline(str(tmp_path / "v.csv"), str(tmp_path / "out"), problem_type=BINARY,
                             inference_attribute=None, probability_attribute="probability",
                             ground_truth_attribute="label", probability_threshold=0.8)  # fmt: skip
    matrix = _load(tmp_path, "statistics.json")["binary_classification_metrics"]["confusion_matrix"]
    assert matrix == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 1}}  # 0.8 itself is not above 0.8


def test_multiclass_and_regression(tmp_path):
    (tmp_path / "m.csv").write_text("label,predicted\ncat,cat\ndog,cat\nbird,bird\n")
    statistics = suggest_quality_baseline(str(tmp_path / "m.csv"), str(tmp_path / "out"), problem_type=MULTICLASS,
                                          inference_attribute="predicted", probability_attribute=None,
                                          ground_truth_attribute="label")  # fmt: skip
    section = statistics["multiclass_classification_metrics"]
    assert section["confusion_matrix"]["dog"] == {"bird": 0, "cat": 1, "dog": 0}
    assert section["accuracy"]["value"] == 2 / 3
    (tmp_path / "r.csv").write_text("y,yhat\n1.0,2.0\n3.0,3.0\n")
    statistics = suggest_quality_baseline(str(tmp_path / "r.csv"), str(tmp_path / "out"), problem_type=REGRESSION,
                                          inference_attribute="yhat", probability_attribute=None,
                                          ground_truth_attribute="y")  # fmt: skip
    assert statistics["regression_metrics"]["mae"]["value"] == 0.5
    assert list(_load(tmp_path, "constraints.json")["regression_constraints"]) == ["mae", "mse", "rmse", "r2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("probability,prediction,truth\n0.5,1,1\n",
         r"v.csv: no column 'label' \(--ground-truth-attribute\); the header's columns are: probability, "
         "prediction, truth"),
        ("probability,prediction,label\n0.5,1,1\n0.2,0,yes\n0.1,0,2\n0.3,0,2\n",
         r"column 'label' \(--ground-truth-attribute\) must hold 0 or 1 for BinaryClassification; "
         r"values seen: '2' \(2\), '1' \(1\), 'yes' \(1\)"),
        ("probability,prediction,label\n0.5,1,1\n0.2,Y,0\n",
         r"column 'prediction' \(--inference-attribute\) must hold 0 or 1"),
        ("probability,prediction,label\n0.5,1,1\nabc,0,0\n", r"column 'probability' holds values that are not "
         r"numbers on line 3 \(such as 'abc'\)"),
        ("probability,prediction,label\n0.5,1,1\n1.5,0,0\n-0.1,0,0\n", r"column 'probability' holds values "
         r"outside \[0, 1\] on lines 3, 4 \(such as '1.5'\)"),
        ("probability,prediction,label\n0.5,1,1\n,0,0\n", r"column 'probability' is empty on line 3"),
        ("probability,prediction,label\n", r"no data rows after the header"),
        ("probability,prediction,label\n0.5,1,1\n0.2,0,0,9\n", r"v.csv, line 3: 4 fields where the header has 3"),
    ],
)  # fmt: skip
def test_bad_input_is_named(tmp_path, text, message):
    (tmp_path / "v.csv").write_text(text)
    with pytest.raises(QualityInputError, match=message):
        suggest_quality_baseline(str(tmp_path / "v.csv"), str(tmp_path / "out"), problem_type=BINARY,
                                 inference_attribute="prediction", probability_attribute="probability",
                                 ground_truth_attribute="label")  # fmt: skip


def test_the_command_line_reports_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "v.csv").write_text("probability,prediction,label\n0.5,1,7\n")
    assert _baseline(tmp_path) == 1
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "out" / "statistics.json").exists()
    assert main(["-q", "suggest-baseline", "--problem-type", "Regression", "--dataset", str(tmp_path / "v.csv"),
                 "--output", str(tmp_path / "out")]) == 2  # fmt: skip


def test_without_problem_type_it_stays_data_quality(tmp_path):
    _validation_csv(tmp_path / "v.csv", rows=20)
    assert (
        main(["-q", "suggest-baseline", "--dataset", str(tmp_path / "v.csv"), "--output", str(tmp_path / "out")]) == 0
    )
    assert "features" in _load(tmp_path, "statistics.json")
