"""Template assertions of model-quality monitoring: both engines and environments, the managed job
definition and schedule, the job roles, and `model_quality.enabled`."""

from __future__ import annotations

import pytest

from tests.self_hosted_definition import render
from tests.stack_fixtures import cdk_context
from tests.test_monitoring_stack import (
    actions_on,
    build_monitoring,
    monitoring,
    only,
    resources,
    role_statements,
    schedule_of_type,
    statement,
)

BUCKET = "churn-monitor-{env}-123456789012-eu-west-1"
QUALITY_TYPES = ("Custom::ModelQualityBaseline", "AWS::SageMaker::ModelQualityJobDefinition")


def quality_config(**overrides) -> dict:
    return {**cdk_context()["environments"]["dev"]["model_quality"], **overrides}


@pytest.mark.parametrize("engine", ["managed", "self-hosted"])
def test_each_engine_has_a_model_quality_baseline_on_the_validation_set(engine):
    _, baseline = only(monitoring(engine), "Custom::ModelQualityBaseline")
    properties = baseline["Properties"]
    assert properties["JobNamePrefix"] == "churnmonitor-dev-mq-baseline"
    assert render(properties["DatasetUri"]).endswith(".csv")
    environment = properties["Environment"]
    assert {key: environment[key] for key in ("analysis_type", "problem_type", "probability_attribute",
                                              "inference_attribute", "ground_truth_attribute")} == {
        "analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
        "probability_attribute": "probability", "inference_attribute": "prediction", "ground_truth_attribute": "label",
    }
    # Its own job-name prefix: the data-quality baseline's resource is separate.
    assert only(monitoring(engine), "Custom::DataQualityBaseline")[1]["Properties"]["JobNamePrefix"] != (
        properties["JobNamePrefix"])


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_managed_model_quality_definition_scores_the_delayed_window_against_the_labels(env):
    from tests.stack_fixtures import templates

    template = templates(env, "managed")["monitoring"]
    baseline_id, _ = only(template, "Custom::ModelQualityBaseline")
    definition_id, definition = only(template, "AWS::SageMaker::ModelQualityJobDefinition")
    properties = definition["Properties"]
    endpoint = f"churn-{env}"
    name = properties["JobDefinitionName"]["Fn::Join"][1]
    assert name[0].startswith(f"{endpoint}-mq-") and name[1] == {"Fn::GetAtt": [baseline_id, "BaselineId"]}
    endpoint_input = properties["ModelQualityJobInput"]["EndpointInput"]
    assert {key: endpoint_input[key] for key in ("EndpointName", "StartTimeOffset", "EndTimeOffset",
                                                 "ProbabilityAttribute", "ProbabilityThresholdAttribute")} == {
        "EndpointName": endpoint, "StartTimeOffset": "-PT25H", "EndTimeOffset": "-PT24H",
        "ProbabilityAttribute": "0", "ProbabilityThresholdAttribute": 0.5,
    }
    bucket = BUCKET.format(env=env)
    assert render(properties["ModelQualityJobInput"]["GroundTruthS3Input"]["S3Uri"]) == (
        f"s3://{bucket}/ground-truth/{endpoint}")
    assert properties["ModelQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": {"Fn::GetAtt": [baseline_id, "ConstraintsS3Uri"]}}}
    assert properties["ModelQualityAppSpecification"]["ProblemType"] == "BinaryClassification"
    assert properties["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert properties["StoppingCondition"]["MaxRuntimeInSeconds"] <= 1800
    output = properties["ModelQualityJobOutputConfig"]
    assert output["KmsKeyId"] == properties["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    assert render(output["MonitoringOutputs"][0]["S3Output"]["S3Uri"]) == f"s3://{bucket}/reports"

    schedule = schedule_of_type(template, "ModelQuality")
    config = schedule["Properties"]["MonitoringScheduleConfig"]
    assert schedule["Properties"]["MonitoringScheduleName"] == f"{endpoint}-model-quality"
    assert config["MonitoringJobDefinitionName"] == properties["JobDefinitionName"]
    assert config["ScheduleConfig"] == {"ScheduleExpression": "cron(0 * ? * * *)"}
    assert definition_id in schedule["DependsOn"]


def test_the_managed_definition_is_renamed_when_its_content_changes():
    def name_start(template) -> str:
        return only(template, "AWS::SageMaker::ModelQualityJobDefinition")[1]["Properties"]["JobDefinitionName"][
            "Fn::Join"][1][0]

    default = name_start(build_monitoring())
    assert name_start(build_monitoring(model_quality=quality_config())) == default
    assert name_start(build_monitoring(model_quality=quality_config(start_time_offset="-PT49H",
                                                                    end_time_offset="-PT48H"))) != default
    assert name_start(build_monitoring(model_quality=quality_config(probability_threshold=0.3))) != default


def test_managed_model_quality_role_reads_captures_labels_and_its_baseline_and_writes_its_reports_only():
    template = monitoring("managed")
    baseline_id, _ = only(template, "Custom::ModelQualityBaseline")
    statements = role_statements(template, "ManagedModelQualityScheduleJobRole")
    allowed = actions_on(statements)
    bucket = BUCKET.format(env="dev")
    assert sorted(allowed["s3:GetObject"]) == sorted([
        f"arn:aws:s3:::{bucket}/datacapture/churn-dev/AllTraffic/*",
        f"arn:aws:s3:::{bucket}/baselines/<{baseline_id}.BaseliningJobName>/*",
        f"arn:aws:s3:::{bucket}/ground-truth/churn-dev/*",
    ])
    assert allowed["s3:PutObject"] == [f"arn:aws:s3:::{bucket}/reports/churn-dev/churn-dev-model-quality/*"]
    assert statement(statements, "PublishModelQualityMetrics")["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/model-metrics"}}
    assert not [a for a in allowed if a.endswith("*") or a in ("s3:DeleteObject", "s3:PutObjectAcl")]
    # The data-quality role does not read the labels.
    data_quality = actions_on(role_statements(template, "ManagedScheduleJobRole"))
    assert not [r for r in data_quality["s3:GetObject"] if "ground-truth" in r]


@pytest.mark.parametrize("engine", ["managed", "self-hosted"])
def test_disabling_model_quality_removes_its_baseline_schedule_and_outputs(engine):
    from dataclasses import replace

    from aws_cdk import App
    from aws_cdk.assertions import Template

    from stacks.app_builder import DEFAULT_MONITORING_SOURCES, build_environment
    from stacks.config import load_config
    from tests.stack_fixtures import fake_baseline_dataset, fake_model_artifact

    context = cdk_context()
    context["environments"]["dev"]["model_quality"] = quality_config(enabled=False)
    # No validation set is needed when model quality is off.
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset(),
                      validation_dataset=fake_baseline_dataset().with_name("absent.csv"))
    stacks = build_environment(App(context=context), load_config(context, "dev", engine=engine),
                               model_artifact_path=fake_model_artifact(), monitoring_sources=sources)
    template = Template.from_stack(stacks.monitoring).to_json()
    assert not [r for r in template["Resources"].values() if r["Type"] in QUALITY_TYPES]
    assert [s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"]
            for s in template["Resources"].values() if s["Type"] == "AWS::SageMaker::MonitoringSchedule"] == (
        ["DataQuality"] if engine == "managed" else [])
    assert not [name for name in template["Outputs"] if name.startswith("ModelQuality")]
    assert len(resources(Template.from_json(template), "AWS::Scheduler::Schedule")) == (engine == "self-hosted")
