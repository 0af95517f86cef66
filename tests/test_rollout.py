"""Safe rollout: the endpoint's blue/green deployment config per environment, the rollback alarms it names,
and the pre-deploy model-output check of the pull-request gate, run on the demo's generated model and data."""

import tempfile
from pathlib import Path

import pytest

from analyzer.quality_baseline import suggest_quality_baseline
from contract.metrics import (
    ENDPOINT_CONFIG_DIMENSION,
    ENDPOINT_NAME_DIMENSION,
    ENDPOINT_NAMESPACE,
    INVOCATION_5XX_ERRORS,
    INVOCATION_MODEL_ERRORS,
    MODEL_LATENCY,
    MODEL_LATENCY_UNITS_PER_MS,
    VARIANT_NAME_DIMENSION,
)
from contract.model_quality import QualityStatistics
from model.train import TrainConfig, fit, model_bytes, write_model_tar
from scripts import model_output_check
from stacks.app_builder import PROJECT_ROOT
from stacks.config import load_config
from tests.stack_fixtures import cdk_context, templates
from workshop.baseline import validation_predictions
from workshop.server import load_model

BUILD = PROJECT_ROOT / "model" / "build"
DATASET, MODEL, HOLDOUT = BUILD / "baseline-dataset.csv", BUILD / "model.tar.gz", BUILD / "holdout.csv"


def endpoint_resources(env):
    template = templates(env)["endpoint"]
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    (config_id,) = template.find_resources("AWS::SageMaker::EndpointConfig")
    return endpoint["Properties"], config_id, template.find_resources("AWS::CloudWatch::Alarm")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_deployment_config_is_the_environments_rollout_policy(env):
    rollout = load_config(cdk_context(), env).rollout
    endpoint, _, _ = endpoint_resources(env)
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TerminationWaitInSeconds"] == rollout.termination_wait_seconds
    assert policy["MaximumExecutionTimeoutInSeconds"] == rollout.max_execution_timeout_seconds
    routing = policy["TrafficRoutingConfiguration"]
    assert routing["Type"] == rollout.traffic_routing
    if rollout.canary_instances is None:
        assert set(routing) == {"Type"}
    else:
        assert routing["CanarySize"] == {"Type": "INSTANCE_COUNT", "Value": rollout.canary_instances}
        assert routing["WaitIntervalInSeconds"] == rollout.wait_interval_seconds


def test_only_prod_rolls_out_by_canary_and_its_canary_is_at_most_half_the_fleet():
    routings = {env: endpoint_resources(env)[0]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
                ["TrafficRoutingConfiguration"] for env in ("dev", "prod")}
    assert routings["dev"]["Type"] == "ALL_AT_ONCE"
    assert routings["prod"]["Type"] == "CANARY"
    prod = load_config(cdk_context(), "prod")
    assert 2 * routings["prod"]["CanarySize"]["Value"] <= prod.instance_count


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_rollback_alarm_is_wired_and_watches_the_fleet_being_rolled_out(env):
    endpoint, config_id, alarms = endpoint_resources(env)
    wired = [alarm["AlarmName"]["Ref"] for alarm in endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert sorted(wired) == sorted(alarms)
    thresholds = load_config(cdk_context(), env).rollback_alarms
    expected = {
        INVOCATION_5XX_ERRORS: thresholds.max_5xx_error_rate,
        INVOCATION_MODEL_ERRORS: thresholds.max_model_error_rate,
        MODEL_LATENCY: thresholds.max_model_latency_ms * MODEL_LATENCY_UNITS_PER_MS,  # microseconds
    }
    found = {}
    for alarm in (a["Properties"] for a in alarms.values()):
        assert alarm["Namespace"] == ENDPOINT_NAMESPACE and alarm["Statistic"] == "Average"
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions[ENDPOINT_NAME_DIMENSION] == f"churn-{env}" and dimensions[VARIANT_NAME_DIMENSION]
        # The new fleet only: its endpoint config, the one this template deploys.
        assert dimensions[ENDPOINT_CONFIG_DIMENSION] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert (alarm["Period"], alarm["EvaluationPeriods"]) == (thresholds.period_seconds,
                                                                 thresholds.evaluation_periods)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmName"].startswith(f"churn-{env}-rollback-")
        found[alarm["MetricName"]] = alarm["Threshold"]
    assert found == expected


# --- the pre-deploy model-output check ---------------------------------------------------------


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    """A deliberately different model: fewer rows, another seed, a handful of rounds."""
    booster = fit(TrainConfig(rows=400, holdout_rows=200, seed=3, num_round=8))[0]
    path = tmp_path_factory.mktemp("other") / "model.tar.gz"
    write_model_tar(model_bytes(booster), path)
    return path


def run_check(capsys, *args):
    code = model_output_check.main(["--dataset", str(DATASET), *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_same_model_twice_is_no_change_at_distance_zero(capsys, tmp_path):
    output = tmp_path / "section.md"
    code, out, _ = run_check(capsys, "--head-model", MODEL, "--base-model", MODEL, "--output", output)
    assert code == 0 and output.read_text() == out
    assert out.startswith(model_output_check.SECTION_TITLE)
    assert "**No change**" in out and "drift distance **0.0000**" in out and "threshold 0.1" in out
    assert model_output_check.QUALITY_NOT_COMPARED in out


def test_a_different_model_reports_its_distance_against_the_threshold(capsys, other_model):
    code, out, _ = run_check(capsys, "--head-model", other_model, "--base-model", MODEL)
    assert code == 0
    comparison = model_output_check.compare(DATASET, MODEL, other_model, model_output_check.output_config(None))
    assert comparison.distance > 0 and comparison.threshold == 0.1
    assert f"drift distance **{comparison.distance:.4f}**" in out
    verdict = "beyond the monitor's threshold" if comparison.distance > 0.1 else "Within the threshold"
    assert verdict in out and "No change" not in out
    assert comparison.base.digest != comparison.head.digest


def test_the_threshold_is_the_one_the_constraints_apply_to_the_output(capsys, tmp_path, other_model):
    constraints = tmp_path / "constraints.json"
    constraints.write_text('{"features": [{"name": "Churn Probability", "monitoring_config_overrides": '
                           '{"comparison_threshold": 0.9}}], "monitoring_config": {}}')
    _, out, _ = run_check(capsys, "--head-model", other_model, "--base-model", MODEL, "--constraints", constraints)
    assert "threshold 0.9" in out and "**Within the threshold**" in out


def test_both_models_model_quality_on_the_holdout_rows(capsys, other_model):
    code, out, _ = run_check(capsys, "--head-model", other_model, "--base-model", MODEL, "--holdout", HOLDOUT)
    assert code == 0
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in out.splitlines()
            if line.startswith("| ") and line.split(" | ")[0].lstrip("| ") in model_output_check.QUALITY_METRICS}
    assert list(rows) == list(model_output_check.QUALITY_METRICS)
    # The base model's column is its model-quality baseline, computed independently here.
    with tempfile.TemporaryDirectory() as tmp:
        predictions = Path(tmp) / "v.csv"
        validation_predictions(HOLDOUT, load_model(MODEL), predictions)
        expected = QualityStatistics.of(suggest_quality_baseline(
            str(predictions), tmp, problem_type="BinaryClassification", inference_attribute="prediction",
            probability_attribute="probability", ground_truth_attribute="label"))
    for name, (base, head, change) in rows.items():
        assert float(base) == pytest.approx(expected.metric(name).value, abs=5e-5)
        assert float(change.rstrip(" |")) == pytest.approx(float(head) - float(base), abs=2e-4)
    assert float(rows["auc"][1]) < float(rows["auc"][0])  # 400 rows and 8 rounds make a weaker model


def test_an_unreadable_holdout_names_the_file_and_the_fix(capsys, tmp_path, other_model):
    holdout = tmp_path / "holdout.csv"
    holdout.write_text("Churn,a\nyes,1\n")
    code, out, err = run_check(capsys, "--head-model", other_model, "--base-model", MODEL, "--holdout", holdout)
    assert code == model_output_check.EXIT_UNREADABLE and out == ""
    assert str(holdout) in err and "make model" in err


def test_without_a_base_model_there_is_nothing_to_compare(capsys):
    code, out, _ = run_check(capsys, "--head-model", MODEL)
    assert code == 0 and "nothing to compare" in out and "drift distance" not in out


@pytest.mark.parametrize("broken", ["missing", "not-a-model"])
def test_an_unreadable_model_names_the_file_and_the_fix(capsys, tmp_path, broken):
    path = tmp_path / "model.tar.gz"
    if broken == "not-a-model":
        path.write_bytes(b"not a tarball")
    code, out, err = run_check(capsys, "--head-model", path, "--base-model", MODEL)
    assert code == model_output_check.EXIT_UNREADABLE and out == ""
    assert str(path) in err and "make model" in err


def test_the_output_column_the_stacks_monitor_is_the_one_the_baseline_dataset_writes():
    from contract.documents import MODEL_OUTPUT_FEATURE

    assert Path(DATASET).read_text().split(",", 1)[0] == MODEL_OUTPUT_FEATURE
