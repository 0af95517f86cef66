"""What an hourly monitoring run of either engine needs, and the role SageMaker runs it with.

Both engines read the endpoint's capture files and the baseline, and write the same three report files
to `reports/<endpoint>/<schedule>/yyyy/mm/dd/HH/` (contract, section 8), so everything downstream is
engine-blind; the schedule name is also the `MonitoringSchedule` dimension of the CloudWatch metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from contract.layout import BASELINE_PREFIX, capture_prefix, report_prefix, schedule_name
from contract.metrics import NAMESPACE as METRICS_NAMESPACE
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


def monitoring_job_role(
    scope: Construct, construct_id: str, props: MonitoringProps, publish_metrics: bool
) -> iam.Role:
    """Read this endpoint's captures and this baseline's files, write this schedule's reports.

    `publish_metrics`: the role may put metrics, in the data-metrics namespace only (the managed engine
    publishes with the job's role; the self-hosted job is network-isolated and its state machine does it).
    """
    role = processing_job_role(
        scope,
        construct_id,
        key=props.key,
        image=props.image,
        description=f"Runs the hourly data-quality job of {props.endpoint_name}",
    )
    partition = Stack.of(scope).partition
    bucket = f"arn:{partition}:s3:::{props.bucket_name}"
    captures = f"{bucket}/{props.capture_key_prefix}*"
    baseline = f"{bucket}/{BASELINE_PREFIX}/{props.baseline_job_name}/*"
    reports = f"{bucket}/{props.report_key_prefix}*"
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ReadCapturesAndBaseline", actions=["s3:GetObject"], resources=[captures, baseline]
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ListCapturesAndBaseline",
            actions=["s3:ListBucket"],
            resources=[bucket],
            conditions={
                "StringLike": {
                    "s3:prefix": [
                        f"{props.capture_key_prefix}*",
                        f"{BASELINE_PREFIX}/{props.baseline_job_name}/*",
                    ]
                }
            },
        )
    )
    role.add_to_policy(iam.PolicyStatement(sid="WriteReports", actions=["s3:PutObject"], resources=[reports]))
    acknowledge_wildcard_resources(role, (
        (captures, "Capture files have generated names; scoped to this endpoint's variant prefix."),
        (baseline, "The baselining job's two output files, under its own job-name prefix."),
        (reports, "Report folders are per hour; scoped to this endpoint's schedule prefix."),
    ))
    if publish_metrics:
        grant_put_metrics(role)
    return role


def grant_put_metrics(role: iam.Role) -> None:
    """PutMetricData has no resource-level scoping; the namespace condition is the boundary."""
    role.add_to_policy(
        iam.PolicyStatement(
            sid="PublishDataQualityMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        )
    )
    acknowledge_wildcard_resource(
        role,
        "*",
        "cloudwatch:PutMetricData supports no resource scoping; the "
        f"cloudwatch:namespace condition limits it to {METRICS_NAMESPACE}.",
    )
