"""Data-quality monitoring of the endpoint: the deploy-time baseline, the hourly schedule of the configured
engine (`managed` Model Monitor or the `self-hosted` analyzer), the alerts on its runs, and the endpoint's
dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import EnvironmentConfig
from stacks.constructs.alerts import RunAlerts, RunAlertsProps
from stacks.constructs.analyzer_job import AnalyzerCode, AnalyzerImage, analyzer_image
from stacks.constructs.baseline import Baseline, BaselineProps
from stacks.constructs.capture_storage import CaptureStorage
from stacks.constructs.churn_endpoint import ChurnEndpoint
from stacks.constructs.dashboard import EndpointDashboard, EndpointDashboardProps
from stacks.constructs.monitoring_job import MonitoringProps
from stacks.constructs.schedule_managed import ManagedSchedule
from stacks.constructs.schedule_self_hosted import SelfHostedSchedule

# Baselining job names start with this (plus the environment), then a content hash.
BASELINE_JOB_PREFIX = "baseline"


@dataclass(frozen=True)
class MonitoringSources:
    """Local inputs of the monitoring stack."""

    baseline_dataset: Path
    """The baseline dataset (`make model`: the model's score, then the inputs), unless cdk.json sets
    `baseline_dataset_uri`."""
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
        engine = config.monitoring_engine
        self.analyzer_code = (
            AnalyzerCode(self, "AnalyzerCode", sources.analyzer_packages, sources.staging_dir)
            if engine == "self-hosted"
            else None
        )
        image = analyzer_image(self, engine, self.analyzer_code)
        self.baseline = self._baseline(config, storage, sources, image)
        props = MonitoringProps(
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
        )
        engine_alerts = self._schedule(config, props)
        # Monitoring needs the endpoint in service with data capture (CDK turns this into a stack dependency).
        self.schedule.node.add_dependency(endpoint)
        self.alerts = self._alerts(config, storage, props, dict(engine_alerts,
                                                                 rollback_alarm_names=endpoint.rollback_alarm_names))
        self.dashboard = self._dashboard(config, endpoint)
        CfnOutput(self, "MonitoringEngine", value=engine)
        CfnOutput(self, "ScheduleName", value=props.schedule_name)
        CfnOutput(self, "BaselineStatistics", value=self.baseline.statistics_uri)
        CfnOutput(self, "BaselineConstraints", value=self.baseline.constraints_uri)
        CfnOutput(self, "AlertTopicArn", value=self.alerts.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)

    def _baseline(
        self, config: EnvironmentConfig, storage: CaptureStorage, sources: MonitoringSources, image: AnalyzerImage
    ) -> Baseline:
        return Baseline(
            self,
            "Baseline",
            BaselineProps(
                job_name_prefix=f"{config.stack_prefix.lower()}-{BASELINE_JOB_PREFIX}",
                image=image,
                bucket_name=config.bucket_name,
                key=storage.key,
                instance_type=config.monitoring_instance_type,
                timeout_minutes=config.baseline_timeout_minutes,
                log_retention_days=config.log_retention_days,
                retain_logs=config.retain_data,
                dataset_path=None if config.baseline_dataset_uri else sources.baseline_dataset,
                dataset_uri=config.baseline_dataset_uri,
            ),
        )

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
        )
        return dict(
            job_name_prefixes=[self.schedule.processing_job_name_prefix],
            state_machine_arn=self.schedule.state_machine.state_machine_arn,
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
                **engine_alerts,
            ),
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
            ),
        )
