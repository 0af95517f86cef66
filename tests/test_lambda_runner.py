"""The monitoring runner Lambda: its handler against moto S3, its Docker-free package, its construct."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from runner import handler as runner_handler
from runner.runner import CONTAINER_ROOT, AnalysisFailed, NoCapturedData, RunRequest, local_environment

from analyzer.baseline import suggest_baseline
from analyzer.cli import main as cli_main
from analyzer.container import run_container
from benchmarks.runner_bench import LOCAL_PYTHON, LOCAL_TARGET, runtime_stand_in
from contract.errors import PropertiesError
from contract.events import NO_DATA_ERROR
from contract.lambdas import RUNNER_FAILED_ERROR, RunnerEnv, RunnerEvent, RunnerResult
from contract.layout import (
    BASELINE_PREFIX,
    CAPTURE_PREFIX,
    CONSTRAINTS_FILE,
    REPORT_FILES,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    capture_prefix,
    ground_truth_prefix,
    hour_folder,
    model_quality_schedule_name,
    report_prefix,
    schedule_name,
)
from contract.metrics import METRICS_FILE, METRICS_FOLDER, MODEL_METRICS_FILE
from contract.model_quality import BINARY
from contract.processing import NO_DATA_REASON, PROCESSING_ROOT, UNUSABLE_DATA_REASON, exit_message
from contract.quality_violations import parse_quality_violations
from model import synthetic
from stacks.constructs.analyzer_job import AnalyzerImage
from stacks.constructs.lambda_runner import LambdaRunner, LambdaRunnerProps
from stacks.constructs.monitoring_job import ModelQualityProps, MonitoringProps
from stacks.constructs.runner_package import (
    LAMBDA_TARGET,
    LAMBDA_UNZIPPED_LIMIT,
    Target,
    WheelsMissingError,
    build_package,
    folder_bytes,
    trimmed,
    wheel_files,
)
from tests.capture_helpers import traffic, write_file, write_records
from tests.test_merge import START as MERGE_START
from tests.test_merge import capture, write_labels

BUCKET, ENDPOINT, VARIANT, JOB = "runner-bucket", "churn", "AllTraffic", "baseline-job-1"
SCHEDULE = schedule_name(ENDPOINT)
START, END = "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"
REPORT = f"{report_prefix(ENDPOINT, SCHEDULE)}2024/05/01/11"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runner-baseline")
    synthetic.write_csv(root / "train.csv", 1000, seed=31)
    suggest_baseline(str(root / "train.csv"), str(root / "out"))
    return root / "out"


def hour_of_captures(root: Path, n_rows: int = 600) -> Path:
    """`n_rows` requests over 10:00-11:00, plus a file opened at 09:59 whose last records fall in the window."""
    rows = synthetic.generate_rows(n_rows + 20, seed=32)
    write_records(root, traffic([r[1:] for r in rows[:n_rows]], datetime(2024, 5, 1, 10), [r[0] for r in rows[:n_rows]],
                                every_seconds=3600 / n_rows), endpoint=ENDPOINT, variant=VARIANT)
    spill = traffic([r[1:] for r in rows[n_rows:]], datetime(2024, 5, 1, 9, 59, 50), [r[0] for r in rows[n_rows:]], 1)
    write_file(root, spill, datetime(2024, 5, 1, 9, 59, 50), endpoint=ENDPOINT, variant=VARIANT)
    return root


def upload(s3, captures: Path | None, baseline: Path, statistics: bytes | None = None) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(captures.rglob("*.jsonl")) if captures else ():
        key = f"{capture_prefix(ENDPOINT, VARIANT)}{path.relative_to(captures / ENDPOINT / VARIANT).as_posix()}"
        s3.upload_file(str(path), BUCKET, key)
    s3.put_object(Bucket=BUCKET, Key=f"{BASELINE_PREFIX}/{JOB}/{STATISTICS_FILE}",
                  Body=statistics if statistics is not None else (baseline / STATISTICS_FILE).read_bytes())
    s3.put_object(Bucket=BUCKET, Key=f"{BASELINE_PREFIX}/{JOB}/{CONSTRAINTS_FILE}",
                  Body=(baseline / CONSTRAINTS_FILE).read_bytes())


def event(start: str = START, end: str = END, folders: list[str] | None = None) -> dict:
    """The state machine's event; by default the job's capture folder: the hour folder of `start`."""
    return {
        RunnerEvent.ENDPOINT_NAME: ENDPOINT, RunnerEvent.SCHEDULE_NAME: SCHEDULE,
        RunnerEvent.WINDOW_START: start, RunnerEvent.WINDOW_END: end,
        RunnerEvent.CAPTURE_URI: f"s3://{BUCKET}/{capture_prefix(ENDPOINT, VARIANT)}",
        RunnerEvent.CAPTURE_FOLDERS: folders or [hour_folder(datetime.fromisoformat(start))],
        RunnerEvent.STATISTICS_URI: f"s3://{BUCKET}/{BASELINE_PREFIX}/{JOB}/{STATISTICS_FILE}",
        RunnerEvent.CONSTRAINTS_URI: f"s3://{BUCKET}/{BASELINE_PREFIX}/{JOB}/{CONSTRAINTS_FILE}",
        RunnerEvent.REPORT_URI: f"s3://{BUCKET}/{REPORT}",
    }  # fmt: skip


@pytest.fixture
def s3(s3):
    """The shared moto server keeps its buckets between tests in one process: start from none."""
    urllib.request.urlopen(urllib.request.Request(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST"))
    return s3


@pytest.fixture
def work_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(RunnerEnv.WORK_DIR, str(tmp_path / "work"))
    return tmp_path / "work"


def keys(s3, prefix: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", ()))


def cli_monitor(captures: Path, baseline: Path, output: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "analyzer", "-q", "monitor", "--captures", str(captures), "--output", str(output),
         "--statistics", str(baseline / STATISTICS_FILE), "--constraints", str(baseline / CONSTRAINTS_FILE),
         "--start", START, "--end", END],
        check=True,
    )  # fmt: skip


# Both hour folders of hour_of_captures: the offline analyzer below reads every file.
BOTH_FOLDERS = ["2024/05/01/09", "2024/05/01/10"]


def test_the_handler_writes_the_files_of_the_offline_analyzer_to_the_jobs_keys(s3, baseline, work_dir, tmp_path):
    captures = hour_of_captures(tmp_path / "captures")
    upload(s3, captures, baseline)
    result = runner_handler.handler(event(folders=BOTH_FOLDERS), None)

    cli_monitor(captures, baseline, tmp_path / "cli")
    for name in REPORT_FILES:
        body = s3.get_object(Bucket=BUCKET, Key=f"{REPORT}/{name}")["Body"].read()
        assert body == (tmp_path / "cli" / name).read_bytes(), name
    # The metrics file: the container's, on the same captures, in the job's metrics output.
    environment = local_environment(RunRequest.of(event(folders=BOTH_FOLDERS)), str(tmp_path / "container"))
    shutil.copytree(captures, environment["dataset_source"])
    for name in ("baseline_statistics", "baseline_constraints"):
        os.makedirs(os.path.dirname(environment[name]))
        shutil.copyfile(baseline / os.path.basename(environment[name]), environment[name])
    assert run_container(environment) == 0
    metrics = s3.get_object(Bucket=BUCKET, Key=f"{REPORT}/{METRICS_FOLDER}/{METRICS_FILE}")["Body"].read()
    assert metrics == Path(environment["output_metrics_path"], METRICS_FILE).read_bytes()
    expected = [*(f"{REPORT}/{name}" for name in REPORT_FILES), f"{REPORT}/{METRICS_FOLDER}/{METRICS_FILE}"]
    assert keys(s3, REPORT) == sorted(expected)

    violations = json.loads((tmp_path / "cli" / VIOLATIONS_FILE).read_text())["violations"]
    assert result == {
        RunnerResult.STATUS: exit_message(len(violations))[0],
        RunnerResult.EXIT_MESSAGE: Path(environment["output_message_file"]).read_text(),
        RunnerResult.VIOLATIONS: len(violations),
        RunnerResult.REPORT_URI: f"s3://{BUCKET}/{REPORT}",
        RunnerResult.CAPTURE_FILES: len(list(captures.rglob("*.jsonl"))),
    }
    assert list(work_dir.iterdir()) == []  # a warm Lambda's /tmp keeps nothing of the run


def test_the_handler_reads_only_the_folders_the_event_names(s3, baseline, work_dir, tmp_path):
    """The job copies only its capture input folders: the Lambda run reads the same files."""
    captures = hour_of_captures(tmp_path / "captures")
    upload(s3, captures, baseline)
    result = runner_handler.handler(event(), None)
    hour = captures / ENDPOINT / VARIANT / "2024" / "05" / "01" / "10"
    assert 0 < result[RunnerResult.CAPTURE_FILES] == len(list(hour.rglob("*.jsonl"))) < len(
        list(captures.rglob("*.jsonl")))


@pytest.mark.parametrize("folders", [[], ["2024/05/01"], "2024/05/01/10"], ids=["empty", "a-day", "not-a-list"])
def test_capture_folders_must_be_hour_folders(folders):
    with pytest.raises(PropertiesError, match="captureFolders=.*give the list of capture hour folders"):
        RunRequest.of({**event(), RunnerEvent.CAPTURE_FOLDERS: folders})


def test_a_window_without_captures_fails_with_the_no_data_error(s3, baseline, work_dir, tmp_path):
    upload(s3, hour_of_captures(tmp_path / "captures"), baseline)
    with pytest.raises(NoCapturedData) as raised:
        runner_handler.handler(event("2024-05-02T10:00:00Z", "2024-05-02T11:00:00Z"), None)
    assert type(raised.value).__name__ == NO_DATA_ERROR  # the Lambda's errorType the state machine catches
    message = str(raised.value)
    assert message.startswith(f"{NO_DATA_REASON}: no capture rows under {PROCESSING_ROOT}/input/endpoint ")
    assert str(work_dir) not in message
    assert keys(s3, REPORT) == []
    assert list(work_dir.iterdir()) == []


def test_too_many_unusable_records_fail_with_the_containers_reason(s3, baseline, work_dir, tmp_path):
    folder = tmp_path / "captures" / ENDPOINT / VARIANT / "2024" / "05" / "01" / "10"
    folder.mkdir(parents=True)
    (folder / "00-00-000-0a1b2c3d-0000-4000-8000-000000000000.jsonl").write_text("not json\n" * 50)
    upload(s3, tmp_path / "captures", baseline)
    with pytest.raises(AnalysisFailed) as raised:
        runner_handler.handler(event(), None)
    assert type(raised.value).__name__ == RUNNER_FAILED_ERROR
    assert str(raised.value).startswith(f"{UNUSABLE_DATA_REASON}: 50 of 50 capture records")
    assert f"{CONTAINER_ROOT}/processing/input/endpoint/{ENDPOINT}/{VARIANT}/2024/05/01/10/" in str(raised.value)
    assert keys(s3, REPORT) == []


@pytest.mark.parametrize(
    "statistics, reason",
    [(b"{not json", "is not valid JSON"), (None, "cannot read the baseline statistics")],
    ids=["damaged", "missing"],
)
def test_a_bad_baseline_fails_with_the_analyzers_reason(s3, baseline, work_dir, tmp_path, statistics, reason):
    upload(s3, hour_of_captures(tmp_path / "captures"), baseline, statistics=statistics or b"")
    if statistics is None:
        s3.delete_object(Bucket=BUCKET, Key=f"{BASELINE_PREFIX}/{JOB}/{STATISTICS_FILE}")
    with pytest.raises(AnalysisFailed, match=reason) as raised:
        runner_handler.handler(event(), None)
    assert f"{CONTAINER_ROOT}/processing/baseline/stats/{STATISTICS_FILE}" in str(raised.value)
    assert keys(s3, REPORT) == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({RunnerEvent.WINDOW_END: None}, "lacks windowEnd"),
        ({RunnerEvent.REPORT_URI: "reports/churn"}, "reportUri='reports/churn' is not an s3:// URI"),
    ],
)
def test_a_malformed_event_is_named(change, message):
    with pytest.raises(PropertiesError, match=message):
        RunRequest.of({**event(), **change})


def test_an_empty_window_fails_as_the_container_does(s3, baseline, work_dir, tmp_path):
    upload(s3, None, baseline)
    with pytest.raises(AnalysisFailed, match=f"start time {END} is not before end time {START}"):
        runner_handler.handler(event(END, START), None)


def test_a_bad_thread_count_is_named(monkeypatch):
    monkeypatch.setenv(RunnerEnv.DOWNLOAD_THREADS, "many")
    with pytest.raises(PropertiesError, match="RUNNER_DOWNLOAD_THREADS='many'"):
        runner_handler.handler(event(), None)


# --- model quality ----------------------------------------------------------------------------------

QUALITY_SCHEDULE = model_quality_schedule_name(ENDPOINT)
QUALITY_REPORT = f"{report_prefix(ENDPOINT, QUALITY_SCHEDULE)}2026/01/01/11"
QUALITY_WINDOW = ("2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z")  # captures, labels end


def quality_inputs(root: Path, s3) -> None:
    """40 scored captures of 10:00-10:40 with inferenceIds, 35 labels collected at 11:00, and constraints."""
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 40)
    scores = np.round(np.where(labels == 1, 0.45, 0.1) + rng.random(40) * 0.45, 3)
    write_file(root / "captures", [capture(f"{s}\n", 60 * i, str(i)) for i, s in enumerate(scores)], MERGE_START)
    write_labels(root / "gt", [(str(i), int(t)) for i, t in enumerate(labels[:35])], MERGE_START + timedelta(hours=1))
    constraints = {"version": 0.0, "binary_classification_constraints": {
        "accuracy": {"threshold": 0.99, "comparison_operator": "LessThanThreshold"}}}  # fmt: skip
    (root / CONSTRAINTS_FILE).write_text(json.dumps(constraints))
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted((root / "captures").rglob("*.jsonl")):
        s3.upload_file(str(path), BUCKET, f"{CAPTURE_PREFIX}/{path.relative_to(root / 'captures').as_posix()}")
    for path in sorted((root / "gt").rglob("*.jsonl")):
        s3.upload_file(str(path), BUCKET, f"{ground_truth_prefix(ENDPOINT)}/{path.relative_to(root / 'gt').as_posix()}")
    s3.upload_file(str(root / CONSTRAINTS_FILE), BUCKET, f"{BASELINE_PREFIX}/{JOB}/{CONSTRAINTS_FILE}")


def quality_event() -> dict:
    start, end, labels_end = QUALITY_WINDOW
    return {
        **{key: value for key, value in event(start, end).items() if key != RunnerEvent.STATISTICS_URI},
        RunnerEvent.SCHEDULE_NAME: QUALITY_SCHEDULE,
        RunnerEvent.REPORT_URI: f"s3://{BUCKET}/{QUALITY_REPORT}",
        RunnerEvent.GROUND_TRUTH_URI: f"s3://{BUCKET}/{ground_truth_prefix(ENDPOINT)}/",
        RunnerEvent.LABELS_END: labels_end,
        RunnerEvent.QUALITY_ATTRIBUTES: {"problem_type": BINARY, "probability_attribute": "0"},
    }


def test_a_model_quality_run_writes_the_offline_analyzers_files(s3, work_dir, tmp_path, frozen_clock):
    quality_inputs(tmp_path, s3)
    result = runner_handler.handler(quality_event(), None)

    start, end, labels_end = QUALITY_WINDOW
    assert cli_main([
        "-q", "monitor-model-quality", "--problem-type", BINARY, "--probability-attribute", "0",
        "--captures", str(tmp_path / "captures" / ENDPOINT / VARIANT), "--ground-truth", str(tmp_path / "gt"),
        "--constraints", str(tmp_path / CONSTRAINTS_FILE), "--output", str(tmp_path / "cli"),
        "--start", start, "--end", end, "--ground-truth-start", start, "--ground-truth-end", labels_end,
        "--endpoint", ENDPOINT, "--schedule", QUALITY_SCHEDULE,
    ]) == 0  # fmt: skip
    offline = {p.relative_to(tmp_path / "cli").as_posix(): p.read_bytes() for p in (tmp_path / "cli").rglob("*")
               if p.is_file()}  # fmt: skip
    uploaded = {key[len(QUALITY_REPORT) + 1:]: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                for key in keys(s3, QUALITY_REPORT)}  # fmt: skip
    assert f"{METRICS_FOLDER}/{MODEL_METRICS_FILE}" in uploaded and VIOLATIONS_FILE in uploaded
    assert uploaded == offline
    violations = parse_quality_violations(offline[VIOLATIONS_FILE].decode())
    assert result[RunnerResult.VIOLATIONS] == len(violations) == 1  # accuracy below 0.99
    assert result[RunnerResult.STATUS] == exit_message(1)[0]


def test_a_model_quality_run_without_labels_fails_with_the_no_data_error(s3, work_dir, tmp_path):
    quality_inputs(tmp_path, s3)
    with pytest.raises(NoCapturedData, match=f"^{NO_DATA_REASON}"):
        runner_handler.handler({**quality_event(), RunnerEvent.LABELS_END: QUALITY_WINDOW[1]}, None)


def test_model_quality_attributes_are_required():
    with pytest.raises(PropertiesError, match="qualityAttributes=None: give an object with problem_type"):
        RunRequest.of({key: value for key, value in quality_event().items() if key != RunnerEvent.QUALITY_ATTRIBUTES})


# --- the package ------------------------------------------------------------------------------------


def built(target: Target, staging: Path) -> Path:
    if not wheel_files(target):
        pytest.skip(f"no {target.name} wheels: run `python -m scripts.lambda_wheels --python {target.python} "
                    f"--machine {target.machine}` (make setup fetches the Lambda's)")
    return build_package(staging, target)


@pytest.fixture(scope="module")
def staging(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner-package")


def needed_libraries(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def test_the_lambda_package_is_trimmed_under_the_limit_and_links(staging):
    folder = built(LAMBDA_TARGET, staging)
    assert folder_bytes(folder) < LAMBDA_UNZIPPED_LIMIT
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    assert not [name for name in files if trimmed(name)]
    assert {"runner/handler.py", "analyzer/monitor.py", "contract/processing.py"} <= set(files)
    assert not any(name.startswith(("pyarrow/include/", "pyarrow/libarrow_flight")) for name in files)
    assert build_package(staging, LAMBDA_TARGET) == folder  # unchanged: reused, not rebuilt
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is missing: the kept libraries' links are not checked")
    kept = {Path(name).name for name in files}
    # The Lambda image's own (Amazon Linux 2023 base; libz: Python's zlib module links it too).
    system = ("libc.", "libm.", "libdl.", "librt.", "libpthread.", "libstdc++.", "libgcc_s.", "ld-linux", "libz.")
    for name in files:
        if ".so" in Path(name).name:
            missing = [lib for lib in needed_libraries(folder / name) if lib not in kept and not lib.startswith(system)]
            assert not missing, f"{name} needs {missing}, trimmed away"


def test_missing_wheels_name_make_setup(tmp_path):
    with pytest.raises(WheelsMissingError, match="make setup"):
        build_package(tmp_path, Target(python="3.99", machine="x86_64"))


def test_the_trimmed_package_runs_the_handler_in_an_isolated_python(s3, baseline, staging, tmp_path):
    """The Lambda's arm64 build cannot run here: the same build, trimming included, for x86_64 and the
    local Python 3.13 runs the handler in `python -I -B` (no site-packages, no PYTHONPATH, nothing written
    into the package) as Lambda would."""
    if not LOCAL_PYTHON.exists():
        pytest.skip(f"{LOCAL_PYTHON} (pyenv 3.13.0) is missing: the local build cannot be run")
    folder = built(LOCAL_TARGET, staging)
    captures = hour_of_captures(tmp_path / "captures")
    upload(s3, captures, baseline)
    runtime = runtime_stand_in(tmp_path / "runtime")
    script = (
        "import json, sys; sys.path[:0] = sys.argv[1:3]; import runner.handler, numpy, pyarrow; "
        "assert numpy.__file__.startswith(sys.argv[1]) and pyarrow.__file__.startswith(sys.argv[1]); "
        "print(json.dumps(runner.handler.handler(json.loads(sys.argv[3]), None)))"
    )
    env = {**os.environ, RunnerEnv.WORK_DIR: str(tmp_path / "work")}
    payload = json.dumps(event(folders=BOTH_FOLDERS))
    out = subprocess.run([str(LOCAL_PYTHON), "-I", "-B", "-c", script, str(folder), str(runtime), payload],
                         env=env, capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.splitlines()[-1])[RunnerResult.REPORT_URI] == f"s3://{BUCKET}/{REPORT}"
    cli_monitor(captures, baseline, tmp_path / "cli")
    for name in REPORT_FILES:
        body = s3.get_object(Bucket=BUCKET, Key=f"{REPORT}/{name}")["Body"].read()
        assert body == (tmp_path / "cli" / name).read_bytes(), name


# --- the construct ----------------------------------------------------------------------------------


def runner_stack(staging: Path, props_type: type = MonitoringProps) -> tuple[App, Stack, LambdaRunner]:
    app = App()
    stack = Stack(app, "RunnerTest")
    monitoring = props_type(
        endpoint_name=ENDPOINT, variant_name=VARIANT, bucket_name=BUCKET,
        key=kms.Key(stack, "Key", enable_key_rotation=True),
        schedule_expression="cron(0 * ? * * *)", instance_type="ml.m5.large", max_runtime_seconds=3600,
        image=AnalyzerImage(uri="unused", repository="unused"), statistics_uri=f"s3://{BUCKET}/{JOB}/s",
        constraints_uri=f"s3://{BUCKET}/{JOB}/c", baseline_job_name=JOB, baseline_id="1",
    )  # fmt: skip
    props = LambdaRunnerProps(monitoring=monitoring, memory_mb=1769, timeout_seconds=300, log_retention_days=30,
                              retain_logs=False, staging_root=staging)  # fmt: skip
    return app, stack, LambdaRunner(stack, "Runner", props)


def test_the_construct_is_an_arm64_function_with_a_scoped_role(staging):
    built(LAMBDA_TARGET, staging)
    _, stack, runner = runner_stack(staging)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::Lambda::Function", {
        "Runtime": f"python{LAMBDA_TARGET.python}", "Architectures": ["arm64"], "MemorySize": 1769, "Timeout": 300,
        "Handler": "runner.handler.handler", "EphemeralStorage": {"Size": 2048},
    })  # fmt: skip
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    statements = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert f"{capture_prefix(ENDPOINT, VARIANT)}*" in statements
    assert f"{report_prefix(ENDPOINT, SCHEDULE)}*" in statements
    assert "cloudwatch:PutMetricData" not in statements  # the state machine publishes the metrics file
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "WriteReports", "Action": "s3:PutObject"})])}})  # fmt: skip


def test_a_model_quality_runner_also_reads_the_labels(staging):
    built(LAMBDA_TARGET, staging)
    statements = json.dumps(Template.from_stack(runner_stack(staging, ModelQualityProps)[1]).find_resources(
        "AWS::IAM::Policy"))  # fmt: skip
    assert f"{ground_truth_prefix(ENDPOINT)}/*" in statements
    plain = json.dumps(Template.from_stack(runner_stack(staging)[1]).find_resources("AWS::IAM::Policy"))
    assert ground_truth_prefix(ENDPOINT) not in plain


@pytest.mark.parametrize("props_type", [MonitoringProps, ModelQualityProps], ids=["data", "model"])
def test_the_construct_passes_cdk_nag_and_cfn_lint(staging, tmp_path, props_type):
    built(LAMBDA_TARGET, staging)
    app, stack, _ = runner_stack(staging, props_type)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # raises on any unacknowledged finding
    template = Path(assembly.directory) / stack.template_file
    lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(lint), "--format", "parseable", str(template)], capture_output=True, text=True)
    # Errors fail (as `make cfn-lint`); so does any warning but CDK's own redundant DependsOn (W3005).
    findings = [line for line in result.stdout.splitlines() if ":W3005:" not in line]
    assert result.returncode & 2 == 0 and not findings, result.stdout
