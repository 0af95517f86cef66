"""Run as the Model Monitor analyzer container: configured only by environment variables.

Contract, section 2. `dataset_format` picks the mode: `csv`/`json` suggest a baseline from every
file under `dataset_source`; `sagemakerCaptureJson` monitors the capture files there against
`baseline_statistics`/`baseline_constraints`. The exit message goes to `output_message_file`
(default /opt/ml/output/message); a failure (for example a window without data, "Job inputs had
no data") writes its reason there and exits non-zero so the processing job fails.

Variables beyond the service's: `output_message_file`, `output_metrics_path` (default
/opt/ml/output/metrics/cloudwatch) and `unusable_record_threshold` (a share in [0, 1]; default:
the constraints' monitoring_config, else 0.1; above it the run fails, its reason in the message
file), `metrics_budget` (which metrics it writes: `contract.metrics.MetricsBudget`; default all).
The run only writes its metrics file: the job is network-isolated, and the self-hosted
state machine sends the file's values with PutMetricData.
`analysis_type=MODEL_QUALITY` runs a model-quality analysis instead (`analyzer.quality_container`).
Names and paths: `contract.processing`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from analyzer.container_env import ContainerEnv
from analyzer.monitor import run_monitoring, share, write_message
from analyzer.outputs import output_folder
from analyzer.preprocessors import load_handler
from contract.errors import ANALYZER_ERRORS, ContainerConfigError
from contract.metrics import PUBLISH_ALL, MetricsBudget
from contract.processing import (
    CAPTURE_FORMAT,
    CAPTURE_PARTS,
    CSV_FORMAT,
    JSON_FORMAT,
    MESSAGE_FILE,
    METRICS_PATH,
    MODEL_QUALITY,
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
    unusable_threshold: float | None = None
    metrics_budget: MetricsBudget = PUBLISH_ALL
    message_file: str = MESSAGE_FILE
    metrics_path: str = METRICS_PATH

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ContainerConfig:
        read = ContainerEnv(env)
        value, required, switch = read.value, read.required, read.switch
        kind, options = _dataset_format(
            required(Env.DATASET_FORMAT, 'give e.g. {"csv": {"header": true}} or {"sagemakerCaptureJson": {}}')
        )
        common = dict(
            dataset_source=required(Env.DATASET_SOURCE, "the folder holding the data to analyse"),
            output_path=required(Env.OUTPUT_PATH, "the folder for the output files"),
            publish_cloudwatch_metrics=switch(Env.PUBLISH_METRICS),
            post_analytics_processor_script=value(Env.POST_ANALYTICS_PROCESSOR),
            message_file=value(Env.MESSAGE_FILE) or MESSAGE_FILE,
            metrics_path=value(Env.METRICS_PATH) or METRICS_PATH,
        )
        if kind == CSV_FORMAT:
            return cls(mode="baseline", dataset_kind="csv", header=_flag(options, "header", True), **common)
        if kind == JSON_FORMAT:
            # The docs write both "lines" and "line".
            if not _flag(options, "lines", _flag(options, "line", True)):
                raise ContainerConfigError("dataset_format json: only JSON lines are supported (\"lines\": true)")
            return cls(mode="baseline", dataset_kind="jsonl", **common)
        if kind != CAPTURE_FORMAT:
            raise ContainerConfigError(f"dataset_format {kind!r} is not supported; use csv, json or {CAPTURE_FORMAT}")
        parts = options.get("captureIndexNames", list(CAPTURE_PARTS))
        if not isinstance(parts, list) or sorted(parts) != sorted(CAPTURE_PARTS):
            # A row is the output fields, then the input fields: one part alone would not fit the baseline.
            raise ContainerConfigError(
                f"dataset_format {CAPTURE_FORMAT}.captureIndexNames={parts!r}: only both parts are supported "
                f"({list(CAPTURE_PARTS)}); capture Input and Output and baseline the output column first"
            )
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
            unusable_threshold=_share(Env.UNUSABLE_THRESHOLD, value(Env.UNUSABLE_THRESHOLD)),
            metrics_budget=MetricsBudget.from_text(budget) if (budget := value(Env.METRICS_BUDGET)) else PUBLISH_ALL,
            **common,
        )


def _dataset_format(raw_format: str) -> tuple[str, dict]:
    """`dataset_format`'s one key and its options."""
    try:
        dataset_format = json.loads(raw_format)
    except json.JSONDecodeError as exc:
        raise ContainerConfigError(f"{Env.DATASET_FORMAT} is not valid JSON ({exc.msg}): {raw_format!r}") from None
    if not isinstance(dataset_format, dict) or len(dataset_format) != 1:
        raise ContainerConfigError(
            f"dataset_format must be an object with one key (csv, json or {CAPTURE_FORMAT}): {raw_format!r}"
        )
    kind, options = next(iter(dataset_format.items()))
    return kind, _options(kind, {} if options is None else options)


def _options(kind: str, options: object) -> dict:
    if not isinstance(options, dict):
        raise ContainerConfigError(
            f"dataset_format {kind}: its options must be an object such as {{\"header\": true}}, not {options!r}"
        )
    return options


def _flag(options: dict, name: str, default: bool) -> bool:
    """A boolean option; the SDK writes JSON booleans, hand-written configs sometimes "true"/"false"."""
    value = options.get(name, default)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ContainerConfigError(f"dataset_format option {name}={value!r}: use true or false")
    return value


def _share(name: str, text: str | None) -> float | None:
    try:
        return None if text is None else share(text)
    except ValueError:
        raise ContainerConfigError(f"{name}={text!r}: use a share in [0, 1] such as 0.1") from None


def _run(config: ContainerConfig) -> str:
    """Run the configured analysis; returns the exit message."""
    output_folder(config.output_path, Env.OUTPUT_PATH)
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
            unusable_threshold=config.unusable_threshold,
            metrics_budget=config.metrics_budget,
        )
        message = result.message
    if config.post_analytics_processor_script:
        load_handler(config.post_analytics_processor_script, "postprocess_handler", "postprocess_handler()")()
    return message


def run_container(env: Mapping[str, str]) -> int:
    """Exit code 0 on success; 1 with the reason in the message file otherwise."""
    message_file = env.get(Env.MESSAGE_FILE) or MESSAGE_FILE
    try:
        if env.get(Env.ANALYSIS_TYPE) == MODEL_QUALITY:
            from analyzer.quality_container import run_quality_container

            message = run_quality_container(env)
        else:
            config = ContainerConfig.from_env(env)
            message = _run(config)
    except ANALYZER_ERRORS as exc:
        _report_failure(message_file, str(exc))
        log.error("%s", exc)
        return 1
    except Exception as exc:  # e.g. a user's postprocess_handler raising
        _report_failure(message_file, f"{type(exc).__name__}: {exc}")
        log.exception("analysis failed")
        return 1
    log.info("%s", message)
    return 0


def _report_failure(message_file: str, reason: str) -> None:
    """Write a failed run's reason; an unwritable message file is logged, not raised over the reason."""
    try:
        write_message(message_file, reason)
    except OSError as exc:
        log.error("cannot write the exit message to %s (%s: set %s to a writable file)", message_file,
                  exc.strerror or exc, Env.MESSAGE_FILE)
