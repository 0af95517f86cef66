"""The baseline custom resource in templates: the monitoring stack's model-quality baseline (kind,
environment, dataset, content-hash reuse) and the alarm thresholds of a baseline with margins (its
properties, attributes and the is_complete role's extra permissions)."""

from __future__ import annotations

import json
from dataclasses import replace

import baseline_job
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from contract.model_quality import BINARY, LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN
from contract.processing import QualityAttributes, quality_baseline_environment
from stacks.app_builder import DEFAULT_MONITORING_SOURCES, build_environment
from stacks.config import load_config
from stacks.constructs.analyzer_job import AnalyzerImage
from stacks.constructs.baseline import Baseline, BaselineProps
from tests.self_hosted_definition import render
from tests.stack_fixtures import (
    cdk_context,
    fake_baseline_dataset,
    fake_model_artifact,
    fake_validation_dataset,
)
from tests.test_monitoring_stack import ENGINES, actions_on, only, resources, role_statements, statement

MODEL_QUALITY, DATA_QUALITY = "Custom::ModelQualityBaseline", "Custom::DataQualityBaseline"
BUCKET = "churn-monitor-test"


def synthesize(engine: str = "managed", validation=None, **quality_overrides):
    """The dev monitoring stack (`model_quality` values overridden) and its template."""
    context = cdk_context()
    context["environments"]["dev"]["model_quality"].update(quality_overrides)
    app = App(context=context)
    sources = replace(
        DEFAULT_MONITORING_SOURCES,
        baseline_dataset=fake_baseline_dataset(),
        validation_dataset=validation or fake_validation_dataset(),
    )
    stacks = build_environment(
        app, load_config(context, env_name="dev", engine=engine), model_artifact_path=fake_model_artifact(),
        monitoring_sources=sources,
    )  # fmt: skip
    return stacks.monitoring, Template.from_stack(stacks.monitoring)


def job_name(template: Template, resource_type: str) -> str:
    """The job name the handler derives from the synthesized properties."""
    _, resource = only(template, resource_type)
    properties = {
        key: value if key in ("Environment", "ContainerEntrypoint", "AlarmMargins") else render(value)
        for key, value in resource["Properties"].items()
    }
    return baseline_job.job_name(baseline_job.BaselineSpec.from_properties(properties))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_model_quality_baseline_profiles_the_validation_set(engine):
    stack, template = synthesize(engine)
    _, baseline = only(template, MODEL_QUALITY)
    properties = baseline["Properties"]
    environment = properties["Environment"]
    assert environment["analysis_type"] == "MODEL_QUALITY"
    assert environment["problem_type"] == BINARY
    assert environment["ground_truth_attribute"] == LABEL_COLUMN
    assert (environment["probability_attribute"], environment["inference_attribute"]) == (
        PROBABILITY_COLUMN, PREDICTION_COLUMN,
    )  # fmt: skip
    assert json.loads(environment["dataset_format"])["csv"]["header"] is True
    assert properties["JobNamePrefix"] == "churnmonitor-dev-mq-baseline"
    asset = stack.quality_baseline.node.find_child("Dataset")
    assert render(properties["DatasetUri"]).endswith(f"/{asset.s3_object_key}")
    _, data_quality = only(template, DATA_QUALITY)
    assert render(data_quality["Properties"]["DatasetUri"]) != render(properties["DatasetUri"])
    assert ("PYTHONPATH" in environment) == (engine == "self-hosted")


def test_an_s3_validation_set_is_baselined_instead_of_the_asset():
    _, template = synthesize(baseline_dataset_uri="s3://label-team/validation/")
    _, baseline = only(template, MODEL_QUALITY)
    assert baseline["Properties"]["DatasetUri"] == "s3://label-team/validation/"
    reads = actions_on(role_statements(template, "ModelQualityBaselineJobRole"))
    assert "arn:aws:s3:::label-team/validation/*" in reads["s3:GetObject"]


def test_same_inputs_reuse_the_job_and_a_changed_validation_set_runs_a_new_one(tmp_path):
    _, first = synthesize()
    _, again = synthesize()
    assert job_name(again, MODEL_QUALITY) == job_name(first, MODEL_QUALITY)
    changed = tmp_path / "validation-predictions.csv"
    changed.write_text(fake_validation_dataset().read_text() + "0.1,0,0\n")
    _, other = synthesize(validation=changed)
    assert job_name(other, MODEL_QUALITY) != job_name(first, MODEL_QUALITY)
    assert job_name(other, DATA_QUALITY) == job_name(first, DATA_QUALITY)


def test_the_configured_alarm_margins_reach_the_baseline_and_changing_one_reruns_nothing():
    config = load_config(cdk_context(), env_name="dev", engine="managed").model_quality
    _, template = synthesize()
    _, baseline = only(template, MODEL_QUALITY)
    assert baseline["Properties"]["ProblemType"] == config.problem_type
    assert baseline["Properties"]["AlarmMargins"] == {m: repr(float(v)) for m, v in config.alarm_margins.items()}
    wider = {metric: margin + 0.1 for metric, margin in config.alarm_margins.items()}
    _, changed = synthesize(alarm_margins=wider)
    assert only(changed, MODEL_QUALITY)[1]["Properties"]["AlarmMargins"] != baseline["Properties"]["AlarmMargins"]
    assert job_name(changed, MODEL_QUALITY) == job_name(template, MODEL_QUALITY)


# --- a baseline with alarm margins, on its own ---------------------------------------------------


def quality_baseline(**changes) -> tuple[Baseline, Template]:
    stack = Stack(App(), "Test")
    props = BaselineProps(
        job_name_prefix="test-mq-baseline",
        image=AnalyzerImage(uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/analyzer:1", repository="analyzer"),
        bucket_name=BUCKET,
        key=kms.Key(stack, "Key"),
        instance_type="ml.m5.xlarge",
        timeout_minutes=50,
        log_retention_days=7,
        retain_logs=False,
        dataset_path=fake_validation_dataset(),
        environment=quality_baseline_environment(
            QualityAttributes(BINARY, PROBABILITY_COLUMN, None, PREDICTION_COLUMN), LABEL_COLUMN
        ),
        kind="model-quality",
        alarm_margins={"auc": 0.05, "false_positive_rate": 0.1},
        problem_type=BINARY,
    )
    baseline = Baseline(stack, "Quality", replace(props, **changes))
    return baseline, Template.from_stack(stack)


def test_margins_reach_the_resource_and_each_threshold_is_an_attribute():
    baseline, template = quality_baseline()
    logical_id, resource = only(template, MODEL_QUALITY)
    assert resource["Properties"]["ProblemType"] == BINARY
    assert resource["Properties"]["AlarmMargins"] == {"auc": "0.05", "false_positive_rate": "0.1"}
    stack = Stack.of(baseline)
    assert stack.resolve(baseline.alarm_threshold("false_positive_rate")) == {
        "Fn::GetAtt": [logical_id, "AlarmThresholdfalsepositiverate"]
    }
    with pytest.raises(ValueError, match="no alarm margin for 'recall'"):
        baseline.alarm_threshold("recall")


def test_margins_do_not_enter_the_content_hash():
    _, narrow = quality_baseline()
    _, wide = quality_baseline(alarm_margins={"auc": 0.2})
    assert job_name(wide, MODEL_QUALITY) == job_name(narrow, MODEL_QUALITY)
    assert only(wide, MODEL_QUALITY)[1]["Properties"]["AlarmMargins"] == {"auc": "0.2"}


def test_is_complete_reads_only_the_jobs_statistics_through_s3():
    _, template = quality_baseline()
    statements = role_statements(template, "QualityIsCompleteRole")
    assert render(statement(statements, "ReadBaselineStatistics")["Resource"]) == (
        f"arn:aws:s3:::{BUCKET}/baselines/test-mq-baseline*/statistics.json"
    )
    decrypt = statement(statements, "DecryptBaselineStatistics")
    assert decrypt["Action"] == "kms:Decrypt"
    assert render(decrypt["Resource"]).startswith("<Key")
    assert render(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) == "s3.eu-west-1.amazonaws.com"
    allowed = actions_on(statements)
    assert [action for action in allowed if action.startswith(("s3:", "kms:"))] == ["s3:GetObject", "kms:Decrypt"]
    # Without margins (a data-quality baseline) the handler reads nothing.
    _, plain = quality_baseline(alarm_margins={}, problem_type=None)
    assert not [a for a in actions_on(role_statements(plain, "QualityIsCompleteRole")) if a.startswith(("s3:", "kms:"))]
    assert "AlarmMargins" not in only(plain, MODEL_QUALITY)[1]["Properties"]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"problem_type": None}, "alarm_margins need problem_type"),
        ({"alarm_margins": {"mae": 1.0}}, r"alarm_margins \['mae'\]: not BinaryClassification metrics"),
    ],
)
def test_bad_margins_fail_synthesis(changes, message):
    with pytest.raises(ValueError, match=message):
        quality_baseline(**changes)


def test_only_one_resource_of_each_kind():
    _, template = synthesize()
    assert len(resources(template, MODEL_QUALITY)) == len(resources(template, DATA_QUALITY)) == 1
