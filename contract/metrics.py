"""CloudWatch metrics of a data-quality run (contract, section 7): namespace, names, dimensions.

The run writes them as a PutMetricData-shaped file (`{"Namespace": ..., "MetricData": [...]}`)
named `METRICS_FILE`; the managed service publishes its own, the self-hosted state machine sends
the file's values in batches of `BATCH_SIZE`.
"""

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
METRICS_FILE = "data-metrics.json"
# The metrics file's folder under a run's report folder (ours: the self-hosted job's metrics output).
METRICS_FOLDER = "metrics"
ENDPOINT_DIMENSION = "Endpoint"
SCHEDULE_DIMENSION = "MonitoringSchedule"
# PutMetricData takes at most 1,000 values and 1 MB per call; 500 keeps well inside both.
BATCH_SIZE = 500


def feature_data_metric(feature: str) -> str:
    """The statistic set (count, sum, min, max) of a numeric feature's values."""
    return f"feature_data_{feature}"


def feature_non_null_metric(feature: str) -> str:
    """A feature's completeness."""
    return f"feature_non_null_{feature}"


def feature_drift_metric(feature: str) -> str:
    """A feature's drift distance from the baseline (the p-value for ChiSquared)."""
    return f"feature_baseline_drift_{feature}"


def dimensions(endpoint: str | None, schedule: str | None) -> list[dict]:
    """The dimensions of a run's metrics; unnamed ones are left out (CloudWatch rejects empty values)."""
    named = ((ENDPOINT_DIMENSION, endpoint), (SCHEDULE_DIMENSION, schedule))
    return [{"Name": name, "Value": value} for name, value in named if value]
