"""Template assertions on a small stack that composes RunAlerts (cdk-nag runs only in its own test here)."""

from __future__ import annotations

import pytest
from aws_cdk import App, CfnParameter, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks
from moto import mock_aws

from contract.model_quality import GREATER_THAN, LESS_THAN
from stacks.config import EnvironmentConfig
from stacks.constructs import alerts
from stacks.constructs.alerts import QualityAlertSource, RunAlerts, RunAlertsProps
from stacks.constructs.lambda_assets import lambda_code
from tests.stack_fixtures import asset_files, import_from_asset, lambda_asset
from tests.test_alert_handler import route

CONFIG = EnvironmentConfig(name="dev", endpoint_name="churn-dev", alert_email="ml-oncall@example.com",
                           drift_alarm_features=("Day Mins", "CustServ Calls"), log_retention_days=14)
SCHEDULE = "churn-dev-hourly"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-dev-monitoring"


def build(app: App | None = None, **changes) -> tuple[Stack, RunAlerts]:
    stack = Stack(app or App(), "AlertsTest")
    bucket_key = kms.Key(stack, "BucketKey", enable_key_rotation=True)
    values = dict(endpoint_name=CONFIG.endpoint_name, schedule_name=SCHEDULE, bucket_name=CONFIG.bucket_name,
                  bucket_key=bucket_key, log_retention_days=CONFIG.log_retention_days,
                  retain=CONFIG.retain_data,
                  alert_email=CONFIG.alert_email, drift_alarm_features=CONFIG.drift_alarm_features,
                  job_name_prefixes=["churn-dev-monitor-"], state_machine_arn=STATE_MACHINE)
    values.update(changes)
    return stack, RunAlerts(stack, "Alerts", RunAlertsProps(**values))


@pytest.fixture(scope="module")
def built():
    stack, construct = build()
    return stack, construct, Template.from_stack(stack)


def ref(stack: Stack, construct) -> dict:
    return {"Ref": stack.get_logical_id(construct.node.default_child)}


def arn(stack: Stack, construct) -> dict:
    return {"Fn::GetAtt": [stack.get_logical_id(construct.node.default_child), "Arn"]}


def resources(template: Template, resource_type: str) -> list[dict]:
    return list(template.find_resources(resource_type).values())


def test_rule_matches_terminal_states_of_this_stacks_runs_only(built):
    stack, construct, template = built
    rules = {r["Properties"]["EventPattern"]["source"][0]: r["Properties"]
             for r in resources(template, "AWS::Events::Rule")}
    assert rules["aws.sagemaker"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {
            # The state machine reports its failed jobs: only a completed job alerts from its own event.
            "ProcessingJobStatus": ["Completed"],
            "$or": [
                {"Environment": {"sagemaker_endpoint_name": ["churn-dev"],
                                 "sagemaker_monitoring_schedule_name": [SCHEDULE]}},
                {"ProcessingJobName": [{"prefix": "churn-dev-monitor-"}]},
            ],
        },
    }
    assert rules["aws.states"]["EventPattern"] == {
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [STATE_MACHINE]}}
    for rule in rules.values():
        (target,) = rule["Targets"]
        assert target["Arn"] == arn(stack, construct.function)


def test_without_a_state_machine_every_terminal_job_state_alerts():
    _, construct = build(state_machine_arn=None, job_name_prefixes=[])
    assert construct.state_machine_rule is None
    template = Template.from_stack(construct.node.scope)
    (rule,) = resources(template, "AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail"]["ProcessingJobStatus"] == ["Completed", "Failed", "Stopped"]
    assert rule["Properties"]["Description"] == "churn-dev's monitoring jobs that ended Completed, Failed, Stopped"


def test_managed_schedule_narrows_by_its_arn():
    schedule_arn = f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{SCHEDULE}"
    pattern = alerts.run_event_pattern("churn-dev", [SCHEDULE], monitoring_schedule_arns=[schedule_arn])
    assert pattern.detail["$or"][1] == {"MonitoringScheduleArn": [schedule_arn]}
    only_environment = alerts.run_event_pattern("churn-dev", [SCHEDULE])
    assert "$or" not in only_environment.detail  # EventBridge rejects a one-element $or
    assert only_environment.detail["Environment"]["sagemaker_endpoint_name"] == ["churn-dev"]


def test_lambda_role_is_least_privilege(built):
    stack, construct, template = built
    (policy,) = resources(template, "AWS::IAM::Policy")
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    partition = stack.partition
    expected = {
        "ReadReports": (["s3:GetObject"],
                        f"arn:{partition}:s3:::{CONFIG.bucket_name}/reports/churn-dev/*"),
        "WriteAlertMarkers": (["s3:PutObject", "s3:DeleteObject"],
                              f"arn:{partition}:s3:::{CONFIG.bucket_name}/alert-markers/churn-dev/*"),
        "UseBucketKey": (["kms:Decrypt", "kms:GenerateDataKey"], stack.node.find_child("BucketKey").key_arn),
        "PublishAlerts": (["sns:Publish"], construct.topic.topic_arn),
        "UseAlertsKey": (["kms:Decrypt", "kms:GenerateDataKey"], construct.key.key_arn),
        "SendFailedEvents": (["sqs:SendMessage"], construct.dead_letters.queue_arn),
        "WriteLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], construct.log_group.log_group_arn),
    }
    assert set(statements) == set(expected)
    for sid, (actions, resource) in expected.items():
        statement = statements[sid]
        assert statement["Effect"] == "Allow" and "Condition" not in statement
        action = statement["Action"]
        assert ([action] if isinstance(action, str) else action) == actions
        assert statement["Resource"] == stack.resolve(resource), sid
    (role,) = resources(template, "AWS::IAM::Role")
    assert "ManagedPolicyArns" not in role["Properties"]
    assert policy["Properties"]["Roles"] == [ref(stack, construct.role)]


def test_function_runtime_environment_and_logs(built):
    stack, construct, template = built
    (function,) = resources(template, "AWS::Lambda::Function")
    props = function["Properties"]
    family, version = props["Runtime"][:6], tuple(int(p) for p in props["Runtime"][6:].split("."))
    assert family == "python" and version >= (3, 12)
    assert props["Runtime"] == lambda_.Runtime.PYTHON_3_14.name
    assert props["Handler"] == "alerts.handler.handler"
    assert props["Environment"]["Variables"] == {
        "ALERT_TOPIC_ARN": ref(stack, construct.topic),
        "MARKER_BUCKET": stack.resolve(CONFIG.bucket_name),
        "MARKER_PREFIX": "alert-markers/churn-dev",
        "ENDPOINT_NAME": "churn-dev",
        "SCHEDULE_NAME": SCHEDULE,
    }
    assert props["LoggingConfig"]["LogGroup"] == ref(stack, construct.log_group)
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["RetentionInDays"] == 14
    assert log_group["DeletionPolicy"] == "Delete"


def test_prod_retains_logs_and_key():
    stack, construct = build(retain=True, log_retention_days=365)
    template = Template.from_stack(stack)
    (log_group,) = template.find_resources("AWS::Logs::LogGroup").values()
    assert (log_group["Properties"]["RetentionInDays"], log_group["DeletionPolicy"]) == (365, "Retain")
    key = template.find_resources("AWS::KMS::Key")[stack.get_logical_id(construct.key.node.default_child)]
    assert key["DeletionPolicy"] == "Retain"


def test_failed_invocations_go_to_an_encrypted_queue_with_an_alarm(built):
    stack, construct, template = built
    (invoke,) = resources(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    assert invoke["Properties"]["FunctionName"] == ref(stack, construct.function)
    assert invoke["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": arn(stack, construct.dead_letters)}}
    (queue,) = resources(template, "AWS::SQS::Queue")
    assert queue["Properties"]["KmsMasterKeyId"] == arn(stack, construct.key)
    (queue_policy,) = resources(template, "AWS::SQS::QueuePolicy")
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in queue_policy["Properties"]["PolicyDocument"]["Statement"])

    alarm = template.find_resources("AWS::CloudWatch::Alarm")[stack.get_logical_id(
        construct.dead_letter_alarm.node.default_child)]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [
        stack.get_logical_id(construct.dead_letters.node.default_child), "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"] == [ref(stack, construct.topic)]


def test_topic_is_encrypted_tls_only_with_email_subscription(built):
    stack, construct, template = built
    (topic,) = resources(template, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == arn(stack, construct.key)
    (policy,) = resources(template, "AWS::SNS::TopicPolicy")
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["AllowPublishThroughSSLOnly"]["Effect"] == "Deny"
    assert statements["AllowPublishThroughSSLOnly"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statements["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    (subscription,) = resources(template, "AWS::SNS::Subscription")
    assert (subscription["Properties"]["Protocol"], subscription["Properties"]["Endpoint"]) == (
        "email", "ml-oncall@example.com")
    key = template.find_resources("AWS::KMS::Key")[stack.get_logical_id(construct.key.node.default_child)]
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
                  if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert [s["Action"] for s in cloudwatch] == [["kms:Decrypt", "kms:GenerateDataKey*"]]

    no_email, _ = build(alert_email=None)
    assert Template.from_stack(no_email).find_resources("AWS::SNS::Subscription") == {}


def test_drift_alarms_watch_the_configured_features(built):
    stack, construct, template = built
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm")
              if a["Properties"].get("Namespace") == "aws/sagemaker/Endpoints/data-metrics"]
    assert sorted(a["MetricName"] for a in alarms) == [
        "feature_baseline_drift_CustServ Calls", "feature_baseline_drift_Day Mins"]
    for alarm in alarms:
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Endpoint", "Value": "churn-dev"}, {"Name": "MonitoringSchedule", "Value": SCHEDULE}]
        assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Maximum", 3600, 0.1)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["AlarmActions"] == alarm["OKActions"] == [ref(stack, construct.topic)]


def test_asset_holds_the_handler_package_and_the_contract_package(built, tmp_path):
    stack, _, template = built
    (function,) = resources(template, "AWS::Lambda::Function")
    asset = lambda_asset(stack, function)
    files = asset_files(asset)
    assert {"alerts/__init__.py", "alerts/handler.py", "contract/__init__.py", "contract/violations.py"} <= set(files)
    assert {f.split("/")[0] for f in files} == {"alerts", "contract"}
    modules = ["alerts.handler", "contract.violations", "contract.layout", "contract.events", "contract.processing"]
    assert all(path.startswith(str(asset)) for path in import_from_asset(asset, modules, tmp_path))


def test_asset_hash_follows_the_contract_package(tmp_path):
    """An edit to a contract module alone must change the asset (output hashing)."""
    hashes = []
    for content in ("VERSION = 1\n", "VERSION = 2\n"):
        folder = tmp_path / content[-2]
        folder.mkdir()
        files = dict(alerts.ASSET_FILES)
        (folder / "violations.py").write_text(content)
        files["contract/violations.py"] = folder / "violations.py"
        stack = Stack(App(), "HashProbe")
        lambda_.Function(stack, "F", runtime=alerts.RUNTIME, handler=alerts.HANDLER,
                         code=lambda_code(alerts.HANDLER_DIR, files))
        (function,) = resources(Template.from_stack(stack), "AWS::Lambda::Function")
        hashes.append(function["Properties"]["Code"]["S3Key"])
    assert hashes[0] != hashes[1]


def test_aws_solutions_checks_pass():
    app = App()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    build(app)
    app.synth()  # raises ValidationFailed on any unacknowledged finding


# --- model quality: the same rules and function, and alarms on its metrics --------------------------

QUALITY_SCHEDULE = "churn-dev-model-quality"
QUALITY_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:churn-dev-model-quality"
QUALITY_ROLE = "arn:aws:iam::123456789012:role/churn-dev-mq-job"
MANAGED = dict(job_name_prefixes=[], state_machine_arn=None,
               monitoring_schedule_arn=f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{SCHEDULE}")


def with_quality(stack_changes: dict | None = None, **quality) -> tuple[Stack, RunAlerts, dict]:
    """The construct with a model-quality source (self-hosted unless `quality` says otherwise)."""
    values = dict(schedule_name=QUALITY_SCHEDULE, job_name_prefixes=["churn-dev-model-quality-"],
                  state_machine_arn=QUALITY_MACHINE)
    stack, construct = build(**(stack_changes or {}), model_quality=QualityAlertSource(**{**values, **quality}))
    return stack, construct, Template.from_stack(stack).to_json()


def rule_patterns(template: dict) -> dict:
    return {r["Properties"]["EventPattern"]["source"][0]: r["Properties"]["EventPattern"]
            for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"}


def test_self_hosted_model_quality_runs_join_the_same_rules_and_function():
    stack, construct, template = with_quality()
    patterns = rule_patterns(template)
    assert patterns["aws.sagemaker"]["detail"] == {
        "ProcessingJobStatus": ["Completed"],
        "$or": [
            {"Environment": {"sagemaker_endpoint_name": ["churn-dev"],
                             "sagemaker_monitoring_schedule_name": [SCHEDULE, QUALITY_SCHEDULE]}},
            {"ProcessingJobName": [{"prefix": "churn-dev-monitor-"}, {"prefix": "churn-dev-model-quality-"}]},
        ],
    }
    assert patterns["aws.states"]["detail"]["stateMachineArn"] == [STATE_MACHINE, QUALITY_MACHINE]
    (function,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    variables = function["Properties"]["Environment"]["Variables"]
    assert (variables["SCHEDULE_NAME"], variables["QUALITY_SCHEDULE_NAME"]) == (SCHEDULE, QUALITY_SCHEDULE)
    assert variables["QUALITY_STATE_MACHINE_ARN"] == QUALITY_MACHINE
    assert len([r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]) == 1


def managed_job_event(name: str, **detail) -> dict:
    return {"source": "aws.sagemaker", "detail-type": "SageMaker Processing Job State Change",
            "detail": {"ProcessingJobName": name, "ProcessingJobStatus": "Failed", **detail}}


def test_managed_model_quality_jobs_are_matched_by_environment_arn_or_merge_role(monkeypatch):
    quality_arn = MANAGED["monitoring_schedule_arn"].replace(SCHEDULE, QUALITY_SCHEDULE)
    _, _, template = with_quality(MANAGED, job_name_prefixes=[], state_machine_arn=None,
                                  monitoring_schedule_arn=quality_arn, job_role_arn=QUALITY_ROLE)
    detail = rule_patterns(template)["aws.sagemaker"]["detail"]
    assert detail["ProcessingJobStatus"] == ["Completed", "Failed", "Stopped"]
    assert detail["$or"][1:] == [{"MonitoringScheduleArn": [MANAGED["monitoring_schedule_arn"], quality_arn]},
                                 {"ProcessingJobName": [{"prefix": "groundtruth-merge-"}], "RoleArn": [QUALITY_ROLE]}]
    assert "aws.states" not in rule_patterns(template)
    names = {"sagemaker_endpoint_name": "churn-dev", "sagemaker_monitoring_schedule_name": QUALITY_SCHEDULE}
    sent = [
        managed_job_event("model-quality-monitoring-202105180100-e03b", Environment=names),
        # The merge job's environment names neither endpoint nor schedule: its role says whose it is.
        managed_job_event("groundtruth-merge-202105180100-e03b", RoleArn=QUALITY_ROLE,
                          Environment={"dataset_source": "/opt/ml/processing/input_data"}),
        managed_job_event("groundtruth-merge-202105180100-other", RoleArn="arn:aws:iam::123456789012:role/other"),
        managed_job_event("model-quality-monitoring-202105180100-other",
                          Environment={**names, "sagemaker_endpoint_name": "another-endpoint"}),
    ]
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        routed = route(template, sent)
    assert sorted(e["detail"]["ProcessingJobName"] for e in routed) == [
        "groundtruth-merge-202105180100-e03b", "model-quality-monitoring-202105180100-e03b"]


def test_run_event_pattern_wants_a_list_of_schedules():
    with pytest.raises(TypeError, match="schedule_names must be a list of schedule names, not the string"):
        alerts.run_event_pattern("churn-dev", SCHEDULE)


def quality_alarms(template: dict) -> dict[str, dict]:
    return {a["Properties"]["MetricName"]: a["Properties"] for a in template["Resources"].values()
            if a["Type"] == "AWS::CloudWatch::Alarm"
            and a["Properties"].get("Namespace") == "aws/sagemaker/Endpoints/model-metrics"}


def test_one_alarm_per_configured_model_quality_metric():
    stack = Stack(App(), "QualityAlarms")
    auc_threshold = CfnParameter(stack, "AucThreshold").value_as_string  # a token, as the baseline's is
    construct = RunAlerts(stack, "Alerts", RunAlertsProps(
        endpoint_name="churn-dev", schedule_name=SCHEDULE, bucket_name=CONFIG.bucket_name,
        bucket_key=kms.Key(stack, "BucketKey", enable_key_rotation=True), log_retention_days=14, retain=False,
        model_quality=QualityAlertSource(schedule_name=QUALITY_SCHEDULE, alarms=[
            ("auc", auc_threshold, LESS_THAN), ("recall", "0.47", LESS_THAN),
            ("false_positive_rate", "0.2", GREATER_THAN)])))
    template = Template.from_stack(stack).to_json()
    alarms = quality_alarms(template)
    assert list(alarms) == ["auc", "recall", "false_positive_rate"] and len(construct.quality_alarms) == 3
    topic = ref(stack, construct.topic)
    for name, alarm in alarms.items():
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
            {"Name": "Endpoint", "Value": "churn-dev"}, {"Name": "MonitoringSchedule", "Value": QUALITY_SCHEDULE}]
        assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (3600, 1, "notBreaching")
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]
        assert f": {name} of an hour's labelled predictions" in str(alarm["AlarmDescription"])
        assert "model_quality.alarm_margins" in str(alarm["AlarmDescription"])
    assert alarms["auc"]["Threshold"] == {"Ref": "AucThreshold"}
    assert (alarms["recall"]["Threshold"], alarms["false_positive_rate"]["Threshold"]) == (0.47, 0.2)
    assert [(a["ComparisonOperator"], a["Statistic"]) for a in alarms.values()] == [
        ("LessThanThreshold", "Minimum"), ("LessThanThreshold", "Minimum"), ("GreaterThanThreshold", "Maximum")]
    assert "baseline's value minus its margin" in alarms["recall"]["AlarmDescription"]
    assert "baseline's value plus its margin" in alarms["false_positive_rate"]["AlarmDescription"]


@pytest.mark.parametrize("alarm,problem", [
    (("auc", "0.9", "LowerThanThreshold"), "comparison operator 'LowerThanThreshold' is not one of"),
    (("auc", "high", LESS_THAN), "threshold 'high' is not a number"),
])
def test_a_bad_model_quality_alarm_is_named(alarm, problem):
    with pytest.raises(ValueError, match=f"model-quality alarm on 'auc': {problem}"):
        with_quality(alarms=[alarm])


def test_aws_solutions_checks_pass_with_model_quality():
    app = App()
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    build(app, model_quality=QualityAlertSource(schedule_name=QUALITY_SCHEDULE, state_machine_arn=QUALITY_MACHINE,
                                                alarms=[("auc", "0.89", LESS_THAN)]))
    app.synth()
