"""The six data-quality checks, as pure functions over statistics/constraints documents.

Inputs are the baseline's `statistics.json` and `constraints.json` documents, the current
window's statistics document and the per-value type and category counts of its profile, so the
alerts and report code can re-run a check from stored files. Templates, thresholds and firing
rules follow the contract, section 5; wording marked "ours" has no public original.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np

from analyzer import distance, kll
from analyzer.jsonfmt import java_double
from analyzer.violations import Violation, check_order

NUMERIC = ("Integral", "Fractional")


class BaselineError(ValueError):
    """A baseline document lacks something the checks need; the message says what and where."""


_ENABLED = {"Enabled": True, "Disabled": False}
# Keys of a constraints file's monitoring_config -> field names, and the nested block they live in.
_SWITCHES = ("evaluate_constraints", "emit_metrics", "perform_comparison")
_METHODS = {
    "comparison_method": ("Robust", "Simple"),
    "categorical_drift_method": ("LInfinity", "ChiSquared"),
}
_DISTRIBUTION_KEYS = (
    "perform_comparison",
    "comparison_threshold",
    "comparison_method",
    "categorical_comparison_threshold",
    "categorical_drift_method",
)


@dataclass(frozen=True)
class MonitoringConfig:
    """A constraints file's `monitoring_config`, with the service's defaults (contract, section 4)."""

    evaluate_constraints: bool = True
    emit_metrics: bool = True
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    perform_comparison: bool = True
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = "LInfinity"

    def merged(self, block: object, where: str) -> MonitoringConfig:
        """This config with the fields set in a `monitoring_config`-shaped block applied."""
        if block is None:
            return self
        if not isinstance(block, dict):
            raise BaselineError(f"{where} must be an object, got {type(block).__name__}")
        flat = {k: v for k, v in block.items() if k != "distribution_constraints"}
        nested = block.get("distribution_constraints")
        if nested is not None:
            if not isinstance(nested, dict):
                raise BaselineError(f"{where}.distribution_constraints must be an object")
            flat.update({k: v for k, v in nested.items() if k in _DISTRIBUTION_KEYS})
        known = {f.name for f in fields(self)}
        changes = {}
        for key, value in flat.items():
            if key not in known:
                continue  # unknown keys are left for forward compatibility
            changes[key] = _field_value(key, value, f"{where}.{key}")
        return replace(self, **changes)


def _field_value(key: str, value: object, where: str) -> object:
    if key in _SWITCHES:
        if value not in _ENABLED:
            raise BaselineError(f"{where} is {value!r}; use \"Enabled\" or \"Disabled\"")
        return _ENABLED[value]
    if key in _METHODS:
        if value not in _METHODS[key]:
            raise BaselineError(f"{where} is {value!r}; use one of {', '.join(_METHODS[key])}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise BaselineError(f"{where} is {value!r}; use a number such as 0.1")
    return float(value)


def feature_overrides(feature: Mapping) -> object:
    # The SDK writes snake_case, the docs camelCase: accept both (contract, section 4).
    return feature.get("monitoring_config_overrides", feature.get("monitoringConfigOverrides"))


def global_config(constraints: Mapping, categorical_drift_method: str | None = None) -> MonitoringConfig:
    """The file's monitoring_config. `categorical_drift_method` (the container's environment
    variable) is a job-level choice: it replaces the file's global method (suggested files always
    write one), while per-feature overrides still win over it."""
    config = MonitoringConfig().merged(constraints.get("monitoring_config"), "constraints.json monitoring_config")
    if categorical_drift_method:
        config = config.merged({"categorical_drift_method": categorical_drift_method}, "categorical_drift_method")
    return config


# --- messages -----------------------------------------------------------------------------------


def _percent(share: float) -> str:
    return f"{java_double(share * 100)}%"


def data_type_message(expected_type: str, threshold: float, ratio: float) -> str:
    return (
        f"Data type match requirement is not met. Expected data type: {expected_type}, "
        f"Expected match: {_percent(threshold)}. Observed: Only {_percent(ratio)} of data is {expected_type}."
    )


def completeness_message(expected: float, observed: float) -> str:
    return (
        f"Data completeness requirement is not met. Expected: {_percent(expected)}. "
        f"Observed: Only {_percent(observed)}."
    )


def drift_message(value: float, threshold: float, method: str) -> str:
    if method == "ChiSquared":
        # Ours (inferred): a p-value signals drift when it is small, so the comparison flips.
        return (
            f"Baseline drift distance: {java_double(value)} is below threshold: {java_double(threshold)} "
            "(ChiSquared p-value)"
        )
    return f"Baseline drift distance: {java_double(value)} exceeds threshold: {java_double(threshold)}"


def domain_message(threshold: float, inside: int, present: int, unseen: Mapping[str, int]) -> str:
    # Ours: the service's wording for this check is not public.
    shown = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    listed = ", ".join(f'"{value}" ({count})' for value, count in shown)
    more = f" and {len(unseen) - len(shown)} more" if len(unseen) > len(shown) else ""
    return (
        f"Data domain requirement is not met. Expected: {_percent(threshold)} of values in the baseline "
        f"domain. Observed: Only {_percent(inside / present)} ({inside} of {present}). "
        f"Unseen values: {listed}{more}."
    )


# --- per-feature checks -------------------------------------------------------------------------


def _section(feature: Mapping) -> Mapping:
    """The per-type statistics object of a statistics.json feature (numerical or string)."""
    return feature.get("numerical_statistics") or feature.get("string_statistics") or {}


def _num_present(feature: Mapping) -> int:
    return int(_section(feature).get("common", {}).get("num_present", 0))


def types_compatible(expected: str, current: str) -> bool:
    """Integral values fit a Fractional column; otherwise the types must agree."""
    return current == expected or (expected == "Fractional" and current == "Integral")


def data_type_violation(
    name: str, expected_type: str, current: Mapping, type_counts: Mapping[str, int], threshold: float
) -> Violation | None:
    """Fires when the column's type changed and too few values still have the baseline's type."""
    present = _num_present(current)
    current_type = current.get("inferred_type", "Unknown")
    if expected_type == "Unknown" or present == 0 or types_compatible(expected_type, current_type):
        return None
    matching = type_counts.get(expected_type, 0)
    if expected_type == "Fractional":
        matching += type_counts.get("Integral", 0)
    ratio = matching / present
    if ratio >= threshold:
        return None
    return Violation(name, "data_type_check", data_type_message(expected_type, threshold, ratio))


def completeness_violation(name: str, expected: float, current: Mapping, item_count: int) -> Violation | None:
    observed = _num_present(current) / item_count
    if observed >= expected:
        return None
    return Violation(name, "completeness_check", completeness_message(expected, observed))


def _sketch(feature: Mapping) -> tuple[np.ndarray, np.ndarray] | None:
    data = (
        feature.get("numerical_statistics", {}).get("distribution", {}).get("kll", {}).get("sketch", {}).get("data")
    )
    if not data or not any(data):
        return None
    return kll.sorted_items(data)


def _categories(feature: Mapping) -> dict[str, int] | None:
    buckets = feature.get("string_statistics", {}).get("distribution", {}).get("categorical", {}).get("buckets")
    if not buckets:
        return None
    return {str(b["value"]): int(b["count"]) for b in buckets}


def drift_value(baseline: Mapping, current: Mapping, config: MonitoringConfig) -> tuple[float, float, str] | None:
    """(distance or p-value, threshold, method) for one feature, or None when it cannot be compared.

    Numeric features compare KLL sketches; String features compare category counts (only
    low-cardinality columns carry them).
    """
    if baseline.get("inferred_type") in NUMERIC and current.get("inferred_type") in NUMERIC:
        sketches = _sketch(baseline), _sketch(current)
        if sketches[0] is None or sketches[1] is None:
            return None
        value = distance.numeric_distance(sketches[0], sketches[1], config.comparison_method)
        return value, config.comparison_threshold, config.comparison_method
    counts = _categories(baseline), _categories(current)
    if counts[0] is None or counts[1] is None:
        return None
    if config.categorical_drift_method == "ChiSquared":
        value = distance.chi_square_p_value(counts[0], counts[1])
    else:
        value = distance.categorical_linf(counts[0], counts[1], config.comparison_method)
    return value, config.categorical_comparison_threshold, config.categorical_drift_method


def drift_exceeds(value: float, threshold: float, method: str) -> bool:
    # NaN (no test possible) never fires.
    return value < threshold if method == "ChiSquared" else value > threshold


def domain_violation(
    name: str, domains: list, value_counts: Mapping[str, int], threshold: float
) -> Violation | None:
    allowed = {str(v) for v in domains}
    present = sum(value_counts.values())
    if present == 0:
        return None
    unseen = {value: count for value, count in value_counts.items() if value not in allowed}
    inside = present - sum(unseen.values())
    if inside / present >= threshold:
        return None
    return Violation(name, "categorical_values_check", domain_message(threshold, inside, present, unseen))


def many_values_domain_violation(name: str, domains: list, current: Mapping, threshold: float) -> Violation | None:
    """The domain check for a column with too many distinct values to have exact counts.

    Each distinct value beyond the domain's size is unseen and occurs at least once, which bounds
    the share inside the domain from above; fire only when even that bound is too low.
    """
    present = _num_present(current)
    distinct = int(_section(current).get("distinct_count", 0))
    unseen = max(0, distinct - len({str(v) for v in domains}))
    if present == 0 or (present - unseen) / present >= threshold:
        return None
    return Violation(
        name,
        "categorical_values_check",
        f"Data domain requirement is not met. Expected: {_percent(threshold)} of values in the baseline "
        f"domain. Observed: about {distinct} distinct values, too many to count one by one; at least "
        f"{unseen} of them are not among the {len(domains)} baseline values, so at most "
        f"{_percent((present - unseen) / present)} ({present - unseen} of {present}) can be in the domain.",
    )


def column_count_violations(names: list[str], field_counts: Mapping[int, int]) -> list[Violation]:
    """missing/extra column checks from the number of fields per row (ours; see analyzer.captures)."""
    width, rows = len(names), sum(field_counts.values())
    violations = []
    short = {n: c for n, c in field_counts.items() if n < width}
    if short:
        fewest = min(short)
        violations.append(
            Violation(
                names[fewest],
                "missing_column_check",
                f"Missing columns: {sum(short.values())} of {rows} rows have fewer fields than the "
                f"baseline's {width} columns (as few as {fewest}); their values for columns "
                f"{fewest + 1} to {width} ({names[fewest]} onwards) were counted as missing.",
            )
        )
    long = {n: c for n, c in field_counts.items() if n > width}
    if long:
        violations.append(
            Violation(
                f"_c{width}",
                "extra_column_check",
                f"Extra columns: {sum(long.values())} of {rows} rows have more fields than the "
                f"baseline's {width} columns (up to {max(long)}); values after column {width} were not analyzed.",
            )
        )
    return violations


# --- all checks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    violations: list[Violation]
    drift: dict[str, float]  # feature -> distance (or p-value) for every compared feature
    emit_metrics: dict[str, bool]  # feature -> whether its metrics may be published


def _by_name(document: Mapping, where: str) -> dict[str, Mapping]:
    features = document.get("features")
    if not isinstance(features, list) or not all(isinstance(f, dict) and "name" in f for f in features):
        raise BaselineError(f"{where} has no 'features' list of objects with a 'name'")
    return {f["name"]: f for f in features}


def evaluate(
    baseline_statistics: Mapping,
    baseline_constraints: Mapping,
    current_statistics: Mapping,
    type_counts: Mapping[str, Mapping[str, int]],
    value_counts: Mapping[str, Mapping[str, int] | None],
    field_counts: Mapping[int, int],
    categorical_drift_method: str | None = None,
) -> CheckOutcome:
    """Run every check; violations come in the service's order (by check, then column)."""
    config = global_config(baseline_constraints, categorical_drift_method)
    baseline_stats = _by_name(baseline_statistics, "baseline statistics")
    constraints = _by_name(baseline_constraints, "baseline constraints")
    current = _by_name(current_statistics, "current statistics")
    names = list(baseline_stats)
    item_count = int(current_statistics.get("dataset", {}).get("item_count", 0))
    violations: list[Violation] = []
    drift: dict[str, float] = {}
    emit: dict[str, bool] = {}
    for name in names:
        feature = constraints.get(name, {})
        local = config.merged(feature_overrides(feature), f"constraints.json feature {name!r} overrides")
        emit[name] = local.emit_metrics
        now = current.get(name)
        if now is None:
            continue
        expected_type = feature.get("inferred_type", baseline_stats[name].get("inferred_type", "Unknown"))
        compatible = types_compatible(expected_type, now.get("inferred_type", "Unknown"))
        measured = drift_value(baseline_stats[name], now, local) if compatible else None
        if measured is not None:
            drift[name] = measured[0]
        if not (config.evaluate_constraints and local.evaluate_constraints):
            continue
        found = [
            data_type_violation(
                name, expected_type, now, type_counts.get(name, {}), local.datatype_check_threshold
            ),
        ]
        if "completeness" in feature and item_count:
            found.append(completeness_violation(name, float(feature["completeness"]), now, item_count))
        if measured is not None and local.perform_comparison and drift_exceeds(*measured):
            found.append(Violation(name, "baseline_drift_check", drift_message(*measured)))
        domains = feature.get("string_constraints", {}).get("domains")
        if domains and expected_type == "String" and now.get("inferred_type") == "String":
            counts = value_counts.get(name)
            threshold = local.domain_content_threshold
            found.append(
                domain_violation(name, domains, counts, threshold)
                if counts is not None
                else many_values_domain_violation(name, domains, now, threshold)
            )
        violations.extend(v for v in found if v is not None)
    if config.evaluate_constraints:
        violations.extend(column_count_violations(names, field_counts))
    # Stable sort: within a check, features stay in column order.
    violations.sort(key=check_order)
    return CheckOutcome(violations, drift, emit)
