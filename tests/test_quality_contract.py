"""contract.model_quality: names and orders, the violation wording, the typed views and their errors."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.errors import ANALYZER_ERRORS, QualityDocumentError, QualityInputError, ViolationsFormatError
from contract.model_quality import (
    BINARY,
    GREATER_THAN,
    LESS_THAN,
    MULTICLASS,
    NAMESPACE,
    PROBLEM_TYPES,
    REGRESSION,
    QualityConstraint,
    QualityConstraints,
    QualityStatistics,
    QualityViolation,
    QualityViolationDetails,
    checked_metrics,
    constraints_section,
    metric_keys,
    metric_of_violation_name,
    parse_quality_violations,
    published_metric_names,
    quality_violations_document,
    statistics_section,
    suggested_operators,
    violation_name,
)
from tests.data import model_quality_reference as ref


def test_binary_keys_are_the_real_files_order():
    assert list(metric_keys(BINARY)) == ref.BASELINE_KEYS


def test_multiclass_keys_are_the_documented_order():
    assert list(metric_keys(MULTICLASS)) == ref.DOC_MULTICLASS_KEYS
    assert list(metric_keys(REGRESSION)) == list(ref.DOC_REGRESSION)


def test_sections_per_problem_type():
    assert [statistics_section(p) for p in PROBLEM_TYPES] == [
        "binary_classification_metrics",
        "multiclass_classification_metrics",
        "regression_metrics",
    ]
    assert constraints_section(BINARY) == "binary_classification_constraints"
    with pytest.raises(QualityDocumentError, match="unknown problem type 'Binary'"):
        statistics_section("Binary")


def test_published_names_are_the_real_runs_17():
    assert NAMESPACE == ref.RUN_NAMESPACE
    assert sorted(published_metric_names(BINARY)) == sorted(ref.RUN_CLOUDWATCH_NAMES)
    assert len(published_metric_names(MULTICLASS)) == 12
    assert published_metric_names(REGRESSION) == ("mae", "mse", "rmse", "r2")


def test_suggested_binary_constraints_are_the_real_ones():
    assert list(suggested_operators(BINARY).items()) == [(m, op) for m, _, op in ref.BASELINE_CONSTRAINTS]
    assert suggested_operators(REGRESSION) == {"mae": GREATER_THAN, "mse": GREATER_THAN, "rmse": GREATER_THAN,
                                               "r2": LESS_THAN}  # fmt: skip
    assert set(suggested_operators(MULTICLASS).values()) == {LESS_THAN}


def test_checked_binary_metrics_are_the_real_violation_order_without_f0_5():
    assert [violation_name(m) for m in checked_metrics(BINARY)] == [name for _, name, _ in ref.RUN_VIOLATIONS]
    assert "f0_5" not in checked_metrics(BINARY)


def test_violation_names():
    assert violation_name("false_negative_rate") == "falseNegativeRate"
    assert violation_name("f0_5") == "f0_5"
    assert metric_of_violation_name("trueNegativeRate") == "true_negative_rate"
    assert metric_of_violation_name("auc") == "auc"


@pytest.mark.parametrize(("check_type", "name", "description"), ref.RUN_VIOLATIONS)
def test_real_descriptions_are_reproduced_from_their_numbers(check_type, name, description):
    details = QualityViolationDetails.parse(description)
    assert details is not None and details.metric == name and details.operator == check_type
    constraint = QualityConstraint(details.metric_key, details.threshold, details.operator)
    violation = QualityViolation.of(details.metric_key, details.value, details.standard_deviation, constraint)
    assert violation.to_dict() == {"constraint_check_type": check_type, "description": description, "metric_name": name}


def test_a_nan_deviation_is_written_as_java_does():
    constraint = QualityConstraint("recall", 0.5, LESS_THAN)
    violation = QualityViolation.of("recall", 0.25, math.nan, constraint)
    assert violation.description == "Metric recall with 0.25 +/- NaN was LessThanThreshold '0.5'"
    assert math.isnan(violation.details.standard_deviation)


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, allow_infinity=False) | st.just(math.nan),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["auc", "f0_5", "true_positive_rate", "r2"]),
)
def test_descriptions_round_trip(value, deviation, threshold, metric):
    violation = QualityViolation.of(metric, value, deviation, QualityConstraint(metric, threshold, GREATER_THAN))
    details = violation.details
    assert (details.metric_key, details.value, details.threshold) == (metric, value, threshold)
    assert details.standard_deviation == deviation or math.isnan(deviation)


def test_violations_document_round_trips_in_key_order():
    violations = [QualityViolation(t, d, n) for t, n, d in ref.RUN_VIOLATIONS]
    document = quality_violations_document(violations)
    assert list(document["violations"][0]) == ["constraint_check_type", "description", "metric_name"]
    assert parse_quality_violations(json.dumps(document)) == violations


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "x.json: not valid JSON"),
        ('{"violations": {}}', "x.json: expected an object with a 'violations' list"),
        ('{"violations": [{"description": "d"}]}', r"violations\[0\] lacks constraint_check_type, metric_name"),
    ],
)
def test_violations_document_errors(text, message):
    with pytest.raises(ViolationsFormatError, match=message):
        parse_quality_violations(text, "x.json")


def test_error_classes_are_caught_by_the_command_lines():
    assert QualityDocumentError in ANALYZER_ERRORS and QualityInputError in ANALYZER_ERRORS


# --- constraints.json -------------------------------------------------------------------------------


def _constraints(**section):
    return {"version": 0.0, "binary_classification_constraints": section}


def test_constraints_view():
    document = _constraints(
        auc={"threshold": 0.9, "comparison_operator": LESS_THAN},
        f0_5={"threshold": 0.5, "comparison_operator": LESS_THAN},
        false_positive_rate={"threshold": 0, "comparison_operator": GREATER_THAN},
    )
    constraints = QualityConstraints.of(document, "c.json")
    assert constraints.problem_type == BINARY
    assert constraints.constraints["false_positive_rate"] == QualityConstraint("false_positive_rate", 0.0, GREATER_THAN)
    assert constraints.unchecked == ("f0_5",)
    assert constraints.constraints["auc"].violated_by(0.89) and not constraints.constraints["auc"].violated_by(0.9)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (_constraints(recal={"threshold": 0.5, "comparison_operator": LESS_THAN}),
         r"c.json: \$.binary_classification_constraints.recal: unknown metric 'recal'; did you mean 'recall'\?"),
        (_constraints(auc={"threshold": 0.5, "comparison_operator": "LessThan"}),
         r"c.json: \$.binary_classification_constraints.auc.comparison_operator: 'LessThan' is not an operator; "
         "use LessThanThreshold or GreaterThanThreshold"),
        (_constraints(auc={"threshold": "0.5", "comparison_operator": LESS_THAN}),
         r"c.json: \$.binary_classification_constraints.auc.threshold: '0.5' is not a number"),
        (_constraints(auc={"threshold": True, "comparison_operator": LESS_THAN}), r"auc.threshold: True is not a"),
        (_constraints(auc={"comparison_operator": LESS_THAN}), r"auc: lacks threshold"),
        (_constraints(auc=0.5), r"\$.binary_classification_constraints.auc: expected \{\"threshold\""),
        ({"version": 0.0, "features": []}, r"c.json: \$: expected exactly one of binary_classification_constraints, "
         r"multiclass_classification_constraints, regression_constraints, found version, features"),
        ({"binary_classification_metrics": {}}, r"found binary_classification_metrics"),
        ([], r"c.json: \$: expected a JSON object"),
        ({"binary_classification_constraints": []}, r"\$.binary_classification_constraints: must be an object"),
    ],
)  # fmt: skip
def test_hand_edited_constraints_errors(document, message):
    with pytest.raises(QualityDocumentError, match=message):
        QualityConstraints.of(document, "c.json")


def test_constraints_of_another_problem_type():
    document = {"regression_constraints": {"mae": {"threshold": 1, "comparison_operator": GREATER_THAN}}}
    with pytest.raises(QualityDocumentError, match="no binary_classification_constraints for problem type Binary"):
        QualityConstraints.of(document, "c.json", BINARY)
    assert QualityConstraints.of(document).problem_type == REGRESSION


def test_unreadable_files_are_named(tmp_path):
    broken = tmp_path / "constraints.json"
    broken.write_text('{"binary_classification_constraints": {,}}')
    with pytest.raises(QualityDocumentError, match=r"constraints.json: not valid JSON \(line 1, column 40"):
        QualityConstraints.read(str(broken))
    with pytest.raises(QualityDocumentError, match="missing.json: cannot read"):
        QualityStatistics.read(str(tmp_path / "missing.json"))


# --- statistics.json --------------------------------------------------------------------------------


def test_statistics_view():
    document = {
        "version": 0.0,
        "dataset": {"item_count": 4},
        "binary_classification_metrics": {
            "confusion_matrix": ref.DOC_BINARY_CONFUSION,
            "recall": {"value": 1.0, "standard_deviation": "NaN"},
            "auc": {"value": 0.75, "standard_deviation": 0.01},
            "receiver_operating_characteristic_curve": {"false_positive_rates": [0.0, 1.0],
                                                        "true_positive_rates": [0.0, 1.0]},
            "something_new": [1, 2],
        },
    }  # fmt: skip
    statistics = QualityStatistics.of(document, "s.json")
    assert statistics.item_count == 4 and statistics.confusion_matrix == ref.DOC_BINARY_CONFUSION
    assert math.isnan(statistics.metric("recall").standard_deviation)
    assert statistics.metric("auc").value == 0.75 and statistics.metric("f1") is None
    assert statistics.roc_curve == ((0.0, 1.0), (0.0, 1.0)) and statistics.pr_curve is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"auc": {"value": "high"}}, r"s.json: \$.binary_classification_metrics.auc: expected \{\"value\""),
        ({"auc": {"value": 1, "standard_deviation": "x"}}, r"auc.standard_deviation: 'x' is not a number or \"NaN\""),
        ({"confusion_matrix": {"0": {"0": "1"}}}, r"confusion_matrix: expected"),
        ({"precision_recall_curve": {"precisions": [1, "a"]}}, r"precision_recall_curve.precisions: expected a list"),
    ],
)
def test_statistics_errors(section, message):
    with pytest.raises(QualityDocumentError, match=message):
        QualityStatistics.of({"binary_classification_metrics": section}, "s.json")
