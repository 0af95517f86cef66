"""The self-hosted runs' routing to the Lambda runner or the Processing job, as synthesized for dev and prod
(`monitoring_runner` auto in cdk.json; processing and lambda synthesized here), evaluated state by state
with the JSONata walker: the window's sizing, the Lambda's failures (fallback to the job, or the run's
end in the cause the alerts read), and the completion event the alerts Lambda turns into the job's alert.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import replace

import pytest
from alerts import events as alert_events
from alerts import handler as alerts_handler
from aws_cdk import App
from aws_cdk.assertions import Template
from runner.runner import RunRequest

from contract.events import JOB_FAILED_ERROR, RUNNER_EVENT, RUNNER_SOURCE
from contract.lambdas import RUNNER_FAILED_ERROR, RUNNER_NO_DATA_ERROR, RunnerEvent, RunnerResult
from contract.layout import VIOLATIONS_FILE
from contract.processing import ENDPOINT_INPUT, ENDPOINT_INPUT_PATH, NO_DATA_REASON, exit_message
from stacks.app_builder import DEFAULT_MONITORING_SOURCES, build_environment
from stacks.config import load_config
from stacks.constructs.runner_route import FALLBACK_ERRORS, LAMBDA_SERVICE_ERRORS
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
from tests.stack_fixtures import cdk_context, fake_baseline_dataset, fake_model_artifact, fake_validation_dataset
from tests.stack_fixtures import templates as default_templates
from tests.test_alert_handler import route
from tests.test_alert_model_quality import analyzer_report, job_event, subscribers  # noqa: F401 (a fixture)

ENVS = ("dev", "prod")
SCHEDULES = (DATA_QUALITY, MODEL_QUALITY)
SCHEDULED = {DATA_QUALITY: "2024-05-01T11:00:00Z", MODEL_QUALITY: "2026-01-02T11:00:00Z"}
ROUTING_STATES = ("SizeWindow", "Route", "RunLambda", "RunnerFailed", "NotifyRun")
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:churn-dev-model-quality:run-1"


def config(env: str, runner: str | None = None):
    loaded = load_config(cdk_context(), env_name=env, engine="self-hosted")
    return replace(loaded, monitoring_runner=runner) if runner else loaded


@functools.cache
def template(env: str, runner: str | None = None) -> dict:
    """The monitoring stack of `env` (cdk.json's runner, or `runner`)."""
    if runner is None:
        return default_templates(env, "self-hosted")["monitoring"].to_json()
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset(),
                      validation_dataset=fake_validation_dataset())
    stacks = build_environment(App(context=cdk_context()), config(env, runner),
                               model_artifact_path=fake_model_artifact(), monitoring_sources=sources)
    return Template.from_stack(stacks.monitoring).to_json()


def definition(env: str, schedule: str, runner: str | None = None) -> dict:
    return state_machine_definition(template(env, runner), schedule)


def variables(machine: dict, schedule: str) -> dict:
    return window_variables(machine, {"scheduledTime": SCHEDULED[schedule]})


def listing(keys: list[tuple[str, int]], arguments: dict) -> dict:
    """ListObjectsV2 over a bucket of (key, size): Prefix, StartAfter and MaxKeys as S3 applies them."""
    found = sorted(k for k in keys if k[0].startswith(arguments["Prefix"]) and k[0] > arguments["StartAfter"])
    page = found[: arguments["MaxKeys"]]
    return {"KeyCount": len(page), "IsTruncated": len(found) > len(page),
            **({"Contents": [{"Key": key, "Size": size} for key, size in page]} if page else {})}


def capture_inputs(job: dict) -> list[str]:
    """The S3 folders of the job's capture inputs (data quality: one; model quality: one per hour)."""
    return [i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]
            if i["InputName"] == ENDPOINT_INPUT or i["InputName"].startswith(f"{ENDPOINT_INPUT}_")]


def size_and_route(env: str, schedule: str, files: int, size: int, later_files: int = 1) -> dict:
    """Walk SizeWindow and Route over `files` objects of `size` bytes in the job's capture folder, plus
    `later_files` in the next hour's folder."""
    machine = definition(env, schedule)
    values = variables(machine, schedule)
    (uri,) = capture_inputs(processing_job(machine, values))
    folder = uri.split("/", 3)[3]  # the key prefix, after s3://bucket/
    later = folder[:-3] + f"{int(folder[-3:-1]) + 1:02d}/"
    keys = [(f"{folder}{i:05d}.jsonl", size) for i in range(files)] + [(f"{later}{i:05d}.jsonl", 9)
                                                                       for i in range(later_files)]
    arguments = evaluate(machine["States"]["SizeWindow"]["Arguments"], {"input": {}}, values)
    return walk(machine, "SizeWindow", values, {"SizeWindow": [listing(keys, arguments)]},
                stop_at=("RunLambda", "FindJob"))


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("env", ENVS)
def test_the_window_is_sized_on_the_jobs_capture_folders_with_the_configured_limits(env, schedule):
    machine, limits = definition(env, schedule), config(env).lambda_runner
    states = machine["States"]
    check = "HasCaptures" if schedule == DATA_QUALITY else "HasLabels"
    assert states[check]["Choices"][0]["Next"] == "SizeWindow"
    assert states["SizeWindow"]["Arguments"]["MaxKeys"] == limits.max_window_objects
    assert states["Route"]["Default"] == "FindJob" and states["Route"]["Choices"][0]["Next"] == "RunLambda"
    small = size_and_route(env, schedule, files=3, size=1000)
    assert small["path"] == ["SizeWindow", "Route", "RunLambda"]
    assert small["variables"]["windowSize"] == {"objects": 3, "bytes": 3000, "complete": True}
    # Just within, just over the byte limit.
    each = limits.max_window_bytes // 4
    assert size_and_route(env, schedule, files=4, size=each)["path"][-1] == "RunLambda"
    big = size_and_route(env, schedule, files=4, size=each + 1)
    assert big["path"][-1] == "FindJob" and big["variables"]["windowSize"]["bytes"] > limits.max_window_bytes
    # A listing truncated inside the window cannot size it: the job runs the hour.
    truncated = size_and_route(env, schedule, files=limits.max_window_objects + 5, size=10)
    assert truncated["variables"]["windowSize"]["complete"] is False and truncated["path"][-1] == "FindJob"
    # Truncated after the window (later hours fill the page): sized, and small.
    after = size_and_route(env, schedule, files=5, size=10, later_files=limits.max_window_objects)
    assert after["variables"]["windowSize"] == {"objects": 5, "bytes": 50, "complete": True}
    assert after["path"][-1] == "RunLambda"


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("env", ENVS)
def test_each_schedule_has_its_lambda_runner_sized_from_config(env, schedule):
    resources, limits = template(env)["Resources"], config(env).lambda_runner
    (function,) = [r["Properties"] for k, r in resources.items()
                   if r["Type"] == "AWS::Lambda::Function" and k.startswith(f"{schedule}RunnerFunction")]
    assert (function["MemorySize"], function["Timeout"], function["EphemeralStorage"]["Size"]) == (
        limits.memory_mb, limits.timeout_seconds, limits.ephemeral_storage_mb)
    run = definition(env, schedule)["States"]["RunLambda"]
    assert run["TimeoutSeconds"] > limits.timeout_seconds
    assert run["Arguments"]["FunctionName"].startswith(f"<{schedule}RunnerFunction")
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for k, r in resources.items()
                if r["Type"] == "AWS::IAM::Policy" and k.startswith(f"{schedule}StateMachineRoleDefaultPolicy")]
    statements = {s.get("Sid"): s for statement in policies for s in statement}
    assert render(statements["InvokeRunner"]["Resource"]).startswith(f"<{schedule}RunnerFunction")
    assert statements["SendRunEvents"]["Action"] == "events:PutEvents"
    assert statements["SendRunEvents"]["Condition"] == {"StringEquals": {"events:source": RUNNER_SOURCE}}
    assert render(statements["SendRunEvents"]["Resource"]).endswith(":event-bus/default")


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_lambda_reads_the_folders_the_job_reads(schedule):
    machine = definition("dev", schedule)
    values = variables(machine, schedule)
    payload = evaluate(machine["States"]["RunLambda"]["Arguments"]["Payload"], {"input": {}}, values)
    job = processing_job(machine, values)
    assert capture_inputs(job) == [f"{payload[RunnerEvent.CAPTURE_URI]}{folder}/"
                              for folder in payload[RunnerEvent.CAPTURE_FOLDERS]]
    assert payload[RunnerEvent.REPORT_URI] == job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    environment = job["Environment"]
    assert (payload[RunnerEvent.WINDOW_START], payload[RunnerEvent.WINDOW_END]) == (
        environment["start_time"], environment["end_time"])
    # The runner accepts the event (the baseline's URIs are deploy-time values: stand-ins here).
    uris = {key: "s3://bucket/baseline/file.json" for key in (RunnerEvent.STATISTICS_URI, RunnerEvent.CONSTRAINTS_URI)
            if key in payload}
    request = RunRequest.of({**payload, **uris})
    assert request.folders == tuple(payload[RunnerEvent.CAPTURE_FOLDERS])
    assert (request.ground_truth is None) == (schedule == DATA_QUALITY)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_runner_lambda_goes_straight_to_the_lambda_and_processing_builds_no_lambda(schedule):
    lambda_only = definition("dev", schedule, "lambda")["States"]
    check = "HasCaptures" if schedule == DATA_QUALITY else "HasLabels"
    assert lambda_only[check]["Choices"][0]["Next"] == "RunLambda"
    assert "SizeWindow" not in lambda_only and "Route" not in lambda_only
    processing = template("dev", "processing")
    assert not [k for k, r in processing["Resources"].items()
                if r["Type"] == "AWS::Lambda::Function" and "Runner" in k]
    states = state_machine_definition(processing, schedule)["States"]
    assert states[check]["Choices"][0]["Next"] == "FindJob"
    routed = definition("dev", schedule)["States"]
    # The job path is the same states either way; the routing only adds its own.
    assert set(routed) - set(states) == set(ROUTING_STATES)
    for name in set(states) - {check}:
        assert states[name] == routed[name], name


def rule_patterns(resources: dict) -> dict[str, dict]:
    """Each rule's pattern by its sources."""
    return {json.dumps(r["Properties"]["EventPattern"]["source"]): r["Properties"]["EventPattern"]
            for r in resources.values() if r["Type"] == "AWS::Events::Rule"}


@pytest.mark.parametrize("env", ENVS)
def test_the_runner_events_rule_matches_the_job_rules_runs_and_only_with_a_lambda_runner(env):
    patterns = rule_patterns(template(env)["Resources"])
    runner, job = patterns[json.dumps([RUNNER_SOURCE])], patterns[json.dumps(["aws.sagemaker"])]
    assert runner["detail-type"] == [RUNNER_EVENT] and runner["detail"] == job["detail"]
    assert json.dumps([RUNNER_SOURCE]) not in rule_patterns(template(env, "processing")["Resources"])


def lambda_outcome(error: str, message: str = "") -> dict:
    """A failed lambda:invoke as Step Functions reports it: the function's errorType, its error object as cause."""
    return {"Error": error, "Cause": json.dumps({"errorMessage": message, "errorType": error, "requestId": "r-1",
                                                 "stackTrace": ["  File \"runner.py\""]})}


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("error", ["Runtime.OutOfMemory", "Sandbox.Timedout", "States.Timeout", "Lambda.Unknown"])
def test_a_lambda_out_of_memory_or_time_falls_back_to_the_job(schedule, error):
    machine = definition("dev", schedule)
    walked = walk(machine, "RunLambda", variables(machine, schedule), {"RunLambda": [lambda_outcome(error)]},
                  stop_at=("FindJob",))
    assert walked["path"] == ["RunLambda", "FindJob"]


def test_only_lambdas_service_errors_are_retried_then_the_job_runs_the_hour():
    machine = definition("dev", DATA_QUALITY)
    (retry,) = machine["States"]["RunLambda"]["Retry"]
    assert retry["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    throttled = [{"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"}] * (retry["MaxAttempts"] + 1)
    walked = walk(machine, "RunLambda", variables(machine, DATA_QUALITY), {"RunLambda": throttled},
                  stop_at=("FindJob",))
    assert walked["path"] == ["RunLambda", *["RunLambda (retry)"] * retry["MaxAttempts"], "FindJob"]
    assert machine["States"]["RunLambda"]["Catch"][-1]["ErrorEquals"] == FALLBACK_ERRORS


@pytest.mark.parametrize("error, message, missing", [
    (RUNNER_NO_DATA_ERROR, f"{NO_DATA_REASON}: no capture rows under {ENDPOINT_INPUT_PATH} in the window", "captures"),
    (RUNNER_FAILED_ERROR, "UnusableDataError: 50 of 50 capture records are not JSON", None),
])  # fmt: skip
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_failed_lambda_run_ends_as_a_failed_job_and_the_alerts_read_it(schedule, error, message, missing):
    machine = definition("dev", schedule)
    values = variables(machine, schedule)
    walked = walk(machine, "RunLambda", values, {"RunLambda": [lambda_outcome(error, message)]})
    assert walked["path"] == ["RunLambda", "RunnerFailed", "JobFailed"] and walked["error"] == JOB_FAILED_ERROR
    cause = json.loads(walked["cause"])
    assert cause["ProcessingJobName"] == values["jobName"] and cause["ExitMessage"] == message
    execution = {"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
                 "region": "eu-west-1", "detail": {"executionArn": EXECUTION, "name": "run-1", "status": "FAILED",
                                                   "error": walked["error"], "cause": walked["cause"]}}
    run = alert_events.parse_event(execution, alert_events.Defaults())
    assert (run.run_id, run.status, run.exit_message) == (values["jobName"], "Failed", message)
    assert run.failure_reason == f"{error}: {message}" and run.missing == missing
    assert run.window == f"{values['windowStart']} to {values['windowEnd']}"


def test_a_completed_lambda_run_alerts_as_its_job_would_once(subscribers, tmp_path):  # noqa: F811
    """NotifyRun's entry, routed by the synthesized rules to the alerts Lambda, gives the job event's alert."""
    s3, received = subscribers
    machine = definition("dev", MODEL_QUALITY)
    values = variables(machine, MODEL_QUALITY)
    report, _ = analyzer_report(tmp_path)
    job = processing_job(machine, values)
    report_uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, folder = report_uri.removeprefix("s3://").split("/", 1)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=f"{folder}/{VIOLATIONS_FILE}", Body=report.encode())
    result = {RunnerResult.EXIT_MESSAGE: exit_message(3)[1], RunnerResult.REPORT_URI: report_uri}
    walked = walk(machine, "NotifyRun", values, {"NotifyRun": [{"FailedEntryCount": 0}]}, stop_at=("ReadMetrics",))
    assert walked["path"] == ["NotifyRun", "ReadMetrics"]
    (entry,) = evaluate(machine["States"]["NotifyRun"]["Arguments"],
                        {"input": result, "context": {"Execution": {"Id": EXECUTION}}}, values)["Entries"]
    sent = {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": entry["Detail"]}
    assert (sent["source"], sent["detail-type"]) == (RUNNER_SOURCE, RUNNER_EVENT)
    (routed,) = route(template("dev"), [sent])
    alerts_handler.handler(routed, None)
    alerts_handler.handler(copy.deepcopy(routed), None)  # a second delivery: no second alert
    (subject, body), = received()
    # The job's own event for the same hour: the same alert but for the console link; and no second alert.
    completed = job_event(values["jobName"], "Completed", ExitMessage=result[RunnerResult.EXIT_MESSAGE],
                          Environment=job["Environment"], ProcessingOutputConfig=job["ProcessingOutputConfig"])
    expected = alerts_handler.alert_for_run(alert_events.parse_event(completed, alert_events.Defaults()), s3)
    assert subject == expected.subject and "constraint" in body.lower()
    job_link = f"Processing job: https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1" \
               f"#/processing-jobs/{values['jobName']}"
    lambda_link = "Lambda run (state machine execution): " + alert_events.execution_url("eu-west-1", EXECUTION)
    assert job_link in expected.body and body == expected.body.replace(job_link, lambda_link)
    assert alerts_handler.handler(completed, None)["result"] == "duplicate"
