"""The analyzer container's model-quality mode (`analysis_type=MODEL_QUALITY`), configured by environment.

The service runs a merge job and then the analysis job (model-quality contract §2); here one run
does both, reading the service's variables: `dataset_source` (the captures, default
/opt/ml/processing/input_data), `ground_truth_source` (default /opt/ml/processing/groundtruth),
`output_path`, `baseline_constraints` (required), `baseline_statistics` (optional), `problem_type`,
`inference_attribute`, `probability_attribute`, `probability_threshold_attribute`, `start_time`,
`end_time`, `publish_cloudwatch_metrics`, `sagemaker_endpoint_name`,
`sagemaker_monitoring_schedule_name`; `dataset_format` may be the merge's
(`sagemakerMergeJson`) or the capture's. Ours: `ground_truth_start_time`/`ground_truth_end_time`
(label collection hours), `output_message_file`, `output_metrics_path`. The exit message goes to
the message file as for data quality (the caller writes a failure's reason there).

`dataset_format` csv (with a header) runs the deploy-time model-quality baseline instead (the SDK's
`ModelQualityMonitor.suggest_baseline`): every CSV under `dataset_source` (required), whose columns
`ground_truth_attribute` (required), `inference_attribute` and `probability_attribute` name, gives
statistics.json and constraints.json in `output_path`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from analyzer.monitor import write_message
from analyzer.outputs import output_folder
from analyzer.quality_baseline import suggest_quality_baseline
from analyzer.quality_monitor import run_quality_monitoring
from contract.errors import ContainerConfigError
from contract.ground_truth import MERGE_FORMAT
from contract.model_quality import PROBLEM_TYPES
from contract.processing import (
    CAPTURE_FORMAT,
    CSV_FORMAT,
    DISABLED,
    ENABLED,
    GROUND_TRUTH_INPUT_PATH,
    MERGE_DATASET_PATH,
    MESSAGE_FILE,
    METRICS_PATH,
    Env,
    exit_message,
)


def _value(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    if not _value(env, name):
        raise ContainerConfigError(f"environment variable {name} is not set: {why}")
    return env[name]


def _mode(env: Mapping[str, str]) -> str:
    """`baseline` for a CSV dataset_format, else `monitoring` (captures, or no format given)."""
    text = _value(env, Env.DATASET_FORMAT)
    if text is None:
        return "monitoring"
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    kind = next(iter(document), None) if isinstance(document, dict) else None
    if kind == CSV_FORMAT:
        options = document[kind] or {}
        # JSON true, or "true" as hand-written configs have it.
        if not isinstance(options, dict) or str(options.get("header", True)).lower() != "true":
            raise ContainerConfigError(
                f"{Env.DATASET_FORMAT}={text!r}: a model-quality baseline reads a CSV with a header "
                f'(its attributes are column names); use {{"{CSV_FORMAT}": {{"header": true}}}}'
            )
        return "baseline"
    if kind not in (MERGE_FORMAT, CAPTURE_FORMAT):
        raise ContainerConfigError(
            f"{Env.DATASET_FORMAT}={text!r}: a model-quality run reads captures (a baseline: a CSV); use "
            f'{{"{MERGE_FORMAT}": {{"captureIndexNames": ["endpointOutput"]}}}} '
            f'or {{"{CSV_FORMAT}": {{"header": true}}}}'
        )
    return "monitoring"


def _threshold(env: Mapping[str, str]) -> float | None:
    text = _value(env, Env.PROBABILITY_THRESHOLD)
    try:
        return None if text is None else float(text)
    except ValueError:
        raise ContainerConfigError(f"{Env.PROBABILITY_THRESHOLD}={text!r}: use a number such as 0.5") from None


def _publish(env: Mapping[str, str]) -> bool:
    text = _value(env, Env.PUBLISH_METRICS) or DISABLED
    if text not in (ENABLED, DISABLED):
        raise ContainerConfigError(f"{Env.PUBLISH_METRICS}={text!r}: use {ENABLED} or {DISABLED}")
    return text == ENABLED


def _problem_type(env: Mapping[str, str]) -> str:
    problem_type = _required(env, Env.PROBLEM_TYPE, f"one of {', '.join(PROBLEM_TYPES)}")
    if problem_type not in PROBLEM_TYPES:
        raise ContainerConfigError(f"{Env.PROBLEM_TYPE}={problem_type!r}: use one of {', '.join(PROBLEM_TYPES)}")
    return problem_type


def _output(env: Mapping[str, str]) -> str:
    output = _required(env, Env.OUTPUT_PATH, "the folder for the output files")
    output_folder(output, Env.OUTPUT_PATH)
    return output


def run_quality_container(env: Mapping[str, str]) -> str:
    """Run the configured model-quality analysis; returns the exit message (also written to the file)."""
    if _mode(env) == "baseline":
        message = _run_baseline(env)
    else:
        message = _run_monitoring(env)
    write_message(_value(env, Env.MESSAGE_FILE) or MESSAGE_FILE, message)
    return message


def _run_baseline(env: Mapping[str, str]) -> str:
    problem_type = _problem_type(env)
    dataset = _required(env, Env.DATASET_SOURCE, "the folder holding the validation CSV with predictions and labels")
    suggest_quality_baseline(
        dataset,
        _output(env),
        problem_type=problem_type,
        inference_attribute=_value(env, Env.INFERENCE_ATTRIBUTE),
        probability_attribute=_value(env, Env.PROBABILITY_ATTRIBUTE),
        ground_truth_attribute=_required(env, Env.GROUND_TRUTH_ATTRIBUTE, "the dataset's column of the true label"),
        probability_threshold=_threshold(env),
    )
    return exit_message(0)[1]


def _run_monitoring(env: Mapping[str, str]) -> str:
    problem_type = _problem_type(env)
    output = _output(env)
    result = run_quality_monitoring(
        _value(env, Env.DATASET_SOURCE) or MERGE_DATASET_PATH,
        _value(env, Env.GROUND_TRUTH_SOURCE) or GROUND_TRUTH_INPUT_PATH,
        _required(env, Env.BASELINE_CONSTRAINTS, "the model-quality baseline's constraints.json path"),
        output,
        problem_type=problem_type,
        probability_attribute=_value(env, Env.PROBABILITY_ATTRIBUTE),
        probability_threshold=_threshold(env),
        inference_attribute=_value(env, Env.INFERENCE_ATTRIBUTE),
        start=_value(env, Env.START_TIME),
        end=_value(env, Env.END_TIME),
        ground_truth_start=_value(env, Env.GROUND_TRUTH_START_TIME),
        ground_truth_end=_value(env, Env.GROUND_TRUTH_END_TIME),
        statistics=_value(env, Env.BASELINE_STATISTICS),
        endpoint=_value(env, Env.ENDPOINT_NAME),
        schedule=_value(env, Env.SCHEDULE_NAME),
        publish_metrics=_publish(env),
        metrics_dir=_value(env, Env.METRICS_PATH) or METRICS_PATH,
    )
    return result.message
