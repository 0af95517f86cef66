"""The self-hosted engine's model-quality schedule: its template, its state machine's JSONata evaluated
for chosen scheduled hours, and its job run locally exactly as synthesized.

The local run is `tests/test_self_hosted_job.py`'s: the RunAnalyzer arguments evaluated for one
scheduled hour, each input copied from a fake bucket folder to its LocalPath (/opt/ml under a temporary
folder), the code zip the CDK CLI publishes, the declared environment and entrypoint. It must write
the same files as `python -m analyzer monitor-model-quality` on the same captures, labels and windows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from contract.events import JOB_FAILED_ERROR, NO_DATA_ERROR, NO_LABELS_ERROR
from contract.ground_truth import ground_truth_line, label_file_key
from contract.layout import ground_truth_prefix, hour_folder, model_quality_schedule_name
from contract.metrics import MODEL_METRICS_FILE
from contract.model_quality import LABEL_COLUMN, NAMESPACE, PREDICTION_COLUMN, PROBABILITY_COLUMN
from contract.processing import CODE_INPUT, CONSTRAINTS_INPUT, NO_DATA_REASON, Env, exit_message
from model import synthetic
from stacks.app_builder import DEFAULT_MONITORING_SOURCES, build_environment
from stacks.config import load_config
from tests.self_hosted_definition import (
    DATA_QUALITY,
    MODEL_QUALITY,
    evaluate,
    processing_job,
    render,
    state_machine_definition,
    walk,
    window_variables,
)
from tests.stack_fixtures import (
    build_app,
    cdk_context,
    fake_baseline_dataset,
    fake_model_artifact,
    fake_validation_dataset,
    templates,
)
from tests.test_self_hosted_job import code_zip, run_locally
from workshop.capture import CaptureConfig, capture_key, capture_record

ENVS = ("dev", "prod")
SCHEDULED = "2024-03-01T05:00:00Z"  # captures of 2024-02-29T04 (leap day), labels collected up to T


def config(env: str):
    return load_config(cdk_context(), env_name=env, engine="self-hosted")


def template(env: str) -> dict:
    return templates(env, "self-hosted")["monitoring"].to_json()


def of_type(resources: dict, resource_type: str, prefix: str) -> dict[str, dict]:
    return {k: v for k, v in resources.items() if v["Type"] == resource_type and k.startswith(prefix)}


def definition_with_offsets(start: str, end: str) -> dict:
    """The model-quality state machine of dev with a hand-made window (offsets), synthesized."""
    context = cdk_context()
    settings = config("dev")
    settings = replace(settings, model_quality=replace(settings.model_quality, start_time_offset=start,
                                                       end_time_offset=end))  # fmt: skip
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset(),
                      validation_dataset=fake_validation_dataset())  # fmt: skip
    stacks = build_environment(App(context=context), settings, model_artifact_path=fake_model_artifact(),
                               monitoring_sources=sources)  # fmt: skip
    return state_machine_definition(Template.from_stack(stacks.monitoring).to_json(), MODEL_QUALITY)


def run_inputs(definition: dict, scheduled: str) -> tuple[dict, list[dict]]:
    variables = window_variables(definition, {"scheduledTime": scheduled})
    return variables, processing_job(definition, variables)["ProcessingInputs"]


# --- the template ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_a_second_schedule_starts_the_model_quality_state_machine(env):
    resources = template(env)["Resources"]
    settings = config(env)
    ((machine_id, _),) = of_type(resources, "AWS::StepFunctions::StateMachine", f"{MODEL_QUALITY}StateMachine").items()
    ((_, schedule),) = of_type(resources, "AWS::Scheduler::Schedule", MODEL_QUALITY).items()
    properties = schedule["Properties"]
    assert properties["Name"] == model_quality_schedule_name(settings.endpoint_name)
    assert properties["ScheduleExpression"] == settings.model_quality.schedule_expression
    assert properties["Target"]["Arn"] == {"Ref": machine_id}
    assert json.loads(properties["Target"]["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
    # The data-quality schedule is still there, with its own name.
    ((_, data_quality),) = of_type(resources, "AWS::Scheduler::Schedule", DATA_QUALITY).items()
    assert data_quality["Properties"]["Name"] == f"{settings.endpoint_name}-data-quality"


@pytest.mark.parametrize("env", ENVS)
def test_the_job_states_have_the_data_quality_runs_shape(env):
    definition = state_machine_definition(template(env), MODEL_QUALITY)
    states, data_quality = definition["States"], state_machine_definition(template(env), DATA_QUALITY)["States"]
    for name in ("FindJob", "JobState", "WaitForJob", "CreateFailed", "Done"):
        assert states[name] == data_quality[name], name
    assert states["PublishMetrics"]["Items"] == data_quality["PublishMetrics"]["Items"]
    assert states["PublishMetrics"]["ItemProcessor"]["States"]["PutMetricData"]["Arguments"]["Namespace"] == NAMESPACE
    run = states["RunAnalyzer"]
    assert [r["ErrorEquals"] for r in run["Retry"]] == [["SageMaker.ResourceLimitExceededException"]]
    assert run["Catch"] == data_quality["RunAnalyzer"]["Catch"]
    assert run["Catch"][0]["ErrorEquals"] == ["States.ALL"] and run["Catch"][0]["Next"] == "WaitForJob"
    assert run["Next"] == "ReadMetrics"
    assert states["ReadMetrics"]["Catch"] == [{"ErrorEquals": ["S3.NoSuchKeyException"], "Next": "Done"}]
    # A failed job ends the run with its reason and both windows.
    variables = window_variables(definition, {"scheduledTime": SCHEDULED})
    job = {"ProcessingJobStatus": "Failed", "FailureReason": "AlgorithmError: boom", "ExitMessage": "Traceback"}
    assert evaluate(states["JobFailed"]["Error"], {"input": job}, variables) == JOB_FAILED_ERROR
    endpoint = config(env).endpoint_name
    assert json.loads(evaluate(states["JobFailed"]["Cause"], {"input": job}, variables)) == {
        "ProcessingJobName": f"{endpoint}-model-quality-2024030105", **job,
        "Environment": {Env.START_TIME: "2024-02-29T04:00:00Z", Env.END_TIME: "2024-02-29T05:00:00Z",
                        Env.GROUND_TRUTH_START_TIME: "2024-02-29T04:00:00Z",
                        Env.GROUND_TRUTH_END_TIME: "2024-03-01T05:00:00Z"},
    }  # fmt: skip


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(
    ("scheduled", "days"),
    [(SCHEDULED, ["2024/02/29", "2024/03/01"]), ("2024-03-01T00:00:00Z", ["2024/02/28", "2024/02/29"]),
     ("2025-01-01T23:00:00Z", ["2024/12/31", "2025/01/01"])],
)  # fmt: skip
def test_the_default_window_reads_one_capture_hour_and_two_label_days(env, scheduled, days):
    settings = config(env)
    endpoint = settings.endpoint_name
    variables, inputs = run_inputs(state_machine_definition(template(env), MODEL_QUALITY), scheduled)
    moment = datetime.fromisoformat(scheduled)
    capture_hour = hour_folder(moment - timedelta(hours=25))
    assert variables["reportFolder"] == f"reports/{endpoint}/{endpoint}-model-quality/{hour_folder(moment)}"
    assert variables["jobName"] == f"{endpoint}-model-quality-{moment:%Y%m%d%H}"
    assert len(inputs) == settings.model_quality.capture_hours + settings.model_quality.label_days + 2
    bucket = f"s3://churn-monitor-{env}-123456789012-eu-west-1/"
    assert [(i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"]) for i in inputs[:3]] == [
        (f"{bucket}datacapture/{endpoint}/AllTraffic/{capture_hour}/",
         f"/opt/ml/processing/input_data/{endpoint}/AllTraffic/{capture_hour}"),
        *((f"{bucket}ground-truth/{endpoint}/{day}/", f"/opt/ml/processing/groundtruth/{day}") for day in days),
    ]  # fmt: skip
    assert [i["InputName"] for i in inputs[3:]] == [CONSTRAINTS_INPUT, CODE_INPUT]
    assert len({i["InputName"] for i in inputs}) == len(inputs)


def test_a_hand_made_window_reads_each_capture_hour_and_only_the_label_days_it_touches():
    definition = definition_with_offsets("-PT5H", "-PT2H")
    # Labels of [07:00, 12:00) lie in one day; captures of [07:00, 10:00) in three hour folders.
    variables, inputs = run_inputs(definition, "2024-03-01T12:00:00Z")
    assert variables["captureFolders"] == ["2024/03/01/07", "2024/03/01/08", "2024/03/01/09"]
    assert variables["labelDays"] == ["2024/03/01"]
    assert [i["S3Input"]["LocalPath"] for i in inputs[:4]] == [
        *(f"/opt/ml/processing/input_data/churn-dev/AllTraffic/2024/03/01/{hour}" for hour in ("07", "08", "09")),
        "/opt/ml/processing/groundtruth/2024/03/01",
    ]
    assert len(inputs) == 3 + 1 + 2
    # Labels of [2024-02-29T22:00, 2024-03-01T03:00): two days; captures cross midnight too.
    variables, inputs = run_inputs(definition, "2024-03-01T03:00:00Z")
    assert variables["captureFolders"] == ["2024/02/29/22", "2024/02/29/23", "2024/03/01/00"]
    assert variables["labelDays"] == ["2024/02/29", "2024/03/01"]
    assert len(inputs) == 3 + 2 + 2
    environment = processing_job(definition, variables)["Environment"]
    assert (environment[Env.START_TIME], environment[Env.END_TIME]) == ("2024-02-29T22:00:00Z", "2024-03-01T01:00:00Z")
    assert (environment[Env.GROUND_TRUTH_START_TIME], environment[Env.GROUND_TRUTH_END_TIME]) == (
        "2024-02-29T22:00:00Z", "2024-03-01T03:00:00Z")  # fmt: skip


@pytest.mark.parametrize("env", ENVS)
def test_the_state_machine_may_list_both_prefixes_read_its_metrics_and_publish_model_metrics_only(env):
    resources = template(env)["Resources"]
    endpoint = config(env).endpoint_name
    policies = of_type(resources, "AWS::IAM::Policy", f"{MODEL_QUALITY}StateMachineRole")
    statements = {s.get("Sid"): s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["FindCaptures"]["Condition"] == {
        "StringLike": {"s3:prefix": [f"datacapture/{endpoint}/AllTraffic/*"]}}
    assert statements["FindLabels"]["Condition"] == {"StringLike": {"s3:prefix": [f"ground-truth/{endpoint}/*"]}}
    assert render(statements["ReadMetricsFiles"]["Resource"]) == (
        f"arn:aws:s3:::churn-monitor-{env}-123456789012-eu-west-1/reports/{endpoint}/{endpoint}-model-quality/*/"
        f"metrics/{MODEL_METRICS_FILE}")  # fmt: skip
    assert statements["PublishModelQualityMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": NAMESPACE}}
    assert "PublishDataQualityMetrics" not in statements
    job = of_type(resources, "AWS::IAM::Policy", f"{MODEL_QUALITY}JobRole")
    job_actions = {a for p in job.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}  # fmt: skip
    assert "cloudwatch:PutMetricData" not in job_actions


# --- the input checks ------------------------------------------------------------------------------


def list_objects(keys: list[str], arguments: dict) -> dict:
    """ListObjectsV2 over a bucket holding `keys`: Prefix, StartAfter and MaxKeys as S3 applies them."""
    found = sorted(k for k in keys if k.startswith(arguments["Prefix"]) and k > arguments.get("StartAfter", ""))
    found = found[: arguments["MaxKeys"]]
    return {"KeyCount": len(found), **({"Contents": [{"Key": k} for k in found]} if found else {})}


def check_inputs(definition: dict, keys: list[str]) -> dict:
    """Walk the input checks against a bucket holding `keys`, up to the run (SizeWindow, which routes it:
    cdk.json's monitoring_runner is auto; FindJob with processing) or a failure."""
    variables = window_variables(definition, {"scheduledTime": SCHEDULED})
    states = definition["States"]
    outcomes = {
        name: [list_objects(keys, evaluate(states[name]["Arguments"], {"input": {}}, variables))]
        for name in ("FindCaptures", "FindLabels")
    }
    return walk(definition, "FindCaptures", variables, outcomes, stop_at=RUN_STATES)


# Where the input checks lead: the routing to a runner, or (monitoring_runner processing) the job.
RUN_STATES = ("SizeWindow", "FindJob")
CAPTURE = "datacapture/churn-dev/AllTraffic/"
LABEL = "ground-truth/churn-dev/"
BUCKET_URI = "s3://churn-monitor-dev-123456789012-eu-west-1/"


@pytest.mark.parametrize(
    ("captures", "labels", "path_end", "cause"),
    [
        ([], [f"{LABEL}2024/02/29/10/0000.jsonl"], "NoCaptures",
         f"{NO_DATA_REASON}: no capture file under {BUCKET_URI}{CAPTURE} in the hour folders 2024/02/29/04 up to "
         "(not including) 2024/02/29/05 (the captures of 2024-02-29T04:00:00Z to 2024-02-29T05:00:00Z)"),
        # Captures only in the hours either side of the window's.
        ([f"{CAPTURE}2024/02/29/03/59-00-000-a.jsonl", f"{CAPTURE}2024/02/29/05/00-00-000-a.jsonl"],
         [f"{LABEL}2024/02/29/10/0000.jsonl"], "NoCaptures", None),
        ([f"{CAPTURE}2024/02/29/04/10-00-000-a.jsonl"], [], "NoLabels",
         f"{NO_DATA_REASON}: no ground-truth label under {BUCKET_URI}{LABEL} in the hour folders 2024/02/29/04 up "
         "to (not including) 2024/03/01/05 (the labels collected from 2024-02-29T04:00:00Z to 2024-03-01T05:00:00Z)"),
        # Labels collected before the window's start, or in the scheduled hour itself (after the run).
        ([f"{CAPTURE}2024/02/29/04/10-00-000-a.jsonl"],
         [f"{LABEL}2024/02/29/03/0000.jsonl", f"{LABEL}2024/03/01/05/0000.jsonl"], "NoLabels", None),
    ],
)  # fmt: skip
def test_an_empty_side_of_the_join_fails_the_run_naming_the_prefix_and_window(captures, labels, path_end, cause):
    walked = check_inputs(state_machine_definition(template("dev"), MODEL_QUALITY), captures + labels)
    assert walked["path"][-1] == path_end
    assert walked["error"] == (NO_LABELS_ERROR if path_end == "NoLabels" else NO_DATA_ERROR)
    assert walked["cause"].startswith(NO_DATA_REASON)
    if cause:
        assert walked["cause"] == cause
    assert ("FindLabels" in walked["path"]) == (path_end == "NoLabels")


def test_with_captures_and_labels_in_the_window_the_run_goes_on_to_be_routed():
    definition = state_machine_definition(template("dev"), MODEL_QUALITY)
    keys = [f"{CAPTURE}2024/02/29/04/59-59-999-a.jsonl", f"{LABEL}2024/03/01/04/5959.jsonl"]
    walked = check_inputs(definition, keys)
    assert walked["path"] == ["FindCaptures", "HasCaptures", "FindLabels", "HasLabels", "SizeWindow"]
    # An S3 error of a check is retried.
    variables = window_variables(definition, {"scheduledTime": SCHEDULED})
    outcomes = {"FindCaptures": [{"Error": "S3.S3Exception", "Cause": "SlowDown"}, list_objects(keys, {
        "Prefix": CAPTURE, "StartAfter": f"{CAPTURE}2024/02/29/04", "MaxKeys": 1})],  # fmt: skip
        "FindLabels": [list_objects(keys, {"Prefix": LABEL, "StartAfter": f"{LABEL}2024/02/29/04", "MaxKeys": 1})]}
    walked = walk(definition, "FindCaptures", variables, outcomes, stop_at=RUN_STATES)
    assert walked["path"][:2] == ["FindCaptures", "FindCaptures (retry)"] and walked["path"][-1] == "SizeWindow"


# --- the job, run locally ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthesized():
    _, stacks = build_app("dev", "self-hosted")
    return Template.from_stack(stacks.monitoring).to_json(), stacks.monitoring.analyzer_code.staged_dir


def write_captures(bucket: Path, hour: datetime, n_rows: int, seed: int) -> list[str]:
    """An hour of capture files (one per minute, each request with an inferenceId); returns the ids."""
    config = CaptureConfig(destination=str(bucket / "datacapture"), endpoint_name="churn-dev")
    rows = synthetic.generate_rows(n_rows, seed=seed, label=False)
    scores = np.random.default_rng(seed).random(n_rows)
    files: dict[str, list[str]] = {}
    ids = []
    for i, (row, score) in enumerate(zip(rows, scores, strict=True)):
        time = hour + timedelta(seconds=i * 3599 // n_rows)
        inference_id = f"{hour:%d%H}-{i}"
        key = capture_key(config, time.replace(second=0), str(uuid.UUID(int=time.minute)))
        record = capture_record(config, time, ",".join(row).encode(), "text/csv", f"{score:.6f}\n".encode(),
                                "text/csv; charset=utf-8", str(uuid.UUID(int=seed * 10_000 + i)), inference_id)
        files.setdefault(key, []).append(json.dumps(record))  # fmt: skip
        ids.append(inference_id)
    for key, lines in files.items():
        path = bucket / "datacapture" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return ids


def write_labels(bucket: Path, collected: datetime, labels: list[tuple[str, int]]) -> int:
    path = bucket / label_file_key(ground_truth_prefix("churn-dev"), collected)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ground_truth_line(key, label) for key, label in labels))
    return len(labels)


def fake_bucket(bucket: Path) -> int:
    """Captures of the window's hour and of the hours either side; labels collected in the window and
    outside it (these would change the results if read: a later label of a key replaces an earlier one).
    Returns how many label lines were collected in the window."""
    window = datetime(2024, 2, 29, 4, tzinfo=UTC)
    ids = write_captures(bucket, window, 600, seed=5)
    before, after = (write_captures(bucket, window + timedelta(hours=h), 80, seed=6 + h) for h in (-1, 1))
    rng = np.random.default_rng(7)
    truth = {key: int(rng.random() < 0.3) for key in ids}
    in_window = 0
    for day in range(25):  # the labels of the hour's captures arrive over the next day
        collected = window + timedelta(hours=day, minutes=29, seconds=10)
        in_window += write_labels(bucket, collected, [(key, truth[key]) for key in ids[day::25]])
    in_window += write_labels(bucket, window + timedelta(hours=3), [(key, truth[key]) for key in ids[:40]])
    in_window += write_labels(bucket, window + timedelta(hours=5), [(key, 1) for key in before[:30]])
    flipped = [(key, 1 - truth[key]) for key in ids[:200]]
    write_labels(bucket, window - timedelta(hours=1), flipped)  # collected before the window: skipped
    write_labels(bucket, window + timedelta(hours=25), flipped)  # in the scheduled hour, in a copied day folder
    write_labels(bucket, window - timedelta(hours=6), flipped)  # the day before: not copied at all
    write_labels(bucket, window + timedelta(hours=26), [(key, 1) for key in after])
    return in_window


def quality_baseline(folder: Path) -> Path:
    """A model-quality baseline (constraints) from a validation set with predictions."""
    rng = np.random.default_rng(3)
    labels = rng.random(400) < 0.3
    scores = np.clip(labels * 0.35 + rng.random(400) * 0.65, 0, 1)
    dataset = folder / "validation.csv"
    dataset.parent.mkdir(parents=True, exist_ok=True)
    dataset.write_text(f"{PROBABILITY_COLUMN},{PREDICTION_COLUMN},{LABEL_COLUMN}\n" + "".join(
        f"{s:.6f},{int(s > 0.5)},{int(y)}\n" for s, y in zip(scores, labels, strict=True)))  # fmt: skip
    analyzer(["suggest-baseline", "--dataset", str(dataset), "--output", str(folder / "baseline"), "--problem-type",
              "BinaryClassification", "--probability-attribute", PROBABILITY_COLUMN, "--inference-attribute",
              PREDICTION_COLUMN, "--ground-truth-attribute", LABEL_COLUMN])  # fmt: skip
    return folder / "baseline" / "constraints.json"


def analyzer(arguments: list[str]) -> None:
    cli = subprocess.run([sys.executable, "-m", "analyzer", *arguments], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert cli.returncode == 0, cli.stderr


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_offline(bucket: Path, constraints: Path, environment: dict, offline: Path) -> Path:
    """`monitor-model-quality` on the whole fake bucket, with the job's attributes and windows."""
    analyzer(["monitor-model-quality", "--problem-type", environment[Env.PROBLEM_TYPE],
              "--captures", str(bucket / "datacapture"),
              "--ground-truth", str(bucket / ground_truth_prefix("churn-dev")),
              "--constraints", str(constraints), "--output", str(offline),
              "--probability-attribute", environment[Env.PROBABILITY_ATTRIBUTE],
              "--probability-threshold", environment[Env.PROBABILITY_THRESHOLD],
              "--start", environment[Env.START_TIME], "--end", environment[Env.END_TIME],
              "--ground-truth-start", environment[Env.GROUND_TRUTH_START_TIME],
              "--ground-truth-end", environment[Env.GROUND_TRUTH_END_TIME],
              "--endpoint", environment[Env.ENDPOINT_NAME], "--schedule", environment[Env.SCHEDULE_NAME]])  # fmt: skip
    return offline


def check_published_metrics(definition: dict, variables: dict, request: dict, job_metrics: Path) -> None:
    """The metrics file lands where the state machine reads it, and publishes in whole batches."""
    environment = request["Environment"]
    metrics_output = next(o["S3Output"] for o in request["ProcessingOutputConfig"]["Outputs"]
                          if o["OutputName"] == "metrics")  # fmt: skip
    assert metrics_output["LocalPath"] == environment[Env.METRICS_PATH]
    read_key = evaluate(definition["States"]["ReadMetrics"]["Arguments"]["Key"], {"input": {}}, variables)
    assert metrics_output["S3Uri"].removeprefix(BUCKET_URI) + "/" + MODEL_METRICS_FILE == read_key
    document = json.loads(job_metrics.read_text())
    assert document["Namespace"] == NAMESPACE
    data = document["MetricData"]
    assert {tuple(sorted((d["Name"], d["Value"]) for d in datum["Dimensions"])) for datum in data} == {
        (("Endpoint", "churn-dev"), ("MonitoringSchedule", "churn-dev-model-quality"))}
    batches = evaluate(definition["States"]["PublishMetrics"]["Items"], {"input": data})
    assert [datum for batch in batches for datum in batch["MetricData"]] == data


def test_the_synthesized_job_runs_locally_and_matches_the_offline_analyzer(synthesized, tmp_path):
    template_json, staged_dir = synthesized
    definition = state_machine_definition(template_json, MODEL_QUALITY)
    variables = window_variables(definition, {"scheduledTime": SCHEDULED})
    request = processing_job(definition, variables)
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in request["ProcessingInputs"]}
    code = code_zip(staged_dir, tmp_path / "assets" / inputs[CODE_INPUT].rsplit("/", 1)[1])
    constraints = quality_baseline(tmp_path / "baseline-job")
    bucket = tmp_path / "bucket"
    in_window = fake_bucket(bucket)

    # The inputs as SageMaker copies them: an S3Prefix input is the bucket folder under its key.
    objects = {inputs[CODE_INPUT]: code, inputs[CONSTRAINTS_INPUT]: constraints}
    for uri in inputs.values():
        if uri.startswith(BUCKET_URI):
            objects[uri] = bucket / uri.removeprefix(BUCKET_URI)
            assert objects[uri].is_dir(), uri
    assert len(objects) == len(inputs) == 5
    process, env = run_locally(request, tmp_path / "monitoring-job", objects)
    assert process.returncode == 0, process.stderr

    environment = request["Environment"]
    assert [environment[name] for name in (Env.START_TIME, Env.END_TIME, Env.GROUND_TRUTH_START_TIME,
            Env.GROUND_TRUTH_END_TIME)] == [f"2024-02-29T0{h}:00:00Z" for h in (4, 5, 4)] + ["2024-03-01T05:00:00Z"]
    offline = run_offline(bucket, constraints, environment, tmp_path / "offline")

    job_files = files_under(Path(env["output_path"]))
    offline_files = files_under(offline)
    metrics_file = f"metrics/{MODEL_METRICS_FILE}"
    assert {"statistics.json", "constraint_violations.json", "merge_summary.json"} <= set(job_files)
    assert sorted(job_files) == sorted(name for name in offline_files if name != metrics_file)
    for name, content in job_files.items():
        assert content == offline_files[name], name
    violations = json.loads(job_files["constraint_violations.json"])["violations"]
    assert violations  # the scores are random: AUC and the others fall below the baseline's
    assert Path(env["output_message_file"]).read_text() == exit_message(len(violations))[1]
    job_metrics = Path(env[Env.METRICS_PATH]) / MODEL_METRICS_FILE
    assert job_metrics.read_bytes() == offline_files[metrics_file]

    # Only the labels collected in the window were read (the flipped ones outside it were not).
    summary = json.loads(job_files["merge_summary.json"])
    assert summary["labels"] == in_window
    assert summary["matched"] == summary["captures"] == 600

    check_published_metrics(definition, variables, request, job_metrics)
