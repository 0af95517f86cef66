"""constraints.json suggested from a statistics.json document (contract, section 4).

Per feature: `completeness` = num_present / item_count; numeric features get
`num_constraints.is_non_negative` (min >= 0); String features with a categorical histogram get
`string_constraints.domains` (the histogram's values, in its order). The global
`monitoring_config` holds the defaults every real file shows (2024 shape, with the categorical
drift settings): `contract.documents.MonitoringConfig`'s.
"""

from __future__ import annotations

from collections.abc import Mapping

from contract.documents import NUMERICAL, FeatureStatistics, MonitoringConfig
from contract.validation import as_double


def _feature_constraints(raw: Mapping, item_count: int) -> dict:
    feature = FeatureStatistics(raw)
    stats = feature.section
    out = {
        "name": feature.name,
        "inferred_type": raw["inferred_type"],
        "completeness": feature.num_present / item_count if item_count else 0.0,
    }
    # as_double: a document read back from JSON holds Jackson's quoted "Infinity" for a non-finite min.
    minimum = as_double(stats.get("min")) if NUMERICAL in raw else None
    if minimum is not None:
        out["num_constraints"] = {"is_non_negative": minimum >= 0.0}
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
        "monitoring_config": MonitoringConfig().to_document(),
    }
