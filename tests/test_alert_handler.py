"""End to end with moto: report in S3 -> handler(EventBridge event) -> SNS topic -> subscribed SQS queue."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from alerts import events, handler  # noqa: E402
from moto import mock_aws

from contract.events import JOB_FAILED_ERROR
from contract.model_quality import QualityViolation, quality_violations_document
from contract.processing import no_matched_data_message
from tests.data import model_quality_reference
from tests.self_hosted_definition import processing_job, render_tree, state_machine_definition, walk, window_variables
from tests.stack_fixtures import templates

REGION = "us-east-1"
BUCKET = "bucket"
SCHEDULE = "churn-dev-hourly"
FOLDER = f"s3://{BUCKET}/reports/churn-dev/{SCHEDULE}/2026/11/25/14/"
REPORT_KEY = f"reports/churn-dev/{SCHEDULE}/2026/11/25/14/constraint_violations.json"
JOB = "model-monitoring-202611251400-7c3f0e9a1b2d4e6f8a9b0c1d"

DATA_TYPE = ("Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
             "Observed: Only 0.0% of data is Integral.")
COMPLETENESS = ("Data completeness requirement is not met. Expected: 100.0%. "
                "Observed: Only 96.66666666666667%.")
REPORT = f"""{{
  "violations" : [ {{
    "feature_name" : "Churn",
    "constraint_check_type" : "data_type_check",
    "description" : "{DATA_TYPE}"
  }}, {{
    "feature_name" : "Intl Calls",
    "constraint_check_type" : "completeness_check",
    "description" : "{COMPLETENESS}"
  }}, {{
    "feature_name" : "Day Mins",
    "constraint_check_type" : "baseline_drift_check",
    "description" : "Baseline drift distance: 0.3517094017094017 exceeds threshold: 0.1"
  }} ]
}}"""

# What EventBridge delivers for a Model Monitor run (detail = DescribeProcessingJob; times in epoch ms).
EVENT = {
    "version": "0",
    "id": "4f6b2c1e-9d3a-4e8b-a7c5-0b1d2e3f4a5b",
    "detail-type": "SageMaker Processing Job State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2026-11-25T14:12:31Z",
    "region": REGION,
    "resources": [f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/{JOB}"],
    "detail": {
        "ProcessingInputs": [
            {"InputName": "input_1", "AppManaged": False,
             "S3Input": {"S3Uri": f"s3://{BUCKET}/datacapture/churn-dev/AllTraffic/2026/11/25/13",
                         "LocalPath": "/opt/ml/processing/input/endpoint/churn-dev/AllTraffic/2026/11/25/13",
                         "S3DataType": "S3Prefix", "S3InputMode": "File",
                         "S3DataDistributionType": "FullyReplicated"}},
            {"InputName": "baseline", "AppManaged": False,
             "S3Input": {"S3Uri": f"s3://{BUCKET}/baselines/churn-dev/statistics.json",
                         "LocalPath": "/opt/ml/processing/baseline/stats", "S3DataType": "S3Prefix",
                         "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "result", "AppManaged": False,
                         "S3Output": {"S3Uri": FOLDER.rstrip("/"), "LocalPath": "/opt/ml/processing/output",
                                      "S3UploadMode": "EndOfJob"}}],
            "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        },
        "ProcessingJobName": JOB,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 20}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "AppSpecification": {
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"},
        "Environment": {
            "dataset_format":
                '{"sagemakerCaptureJson":{"captureIndexNames":["endpointInput","endpointOutput"]}}',
            "dataset_source": "/opt/ml/processing/input/endpoint",
            "output_path": "/opt/ml/processing/output",
            "publish_cloudwatch_metrics": "Enabled",
            "sagemaker_endpoint_name": "churn-dev",
            "sagemaker_monitoring_schedule_name": SCHEDULE,
            "start_time": "2026-11-25T13:00:00Z",
            "end_time": "2026-11-25T14:00:00Z",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/churn-dev-monitoring",
        "ProcessingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:processing-job/{JOB}",
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "CompletedWithViolations: Job completed successfully with 3 violations.",
        "ProcessingEndTime": 1764080130000,
        "ProcessingStartTime": 1764079920000,
        "LastModifiedTime": 1764080131000,
        "CreationTime": 1764079801000,
        "MonitoringScheduleArn": f"arn:aws:sagemaker:{REGION}:123456789012:monitoring-schedule/{SCHEDULE}",
        "Tags": [],
    },
}


def event_with(**detail_changes) -> dict:
    event = copy.deepcopy(EVENT)
    event["detail"].update(detail_changes)
    return event


@pytest.fixture
def aws(monkeypatch):
    """A bucket, the alerts topic and a queue subscribed to it; yields a function draining the queue."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("MARKER_BUCKET", "MARKER_PREFIX", "ENDPOINT_NAME", "SCHEDULE_NAME", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic_arn = sns.create_topic(Name="churn-dev-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("ALERT_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("MARKER_PREFIX", "alert-markers/churn-dev")

        def received() -> list[dict]:
            """SNS envelopes delivered to the queue since the last call."""
            return drain(sqs, queue_url)

        yield s3, received


def drain(sqs, queue_url: str) -> list[dict]:
    """The (JSON) messages delivered to the queue since the last call, deleted from it."""
    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def attributes(envelope: dict) -> dict:
    return {name: (a["Type"], a["Value"]) for name, a in envelope["MessageAttributes"].items()}


def test_violations_reach_the_subscribed_queue_once(aws):
    s3, received = aws
    s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=REPORT.encode())

    handler.handler(EVENT, None)
    (message,) = received()

    assert message["Subject"] == "churn-dev: 3 monitoring violations, worst: drift Day Mins 0.352 vs 0.1"
    body = message["Message"]
    assert "Day Mins: 0.3517 > threshold 0.1" in body
    assert "Churn: only 0% of values are Integral (required 100%)" in body
    assert "Intl Calls: only 96.6667% of values present (required 100%)" in body
    assert f"Full report: {FOLDER}constraint_violations.json" in body
    assert "Analysed window: 2026-11-25T13:00:00Z to 2026-11-25T14:00:00Z" in body
    assert ("https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1"
            f"#/processing-jobs/{JOB}") in body
    assert attributes(message) == {"severity": ("String", "high"), "endpoint": ("String", "churn-dev"),
                                   "schedule": ("String", SCHEDULE), "violation_count": ("Number", "3")}
    marker = f"alert-markers/churn-dev/processing-job/{JOB}/Completed"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=marker)["Body"].read())["event_id"] == EVENT["id"]


def test_the_same_event_twice_gives_one_message(aws):
    s3, received = aws
    s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=REPORT.encode())
    handler.handler(EVENT, None)
    redelivered = copy.deepcopy(EVENT)
    redelivered["id"] = "a-second-delivery-has-its-own-id"
    handler.handler(EVENT, None)
    handler.handler(redelivered, None)
    assert len(received()) == 1


def test_a_failed_publish_releases_the_marker_so_the_retry_alerts(aws, monkeypatch):
    s3, received = aws
    s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=REPORT.encode())
    working_topic = handler.os.environ["ALERT_TOPIC_ARN"]
    monkeypatch.setenv("ALERT_TOPIC_ARN", working_topic + "-deleted")
    with pytest.raises(Exception, match="(?i)not ?found|does not exist"):
        handler.handler(EVENT, None)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="alert-markers/")

    monkeypatch.setenv("ALERT_TOPIC_ARN", working_topic)
    handler.handler(EVENT, None)  # Lambda's asynchronous retry
    handler.handler(EVENT, None)
    assert len(received()) == 1


@pytest.mark.parametrize("status,changes,expected", [
    ("Failed", {"FailureReason": "AlgorithmError: Job inputs had no data", "ExitMessage": None},
     "Failure reason: AlgorithmError: Job inputs had no data"),
    ("Stopped", {"ExitMessage": "Stopped: the job was stopped by churn-dev-operator"},
     "Exit message: Stopped: the job was stopped by churn-dev-operator"),
])
def test_a_failed_or_stopped_run_alerts_with_its_reason(aws, status, changes, expected):
    _, received = aws
    handler.handler(event_with(ProcessingJobStatus=status, **changes), None)
    (message,) = received()
    assert message["Subject"] == f"churn-dev: monitoring run {status} ({JOB})"
    assert expected in message["Message"]
    assert attributes(message)["severity"] == ("String", "critical")
    assert attributes(message)["violation_count"] == ("Number", "0")


@pytest.mark.parametrize("report,problem", [
    (REPORT[: len(REPORT) // 2], "not valid JSON (line"),
    ('{"violations": "none"}', "expected an object with a 'violations' list"),
    (b"\xff\xfe garbage", "is not UTF-8 text"),
    (None, "does not exist"),
])
def test_an_unreadable_report_gives_the_could_not_read_alert(aws, report, problem, caplog):
    s3, received = aws
    if report is not None:
        body = report if isinstance(report, bytes) else report.encode()
        s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=body)

    handler.handler(EVENT, None)

    (message,) = received()
    assert message["Subject"] == "churn-dev: monitoring report could not be read"
    assert problem in message["Message"]
    assert f"Report location: {FOLDER}constraint_violations.json" in message["Message"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("Cannot read the report" in message and problem in message for message in errors)


def test_completed_without_violations_sends_nothing(aws):
    s3, received = aws
    handler.handler(event_with(ExitMessage="Completed: Job completed successfully with no violations."), None)
    # Without an exit message the report decides: an empty list is not an alert either.
    s3.put_object(Bucket=BUCKET, Key=REPORT_KEY, Body=b'{ "violations" : [ ] }')
    handler.handler(event_with(ExitMessage=None), None)
    # A non-terminal state that slipped past the rule is not a run outcome.
    handler.handler(event_with(ProcessingJobStatus="InProgress", ExitMessage=None), None)
    assert received() == []


@pytest.mark.parametrize("event", [
    {"detail-type": "SageMaker Processing Job State Change", "id": "e-1", "detail": "not an object"},
    {"detail-type": "SageMaker Processing Job State Change", "id": "e-2",
     "detail": {"ProcessingJobStatus": "Failed"}},
    {"detail-type": "Something Else", "id": "e-3", "detail": {}},
    ["not", "an", "event"],
])
def test_an_unexpected_event_shape_alerts_instead_of_crashing(aws, monkeypatch, event, caplog):
    _, received = aws
    monkeypatch.setenv("MARKER_BUCKET", BUCKET)
    monkeypatch.setenv("ENDPOINT_NAME", "churn-dev")
    handler.handler(event, None)
    handler.handler(event, None)
    (message,) = received()
    assert message["Subject"].startswith("churn-dev: monitoring event could not be read")
    assert "The event as received" in message["Message"]
    assert any(r.levelname == "ERROR" and "Unexpected event" in r.getMessage() for r in caplog.records)


def test_state_machine_failure_alerts(aws, monkeypatch):
    _, received = aws
    monkeypatch.setenv("MARKER_BUCKET", BUCKET)
    monkeypatch.setenv("ENDPOINT_NAME", "churn-dev")
    monkeypatch.setenv("SCHEDULE_NAME", SCHEDULE)
    arn = f"arn:aws:states:{REGION}:123456789012:execution:churn-dev-monitoring:run-2026-11-25T14-00"
    event = {"version": "0", "id": "sfn-1", "detail-type": "Step Functions Execution Status Change",
             "source": "aws.states", "account": "123456789012", "time": "2026-11-25T14:20:00Z",
             "region": REGION,
             "resources": [arn],
             "detail": {"executionArn": arn, "name": "run-2026-11-25T14-00", "status": "TIMED_OUT",
                        "stateMachineArn": arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
                        "startDate": 1764079200000, "stopDate": 1764082800000, "input": "{}", "output": None,
                        "error": "States.Timeout", "cause": "The execution exceeded its 3600 s timeout"}}
    handler.handler(event, None)
    handler.handler(event, None)
    (message,) = received()
    assert message["Subject"] == "churn-dev: monitoring state machine TIMED_OUT (run-2026-11-25T14-00)"
    assert "Failure reason: States.Timeout: The execution exceeded its 3600 s timeout" in message["Message"]
    assert attributes(message)["schedule"] == ("String", SCHEDULE)


def test_missing_topic_configuration_is_named():
    with pytest.raises(handler.ConfigurationError, match="ALERT_TOPIC_ARN is not set"):
        handler.Settings.from_environment({})


def test_names_come_from_the_report_path_when_the_event_lacks_them():
    detail = copy.deepcopy(EVENT["detail"])
    del detail["Environment"], detail["MonitoringScheduleArn"]
    detail["ProcessingOutputConfig"]["Outputs"].insert(0, {
        "OutputName": "logs",
        "S3Output": {"S3Uri": f"s3://{BUCKET}/logs/x", "LocalPath": "/opt/ml/processing/logs"}})
    run = events.parse_event({**EVENT, "detail": detail}, events.Defaults())
    assert (run.endpoint, run.schedule) == ("churn-dev", SCHEDULE)
    assert run.report_uri == f"{FOLDER}constraint_violations.json"
    assert run.window == ""


def test_schedule_arn_names_the_schedule_when_the_path_does_not():
    detail = copy.deepcopy(EVENT["detail"])
    del detail["Environment"]
    detail["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = f"s3://{BUCKET}/adhoc/output"
    run = events.parse_event({**EVENT, "detail": detail}, events.Defaults(endpoint="fallback-endpoint"))
    assert (run.endpoint, run.schedule) == ("fallback-endpoint", SCHEDULE)
    assert run.report_uri == f"s3://{BUCKET}/adhoc/output/constraint_violations.json"


def state_machine_event(error: str, cause: str, name: str = "run-2026-11-25T14-00") -> dict:
    arn = f"arn:aws:states:{REGION}:123456789012:execution:churn-dev-monitoring:{name}"
    return {"version": "0", "id": f"sfn-{name}", "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states", "account": "123456789012", "time": "2026-11-25T14:20:00Z", "region": REGION,
            "resources": [arn],
            "detail": {"executionArn": arn, "name": name, "status": "FAILED",
                       "stateMachineArn": arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
                       "startDate": 1764079200000, "stopDate": 1764082800000, "input": "{}", "output": None,
                       "error": error, "cause": cause}}


@pytest.fixture
def named(monkeypatch):
    """The function's environment as RunAlerts sets it (names, marker bucket)."""
    monkeypatch.setenv("MARKER_BUCKET", BUCKET)
    monkeypatch.setenv("ENDPOINT_NAME", "churn-dev")
    monkeypatch.setenv("SCHEDULE_NAME", SCHEDULE)


SELF_HOSTED_JOB = "churn-dev-data-quality-2026112514"
FAILED_JOB_CAUSE = json.dumps({
    "ProcessingJobName": SELF_HOSTED_JOB, "ProcessingJobStatus": "Failed",
    "FailureReason": "AlgorithmError: the analyzer exited with code 1",
    "ExitMessage": "MalformedCaptureError: capture line 3 is not JSON",
    "Environment": {"start_time": "2026-11-25T13:00:00Z", "end_time": "2026-11-25T14:00:00Z"}})


def test_a_state_machine_ended_by_its_job_alerts_as_that_jobs_failure_once(aws, named):
    s3, received = aws
    handler.handler(state_machine_event(JOB_FAILED_ERROR, FAILED_JOB_CAUSE), None)
    # A re-run of the hour ends with the same job's failure; the job's own event (were it routed here)
    # is the same run and status: neither alerts again.
    handler.handler(state_machine_event(JOB_FAILED_ERROR, FAILED_JOB_CAUSE, name="manual-rerun"), None)
    handler.handler(event_with(ProcessingJobName=SELF_HOSTED_JOB, ProcessingJobStatus="Failed"), None)
    (message,) = received()
    assert message["Subject"] == f"churn-dev: monitoring run Failed ({SELF_HOSTED_JOB})"
    body = message["Message"]
    assert "Failure reason: AlgorithmError: the analyzer exited with code 1" in body
    assert "Exit message: MalformedCaptureError: capture line 3 is not JSON" in body
    assert "Analysed window: 2026-11-25T13:00:00Z to 2026-11-25T14:00:00Z" in body
    assert f"#/processing-jobs/{SELF_HOSTED_JOB}" in body
    marker = f"alert-markers/churn-dev/processing-job/{SELF_HOSTED_JOB}/Failed"
    assert s3.head_object(Bucket=BUCKET, Key=marker)


@pytest.mark.parametrize("cause", ["not json", json.dumps({"ProcessingJobName": SELF_HOSTED_JOB}), "[]"])
def test_a_job_failure_cause_of_another_shape_is_quoted_as_the_state_machines_failure(aws, named, cause):
    _, received = aws
    handler.handler(state_machine_event(JOB_FAILED_ERROR, cause), None)
    (message,) = received()
    assert message["Subject"] == "churn-dev: monitoring state machine FAILED (run-2026-11-25T14-00)"
    assert f"Failure reason: {JOB_FAILED_ERROR}: {cause}" in message["Message"]


def self_hosted_run_events(template: dict, reasons: dict) -> tuple[dict, dict]:
    """What a failed self-hosted run emits, built from the synthesized state machine: the job's
    state-change event (detail: the RunAnalyzer request, as DescribeProcessingJob returns it, with the
    job's status and reasons) and the execution's failure (the JobFailed state's error and cause)."""
    definition = state_machine_definition(template)
    variables = window_variables(definition, {"scheduledTime": "2026-11-25T14:00:00Z"})
    job = {**processing_job(definition, variables), "ProcessingJobStatus": "Failed", **reasons}
    summary = {key: job[key] for key in ("ProcessingJobName", "ProcessingJobStatus", *reasons)}
    walked = walk(definition, "FindJob", variables, {
        "FindJob": [{"ProcessingJobSummaries": []}, {"ProcessingJobSummaries": [summary]}],
        "RunAnalyzer": [{"Error": "States.TaskFailed", "Cause": "the job failed"}]})
    machine = next(k for k in template["Resources"] if k.startswith("SelfHostedScheduleStateMachine")
                   and template["Resources"][k]["Type"] == "AWS::StepFunctions::StateMachine")
    execution = state_machine_event(walked["error"], walked["cause"])
    execution["detail"]["stateMachineArn"] = f"<{machine}>"
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Processing Job State Change", "detail": job}, execution


def route(template: dict, sent: list[dict]) -> list[dict]:
    """The events that the template's EventBridge rules deliver (to a queue standing in for the function)."""
    eventbridge, sqs = boto3.client("events"), boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="routed")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for logical_id, rule in template["Resources"].items():
        if rule["Type"] == "AWS::Events::Rule":
            pattern = render_tree(rule["Properties"]["EventPattern"])
            eventbridge.put_rule(Name=logical_id, EventPattern=json.dumps(pattern))
            eventbridge.put_targets(Rule=logical_id, Targets=[{"Id": "alerts", "Arn": queue_arn}])
    eventbridge.put_events(Entries=[
        {"Source": e["source"], "DetailType": e["detail-type"], "Detail": json.dumps(e["detail"])} for e in sent])
    return drain(sqs, queue_url)


def test_a_failed_self_hosted_run_alerts_once_with_the_jobs_reason(aws, named):
    """The synthesized rules route a failed run's two events; the function turns them into one alert."""
    _, received = aws
    template = templates("dev", "self-hosted")["monitoring"].to_json()
    reasons = {"FailureReason": "AlgorithmError: the analyzer exited with code 1",
               "ExitMessage": "MalformedCaptureError: capture line 3 of 2026/11/25/13/07-x.jsonl is not JSON"}
    job_event, execution_event = self_hosted_run_events(template, reasons)
    completed = copy.deepcopy(job_event)
    completed["detail"].update(ProcessingJobStatus="Completed", ProcessingJobName=SELF_HOSTED_JOB[:-2] + "15",
                               ExitMessage="Completed: Job completed successfully with no violations.")

    routed = route(template, [job_event, execution_event, completed])
    # The job's Failed event is not routed (the execution reports it); a completed job still is.
    assert sorted((e["detail-type"], e["detail"].get("status") or e["detail"]["ProcessingJobStatus"])
                  for e in routed) == [("SageMaker Processing Job State Change", "Completed"),
                                       ("Step Functions Execution Status Change", "FAILED")]
    for event in routed:
        handler.handler(event, None)
    (message,) = received()
    assert message["Subject"] == f"churn-dev: monitoring run Failed ({job_event['detail']['ProcessingJobName']})"
    assert f"Failure reason: {reasons['FailureReason']}" in message["Message"]
    assert f"Exit message: {reasons['ExitMessage']}" in message["Message"]


@pytest.mark.parametrize("output_config, note", [
    ("s3://bucket/reports", 'detail.ProcessingOutputConfig is a string, not an object ("s3://bucket/reports")'),
    ([{"Outputs": []}], "detail.ProcessingOutputConfig is a list, not an object"),
    (7, "detail.ProcessingOutputConfig is int, not an object (7)"),
    ({"Outputs": {"S3Output": {}}}, "detail.ProcessingOutputConfig.Outputs is an object, not a list"),
    ({"Outputs": [{"S3Output": {"S3Uri": "/opt/ml/processing/output"}}]},
     "detail.ProcessingOutputConfig.Outputs[0] has no s3://bucket/... S3Output.S3Uri"),
])
def test_an_odd_output_config_still_alerts_with_what_the_event_says(aws, monkeypatch, output_config, note, caplog):
    _, received = aws
    monkeypatch.setenv("MARKER_BUCKET", BUCKET)
    run = events.parse_event(event_with(ProcessingOutputConfig=output_config), events.Defaults())
    assert (run.run_id, run.endpoint, run.output_uri) == (JOB, "churn-dev", None)
    assert run.notes[0].startswith(note)
    assert any(r.levelname == "WARNING" and note in r.getMessage() for r in caplog.records)
    handler.handler(event_with(ProcessingOutputConfig=output_config), None)
    handler.handler(event_with(ProcessingOutputConfig=output_config, ProcessingJobStatus="Failed",
                               FailureReason="AlgorithmError: out of memory"), None)
    unreadable, failed = received()
    assert unreadable["Subject"] == "churn-dev: monitoring event could not be read"
    assert "the event names no report location" in unreadable["Message"] and note in unreadable["Message"]
    assert failed["Subject"] == f"churn-dev: monitoring run Failed ({JOB})"
    assert "AlgorithmError: out of memory" in failed["Message"]
    assert f"Fields of the event that were ignored: {note}" in failed["Message"]


def test_fields_of_the_wrong_type_are_ignored_and_noted():
    detail = copy.deepcopy(EVENT["detail"])
    detail["Environment"].update(sagemaker_endpoint_name=5, start_time=["2026"])
    detail.update(ExitMessage={"text": "?"}, MonitoringScheduleArn=None)
    run = events.parse_event({**EVENT, "detail": detail}, events.Defaults())
    assert (run.endpoint, run.schedule, run.window) == ("churn-dev", SCHEDULE, "")  # the endpoint from the path
    assert run.exit_message == '{"text": "?"}' and run.has_violations is None
    assert run.notes == ("detail.Environment.sagemaker_endpoint_name is 5, not a name; it was ignored",
                         'detail.Environment.start_time is ["2026"], not a name; it was ignored',
                         "detail.ExitMessage is an object, not a string")


def test_an_unreadable_event_is_still_alerted_for_the_endpoint_it_names():
    detail = {**copy.deepcopy(EVENT["detail"]), "ProcessingJobStatus": 3}
    with pytest.raises(events.EventShapeError, match="detail.ProcessingJobStatus is missing or not a string"):
        events.parse_event({**EVENT, "detail": detail}, events.Defaults())
    run = events.placeholder_run({**EVENT, "detail": detail}, events.Defaults())
    assert (run.endpoint, run.schedule, run.status) == ("churn-dev", SCHEDULE, "unknown")


# --- model quality: the same function, topic and de-duplication ------------------------------------

QUALITY_SCHEDULE = "churn-dev-model-quality"
QUALITY_FOLDER = f"s3://{BUCKET}/reports/churn-dev/{QUALITY_SCHEDULE}/2021/05/18/01"
QUALITY_JOB = "model-quality-monitoring-202105180100-e03ba5d6d5eb3ed13314e479"


def quality_event(**detail_changes) -> dict:
    """The real hourly run's analysis job (contract, section 2) as EventBridge delivers it."""
    event = copy.deepcopy(EVENT)
    event["detail"].update(
        ProcessingJobName=QUALITY_JOB,
        ProcessingOutputConfig={"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
            "S3Uri": QUALITY_FOLDER, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        Environment={"analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
                     "dataset_format": '{"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}',
                     "probability_attribute": "0", "probability_threshold_attribute": "0.5",
                     "sagemaker_endpoint_name": "churn-dev", "sagemaker_monitoring_schedule_name": QUALITY_SCHEDULE,
                     "start_time": "2021-05-18T00:00:00Z", "end_time": "2021-05-18T01:00:00Z"},
        ExitMessage=model_quality_reference.RUN_MESSAGE,
        MonitoringScheduleArn=f"arn:aws:sagemaker:{REGION}:123456789012:monitoring-schedule/{QUALITY_SCHEDULE}",
    )
    event["detail"].update(detail_changes)
    return event


def test_a_model_quality_runs_violations_reach_the_queue_once(aws):
    s3, received = aws
    violations = [QualityViolation(check, description, metric)
                  for check, metric, description in model_quality_reference.RUN_VIOLATIONS]
    s3.put_object(Bucket=BUCKET, Key=f"{QUALITY_FOLDER.split('/', 3)[3]}/constraint_violations.json",
                  Body=json.dumps(quality_violations_document(violations), indent=2).encode())

    handler.handler(quality_event(), None)
    handler.handler(quality_event(), None)
    (message,) = received()

    assert message["Subject"] == "churn-dev: 10 model-quality violations: auc 0.513 < 0.94, precision 0.693 < 1, ..."
    assert "  auc: 0.5128 +/- 0.007142, below threshold 0.9395 (LessThanThreshold)" in message["Message"]
    assert ("  falseNegativeRate: 0.8865 +/- 0.002574, above threshold 0.4286 (GreaterThanThreshold)"
            in message["Message"])
    assert "Analysed window: 2021-05-18T00:00:00Z to 2021-05-18T01:00:00Z" in message["Message"]
    assert attributes(message)["schedule"] == ("String", QUALITY_SCHEDULE)
    assert attributes(message)["violation_count"] == ("Number", "10")


def test_a_model_quality_run_without_ground_truth_alerts_with_the_jobs_reason(aws):
    _, received = aws
    reason = no_matched_data_message("/opt/ml/processing/input_data", "/opt/ml/processing/groundtruth",
                                     "inferenceId, else eventId", "1892 captures, 0 labels")
    handler.handler(quality_event(ProcessingJobStatus="Failed", FailureReason=reason, ExitMessage=None), None)
    (message,) = received()
    # The analyzer's reason names both sides of a join that matched nothing.
    assert message["Subject"].startswith(f"churn-dev: monitoring run Failed: no label matched ({QUALITY_JOB[:30]}")
    assert f"Failure reason: {reason}" in message["Message"]
    assert "No captured prediction matched a ground-truth label" in message["Message"]
    assert attributes(message)["severity"] == ("String", "critical")
