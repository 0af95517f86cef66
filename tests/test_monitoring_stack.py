"""Template assertions of the monitoring stack with each engine (synthesized as `-c engine=...`)."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from contract.events import JOB_FAILED_ERROR
from stacks.app_builder import DEFAULT_MONITORING_SOURCES, build_environment
from stacks.config import load_config
from stacks.constructs.runner_route import RUNNER_ERRORS
from tests.self_hosted_definition import (
    choose,
    evaluate,
    processing_job,
    render,
    state_machine_definition,
    walk,
    window_variables,
)
from tests.stack_fixtures import (
    asset_files,
    build_app,
    cdk_context,
    fake_baseline_dataset,
    fake_model_artifact,
    fake_validation_dataset,
    import_from_asset,
    lambda_asset,
    templates,
)

ENGINES = ("managed", "self-hosted")
CRON = "cron(0 * ? * * *)"
BUCKET = "churn-monitor-dev-123456789012-eu-west-1"


def monitoring(engine: str) -> Template:
    return templates("dev", engine)["monitoring"]


def resources(template: Template, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template.to_json()["Resources"].items() if v["Type"] == resource_type}


def only(template: Template, resource_type: str) -> tuple[str, dict]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"{resource_type}: {sorted(found)}"
    return next(iter(found.items()))


def role_statements(template: Template, role_prefix: str) -> list[dict]:
    """Every statement of the policies attached to the role whose logical id starts with `role_prefix`."""
    roles = [k for k, v in resources(template, "AWS::IAM::Role").items() if k.startswith(role_prefix)]
    assert len(roles) == 1, roles
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": roles[0]} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_on(statements: list[dict]) -> dict[str, list[str]]:
    """action -> the rendered resources it is allowed on."""
    allowed: dict[str, list[str]] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            allowed.setdefault(action, []).extend(render(t) for t in targets)
    return allowed


def statement(statements: list[dict], sid: str) -> dict:
    return next(s for s in statements if s.get("Sid") == sid)


def build_monitoring(**overrides) -> Template:
    """The dev monitoring stack with cdk.json's values overridden."""
    context = cdk_context()
    context["environments"]["dev"].update(overrides)
    app = App(context=context)
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset(),
                      validation_dataset=fake_validation_dataset())
    stacks = build_environment(
        app,
        load_config(context, env_name="dev", engine="managed"),
        model_artifact_path=fake_model_artifact(),
        monitoring_sources=sources,
    )
    return Template.from_stack(stacks.monitoring)


# --- both engines: the baseline ---------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_the_baseline_resource_profiles_the_training_data_with_the_engine_analyzer(engine):
    _, baseline = only(monitoring(engine), "Custom::DataQualityBaseline")
    properties = baseline["Properties"]
    assert properties["JobNamePrefix"] == "churnmonitor-dev-baseline"
    assert render(properties["DatasetUri"]).startswith("s3://cdk-hnb659fds-assets-123456789012-eu-west-1/")
    assert render(properties["DatasetUri"]).endswith(".csv")
    assert render(properties["OutputUri"]) == f"s3://{BUCKET}/baselines"
    assert json.loads(properties["Environment"]["dataset_format"]) == {
        "csv": {"header": True, "output_columns_position": "START"}
    }
    assert properties["Environment"]["dataset_source"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert properties["Environment"]["output_path"] == "/opt/ml/processing/output"
    assert properties["MaxRuntimeInSeconds"] == "3000"  # baseline_timeout_minutes = 50
    image = properties["ImageUri"]["Fn::FindInMap"][0]
    if engine == "managed":
        assert image == "ModelMonitorImage"
        assert properties["ContainerEntrypoint"] == [] and properties["CodeUri"] == ""
    else:
        assert image == "SklearnProcessingImage"
        assert properties["ContainerEntrypoint"] == ["python3", "-m", "analyzer", "container"]
        code = render(properties["CodeUri"])
        assert code.endswith(".zip")
        assert (
            properties["Environment"]["PYTHONPATH"]
            == "/opt/ml/processing/input/code/" + code.rsplit("/", 1)[1]
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_the_deployment_waits_for_the_baseline_up_to_the_configured_timeout(engine):
    template = monitoring(engine)
    waiter = next(
        v
        for k, v in resources(template, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("BaselineProviderwaiterstatemachine")
    )
    retry = json.loads(render(waiter["Properties"]["DefinitionString"]))["States"][
        "framework-isComplete-task"
    ]["Retry"]
    assert retry[0]["IntervalSeconds"] * retry[0]["MaxAttempts"] == 50 * 60
    assert waiter["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    handlers = {
        v["Properties"]["Handler"]: v["Properties"]["Runtime"]
        for v in resources(template, "AWS::Lambda::Function").values()
        if v["Properties"]["Handler"].startswith("baseline_handler.")
    }
    assert handlers == {
        "baseline_handler.on_event": "python3.14",
        "baseline_handler.is_complete": "python3.14",
    }


def test_the_baseline_handlers_asset_holds_their_modules_and_the_contract_package(tmp_path):
    _, stacks = build_app("dev", "managed")
    template = Template.from_stack(stacks.monitoring)
    functions = [
        v for v in resources(template, "AWS::Lambda::Function").values()
        if v["Properties"]["Handler"].startswith("baseline_handler.")
    ]
    assets = {lambda_asset(stacks.monitoring, function) for function in functions}
    assert len(assets) == 1, assets
    (asset,) = assets
    files = asset_files(asset)
    assert {"baseline_handler.py", "baseline_job.py", "contract/__init__.py", "contract/processing.py"} <= set(files)
    assert {f.split("/")[0] for f in files if "/" in f} == {"contract"}
    modules = ["baseline_handler", "baseline_job", "contract.processing", "contract.layout"]
    assert all(path.startswith(str(asset)) for path in import_from_asset(asset, modules, tmp_path))


@pytest.mark.parametrize("engine", ENGINES)
def test_the_baseline_roles_are_least_privilege(engine):
    template = monitoring(engine)
    jobs = "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/churnmonitor-dev-baseline*"
    on_event = role_statements(template, "BaselineOnEventRole")
    allowed = actions_on(on_event)
    for action in (
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
    ):
        assert allowed[action] == [jobs]
    assert statement(on_event, "PassJobRole")["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    assert render(statement(on_event, "PassJobRole")["Resource"]).startswith("<BaselineJobRole")
    assert statement(on_event, "GrantVolumeKey")["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}
    }
    is_complete = actions_on(role_statements(template, "BaselineIsCompleteRole"))
    assert {a for a in is_complete if a.startswith("sagemaker:")} == {"sagemaker:DescribeProcessingJob"}

    job = actions_on(role_statements(template, "BaselineJobRole"))
    assert job["s3:PutObject"] == [f"arn:aws:s3:::{BUCKET}/baselines/churnmonitor-dev-baseline*"]
    assert all(r.startswith("arn:aws:s3:::cdk-hnb659fds-assets-") for r in job["s3:GetObject"])
    assert not [a for a in job if a.endswith("*") or a == "s3:DeleteObject"]


@pytest.mark.parametrize("engine", ENGINES)
def test_monitoring_is_deployed_after_the_endpoint(engine):
    _, stacks = build_app("dev", engine)
    assert stacks.endpoint in stacks.monitoring.dependencies


def test_a_configured_dataset_uri_is_baselined_instead_of_the_asset():
    template = build_monitoring(baseline_dataset_uri="s3://churn-data/2024/train.csv")
    _, baseline = only(template, "Custom::DataQualityBaseline")
    assert baseline["Properties"]["DatasetUri"] == "s3://churn-data/2024/train.csv"
    statements = role_statements(template, "BaselineJobRole")
    assert (
        render(statement(statements, "ReadDataset")["Resource"]) == "arn:aws:s3:::churn-data/2024/train.csv*"
    )
    assert statement(statements, "ListDataset")["Condition"] == {
        "StringLike": {"s3:prefix": ["2024/train.csv*"]}
    }


# --- managed engine ---------------------------------------------------------------------------------


def test_managed_job_definition_uses_the_baseline_isolation_kms_and_a_runtime_limit():
    template = monitoring("managed")
    _, definition = only(template, "AWS::SageMaker::DataQualityJobDefinition")
    properties = definition["Properties"]
    baseline_id, _ = only(template, "Custom::DataQualityBaseline")
    assert properties["DataQualityBaselineConfig"] == {
        "ConstraintsResource": {"S3Uri": {"Fn::GetAtt": [baseline_id, "ConstraintsS3Uri"]}},
        "StatisticsResource": {"S3Uri": {"Fn::GetAtt": [baseline_id, "StatisticsS3Uri"]}},
    }
    assert properties["DataQualityAppSpecification"]["Environment"] == {
        "publish_cloudwatch_metrics": "Enabled"
    }
    assert properties["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "churn-dev"
    assert properties["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
    }
    storage_key = properties["DataQualityJobOutputConfig"]["KmsKeyId"]
    assert "CaptureStorageKey" in json.dumps(storage_key)
    assert properties["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == storage_key
    assert properties["JobResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert 0 < properties["StoppingCondition"]["MaxRuntimeInSeconds"] <= 3600
    output = properties["DataQualityJobOutputConfig"]["MonitoringOutputs"][0]["S3Output"]
    assert render(output["S3Uri"]) == f"s3://{BUCKET}/reports"
    # Every property is create-only: the name changes with the baseline (deploy time) and the rest (synth).
    name = properties["JobDefinitionName"]["Fn::Join"][1]
    assert re.fullmatch(r"churn-dev-dq-[0-9a-f]{8}-", name[0])
    assert name[1] == {"Fn::GetAtt": [baseline_id, "BaselineId"]}


def test_managed_job_definition_name_is_versioned_by_content():
    def name_start(template: Template) -> str:
        return only(template, "AWS::SageMaker::DataQualityJobDefinition")[1]["Properties"][
            "JobDefinitionName"
        ]["Fn::Join"][1][0]

    default = name_start(monitoring("managed"))
    assert name_start(build_monitoring()) == default
    assert name_start(build_monitoring(monitoring_max_runtime_seconds=1800)) != default
    assert name_start(build_monitoring(monitoring_instance_type="ml.m5.large")) != default


def schedule_of_type(template: Template, monitoring_type: str) -> dict:
    (schedule,) = [s for s in resources(template, "AWS::SageMaker::MonitoringSchedule").values()
                   if s["Properties"]["MonitoringScheduleConfig"]["MonitoringType"] == monitoring_type]
    return schedule


def test_managed_schedule_runs_hourly_after_its_job_definition():
    template = monitoring("managed")
    definition_id, _ = only(template, "AWS::SageMaker::DataQualityJobDefinition")
    schedule = schedule_of_type(template, "DataQuality")
    config = schedule["Properties"]["MonitoringScheduleConfig"]
    assert schedule["Properties"]["MonitoringScheduleName"] == "churn-dev-data-quality"
    assert config["ScheduleConfig"] == {"ScheduleExpression": CRON}
    assert config["MonitoringType"] == "DataQuality"
    assert definition_id in schedule["DependsOn"]
    definition_name = only(template, "AWS::SageMaker::DataQualityJobDefinition")[1]["Properties"][
        "JobDefinitionName"
    ]
    assert config["MonitoringJobDefinitionName"] == definition_name
    assert not resources(template, "AWS::Scheduler::Schedule")


def test_managed_job_role_reads_captures_and_baseline_writes_reports_and_its_metrics_only():
    template = monitoring("managed")
    baseline_id, _ = only(template, "Custom::DataQualityBaseline")
    statements = role_statements(template, "ManagedScheduleJobRole")
    allowed = actions_on(statements)
    assert sorted(allowed["s3:GetObject"]) == sorted(
        [
            f"arn:aws:s3:::{BUCKET}/datacapture/churn-dev/AllTraffic/*",
            f"arn:aws:s3:::{BUCKET}/baselines/<{baseline_id}.BaseliningJobName>/*",
        ]
    )
    assert allowed["s3:PutObject"] == [f"arn:aws:s3:::{BUCKET}/reports/churn-dev/churn-dev-data-quality/*"]
    assert statement(statements, "ListInputs")["Condition"]["StringLike"]["s3:prefix"] == [
        "datacapture/churn-dev/AllTraffic/*", {"Fn::Join": ["", ["baselines/", {"Fn::GetAtt": [
            baseline_id, "BaseliningJobName"]}, "/*"]]},
    ]
    assert statement(statements, "PublishDataQualityMetrics")["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/data-metrics"}
    }
    assert statement(statements, "GrantVolumeKey")["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"}
    }
    assert not [a for a in allowed if a.endswith("*") or a in ("s3:DeleteObject", "s3:PutObjectAcl")]


# --- self-hosted engine -----------------------------------------------------------------------------


def test_self_hosted_schedule_starts_the_state_machine_hourly_with_the_scheduled_time():
    template = monitoring("self-hosted")
    machine_id = next(
        k
        for k in resources(template, "AWS::StepFunctions::StateMachine")
        if k.startswith("SelfHostedSchedule")
    )
    schedule = next(v for k, v in resources(template, "AWS::Scheduler::Schedule").items()
                    if k.startswith("SelfHostedSchedule"))
    assert schedule["Properties"]["ScheduleExpression"] == CRON
    assert schedule["Properties"]["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert schedule["Properties"]["Name"] == "churn-dev-data-quality"
    target = schedule["Properties"]["Target"]
    assert target["Arn"] == {"Ref": machine_id}
    assert json.loads(target["Input"]) == {"scheduledTime": "<aws.scheduler.scheduled-time>"}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert not resources(template, "AWS::SageMaker::MonitoringSchedule")


def test_self_hosted_job_uses_the_baseline_isolation_kms_and_a_runtime_limit():
    template = monitoring("self-hosted")
    baseline_id, _ = only(template, "Custom::DataQualityBaseline")
    definition = state_machine_definition(template.to_json())
    run = definition["States"]["RunAnalyzer"]
    assert run["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    job = processing_job(definition, window_variables(definition, {"scheduledTime": "2024-05-01T10:00:00Z"}))
    inputs = {i["InputName"]: i["S3Input"] for i in job["ProcessingInputs"]}
    assert inputs["baseline_statistics"]["S3Uri"] == f"<{baseline_id}.StatisticsS3Uri>"
    assert inputs["baseline_constraints"]["S3Uri"] == f"<{baseline_id}.ConstraintsS3Uri>"
    assert job["Environment"]["baseline_statistics"] == (
        inputs["baseline_statistics"]["LocalPath"] + "/statistics.json"
    )
    assert job["Environment"]["baseline_constraints"] == (
        inputs["baseline_constraints"]["LocalPath"] + "/constraints.json"
    )
    assert job["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
    }
    assert (
        job["ProcessingOutputConfig"]["KmsKeyId"]
        == job["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"]
    )
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == "<Fn::GetStackOutput>"  # the storage stack's key
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert job["Environment"]["publish_cloudwatch_metrics"] == "Enabled"
    assert job["Environment"]["sagemaker_endpoint_name"] == "churn-dev"
    assert job["Environment"]["sagemaker_monitoring_schedule_name"] == "churn-dev-data-quality"
    _, machine = next(
        (k, v)
        for k, v in resources(template, "AWS::StepFunctions::StateMachine").items()
        if k.startswith("SelfHostedSchedule")
    )
    assert machine["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert definition["TimeoutSeconds"] > job["StoppingCondition"]["MaxRuntimeInSeconds"]


@pytest.mark.parametrize(
    "execution_input, start_time, window, folder, report, job_name",
    [
        (
            {"scheduledTime": "2024-05-01T10:00:00Z"},
            None,
            ("2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"),
            "2024/05/01/09",
            "2024/05/01/10",
            "2024050110",
        ),
        # Across a leap day, a month and a year boundary.
        (
            {"scheduledTime": "2024-03-01T00:00:00Z"},
            None,
            ("2024-02-29T23:00:00Z", "2024-03-01T00:00:00Z"),
            "2024/02/29/23",
            "2024/03/01/00",
            "2024030100",
        ),
        (
            {"scheduledTime": "2025-01-01T00:00:00Z"},
            None,
            ("2024-12-31T23:00:00Z", "2025-01-01T00:00:00Z"),
            "2024/12/31/23",
            "2025/01/01/00",
            "2025010100",
        ),
        # A late start still analyses the hour before the scheduled hour.
        (
            {"scheduledTime": "2024-05-01T10:17:42Z"},
            None,
            ("2024-05-01T09:00:00Z", "2024-05-01T10:00:00Z"),
            "2024/05/01/09",
            "2024/05/01/10",
            "2024050110",
        ),
        # A manual run without input: the hour before the execution's start.
        (
            {},
            "2024-05-01T07:59:59.999Z",
            ("2024-05-01T06:00:00Z", "2024-05-01T07:00:00Z"),
            "2024/05/01/06",
            "2024/05/01/07",
            "2024050107",
        ),
    ],
)
def test_self_hosted_run_analyses_the_previous_hour(
    execution_input, start_time, window, folder, report, job_name
):
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    variables = window_variables(definition, execution_input, start_time or "2000-01-01T00:00:00Z")
    job = processing_job(definition, variables)
    assert (job["Environment"]["start_time"], job["Environment"]["end_time"]) == window
    capture = next(i["S3Input"] for i in job["ProcessingInputs"] if i["InputName"] == "endpoint")
    assert capture["S3Uri"] == f"s3://{BUCKET}/datacapture/churn-dev/AllTraffic/{folder}/"
    assert capture["LocalPath"] == f"/opt/ml/processing/input/endpoint/churn-dev/AllTraffic/{folder}"
    outputs = {o["OutputName"]: o["S3Output"] for o in job["ProcessingOutputConfig"]["Outputs"]}
    assert (
        outputs["monitoring_output"]["S3Uri"]
        == f"s3://{BUCKET}/reports/churn-dev/churn-dev-data-quality/{report}"
    )
    assert outputs["monitoring_output"]["LocalPath"] == job["Environment"]["output_path"]
    assert job["ProcessingJobName"] == f"churn-dev-data-quality-{job_name}"
    assert len(job["ProcessingJobName"]) <= 63
    listed = evaluate(definition["States"]["FindCaptures"]["Arguments"]["Prefix"], {"input": {}}, variables)
    assert listed == f"datacapture/churn-dev/AllTraffic/{folder}/"


def test_an_hour_without_captures_fails_the_run_with_the_service_reason():
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    variables = window_variables(definition, {"scheduledTime": "2024-05-01T10:00:00Z"})
    find = definition["States"]["FindCaptures"]
    assert find["Resource"] == "arn:aws:states:::aws-sdk:s3:listObjectsV2"
    choice = definition["States"][find["Next"]]
    # cdk.json's monitoring_runner is auto: a window with captures is sized, then routed (test_runner_routing).
    for key_count, expected in ((0, "NoData"), (3, "SizeWindow")):
        assigned = evaluate(find["Assign"], {"input": {}, "result": {"KeyCount": key_count}}, variables)
        assert choose(choice, {}, {**variables, **assigned}) == expected
    fail = definition["States"][choice["Default"]]
    assert fail["Type"] == "Fail"
    cause = evaluate(fail["Cause"], {"input": {}}, variables)
    assert cause.startswith(
        "Job inputs had no data: no capture file under "
        f"s3://{BUCKET}/datacapture/churn-dev/AllTraffic/2024/05/01/09/"
    )


def error_names(states: dict) -> list[str]:
    """Every error name a Retry or Catch of these states (and of their Map item processors) lists."""
    names = []
    for state in states.values():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            names += rule["ErrorEquals"]
        names += error_names(state.get("ItemProcessor", {}).get("States", {}))
    return names


def test_the_create_task_retries_only_capacity_refusals_and_looks_up_the_job_after_any_other_error():
    states = state_machine_definition(monitoring("self-hosted").to_json())["States"]
    run = states["RunAnalyzer"]
    assert run["Retry"] == [
        {
            "ErrorEquals": ["SageMaker.ResourceLimitExceededException"],
            "IntervalSeconds": 30,
            "MaxAttempts": 3,
            "BackoffRate": 2,
            "MaxDelaySeconds": 300,
            "JitterStrategy": "FULL",
        }
    ]
    (catch,) = run["Catch"]
    assert (catch["ErrorEquals"], catch["Next"]) == (["States.ALL"], "WaitForJob")
    assert set(catch["Assign"]) == {"createAttempts", "createError"}
    assert (states["WaitForJob"]["Seconds"], states["WaitForJob"]["Next"]) == (60, "FindJob")
    # A re-run looks before it creates (the job path starts at FindJob, after the routing).
    assert states["HasCaptures"]["Choices"][0]["Next"] == "SizeWindow" and states["Route"]["Default"] == "FindJob"
    find = states["FindJob"]
    assert find["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:listProcessingJobs"
    assert (find["Arguments"]["NameContains"], find["Next"]) == ("{% $jobName %}", "JobState")
    assert find["Retry"][0]["ErrorEquals"] == ["SageMaker.SageMakerException", "SageMaker.SdkClientException"]
    # Names as the integrations raise them: `States.*` or `<Service>.<Name>Exception`, never a bare name.
    # The Lambda runner's own error types, which lambda:invoke passes on as they are, aside.
    names = [name for name in error_names(states) if name not in RUNNER_ERRORS]
    assert names and all(re.fullmatch(r"States\.[A-Za-z]+|[A-Z][A-Za-z0-9]*\.[A-Za-z0-9]+Exception", n) for n in names)
    assert "SageMaker.AmazonSageMakerException" not in names  # generic: it also means "name already exists"


JOB = "churn-dev-data-quality-2024050110"


def summaries(*jobs: tuple[str, str, dict]) -> dict:
    """A ListProcessingJobs result: (name, status, other fields) per job."""
    return {"ProcessingJobSummaries": [{"ProcessingJobName": n, "ProcessingJobStatus": s, **f} for n, s, f in jobs]}


FAILURE = {"Error": "SageMaker.AmazonSageMakerException", "Cause": "Rate exceeded (Service: SageMaker)"}
CAPACITY = {"Error": "SageMaker.ResourceLimitExceededException", "Cause": "The account-level service limit ..."}
REASONS = {"FailureReason": "AlgorithmError: see job logs", "ExitMessage": "Traceback: ValueError: bad row"}


@pytest.mark.parametrize(
    "outcomes, path",
    [
        # The first run of the hour: no job of that name yet, so it is created and completes.
        ({"FindJob": [summaries()], "RunAnalyzer": [{"ProcessingJobStatus": "Completed"}]},
         ["FindJob", "JobState", "RunAnalyzer", "ReadMetrics"]),
        # A re-run while the hour's job runs (a longer name that merely contains it is another job):
        # waited on until it completes, never created again.
        ({"FindJob": [summaries((JOB + "-manual", "Failed", {}), (JOB, "InProgress", {})),
                      summaries((JOB, "Completed", {}))]},
         ["FindJob", "JobState", "WaitForJob", "FindJob", "JobState", "ReadMetrics"]),
        # The create task failed after the job was created (its retry would hit "name already exists"):
        # the job is found and waited on.
        ({"FindJob": [summaries(), summaries((JOB, "InProgress", {})), summaries((JOB, "Completed", {}))],
          "RunAnalyzer": [FAILURE]},
         ["FindJob", "JobState", "RunAnalyzer", "WaitForJob", "FindJob", "JobState", "WaitForJob", "FindJob",
          "JobState", "ReadMetrics"]),
        # Throttled before anything was created: looked up, then created again.
        ({"FindJob": [summaries(), summaries()], "RunAnalyzer": [FAILURE, {"ProcessingJobStatus": "Completed"}]},
         ["FindJob", "JobState", "RunAnalyzer", "WaitForJob", "FindJob", "JobState", "RunAnalyzer", "ReadMetrics"]),
        # No capacity for a while: retried with backoff by the task itself.
        ({"FindJob": [summaries()], "RunAnalyzer": [CAPACITY, CAPACITY, {"ProcessingJobStatus": "Completed"}]},
         ["FindJob", "JobState", "RunAnalyzer", "RunAnalyzer (retry)", "RunAnalyzer (retry)", "ReadMetrics"]),
    ],
)
def test_a_run_creates_the_hours_job_at_most_once_and_waits_on_an_existing_one(outcomes, path):
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    variables = window_variables(definition, {"scheduledTime": "2024-05-01T10:00:00Z"})
    assert variables["jobName"] == JOB
    walked = walk(definition, "FindJob", variables, outcomes, stop_at=("ReadMetrics",))
    assert walked["path"] == path
    assert all(not left for left in outcomes.values())  # every scripted call was made


@pytest.mark.parametrize(
    "status, fields",
    [("Failed", REASONS), ("Stopped", {"ExitMessage": "Stopped by user"}), ("Failed", {})],
)
def test_a_failed_or_stopped_job_ends_the_run_with_its_reason_and_exit_message(status, fields):
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    variables = window_variables(definition, {"scheduledTime": "2024-05-01T10:00:00Z"})
    task_failure = {"Error": "States.TaskFailed", "Cause": "{\"ProcessingJobStatus\": \"Failed\"}"}
    outcomes = {"FindJob": [summaries(), summaries((JOB, status, fields))], "RunAnalyzer": [task_failure]}
    walked = walk(definition, "FindJob", variables, outcomes)
    assert walked["path"] == ["FindJob", "JobState", "RunAnalyzer", "WaitForJob", "FindJob", "JobState", "JobFailed"]
    assert walked["error"] == JOB_FAILED_ERROR
    assert json.loads(walked["cause"]) == {
        "ProcessingJobName": JOB,
        "ProcessingJobStatus": status,
        **fields,
        "Environment": {"start_time": "2024-05-01T09:00:00Z", "end_time": "2024-05-01T10:00:00Z"},
    }


def test_a_create_that_keeps_failing_without_a_job_ends_the_run_with_the_last_error():
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    variables = window_variables(definition, {"scheduledTime": "2024-05-01T10:00:00Z"})
    denied = {"Error": "SageMaker.AmazonSageMakerException", "Cause": "User is not authorized to perform iam:PassRole"}
    outcomes = {"FindJob": [summaries()] * 4, "RunAnalyzer": [FAILURE, FAILURE, denied]}
    walked = walk(definition, "FindJob", variables, outcomes)
    assert walked["path"].count("RunAnalyzer") == 3
    assert walked["path"][-2:] == ["JobState", "CreateFailed"]
    assert (walked["error"], walked["cause"]) == (denied["Error"], denied["Cause"])
    assert walked["variables"]["createAttempts"] == 3


@pytest.mark.parametrize("count, sizes", [(0, []), (1, [1]), (500, [500]), (1201, [500, 500, 201])])
def test_metrics_are_published_in_batches_putmetricdata_accepts(count, sizes):
    definition = state_machine_definition(monitoring("self-hosted").to_json())
    publish = definition["States"]["PublishMetrics"]
    data = [{"MetricName": f"feature_non_null_f{i}", "Value": 1.0} for i in range(count)]
    batches = evaluate(publish["Items"], {"input": data})
    assert [len(b["MetricData"]) for b in batches] == sizes
    assert [d for b in batches for d in b["MetricData"]] == data
    put = publish["ItemProcessor"]["States"]["PutMetricData"]
    assert put["Arguments"]["Namespace"] == "aws/sagemaker/Endpoints/data-metrics"
    assert put["Retry"][0]["MaxAttempts"] > 1
    assert definition["States"]["ReadMetrics"]["Catch"][0]["ErrorEquals"] == ["S3.NoSuchKeyException"]


def test_self_hosted_roles_are_least_privilege():
    template = monitoring("self-hosted")
    machine = role_statements(template, "SelfHostedScheduleStateMachineRole")
    allowed = actions_on(machine)
    jobs = "arn:aws:sagemaker:eu-west-1:123456789012:processing-job/churn-dev-data-quality-*"
    for action in (
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    ):
        assert allowed[action] == [jobs]
    # FindJob: a read with no resource-level scoping; the job's own actions stay on this schedule's jobs.
    assert statement(machine, "FindJobs")["Action"] == "sagemaker:ListProcessingJobs"
    assert allowed["sagemaker:ListProcessingJobs"] == ["*"]
    rule = "arn:aws:events:eu-west-1:123456789012:rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule"
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        assert allowed[action] == [rule]
    assert render(statement(machine, "PassJobRole")["Resource"]).startswith("<SelfHostedScheduleJobRole")
    assert statement(machine, "FindCaptures")["Condition"] == {
        "StringLike": {"s3:prefix": ["datacapture/churn-dev/AllTraffic/*"]}
    }
    assert allowed["s3:GetObject"] == [
        f"arn:aws:s3:::{BUCKET}/reports/churn-dev/churn-dev-data-quality/*/metrics/data-metrics.json"
    ]
    assert statement(machine, "PublishDataQualityMetrics")["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "aws/sagemaker/Endpoints/data-metrics"}
    }
    assert "s3:PutObject" not in allowed

    job = actions_on(role_statements(template, "SelfHostedScheduleJobRole"))
    assert job["s3:PutObject"] == [f"arn:aws:s3:::{BUCKET}/reports/churn-dev/churn-dev-data-quality/*"]
    assert f"arn:aws:s3:::{BUCKET}/datacapture/churn-dev/AllTraffic/*" in job["s3:GetObject"]
    # Network-isolated: no credentials in the container, so the job role publishes nothing itself.
    assert "cloudwatch:PutMetricData" not in job


def job_rule_pattern(template: Template) -> dict:
    (pattern,) = [
        r["Properties"]["EventPattern"]
        for r in resources(template, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.sagemaker"]
    ]
    return pattern


def test_alerts_watch_this_engine_runs():
    managed = job_rule_pattern(monitoring("managed"))
    assert "MonitoringScheduleArn" in json.dumps(managed)
    assert managed["detail"]["ProcessingJobStatus"] == ["Completed", "Failed", "Stopped"]
    self_hosted = monitoring("self-hosted")
    patterns = json.dumps(
        [r["Properties"]["EventPattern"] for r in resources(self_hosted, "AWS::Events::Rule").values()]
    )
    assert '"prefix": "churn-dev-data-quality-"' in patterns
    assert "Step Functions Execution Status Change" in patterns
    # The state machine reports a failed job (JobFailed): its job events alert only on completion.
    assert job_rule_pattern(self_hosted)["detail"]["ProcessingJobStatus"] == ["Completed"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_endpoints_rollback_alarms_reach_the_alerts_topic(env):
    stack_templates = templates(env)
    alarm_names = sorted(
        alarm["Properties"]["AlarmName"]
        for alarm in resources(stack_templates["endpoint"], "AWS::CloudWatch::Alarm").values()
        if "-rollback-" in alarm["Properties"]["AlarmName"]
    )
    assert len(alarm_names) == 3
    template = stack_templates["monitoring"]
    rules = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()
             if r["Properties"]["EventPattern"]["source"] == ["aws.cloudwatch"]]
    assert len(rules) == 1
    pattern = rules[0]["EventPattern"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert sorted(pattern["detail"]["alarmName"]) == alarm_names
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
    topic_id, _ = only(template, "AWS::SNS::Topic")
    (target,) = rules[0]["Targets"]
    assert target["Arn"] == {"Ref": topic_id}
    assert "<detail-alarmName>" in json.dumps(target["InputTransformer"])
    # The topic is encrypted: EventBridge must be allowed to publish and to use its key.
    rule_id = next(k for k, r in resources(template, "AWS::Events::Rule").items() if r["Properties"] == rules[0])
    policy = only(template, "AWS::SNS::TopicPolicy")[1]["Properties"]["PolicyDocument"]["Statement"]
    publishers = [s for s in policy if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert publishers == [statement(policy, "RollbackAlarmRulePublishes")]
    assert publishers[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    key_policy = only(template, "AWS::KMS::Key")[1]["Properties"]["KeyPolicy"]["Statement"]
    assert statement(key_policy, "EventBridgeRulesUseKey")["Principal"] == {"Service": "events.amazonaws.com"}
