"""CloudWatch metrics of a monitoring run (contract, section 7), as a PutMetricData-shaped file.

The run writes `{"Namespace": ..., "MetricData": [...]}` (names from `contract.metrics`) into the
metrics folder: the managed service's container leaves its metric files there too, and the
self-hosted state machine reads the file from the job's metrics output and sends it with
PutMetricData (the job itself is network-isolated).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import datetime

from contract import metrics
from contract.documents import Statistics


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def metric_data(
    statistics: Statistics,
    drift: Mapping[str, float],
    emit: Mapping[str, bool],
    timestamp: datetime,
    endpoint_name: str | None = None,
    schedule_name: str | None = None,
    budget: metrics.MetricsBudget = metrics.PUBLISH_ALL,
) -> list[dict]:
    """MetricDatum entries for each feature whose `emit_metrics` is enabled: the statistic set of
    numeric columns (count, sum, min, max), completeness and the drift distance; only the names the
    `budget` allows."""
    dimensions = metrics.dimensions(endpoint_name, schedule_name)
    stamp = timestamp.isoformat()
    data = []

    def datum(name: str, **value: object) -> None:
        if budget.allows(name):
            data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Unit": "None",
                         **value})

    for name, feature in statistics.features.items():
        if not emit.get(name, True):
            continue
        numbers, present = feature.numerical, feature.num_present
        if numbers and present and all(_finite(numbers.get(k)) for k in ("sum", "min", "max")):
            datum(
                metrics.feature_data_metric(name),
                StatisticValues={
                    "SampleCount": float(present),
                    "Sum": numbers["sum"],
                    "Minimum": numbers["min"],
                    "Maximum": numbers["max"],
                },
            )
        if statistics.item_count:
            datum(metrics.feature_non_null_metric(name), Value=present / statistics.item_count)
        if _finite(drift.get(name)):
            datum(metrics.feature_drift_metric(name), Value=drift[name])
    return data


def write_metric_file(
    metrics_dir: str, data: list[dict], namespace: str = metrics.NAMESPACE, file_name: str = metrics.METRICS_FILE
) -> str:
    """The metrics file; model quality passes its own namespace and file name."""
    os.makedirs(metrics_dir, exist_ok=True)
    path = os.path.join(metrics_dir, file_name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"Namespace": namespace, "MetricData": data}, handle, indent=1)
    return path
