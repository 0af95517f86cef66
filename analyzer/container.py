"""Run as the Model Monitor analyzer container: configured only by environment variables.

Contract, section 2. `dataset_format` picks the mode: `csv`/`json` suggest a baseline from every
file under `dataset_source`; `sagemakerCaptureJson` monitors the capture files there against
`baseline_statistics`/`baseline_constraints`. The exit message goes to `output_message_file`
(default /opt/ml/output/message); a failure (for example a window without data, "Job inputs had
no data") writes its reason there and exits non-zero so the processing job fails.

Variables beyond the service's: `output_message_file` and `output_metrics_path` (default
/opt/ml/output/metrics/cloudwatch). The run only writes its metrics file: the job is
network-isolated, and the self-hosted state machine sends the file's values with PutMetricData.
Names and paths: `contract.processing`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from analyzer.monitor import run_monitoring, write_message
from analyzer.preprocessors import load_handler
from contract.errors import ANALYZER_ERRORS, ContainerConfigError
from contract.processing import (
    CAPTURE_FORMAT,
    CSV_FORMAT,
    DISABLED,
    ENABLED,
    JSON_FORMAT,
    MESSAGE_FILE,
    METRICS_PATH,
    Env,
    exit_message,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContainerConfig:
    mode: str  # "baseline" or "monitoring"
    dataset_source: str
    output_path: str
    dataset_kind: str = "csv"  # baseline dataset: "csv" or "jsonl"
    header: bool = True
    baseline_statistics: str | None = None
    baseline_constraints: str | None = None
    publish_cloudwatch_metrics: bool = False
    record_preprocessor_script: str | None = None
    post_analytics_processor_script: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    endpoint_name: str | None = None
    schedule_name: str | None = None
    categorical_drift_method: str | None = None
    message_file: str = MESSAGE_FILE
    metrics_path: str = METRICS_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ContainerConfig:
        def value(name: str) -> str | None:
            return env.get(name) or None

        def required(name: str, why: str) -> str:
            if not value(name):
                raise ContainerConfigError(f"environment variable {name} is not set: {why}")
            return env[name]

        def switch(name: str) -> bool:
            text = value(name) or DISABLED
            if text not in (ENABLED, DISABLED):
                raise ContainerConfigError(f"{name}={text!r}: use {ENABLED} or {DISABLED}")
            return text == ENABLED

        raw_format = required(Env.DATASET_FORMAT, 'give e.g. {"csv": {"header": true}} or {"sagemakerCaptureJson": {}}')
        try:
            dataset_format = json.loads(raw_format)
        except json.JSONDecodeError as exc:
            raise ContainerConfigError(f"{Env.DATASET_FORMAT} is not valid JSON ({exc.msg}): {raw_format!r}") from None
        if not isinstance(dataset_format, dict) or len(dataset_format) != 1:
            raise ContainerConfigError(
                f"dataset_format must be an object with one key (csv, json or {CAPTURE_FORMAT}): {raw_format!r}"
            )
        kind, options = next(iter(dataset_format.items()))
        options = options if isinstance(options, dict) else {}
        common = dict(
            dataset_source=required(Env.DATASET_SOURCE, "the folder holding the data to analyse"),
            output_path=required(Env.OUTPUT_PATH, "the folder for the output files"),
            publish_cloudwatch_metrics=switch(Env.PUBLISH_METRICS),
            post_analytics_processor_script=value(Env.POST_ANALYTICS_PROCESSOR),
            message_file=value(Env.MESSAGE_FILE) or MESSAGE_FILE,
            metrics_path=value(Env.METRICS_PATH) or METRICS_PATH,
        )
        if kind == CSV_FORMAT:
            return cls(mode="baseline", dataset_kind="csv", header=bool(options.get("header", True)), **common)
        if kind == JSON_FORMAT:
            # The docs write both "lines" and "line".
            if not options.get("lines", options.get("line", True)):
                raise ContainerConfigError("dataset_format json: only JSON lines are supported (\"lines\": true)")
            return cls(mode="baseline", dataset_kind="jsonl", **common)
        if kind != CAPTURE_FORMAT:
            raise ContainerConfigError(f"dataset_format {kind!r} is not supported; use csv, json or {CAPTURE_FORMAT}")
        return cls(
            mode="monitoring",
            baseline_statistics=required(Env.BASELINE_STATISTICS, "the baseline's statistics.json path"),
            baseline_constraints=required(Env.BASELINE_CONSTRAINTS, "the baseline's constraints.json path"),
            record_preprocessor_script=value(Env.RECORD_PREPROCESSOR),
            start_time=value(Env.START_TIME),
            end_time=value(Env.END_TIME),
            endpoint_name=value(Env.ENDPOINT_NAME),
            schedule_name=value(Env.SCHEDULE_NAME),
            categorical_drift_method=value(Env.CATEGORICAL_DRIFT_METHOD),
            **common,
        )


def _run(config: ContainerConfig) -> str:
    """Run the configured analysis; returns the exit message."""
    if config.mode == "baseline":
        from analyzer.baseline import suggest_baseline

        suggest_baseline(config.dataset_source, config.output_path, fmt=config.dataset_kind, header=config.header)
        message = exit_message(0)[1]
        write_message(config.message_file, message)
    else:
        result = run_monitoring(
            config.dataset_source,
            config.baseline_statistics,
            config.baseline_constraints,
            config.output_path,
            start=config.start_time,
            end=config.end_time,
            preprocessor=config.record_preprocessor_script,
            publish_metrics=config.publish_cloudwatch_metrics,
            metrics_dir=config.metrics_path,
            endpoint_name=config.endpoint_name,
            schedule_name=config.schedule_name,
            message_file=config.message_file,
            categorical_drift_method=config.categorical_drift_method,
        )
        message = result.message
    if config.post_analytics_processor_script:
        load_handler(config.post_analytics_processor_script, "postprocess_handler", "postprocess_handler()")()
    return message


def run_container(env: Mapping[str, str]) -> int:
    """Exit code 0 on success; 1 with the reason in the message file otherwise."""
    message_file = env.get(Env.MESSAGE_FILE) or MESSAGE_FILE
    try:
        config = ContainerConfig.from_env(env)
        message = _run(config)
    except ANALYZER_ERRORS as exc:
        write_message(message_file, str(exc))
        log.error("%s", exc)
        return 1
    except Exception as exc:  # e.g. a user's postprocess_handler raising
        write_message(message_file, f"{type(exc).__name__}: {exc}")
        log.exception("analysis failed")
        return 1
    log.info("%s", message)
    return 0
