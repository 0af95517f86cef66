"""Monitoring of the endpoint: the deploy-time baselines, the hourly schedules of the configured engine
(`managed` Model Monitor or the `self-hosted` analyzer) for data quality and, when `model_quality` is
enabled, model quality (one schedule per monitoring type, as Model Monitor has), the alerts on their
runs, and the endpoint's dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from contract.metrics import MetricsBudget, feature_drift_metric
from contract.model_quality import LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, suggested_operators
from contract.processing import QualityAttributes, baseline_environment, quality_baseline_environment
from stacks.config import EnvironmentConfig
from stacks.constructs.alerts import QualityAlertSource, RunAlerts, RunAlertsProps
from stacks.constructs.analyzer_job import AnalyzerCode, AnalyzerImage, analyzer_image
from stacks.constructs.baseline import Baseline, BaselineProps
from stacks.constructs.capture_storage import CaptureStorage
from stacks.constructs.churn_endpoint import ChurnEndpoint
from stacks.constructs.dashboard import EndpointDashboard, EndpointDashboardProps
from stacks.constructs.monitoring_job import ModelQualityProps, MonitoringProps
from stacks.constructs.schedule_managed import ManagedQualitySchedule, ManagedSchedule
from stacks.constructs.schedule_self_hosted import SelfHostedSchedule
from stacks.constructs.schedule_self_hosted_quality import SelfHostedQualitySchedule

# Baselining job names start with this (plus the environment), then a content hash.
BASELINE_JOB_PREFIX = "baseline"
QUALITY_BASELINE_JOB_PREFIX = "mq-baseline"


@dataclass(frozen=True)
class MonitoringSources:
    """Local inputs of the monitoring stack."""

    baseline_dataset: Path
    """The baseline dataset (`make model`: the model's score, then the inputs), unless cdk.json sets
    `baseline_dataset_uri`."""
    validation_dataset: Path
    """The model-quality baseline's validation set (`make model`: probability,prediction,label), unless
    cdk.json sets `model_quality.baseline_dataset_uri`."""
    analyzer_packages: tuple[Path, ...]
    """The `analyzer/` package and the `contract/` package it imports, shipped to the self-hosted
    engine's jobs."""
    staging_dir: Path
    """Where the analyzer code asset is staged."""


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        config: EnvironmentConfig,
        storage: CaptureStorage,
        endpoint: ChurnEndpoint,
        sources: MonitoringSources,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.quality_schedule = None
        engine = config.monitoring_engine
        self.analyzer_code = (
            AnalyzerCode(self, "AnalyzerCode", sources.analyzer_packages, sources.staging_dir)
            if engine == "self-hosted"
            else None
        )
        image = analyzer_image(self, engine, self.analyzer_code)
        self.baseline = self._baseline(config, storage, sources, image)
        self.props = props = MonitoringProps(
            endpoint_name=endpoint.endpoint_name,
            variant_name=endpoint.variant_name,
            bucket_name=config.bucket_name,
            key=storage.key,
            schedule_expression=config.schedule_expression,
            instance_type=config.monitoring_instance_type,
            max_runtime_seconds=config.monitoring_max_runtime_seconds,
            image=image,
            statistics_uri=self.baseline.statistics_uri,
            constraints_uri=self.baseline.constraints_uri,
            baseline_job_name=self.baseline.job_name,
            baseline_id=self.baseline.baseline_id,
            metrics_budget=MetricsBudget(
                config.metrics_budget, tuple(feature_drift_metric(f) for f in config.drift_alarm_features)
            ),
        )
        engine_alerts = self._schedule(config, props)
        self.quality_props = self._quality(config, storage, sources, props) if config.model_quality.enabled else None
        # Monitoring needs the endpoint in service with data capture (CDK turns this into a stack dependency).
        self.schedule.node.add_dependency(endpoint)
        if self.quality_schedule is not None:
            self.quality_schedule.node.add_dependency(endpoint)
        self.alerts = self._alerts(config, storage, props, dict(engine_alerts,
                                                                 rollback_alarm_names=endpoint.rollback_alarm_names))
        self.dashboard = self._dashboard(config, endpoint)
        CfnOutput(self, "MonitoringEngine", value=engine)
        CfnOutput(self, "ScheduleName", value=props.schedule_name)
        CfnOutput(self, "BaselineStatistics", value=self.baseline.statistics_uri)
        CfnOutput(self, "BaselineConstraints", value=self.baseline.constraints_uri)
        CfnOutput(self, "AlertTopicArn", value=self.alerts.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)
        if self.quality_props is not None:
            CfnOutput(self, "ModelQualityScheduleName", value=self.quality_props.schedule_name)
            CfnOutput(self, "ModelQualityBaselineConstraints", value=self.quality_baseline.constraints_uri)

    def _baseline(
        self, config: EnvironmentConfig, storage: CaptureStorage, sources: MonitoringSources, image: AnalyzerImage
    ) -> Baseline:
        return Baseline(self, "Baseline", _baseline_props(
            config, storage, image, BASELINE_JOB_PREFIX,
            dataset_path=None if config.baseline_dataset_uri else sources.baseline_dataset,
            dataset_uri=config.baseline_dataset_uri,
            environment=baseline_environment(),
        ))

    def _quality(
        self, config: EnvironmentConfig, storage: CaptureStorage, sources: MonitoringSources, props: MonitoringProps
    ) -> ModelQualityProps:
        """The model-quality baseline (on the validation set with predictions) and schedule."""
        quality = config.model_quality
        columns = QualityAttributes(
            problem_type=quality.problem_type,
            probability_attribute=PROBABILITY_COLUMN,
            probability_threshold=quality.probability_threshold,
            inference_attribute=PREDICTION_COLUMN,
        )
        self.quality_baseline = Baseline(self, "ModelQualityBaseline", _baseline_props(
            config, storage, props.image, QUALITY_BASELINE_JOB_PREFIX,
            dataset_path=None if quality.baseline_dataset_uri else sources.validation_dataset,
            dataset_uri=quality.baseline_dataset_uri,
            environment=quality_baseline_environment(columns, LABEL_COLUMN),
            kind="model-quality",
            alarm_margins=quality.alarm_margins,
            problem_type=quality.problem_type,
        ))
        baseline = self.quality_baseline
        quality_props = ModelQualityProps(
            **{**vars(props), "schedule_expression": quality.schedule_expression,
               "max_runtime_seconds": quality.max_runtime_seconds, "statistics_uri": baseline.statistics_uri,
               "constraints_uri": baseline.constraints_uri, "baseline_job_name": baseline.job_name,
               "baseline_id": baseline.baseline_id},
            quality=quality,
            alarm_thresholds={metric: baseline.alarm_threshold(metric) for metric in quality.alarm_margins},
        )
        if config.monitoring_engine == "managed":
            self.quality_schedule = ManagedQualitySchedule(self, "ManagedModelQualitySchedule", quality_props)
        else:
            self.quality_schedule = SelfHostedQualitySchedule(
                self, "SelfHostedModelQualitySchedule", quality_props,
                log_retention_days=config.log_retention_days, retain_logs=config.retain_data,
                runner=config.monitoring_runner, lambda_runner=config.lambda_runner,
            )
        return quality_props

    def _schedule(self, config: EnvironmentConfig, props: MonitoringProps) -> dict:
        """The configured engine's schedule (`self.schedule`); returns what the alerts need to know of it."""
        if config.monitoring_engine == "managed":
            self.schedule = ManagedSchedule(self, "ManagedSchedule", props)
            return dict(monitoring_schedule_arn=self.schedule.schedule.attr_monitoring_schedule_arn)
        self.schedule = SelfHostedSchedule(
            self,
            "SelfHostedSchedule",
            props,
            log_retention_days=config.log_retention_days,
            retain_logs=config.retain_data,
            runner=config.monitoring_runner,
            lambda_runner=config.lambda_runner,
        )
        return dict(
            job_name_prefixes=[self.schedule.processing_job_name_prefix],
            state_machine_arn=self.schedule.state_machine.state_machine_arn,
            runner_events=self.schedule.lambda_runner is not None,
        )

    def _alerts(
        self, config: EnvironmentConfig, storage: CaptureStorage, props: MonitoringProps, engine_alerts: dict
    ) -> RunAlerts:
        return RunAlerts(
            self,
            "Alerts",
            RunAlertsProps(
                endpoint_name=props.endpoint_name,
                schedule_name=props.schedule_name,
                bucket_name=config.bucket_name,
                bucket_key=storage.key,
                log_retention_days=config.log_retention_days,
                retain=config.retain_data,
                alert_email=config.alert_email,
                drift_alarm_features=config.drift_alarm_features,
                model_quality=self._quality_alert_source(config),
                **engine_alerts,
            ),
        )

    def _quality_alert_source(self, config: EnvironmentConfig) -> QualityAlertSource | None:
        """What the alerts need of the model-quality schedule: its runs, and an alarm per configured margin."""
        if self.quality_props is None:
            return None
        quality, schedule = config.model_quality, self.quality_schedule
        operators = suggested_operators(quality.problem_type)
        alarms = [(metric, threshold, operators[metric])
                  for metric, threshold in self.quality_props.alarm_thresholds.items()]
        if isinstance(schedule, ManagedQualitySchedule):
            return QualityAlertSource(
                schedule_name=schedule.schedule_name,
                monitoring_schedule_arn=schedule.schedule.attr_monitoring_schedule_arn,
                job_role_arn=schedule.role.role_arn,
                alarms=alarms,
            )
        return QualityAlertSource(
            schedule_name=schedule.schedule_name,
            job_name_prefixes=[schedule.processing_job_name_prefix],
            state_machine_arn=schedule.state_machine.state_machine_arn,
            alarms=alarms,
        )

    def _dashboard(self, config: EnvironmentConfig, endpoint: ChurnEndpoint) -> EndpointDashboard:
        return EndpointDashboard(
            self,
            "Dashboard",
            EndpointDashboardProps(
                endpoint_name=endpoint.endpoint_name,
                variant_name=endpoint.variant_name,
                rollout=config.rollout,
                rollback_thresholds=config.rollback_alarms,
                rollback_alarm_names=endpoint.rollback_alarm_names,
                drift_alarms=self.alerts.drift_alarms,
                drift_features=config.drift_alarm_features,
                run_alarms=[self.alerts.dead_letter_alarm],
                state_machine=self.schedule.state_machine if isinstance(self.schedule, SelfHostedSchedule) else None,
                quality_alarms=self.alerts.quality_alarms,
                quality_state_machine=(self.quality_schedule.state_machine
                                       if isinstance(self.quality_schedule, SelfHostedQualitySchedule) else None),
            ),
        )


def _baseline_props(
    config: EnvironmentConfig, storage: CaptureStorage, image: AnalyzerImage, job_prefix: str, **kind_props
) -> BaselineProps:
    """A baseline's properties: what both baselines share (image, bucket, key, instance, waiting, logs), and
    `kind_props` (dataset, environment, kind)."""
    return BaselineProps(
        job_name_prefix=f"{config.stack_prefix.lower()}-{job_prefix}",
        image=image,
        bucket_name=config.bucket_name,
        key=storage.key,
        instance_type=config.monitoring_instance_type,
        timeout_minutes=config.baseline_timeout_minutes,
        log_retention_days=config.log_retention_days,
        retain_logs=config.retain_data,
        **kind_props,
    )
