"""One typed configuration per environment, read from `cdk.json` context.

`cdk.json` holds an `environments` object keyed by environment name; `-c env=dev` picks one
(default `dev`) and `-c engine=managed|self-hosted` overrides its monitoring engine. Every value is
validated here so a typo fails synth with a message naming the key and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from aws_cdk import Aws

ENGINES = ("self-hosted", "managed")
REMOVAL_POLICIES = ("destroy", "retain")
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,11}$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# The only retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
_CRON = re.compile(r"^cron\(.+\)$|^rate\(.+\)$")


class ConfigError(ValueError):
    """The environment configuration in cdk.json is invalid; the message names the key."""


@dataclass(frozen=True)
class EnvironmentConfig:
    """Settings of one deployment environment (see `cdk.json` → context → environments)."""

    name: str
    endpoint_name: str
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    sampling_percentage: int = 100
    capture_retention_days: int = 30
    reports_retention_days: int = 365
    access_log_retention_days: int = 90
    removal_policy: str = "destroy"
    monitoring_engine: str = "self-hosted"
    schedule_expression: str = "cron(0 * ? * * *)"
    monitoring_instance_type: str = "ml.m5.xlarge"
    monitoring_max_runtime_seconds: int = 3600
    baseline_timeout_minutes: int = 50
    baseline_dataset_uri: str | None = None
    alert_email: str | None = None
    drift_alarm_features: tuple[str, ...] = field(default_factory=tuple)
    log_retention_days: int = 30

    @property
    def stack_prefix(self) -> str:
        return f"ChurnMonitor-{self.name}"

    @property
    def bucket_name(self) -> str:
        """Deterministic per account and region, so policies in other stacks can name it literally."""
        return f"churn-monitor-{self.name}-{Aws.ACCOUNT_ID}-{Aws.REGION}"

    @property
    def retain_data(self) -> bool:
        return self.removal_policy == "retain"


def _check(condition: bool, key: str, env: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(
            f"cdk.json environments.{env}.{key} = {value!r} is invalid: expected {expected}."
        )


def _validate(config: EnvironmentConfig) -> None:
    env = config.name
    _check(bool(_ENV_NAME.match(env)), "(name)", env,
           "1-12 lowercase letters, digits or hyphens (it is part of the bucket name)", env)
    _check(bool(_NAME.match(config.endpoint_name)), "endpoint_name", env,
           "1-63 letters, digits and hyphens (a SageMaker endpoint name)", config.endpoint_name)
    _check(bool(_INSTANCE.match(config.instance_type)), "instance_type", env,
           "a SageMaker instance type such as ml.m5.large", config.instance_type)
    _check(bool(_INSTANCE.match(config.monitoring_instance_type)), "monitoring_instance_type", env,
           "a SageMaker instance type such as ml.m5.xlarge", config.monitoring_instance_type)
    _check(config.instance_count >= 1, "instance_count", env, "an integer >= 1", config.instance_count)
    _check(0 <= config.sampling_percentage <= 100, "sampling_percentage", env,
           "an integer from 0 to 100", config.sampling_percentage)
    _check(config.log_retention_days in LOG_RETENTION_DAYS, "log_retention_days", env,
           f"one of CloudWatch Logs' retention periods {LOG_RETENTION_DAYS}", config.log_retention_days)
    for key in ("capture_retention_days", "reports_retention_days", "access_log_retention_days"):
        value = getattr(config, key)
        _check(value >= 1, key, env, "a number of days >= 1", value)
    _check(config.reports_retention_days >= config.capture_retention_days, "reports_retention_days",
           env, "at least capture_retention_days (reports outlive the captures they describe)",
           config.reports_retention_days)
    _check(config.removal_policy in REMOVAL_POLICIES, "removal_policy", env,
           " or ".join(REMOVAL_POLICIES), config.removal_policy)
    _check(config.monitoring_engine in ENGINES, "monitoring_engine", env,
           " or ".join(ENGINES) + " (or pass -c engine=...)", config.monitoring_engine)
    _check(bool(_CRON.match(config.schedule_expression)), "schedule_expression", env,
           "a schedule expression such as cron(0 * ? * * *)", config.schedule_expression)
    _check(60 <= config.monitoring_max_runtime_seconds <= 3600, "monitoring_max_runtime_seconds", env,
           "60 to 3600 seconds (Model Monitor's limit for hourly schedules)",
           config.monitoring_max_runtime_seconds)
    # CloudFormation stops waiting for a custom resource after one hour.
    _check(5 <= config.baseline_timeout_minutes <= 55, "baseline_timeout_minutes", env,
           "5 to 55 minutes (CloudFormation waits at most one hour for a custom resource)",
           config.baseline_timeout_minutes)
    if config.baseline_dataset_uri is not None:
        _check(config.baseline_dataset_uri.startswith("s3://"), "baseline_dataset_uri", env,
               "an s3:// URI, or omit it to upload the generated training data", config.baseline_dataset_uri)


def load_config(context: dict[str, Any], env_name: str | None = None, engine: str | None = None
                ) -> EnvironmentConfig:
    """Build the validated configuration of `env_name` from the `cdk.json` context values."""
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("cdk.json context has no 'environments' object; see README (Configuration).")
    env_name = env_name or "dev"
    if env_name not in environments:
        raise ConfigError(
            f"Unknown environment {env_name!r}: cdk.json defines {', '.join(sorted(environments))}. "
            "Pick one with -c env=NAME."
        )
    raw = dict(environments[env_name])
    known = {f.name for f in fields(EnvironmentConfig)} - {"name"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"cdk.json environments.{env_name} has unknown keys {unknown}; known keys: {sorted(known)}."
        )
    if "endpoint_name" not in raw:
        raise ConfigError(f"cdk.json environments.{env_name}.endpoint_name is required.")
    if engine is not None:
        raw["monitoring_engine"] = engine
    if "drift_alarm_features" in raw:
        raw["drift_alarm_features"] = tuple(raw["drift_alarm_features"])
    for f in fields(EnvironmentConfig):
        if f.name in raw and f.type == "int" and not isinstance(raw[f.name], int):
            raise ConfigError(
                f"cdk.json environments.{env_name}.{f.name} = {raw[f.name]!r} must be an integer."
            )
    config = EnvironmentConfig(name=env_name, **raw)
    _validate(config)
    return config
