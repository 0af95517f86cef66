"""One CloudWatch dashboard per endpoint: traffic, errors and latency of the variant, the data-quality drift
of the alarmed features and of the model's output, the model-quality metrics of the alarms, the monitoring
runs and every alarm, with the alarm thresholds drawn as horizontal annotations.

Metrics come from the metric factory (`metric_factory.EndpointMetrics`), so the graphs show what the alarms
watch. The endpoint graphs show the whole variant (both fleets during an update); the rollback alarms
themselves watch the new fleet only (see `churn_endpoint`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.documents import MODEL_OUTPUT_FEATURE, MonitoringConfig
from contract.layout import model_quality_schedule_name, schedule_name
from contract.metrics import INVOCATION_4XX_ERRORS, INVOCATION_5XX_ERRORS, INVOCATION_MODEL_ERRORS
from stacks.config import CANARY, RollbackAlarms, RolloutPolicy
from stacks.constructs.metric_factory import RUN_PERIOD, EndpointMetrics

FULL, HALF, THIRD = 24, 12, 8
GRAPH_HEIGHT = 6


@dataclass(frozen=True)
class EndpointDashboardProps:
    endpoint_name: str
    variant_name: str
    rollout: RolloutPolicy
    rollback_thresholds: RollbackAlarms
    """The thresholds the endpoint stack's rollback alarms use (drawn on the error and latency graphs)."""
    rollback_alarm_names: Sequence[str]
    drift_alarms: Sequence[cloudwatch.Alarm]
    """One per alarmed feature, in `drift_features` order (all with the same threshold)."""
    drift_features: Sequence[str]
    run_alarms: Sequence[cloudwatch.IAlarm]
    """Alarms on the monitoring machinery itself (the alerts Lambda's dead letters)."""
    state_machine: sfn.IStateMachine | None = None
    """The self-hosted engine's state machine, whose executions are the runs; None for the managed engine."""
    quality_alarms: Sequence[cloudwatch.Alarm] = ()
    """The model-quality alarms (one per metric of `model_quality.alarm_margins`); none: model quality off."""
    quality_state_machine: sfn.IStateMachine | None = None
    """The self-hosted engine's model-quality state machine."""


def _threshold(value: float, label: str) -> cloudwatch.HorizontalAnnotation:
    return cloudwatch.HorizontalAnnotation(value=value, label=label, color=cloudwatch.Color.RED)


def _graph(title: str, metrics: Sequence[cloudwatch.IMetric], width: int,
           annotations: Sequence[cloudwatch.HorizontalAnnotation] = (), y_label: str | None = None
           ) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title, left=list(metrics), left_annotations=list(annotations), width=width, height=GRAPH_HEIGHT,
        left_y_axis=cloudwatch.YAxisProps(label=y_label, min=0, show_units=False),
    )


class EndpointDashboard(Construct):
    """The dashboard `<endpoint>-<region>` (CloudWatch dashboards are global to the account)."""

    def __init__(self, scope: Construct, construct_id: str, props: EndpointDashboardProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props
        self.metrics = EndpointMetrics(props.endpoint_name, props.variant_name)
        self.rollback_alarms = [cloudwatch.Alarm.from_alarm_name(self, f"Rollback{index}", name)
                                for index, name in enumerate(props.rollback_alarm_names)]
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{props.endpoint_name}-{Aws.REGION}",
            widgets=[[self._header()], self._endpoint_row(), self._drift_row(), *self._quality_row(),
                     self._runs_row()],
        )

    def _header(self) -> cloudwatch.TextWidget:
        rollout = self.props.rollout
        if rollout.traffic_routing == CANARY:
            steps = (f"canary of {rollout.canary_instances} instance(s) baking {rollout.wait_interval_seconds} s, "
                     f"then all traffic baking {rollout.termination_wait_seconds} s")
        else:
            steps = f"all traffic at once, baking {rollout.termination_wait_seconds} s"
        return cloudwatch.TextWidget(width=FULL, height=3, markdown="\n".join((
            f"# {self.props.endpoint_name}",
            f"Updates roll out blue/green: {steps}; a rollback alarm in ALARM rolls the update back. "
            "Row 1: the variant's traffic (per minute, both fleets during an update). Row 2: data-quality drift "
            "per hourly run. Row 3: the monitoring runs and every alarm.",
            "Model quality is not on this dashboard yet: no model-quality metrics exist.",
        )))

    def _endpoint_row(self) -> list[cloudwatch.IWidget]:
        thresholds = self.props.rollback_thresholds
        labelled = [self.metrics.error_rate(name).with_(label=name)
                    for name in (INVOCATION_4XX_ERRORS, INVOCATION_5XX_ERRORS, INVOCATION_MODEL_ERRORS)]
        return [
            _graph("Invocations", [self.metrics.invocations().with_(label="requests per minute")], THIRD),
            _graph("Errors (share of requests)", labelled, THIRD, [
                _threshold(thresholds.max_5xx_error_rate, f"rollback: {INVOCATION_5XX_ERRORS}"),
                _threshold(thresholds.max_model_error_rate, f"rollback: {INVOCATION_MODEL_ERRORS}"),
            ]),
            _graph("Model latency (ms)", [self.metrics.model_latency_ms("Average"),
                                          self.metrics.model_latency_ms("Maximum")], THIRD,
                   [_threshold(thresholds.max_model_latency_ms, "rollback: average")], y_label="ms"),
        ]

    def _drift_row(self) -> list[cloudwatch.IWidget]:
        props = self.props
        row: list[cloudwatch.IWidget] = []
        if props.drift_features:
            # Every drift alarm has the same threshold.
            annotations = [_threshold(props.drift_alarms[0].to_annotation().value, "drift alarm")]
            row.append(_graph("Drift of the alarmed features (distance from the baseline, per run)",
                              [self.metrics.drift(feature) for feature in props.drift_features], HALF, annotations))
        # The output column has no alarm: draw the analyzer's default violation threshold.
        row.append(_graph(f"Drift of the model's output ({MODEL_OUTPUT_FEATURE})",
                          [self.metrics.drift(MODEL_OUTPUT_FEATURE)], HALF,
                          [_threshold(MonitoringConfig().comparison_threshold, "violation threshold (default)")]))
        return row

    def _quality_row(self) -> list[list[cloudwatch.IWidget]]:
        """One graph per alarmed model-quality metric, with its alarm's threshold (none: model quality off)."""
        alarms = self.props.quality_alarms
        if not alarms:
            return []
        width = max(FULL // len(alarms), THIRD)
        return [[_graph(f"Model quality: {alarm.metric.metric_name} (per run)",
                        [self.metrics.model_quality(alarm.metric.metric_name)], width,
                        [_threshold(alarm.to_annotation().value, "alarm: baseline - margin")])
                 for alarm in alarms]]

    def _runs_row(self) -> list[cloudwatch.IWidget]:
        props = self.props
        alarms = cloudwatch.AlarmStatusWidget(
            title="Alarms (rollback, drift, model quality, monitoring)", width=HALF, height=GRAPH_HEIGHT,
            alarms=[*self.rollback_alarms, *props.drift_alarms, *props.quality_alarms, *props.run_alarms],
        )
        if props.state_machine is None:
            schedules = [schedule_name(props.endpoint_name)]
            if props.quality_alarms:
                schedules.append(model_quality_schedule_name(props.endpoint_name))
            runs: cloudwatch.IWidget = cloudwatch.TextWidget(width=HALF, height=GRAPH_HEIGHT, markdown=(
                "## Monitoring runs (managed engine)\nModel Monitor publishes no run-status metric: see "
                + " and ".join(f"`aws sagemaker list-monitoring-executions --monitoring-schedule-name {name}`"
                               for name in schedules)
                + "; failed runs alert through the alerts topic."))
        else:
            machines = [("data quality", props.state_machine)]
            if props.quality_state_machine is not None:
                machines.append(("model quality", props.quality_state_machine))
            runs = _graph("Monitoring runs (self-hosted state machines, per hour)", [
                metric(period=RUN_PERIOD, label=f"{kind}: {label}")
                for kind, machine in machines
                for metric, label in ((machine.metric_succeeded, "succeeded"), (machine.metric_failed, "failed"),
                                      (machine.metric_timed_out, "timed out"), (machine.metric_aborted, "aborted"))
            ], HALF)
        return [runs, alarms]
