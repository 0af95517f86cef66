"""The metrics budget: which data-quality metrics a self-hosted run writes (and the state machine publishes)."""

from __future__ import annotations

import json

import pytest

from analyzer.container import run_container
from contract.errors import ContainerConfigError
from contract.lambdas import RunnerEvent
from contract.metrics import (
    PUBLISH_ALL,
    MetricsBudget,
    feature_data_metric,
    feature_drift_metric,
    feature_non_null_metric,
)
from contract.processing import Env, monitoring_environment
from stacks.config import ConfigError, load_config
from tests.self_hosted_definition import state_machine_definition
from tests.stack_fixtures import cdk_context, templates
from tests.test_config import context_with
from tests.test_container import baseline, monitoring_env  # noqa: F401 (the module's baseline fixture)


def written(tmp_path) -> list[str]:
    return [d["MetricName"] for d in json.loads((tmp_path / "metrics" / "data-metrics.json").read_text())["MetricData"]]


@pytest.mark.parametrize("publish", ["all", "drift", "none", ("feature_data_Day Mins", "feature_non_null_State")])
def test_a_run_writes_exactly_the_metrics_its_budget_allows(baseline, tmp_path, publish):  # noqa: F811
    always = (feature_data_metric("CustServ Calls"),)
    everything_dir = tmp_path / "all"
    everything_dir.mkdir()
    assert run_container(monitoring_env(baseline, everything_dir)) == 0
    everything = written(everything_dir)
    budget = MetricsBudget(publish, always)
    assert run_container(monitoring_env(baseline, tmp_path, **{Env.METRICS_BUDGET: budget.to_text()})) == 0
    expected = [name for name in everything if name in always or {
        "all": True, "drift": name.startswith(feature_drift_metric("")), "none": False,
    }.get(publish, name in publish)]
    assert written(tmp_path) == expected
    assert len(expected) < len(everything) or publish == "all"
    # The report files do not depend on the budget.
    for name in ("statistics.json", "constraint_violations.json"):
        assert (tmp_path / "output" / name).read_bytes() == (everything_dir / "output" / name).read_bytes()


def test_the_default_budget_is_the_services_and_adds_no_variable():
    assert Env.METRICS_BUDGET not in monitoring_environment("e", "s", "a", "b")
    assert Env.METRICS_BUDGET not in monitoring_environment("e", "s", "a", "b", PUBLISH_ALL)
    drift = MetricsBudget("drift", (feature_drift_metric("Day Mins"),))
    assert MetricsBudget.from_text(monitoring_environment("e", "s", "a", "b", drift)[Env.METRICS_BUDGET]) == drift
    assert not MetricsBudget("none").allows(feature_non_null_metric("x"))


@pytest.mark.parametrize("text", ["drift", '{"publish": "some"}', '{"publish": [1]}', '{"always": []}',
                                  '{"publish": "all", "always": "x"}'])
def test_a_malformed_budget_variable_fails_the_run_naming_the_format(baseline, tmp_path, text):  # noqa: F811
    with pytest.raises(ContainerConfigError, match="metrics_budget="):
        MetricsBudget.from_text(text)
    assert run_container(monitoring_env(baseline, tmp_path, **{Env.METRICS_BUDGET: text})) == 1
    assert (tmp_path / "message").read_text().startswith("metrics_budget=")


def test_cdk_json_budgets_per_environment_and_their_validation():
    assert load_config(context_with()).metrics_budget == "drift"
    assert load_config(context_with(metrics_budget=["feature_data_Day Mins"])).metrics_budget == (
        "feature_data_Day Mins",)
    with pytest.raises(ConfigError, match=r"metrics_budget = 'some' is invalid: expected all, drift, none or a list"):
        load_config(context_with(metrics_budget="some"))



@pytest.mark.parametrize(("env", "publish"), [("dev", "drift"), ("prod", "all")])
def test_both_self_hosted_runners_carry_the_environments_budget_with_the_alarmed_features(env, publish):
    config = load_config(cdk_context(), env)
    expected = MetricsBudget(publish, tuple(feature_drift_metric(f) for f in config.drift_alarm_features))
    states = state_machine_definition(templates(env)["monitoring"].to_json())["States"]
    job_environment = states["RunAnalyzer"]["Arguments"]["Environment"]
    if publish == "all":
        assert Env.METRICS_BUDGET not in job_environment  # the service's default
    else:
        assert MetricsBudget.from_text(job_environment[Env.METRICS_BUDGET]) == expected
    payload = states["RunLambda"]["Arguments"]["Payload"]
    assert MetricsBudget.from_text(payload[RunnerEvent.METRICS_BUDGET]) == expected
