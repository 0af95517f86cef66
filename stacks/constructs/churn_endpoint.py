"""The XGBoost churn model served by a SageMaker real-time endpoint that captures every request."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.layout import CAPTURE_PREFIX
from stacks.constructs.log_groups import log_group
from stacks.iam import add_statements
from stacks.images import XGBOOST_SERVING, image_uri
from stacks.nag import acknowledge_wildcard_resources

VARIANT_NAME = "AllTraffic"
CSV_CONTENT_TYPES = ["text/csv"]
JSON_CONTENT_TYPES = ["application/json"]


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


class ChurnEndpoint(Construct):
    """Model, endpoint config with data capture to `s3://<bucket>/datacapture`, and endpoint."""

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

        self.endpoint_config = sagemaker.CfnEndpointConfig(
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
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=props.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )

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
