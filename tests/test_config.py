import pytest

from stacks.config import ConfigError, load_config
from tests.stack_fixtures import cdk_context


def context_with(**dev_overrides):
    context = cdk_context()
    environments = {name: dict(values) for name, values in context["environments"].items()}
    environments["dev"].update(dev_overrides)
    return {"environments": environments}


def test_cdk_json_defines_dev_and_prod_with_distinct_data_policies():
    dev = load_config(cdk_context(), "dev")
    prod = load_config(cdk_context(), "prod")
    assert (dev.removal_policy, prod.removal_policy) == ("destroy", "retain")
    assert dev.sampling_percentage == prod.sampling_percentage == 100
    assert dev.endpoint_name != prod.endpoint_name


def test_default_environment_is_dev_and_engine_can_be_overridden():
    assert load_config(cdk_context()).name == "dev"
    assert load_config(cdk_context(), "dev", engine="managed").monitoring_engine == "managed"


def test_unknown_environment_names_the_choices():
    with pytest.raises(ConfigError, match=r"Unknown environment 'qa'.*dev, prod.*-c env=NAME"):
        load_config(cdk_context(), "qa")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sampling_percentage", 150, "sampling_percentage = 150 is invalid: expected an integer from 0 to 100"),
        ("instance_type", "m5.large", "instance_type = 'm5.large' is invalid"),
        ("monitoring_engine", "spark", "expected self-hosted or managed"),
        ("removal_policy", "snapshot", "expected destroy or retain"),
        ("baseline_timeout_minutes", 60, "CloudFormation waits at most one hour"),
        ("reports_retention_days", 1, "at least capture_retention_days"),
        ("schedule_expression", "hourly", "a schedule expression"),
        ("instance_count", "2", "must be an integer"),
        ("log_retention_days", 10, "one of CloudWatch Logs' retention periods"),
    ],
)
def test_invalid_values_name_the_key_and_the_fix(key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_config(context_with(**{key: value}), "dev")
    assert f"environments.dev.{key}" in str(error.value)


def test_unknown_keys_are_rejected_not_ignored():
    with pytest.raises(ConfigError, match=r"unknown keys \['sampling_pct'\]"):
        load_config(context_with(sampling_pct=5), "dev")


def test_missing_environments_object():
    with pytest.raises(ConfigError, match="no 'environments' object"):
        load_config({}, "dev")


def test_rollout_and_rollback_alarms_are_typed_per_environment():
    dev, prod = load_config(cdk_context(), "dev"), load_config(cdk_context(), "prod")
    assert (dev.rollout.traffic_routing, prod.rollout.traffic_routing) == ("ALL_AT_ONCE", "CANARY")
    assert dev.rollout.canary_instances is None and prod.rollout.canary_instances == 1
    assert prod.rollback_alarms.window_seconds == 180


PROD_CANARY = {"traffic_routing": "CANARY", "canary_instances": 1, "wait_interval_seconds": 600,
               "termination_wait_seconds": 600, "max_execution_timeout_seconds": 3600}


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"rollout": {"traffic_routing": "LINEAR"}}, "rollout.traffic_routing", "expected ALL_AT_ONCE or CANARY"),
        ({"rollout": {**PROD_CANARY, "canary_instances": 2}, "instance_count": 2}, "rollout.canary_instances",
         "at most half of instance_count (2)"),
        ({"rollout": PROD_CANARY}, "rollout.canary_instances", "a canary needs instance_count >= 2"),
        ({"rollout": {**PROD_CANARY, "wait_interval_seconds": None}, "instance_count": 2},
         "rollout.wait_interval_seconds", "a value (traffic_routing is CANARY)"),
        ({"rollout": {"canary_instances": 1}}, "rollout.canary_instances", "it applies to traffic_routing CANARY"),
        ({"rollout": {**PROD_CANARY, "wait_interval_seconds": 120}, "instance_count": 2},
         "rollout.wait_interval_seconds", "180 to 3600 seconds: the canary must bake"),
        ({"rollout": {"termination_wait_seconds": 0}}, "rollout.termination_wait_seconds",
         "or no alarm can fire before the old fleet is terminated"),
        ({"rollout": {"termination_wait_seconds": 900, "max_execution_timeout_seconds": 900}},
         "rollout.max_execution_timeout_seconds", "more than the baking periods together (900 s)"),
        ({"rollback_alarms": {"evaluation_periods": 10}}, "rollout.termination_wait_seconds", "600 to 3600"),
        ({"rollback_alarms": {"max_5xx_error_rate": 5}}, "rollback_alarms.max_5xx_error_rate",
         "a share of requests between 0 and 1"),
        ({"rollback_alarms": {"period_seconds": 90}}, "rollback_alarms.period_seconds", "a multiple of 60 seconds"),
        ({"rollback_alarms": {"max_model_latency_ms": "100"}}, "rollback_alarms.max_model_latency_ms",
         "must be a number"),
        ({"rollout": {"canary_instances": True}}, "rollout.canary_instances", "must be an integer"),
    ],
)
def test_invalid_rollout_settings_name_the_nested_key_and_the_fix(overrides, key, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_config(context_with(**overrides), "dev")
    assert f"environments.dev.{key}" in str(error.value)


@pytest.mark.parametrize(("value", "message"), [
    ({"baking": 60}, r"environments.dev.rollout has unknown keys \['baking'\]"),
    ("CANARY", r"environments.dev.rollout = 'CANARY' must be an object"),
])
def test_a_rollout_that_is_not_a_known_object_is_rejected(value, message):
    with pytest.raises(ConfigError, match=message):
        load_config(context_with(rollout=value), "dev")


def quality_with(**overrides):
    context = cdk_context()
    return context_with(model_quality={**context["environments"]["dev"]["model_quality"], **overrides})


def test_model_quality_is_configured_per_environment_with_the_label_delay_as_offsets():
    for env in ("dev", "prod"):
        quality = load_config(cdk_context(), env).model_quality
        assert quality.enabled and quality.problem_type == "BinaryClassification"
        # The hour that ended 24 h before the run, with the labels collected since.
        assert (quality.start_hours, quality.end_hours, quality.capture_hours) == (-25, -24, 1)
        assert quality.label_days == 2 and quality.max_runtime_seconds <= 1800
        assert set(quality.alarm_margins) >= {"auc", "recall"}
    assert load_config(quality_with(start_time_offset="-P1DT1H")).model_quality.start_hours == -25
    assert not load_config(quality_with(enabled=False)).model_quality.enabled


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start_time_offset": "PT25H"}, r"model_quality.start_time_offset = 'PT25H' is invalid: expected a negative"),
        ({"end_time_offset": "-PT30M"}, r"model_quality.end_time_offset = '-PT30M' is invalid"),
        ({"end_time_offset": "-PT26H"}, r"end_time_offset = '-PT26H' is invalid: expected 1 to 24 hours after"),
        ({"start_time_offset": "-P3D", "end_time_offset": "-PT48H"}, r"fit a processing job's 10 inputs"),
        ({"max_runtime_seconds": 3600}, r"60 to 1800 seconds"),
        ({"problem_type": "Binary"}, r"problem_type = 'Binary' is invalid: expected BinaryClassification or"),
        ({"probability_threshold": 1.5}, r"probability_threshold = 1.5 is invalid"),
        ({"probability_threshold": "0.5"}, r"probability_threshold = '0.5' must be a number"),
        ({"alarm_margins": {"acu": 0.1}}, r"alarm_margins.acu = 'acu' is invalid: expected a metric of the "
                                          r"BinaryClassification constraints: recall, precision"),
        ({"alarm_margins": {"auc": -1}}, r"alarm_margins.auc = -1 is invalid: expected a number >= 0"),
        ({"enabled": "yes"}, r"model_quality.enabled = 'yes' is invalid: expected true or false"),
        ({"baseline_dataset_uri": "data/validation.csv"}, r"baseline_dataset_uri = 'data/validation.csv'"),
        ({"label_delay": 24}, r"model_quality has unknown keys \['label_delay'\]"),
    ],
)
def test_invalid_model_quality_settings_name_the_nested_key_and_the_fix(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(quality_with(**overrides))


def test_the_input_limit_applies_to_the_self_hosted_engine_only():
    wide = quality_with(start_time_offset="-P3D", end_time_offset="-PT48H")
    assert load_config(wide, engine="managed").model_quality.capture_hours == 24
