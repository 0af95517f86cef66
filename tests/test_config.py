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
