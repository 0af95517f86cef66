"""`python -m analyzer container`: the service's container contract (environment variables only)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from analyzer.container import ContainerConfig, run_container
from contract.errors import ContainerConfigError
from model import synthetic
from tests.capture_helpers import traffic, write_records

START = datetime(2024, 5, 1, 10, 0, 0)
CAPTURE_FORMAT = json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}})


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A baseline produced by the container's own baseline mode."""
    root = tmp_path_factory.mktemp("container-baseline")
    (root / "input").mkdir()
    synthetic.write_csv(root / "input" / "train.csv", 1000, seed=21)
    env = {
        "dataset_format": json.dumps({"csv": {"header": True, "output_columns_position": "START"}}),
        "dataset_source": str(root / "input"),
        "output_path": str(root / "output"),
        "publish_cloudwatch_metrics": "Disabled",
        "output_message_file": str(root / "message"),
    }
    assert run_container(env) == 0
    assert (root / "message").read_text() == "Completed: Job completed successfully with no violations."
    return root / "output"


def monitoring_env(baseline, tmp_path, **extra):
    rows = synthetic.generate_rows(200, seed=22)
    write_records(tmp_path / "endpoint", traffic([r[1:] for r in rows], START, outputs=[r[0] for r in rows]))
    return {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": str(tmp_path / "endpoint"),
        "output_path": str(tmp_path / "output"),
        "baseline_statistics": str(baseline / "statistics.json"),
        "baseline_constraints": str(baseline / "constraints.json"),
        "publish_cloudwatch_metrics": "Enabled",
        "start_time": "2024-05-01T10:00:00Z",
        "end_time": "2024-05-01T11:00:00Z",
        "sagemaker_endpoint_name": "churn-endpoint",
        "sagemaker_monitoring_schedule_name": "churn-hourly",
        "output_message_file": str(tmp_path / "message"),
        "output_metrics_path": str(tmp_path / "metrics"),
        **extra,
    }


def test_baseline_mode_writes_statistics_and_constraints(baseline):
    statistics = json.loads((baseline / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 1000
    assert [f["name"] for f in json.loads((baseline / "constraints.json").read_text())["features"]] == synthetic.COLUMNS


def test_monitoring_mode_writes_reports_message_and_metrics(baseline, tmp_path):
    assert run_container(monitoring_env(baseline, tmp_path)) == 0
    assert (tmp_path / "message").read_text() == "Completed: Job completed successfully with no violations."
    for name in ("statistics.json", "constraints.json", "constraint_violations.json"):
        assert (tmp_path / "output" / name).is_file()
    metrics = json.loads((tmp_path / "metrics" / "data-metrics.json").read_text())["MetricData"]
    assert {"Name": "Endpoint", "Value": "churn-endpoint"} in metrics[0]["Dimensions"]


def test_metrics_are_not_written_when_publishing_is_disabled(baseline, tmp_path):
    assert run_container(monitoring_env(baseline, tmp_path, publish_cloudwatch_metrics="Disabled")) == 0
    assert not (tmp_path / "metrics").exists()


def test_empty_window_fails_with_the_no_data_message(baseline, tmp_path):
    env = monitoring_env(baseline, tmp_path, start_time="2024-05-02T10:00:00Z", end_time="2024-05-02T11:00:00Z")
    assert run_container(env) == 1
    assert (tmp_path / "message").read_text().startswith("Job inputs had no data: ")
    assert not (tmp_path / "output" / "constraint_violations.json").exists()


def test_postprocess_handler_runs_after_success(baseline, tmp_path):
    script = tmp_path / "post.py"
    marker = tmp_path / "post-ran"
    script.write_text(f"def postprocess_handler():\n    open({str(marker)!r}, 'w').write('done')\n")
    assert run_container(monitoring_env(baseline, tmp_path, post_analytics_processor_script=str(script))) == 0
    assert marker.read_text() == "done"


def test_postprocess_handler_does_not_run_after_a_failure(baseline, tmp_path):
    script = tmp_path / "post.py"
    marker = tmp_path / "post-ran"
    script.write_text(f"def postprocess_handler():\n    open({str(marker)!r}, 'w').write('done')\n")
    env = monitoring_env(
        baseline, tmp_path, post_analytics_processor_script=str(script), start_time="2030-01-01T00:00:00Z", end_time=""
    )
    assert run_container(env) == 1
    assert not marker.exists()


def test_record_preprocessor_and_drift_method_come_from_the_environment(baseline, tmp_path):
    script = tmp_path / "pre.py"
    script.write_text(
        "def preprocess_handler(inference_record):\n"
        "    values = [inference_record.endpoint_output.data.strip()]\n"
        "    values += inference_record.endpoint_input.data.strip().split(',')\n"
        "    return [] if int(values[1]) < 100 else {f'{i:03d}': v for i, v in enumerate(values)}\n"
    )
    env = monitoring_env(
        baseline, tmp_path, record_preprocessor_script=str(script), categorical_drift_method="ChiSquared"
    )
    assert ContainerConfig.from_env(env).categorical_drift_method == "ChiSquared"
    assert run_container(env) == 0
    statistics = json.loads((tmp_path / "output" / "statistics.json").read_text())
    # The script dropped the rows whose Account Length is below 100.
    assert statistics["features"][1]["numerical_statistics"]["min"] >= 100.0
    assert 0 < statistics["dataset"]["item_count"] < 200


@pytest.mark.parametrize(
    "change, message",
    [
        ({"dataset_source": ""}, "environment variable dataset_source is not set"),
        ({"dataset_format": "{csv"}, "dataset_format is not valid JSON"),
        ({"dataset_format": '{"parquet": {}}'}, "dataset_format 'parquet' is not supported"),
        ({"publish_cloudwatch_metrics": "yes"}, "publish_cloudwatch_metrics='yes': use Enabled or Disabled"),
        ({"baseline_statistics": "/nonexistent/statistics.json"}, "cannot read the baseline statistics"),
        ({"start_time": "noon"}, "start time 'noon' is not an ISO-8601 time"),
        ({"dataset_format": '{"sagemakerCaptureJson": 5}'}, "its options must be an object"),
        ({"dataset_format": '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput"]}}'},
         "only both parts are supported"),
    ],
)
def test_configuration_errors_are_written_to_the_message_file(baseline, tmp_path, change, message):
    assert run_container(monitoring_env(baseline, tmp_path, **change)) == 1
    assert message in (tmp_path / "message").read_text()


def test_json_lines_baseline_accepts_both_spellings_of_lines():
    for options in ({"lines": True}, {"line": True}):
        env = {"dataset_format": json.dumps({"json": options}), "dataset_source": "in", "output_path": "out"}
        assert ContainerConfig.from_env(env).dataset_kind == "jsonl"
    with pytest.raises(ContainerConfigError, match="only JSON lines"):
        env = {"dataset_format": '{"json": {"lines": false}}', "dataset_source": "in", "output_path": "out"}
        ContainerConfig.from_env(env)


@pytest.mark.parametrize("header, expected", [(True, True), (False, False), ("false", False), ("True", True)])
def test_csv_header_option_is_read_as_a_boolean(header, expected):
    env = {"dataset_format": json.dumps({"csv": {"header": header}}), "dataset_source": "in", "output_path": "out"}
    assert ContainerConfig.from_env(env).header is expected


def test_a_csv_header_option_that_is_not_a_boolean_is_named():
    env = {"dataset_format": '{"csv": {"header": "no"}}', "dataset_source": "in", "output_path": "out"}
    with pytest.raises(ContainerConfigError, match="option header='no': use true or false"):
        ContainerConfig.from_env(env)


def test_a_long_failure_reason_is_cut_to_the_services_1_kb(baseline, tmp_path):
    env = monitoring_env(baseline, tmp_path, start_time="x" * 3000)
    assert run_container(env) == 1
    message = (tmp_path / "message").read_bytes()
    assert len(message) <= 1024 and message.decode().endswith("...")


def test_an_unwritable_message_file_fails_the_run_with_a_logged_reason(baseline, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = monitoring_env(baseline, tmp_path, dataset_source="", output_message_file=str(blocker / "message"))
    assert run_container(env) == 1
    assert "cannot write the exit message" in caplog.text and "output_message_file" in caplog.text
