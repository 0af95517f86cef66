"""The KMS key and bucket that hold captured inference data, ground truth, baselines and monitoring
reports, and the managed policy with which a label pipeline writes ground truth (and nothing else)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract.layout import (
    ALERT_MARKER_PREFIX,
    CAPTURE_PREFIX,
    GROUND_TRUTH_PREFIX,
    REPORTS_PREFIX,
    ground_truth_prefix,
)
from stacks.nag import acknowledge_wildcard_resource


@dataclass(frozen=True)
class CaptureStorageProps:
    capture_retention_days: int
    reports_retention_days: int
    access_log_retention_days: int
    ground_truth_retention_days: int
    bucket_name: str
    endpoint_name: str
    """The endpoint whose ground-truth prefix the writer policy opens."""
    retain: bool
    """Keep the bucket and key on stack deletion (prod) instead of emptying and deleting them (dev)."""


class CaptureStorage(Construct):
    """A customer-managed key with rotation, and a versioned, KMS-encrypted, TLS-only, private bucket
    with server access logs and per-prefix lifecycle rules."""

    def __init__(self, scope: Construct, construct_id: str, props: CaptureStorageProps) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if props.retain else RemovalPolicy.DESTROY

        self.key = kms.Key(
            self, "Key",
            description="Encrypts captured inference data, baselines and monitoring reports",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(7 if not props.retain else 30),
        )

        # Access-log targets cannot use SSE-KMS, so this bucket uses S3-managed keys.
        self.access_logs_bucket = s3.Bucket(
            self, "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(
                id="ExpireAccessLogs", expiration=Duration.days(props.access_log_retention_days))],
            removal_policy=removal,
            auto_delete_objects=not props.retain,
        )
        Validations.of(self.access_logs_bucket).acknowledge(Acknowledgment(
            id="AwsSolutions-S1",
            reason="This is the server-access-log target; logging it to itself would loop.",
        ))

        self.bucket = s3.Bucket(
            self, "Bucket",
            bucket_name=props.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="capture-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireCaptures", prefix=f"{CAPTURE_PREFIX}/",
                                 expiration=Duration.days(props.capture_retention_days),
                                 noncurrent_version_expiration=Duration.days(1)),
                s3.LifecycleRule(id="ExpireReports", prefix=f"{REPORTS_PREFIX}/",
                                 expiration=Duration.days(props.reports_retention_days),
                                 noncurrent_version_expiration=Duration.days(1)),
                s3.LifecycleRule(id="ExpireGroundTruth", prefix=f"{GROUND_TRUTH_PREFIX}/",
                                 expiration=Duration.days(props.ground_truth_retention_days),
                                 noncurrent_version_expiration=Duration.days(1)),
                s3.LifecycleRule(id="ExpireAlertMarkers", prefix=f"{ALERT_MARKER_PREFIX}/",
                                 expiration=Duration.days(7),
                                 noncurrent_version_expiration=Duration.days(1)),
                s3.LifecycleRule(id="CleanUpVersionsAndUploads",
                                 noncurrent_version_expiration=Duration.days(30),
                                 abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
            removal_policy=removal,
            auto_delete_objects=not props.retain,
        )

        self.ground_truth_prefix = ground_truth_prefix(props.endpoint_name)
        self.ground_truth_writer = self._ground_truth_writer(props)

    def _ground_truth_writer(self, props: CaptureStorageProps) -> iam.ManagedPolicy:
        """What a label pipeline attaches to upload labels: PutObject under this endpoint's ground-truth
        prefix, and the bucket key for that through S3 only. No read, list or delete."""
        objects = (f"arn:{Stack.of(self).partition}:s3:::{props.bucket_name}/"
                   f"{self.ground_truth_prefix}/*")
        policy = iam.ManagedPolicy(
            self, "GroundTruthWriter",
            description=f"Upload ground-truth labels for {props.endpoint_name} (s3://{props.bucket_name}/"
                        f"{self.ground_truth_prefix}/yyyy/mm/dd/HH/*.jsonl) and nothing else",
            statements=[
                iam.PolicyStatement(sid="WriteGroundTruth", actions=["s3:PutObject"], resources=[objects]),
                iam.PolicyStatement(
                    sid="EncryptThroughS3", actions=["kms:GenerateDataKey"], resources=[self.key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
                ),
            ],
        )
        acknowledge_wildcard_resource(
            policy, objects, "Label files have generated keys (yyyy/mm/dd/HH/<name>.jsonl); write-only, this "
                             "endpoint's ground-truth prefix only.")
        return policy

    def ground_truth_uri(self) -> str:
        return self.bucket.s3_url_for_object(self.ground_truth_prefix) + "/"

    def capture_uri(self) -> str:
        return self.bucket.s3_url_for_object(CAPTURE_PREFIX)
