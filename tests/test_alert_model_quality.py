"""Model-quality alerts as a subscriber receives them (moto: S3, the alerts topic, queues subscribed to it).

(a) a run whose report is a real constraint_violations.json of `python -m analyzer monitor-model-quality`
(its CLI entry point, in process) on generated captures and labels with strict constraints; (b) a
self-hosted model-quality state machine that failed because the label window held no label; (c) a managed
execution whose merge job failed for no ground truth. The message must name the metrics, values and
thresholds (a), and say that the labels were missing, not that the model is wrong (b, c).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from alerts import handler
from moto import mock_aws

from analyzer.cli import EXIT_VIOLATIONS, main
from contract.events import MERGE_JOB_PREFIX, NO_LABELS_ERROR, QUALITY_JOB_PREFIX
from contract.layout import (
    VIOLATIONS_FILE,
    ground_truth_prefix,
    model_quality_schedule_name,
    monitoring_job_name,
    report_prefix,
)
from contract.model_quality import BINARY, GREATER_THAN, LESS_THAN, parse_quality_violations, suggested_operators
from contract.processing import GROUND_TRUTH_INPUT_PATH, NO_DATA_REASON, exit_message
from tests.capture_helpers import write_file
from tests.self_hosted_definition import MODEL_QUALITY, evaluate, state_machine_definition, window_variables
from tests.stack_fixtures import templates
from tests.test_merge import START, capture, write_labels

REGION, BUCKET, ENDPOINT = "eu-west-1", "churn-reports", "churn-dev"
SCHEDULE = model_quality_schedule_name(ENDPOINT)
EXECUTION = "202601011100-5f1c0e9a7b2d4e6f8a9b0c1d"
MACHINE = f"arn:aws:states:{REGION}:123456789012:stateMachine:churn-dev-model-quality"
N = 80
NOT_THE_MODEL = ("falls short", "concept drift", "retrain")  # the violation alert's words about the model


@pytest.fixture
def subscribers(monkeypatch):
    """The bucket, the topic, and two queues subscribed to it (raw delivery and SNS envelopes), with the
    function's environment as RunAlerts sets it; yields (s3, received): received() -> [(subject, body)]."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "MARKER_BUCKET": BUCKET,
                        "MARKER_PREFIX": f"alert-markers/{ENDPOINT}", "ENDPOINT_NAME": ENDPOINT,
                        "SCHEDULE_NAME": f"{ENDPOINT}-data-quality", "QUALITY_SCHEDULE_NAME": SCHEDULE,
                        "QUALITY_STATE_MACHINE_ARN": MACHINE}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3, sns, sqs = boto3.client("s3"), boto3.client("sns"), boto3.client("sqs")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
        queues = {}
        for raw in (True, False):
            url = sqs.create_queue(QueueName=f"inbox-{'raw' if raw else 'envelope'}")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                          Attributes={"RawMessageDelivery": str(raw).lower()})
            queues[raw] = url

        def received() -> list[tuple[str, str]]:
            raw, envelopes = (_drain(sqs, queues[flag]) for flag in (True, False))
            messages = [(json.loads(e)["Subject"], json.loads(e)["Message"]) for e in envelopes]
            assert [body for _, body in messages] == raw  # a raw subscriber receives the same body
            return messages

        yield s3, received


def _drain(sqs, url: str) -> list[str]:
    bodies = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return bodies


def job_event(name: str, status: str, **detail) -> dict:
    return {"version": "0", "id": f"event-{name}-{status}", "detail-type": "SageMaker Processing Job State Change",
            "source": "aws.sagemaker", "account": "123456789012", "time": "2026-01-01T11:20:00Z", "region": REGION,
            "detail": {"ProcessingJobName": name, "ProcessingJobStatus": status, **detail}}


def analyzer_report(root: Path) -> tuple[str, float]:
    """A real constraint_violations.json of a wrong model (labels flipped) against strict constraints, and
    the window's accuracy computed here from the same data."""
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, N)
    scores = np.round(np.where(labels == 1, 0.5, 0.05) + rng.random(N) * 0.45, 3)
    truth = 1 - labels
    write_file(root / "captures", [capture(f"{s}\n", i, str(i)) for i, s in enumerate(scores)], START)
    write_labels(root / "gt", [(str(i), int(t)) for i, t in enumerate(truth)], START + timedelta(hours=1))
    strict = {name: 0.8 if operator == LESS_THAN else 0.2 for name, operator in suggested_operators(BINARY).items()
              if name in ("auc", "accuracy", "recall", "false_positive_rate")}
    (root / "constraints.json").write_text(json.dumps({"version": 0.0, "binary_classification_constraints": {
        name: {"threshold": threshold, "comparison_operator": suggested_operators(BINARY)[name]}
        for name, threshold in strict.items()}}))
    code = main(["-q", "monitor-model-quality", "--problem-type", BINARY, "--captures", str(root / "captures"),
                 "--ground-truth", str(root / "gt"), "--constraints", str(root / "constraints.json"),
                 "--probability-attribute", "0", "--output", str(root / "out"), "--endpoint", ENDPOINT,
                 "--schedule", SCHEDULE, "--fail-on-violations"])
    assert code == EXIT_VIOLATIONS
    accuracy = float(np.mean((scores > 0.5).astype(int) == truth))
    return (root / "out" / VIOLATIONS_FILE).read_text(), accuracy


def test_a_model_quality_violation_reaches_the_subscriber_with_metrics_values_and_thresholds(subscribers, tmp_path):
    s3, received = subscribers
    report, accuracy = analyzer_report(tmp_path)
    violations = parse_quality_violations(report)
    assert len(violations) >= 3
    folder = f"{report_prefix(ENDPOINT, SCHEDULE)}2026/01/01/11"
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/{VIOLATIONS_FILE}", Body=report.encode())
    outputs = {"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
        "S3Uri": f"s3://{BUCKET}/{folder}", "LocalPath": "/opt/ml/processing/output"}}]}
    names = {"sagemaker_endpoint_name": ENDPOINT, "sagemaker_monitoring_schedule_name": SCHEDULE,
             "start_time": "2026-01-01T10:00:00Z", "end_time": "2026-01-01T11:00:00Z"}
    # A managed execution: the merge job (which names nothing and writes no report), then the analysis job.
    handler.handler(job_event(MERGE_JOB_PREFIX + EXECUTION, "Completed"), None)
    analysis = job_event(QUALITY_JOB_PREFIX + EXECUTION, "Completed", Environment=names,
                         ProcessingOutputConfig=outputs, ExitMessage=exit_message(len(violations))[1])
    handler.handler(analysis, None)
    handler.handler(analysis, None)  # a second delivery
    (message,) = received()
    subject, body = message

    first = violations[0].details
    relation = "<" if first.operator == LESS_THAN else ">"
    assert subject.startswith(f"{ENDPOINT}: {len(violations)} model-quality violations: "
                              f"{first.metric} {first.value:.3g} {relation} {first.threshold:g}")
    for violation in violations:
        details = violation.details
        side = "below" if details.operator == LESS_THAN else "above"
        assert (f"  {details.metric}: {details.value:.4g} +/- NaN, {side} threshold {details.threshold:.4g} "
                f"({details.operator})") in body
    assert {v.details.operator for v in violations} == {LESS_THAN, GREATER_THAN}
    assert f"  accuracy: {accuracy:.4g} +/- NaN, below threshold 0.8" in body  # the data's own accuracy
    assert f"Endpoint: {ENDPOINT}    Schedule: {SCHEDULE}" in body
    assert "Analysed window: 2026-01-01T10:00:00Z to 2026-01-01T11:00:00Z" in body
    assert f"Full report: s3://{BUCKET}/{folder}/{VIOLATIONS_FILE}" in body


def no_labels_cause(bucket: str, endpoint: str, first_folder: str, end_folder: str, window: str) -> str:
    """The self-hosted model-quality state machine's NoLabels cause as its definition writes it (the test
    below evaluates the synthesized one): the reason, the empty label prefix, the folders and the window."""
    return (f"{NO_DATA_REASON}: no ground-truth label under s3://{bucket}/{ground_truth_prefix(endpoint)}/ in the "
            f"hour folders {first_folder} up to (not including) {end_folder} ({window})")


def state_machine_failure(error: str, cause: str, name: str = "2026-01-02T11-00-00Z") -> dict:
    execution = f"{MACHINE.replace(':stateMachine:', ':execution:')}:{name}"
    return {"version": "0", "id": f"sfn-{name}", "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2026-01-02T11:05:00Z", "region": REGION,
            "detail": {"executionArn": execution, "stateMachineArn": MACHINE, "name": name, "status": "FAILED",
                       "error": error, "cause": cause}}


def assert_labels_missing(subject: str, body: str, run: str) -> None:
    assert subject.startswith(f"{ENDPOINT}: ") and ": labels missing (" in subject and run[:20] in subject
    assert "The ground-truth labels were missing, not the model wrong" in body
    assert f"Endpoint: {ENDPOINT}    Schedule: {SCHEDULE}" in body
    assert f"{ground_truth_prefix(ENDPOINT)}/yyyy/mm/dd/HH/" in body
    assert not any(words in body for words in NOT_THE_MODEL)


def test_a_self_hosted_hour_without_labels_says_the_labels_were_missing(subscribers):
    _, received = subscribers
    cause = no_labels_cause(BUCKET, ENDPOINT, "2026/01/01/10", "2026/01/02/11",
                            "the labels collected from 2026-01-01T10:00:00Z to 2026-01-02T11:00:00Z")
    event = state_machine_failure(NO_LABELS_ERROR, cause)
    handler.handler(event, None)
    handler.handler(event, None)
    ((subject, body),) = received()
    assert subject == f"{ENDPOINT}: monitoring state machine FAILED: labels missing (2026-01-02T11-00-00Z)"
    assert_labels_missing(subject, body, "2026-01-02T11-00-00Z")
    assert f"Failure reason: {NO_LABELS_ERROR}: {cause}" in body


def test_a_managed_execution_without_ground_truth_says_the_labels_were_missing(subscribers):
    _, received = subscribers
    reason = (f"AlgorithmError: {NO_DATA_REASON}: no ground truth data to merge under "
              f"{GROUND_TRUTH_INPUT_PATH}/2026/01/01/10")
    merge = MERGE_JOB_PREFIX + EXECUTION
    handler.handler(job_event(merge, "Failed", FailureReason=reason,
                              Environment={"dataset_source": "/opt/ml/processing/input_data",
                                           "ground_truth_source": GROUND_TRUTH_INPUT_PATH}), None)
    # Were the execution's analysis job to fail too, it is the same execution: no second alert.
    names = {"sagemaker_endpoint_name": ENDPOINT, "sagemaker_monitoring_schedule_name": SCHEDULE}
    handler.handler(job_event(QUALITY_JOB_PREFIX + EXECUTION, "Failed", FailureReason=reason, Environment=names),
                    None)
    ((subject, body),) = received()
    assert subject.startswith(f"{ENDPOINT}: monitoring run Failed: labels missing ({merge[:20]}")
    assert_labels_missing(subject, body, merge)
    assert f"Failure reason: {reason}" in body and f"#/processing-jobs/{merge}" in body


def synthesized_failures(job: dict) -> dict[str, tuple[str, str]]:
    """State -> (error, cause) of the synthesized self-hosted model-quality definition's Fail states for the
    run scheduled at 2026-01-02T11:00Z (`job`: the JobFailed state's input, the job's summary)."""
    definition = state_machine_definition(templates("dev", "self-hosted")["monitoring"].to_json(), MODEL_QUALITY)
    variables = window_variables(definition, {"scheduledTime": "2026-01-02T11:00:00Z"})
    states = definition["States"]
    return {name: (states[name]["Error"], evaluate(states[name]["Cause"], {"input": job}, variables))
            for name in ("NoCaptures", "NoLabels", "JobFailed")}


def test_the_synthesized_definitions_no_data_failures_name_the_missing_side(subscribers):
    _, received = subscribers
    failures = synthesized_failures({})
    error, cause = failures["NoLabels"]
    assert error == NO_LABELS_ERROR, (
        f"the NoLabels state fails with {error!r}: it must use contract.events.NO_LABELS_ERROR so that the alert "
        "can say the labels were missing")
    handler.handler(state_machine_failure(error, cause, name="labels"), None)
    handler.handler(state_machine_failure(*failures["NoCaptures"], name="captures"), None)
    (labels, captures) = received()
    assert_labels_missing(*labels, "labels")
    assert captures[0] == f"{ENDPOINT}: monitoring state machine FAILED: captures missing (captures)"
    assert "The captured predictions were missing, not the model wrong" in captures[1]
    assert f"Schedule: {SCHEDULE}" in captures[1]


def test_the_model_quality_machine_ended_by_its_job_alerts_as_that_schedules_job(subscribers):
    _, received = subscribers
    reason = "AlgorithmError: the analyzer exited with code 1"
    failures = synthesized_failures({"ProcessingJobStatus": "Failed", "FailureReason": reason, "ExitMessage": None})
    handler.handler(state_machine_failure(*failures["JobFailed"], name="job"), None)
    ((subject, body),) = received()
    job = monitoring_job_name(SCHEDULE, datetime(2026, 1, 2, 11, tzinfo=UTC))
    assert subject == f"{ENDPOINT}: monitoring run Failed ({job})"
    assert f"Endpoint: {ENDPOINT}    Schedule: {SCHEDULE}" in body and f"Failure reason: {reason}" in body
