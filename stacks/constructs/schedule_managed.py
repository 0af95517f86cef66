"""The `managed` engine: SageMaker Model Monitor runs the prebuilt analyzer on the endpoint's captures.

`ManagedSchedule` is the data-quality schedule, `ManagedQualitySchedule` the model-quality one (the
service merges the window's captures with the ground-truth labels, then scores them).
Job definitions (`AWS::SageMaker::DataQualityJobDefinition`, `...::ModelQualityJobDefinition`) have only
create-only properties and no name attribute, so their names are versioned by content: a hash of the
synthesized properties plus the baseline's id (which changes with the baseline at deploy time). Any
change creates a definition under a new name, the schedule switches to it, and CloudFormation deletes
the old one (updating a definition in place fails while an execution runs).
"""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.layout import REPORTS_PREFIX, offset_text
from contract.processing import (
    ENABLED,
    ENDPOINT_INPUT_PATH,
    OUTPUT_PATH,
    REPORT_OUTPUT,
    Env,
    ProcessingJobSpec,
    ProcessingOutput,
)
from stacks.constructs.analyzer_job import VOLUME_SIZE_GB
from stacks.constructs.monitoring_job import ModelQualityProps, MonitoringProps, monitoring_job_role

DQ = sagemaker.CfnDataQualityJobDefinition
MQ = sagemaker.CfnModelQualityJobDefinition


class ManagedSchedule(Construct):
    """Exposes `schedule_name`, `role`, `job_definition` and `schedule`."""

    kind, monitoring_type = "dq", "DataQuality"

    def __init__(self, scope: Construct, construct_id: str, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        self.schedule_name = props.schedule_name
        self.role = monitoring_job_role(self, "JobRole", props, publish_metrics=True)
        # The service starts each run with this role, so the role itself encrypts the run's volume.
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GrantVolumeKey",
                actions=["kms:CreateGrant"],
                resources=[props.key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        job = ProcessingJobSpec(
            role_arn=self.role.role_arn,
            image_uri=props.image.uri,
            kms_key_arn=props.key.key_arn,
            instance_type=props.instance_type,
            volume_size_gb=VOLUME_SIZE_GB,
            max_runtime_seconds=props.max_runtime_seconds,
            environment=props.image.environment({Env.PUBLISH_METRICS: ENABLED}),
            # The service appends <endpoint>/<schedule>/yyyy/mm/dd/HH.
            outputs=(ProcessingOutput(REPORT_OUTPUT, props.s3_uri(REPORTS_PREFIX), OUTPUT_PATH),),
        )
        definition = self._job_definition(job, props)
        version = _content_hash(Stack.of(self).resolve(definition))
        name_start = f"{props.endpoint_name[:30].rstrip('-')}-{self.kind}-{version}-"
        self.job_definition = self._definition_resource(
            job_definition_name=name_start + props.baseline_id, endpoint_name=props.endpoint_name, **definition
        )
        self.job_definition.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.schedule = sagemaker.CfnMonitoringSchedule(
            self,
            "Schedule",
            monitoring_schedule_name=props.schedule_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=self.job_definition.job_definition_name,
                monitoring_type=self.monitoring_type,
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=props.schedule_expression
                ),
            ),
        )
        # The definition has no name attribute to reference: order the schedule after it explicitly.
        self.schedule.node.add_dependency(self.job_definition)

    def _definition_resource(self, **properties) -> DQ:
        return DQ(self, "JobDefinition", **properties)

    def _job_definition(self, job: ProcessingJobSpec, props: MonitoringProps) -> dict:
        return _job_definition(job, props)


class ManagedQualitySchedule(ManagedSchedule):
    """The model-quality schedule: the window's captures (offsets of the configuration) merged with the
    endpoint's ground-truth labels, scored against the model-quality baseline's constraints."""

    kind, monitoring_type = "mq", "ModelQuality"

    def _definition_resource(self, **properties) -> MQ:
        return MQ(self, "JobDefinition", **properties)

    def _job_definition(self, job: ProcessingJobSpec, props: ModelQualityProps) -> dict:
        return _quality_job_definition(job, props)


def _job_definition(job: ProcessingJobSpec, props: MonitoringProps) -> dict:
    """The data-quality definition's properties: the job spec's container, output and resources, and the
    baseline."""
    return dict(
        data_quality_app_specification=DQ.DataQualityAppSpecificationProperty(
            image_uri=job.image_uri,
            environment=dict(job.environment),
        ),
        data_quality_baseline_config=DQ.DataQualityBaselineConfigProperty(
            constraints_resource=DQ.ConstraintsResourceProperty(s3_uri=props.constraints_uri),
            statistics_resource=DQ.StatisticsResourceProperty(s3_uri=props.statistics_uri),
        ),
        data_quality_job_input=DQ.DataQualityJobInputProperty(
            endpoint_input=DQ.EndpointInputProperty(
                endpoint_name=props.endpoint_name,
                local_path=ENDPOINT_INPUT_PATH,
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
            )
        ),
        data_quality_job_output_config=_output_config(job, DQ),
        **_job_properties(job, DQ),
    )


def _quality_job_definition(job: ProcessingJobSpec, props: ModelQualityProps) -> dict:
    """A model-quality definition: the same container, output and resources as the data-quality one, the
    window's offsets and attributes, the labels' prefix, and the baseline's constraints."""
    quality = props.quality
    return dict(
        model_quality_app_specification=MQ.ModelQualityAppSpecificationProperty(
            image_uri=job.image_uri, problem_type=quality.problem_type, environment=dict(job.environment)
        ),
        model_quality_baseline_config=MQ.ModelQualityBaselineConfigProperty(
            constraints_resource=MQ.ConstraintsResourceProperty(s3_uri=props.constraints_uri),
        ),
        model_quality_job_input=MQ.ModelQualityJobInputProperty(
            endpoint_input=MQ.EndpointInputProperty(
                endpoint_name=props.endpoint_name,
                local_path=ENDPOINT_INPUT_PATH,
                s3_input_mode="File",
                s3_data_distribution_type="FullyReplicated",
                start_time_offset=offset_text(quality.start_hours),
                end_time_offset=offset_text(quality.end_hours),
                probability_attribute=quality.probability_attribute,
                probability_threshold_attribute=quality.probability_threshold,
                inference_attribute=quality.inference_attribute,
            ),
            ground_truth_s3_input=MQ.MonitoringGroundTruthS3InputProperty(
                s3_uri=props.s3_uri(props.ground_truth_key_prefix.rstrip("/"))
            ),
        ),
        model_quality_job_output_config=_output_config(job, MQ),
        **_job_properties(job, MQ),
    )


def _output_config(job: ProcessingJobSpec, cfn: type) -> object:
    """The report output of either definition type (`cfn`: the L1 class, whose property types it uses)."""
    (output,) = job.outputs
    return cfn.MonitoringOutputConfigProperty(
        kms_key_id=job.kms_key_arn,
        monitoring_outputs=[
            cfn.MonitoringOutputProperty(
                s3_output=cfn.S3OutputProperty(
                    local_path=output.local_path, s3_uri=output.s3_uri, s3_upload_mode="EndOfJob"
                )
            )
        ],
    )


def _job_properties(job: ProcessingJobSpec, cfn: type) -> dict:
    """Resources, network, role and runtime limit of either definition type."""
    return dict(
        job_resources=cfn.MonitoringResourcesProperty(
            cluster_config=cfn.ClusterConfigProperty(
                instance_count=job.instance_count,
                instance_type=job.instance_type,
                volume_size_in_gb=job.volume_size_gb,
                volume_kms_key_id=job.kms_key_arn,
            )
        ),
        network_config=cfn.NetworkConfigProperty(
            enable_network_isolation=job.network_isolation,
            enable_inter_container_traffic_encryption=True,
        ),
        role_arn=job.role_arn,
        stopping_condition=cfn.StoppingConditionProperty(max_runtime_in_seconds=job.max_runtime_seconds),
    )


def _content_hash(resolved: object) -> str:
    return hashlib.sha256(json.dumps(resolved, sort_keys=True, default=str).encode()).hexdigest()[:8]
