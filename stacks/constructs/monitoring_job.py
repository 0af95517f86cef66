"""What an hourly monitoring run of either engine needs, and the role SageMaker runs it with.

Both engines read the endpoint's capture files and the baseline, and write the same three report files
to `reports/<endpoint>/<schedule>/yyyy/mm/dd/HH/` (contract, section 8), so everything downstream is
engine-blind; the schedule name is also the `MonitoringSchedule` dimension of the CloudWatch metrics.
A model-quality run (`ModelQualityProps`) also reads the endpoint's ground-truth labels and has its own
schedule, baseline, report folder and metric namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from contract.layout import (
    BASELINE_PREFIX,
    capture_prefix,
    ground_truth_prefix,
    model_quality_schedule_name,
    report_prefix,
    schedule_name,
)
from contract.metrics import NAMESPACE as METRICS_NAMESPACE
from contract.metrics import PUBLISH_ALL, MetricsBudget
from contract.model_quality import NAMESPACE as MODEL_METRICS_NAMESPACE
from contract.processing import QualityAttributes
from stacks.config import ModelQualityConfig
from stacks.constructs.analyzer_job import AnalyzerImage, processing_job_role
from stacks.nag import acknowledge_wildcard_resource, acknowledge_wildcard_resources


@dataclass(frozen=True)
class MonitoringProps:
    endpoint_name: str
    variant_name: str
    bucket_name: str
    """The bucket's literal (pseudo-parameter) name, for IAM resources and S3 URIs."""
    key: kms.IKey
    schedule_expression: str
    instance_type: str
    max_runtime_seconds: int
    image: AnalyzerImage
    statistics_uri: str
    constraints_uri: str
    baseline_job_name: str
    baseline_id: str
    """Changes whenever the baseline does (hash and attempt of its job name): versions resource names."""
    metrics_budget: MetricsBudget = PUBLISH_ALL
    """Which data-quality metrics a self-hosted run publishes (the managed service publishes all)."""

    @property
    def schedule_name(self) -> str:
        return schedule_name(self.endpoint_name)

    @property
    def capture_key_prefix(self) -> str:
        return capture_prefix(self.endpoint_name, self.variant_name)

    @property
    def report_key_prefix(self) -> str:
        return report_prefix(self.endpoint_name, self.schedule_name)

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket_name}/{key}"


@dataclass(frozen=True)
class ModelQualityProps(MonitoringProps):
    """A model-quality schedule: the shared fields hold its own schedule expression, runtime limit and
    (model-quality) baseline."""

    quality: ModelQualityConfig = field(default_factory=ModelQualityConfig)
    alarm_thresholds: Mapping[str, str] = field(default_factory=dict)
    """metric -> alarm threshold (a token: the baseline's value worsened by the configured margin)."""

    @property
    def schedule_name(self) -> str:
        return model_quality_schedule_name(self.endpoint_name)

    @property
    def ground_truth_key_prefix(self) -> str:
        return f"{ground_truth_prefix(self.endpoint_name)}/"

    @property
    def attributes(self) -> QualityAttributes:
        return QualityAttributes(
            problem_type=self.quality.problem_type,
            probability_attribute=self.quality.probability_attribute,
            probability_threshold=self.quality.probability_threshold,
            inference_attribute=self.quality.inference_attribute,
        )


def monitoring_job_role(
    scope: Construct, construct_id: str, props: MonitoringProps, publish_metrics: bool
) -> iam.Role:
    """Read this endpoint's captures and this baseline's files, write this schedule's reports.

    `publish_metrics`: the role may put metrics, in the run's namespace only (the managed engine
    publishes with the job's role; the self-hosted job is network-isolated and its state machine does it).
    A model-quality run also reads the endpoint's ground-truth labels.
    """
    quality = isinstance(props, ModelQualityProps)
    role = processing_job_role(
        scope,
        construct_id,
        key=props.key,
        image=props.image,
        description=f"Runs the hourly {'model' if quality else 'data'}-quality job of {props.endpoint_name}",
    )
    partition = Stack.of(scope).partition
    bucket = f"arn:{partition}:s3:::{props.bucket_name}"
    read_prefixes = [props.capture_key_prefix, f"{BASELINE_PREFIX}/{props.baseline_job_name}/"]
    if quality:
        read_prefixes.append(props.ground_truth_key_prefix)
    reads = [f"{bucket}/{prefix}*" for prefix in read_prefixes]
    reports = f"{bucket}/{props.report_key_prefix}*"
    role.add_to_policy(iam.PolicyStatement(sid="ReadInputs", actions=["s3:GetObject"], resources=reads))
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ListInputs",
            actions=["s3:ListBucket"],
            resources=[bucket],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in read_prefixes]}},
        )
    )
    role.add_to_policy(iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"], resources=[reports]))
    reasons = (
        "Capture files have generated names; scoped to this endpoint's variant prefix.",
        "The baselining job's two output files, under its own job-name prefix.",
        "Label files are named by the user's pipeline per hour; scoped to this endpoint's ground-truth prefix.",
    )
    acknowledge_wildcard_resources(role, (
        *zip(reads, reasons[: len(reads)], strict=True),
        (reports, "Report folders are per hour; scoped to this endpoint's schedule prefix."),
    ))
    if publish_metrics:
        grant_put_metrics(role, MODEL_METRICS_NAMESPACE if quality else METRICS_NAMESPACE)
    return role


def grant_put_metrics(role: iam.Role, namespace: str = METRICS_NAMESPACE) -> None:
    """PutMetricData has no resource-level scoping; the namespace condition is the boundary."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PublishModelQualityMetrics" if namespace == MODEL_METRICS_NAMESPACE else "PublishDataQualityMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
        )
    )
    acknowledge_wildcard_resource(
        role,
        "*",
        "cloudwatch:PutMetricData supports no resource scoping; the "
        f"cloudwatch:namespace condition limits it to {namespace}.",
    )
