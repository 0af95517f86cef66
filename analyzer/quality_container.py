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

from analyzer.container_env import ContainerEnv
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
    GROUND_TRUTH_INPUT_PATH,
    MERGE_DATASET_PATH,
    MESSAGE_FILE,
    METRICS_PATH,
    Env,
    exit_message,
)


def _mode(env: ContainerEnv) -> str:
    """`baseline` for a CSV dataset_format, else `monitoring` (captures, or no format given)."""
    text = env.value(Env.DATASET_FORMAT)
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


def _threshold(env: ContainerEnv) -> float | None:
    text = env.value(Env.PROBABILITY_THRESHOLD)
    try:
        return None if text is None else float(text)
    except ValueError:
        raise ContainerConfigError(f"{Env.PROBABILITY_THRESHOLD}={text!r}: use a number such as 0.5") from None


def _problem_type(env: ContainerEnv) -> str:
    problem_type = env.required(Env.PROBLEM_TYPE, f"one of {', '.join(PROBLEM_TYPES)}")
    if problem_type not in PROBLEM_TYPES:
        raise ContainerConfigError(f"{Env.PROBLEM_TYPE}={problem_type!r}: use one of {', '.join(PROBLEM_TYPES)}")
    return problem_type


def _output(env: ContainerEnv) -> str:
    output = env.required(Env.OUTPUT_PATH, "the folder for the output files")
    output_folder(output, Env.OUTPUT_PATH)
    return output


def run_quality_container(environment: Mapping[str, str]) -> str:
    """Run the configured model-quality analysis; returns the exit message (also written to the file)."""
    env = ContainerEnv(environment)
    if _mode(env) == "baseline":
        message = _run_baseline(env)
    else:
        message = _run_monitoring(env)
    write_message(env.value(Env.MESSAGE_FILE) or MESSAGE_FILE, message)
    return message


def _run_baseline(env: ContainerEnv) -> str:
    problem_type = _problem_type(env)
    dataset = env.required(Env.DATASET_SOURCE, "the folder holding the validation CSV with predictions and labels")
    suggest_quality_baseline(
        dataset,
        _output(env),
        problem_type=problem_type,
        inference_attribute=env.value(Env.INFERENCE_ATTRIBUTE),
        probability_attribute=env.value(Env.PROBABILITY_ATTRIBUTE),
        ground_truth_attribute=env.required(Env.GROUND_TRUTH_ATTRIBUTE, "the dataset's column of the true label"),
        probability_threshold=_threshold(env),
    )
    return exit_message(0)[1]


def _run_monitoring(env: ContainerEnv) -> str:
    problem_type = _problem_type(env)
    output = _output(env)
    result = run_quality_monitoring(
        env.value(Env.DATASET_SOURCE) or MERGE_DATASET_PATH,
        env.value(Env.GROUND_TRUTH_SOURCE) or GROUND_TRUTH_INPUT_PATH,
        env.required(Env.BASELINE_CONSTRAINTS, "the model-quality baseline's constraints.json path"),
        output,
        problem_type=problem_type,
        probability_attribute=env.value(Env.PROBABILITY_ATTRIBUTE),
        probability_threshold=_threshold(env),
        inference_attribute=env.value(Env.INFERENCE_ATTRIBUTE),
        start=env.value(Env.START_TIME),
        end=env.value(Env.END_TIME),
        ground_truth_start=env.value(Env.GROUND_TRUTH_START_TIME),
        ground_truth_end=env.value(Env.GROUND_TRUTH_END_TIME),
        statistics=env.value(Env.BASELINE_STATISTICS),
        endpoint=env.value(Env.ENDPOINT_NAME),
        schedule=env.value(Env.SCHEDULE_NAME),
        publish_metrics=env.switch(Env.PUBLISH_METRICS),
        metrics_dir=env.value(Env.METRICS_PATH) or METRICS_PATH,
    )
    return result.message
