"""The six data-quality checks, as pure functions over the typed documents of `contract.documents`.

Inputs are the baseline's statistics and constraints, the current window's statistics and the
per-value type and category counts of its profile. `compare_feature` is the per-feature comparison
(types, the feature's config, drift, completeness): `evaluate` runs the checks on it, and the HTML
report draws it, so both show what the checks decided. Thresholds and firing rules follow the
contract, section 5; the descriptions are `contract.violations`' details classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from analyzer import distance, kll
from contract.documents import Constraints, FeatureStatistics, MonitoringConfig, Statistics
from contract.violations import (
    CHI_SQUARED,
    DataTypeMismatch,
    DomainMismatch,
    DomainTooLarge,
    Drift,
    ExtraColumns,
    Incompleteness,
    MissingColumns,
    Violation,
    check_order,
    unseen_listing,
)

Measured = tuple[float, float, str]  # (distance or p-value, threshold, method)


def types_compatible(expected: str, current: str) -> bool:
    """Integral values fit a Fractional column; otherwise the types must agree."""
    return current == expected or (expected == "Fractional" and current == "Integral")


# --- per-feature checks -------------------------------------------------------------------------


def data_type_violation(
    name: str, expected_type: str, current: FeatureStatistics, type_counts: Mapping[str, int], threshold: float
) -> Violation | None:
    """Fires when the column's type changed and too few values still have the baseline's type."""
    present = current.num_present
    if expected_type == "Unknown" or present == 0 or types_compatible(expected_type, current.inferred_type):
        return None
    matching = type_counts.get(expected_type, 0)
    if expected_type == "Fractional":
        matching += type_counts.get("Integral", 0)
    ratio = matching / present
    if ratio >= threshold:
        return None
    return Violation.of(name, DataTypeMismatch(expected_type, threshold * 100, ratio * 100))


def completeness_violation(name: str, expected: float, current: FeatureStatistics, item_count: int) -> Violation | None:
    observed = current.num_present / item_count
    if observed >= expected:
        return None
    return Violation.of(name, Incompleteness(expected * 100, observed * 100))


def drift_value(baseline: FeatureStatistics, current: FeatureStatistics, config: MonitoringConfig) -> Measured | None:
    """(distance or p-value, threshold, method) for one feature, or None when it cannot be compared.

    Numeric features compare KLL sketches; String features compare category counts (only
    low-cardinality columns carry them).
    """
    if baseline.is_numeric and current.is_numeric:
        sketches = baseline.sketch_data, current.sketch_data
        if sketches[0] is None or sketches[1] is None:
            return None
        value = distance.numeric_distance(
            kll.sorted_items(sketches[0]), kll.sorted_items(sketches[1]), config.comparison_method
        )
        return value, config.comparison_threshold, config.comparison_method
    counts = baseline.categories, current.categories
    if counts[0] is None or counts[1] is None:
        return None
    if config.categorical_drift_method == CHI_SQUARED:
        value = distance.chi_square_p_value(counts[0], counts[1])
    else:
        value = distance.categorical_linf(counts[0], counts[1], config.comparison_method)
    return value, config.categorical_comparison_threshold, config.categorical_drift_method


def drift_exceeds(value: float, threshold: float, method: str) -> bool:
    # NaN (no test possible) never fires.
    return value < threshold if method == CHI_SQUARED else value > threshold


def domain_violation(name: str, domains: list, value_counts: Mapping[str, int], threshold: float) -> Violation | None:
    allowed = {str(v) for v in domains}
    present = sum(value_counts.values())
    if present == 0:
        return None
    unseen = {value: count for value, count in value_counts.items() if value not in allowed}
    inside = present - sum(unseen.values())
    if inside / present >= threshold:
        return None
    return Violation.of(
        name, DomainMismatch(threshold * 100, inside / present * 100, inside, present, unseen_listing(unseen))
    )


def many_values_domain_violation(
    name: str, domains: list, current: FeatureStatistics, threshold: float
) -> Violation | None:
    """The domain check for a column with too many distinct values to have exact counts.

    Each distinct value beyond the domain's size is unseen and occurs at least once, which bounds
    the share inside the domain from above; fire only when even that bound is too low.
    """
    present, distinct = current.num_present, current.distinct_count
    size = len({str(v) for v in domains})
    unseen = max(0, distinct - size)
    if present == 0 or (present - unseen) / present >= threshold:
        return None
    bound = (present - unseen) / present * 100
    return Violation.of(
        name, DomainTooLarge(threshold * 100, distinct, unseen, len(domains), bound, present - unseen, present)
    )


def column_count_violations(names: list[str], field_counts: Mapping[int, int]) -> list[Violation]:
    """missing/extra column checks from the number of fields per row (ours; see analyzer.captures)."""
    width, rows = len(names), sum(field_counts.values())
    violations = []
    short = {n: c for n, c in field_counts.items() if n < width}
    if short:
        fewest = min(short)
        details = MissingColumns(sum(short.values()), rows, width, fewest, names[fewest])
        violations.append(Violation.of(names[fewest], details))
    long = {n: c for n, c in field_counts.items() if n > width}
    if long:
        violations.append(Violation.of(f"_c{width}", ExtraColumns(sum(long.values()), rows, width, max(long))))
    return violations


# --- the comparison of one feature --------------------------------------------------------------


@dataclass(frozen=True)
class FeatureComparison:
    """A baseline feature against the window: what every check and the report start from."""

    name: str
    expected_type: str  # the constraints' type, else the baseline statistics'
    config: MonitoringConfig  # the global config with the feature's overrides
    baseline: FeatureStatistics
    current: FeatureStatistics | None  # None: the window has no such column
    expected_completeness: float | None = None
    completeness: float | None = None  # the window's share of present values
    drift: Measured | None = None

    @property
    def compatible(self) -> bool:
        return self.current is not None and types_compatible(self.expected_type, self.current.inferred_type)

    @property
    def drifted(self) -> bool:
        return self.drift is not None and self.config.perform_comparison and drift_exceeds(*self.drift)


def compare_feature(
    name: str, baseline: Statistics, constraints: Constraints, current: Statistics
) -> FeatureComparison:
    rule = constraints.feature(name)
    base = baseline.features[name]
    now = current.features.get(name)
    comparison = FeatureComparison(
        name=name,
        expected_type=rule.inferred_type or base.inferred_type,
        config=constraints.feature_config(name),
        baseline=base,
        current=now,
        expected_completeness=rule.completeness,
    )
    if now is None:
        return comparison
    measured = drift_value(base, now, comparison.config) if comparison.compatible else None
    completeness = now.num_present / current.item_count if current.item_count else None
    return replace(comparison, drift=measured, completeness=completeness)


# --- all checks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    violations: list[Violation]
    drift: dict[str, float] = field(default_factory=dict)  # feature -> distance (or p-value), compared features
    emit_metrics: dict[str, bool] = field(default_factory=dict)  # feature -> whether its metrics may be published


def feature_violations(
    comparison: FeatureComparison,
    constraints: Constraints,
    item_count: int,
    type_counts: Mapping[str, int],
    value_counts: Mapping[str, int] | None,
) -> list[Violation]:
    """The violations of one compared feature, in check order."""
    now, local, name = comparison.current, comparison.config, comparison.name
    found = [data_type_violation(name, comparison.expected_type, now, type_counts, local.datatype_check_threshold)]
    if comparison.expected_completeness is not None and item_count:
        found.append(completeness_violation(name, comparison.expected_completeness, now, item_count))
    if comparison.drifted:
        found.append(Violation.of(name, Drift(*comparison.drift[:2], p_value=comparison.drift[2] == CHI_SQUARED)))
    domains = constraints.feature(name).domains
    if domains and comparison.expected_type == "String" and now.inferred_type == "String":
        threshold = local.domain_content_threshold
        found.append(
            domain_violation(name, domains, value_counts, threshold)
            if value_counts is not None
            else many_values_domain_violation(name, domains, now, threshold)
        )
    return [v for v in found if v is not None]


def evaluate(
    baseline: Statistics,
    constraints: Constraints,
    current: Statistics,
    type_counts: Mapping[str, Mapping[str, int]],
    value_counts: Mapping[str, Mapping[str, int] | None],
    field_counts: Mapping[int, int],
) -> CheckOutcome:
    """Run every check; violations come in the service's order (by check, then column)."""
    outcome = CheckOutcome([])
    for name in baseline.names:
        comparison = compare_feature(name, baseline, constraints, current)
        outcome.emit_metrics[name] = comparison.config.emit_metrics
        if comparison.current is None:
            continue
        if comparison.drift is not None:
            outcome.drift[name] = comparison.drift[0]
        if constraints.config.evaluate_constraints and comparison.config.evaluate_constraints:
            outcome.violations.extend(
                feature_violations(
                    comparison, constraints, current.item_count, type_counts.get(name, {}), value_counts.get(name)
                )
            )
    if constraints.config.evaluate_constraints:
        outcome.violations.extend(column_count_violations(baseline.names, field_counts))
    # Stable sort: within a check, features stay in column order.
    outcome.violations.sort(key=check_order)
    return outcome
