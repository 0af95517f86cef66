"""The churn model endpoint with data capture into the storage stack's bucket."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from stacks.config import EnvironmentConfig
from stacks.constructs.capture_storage import CaptureStorage
from stacks.constructs.churn_endpoint import ChurnEndpoint, ChurnEndpointProps


class EndpointStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, config: EnvironmentConfig,
                 storage: CaptureStorage, model_artifact_path: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.endpoint = ChurnEndpoint(self, "ChurnEndpoint", ChurnEndpointProps(
            endpoint_name=config.endpoint_name,
            model_artifact_path=model_artifact_path,
            bucket=storage.bucket,
            bucket_name=config.bucket_name,
            key=storage.key,
            instance_type=config.instance_type,
            instance_count=config.instance_count,
            sampling_percentage=config.sampling_percentage,
            log_retention_days=config.log_retention_days,
            retain_logs=config.retain_data,
            rollout=config.rollout,
            rollback_alarms=config.rollback_alarms,
        ))
        CfnOutput(self, "EndpointName", value=config.endpoint_name)
        CfnOutput(self, "CaptureUri", value=storage.capture_uri())
