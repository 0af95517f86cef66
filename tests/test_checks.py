import math

import pytest

from analyzer import checks
from contract.documents import Constraints, FeatureStatistics, MonitoringConfig, Statistics
from contract.errors import BaselineError
from contract.violations import Drift


def numeric(name, values, inferred_type="Integral", missing=0):
    return {
        "name": name,
        "inferred_type": inferred_type,
        "numerical_statistics": {
            "common": {"num_present": len(values), "num_missing": missing},
            "sum": float(sum(values)),
            "min": float(min(values)),
            "max": float(max(values)),
            "distribution": {"kll": {"sketch": {"parameters": {"c": 0.64, "k": 2048.0}, "data": [list(values)]}}},
        },
    }


def string(name, counts, missing=0):
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {"num_present": sum(counts.values()), "num_missing": missing},
            "distinct_count": float(len(counts)),
            "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in counts.items()]}},
        },
    }


def statistics(*features, item_count=None):
    count = item_count or max(
        f.get("numerical_statistics", f.get("string_statistics"))["common"]["num_present"] for f in features
    )
    return {"version": 0.0, "dataset": {"item_count": count}, "features": list(features)}


def constraint(name, inferred_type, completeness=1.0, domains=None, **extra):
    feature = {"name": name, "inferred_type": inferred_type, "completeness": completeness, **extra}
    if domains is not None:
        feature["string_constraints"] = {"domains": domains}
    return feature


def constraints(*features, **config):
    return {"version": 0.0, "features": list(features), "monitoring_config": config}


# --- message templates (real examples, contract section 5) ---------------------------------------


def test_data_type_message_matches_the_service_to_the_last_digit():
    current = numeric("Tot Fwd Pkts", [1.5] * 3882, inferred_type="Fractional")
    violation = checks.data_type_violation(
        "Tot Fwd Pkts", "Integral", FeatureStatistics(current), {"Integral": 3869, "Fractional": 13}, 1.0
    )
    assert violation.constraint_check_type == "data_type_check"
    assert violation.description == (
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
        "Observed: Only 99.66512107161257% of data is Integral."
    )


def test_completeness_message_matches_the_service():
    current = numeric("Flow Duration", [1] * 9, missing=1000)
    violation = checks.completeness_violation("Flow Duration", 1.0, FeatureStatistics(current), 1009)
    assert violation.description == (
        "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 0.8919722497522299%."
    )


def test_drift_message_has_no_final_period():
    assert (
        Drift(0.9293200129316993, 0.1).describe()
        == "Baseline drift distance: 0.9293200129316993 exceeds threshold: 0.1"
    )


# --- data type ------------------------------------------------------------------------------------


def test_probabilities_in_an_integral_label_column_are_zero_percent_integral():
    current = numeric("Churn", [0.25, 0.75], inferred_type="Fractional")
    violation = checks.data_type_violation("Churn", "Integral", FeatureStatistics(current), {"Fractional": 2}, 1.0)
    assert violation.description.endswith("Observed: Only 0.0% of data is Integral.")


def test_integral_values_in_a_fractional_column_are_fine():
    current = numeric("Day Mins", [1, 2, 3], inferred_type="Integral")
    current = FeatureStatistics(current)
    assert checks.data_type_violation("Day Mins", "Fractional", current, {"Integral": 3}, 1.0) is None


def test_fractional_expectation_counts_integral_values_as_matching():
    current = {"inferred_type": "String", "string_statistics": {"common": {"num_present": 4}}}
    current = FeatureStatistics(current)
    violation = checks.data_type_violation("x", "Fractional", current, {"Integral": 2, "Fractional": 1}, 1.0)
    assert "Only 75.0% of data is Fractional." in violation.description


def test_data_type_threshold_is_honoured():
    current = numeric("x", [1.5] * 100, inferred_type="Fractional")
    current = FeatureStatistics(current)
    assert checks.data_type_violation("x", "Integral", current, {"Integral": 95, "Fractional": 5}, 0.9) is None
    assert checks.data_type_violation("x", "Integral", current, {"Integral": 85, "Fractional": 15}, 0.9)


# --- config ---------------------------------------------------------------------------------------


def test_monitoring_config_defaults_and_nested_distribution_block():
    block = {
        "emit_metrics": "Disabled",
        "distribution_constraints": {"comparison_threshold": 0.3, "comparison_method": "Simple"},
    }
    config = MonitoringConfig().merged(block, "test")
    assert (config.emit_metrics, config.comparison_threshold, config.comparison_method) == (False, 0.3, "Simple")
    assert config.categorical_drift_method == "LInfinity" and config.datatype_check_threshold == 1.0


@pytest.mark.parametrize(
    "block, message",
    [
        ({"evaluate_constraints": "enabled"}, 'use "Enabled" or "Disabled"'),
        ({"datatype_check_threshold": "high"}, "use a number"),
        ({"distribution_constraints": {"comparison_method": "Fancy"}}, "use one of Robust, Simple"),
        ({"distribution_constraints": []}, "must be an object"),
    ],
)
def test_malformed_monitoring_config_is_a_named_error(block, message):
    with pytest.raises(BaselineError, match=message):
        MonitoringConfig().merged(block, "constraints.json monitoring_config")


def test_environment_drift_method_replaces_the_files_global_method_but_not_feature_overrides():
    file_says = constraints(
        constraint("state", "String", monitoring_config_overrides={"categorical_drift_method": "LInfinity"}),
        distribution_constraints={"categorical_drift_method": "LInfinity"},
    )
    document = Constraints.of(file_says, categorical_drift_method="ChiSquared")
    assert document.config.categorical_drift_method == "ChiSquared"
    assert document.feature_config("state").categorical_drift_method == "LInfinity"
    with pytest.raises(BaselineError, match="use one of LInfinity, ChiSquared"):
        Constraints.of(file_says, categorical_drift_method="KL")


# --- evaluate -------------------------------------------------------------------------------------

BASE_VALUES = list(range(100))
SHIFTED = [v + 60 for v in BASE_VALUES]


def run(baseline_stats, baseline_constraints, current_stats, type_counts=None, value_counts=None, fields=None):
    width = len(baseline_stats["features"])
    return checks.evaluate(
        Statistics.of(baseline_stats),
        Constraints.of(baseline_constraints),
        Statistics.of(current_stats),
        type_counts or {},
        value_counts or {},
        fields or {width: current_stats["dataset"]["item_count"]},
    )


def drift_case(**config):
    base = statistics(numeric("a", BASE_VALUES), numeric("b", BASE_VALUES))
    cons = constraints(constraint("a", "Integral"), constraint("b", "Integral"), **config)
    current = statistics(numeric("a", BASE_VALUES), numeric("b", SHIFTED))
    return base, cons, current


def test_drift_fires_only_on_the_shifted_column_with_the_robust_distance():
    outcome = run(*drift_case())
    simple = 0.6
    robust = simple - 1.8 * math.sqrt(200 / (100 * 100))
    assert [(v.feature_name, v.constraint_check_type) for v in outcome.violations] == [("b", "baseline_drift_check")]
    assert outcome.drift["a"] == 0.0 and outcome.drift["b"] == pytest.approx(robust)


def test_simple_method_and_threshold_are_honoured():
    outcome = run(*drift_case(distribution_constraints={"comparison_method": "Simple", "comparison_threshold": 0.7}))
    assert outcome.drift["b"] == pytest.approx(0.6) and outcome.violations == []


def test_perform_comparison_disabled_reports_no_drift_but_keeps_the_metric():
    outcome = run(*drift_case(distribution_constraints={"perform_comparison": "Disabled"}))
    assert outcome.violations == [] and outcome.drift["b"] > 0.1


def test_evaluate_constraints_disabled_skips_every_check():
    base, cons, current = drift_case(evaluate_constraints="Disabled")
    assert run(base, cons, current, fields={1: 100}).violations == []


@pytest.mark.parametrize("key", ["monitoring_config_overrides", "monitoringConfigOverrides"])
def test_per_feature_overrides_in_either_spelling(key):
    base, cons, current = drift_case()
    cons["features"][1][key] = {"evaluate_constraints": "Disabled"}
    assert run(base, cons, current).violations == []
    cons["features"][1][key] = {"distribution_constraints": {"comparison_threshold": 0.9}, "emit_metrics": "Disabled"}
    outcome = run(base, cons, current)
    assert outcome.violations == [] and outcome.emit_metrics == {"a": True, "b": False}


def test_no_drift_is_computed_when_types_differ():
    base = statistics(numeric("Churn", [0, 1] * 50))
    current = statistics(numeric("Churn", [0.01 * i for i in range(100)], inferred_type="Fractional"))
    type_counts = {"Churn": {"Fractional": 99, "Integral": 1}}
    outcome = run(base, constraints(constraint("Churn", "Integral")), current, type_counts)
    assert [v.constraint_check_type for v in outcome.violations] == ["data_type_check"]
    assert "Churn" not in outcome.drift


def test_violations_are_ordered_by_check_then_column():
    base = statistics(numeric("a", BASE_VALUES), numeric("b", BASE_VALUES), numeric("c", BASE_VALUES))
    cons = constraints(constraint("a", "Integral"), constraint("b", "Integral"), constraint("c", "Integral"))
    current = statistics(
        numeric("a", SHIFTED[:90], missing=10),
        numeric("b", [v + 0.5 for v in BASE_VALUES], inferred_type="Fractional"),
        numeric("c", SHIFTED),
        item_count=100,
    )
    outcome = run(base, cons, current, {"b": {"Fractional": 100}}, fields={3: 99, 4: 1})
    assert [(v.constraint_check_type, v.feature_name) for v in outcome.violations] == [
        ("data_type_check", "b"),
        ("completeness_check", "a"),
        ("baseline_drift_check", "a"),
        ("baseline_drift_check", "c"),
        ("extra_column_check", "_c3"),
    ]


def categorical_case(current_counts, **config):
    base = statistics(string("state", {"CA": 500, "TX": 500}))
    cons = constraints(constraint("state", "String", domains=["CA", "TX"]), **config)
    return base, cons, statistics(string("state", current_counts))


def test_unseen_category_fires_the_categorical_values_check_with_share_and_values():
    base, cons, current = categorical_case({"CA": 45, "TX": 50, "ZZ": 4, "QQ": 1})
    outcome = run(base, cons, current, {"state": {"String": 100}}, {"state": {"CA": 45, "TX": 50, "ZZ": 4, "QQ": 1}})
    [violation] = [v for v in outcome.violations if v.constraint_check_type == "categorical_values_check"]
    assert violation.description == (
        "Data domain requirement is not met. Expected: 100.0% of values in the baseline domain. "
        'Observed: Only 95.0% (95 of 100). Unseen values: "ZZ" (4), "QQ" (1).'
    )


def test_domain_content_threshold_is_honoured():
    base, cons, current = categorical_case({"CA": 45, "TX": 50, "ZZ": 5}, domain_content_threshold=0.9)
    outcome = run(base, cons, current, {"state": {"String": 100}}, {"state": {"CA": 45, "TX": 50, "ZZ": 5}})
    assert [v.constraint_check_type for v in outcome.violations] == []


def test_domain_check_without_exact_counts_uses_the_distinct_count_bound():
    base = statistics(string("id", {"a": 5, "b": 5}))
    cons = constraints(constraint("id", "String", domains=["a", "b"]))
    current = statistics(string("id", {f"v{i}": 1 for i in range(300)}))
    current["features"][0]["string_statistics"].pop("distribution")
    [violation] = run(base, cons, current, {"id": {"String": 300}}, {"id": None}).violations
    assert violation.constraint_check_type == "categorical_values_check"
    assert "at least 298 of them are not among the 2 baseline values" in violation.description
    assert "so at most 0.6666666666666667% (2 of 300) can be in the domain" in violation.description
    loose = constraints(constraint("id", "String", domains=["a", "b"]), domain_content_threshold=0.005)
    assert run(base, loose, current, {"id": {"String": 300}}, {"id": None}).violations == []


def test_categorical_linf_drift_on_string_columns():
    base, cons, current = categorical_case({"CA": 900, "TX": 100})
    outcome = run(base, cons, current, {"state": {"String": 1000}}, {"state": {"CA": 900, "TX": 100}})
    expected = 0.4 - 1.8 * math.sqrt(2000 / (1000 * 1000))
    [violation] = outcome.violations
    assert violation.description == Drift(expected, 0.1).describe()
    assert outcome.drift["state"] == pytest.approx(expected)


def test_chi_squared_method_fires_on_a_small_p_value():
    counts = {"CA": 560, "TX": 440}
    base, cons, current = categorical_case(counts, distribution_constraints={"categorical_drift_method": "ChiSquared"})
    outcome = run(base, cons, current, {"state": {"String": 1000}}, {"state": counts})
    # statistic = 2 * 60^2 / 500 = 14.4 with one degree of freedom
    p_value = math.erfc(math.sqrt(14.4 / 2))
    assert outcome.drift["state"] == pytest.approx(p_value)
    [violation] = outcome.violations
    assert violation.description.startswith("Baseline drift distance: ")
    assert "below threshold: 0.1" in violation.description
    # The same shift is within the L-infinity threshold (0.06 - allowance < 0.1).
    base, cons, current = categorical_case(counts)
    assert run(base, cons, current, {"state": {"String": 1000}}, {"state": counts}).violations == []


def test_missing_and_extra_column_checks_name_the_counts():
    names = ["a", "b", "c"]
    [missing, extra] = checks.column_count_violations(names, {3: 90, 1: 4, 2: 2, 5: 3})
    assert (missing.feature_name, missing.constraint_check_type) == ("b", "missing_column_check")
    assert "6 of 99 rows have fewer fields than the baseline's 3 columns (as few as 1)" in missing.description
    assert (extra.feature_name, extra.constraint_check_type) == ("_c3", "extra_column_check")
    assert "3 of 99 rows have more fields than the baseline's 3 columns (up to 5)" in extra.description
    assert checks.column_count_violations(names, {3: 10}) == []
