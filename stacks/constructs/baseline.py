"""A deploy-time baseline (data quality, or model quality), computed by a SageMaker Processing job.

A custom resource (CDK's Provider framework with an is_complete waiter; handlers in lambda/baseline/,
bundled with the `contract` package) starts the job, waits for it, fails the deployment with the job's
FailureReason/ExitMessage, and returns the statistics/constraints URIs as attributes. The job name
hashes the dataset and analyzer settings: an unchanged deploy starts nothing, a changed dataset runs a
new job and replaces the resource. A model-quality baseline with alarm margins also returns each
metric's alarm threshold (its baseline value worsened by the margin, read from the job's
statistics.json); the margins are not hashed, so changing one recomputes the thresholds only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Acknowledgment, Aws, CustomResource, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from contract.layout import BASELINE_PREFIX, STATISTICS_FILE, split_s3_uri
from contract.model_quality import alarm_threshold_attribute, suggested_operators
from stacks.constructs.analyzer_job import (
    VOLUME_SIZE_GB,
    AnalyzerImage,
    grant_read_asset,
    grant_run_jobs,
    processing_job_role,
)
from stacks.constructs.lambda_assets import PROJECT_ROOT, handler_files, lambda_code
from stacks.constructs.log_groups import log_group
from stacks.nag import acknowledge_wildcard_resource

HANDLER_DIR = PROJECT_ROOT / "lambda" / "baseline"
QUERY_INTERVAL = Duration.seconds(30)
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14


@dataclass(frozen=True)
class BaselineProps:
    job_name_prefix: str
    """Start of every baselining job name (letters, digits, hyphens; at most 48 characters)."""
    image: AnalyzerImage
    bucket_name: str
    key: kms.IKey
    instance_type: str
    timeout_minutes: int
    """How long the deployment waits for the job; also the job's own runtime limit."""
    log_retention_days: int
    retain_logs: bool
    dataset_path: Path | None = None
    """Local training CSV, uploaded as an asset ..."""
    dataset_uri: str | None = None
    """... or an s3:// URI of a file or prefix (takes precedence)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """The analyzer container's variables (`contract.processing.baseline_environment` or
    `quality_baseline_environment`)."""
    kind: str = "data-quality"
    """`data-quality` or `model-quality`: names the resource type and the job role."""
    alarm_margins: Mapping[str, float] = field(default_factory=dict)
    """Model quality: metric -> margin of the alarm thresholds (`Baseline.alarm_threshold`); empty for
    data quality."""
    problem_type: str | None = None
    """Model quality: the problem type, whose suggested operators say which way a metric worsens."""


def _check_alarm_margins(props: BaselineProps) -> None:
    if not props.alarm_margins:
        return
    if not props.problem_type:
        raise ValueError("alarm_margins need problem_type (it says which way each metric worsens)")
    known = suggested_operators(props.problem_type)
    unknown = [metric for metric in props.alarm_margins if metric not in known]
    if unknown:
        raise ValueError(f"alarm_margins {unknown}: not {props.problem_type} metrics; use {', '.join(known)}")


class Baseline(Construct):
    """Exposes the custom resource's attributes: `statistics_uri`, `constraints_uri`, `job_name`,
    `baseline_id`, and `alarm_threshold(metric)`."""

    def __init__(self, scope: Construct, construct_id: str, props: BaselineProps) -> None:
        super().__init__(scope, construct_id)
        if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,47}", props.job_name_prefix):
            raise ValueError(f"job_name_prefix {props.job_name_prefix!r}: 1-48 letters, digits and hyphens")
        if props.timeout_minutes * 60 % QUERY_INTERVAL.to_seconds():
            raise ValueError("timeout_minutes must be a whole multiple of the query interval")
        _check_alarm_margins(props)
        self._alarm_margins = dict(props.alarm_margins)
        partition = Stack.of(self).partition
        self.job_role = processing_job_role(
            self,
            "JobRole",
            description=f"Runs the deploy-time {props.kind} baselining job",
            key=props.key,
            image=props.image,
        )
        dataset_uri = self._grant_dataset(props)
        outputs = f"arn:{partition}:s3:::{props.bucket_name}/{BASELINE_PREFIX}/{props.job_name_prefix}*"
        self.job_role.add_to_policy(
            iam.PolicyStatement(sid="WriteBaseline", actions=["s3:PutObject"], resources=[outputs])
        )
        acknowledge_wildcard_resource(
            self.job_role,
            outputs,
            "The job writes statistics.json and constraints.json under baselines/<its own job name>/ only.",
        )

        provider = self._provider(props)
        resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=f"Custom::{props.kind.title().replace('-', '')}Baseline",
            properties=self._properties(props, dataset_uri),
        )
        # The job must be able to read and write with its policy as soon as it starts.
        resource.node.add_dependency(self.job_role.node.find_child("DefaultPolicy"))
        self.statistics_uri = resource.get_att_string("StatisticsS3Uri")
        self.constraints_uri = resource.get_att_string("ConstraintsS3Uri")
        self.job_name = resource.get_att_string("BaseliningJobName")
        self.baseline_id = resource.get_att_string("BaselineId")
        self.resource = resource

    def alarm_threshold(self, metric: str) -> str:
        """The alarm threshold of `metric` (a token): the baseline's value worsened by its margin."""
        if metric not in self._alarm_margins:
            raise ValueError(
                f"no alarm margin for {metric!r}: the baseline has margins for "
                f"{', '.join(self._alarm_margins) or 'no metric'}"
            )
        return self.resource.get_att_string(alarm_threshold_attribute(metric))

    def _provider(self, props: BaselineProps) -> cr.Provider:
        """The Provider framework with the two handlers, all logging to log groups of this construct."""
        on_event = self._function("OnEvent", "on_event", props, sagemaker_write=True)
        is_complete = self._function("IsComplete", "is_complete", props, sagemaker_write=False)
        if props.alarm_margins:
            self._grant_read_statistics(is_complete.role, props)
        provider_logs = self._log_group("ProviderLogs", props)
        # Own roles for the framework's functions: log writes to their log group only (instead of the
        # AWS-managed basic execution policy); the framework adds its invoke and start permissions.
        framework_roles = {
            name: iam.Role(
                self,
                f"Framework{name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Baseline custom resource: Provider framework {name} functions",
            )
            for name in ("OnEvent", "Waiter")
        }
        for role in framework_roles.values():
            provider_logs.grant_write(role)
        provider = cr.Provider(
            self,
            "Provider",
            framework_on_event_role=framework_roles["OnEvent"],
            framework_complete_and_timeout_role=framework_roles["Waiter"],
            on_event_handler=on_event,
            is_complete_handler=is_complete,
            query_interval=QUERY_INTERVAL,
            total_timeout=Duration.minutes(props.timeout_minutes),
            log_group=provider_logs,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=self._log_group("WaiterLogs", props),
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        self._acknowledge_provider_findings(provider, framework_roles.values(), on_event, is_complete)
        return provider

    def _grant_read_statistics(self, role: iam.IRole, props: BaselineProps) -> None:
        """is_complete reads the completed job's statistics.json for the alarm thresholds."""
        statistics = (
            f"arn:{Stack.of(self).partition}:s3:::{props.bucket_name}/{BASELINE_PREFIX}/"
            f"{props.job_name_prefix}*/{STATISTICS_FILE}"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadBaselineStatistics", actions=["s3:GetObject"], resources=[statistics])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DecryptBaselineStatistics",
                actions=["kms:Decrypt"],
                resources=[props.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        acknowledge_wildcard_resource(
            role,
            statistics,
            "Job names end in a content hash computed at deploy time; the handler reads the statistics.json "
            "of this baseline's jobs only.",
        )

    def _properties(self, props: BaselineProps, dataset_uri: str) -> dict:
        """The custom resource's properties: what `baseline_job.BaselineSpec` reads."""
        alarms = {}
        if props.problem_type:
            alarms["ProblemType"] = props.problem_type
        if props.alarm_margins:
            # As CloudFormation delivers them anyway: strings.
            alarms["AlarmMargins"] = {metric: repr(float(m)) for metric, m in props.alarm_margins.items()}
        return {
            "JobNamePrefix": props.job_name_prefix,
            "RoleArn": self.job_role.role_arn,
            "ImageUri": props.image.uri,
            "ContainerEntrypoint": list(props.image.entrypoint),
            "CodeUri": props.image.code.s3_uri if props.image.code else "",
            "Environment": props.image.environment(dict(props.environment)),
            "DatasetUri": dataset_uri,
            "OutputUri": f"s3://{props.bucket_name}/{BASELINE_PREFIX}",
            "KmsKeyArn": props.key.key_arn,
            "InstanceType": props.instance_type,
            "VolumeSizeInGB": str(VOLUME_SIZE_GB),
            "MaxRuntimeInSeconds": str(props.timeout_minutes * 60),
            **alarms,
        }

    def _grant_dataset(self, props: BaselineProps) -> str:
        if props.dataset_uri:
            bucket, key = split_s3_uri(props.dataset_uri)
            partition = Stack.of(self).partition
            objects = f"arn:{partition}:s3:::{bucket}/{key}*"
            self.job_role.add_to_policy(
                iam.PolicyStatement(sid="ReadDataset", actions=["s3:GetObject"], resources=[objects])
            )
            self.job_role.add_to_policy(
                iam.PolicyStatement(
                    sid="ListDataset",
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{partition}:s3:::{bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"{key}*"]}},
                )
            )
            acknowledge_wildcard_resource(
                self.job_role,
                objects,
                "The configured baseline dataset is a prefix; the job reads the objects under it only.",
            )
            return props.dataset_uri
        if props.dataset_path is None or not Path(props.dataset_path).exists():
            raise FileNotFoundError(
                f"Baseline dataset {props.dataset_path} is missing: run `make model` "
                "(python -m model.train), or set baseline_dataset_uri in cdk.json."
            )
        asset = s3_assets.Asset(self, "Dataset", path=str(props.dataset_path))
        grant_read_asset(self.job_role, asset, "ReadDataset")
        return asset.s3_object_url

    def _log_group(self, construct_id: str, props: BaselineProps) -> logs.LogGroup:
        return log_group(self, construct_id, props.log_retention_days, props.retain_logs)

    def _function(
        self, construct_id: str, handler: str, props: BaselineProps, *, sagemaker_write: bool
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Baseline custom resource: {handler}",
        )
        log_group = self._log_group(f"{construct_id}Logs", props)
        function = lambda_.Function(
            self,
            construct_id,
            runtime=LAMBDA_RUNTIME,
            handler=f"baseline_handler.{handler}",
            code=lambda_code(HANDLER_DIR, handler_files(HANDLER_DIR)),
            timeout=Duration.minutes(1),
            memory_size=256,
            role=role,
            log_group=log_group,
            description=f"Baseline custom resource ({handler})",
        )
        log_group.grant_write(role)
        if sagemaker_write:
            grant_run_jobs(role, job_name_prefix=props.job_name_prefix, job_role=self.job_role, key=props.key)
        else:
            jobs = (
                f"arn:{Stack.of(self).partition}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
                f":processing-job/{props.job_name_prefix}*"
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="WatchBaselineJobs", actions=["sagemaker:DescribeProcessingJob"], resources=[jobs]
                )
            )
            acknowledge_wildcard_resource(
                role,
                jobs,
                "Job names end in a content hash computed at deploy time; scoped to this stack's "
                "baselining jobs.",
            )
        return function

    def _acknowledge_provider_findings(
        self, provider: cr.Provider, roles: Iterable[iam.Role], *handlers: lambda_.Function
    ) -> None:
        """Findings on what the Provider framework generates: invoke grants, the waiter state machine."""
        framework = [provider.node.find_child(f"framework-{name}") for name in ("isComplete", "onTimeout")]
        for function in (*handlers, *framework):
            for scope in (provider, *roles):
                acknowledge_wildcard_resource(
                    scope,
                    f"{function.function_arn}:*",
                    "The Provider framework invokes its handlers by ARN, any version (grant_invoke).",
                )
        waiter = provider.node.find_child("waiter-state-machine")
        Validations.of(waiter).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="The waiter state machine's log delivery: CloudWatch Logs delivery APIs support no "
                "resource-level scoping.",
            )
        )
        Validations.of(waiter).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SF2",
                reason="CDK's Provider framework offers no X-Ray option for its waiter state machine, which "
                "only polls is_complete; its executions are logged (level ALL).",
            )
        )
