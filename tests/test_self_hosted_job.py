"""The self-hosted engine's jobs, run locally exactly as synthesized.

The baselining job's request is the one the baseline handler builds from the synthesized custom
resource's properties; the hourly job's request is the synthesized state machine's RunAnalyzer
arguments evaluated for one scheduled hour. Each is run as SageMaker Processing would run it: inputs
copied to their LocalPath (with /opt/ml mapped to a temporary folder), the code zip the CDK CLI
publishes, the declared environment (paths mapped), the declared entrypoint with `python3` being this
interpreter (the image's python3 has the same numpy/pyarrow), and a working directory outside the
repository so the package can only come from the zip. The hourly job must write the same three files
as `python -m analyzer monitor` on the same window.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import baseline_job
import pytest
from aws_cdk.assertions import Template

from contract.processing import CODE_INPUT_PATH
from model import synthetic
from tests.conftest import FROZEN_CLOCK_MAIN
from tests.self_hosted_definition import (
    evaluate,
    processing_job,
    render,
    state_machine_definition,
    window_variables,
)
from tests.stack_fixtures import build_app
from workshop.capture import CaptureConfig, capture_key, capture_record

SCHEDULED = "2024-03-01T00:00:00Z"
WINDOW_START = datetime(2024, 2, 29, 23, tzinfo=UTC)
REPORT_FILES = ("statistics.json", "constraints.json", "constraint_violations.json")


@pytest.fixture(scope="module")
def synthesized():
    _, stacks = build_app("dev", "self-hosted")
    template = Template.from_stack(stacks.monitoring).to_json()
    return template, stacks.monitoring.analyzer_code.staged_dir


def code_zip(staged_dir: Path, destination: Path) -> Path:
    """The asset as the CDK CLI publishes it: the staged folder's contents, zipped."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(staged_dir.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(staged_dir).as_posix())
    return destination


def write_captures(folder: Path, n_rows: int, seed: int) -> Path:
    """One hour of capture files (drifted traffic), laid out as the endpoint writes them."""
    config = CaptureConfig(destination=str(folder), endpoint_name="churn-dev")
    rows = synthetic.generate_rows(n_rows, seed=seed, drift=synthetic.SCENARIOS["drifted"], label=False)
    files: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        time = WINDOW_START + timedelta(seconds=i * 3599 // n_rows)
        opened = time.replace(second=0)
        key = capture_key(config, opened, str(uuid.UUID(int=opened.minute)))
        record = capture_record(
            config,
            time,
            ",".join(row).encode(),
            "text/csv",
            f"{(i % 97) / 97:.6f}\n".encode(),
            "text/csv; charset=utf-8",
            str(uuid.UUID(int=i)),
        )
        files.setdefault(key, []).append(json.dumps(record))
    for key, lines in files.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_text("\n".join(lines) + "\n")
    return folder / "churn-dev" / "AllTraffic" / "2024" / "02" / "29" / "23"


def run_locally(
    request: dict, root: Path, objects: dict[str, Path]
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run a CreateProcessingJob request as SageMaker Processing would, with /opt/ml under `root`.

    `objects` maps each input's S3 URI to a local file (copied under its own name, like an S3 object
    key) or folder (copied with its layout, like an S3 prefix). Returns the process and the mapped env.
    """

    def local(path: str) -> Path:
        return root / path.lstrip("/")

    for processing_input in request["ProcessingInputs"]:
        source = objects[processing_input["S3Input"]["S3Uri"]]
        destination = local(processing_input["S3Input"]["LocalPath"])
        if source.is_dir():
            shutil.copytree(source, destination)
        else:
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination / source.name)
    for output in request["ProcessingOutputConfig"]["Outputs"]:
        local(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    env = {
        name: str(local(value)) if value.startswith("/opt/ml/") else value
        for name, value in request["Environment"].items()
    }
    # The container's default message file (/opt/ml/output/message), mapped like every other path.
    env["output_message_file"] = str(local("/opt/ml/output/message"))
    env["PATH"] = os.environ["PATH"]
    entrypoint = list(request["AppSpecification"]["ContainerEntrypoint"])
    assert entrypoint[0] == "python3"
    process = subprocess.run(
        [sys.executable, *entrypoint[1:]], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    return process, env


def baseline_request(template: dict) -> dict:
    resources = [r for r in template["Resources"].values() if r["Type"] == "Custom::DataQualityBaseline"]
    properties = {
        key: value if key in ("Environment", "ContainerEntrypoint") else render(value)
        for key, value in resources[0]["Properties"].items()
    }
    spec = baseline_job.BaselineSpec.from_properties(properties)
    return baseline_job.processing_job_request(spec, baseline_job.job_name(spec))


def test_the_synthesized_jobs_run_locally_and_match_the_offline_analyzer(synthesized, tmp_path):
    template, staged_dir = synthesized
    definition = state_machine_definition(template)
    variables = window_variables(definition, {"scheduledTime": SCHEDULED})
    monitor_request = processing_job(definition, variables)
    code_uri = next(
        i["S3Input"]["S3Uri"] for i in monitor_request["ProcessingInputs"] if i["InputName"] == "code"
    )
    code = code_zip(staged_dir, tmp_path / "s3" / code_uri.rsplit("/", 1)[1])
    assert monitor_request["Environment"]["PYTHONPATH"] == f"{CODE_INPUT_PATH}/{code.name}"

    # 1. The deploy-time baselining job, on generated training data.
    request = baseline_request(template)
    train = tmp_path / "s3" / "train.csv"
    synthetic.write_csv(train, 1500, seed=3)
    process, env = run_locally(
        request,
        tmp_path / "baseline-job",
        {request["ProcessingInputs"][0]["S3Input"]["S3Uri"]: train, code_uri: code},
    )
    assert process.returncode == 0, process.stderr
    baseline_dir = Path(env["output_path"])
    assert sorted(p.name for p in baseline_dir.iterdir()) == ["constraints.json", "statistics.json"]

    # 2. The hourly job of the 00:00 run over the 23:00 hour, against that baseline.
    hour_folder = write_captures(tmp_path / "datacapture", n_rows=400, seed=11)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in monitor_request["ProcessingInputs"]}
    process, env = run_locally(
        monitor_request,
        tmp_path / "monitoring-job",
        {
            inputs["endpoint"]: hour_folder,
            inputs["baseline_statistics"]: baseline_dir / "statistics.json",
            inputs["baseline_constraints"]: baseline_dir / "constraints.json",
            code_uri: code,
        },
    )
    assert process.returncode == 0, process.stderr
    message = Path(env["output_message_file"]).read_text()
    assert message.startswith("CompletedWithViolations: Job completed successfully with "), message

    # 3. The same files as the offline CLI on the same captures, baseline and window.
    offline = tmp_path / "offline"
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer",
            "monitor",
            "--captures",
            str(tmp_path / "datacapture"),
            "--statistics",
            str(baseline_dir / "statistics.json"),
            "--constraints",
            str(baseline_dir / "constraints.json"),
            "--output",
            str(offline),
            "--start",
            variables["windowStart"],
            "--end",
            variables["windowEnd"],
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cli.returncode == 0, cli.stderr
    job_output = Path(env["output_path"])
    assert sorted(p.name for p in job_output.iterdir()) == sorted(REPORT_FILES)
    for name in REPORT_FILES:
        assert (job_output / name).read_bytes() == (offline / name).read_bytes(), name
    violations = json.loads((job_output / "constraint_violations.json").read_text())["violations"]
    assert {
        v["feature_name"] for v in violations if v["constraint_check_type"] == "baseline_drift_check"
    } >= {"Day Mins", "CustServ Calls"}

    # 4. The metrics file lands where the state machine reads it, and publishes in whole batches.
    metrics_output = next(
        o["S3Output"]
        for o in monitor_request["ProcessingOutputConfig"]["Outputs"]
        if o["OutputName"] == "metrics"
    )
    assert metrics_output["LocalPath"] == monitor_request["Environment"]["output_metrics_path"]
    metrics_files = list(Path(env["output_metrics_path"]).iterdir())
    assert len(metrics_files) == 1
    read_key = evaluate(definition["States"]["ReadMetrics"]["Arguments"]["Key"], {"input": {}}, variables)
    assert metrics_output["S3Uri"].split("/", 3)[3] + "/" + metrics_files[0].name == read_key
    document = json.loads(metrics_files[0].read_text())
    assert document["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
    data = document["MetricData"]
    assert {tuple(sorted((d["Name"], d["Value"]) for d in datum["Dimensions"])) for datum in data} == {
        (("Endpoint", "churn-dev"), ("MonitoringSchedule", "churn-dev-data-quality"))
    }
    assert any(d["MetricName"] == "feature_baseline_drift_Day Mins" for d in data)
    batches = evaluate(definition["States"]["PublishMetrics"]["Items"], {"input": data})
    assert [datum for batch in batches for datum in batch["MetricData"]] == data


# --- the model-quality baselining job ----------------------------------------------------------------

VALIDATION_SET = Path(__file__).resolve().parent.parent / "model" / "build" / "validation-predictions.csv"
# Both runs get the frozen clock (tests/conftest.py); everything else runs as `python3 -m analyzer ...`
# does, with the package from the code zip.


def quality_baseline_request(template: dict) -> dict:
    """The model-quality baselining job's request, its `python3 -m analyzer` run with the frozen clock."""
    resources = [r for r in template["Resources"].values() if r["Type"] == "Custom::ModelQualityBaseline"]
    properties = {
        key: value if key in ("Environment", "ContainerEntrypoint", "AlarmMargins") else render(value)
        for key, value in resources[0]["Properties"].items()
    }
    spec = baseline_job.BaselineSpec.from_properties(properties)
    request = baseline_job.processing_job_request(spec, baseline_job.job_name(spec))
    entrypoint = request["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[:3] == ["python3", "-m", "analyzer"], entrypoint
    request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-c", FROZEN_CLOCK_MAIN, *entrypoint[3:]]
    return request


def test_the_synthesized_model_quality_baselining_job_matches_the_offline_cli(synthesized, tmp_path):
    # Imported here: the module's head belongs to the monitoring part.
    from contract.processing import CODE_INPUT, DATASET_INPUT, exit_message

    template, staged_dir = synthesized
    request = quality_baseline_request(template)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}
    code = code_zip(staged_dir, tmp_path / "s3" / inputs[CODE_INPUT].rsplit("/", 1)[1])
    process, env = run_locally(
        request, tmp_path / "quality-baseline-job", {inputs[DATASET_INPUT]: VALIDATION_SET, inputs[CODE_INPUT]: code}
    )
    assert process.returncode == 0, process.stderr
    assert Path(env["output_message_file"]).read_text() == exit_message(0)[1]

    offline = tmp_path / "offline-quality-baseline"
    cli = subprocess.run(
        [
            sys.executable, "-c", FROZEN_CLOCK_MAIN, "suggest-baseline", "--dataset", str(VALIDATION_SET),
            "--output", str(offline), "--problem-type", "BinaryClassification",
            "--probability-attribute", "probability", "--inference-attribute", "prediction",
            "--ground-truth-attribute", "label",
        ],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    job_output = Path(env["output_path"])
    assert sorted(p.name for p in job_output.iterdir()) == ["constraints.json", "statistics.json"]
    for name in ("statistics.json", "constraints.json"):
        assert (job_output / name).read_bytes() == (offline / name).read_bytes(), name
    statistics = json.loads((job_output / "statistics.json").read_text())
    rows = len(VALIDATION_SET.read_text().splitlines()) - 1
    assert statistics["dataset"] == {"item_count": rows, "evaluation_time": "2026-12-02T15:04:05.678Z"}
