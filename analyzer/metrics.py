"""CloudWatch metrics of a monitoring run (contract, section 7).

The run writes its metrics as a PutMetricData-shaped JSON file (`{"Namespace": ..., "MetricData":
[...]}`) under the metrics folder, where the service's container also leaves its metric files.
The self-hosted engine, which has no agent publishing that folder, sends the files itself with
`publish_metric_files`.
"""

from __future__ import annotations

import glob
import json
import math
import os
from collections.abc import Mapping
from datetime import datetime

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
METRICS_FILE = "data-metrics.json"
# PutMetricData takes at most 1,000 values and 1 MB per call; 500 keeps well inside both.
BATCH_SIZE = 500


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def metric_data(
    statistics: Mapping,
    drift: Mapping[str, float],
    emit: Mapping[str, bool],
    timestamp: datetime,
    endpoint_name: str | None = None,
    schedule_name: str | None = None,
) -> list[dict]:
    """MetricDatum entries for each feature whose `emit_metrics` is enabled.

    `feature_data_{name}`: the statistic set of numeric columns (count, sum, min, max);
    `feature_non_null_{name}`: completeness; `feature_baseline_drift_{name}`: the drift distance.
    Dimensions the caller did not name are left out (CloudWatch rejects empty values).
    """
    dimensions = [
        {"Name": key, "Value": value}
        for key, value in (("Endpoint", endpoint_name), ("MonitoringSchedule", schedule_name))
        if value
    ]
    item_count = statistics.get("dataset", {}).get("item_count", 0)
    stamp = timestamp.isoformat()
    data = []

    def datum(name: str, **value: object) -> None:
        data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Unit": "None", **value})

    for feature in statistics.get("features", []):
        name = feature["name"]
        if not emit.get(name, True):
            continue
        numbers = feature.get("numerical_statistics")
        section = numbers or feature.get("string_statistics") or {}
        present = section.get("common", {}).get("num_present", 0)
        if numbers and present and all(_finite(numbers.get(k)) for k in ("sum", "min", "max")):
            datum(
                f"feature_data_{name}",
                StatisticValues={
                    "SampleCount": float(present),
                    "Sum": numbers["sum"],
                    "Minimum": numbers["min"],
                    "Maximum": numbers["max"],
                },
            )
        if item_count:
            datum(f"feature_non_null_{name}", Value=present / item_count)
        if _finite(drift.get(name)):
            datum(f"feature_baseline_drift_{name}", Value=drift[name])
    return data


def write_metric_file(metrics_dir: str, data: list[dict]) -> str:
    os.makedirs(metrics_dir, exist_ok=True)
    path = os.path.join(metrics_dir, METRICS_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"Namespace": NAMESPACE, "MetricData": data}, handle, indent=1)
    return path


def publish_metric_files(metrics_dir: str, client=None) -> int:
    """Send every metrics file in `metrics_dir` with PutMetricData; returns the values sent."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    sent = 0
    for path in sorted(glob.glob(os.path.join(metrics_dir, "*.json"))):
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        data = [{**d, "Timestamp": datetime.fromisoformat(d["Timestamp"])} for d in document["MetricData"]]
        for start in range(0, len(data), BATCH_SIZE):
            client.put_metric_data(Namespace=document["Namespace"], MetricData=data[start : start + BATCH_SIZE])
        sent += len(data)
    return sent
