"""One typed configuration per environment, read from `cdk.json` context.

`cdk.json` holds an `environments` object keyed by environment name; `-c env=dev` picks one
(default `dev`) and `-c engine=managed|self-hosted` overrides its monitoring engine. Every value is
validated here so a typo fails synth with a message naming the key and the fix. Two keys are objects:
`rollout` (how an endpoint update reaches traffic, `RolloutPolicy`) and `rollback_alarms` (the thresholds
that roll it back, `RollbackAlarms`); their keys are named `rollout.<key>` in messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from aws_cdk import Aws

from contract.errors import WindowError
from contract.layout import offset_hours
from contract.metrics import METRICS_BUDGETS
from contract.model_quality import BINARY, ENDPOINT_PROBABILITY_FIELD, PROBLEM_TYPES, suggested_operators

ENGINES = ("self-hosted", "managed")
REMOVAL_POLICIES = ("destroy", "retain")
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ENV_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,11}$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# The only retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)
_CRON = re.compile(r"^cron\(.+\)$|^rate\(.+\)$")
# Blue/green traffic routing (TrafficRoutingConfig.Type); LINEAR is not offered (see the README).
ALL_AT_ONCE, CANARY = "ALL_AT_ONCE", "CANARY"
TRAFFIC_ROUTINGS = (ALL_AT_ONCE, CANARY)
_CANARY_ONLY = ("canary_instances", "wait_interval_seconds")


class ConfigError(ValueError):
    """The environment configuration in cdk.json is invalid; the message names the key."""


@dataclass(frozen=True)
class RolloutPolicy:
    """How an endpoint update (a new model or endpoint config) reaches traffic: SageMaker's blue/green
    deployment (`DeploymentConfig.BlueGreenUpdatePolicy` of `AWS::SageMaker::Endpoint`). The new fleet
    is provisioned beside the old one; the rollback alarms watch it while it bakes."""

    traffic_routing: str = ALL_AT_ONCE
    """`ALL_AT_ONCE`: the new fleet takes all traffic in one step; `CANARY`: first `canary_instances`."""
    canary_instances: int | None = None
    """CANARY only: instances of the new fleet that take traffic first (at most half the variant's)."""
    wait_interval_seconds: int | None = None
    """CANARY only: how long the canary bakes before the rest of the traffic shifts (`WaitIntervalInSeconds`)."""
    termination_wait_seconds: int = 300
    """The final baking period: the new fleet serves everything, the old one is kept for a rollback
    (`TerminationWaitInSeconds`)."""
    max_execution_timeout_seconds: int = 1800
    """The whole update times out after this (`MaximumExecutionTimeoutInSeconds`)."""


@dataclass(frozen=True)
class RollbackAlarms:
    """Thresholds of the endpoint stack's rollback alarms, which watch the fleet being rolled out."""

    max_5xx_error_rate: float = 0.01
    """Share of requests answered 5XX (`Invocation5XXErrors`, Average)."""
    max_model_error_rate: float = 0.01
    """Share of requests the model container did not answer with 2XX (`InvocationModelErrors`, Average)."""
    max_model_latency_ms: float = 100.0
    """Average `ModelLatency` in milliseconds (the metric itself is in microseconds)."""
    period_seconds: int = 60
    evaluation_periods: int = 3
    """An alarm fires after this many consecutive breaching periods."""

    @property
    def window_seconds(self) -> int:
        """How long a problem must last before an alarm can fire: every baking period must be longer."""
        return self.period_seconds * self.evaluation_periods


# A self-hosted model-quality job copies each capture hour and each label day as one processing input,
# beside the constraints and the code: SageMaker takes at most 10 inputs per job.
MAX_PROCESSING_INPUTS = 10


@dataclass(frozen=True)
class ModelQualityConfig:
    """Model-quality monitoring (`model_quality` in cdk.json): the endpoint's predictions joined with the
    labels the user's pipeline uploads to `ground-truth/<endpoint>/yyyy/mm/dd/HH/` (hour of collection).

    Each run, at scheduled time T, scores the captures of [T + start_time_offset, T + end_time_offset)
    against the labels collected from the start of that window up to T. The default analyses the hour
    that ended 24 hours ago with the labels collected since: a churn label (did the customer leave?)
    comes from a daily batch, so an hour's labels are in after a day."""

    enabled: bool = True
    problem_type: str = BINARY
    probability_attribute: str | None = ENDPOINT_PROBABILITY_FIELD
    """Where the endpoint output holds the score (CSV: field index from 0; JSON: a path)."""
    probability_threshold: float | None = 0.5
    """A score above it predicts the positive class (with no inference_attribute)."""
    inference_attribute: str | None = None
    """Where the endpoint output holds the predicted label, for models that return one."""
    start_time_offset: str = "-PT25H"
    end_time_offset: str = "-PT24H"
    schedule_expression: str = "cron(0 * ? * * *)"
    max_runtime_seconds: int = 1800
    """Model Monitor's limit for an hourly model-quality schedule (merge and analysis together)."""
    baseline_dataset_uri: str | None = None
    """s3:// CSV (probability,prediction,label) of the model-quality baseline, instead of `make model`'s."""
    alarm_margins: dict[str, float] = field(default_factory=lambda: {"auc": 0.05, "recall": 0.1})
    """metric -> margin: a CloudWatch alarm fires when the hour's value is worse than the baseline's by
    more than the margin (below it for scores, above it for error rates)."""

    @property
    def start_hours(self) -> int:
        return offset_hours(self.start_time_offset)

    @property
    def end_hours(self) -> int:
        return offset_hours(self.end_time_offset)

    @property
    def capture_hours(self) -> int:
        """Hours of captures per run."""
        return self.end_hours - self.start_hours

    @property
    def label_days(self) -> int:
        """At most this many day folders hold the labels of one run (collected from the capture window's
        start up to the scheduled time)."""
        return (-self.start_hours + 22) // 24 + 1


RUNNERS = ("auto", "lambda", "processing")


@dataclass(frozen=True)
class LambdaRunnerConfig:
    """The self-hosted engine's Lambda runner (`lambda_runner` in cdk.json): its size, and the largest
    window it takes when `monitoring_runner` is `auto` (bigger windows run as Processing jobs)."""

    memory_mb: int = 1769
    """1,769 MB is one full vCPU; the measured peak of a 360,000-record hour is about 530 MB."""
    timeout_seconds: int = 300
    ephemeral_storage_mb: int = 2048
    """/tmp, which holds the window's capture files."""
    max_window_bytes: int = 300_000_000
    """Capture bytes of the window above which `auto` uses a Processing job (about 570,000 churn records)."""
    max_window_objects: int = 1000
    """Capture files above which `auto` uses a Processing job (one S3 listing page)."""


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
    ground_truth_retention_days: int = 90
    """Labels only need to outlive the model-quality windows that read them (label delay plus a margin)."""
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
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)
    rollback_alarms: RollbackAlarms = field(default_factory=RollbackAlarms)
    model_quality: ModelQualityConfig = field(default_factory=ModelQualityConfig)
    monitoring_runner: str = "auto"
    """Self-hosted engine: `lambda`, `processing`, or `auto` (Lambda for windows within lambda_runner's
    limits, Processing above them)."""
    lambda_runner: LambdaRunnerConfig = field(default_factory=LambdaRunnerConfig)
    metrics_budget: str | tuple[str, ...] = "all"
    """Data-quality metrics the self-hosted runs publish: `all`, `drift` (each feature's drift distance),
    `none`, or a list of metric names; the drift alarms' metrics are always published."""

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
    for key in ("capture_retention_days", "reports_retention_days", "access_log_retention_days",
                "ground_truth_retention_days"):
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
    _validate_rollback_alarms(config)
    _validate_rollout(config)
    _validate_model_quality(config)
    _validate_runner(config)


def _validate_runner(config: EnvironmentConfig) -> None:
    env, runner = config.name, config.lambda_runner
    _check(config.monitoring_runner in RUNNERS, "monitoring_runner", env, " or ".join(RUNNERS),
           config.monitoring_runner)
    _check(128 <= runner.memory_mb <= 10240, "lambda_runner.memory_mb", env, "128 to 10240 MB (Lambda's range)",
           runner.memory_mb)
    _check(1 <= runner.timeout_seconds <= 900, "lambda_runner.timeout_seconds", env,
           "1 to 900 seconds (Lambda's limit)", runner.timeout_seconds)
    _check(512 <= runner.ephemeral_storage_mb <= 10240, "lambda_runner.ephemeral_storage_mb", env,
           "512 to 10240 MB (Lambda's range)", runner.ephemeral_storage_mb)
    _check(0 < runner.max_window_bytes < runner.ephemeral_storage_mb * 1_000_000, "lambda_runner.max_window_bytes",
           env, f"a positive number of bytes below ephemeral_storage_mb ({runner.ephemeral_storage_mb} MB): the "
           "window's captures are copied to /tmp", runner.max_window_bytes)
    _check(1 <= runner.max_window_objects <= 1000, "lambda_runner.max_window_objects", env,
           "1 to 1000 files (one S3 listing page sizes the window)", runner.max_window_objects)
    budget = config.metrics_budget
    _check(budget in METRICS_BUDGETS or (isinstance(budget, tuple) and all(isinstance(n, str) for n in budget)),
           "metrics_budget", env, f"{', '.join(METRICS_BUDGETS)} or a list of metric names", budget)


def _validate_model_quality(config: EnvironmentConfig) -> None:
    env, quality = config.name, config.model_quality
    _check(isinstance(quality.enabled, bool), "model_quality.enabled", env, "true or false", quality.enabled)
    _check(quality.problem_type in PROBLEM_TYPES, "model_quality.problem_type", env, " or ".join(PROBLEM_TYPES),
           quality.problem_type)
    if quality.problem_type != "Regression":
        _check(quality.probability_attribute is not None or quality.inference_attribute is not None,
               "model_quality.probability_attribute", env,
               "a field of the endpoint output (or set inference_attribute): a classifier's prediction", None)
    if quality.probability_threshold is not None:
        _check(0 < quality.probability_threshold < 1, "model_quality.probability_threshold", env,
               "a number between 0 and 1", quality.probability_threshold)
    for key in ("start_time_offset", "end_time_offset"):
        value = getattr(quality, key)
        try:
            hours = offset_hours(value)
        except WindowError:
            hours = 0
        _check(hours < 0, f"model_quality.{key}", env,
               "a negative ISO-8601 duration in whole hours or days, such as -PT24H or -P1D", value)
    _check(1 <= quality.capture_hours <= 24, "model_quality.end_time_offset", env,
           f"1 to 24 hours after start_time_offset ({quality.start_time_offset}): the captures of one run",
           quality.end_time_offset)
    inputs = quality.capture_hours + quality.label_days + 2
    if config.monitoring_engine == "self-hosted":
        _check(inputs <= MAX_PROCESSING_INPUTS, "model_quality.start_time_offset", env,
               f"a window whose capture hours ({quality.capture_hours}) and label days ({quality.label_days}) "
               f"fit a processing job's {MAX_PROCESSING_INPUTS} inputs with the constraints and the code: "
               "shorten the capture window or the label delay", quality.start_time_offset)
    _check(bool(_CRON.match(quality.schedule_expression)), "model_quality.schedule_expression", env,
           "a schedule expression such as cron(0 * ? * * *)", quality.schedule_expression)
    _check(60 <= quality.max_runtime_seconds <= 1800, "model_quality.max_runtime_seconds", env,
           "60 to 1800 seconds (Model Monitor's limit for an hourly model-quality schedule)",
           quality.max_runtime_seconds)
    if quality.baseline_dataset_uri is not None:
        _check(quality.baseline_dataset_uri.startswith("s3://"), "model_quality.baseline_dataset_uri", env,
               "an s3:// URI, or omit it to upload make model's validation set", quality.baseline_dataset_uri)
    _validate_alarm_margins(config)


def _validate_alarm_margins(config: EnvironmentConfig) -> None:
    env, quality = config.name, config.model_quality
    _check(isinstance(quality.alarm_margins, dict), "model_quality.alarm_margins", env,
           "an object of metric -> margin, such as {\"auc\": 0.05}", quality.alarm_margins)
    known = suggested_operators(quality.problem_type)
    for metric, margin in quality.alarm_margins.items():
        _check(metric in known, f"model_quality.alarm_margins.{metric}", env,
               f"a metric of the {quality.problem_type} constraints: {', '.join(known)}", metric)
        _check(not isinstance(margin, bool) and isinstance(margin, (int, float)) and margin >= 0,
               f"model_quality.alarm_margins.{metric}", env, "a number >= 0", margin)


def _validate_rollback_alarms(config: EnvironmentConfig) -> None:
    env, alarms = config.name, config.rollback_alarms
    for key in ("max_5xx_error_rate", "max_model_error_rate"):
        value = getattr(alarms, key)
        _check(0 < value < 1, f"rollback_alarms.{key}", env, "a share of requests between 0 and 1, such as 0.01",
               value)
    _check(alarms.max_model_latency_ms > 0, "rollback_alarms.max_model_latency_ms", env,
           "a number of milliseconds > 0", alarms.max_model_latency_ms)
    _check(alarms.period_seconds >= 60 and alarms.period_seconds % 60 == 0, "rollback_alarms.period_seconds", env,
           "a multiple of 60 seconds (SageMaker publishes invocation metrics once a minute)", alarms.period_seconds)
    _check(alarms.evaluation_periods >= 1, "rollback_alarms.evaluation_periods", env, "an integer >= 1",
           alarms.evaluation_periods)


def _validate_rollout(config: EnvironmentConfig) -> None:
    """SageMaker's limits on a blue/green update, and baking periods long enough for an alarm to fire."""
    env, rollout = config.name, config.rollout
    window = config.rollback_alarms.window_seconds
    _check(rollout.traffic_routing in TRAFFIC_ROUTINGS, "rollout.traffic_routing", env,
           " or ".join(TRAFFIC_ROUTINGS), rollout.traffic_routing)
    canary = rollout.traffic_routing == CANARY
    for key in _CANARY_ONLY:
        value = getattr(rollout, key)
        _check((value is not None) == canary, f"rollout.{key}", env,
               "a value (traffic_routing is CANARY)" if canary else "no value: it applies to traffic_routing CANARY",
               value)
    if canary:
        half = config.instance_count // 2
        _check(1 <= rollout.canary_instances <= half, "rollout.canary_instances", env,
               f"1 to {half}: SageMaker's canary is at most half of instance_count ({config.instance_count}), so a "
               "canary needs instance_count >= 2", rollout.canary_instances)
        _check(window <= rollout.wait_interval_seconds <= 3600, "rollout.wait_interval_seconds", env,
               f"{window} to 3600 seconds: the canary must bake at least rollback_alarms' period_seconds x "
               "evaluation_periods, or no alarm can fire before the rest of the traffic shifts",
               rollout.wait_interval_seconds)
    _check(window <= rollout.termination_wait_seconds <= 3600, "rollout.termination_wait_seconds", env,
           f"{window} to 3600 seconds: the final baking period must be at least rollback_alarms' period_seconds x "
           "evaluation_periods, or no alarm can fire before the old fleet is terminated",
           rollout.termination_wait_seconds)
    waits = rollout.termination_wait_seconds + (rollout.wait_interval_seconds or 0)
    _check(max(600, waits + 1) <= rollout.max_execution_timeout_seconds <= 28800,
           "rollout.max_execution_timeout_seconds", env,
           f"600 to 28800 seconds, and more than the baking periods together ({waits} s)",
           rollout.max_execution_timeout_seconds)


# Number-typed fields by their annotation (this module uses postponed annotations: types are strings).
_NUMBER_TYPES = {"int": (int,), "int | None": (int,), "float": (int, float), "float | None": (int, float)}


def _reject_unknown(cls: type, raw: dict, where: str, exclude: tuple[str, ...] = ()) -> None:
    known = {f.name for f in fields(cls)} - set(exclude)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"cdk.json {where} has unknown keys {unknown}; known keys: {sorted(known)}.")


def _check_types(cls: type, raw: dict, where: str) -> None:
    for f in fields(cls):
        expected = _NUMBER_TYPES.get(f.type)
        if expected is None or f.name not in raw or (raw[f.name] is None and f.type.endswith("None")):
            continue
        value = raw[f.name]
        if isinstance(value, bool) or not isinstance(value, expected):
            kind = "an integer" if f.type.startswith("int") else "a number"
            raise ConfigError(f"cdk.json {where}.{f.name} = {value!r} must be {kind}.")


def _section(cls: type, raw: object, where: str) -> Any:
    """A nested object of an environment (`rollout`, `rollback_alarms`), typed and checked for unknown keys."""
    if not isinstance(raw, dict):
        raise ConfigError(f"cdk.json {where} = {raw!r} must be an object; see README (Configuration).")
    _reject_unknown(cls, raw, where)
    _check_types(cls, raw, where)
    return cls(**raw)


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
    where = f"environments.{env_name}"
    _reject_unknown(EnvironmentConfig, raw, where, exclude=("name",))
    if "endpoint_name" not in raw:
        raise ConfigError(f"cdk.json {where}.endpoint_name is required.")
    if engine is not None:
        raw["monitoring_engine"] = engine
    for key in ("drift_alarm_features", "metrics_budget"):
        if isinstance(raw.get(key), list):
            raw[key] = tuple(raw[key])
    for key, section in (("rollout", RolloutPolicy), ("rollback_alarms", RollbackAlarms),
                         ("model_quality", ModelQualityConfig), ("lambda_runner", LambdaRunnerConfig)):
        if key in raw:
            raw[key] = _section(section, raw[key], f"{where}.{key}")
    _check_types(EnvironmentConfig, raw, where)
    config = EnvironmentConfig(name=env_name, **raw)
    _validate(config)
    return config
