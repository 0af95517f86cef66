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
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from analyzer.monitor import write_message
from analyzer.outputs import output_folder
from analyzer.quality_monitor import run_quality_monitoring
from contract.errors import ContainerConfigError
from contract.ground_truth import MERGE_FORMAT
from contract.model_quality import PROBLEM_TYPES
from contract.processing import (
    CAPTURE_FORMAT,
    DISABLED,
    ENABLED,
    GROUND_TRUTH_INPUT_PATH,
    MERGE_DATASET_PATH,
    MESSAGE_FILE,
    METRICS_PATH,
    Env,
)


def _value(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    if not _value(env, name):
        raise ContainerConfigError(f"environment variable {name} is not set: {why}")
    return env[name]


def _check_format(env: Mapping[str, str]) -> None:
    text = _value(env, Env.DATASET_FORMAT)
    if text is None:
        return
    try:
        kind = next(iter(json.loads(text)), None)
    except (ValueError, TypeError):
        kind = None
    if kind not in (MERGE_FORMAT, CAPTURE_FORMAT):
        raise ContainerConfigError(
            f"{Env.DATASET_FORMAT}={text!r}: a model-quality run reads captures; use "
            f'{{"{MERGE_FORMAT}": {{"captureIndexNames": ["endpointOutput"]}}}}'
        )


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


def run_quality_container(env: Mapping[str, str]) -> str:
    """Run the configured model-quality analysis; returns the exit message (also written to the file)."""
    _check_format(env)
    problem_type = _required(env, Env.PROBLEM_TYPE, f"one of {', '.join(PROBLEM_TYPES)}")
    if problem_type not in PROBLEM_TYPES:
        raise ContainerConfigError(f"{Env.PROBLEM_TYPE}={problem_type!r}: use one of {', '.join(PROBLEM_TYPES)}")
    output = _required(env, Env.OUTPUT_PATH, "the folder for the output files")
    output_folder(output, Env.OUTPUT_PATH)
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
    write_message(_value(env, Env.MESSAGE_FILE) or MESSAGE_FILE, result.message)
    return result.message
