"""The endpoint's CloudWatch dashboard, read from the synthesized DashboardBody: every metric it draws is one
that SageMaker, the monitoring runs or Step Functions publish (names from the contract), and every threshold
it draws is the one an alarm or the analyzer applies."""

import json
import re
from datetime import UTC, datetime

import pytest

from analyzer.baseline import profile_dataset
from analyzer.metrics import metric_data
from contract import metrics
from contract.documents import MODEL_OUTPUT_FEATURE, MonitoringConfig, Statistics
from contract.layout import model_quality_schedule_name, schedule_name
from contract.model_quality import BINARY, NAMESPACE, published_metric_names
from stacks.app_builder import PROJECT_ROOT
from stacks.config import load_config
from tests.stack_fixtures import cdk_context, templates

STATES_NAMESPACE = "AWS/States"
INVOCATION_METRICS = {metrics.INVOCATIONS, metrics.INVOCATION_4XX_ERRORS, metrics.INVOCATION_5XX_ERRORS,
                      metrics.INVOCATION_MODEL_ERRORS, metrics.MODEL_LATENCY}


def _text(value):
    """A template value as text, intrinsic functions shown as `{Ref:X}` / `{GetAtt:X.Y}`."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(_text(part) for part in parts)
    name = ".".join(argument) if isinstance(argument, list) else argument
    return "{" + function.removeprefix("Fn::") + ":" + name + "}"


def dashboard(env, engine=None):
    template = templates(env, engine)["monitoring"]
    (resource,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    # A number token (an alarm's threshold from the baseline) stands unquoted in the body: quote it to parse.
    body = re.sub(r'(?<="value":)(\{GetAtt:[^}]*\})', r'"\1"', _text(resource["Properties"]["DashboardBody"]))
    return _text(resource["Properties"]["DashboardName"]), json.loads(body)


def drawn_metrics(widget):
    """(namespace, metric name, dimensions, options) of each metric a graph draws; expressions as options only."""
    drawn = []
    for entry in widget["properties"].get("metrics", []):
        *names, options = entry if isinstance(entry[-1], dict) else [*entry, {}]
        if not names:
            drawn.append((None, None, {}, options))
            continue
        namespace, metric_name, *pairs = names
        drawn.append((namespace, metric_name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return drawn


def graphs(body):
    return {w["properties"]["title"]: w for w in body["widgets"] if w["type"] == "metric"}


@pytest.fixture(scope="module")
def published_drift_metrics():
    """What a run publishes for the demo's baseline dataset (every feature with a drift value)."""
    statistics = Statistics.of(profile_dataset(str(PROJECT_ROOT / "model" / "build" / "baseline-dataset.csv"))
                               .statistics)

    def published(endpoint):
        data = metric_data(statistics, {name: 0.0 for name in statistics.names}, {}, datetime.now(UTC),
                           endpoint, schedule_name(endpoint))
        return {(d["MetricName"], json.dumps({x["Name"]: x["Value"] for x in d["Dimensions"]}, sort_keys=True))
                for d in data}

    return published


@pytest.mark.parametrize(("env", "engine"), [("dev", None), ("prod", None), ("prod", "managed")])
def test_every_drawn_metric_is_one_that_is_published(env, engine, published_drift_metrics):
    endpoint = load_config(cdk_context(), env).endpoint_name
    template = templates(env, engine)["monitoring"]
    # The self-hosted engine's runs (the baselines' Provider frameworks have waiter state machines too).
    machines = [k for k in template.find_resources("AWS::StepFunctions::StateMachine")
                if k.startswith(("SelfHostedScheduleStateMachine", "SelfHostedModelQualityScheduleStateMachine"))]
    _, body = dashboard(env, engine)
    published = published_drift_metrics(endpoint)
    namespaces = set()
    for widget in graphs(body).values():
        for namespace, metric_name, dimensions, options in drawn_metrics(widget):
            namespaces.add(namespace)
            if namespace is None:
                assert "expression" in options
            elif namespace == metrics.ENDPOINT_NAMESPACE:
                assert metric_name in INVOCATION_METRICS
                assert dimensions == {metrics.ENDPOINT_NAME_DIMENSION: endpoint,
                                      metrics.VARIANT_NAME_DIMENSION: "AllTraffic"}
            elif namespace == metrics.NAMESPACE:
                assert (metric_name, json.dumps(dimensions, sort_keys=True)) in published, metric_name
            elif namespace == NAMESPACE:
                assert metric_name in published_metric_names(BINARY)
                assert dimensions == {metrics.ENDPOINT_DIMENSION: endpoint,
                                      metrics.SCHEDULE_DIMENSION: model_quality_schedule_name(endpoint)}
            else:
                assert namespace == STATES_NAMESPACE
                assert dimensions["StateMachineArn"] in ["{Ref:" + machine + "}" for machine in machines]
    expected = {None, metrics.ENDPOINT_NAMESPACE, metrics.NAMESPACE, NAMESPACE} | (
        {STATES_NAMESPACE} if machines else set())
    assert namespaces == expected
    assert len(machines) == (0 if engine == "managed" else 2)


@pytest.mark.parametrize("engine", [None, "managed"])
def test_the_drift_metrics_are_in_the_namespace_the_runs_may_publish_to(engine):
    template = templates("dev", engine)["monitoring"]
    allowed = {s["Condition"]["StringEquals"]["cloudwatch:namespace"]
               for p in template.find_resources("AWS::IAM::Policy").values()
               for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "cloudwatch:PutMetricData"}
    _, body = dashboard("dev", engine)
    drift = {namespace for w in graphs(body).values() for namespace, name, _, _ in drawn_metrics(w)
             if name and name.startswith(metrics.feature_drift_metric(""))}
    assert drift == {metrics.NAMESPACE}
    assert allowed == {metrics.NAMESPACE, NAMESPACE}  # data quality's and model quality's runs


def test_drift_is_drawn_for_each_alarmed_feature_and_the_models_output():
    config = load_config(cdk_context(), "prod")
    _, body = dashboard("prod")
    drawn = {title: [name for _, name, _, _ in drawn_metrics(widget)] for title, widget in graphs(body).items()}
    features = next(names for title, names in drawn.items() if "alarmed features" in title)
    assert features == [metrics.feature_drift_metric(f) for f in config.drift_alarm_features]
    output = next(names for title, names in drawn.items() if MODEL_OUTPUT_FEATURE in title)
    assert output == [metrics.feature_drift_metric(MODEL_OUTPUT_FEATURE)]


def annotations(widget):
    return [a["value"] for a in widget["properties"].get("annotations", {}).get("horizontal", [])]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_thresholds_are_drawn_where_the_alarms_and_the_analyzer_apply_them(env):
    thresholds = load_config(cdk_context(), env).rollback_alarms
    by_title = graphs(dashboard(env)[1])
    assert sorted(annotations(by_title["Errors (share of requests)"])) == sorted(
        [thresholds.max_5xx_error_rate, thresholds.max_model_error_rate])
    assert annotations(by_title["Model latency (ms)"]) == [thresholds.max_model_latency_ms]
    drift_alarms = templates(env)["monitoring"].find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"Namespace": metrics.NAMESPACE}})
    (drift_threshold,) = {a["Properties"]["Threshold"] for a in drift_alarms.values()}
    features = next(w for title, w in by_title.items() if "alarmed features" in title)
    assert annotations(features) == [drift_threshold]
    output = next(w for title, w in by_title.items() if MODEL_OUTPUT_FEATURE in title)
    assert annotations(output) == [MonitoringConfig().comparison_threshold]


def test_latency_is_drawn_in_milliseconds_from_the_microsecond_metric():
    latency = graphs(dashboard("dev")[1])["Model latency (ms)"]
    drawn = drawn_metrics(latency)
    ids = {options["id"]: name for _, name, _, options in drawn if "id" in options}
    expressions = [options["expression"] for namespace, _, _, options in drawn if namespace is None]
    assert len(expressions) == 2 and set(ids.values()) == {metrics.MODEL_LATENCY}
    for expression in expressions:
        metric_id, divisor = expression.split(" / ")
        assert metric_id in ids and int(divisor) == metrics.MODEL_LATENCY_UNITS_PER_MS


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_alarm_widget_shows_every_rollback_drift_and_dead_letter_alarm(env):
    endpoint_alarms = templates(env)["endpoint"].find_resources("AWS::CloudWatch::Alarm")
    monitoring_alarms = templates(env)["monitoring"].find_resources("AWS::CloudWatch::Alarm")
    (widget,) = [w for w in dashboard(env)[1]["widgets"] if w["type"] == "alarm"]
    shown = widget["properties"]["alarms"]
    rollback = [a for a in shown if ":alarm:" in a]
    assert sorted(a.rsplit(":alarm:", 1)[1] for a in rollback) == sorted(
        a["Properties"]["AlarmName"] for a in endpoint_alarms.values())
    assert all(a.startswith("arn:{Ref:AWS::Partition}:cloudwatch:{Ref:AWS::Region}:") for a in rollback)
    assert sorted(set(shown) - set(rollback)) == sorted("{GetAtt:" + k + ".Arn}" for k in monitoring_alarms)


def test_one_dashboard_per_endpoint_named_after_it_and_output_by_the_stack():
    for env in ("dev", "prod"):
        name, body = dashboard(env)
        assert name == f"churn-{env}-{{Ref:AWS::Region}}"
        assert [w["type"] for w in body["widgets"]].count("text") == 1
        outputs = templates(env)["monitoring"].find_outputs("DashboardName")
        assert list(outputs.values())[0]["Value"] == {"Ref": next(iter(
            templates(env)["monitoring"].find_resources("AWS::CloudWatch::Dashboard")))}


def test_the_managed_engine_says_where_its_run_status_is():
    body = dashboard("dev", "managed")[1]
    texts = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert any(f"--monitoring-schedule-name {schedule_name('churn-dev')}" in text for text in texts)
    assert any(f"--monitoring-schedule-name {model_quality_schedule_name('churn-dev')}" in text for text in texts)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_model_quality_alarm_is_drawn_over_the_metric_it_watches(env):
    config = load_config(cdk_context(), env)
    alarms = templates(env)["monitoring"].find_resources("AWS::CloudWatch::Alarm")
    quality = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()
               if a["Properties"].get("Namespace") == NAMESPACE}
    assert sorted(quality) == sorted(config.model_quality.alarm_margins)
    drawn = {title: widget for title, widget in graphs(dashboard(env)[1]).items() if title.startswith("Model quality")}
    assert len(drawn) == len(quality)
    for widget in drawn.values():
        ((namespace, name, dimensions, _),) = drawn_metrics(widget)
        alarm = quality[name]
        assert namespace == alarm["Namespace"] == NAMESPACE
        assert dimensions == {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            metrics.ENDPOINT_DIMENSION: f"churn-{env}",
            metrics.SCHEDULE_DIMENSION: model_quality_schedule_name(f"churn-{env}")}
        assert annotations(widget) == ["{GetAtt:" + ".".join(alarm["Threshold"]["Fn::GetAtt"]) + "}"]

