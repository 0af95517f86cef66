"""analyzer.quality_checks: the real run's ten violations, word for word and in the service's order."""

import json
import logging
import math

import pytest

from analyzer.quality_checks import check_quality
from analyzer.quality_metrics import binary_scalars
from contract.errors import QualityDocumentError
from contract.model_quality import (
    GREATER_THAN,
    LESS_THAN,
    QualityConstraints,
    QualityStatistics,
    QualityViolationDetails,
    parse_quality_violations,
    quality_violations_document,
    suggested_operators,
)
from tests.data import model_quality_reference as ref


def _statistics(section, key="binary_classification_metrics"):
    return QualityStatistics.of({"version": 0.0, "dataset": {"item_count": 1892}, key: section})


def _constraints(thresholds, problem_type="BinaryClassification", key="binary_classification_constraints"):
    operators = suggested_operators(problem_type)
    section = {name: {"threshold": value, "comparison_operator": operators[name]} for name, value in thresholds.items()}
    return QualityConstraints.of({"version": 0.0, key: section})


def _real_run():
    """The run's statistics (values and deviations from its descriptions, the rest from its counts) and the
    baseline's constraints (full digits from the descriptions, the rest from the baseline's counts)."""
    details = {d.metric_key: d for d in (QualityViolationDetails.parse(text) for _, _, text in ref.RUN_VIOLATIONS)}
    run = binary_scalars(tn=449, fp=69, fn=1218, tp=156)
    section = {name: {"value": value, "standard_deviation": 0.01} for name, value in run.items()}
    section.update(
        {name: {"value": d.value, "standard_deviation": d.standard_deviation} for name, d in details.items()}
    )
    baseline = binary_scalars(tn=173, fp=0, fn=12, tp=16)
    thresholds = {name: baseline.get(name) for name in suggested_operators("BinaryClassification")}
    thresholds.update({name: d.threshold for name, d in details.items()})
    return _statistics(section), _constraints(thresholds)


def test_the_real_runs_violations_word_for_word(caplog):
    statistics, constraints = _real_run()
    with caplog.at_level(logging.INFO):
        violations = check_quality(statistics, constraints)
    assert [(v.constraint_check_type, v.metric_name, v.description) for v in violations] == ref.RUN_VIOLATIONS
    assert "f0_5" in caplog.text  # below its threshold, not evaluated (as the service), said in the log
    assert parse_quality_violations(json.dumps(quality_violations_document(violations))) == violations


def test_the_baseline_against_its_own_constraints_is_clean():
    baseline = binary_scalars(tn=173, fp=0, fn=12, tp=16)
    statistics = _statistics({name: {"value": value, "standard_deviation": "NaN"} for name, value in baseline.items()})
    thresholds = {name: baseline[name] for name in suggested_operators("BinaryClassification") if name in baseline}
    assert check_quality(statistics, _constraints(thresholds)) == []


def test_operators_and_nan_values():
    statistics = _statistics(
        {
            "recall": {"value": 0.5, "standard_deviation": "NaN"},
            "false_positive_rate": {"value": 0.2, "standard_deviation": 0.01},
            "precision": {"value": math.nan, "standard_deviation": "NaN"},
        }
    )
    constraints = _constraints({"recall": 0.6, "false_positive_rate": 0.1, "precision": 1.0})
    violations = check_quality(statistics, constraints)
    # The service's order (falsePositiveRate before recall); a NaN precision violates nothing.
    assert [(v.metric_name, v.constraint_check_type) for v in violations] == [
        ("falsePositiveRate", GREATER_THAN),
        ("recall", LESS_THAN),
    ]
    assert violations[1].description == "Metric recall with 0.5 +/- NaN was LessThanThreshold '0.6'"


def test_regression_checks():
    statistics = _statistics(
        {"mae": {"value": 2.0, "standard_deviation": 0.1}, "r2": {"value": 0.5, "standard_deviation": 0.1}},
        "regression_metrics",
    )
    constraints = _constraints({"mae": 1.5, "r2": 0.4}, "Regression", "regression_constraints")
    assert [v.description for v in check_quality(statistics, constraints)] == [
        "Metric mae with 2.0 +/- 0.1 was GreaterThanThreshold '1.5'"
    ]


def test_mismatches_are_named():
    regression = _statistics({"mae": {"value": 2.0}}, "regression_metrics")
    with pytest.raises(QualityDocumentError, match="statistics are of a Regression model but the constraints of a Bin"):
        check_quality(regression, _constraints({"auc": 0.9}))
    with pytest.raises(QualityDocumentError, match="the run's statistics lack auc"):
        check_quality(_statistics({}), _constraints({"auc": 0.9}))
