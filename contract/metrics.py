"""CloudWatch metrics of a data-quality run (contract, section 7): namespace, names, dimensions, and which
of them a self-hosted run publishes (`MetricsBudget`, ours).

The run writes them as a PutMetricData-shaped file (`{"Namespace": ..., "MetricData": [...]}`)
named `METRICS_FILE`; the managed service publishes its own, the self-hosted state machine sends
the file's values in batches of `BATCH_SIZE`.

Also the names of SageMaker's own endpoint invocation metrics (`AWS/SageMaker`), which the rollback
alarms and the dashboard read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from contract.errors import ContainerConfigError

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
METRICS_FILE = "data-metrics.json"
# A model-quality run's metrics file (ours); its namespace is contract.model_quality.NAMESPACE.
MODEL_METRICS_FILE = "model-metrics.json"
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


# --- the metrics budget (ours): which data-quality metrics a self-hosted run publishes ----------------
ALL, DRIFT, NONE = "all", "drift", "none"
METRICS_BUDGETS = (ALL, DRIFT, NONE)


@dataclass(frozen=True)
class MetricsBudget:
    """`publish`: `all` (the service's set: 3 names per feature), `drift` (each feature's drift distance),
    `none`, or metric names; `always`: names published whatever `publish` says (the drift alarms')."""

    publish: str | tuple[str, ...] = ALL
    always: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        if name in self.always or self.publish == ALL:
            return True
        if self.publish == DRIFT:
            return name.startswith(feature_drift_metric(""))
        return self.publish != NONE and name in self.publish

    def to_text(self) -> str:
        """The container variable's value (`Env.METRICS_BUDGET`)."""
        publish = self.publish if isinstance(self.publish, str) else list(self.publish)
        return json.dumps({"publish": publish, "always": list(self.always)})

    @classmethod
    def from_text(cls, text: str) -> MetricsBudget:
        try:
            value = json.loads(text)
            publish, always = value["publish"], value.get("always", [])
        except (ValueError, TypeError, KeyError):
            raise ContainerConfigError(
                f'metrics_budget={text!r}: use {{"publish": "all" | "drift" | "none" | [names], "always": [names]}}'
            ) from None
        names = isinstance(publish, list) and all(isinstance(n, str) for n in publish)
        listed = isinstance(always, list) and all(isinstance(n, str) for n in always)
        if not (publish in METRICS_BUDGETS or names) or not listed:
            raise ContainerConfigError(
                f"metrics_budget={text!r}: publish must be one of {', '.join(METRICS_BUDGETS)} or a list of "
                "metric names, always a list of metric names"
            )
        return cls(publish if isinstance(publish, str) else tuple(publish), tuple(always))


PUBLISH_ALL = MetricsBudget()  # the service's behaviour


def dimensions(endpoint: str | None, schedule: str | None) -> list[dict]:
    """The dimensions of a run's metrics; unnamed ones are left out (CloudWatch rejects empty values)."""
    named = ((ENDPOINT_DIMENSION, endpoint), (SCHEDULE_DIMENSION, schedule))
    return [{"Name": name, "Value": value} for name, value in named if value]


# --- SageMaker's own endpoint invocation metrics (published by the service every minute) ---------------
# Per production variant (`EndpointName`, `VariantName`); during and after a blue/green update SageMaker
# also publishes them with `EndpointConfigName` = the new fleet's endpoint config, which is how an alarm
# watches only the fleet being rolled out (SageMaker's deployment-guardrails documentation).
ENDPOINT_NAMESPACE = "AWS/SageMaker"
ENDPOINT_NAME_DIMENSION = "EndpointName"
VARIANT_NAME_DIMENSION = "VariantName"
ENDPOINT_CONFIG_DIMENSION = "EndpointConfigName"
INVOCATIONS = "Invocations"
# The error metrics send 1 per failed request and 0 otherwise: their Average is the share of requests.
INVOCATION_4XX_ERRORS = "Invocation4XXErrors"
INVOCATION_5XX_ERRORS = "Invocation5XXErrors"
# Requests the model container did not answer with a 2XX (its 4XX/5XX, socket errors, timeouts).
INVOCATION_MODEL_ERRORS = "InvocationModelErrors"
MODEL_LATENCY = "ModelLatency"
# ModelLatency is reported in microseconds.
MODEL_LATENCY_UNITS_PER_MS = 1000
