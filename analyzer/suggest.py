"""constraints.json suggested from a statistics.json document (contract, section 4).

Per feature: `completeness` = num_present / item_count; numeric features get
`num_constraints.is_non_negative` (min >= 0); String features with a categorical histogram get
`string_constraints.domains` (the histogram's values, in its order). The global
`monitoring_config` holds the defaults every real file shows (2024 shape, with the categorical
drift settings).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

DEFAULT_MONITORING_CONFIG = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def _feature_constraints(feature: Mapping, item_count: int) -> dict:
    stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    present = stats.get("common", {}).get("num_present", 0)
    out = {
        "name": feature["name"],
        "inferred_type": feature["inferred_type"],
        "completeness": present / item_count if item_count else 0.0,
    }
    if "numerical_statistics" in feature and "min" in stats:
        out["num_constraints"] = {"is_non_negative": stats["min"] >= 0.0}
    buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets")
    if buckets:
        out["string_constraints"] = {"domains": [bucket["value"] for bucket in buckets]}
    return out


def suggest_constraints(statistics: Mapping) -> dict:
    """The constraints.json document for a statistics.json document (features in its order)."""
    item_count = statistics["dataset"]["item_count"]
    return {
        "version": 0.0,
        "features": [_feature_constraints(feature, item_count) for feature in statistics["features"]],
        "monitoring_config": copy.deepcopy(DEFAULT_MONITORING_CONFIG),
    }
