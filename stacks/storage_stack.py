"""Stateful storage, separate so compute can be torn down and redeployed without losing data."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import EnvironmentConfig
from stacks.constructs.capture_storage import CaptureStorage, CaptureStorageProps


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.storage = CaptureStorage(self, "CaptureStorage", CaptureStorageProps(
            capture_retention_days=config.capture_retention_days,
            reports_retention_days=config.reports_retention_days,
            access_log_retention_days=config.access_log_retention_days,
            ground_truth_retention_days=config.ground_truth_retention_days,
            bucket_name=config.bucket_name,
            endpoint_name=config.endpoint_name,
            retain=config.retain_data,
        ))
        CfnOutput(self, "BucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "KeyArn", value=self.storage.key.key_arn)
        CfnOutput(self, "GroundTruthUri", value=self.storage.ground_truth_uri(),
                  description="Where labels go: <this>yyyy/mm/dd/HH/<name>.jsonl, the hour they were collected")
        CfnOutput(self, "GroundTruthWriterPolicyArn", value=self.storage.ground_truth_writer.managed_policy_arn,
                  description="Attach to the label pipeline's role: it may upload labels there and nothing else")
