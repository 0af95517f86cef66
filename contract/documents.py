"""Typed read model of `statistics.json` and `constraints.json` (contract, sections 3 and 4).

The checks, the report, the metrics writer and the constraints diff read documents through these
views instead of walking dicts; each view keeps its `raw` mapping (the analyzer's profile writes
documents, which stay plain dicts in the service's key order). `MonitoringConfig` is the one home
of the monitoring config's defaults: suggested constraints write `MonitoringConfig().to_document()`.

Every value is checked on load (`contract.validation`): types, ranges, known names, operators and
methods, unique feature names; a damaged document raises DocumentError listing each problem with the
document and its JSON path, so no view property fails later. Statistics keys this module does not
know are left alone (later service versions may add some); constraints.json is edited by users, so
there an unknown key is a problem (a misspelt setting must not be ignored without a word). Across
documents, `check_constraints_columns` holds the rule "constraints name only the data's columns".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

from contract.errors import BaselineError
from contract.validation import (
    BOOLEAN,
    COUNT,
    DOUBLE,
    ITEM,
    NON_NEGATIVE,
    SCALAR,
    SHARE,
    TEXT,
    Arr,
    Leaf,
    Obj,
    Problems,
    check,
    number_in,
    one_of,
    shown,
    whole,
)

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
_OURS = ("unusable_record_threshold",)  # read when present, not written in suggested files
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
    # Ours (not the service's): the share of a window's capture records that may be unusable before
    # the run fails. Suggested files do not write it (they stay the service's shape); a user adds it.
    unusable_record_threshold: float = 0.1

    def merged(self, block: object, where: str) -> MonitoringConfig:
        """This config with the fields set in a `monitoring_config`-shaped block applied."""
        if block is None:
            return self
        problems = Problems()
        check(block, config_schema(), where, problems)
        problems.raise_if_any()
        return self._applied(block)

    def _applied(self, block: Mapping) -> MonitoringConfig:
        """This config with a block's settings (already checked against `config_schema()`)."""
        flat = {k: v for k, v in block.items() if k != "distribution_constraints"}
        flat.update(block.get("distribution_constraints") or {})
        return replace(self, **{key: _field_value(key, value) for key, value in flat.items()})

    def to_document(self) -> dict:
        """The `monitoring_config` block as suggested constraints write it (2024 shape)."""

        def value(name: str) -> object:
            setting = getattr(self, name)
            return ("Enabled" if setting else "Disabled") if name in _SWITCHES else setting

        flat = [f.name for f in fields(self) if f.name not in (*_DISTRIBUTION_KEYS, *_OURS)]
        return {
            **{name: value(name) for name in flat},
            "distribution_constraints": {name: value(name) for name in _DISTRIBUTION_KEYS},
        }


def _field_value(key: str, value: object) -> object:
    if key in _SWITCHES:
        return _ENABLED[value]
    return value if key in _METHODS else float(value)


def _setting(name: str) -> Leaf:
    if name in _SWITCHES:
        return one_of(tuple(_ENABLED), '"Enabled" or "Disabled"')
    if name in _METHODS:
        return one_of(_METHODS[name])
    # Every threshold compares a share, a distance or a p-value: all lie in [0, 1].
    return Leaf(number_in(0.0, 1.0), "a number in [0, 1] such as 0.1")


def config_schema() -> Obj:
    """A `monitoring_config` block (or a feature's overrides): every field of `MonitoringConfig`, flat
    or, for the distribution settings, in the nested `distribution_constraints` block."""
    names = [f.name for f in fields(MonitoringConfig)]
    nested = Obj({name: _setting(name) for name in _DISTRIBUTION_KEYS}, closed=True, what="distribution setting")
    return Obj({**{name: _setting(name) for name in names}, "distribution_constraints": nested},
               closed=True, what="monitoring setting")


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


FEATURE_TYPES = ("Integral", "Fractional", "String", "Unknown")
_TYPE = one_of(FEATURE_TYPES)
_VERSION = Leaf(number_in(), "a number such as 0.0")
_COMMON = Obj({"num_present": COUNT, "num_missing": COUNT})
# Bucket counts are any double: the analyzer's own buckets of a column holding an infinite value
# have NaN bounds and a count of -1.0 (they are only drawn, never checked).
_KLL = Obj({
    "buckets": Arr(Obj({"lower_bound": DOUBLE, "upper_bound": DOUBLE, "count": DOUBLE},
                       required=("lower_bound", "upper_bound", "count"))),
    "sketch": Obj({
        "parameters": Obj({"c": Leaf(number_in(0.0, 1.0, low_open=True), "a number in (0, 1] such as 0.64"),
                           "k": Leaf(whole(1), "a whole number >= 1 such as 2048")}),
        "data": Arr(Arr(ITEM)),
    }),
})
_NUMERICAL = Obj({
    "common": _COMMON, "mean": DOUBLE, "sum": DOUBLE, "std_dev": Leaf(number_in(0.0, nan=True), "a number >= 0"),
    "min": DOUBLE, "max": DOUBLE, "approximate_num_distinct_values": NON_NEGATIVE, "completeness": SHARE,
    "distribution": Obj({"kll": _KLL}),
})
_CATEGORIES = Obj({"buckets": Arr(Obj({"value": SCALAR, "count": COUNT}, required=("value", "count")))})
_STRING = Obj({
    "common": _COMMON, "distinct_count": NON_NEGATIVE, "completeness": SHARE,
    "distribution": Obj({"categorical": _CATEGORIES}),
})
# Machine-written: keys not listed here are left alone (later versions of the service may add some).
STATISTICS_SCHEMA = Obj({
    "version": _VERSION,
    "dataset": Obj({"item_count": COUNT}),
    "features": Arr(Obj({"name": TEXT, "inferred_type": _TYPE, NUMERICAL: _NUMERICAL, STRING: _STRING},
                        required=("name",))),
}, required=("features",))


def _name_problems(document: object, problems: Problems) -> None:
    """Names repeated in `features` (the checks find features by name), and an empty list."""
    features = document.get("features") if isinstance(document, Mapping) else None
    if not isinstance(features, list):
        return
    first: dict[str, int] = {}
    for index, feature in enumerate(features):
        name = feature.get("name") if isinstance(feature, Mapping) else None
        if isinstance(name, str) and name in first:
            problems.add(f"$.features[{index}].name", f"is {shown(name)} again (as $.features[{first[name]}].name); "
                         "give each feature its own name")
        elif isinstance(name, str):
            first[name] = index


def _checked(document: object, schema: Obj, where: str) -> Mapping:
    """`document` when it follows `schema` and its feature names are unique; else DocumentError."""
    problems = Problems(where)
    check(document, schema, "$", problems)
    _name_problems(document, problems)
    problems.raise_if_any()
    return document


@dataclass(frozen=True)
class Statistics:
    """A statistics.json document: the dataset's row count and its features, by name in file order."""

    item_count: int
    features: dict[str, FeatureStatistics]

    @classmethod
    def of(cls, document: Mapping, where: str = "statistics") -> Statistics:
        """The view of a statistics.json document; DocumentError lists every value that is wrong
        (`where` names the document in the messages: its path, or what it is)."""
        document = _checked(document, STATISTICS_SCHEMA, where)
        if not document["features"]:
            raise BaselineError(f"{where}: $.features is empty; use the statistics.json that suggest-baseline "
                                "wrote (one feature per column)")
        features = {f["name"]: FeatureStatistics(f) for f in document["features"]}
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


def constraints_schema() -> Obj:
    """constraints.json: a file users edit to tune monitoring, so a key that is not one of these (a
    misspelt `completness`) is a problem rather than a setting silently ignored."""
    config = config_schema()
    feature = Obj({
        "name": TEXT, "inferred_type": _TYPE, "completeness": SHARE,
        "num_constraints": Obj({"is_non_negative": BOOLEAN}, closed=True, what="number constraint"),
        "string_constraints": Obj({"domains": Arr(SCALAR)}, closed=True, what="string constraint"),
        "monitoring_config_overrides": config, "monitoringConfigOverrides": config,
    }, required=("name",), closed=True, what="feature constraint")
    return Obj({"version": _VERSION, "features": Arr(feature), "monitoring_config": config},
               required=("features",), closed=True, what="constraints.json key")


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
        document = _checked(document, constraints_schema(), where)
        features = {f["name"]: FeatureConstraints(f) for f in document["features"]}
        config = MonitoringConfig()._applied(document.get("monitoring_config") or {})
        if categorical_drift_method:
            methods = _METHODS["categorical_drift_method"]
            if categorical_drift_method not in methods:
                raise BaselineError(f"the categorical_drift_method setting is {shown(categorical_drift_method)}; "
                                    f"use one of {', '.join(methods)}")
            config = replace(config, categorical_drift_method=categorical_drift_method)
        return cls(features, config)

    def feature(self, name: str) -> FeatureConstraints:
        return self.features.get(name) or FeatureConstraints({"name": name})

    def feature_config(self, name: str) -> MonitoringConfig:
        """The config that applies to one feature: the global one with the feature's overrides."""
        overrides = self.feature(name).overrides
        return self.config.merged(overrides, f"constraints.json feature {name!r} overrides")


def check_constraints_columns(constraints: Constraints, columns: Sequence[str], where: str = "constraints") -> None:
    """The rule "constraints name only the data's columns": a constraints file must constrain at least
    one of `columns` (the baseline statistics' features, which name the data's columns), and every
    feature it lists must be one of them. `features: []`, a misspelt name or the file of another
    dataset would otherwise check nothing, or not what was meant, and pass as a clean run."""
    known = set(columns)
    names = list(constraints.features)
    unknown = [(index, name) for index, name in enumerate(names) if name not in known]
    problems = Problems(where)
    listing = ", ".join(map(shown, columns[:5])) + (f" and {len(columns) - 5} more" if len(columns) > 5 else "")
    regenerate = "use the constraints.json that suggest-baseline wrote with the baseline statistics"
    if not names:
        problems.add("$.features", f"is empty, so no column of the data ({listing}) would be checked; {regenerate}")
    elif 2 * len(unknown) > len(names):
        # Mostly strangers: the file of another dataset, not a few typos to list one by one.
        examples = ", ".join(shown(name) for _, name in unknown[:3])
        problems.add("$.features", f"lists {len(unknown)} of {len(names)} features that are not columns of the data "
                     f"(such as {examples}; the data has {listing}): is it the constraints file of another "
                     f"dataset? {regenerate.capitalize()}")
        unknown = []
    for index, name in unknown:
        close = difflib.get_close_matches(name, columns, n=1)
        hint = f"did you mean {shown(close[0])}? " if close else ""
        problems.add(f"$.features[{index}].name", f"is {shown(name)}, not a column of the data; {hint}"
                     "fix the name or remove the feature")
    problems.raise_if_any()
