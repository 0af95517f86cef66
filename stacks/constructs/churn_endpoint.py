"""The XGBoost churn model served by a SageMaker real-time endpoint that captures every request, updated
by blue/green deployment (all at once or canary) that SageMaker rolls back when a rollback alarm fires.

The rollback alarms watch the new fleet only: they carry the `EndpointConfigName` dimension of the config
being rolled out, which SageMaker publishes once that fleet takes traffic. An alarm's dimensions change with
the endpoint config (it is updated in place, its name stays), and the endpoint references the alarms, so
CloudFormation updates them before it starts the endpoint update.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.layout import CAPTURE_PREFIX
from contract.metrics import INVOCATION_5XX_ERRORS, INVOCATION_MODEL_ERRORS
from stacks.config import CANARY, RollbackAlarms, RolloutPolicy
from stacks.constructs.log_groups import log_group
from stacks.constructs.metric_factory import EndpointMetrics, latency_threshold_units
from stacks.iam import add_statements
from stacks.images import XGBOOST_SERVING, image_uri
from stacks.nag import acknowledge_wildcard_resources

VARIANT_NAME = "AllTraffic"
CSV_CONTENT_TYPES = ["text/csv"]
JSON_CONTENT_TYPES = ["application/json"]
# The canary is sized in instances (CapacitySize.Type): how SageMaker rounds a percentage of a small fleet
# is not documented, an instance count says exactly what the canary is.
CANARY_SIZE_TYPE = "INSTANCE_COUNT"


def rollback_alarm_name(endpoint_name: str, watched: str) -> str:
    """Fixed names, so the dashboard and `aws cloudwatch describe-alarms` find them without cross-stack exports."""
    return f"{endpoint_name}-rollback-{watched}"


# (alarm name suffix, construct id) of the three rollback alarms.
ROLLBACK_ALARMS = (("5xx-errors", "Rollback5xxErrors"), ("model-errors", "RollbackModelErrors"),
                   ("model-latency", "RollbackModelLatency"))


@dataclass(frozen=True)
class ChurnEndpointProps:
    endpoint_name: str
    model_artifact_path: str
    """Local path of model.tar.gz (built by `python -m model.train`), uploaded as an S3 asset."""
    bucket: s3.IBucket
    bucket_name: str
    """The bucket's literal (pseudo-parameter) name, for IAM resources that must not be cross-stack tokens."""
    key: kms.IKey
    instance_type: str
    instance_count: int
    sampling_percentage: int
    log_retention_days: int
    retain_logs: bool
    rollout: RolloutPolicy
    rollback_alarms: RollbackAlarms


class ChurnEndpoint(Construct):
    """Model, endpoint config with data capture to `s3://<bucket>/datacapture`, the rollback alarms and the
    endpoint with its deployment config."""

    def __init__(self, scope: Construct, construct_id: str, props: ChurnEndpointProps) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = props.endpoint_name
        self.variant_name = VARIANT_NAME
        artifact = s3_assets.Asset(self, "ModelArtifact", path=props.model_artifact_path)
        # SageMaker would create this group on first start, without retention, and keep it after
        # `cdk destroy`; owning it gives it the environment's retention and removal policy.
        self.log_group = log_group(self, "Logs", props.log_retention_days, props.retain_logs,
                                   log_group_name=f"/aws/sagemaker/Endpoints/{props.endpoint_name}")

        self.role = iam.Role(
            self, "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Runs the {props.endpoint_name} model and writes its data capture",
        )
        self._grant_least_privilege(props, artifact)

        model = sagemaker.CfnModel(
            self, "Model",
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri(self, "XgboostImage", XGBOOST_SERVING),
                model_data_url=artifact.s3_object_url,
            ),
        )
        # The role's policy must exist before SageMaker validates the model with it.
        model.node.add_dependency(self.role.node.find_child("DefaultPolicy"), self.log_group)

        self.endpoint_config = self._endpoint_config(props, model)
        self.metrics = EndpointMetrics(props.endpoint_name, VARIANT_NAME)
        self.rollback_alarms = self._rollback_alarms(props)
        self.rollback_alarm_names = [rollback_alarm_name(props.endpoint_name, suffix) for suffix, _ in ROLLBACK_ALARMS]
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=deployment_config(props.rollout, self.rollback_alarms),
        )

    def _endpoint_config(self, props: ChurnEndpointProps, model: sagemaker.CfnModel) -> sagemaker.CfnEndpointConfig:
        """One variant of the model, capturing every request and response (encrypted) under `datacapture/`."""
        return sagemaker.CfnEndpointConfig(
            self, "EndpointConfig",
            kms_key_id=props.key.key_arn,
            production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=VARIANT_NAME,
                model_name=model.attr_model_name,
                initial_instance_count=props.instance_count,
                instance_type=props.instance_type,
                initial_variant_weight=1.0,
            )],
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=props.sampling_percentage,
                destination_s3_uri=props.bucket.s3_url_for_object(CAPTURE_PREFIX),
                kms_key_id=props.key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=CSV_CONTENT_TYPES, json_content_types=JSON_CONTENT_TYPES,
                ),
            ),
        )

    def _rollback_alarms(self, props: ChurnEndpointProps) -> list[cloudwatch.Alarm]:
        """5XX share, model-container error share and average model latency of the fleet being rolled out."""
        fleet = self.metrics.of_fleet(self.endpoint_config.attr_endpoint_config_name)
        thresholds = props.rollback_alarms
        watched = (
            (fleet.error_rate(INVOCATION_5XX_ERRORS), thresholds.max_5xx_error_rate,
             f"more than {thresholds.max_5xx_error_rate:.1%} of its requests answered 5XX"),
            (fleet.error_rate(INVOCATION_MODEL_ERRORS), thresholds.max_model_error_rate,
             f"the model container failing more than {thresholds.max_model_error_rate:.1%} of its requests"),
            (fleet.model_latency(), latency_threshold_units(thresholds.max_model_latency_ms),
             f"an average model latency above {thresholds.max_model_latency_ms:g} ms"),
        )
        alarms = []
        for (suffix, construct_id), (metric, threshold, breach) in zip(ROLLBACK_ALARMS, watched, strict=True):
            alarms.append(cloudwatch.Alarm(
                self, construct_id, alarm_name=rollback_alarm_name(props.endpoint_name, suffix),
                alarm_description=f"Rolls back an update of {props.endpoint_name}: the new fleet shows {breach} "
                                  f"for {thresholds.evaluation_periods} x {thresholds.period_seconds} s.",
                metric=metric.with_(period=Duration.seconds(thresholds.period_seconds)), threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=thresholds.evaluation_periods,
                # No traffic on the new fleet is no evidence against it.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ))
        return alarms

    def _grant_least_privilege(self, props: ChurnEndpointProps, artifact: s3_assets.Asset) -> None:
        partition = Stack.of(self).partition
        capture_objects = f"arn:{partition}:s3:::{props.bucket_name}/{CAPTURE_PREFIX}/{props.endpoint_name}/*"
        serving_repository = f"arn:{partition}:ecr:{Aws.REGION}:*:repository/sagemaker-xgboost"
        log_streams = (f"arn:{partition}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
                       f"/aws/sagemaker/Endpoints/{props.endpoint_name}:*")
        statements = [
            ("ReadModelArtifact", ["s3:GetObject"], artifact.bucket.arn_for_objects(artifact.s3_object_key)),
            ("WriteDataCapture", ["s3:PutObject"], capture_objects),
            ("EncryptDataCapture", ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"], props.key.key_arn),
            ("PullServingImage", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                                  "ecr:BatchCheckLayerAvailability"], serving_repository),
            ("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
            ("EndpointLogs", ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
             log_streams),
        ]
        add_statements(self.role, statements)
        # Each remaining wildcard is the narrowest the service allows.
        acknowledge_wildcard_resources(self.role, (
            (capture_objects, "SageMaker writes capture files with generated keys under "
                              "datacapture/<endpoint>/ only."),
            (serving_repository, "The serving image's ECR account differs per region (CfnMapping); the "
                                 "repository name pins it to the XGBoost image."),
            ("*", "ecr:GetAuthorizationToken supports no resource-level scoping."),
            (log_streams, "SageMaker names log streams per instance; scoped to this endpoint's log group."),
        ))


def deployment_config(rollout: RolloutPolicy,
                      alarms: list[cloudwatch.Alarm]) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
    """The endpoint's blue/green update policy and the alarms that roll an update back."""
    canary = rollout.traffic_routing == CANARY
    routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type=rollout.traffic_routing,
        canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(type=CANARY_SIZE_TYPE, value=rollout.canary_instances)
        if canary else None,
        wait_interval_in_seconds=rollout.wait_interval_seconds,
    )
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=rollout.termination_wait_seconds,
            maximum_execution_timeout_in_seconds=rollout.max_execution_timeout_seconds,
        ),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=alarm.alarm_name) for alarm in alarms]),
    )
