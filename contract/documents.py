"""Typed read model of `statistics.json` and `constraints.json` (contract, sections 3 and 4).

The checks, the report, the metrics writer and the constraints diff read documents through these
views instead of walking dicts; each view keeps its `raw` mapping (the analyzer's profile writes
documents, which stay plain dicts in the service's key order). `MonitoringConfig` is the one home
of the monitoring config's defaults: suggested constraints write `MonitoringConfig().to_document()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from contract.errors import BaselineError

NUMERIC_TYPES = ("Integral", "Fractional")
# The baseline dataset's first column: the model's score, where captured rows hold the endpoint's output
# (contract, section 6). Its drift is the drift of the model's output.
MODEL_OUTPUT_FEATURE = "Churn Probability"
NUMERICAL, STRING = "numerical_statistics", "string_statistics"

_ENABLED = {"Enabled": True, "Disabled": False}
_SWITCHES = ("evaluate_constraints", "emit_metrics", "perform_comparison")
_METHODS = {
    "comparison_method": ("Robust", "Simple"),
    "categorical_drift_method": ("LInfinity", "ChiSquared"),
}
# Fields of the nested `distribution_constraints` block, in the service's order.
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
        # Unknown keys are left for forward compatibility.
        changes = {key: _field_value(key, value, f"{where}.{key}") for key, value in flat.items() if key in known}
        return replace(self, **changes)

    def to_document(self) -> dict:
        """The `monitoring_config` block as suggested constraints write it (2024 shape)."""

        def value(name: str) -> object:
            setting = getattr(self, name)
            return ("Enabled" if setting else "Disabled") if name in _SWITCHES else setting

        flat = [f.name for f in fields(self) if f.name not in _DISTRIBUTION_KEYS]
        return {
            **{name: value(name) for name in flat},
            "distribution_constraints": {name: value(name) for name in _DISTRIBUTION_KEYS},
        }


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


# --- statistics.json ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureStatistics:
    """One feature of a statistics.json document."""

    raw: Mapping

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def inferred_type(self) -> str:
        return self.raw.get("inferred_type", "Unknown")

    @property
    def is_numeric(self) -> bool:
        return self.inferred_type in NUMERIC_TYPES

    @property
    def has_numerical(self) -> bool:
        return NUMERICAL in self.raw

    @property
    def numerical(self) -> Mapping:
        return self.raw.get(NUMERICAL) or {}

    @property
    def section(self) -> Mapping:
        """The per-type statistics object (numerical or string)."""
        return self.raw.get(NUMERICAL) or self.raw.get(STRING) or {}

    @property
    def num_present(self) -> int:
        return int(self.section.get("common", {}).get("num_present", 0))

    @property
    def distinct_count(self) -> int:
        return int(self.section.get("distinct_count", 0))

    @property
    def sketch_data(self) -> list | None:
        """The KLL sketch's compactors (`distribution.kll.sketch.data`); None when absent or empty."""
        data = self.raw.get(NUMERICAL, {}).get("distribution", {}).get("kll", {}).get("sketch", {}).get("data")
        return data if data and any(data) else None

    @property
    def kll_buckets(self) -> list[tuple[float, float, float]]:
        """(lower bound, upper bound, count) of the KLL histogram."""
        buckets = self.raw.get(NUMERICAL, {}).get("distribution", {}).get("kll", {}).get("buckets", [])
        return [(float(b["lower_bound"]), float(b["upper_bound"]), float(b["count"])) for b in buckets]

    @property
    def categories(self) -> dict[str, int] | None:
        """Category counts of a low-cardinality String column; None when the histogram is absent."""
        buckets = self.raw.get(STRING, {}).get("distribution", {}).get("categorical", {}).get("buckets")
        if not buckets:
            return None
        return {str(b["value"]): int(b["count"]) for b in buckets}


def _features(document: Mapping, where: str) -> list[Mapping]:
    features = document.get("features") if isinstance(document, Mapping) else None
    if not isinstance(features, list) or not all(isinstance(f, dict) and "name" in f for f in features):
        raise BaselineError(f"{where} has no 'features' list of objects with a 'name'")
    return features


@dataclass(frozen=True)
class Statistics:
    """A statistics.json document: the dataset's row count and its features, by name in file order."""

    item_count: int
    features: dict[str, FeatureStatistics]

    @classmethod
    def of(cls, document: Mapping, where: str = "statistics") -> Statistics:
        features = {f["name"]: FeatureStatistics(f) for f in _features(document, where)}
        return cls(int(document.get("dataset", {}).get("item_count", 0)), features)

    @property
    def names(self) -> list[str]:
        return list(self.features)


# --- constraints.json -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureConstraints:
    """One feature of a constraints.json document (absent keys: no such constraint)."""

    raw: Mapping

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def inferred_type(self) -> str | None:
        return self.raw.get("inferred_type")

    @property
    def completeness(self) -> float | None:
        return float(self.raw["completeness"]) if "completeness" in self.raw else None

    @property
    def is_non_negative(self) -> bool | None:
        return self.raw.get("num_constraints", {}).get("is_non_negative")

    @property
    def domains(self) -> list | None:
        return self.raw.get("string_constraints", {}).get("domains") or None

    @property
    def overrides(self) -> object:
        # The SDK writes snake_case, the docs camelCase: accept both (contract, section 4).
        return self.raw.get("monitoring_config_overrides", self.raw.get("monitoringConfigOverrides"))


@dataclass(frozen=True)
class Constraints:
    """A constraints.json document: its features by name and its global monitoring config."""

    features: dict[str, FeatureConstraints]
    config: MonitoringConfig

    @classmethod
    def of(
        cls, document: Mapping, where: str = "constraints", categorical_drift_method: str | None = None
    ) -> Constraints:
        """`categorical_drift_method` (the container's environment variable) is a job-level choice: it
        replaces the file's global method (suggested files always write one), while per-feature
        overrides still win over it."""
        features = {f["name"]: FeatureConstraints(f) for f in _features(document, where)}
        config = MonitoringConfig().merged(document.get("monitoring_config"), "constraints.json monitoring_config")
        if categorical_drift_method:
            config = config.merged({"categorical_drift_method": categorical_drift_method}, "categorical_drift_method")
        return cls(features, config)

    def feature(self, name: str) -> FeatureConstraints:
        return self.features.get(name) or FeatureConstraints({"name": name})

    def feature_config(self, name: str) -> MonitoringConfig:
        """The config that applies to one feature: the global one with the feature's overrides."""
        overrides = self.feature(name).overrides
        return self.config.merged(overrides, f"constraints.json feature {name!r} overrides")
