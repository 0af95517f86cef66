"""Run as the Model Monitor analyzer container: configured only by environment variables.

Contract, section 2. `dataset_format` picks the mode: `csv`/`json` suggest a baseline from every
file under `dataset_source`; `sagemakerCaptureJson` monitors the capture files there against
`baseline_statistics`/`baseline_constraints`. The exit message goes to `output_message_file`
(default /opt/ml/output/message); a failure (for example a window without data, "Job inputs had
no data") writes its reason there and exits non-zero so the processing job fails.

Variables beyond the service's: `output_message_file`, `output_metrics_path` (default
/opt/ml/output/metrics/cloudwatch) and `put_metric_data` (`Enabled` makes the run send its
metrics file with PutMetricData itself: the self-hosted engine has no agent doing it).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from analyzer import metrics
from analyzer.captures import CaptureSourceError, PreprocessorError, WindowError, load_handler
from analyzer.checks import BaselineError
from analyzer.datasets import DatasetError
from analyzer.monitor import NoDataError, exit_message, run_monitoring

log = logging.getLogger(__name__)

DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
DEFAULT_METRICS_PATH = "/opt/ml/output/metrics/cloudwatch"
CAPTURE_FORMAT = "sagemakerCaptureJson"


class ContainerConfigError(ValueError):
    """An environment variable is missing or malformed."""


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
    put_metric_data: bool = False
    record_preprocessor_script: str | None = None
    post_analytics_processor_script: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    endpoint_name: str | None = None
    schedule_name: str | None = None
    categorical_drift_method: str | None = None
    message_file: str = DEFAULT_MESSAGE_FILE
    metrics_path: str = DEFAULT_METRICS_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ContainerConfig:
        def value(name: str) -> str | None:
            return env.get(name) or None

        def required(name: str, why: str) -> str:
            if not value(name):
                raise ContainerConfigError(f"environment variable {name} is not set: {why}")
            return env[name]

        def switch(name: str) -> bool:
            text = value(name) or "Disabled"
            if text not in ("Enabled", "Disabled"):
                raise ContainerConfigError(f"{name}={text!r}: use Enabled or Disabled")
            return text == "Enabled"

        raw_format = required("dataset_format", 'give e.g. {"csv": {"header": true}} or {"sagemakerCaptureJson": {}}')
        try:
            dataset_format = json.loads(raw_format)
        except json.JSONDecodeError as exc:
            raise ContainerConfigError(f"dataset_format is not valid JSON ({exc.msg}): {raw_format!r}") from None
        if not isinstance(dataset_format, dict) or len(dataset_format) != 1:
            raise ContainerConfigError(
                f"dataset_format must be an object with one key (csv, json or {CAPTURE_FORMAT}): {raw_format!r}"
            )
        kind, options = next(iter(dataset_format.items()))
        options = options if isinstance(options, dict) else {}
        common = dict(
            dataset_source=required("dataset_source", "the folder holding the data to analyse"),
            output_path=required("output_path", "the folder for the output files"),
            publish_cloudwatch_metrics=switch("publish_cloudwatch_metrics"),
            put_metric_data=switch("put_metric_data"),
            post_analytics_processor_script=value("post_analytics_processor_script"),
            message_file=value("output_message_file") or DEFAULT_MESSAGE_FILE,
            metrics_path=value("output_metrics_path") or DEFAULT_METRICS_PATH,
        )
        if kind == "csv":
            return cls(mode="baseline", dataset_kind="csv", header=bool(options.get("header", True)), **common)
        if kind == "json":
            # The docs write both "lines" and "line".
            if not options.get("lines", options.get("line", True)):
                raise ContainerConfigError("dataset_format json: only JSON lines are supported (\"lines\": true)")
            return cls(mode="baseline", dataset_kind="jsonl", **common)
        if kind != CAPTURE_FORMAT:
            raise ContainerConfigError(f"dataset_format {kind!r} is not supported; use csv, json or {CAPTURE_FORMAT}")
        return cls(
            mode="monitoring",
            baseline_statistics=required("baseline_statistics", "the baseline's statistics.json path"),
            baseline_constraints=required("baseline_constraints", "the baseline's constraints.json path"),
            record_preprocessor_script=value("record_preprocessor_script"),
            start_time=value("start_time"),
            end_time=value("end_time"),
            endpoint_name=value("sagemaker_endpoint_name"),
            schedule_name=value("sagemaker_monitoring_schedule_name"),
            categorical_drift_method=value("categorical_drift_method"),
            **common,
        )


def _write_message(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def _run(config: ContainerConfig) -> str:
    """Run the configured analysis; returns the exit message."""
    if config.mode == "baseline":
        from analyzer.baseline import suggest_baseline

        suggest_baseline(config.dataset_source, config.output_path, fmt=config.dataset_kind, header=config.header)
        message = exit_message(0)[1]
        _write_message(config.message_file, message)
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
        if result.metrics_file and config.put_metric_data:
            log.info("sent %d metric values", metrics.publish_metric_files(config.metrics_path))
    if config.post_analytics_processor_script:
        load_handler(config.post_analytics_processor_script, "postprocess_handler", "postprocess_handler()")()
    return message


# Failures with a message meant for the user (no traceback).
EXPECTED_ERRORS = (
    ContainerConfigError,
    NoDataError,
    BaselineError,
    CaptureSourceError,
    PreprocessorError,
    WindowError,
    DatasetError,
)


def run_container(env: Mapping[str, str]) -> int:
    """Exit code 0 on success; 1 with the reason in the message file otherwise."""
    message_file = env.get("output_message_file") or DEFAULT_MESSAGE_FILE
    try:
        config = ContainerConfig.from_env(env)
        message = _run(config)
    except EXPECTED_ERRORS as exc:
        _write_message(message_file, str(exc))
        log.error("%s", exc)
        return 1
    except Exception as exc:  # e.g. a user's postprocess_handler raising
        _write_message(message_file, f"{type(exc).__name__}: {exc}")
        log.exception("analysis failed")
        return 1
    log.info("%s", message)
    return 0
