"""The CloudWatch metrics of one endpoint and its monitoring, defined once (in the style of
cdk-monitoring-constructs' MetricFactory): the endpoint stack's rollback alarms and the monitoring stack's
dashboard draw the same definitions. Every namespace, metric and dimension name comes from `contract.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from contract.layout import model_quality_schedule_name, schedule_name
from contract.metrics import (
    ENDPOINT_CONFIG_DIMENSION,
    ENDPOINT_DIMENSION,
    ENDPOINT_NAME_DIMENSION,
    ENDPOINT_NAMESPACE,
    INVOCATIONS,
    MODEL_LATENCY,
    MODEL_LATENCY_UNITS_PER_MS,
    NAMESPACE,
    SCHEDULE_DIMENSION,
    VARIANT_NAME_DIMENSION,
    feature_drift_metric,
)
from contract.model_quality import NAMESPACE as MODEL_METRICS_NAMESPACE

# SageMaker publishes invocation metrics once a minute; the monitoring runs publish once an hour.
INVOCATION_PERIOD = Duration.minutes(1)
RUN_PERIOD = Duration.hours(1)


@dataclass(frozen=True)
class EndpointMetrics:
    """Metric factory of one production variant (`AWS/SageMaker`) and of its data- and model-quality
    schedules (whose names follow from the endpoint's, `contract.layout`)."""

    endpoint_name: str
    variant_name: str
    endpoint_config_name: str | None = None
    """Set: only the fleet of this endpoint config (the one a blue/green update rolls out)."""

    def of_fleet(self, endpoint_config_name: str) -> EndpointMetrics:
        return replace(self, endpoint_config_name=endpoint_config_name)

    def invocation_metric(self, metric_name: str, statistic: str,
                          period: Duration = INVOCATION_PERIOD) -> cloudwatch.Metric:
        dimensions = {ENDPOINT_NAME_DIMENSION: self.endpoint_name, VARIANT_NAME_DIMENSION: self.variant_name}
        if self.endpoint_config_name:
            dimensions[ENDPOINT_CONFIG_DIMENSION] = self.endpoint_config_name
        return cloudwatch.Metric(namespace=ENDPOINT_NAMESPACE, metric_name=metric_name, dimensions_map=dimensions,
                                 statistic=statistic, period=period)

    def invocations(self) -> cloudwatch.Metric:
        return self.invocation_metric(INVOCATIONS, "Sum")

    def error_rate(self, metric_name: str) -> cloudwatch.Metric:
        """The share of requests counted by an error metric (1 per failed request, 0 otherwise)."""
        return self.invocation_metric(metric_name, "Average")

    def model_latency(self, statistic: str = "Average") -> cloudwatch.Metric:
        """In microseconds, as SageMaker publishes it (alarms compare it with a threshold in microseconds)."""
        return self.invocation_metric(MODEL_LATENCY, statistic)

    def model_latency_ms(self, statistic: str) -> cloudwatch.MathExpression:
        # Ids must be unique within a graph that draws several statistics.
        metric_id = f"latency{statistic.lower()}"
        return cloudwatch.MathExpression(
            expression=f"{metric_id} / {MODEL_LATENCY_UNITS_PER_MS}",
            using_metrics={metric_id: self.model_latency(statistic)},
            label=f"{MODEL_LATENCY} {statistic.lower()} (ms)", period=INVOCATION_PERIOD,
        )

    def drift(self, feature: str) -> cloudwatch.Metric:
        """A feature's drift distance from the baseline, as each hourly run publishes it."""
        return cloudwatch.Metric(
            namespace=NAMESPACE, metric_name=feature_drift_metric(feature),
            dimensions_map={ENDPOINT_DIMENSION: self.endpoint_name,
                            SCHEDULE_DIMENSION: schedule_name(self.endpoint_name)},
            statistic="Maximum", period=RUN_PERIOD, label=feature,
        )

    def model_quality(self, metric: str) -> cloudwatch.Metric:
        """A model-quality metric (`auc`, `recall`, ...) as each hourly model-quality run publishes it."""
        return cloudwatch.Metric(
            namespace=MODEL_METRICS_NAMESPACE, metric_name=metric,
            dimensions_map={ENDPOINT_DIMENSION: self.endpoint_name,
                            SCHEDULE_DIMENSION: model_quality_schedule_name(self.endpoint_name)},
            statistic="Average", period=RUN_PERIOD, label=metric,
        )


def latency_threshold_units(milliseconds: float) -> float:
    """A ModelLatency threshold in the metric's own unit (microseconds)."""
    return milliseconds * MODEL_LATENCY_UNITS_PER_MS
