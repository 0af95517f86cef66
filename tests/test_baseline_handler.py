"""The baseline custom resource: pure logic, and the handlers' SageMaker and S3 calls against moto.

moto completes processing jobs immediately, stores no Environment, and lets a second job reuse a
name; the tests set a job's status/FailureReason on moto's backend and emulate SageMaker's unique
names (ResourceInUse) where a case needs it.
"""

from __future__ import annotations

import json

import baseline_handler
import baseline_job
import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends

from contract.errors import BaselineJobFailed, PropertiesError
from contract.model_quality import BINARY, alarm_threshold_attribute, statistics_document

REGION = "eu-west-1"
PROPERTIES = {
    "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
    "JobNamePrefix": "churnmonitor-dev-monitoring-baseline",
    "RoleArn": "arn:aws:iam::123456789012:role/baseline-job",
    "ImageUri": "123.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3",
    "DatasetUri": "s3://assets/aaaa.csv",
    "OutputUri": "s3://churn-monitor-dev/baselines",
    "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234",
    "InstanceType": "ml.m5.xlarge",
    "VolumeSizeInGB": "20",
    "MaxRuntimeInSeconds": "3000",
    "Environment": {
        "dataset_format": '{"csv": {"header": true}}',
        "dataset_source": "/opt/ml/processing/input/x",
        "output_path": "/opt/ml/processing/output",
        "PYTHONPATH": "/opt/ml/processing/input/code/c.zip",
    },
    "ContainerEntrypoint": ["python3", "-m", "analyzer", "container"],
    "CodeUri": "s3://assets/cccc.zip",
}


def spec(**changes) -> baseline_job.BaselineSpec:
    return baseline_job.BaselineSpec.from_properties({**PROPERTIES, **changes})


def event(request: str, properties: dict | None = None, physical_id: str | None = None) -> dict:
    body = {
        "RequestType": request,
        "ResourceProperties": properties or PROPERTIES,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/ChurnMonitor-dev-Monitoring/x",
        "LogicalResourceId": "Baseline",
        "RequestId": "r1",
    }
    if physical_id:
        body["PhysicalResourceId"] = physical_id
    return body


# --- pure logic -------------------------------------------------------------------------------------


def test_properties_arrive_as_strings_and_are_typed():
    parsed = spec()
    assert parsed.job.volume_size_gb == 20 and parsed.job.max_runtime_seconds == 3000
    assert parsed.job.entrypoint == ("python3", "-m", "analyzer", "container")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("DatasetUri", None, "DatasetUri is missing"),
        ("DatasetUri", "/local/train.csv", "DatasetUri must be an s3:// URI"),
        ("VolumeSizeInGB", "twenty", "VolumeSizeInGB must be an integer"),
        ("JobNamePrefix", "bad_name", "JobNamePrefix 'bad_name'"),
        ("JobNamePrefix", "x" * 49, "must be 1-48"),
        ("Environment", {"a": 1}, "Environment must map names to strings"),
    ],
)
def test_bad_properties_name_the_property(key, value, message):
    with pytest.raises(PropertiesError, match=message):
        spec(**{key: value})


def test_job_name_is_deterministic_bounded_and_content_addressed():
    name = baseline_job.job_name(spec())
    assert name == baseline_job.job_name(spec())
    assert name.startswith("churnmonitor-dev-monitoring-baseline-")
    assert len(baseline_job.job_name(spec(JobNamePrefix="x" * 48), attempt=5)) <= 63
    no_header = {**PROPERTIES["Environment"], "dataset_format": '{"csv": {"header": false}}'}
    for changed in (
        {"DatasetUri": "s3://assets/bbbb.csv"},
        {"ImageUri": "other"},
        {"CodeUri": "s3://assets/d.zip"},
        {"Environment": no_header},
    ):
        assert baseline_job.job_name(spec(**changed)) != name, changed
    # What does not change the result does not start a new job.
    for same in (
        {"RoleArn": "arn:aws:iam::123456789012:role/other"},
        {"InstanceType": "ml.m5.large"},
        {"MaxRuntimeInSeconds": "600"},
        {"VolumeSizeInGB": "30"},
    ):
        assert baseline_job.job_name(spec(**same)) == name, same
    assert baseline_job.candidate_names(spec())[1] == f"{name}-2"


def test_processing_job_request_isolates_encrypts_and_follows_the_contract_paths():
    name = baseline_job.job_name(spec())
    request = baseline_job.processing_job_request(spec(), name)
    assert request["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
    }
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == PROPERTIES["KmsKeyArn"]
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == PROPERTIES["KmsKeyArn"]
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == f"s3://churn-monitor-dev/baselines/{name}"
    assert output["LocalPath"] == "/opt/ml/processing/output"
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["baseline_dataset_input"]["S3Uri"] == "s3://assets/aaaa.csv"
    assert inputs["baseline_dataset_input"]["LocalPath"] == "/opt/ml/processing/input/baseline_dataset_input"
    assert inputs["code"] == {
        **inputs["code"],
        "S3Uri": "s3://assets/cccc.zip",
        "LocalPath": "/opt/ml/processing/input/code",
    }
    assert request["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "analyzer", "container"]
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3000}
    managed = baseline_job.processing_job_request(spec(CodeUri=None, ContainerEntrypoint=None), name)
    assert [i["InputName"] for i in managed["ProcessingInputs"]] == ["baseline_dataset_input"]
    assert "ContainerEntrypoint" not in managed["AppSpecification"]


def describe(status: str, **extra) -> dict:
    return {
        "ProcessingJobName": "job-1",
        "ProcessingJobStatus": status,
        **extra,
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "monitoring_output", "S3Output": {"S3Uri": "s3://b/baselines/job-1/"}}]
        },
    }


def test_completion_data_by_status():
    assert baseline_job.completion_data(describe("InProgress"), "job") is None
    assert baseline_job.completion_data(describe("Completed"), "job") == {
        "StatisticsS3Uri": "s3://b/baselines/job-1/statistics.json",
        "ConstraintsS3Uri": "s3://b/baselines/job-1/constraints.json",
        "BaseliningJobName": "job-1",
        "BaselineId": "1",
    }
    with pytest.raises(BaselineJobFailed) as failed:
        baseline_job.completion_data(
            describe(
                "Failed", FailureReason="AlgorithmError: see logs", ExitMessage="Job inputs had no data"
            ),
            "job",
        )
    assert "Baseline job job-1 Failed" in str(failed.value)
    assert "reason: AlgorithmError: see logs" in str(failed.value)
    assert "exit message: Job inputs had no data" in str(failed.value)
    with pytest.raises(BaselineJobFailed, match="job-1 Stopped"):
        baseline_job.completion_data(describe("Stopped"), "job")


# --- the handlers against moto ---------------------------------------------------------------------


@pytest.fixture
def sagemaker(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield boto3.client("sagemaker", region_name=REGION)


def backend_job(name: str):
    return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].processing_jobs[name]


def set_status(name: str, status: str, **fields) -> None:
    job = backend_job(name)
    job.processing_job_status = status
    for key, value in fields.items():
        setattr(job, key, value)


@pytest.fixture
def unique_job_names(monkeypatch):
    """SageMaker refuses a second job with an existing name; moto overwrites it."""
    original = SageMakerModelBackend.create_processing_job

    def create(self, **kwargs):
        if kwargs["processing_job_name"] in self.processing_jobs:
            raise JsonRESTError("ResourceInUse", f"Job {kwargs['processing_job_name']} already exists")
        return original(self, **kwargs)

    monkeypatch.setattr(SageMakerModelBackend, "create_processing_job", create)


def job_names(client) -> list[str]:
    return sorted(j["ProcessingJobName"] for j in client.list_processing_jobs()["ProcessingJobSummaries"])


def test_create_starts_the_job_and_is_complete_returns_the_baseline_uris(sagemaker):
    physical_id = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    assert physical_id == baseline_job.job_name(spec())
    job = sagemaker.describe_processing_job(ProcessingJobName=physical_id)
    assert job["RoleArn"] == PROPERTIES["RoleArn"]
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert job["ProcessingInputs"][0]["S3Input"]["S3Uri"] == "s3://assets/aaaa.csv"

    set_status(physical_id, "InProgress")
    assert baseline_handler.is_complete(event("Create", physical_id=physical_id)) == {"IsComplete": False}
    set_status(physical_id, "Completed")
    result = baseline_handler.is_complete(event("Create", physical_id=physical_id))
    assert result == {
        "IsComplete": True,
        "Data": {
            "StatisticsS3Uri": f"s3://churn-monitor-dev/baselines/{physical_id}/statistics.json",
            "ConstraintsS3Uri": f"s3://churn-monitor-dev/baselines/{physical_id}/constraints.json",
            "BaseliningJobName": physical_id,
            "BaselineId": baseline_job.content_hash(spec()),
        },
    }


def test_a_failed_job_fails_the_deploy_with_its_reason(sagemaker):
    physical_id = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    set_status(
        physical_id,
        "Failed",
        failure_reason="ClientError: Cannot access S3 key aaaa.csv",
        exit_message="Error: dataset_source is empty",
    )
    with pytest.raises(BaselineJobFailed) as failed:
        baseline_handler.is_complete(event("Create", physical_id=physical_id))
    assert "Cannot access S3 key aaaa.csv" in str(failed.value)
    assert "dataset_source is empty" in str(failed.value)


def test_an_existing_job_of_the_same_content_is_reused(sagemaker, unique_job_names):
    first = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    set_status(first, "InProgress")
    # A retried Create (e.g. the Lambda ran twice) finds the running job instead of failing.
    assert baseline_handler.on_event(event("Create"))["PhysicalResourceId"] == first
    assert job_names(sagemaker) == [first]


def test_a_failed_job_of_the_same_content_is_retried_under_the_next_name(sagemaker, unique_job_names):
    first = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    set_status(first, "Failed", failure_reason="CapacityError: Unable to provision ML compute capacity")
    second = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    assert second == f"{first}-2"
    assert job_names(sagemaker) == [first, second]


def test_update_with_unchanged_content_starts_nothing(sagemaker):
    physical_id = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    changed_role = {**PROPERTIES, "RoleArn": "arn:aws:iam::123456789012:role/renamed"}
    result = baseline_handler.on_event(event("Update", changed_role, physical_id))
    assert result == {"PhysicalResourceId": physical_id}
    assert job_names(sagemaker) == [physical_id]
    assert baseline_handler.is_complete(event("Update", changed_role, physical_id))["IsComplete"] is True


def test_update_with_a_changed_dataset_runs_a_new_job_and_replaces_the_resource(sagemaker):
    old = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    new_dataset = {**PROPERTIES, "DatasetUri": "s3://assets/bbbb.csv"}
    new = baseline_handler.on_event(event("Update", new_dataset, old))["PhysicalResourceId"]
    assert new != old
    inputs = sagemaker.describe_processing_job(ProcessingJobName=new)["ProcessingInputs"]
    assert inputs[0]["S3Input"]["S3Uri"] == "s3://assets/bbbb.csv"
    data = baseline_handler.is_complete(event("Update", new_dataset, new))["Data"]
    assert data["BaseliningJobName"] == new
    # CloudFormation then deletes the old physical resource: its job completed, nothing is stopped.
    baseline_handler.on_event(event("Delete", PROPERTIES, old))
    assert sagemaker.describe_processing_job(ProcessingJobName=old)["ProcessingJobStatus"] == "Completed"


def test_delete_while_running_stops_the_job(sagemaker):
    physical_id = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    set_status(physical_id, "InProgress")
    result = baseline_handler.on_event(event("Delete", physical_id=physical_id))
    assert result == {"PhysicalResourceId": physical_id}
    status = sagemaker.describe_processing_job(ProcessingJobName=physical_id)["ProcessingJobStatus"]
    assert status == "Stopped"
    assert baseline_handler.is_complete(event("Delete", physical_id=physical_id)) == {"IsComplete": True}


@pytest.mark.parametrize(
    "physical_id", ["job-that-never-existed", "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"]
)
def test_delete_never_fails(sagemaker, physical_id):
    result = baseline_handler.on_event(event("Delete", physical_id=physical_id))
    assert result == {"PhysicalResourceId": physical_id}


def test_a_create_that_sagemaker_rejects_fails_with_the_service_message(sagemaker, monkeypatch):
    def reject(self, **kwargs):
        raise JsonRESTError("ResourceLimitExceeded", "The account-level service limit for ml.m5.xlarge is 0")

    monkeypatch.setattr(SageMakerModelBackend, "create_processing_job", reject)
    with pytest.raises(Exception, match="service limit for ml.m5.xlarge"):
        baseline_handler.on_event(event("Create"))


# --- alarm thresholds (model quality) --------------------------------------------------------------

MARGINS = {"auc": "0.05", "false_positive_rate": "0.1"}
QUALITY = {**PROPERTIES, "ProblemType": BINARY, "AlarmMargins": MARGINS}


def quality_statistics(**values: float) -> bytes:
    section = {metric: {"value": value, "standard_deviation": "NaN"} for metric, value in values.items()}
    return json.dumps(statistics_document(BINARY, section, 201)).encode()


def test_thresholds_worsen_each_baseline_value_by_its_margin():
    margins = {"auc": 0.05, "false_positive_rate": 0.1, "f0_5": 0.2}
    thresholds = baseline_job.alarm_thresholds(
        quality_statistics(auc=0.9, false_positive_rate=0.25, f0_5=0.7), "s3://b/statistics.json", BINARY, margins
    )
    # auc and f0_5 alarm when they fall (LessThanThreshold), the false-positive rate when it rises.
    assert thresholds == {
        alarm_threshold_attribute("auc"): repr(0.9 - 0.05),
        alarm_threshold_attribute("false_positive_rate"): repr(0.25 + 0.1),
        alarm_threshold_attribute("f0_5"): repr(0.7 - 0.2),
    }
    assert alarm_threshold_attribute("f0_5") == "AlarmThresholdf05"


@pytest.mark.parametrize(
    "document, message",
    [
        (quality_statistics(auc=0.9)[:40], r"s3://b/x/statistics.json is not valid JSON"),
        (b"", r"s3://b/x/statistics.json is not valid JSON"),
        (quality_statistics(auc=0.9), r"s3://b/x/statistics.json has no metric 'false_positive_rate'"),
        (b'{"regression_metrics": {}}', r"s3://b/x/statistics.json: \$: no binary_classification_metrics"),
        (
            quality_statistics(false_positive_rate=0.1, auc="high"),
            r"statistics.json: \$.binary_classification_metrics.auc",
        ),
    ],
)
def test_a_bad_statistics_file_fails_naming_the_file_and_the_metric(document, message):
    with pytest.raises(BaselineJobFailed, match=message):
        baseline_job.alarm_thresholds(
            document, "s3://b/x/statistics.json", BINARY, {"auc": 0.1, "false_positive_rate": 0.1}
        )


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"ProblemType": None}, "ProblemType is missing: AlarmMargins needs it"),
        ({"ProblemType": "Ranking"}, "ProblemType 'Ranking' must be one of"),
        ({"AlarmMargins": {"mae": "1"}}, "'mae' is not a BinaryClassification metric"),
        ({"AlarmMargins": {"auc": "-0.1"}}, "AlarmMargins.auc must be a number >= 0"),
        ({"AlarmMargins": {"auc": "a lot"}}, "AlarmMargins.auc must be a number >= 0"),
        ({"AlarmMargins": ["auc"]}, "AlarmMargins must map metric names to numbers"),
    ],
)
def test_bad_alarm_properties_name_the_property(changes, message):
    with pytest.raises(PropertiesError, match=message):
        baseline_job.BaselineSpec.from_properties({**QUALITY, **changes})


def test_margins_do_not_change_the_job():
    assert baseline_job.job_name(spec(**QUALITY)) == baseline_job.job_name(spec())
    assert spec(**QUALITY).alarm_margins == {"auc": 0.05, "false_positive_rate": 0.1}


@pytest.fixture
def bucket(sagemaker):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket="churn-monitor-dev", CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


def test_is_complete_returns_the_thresholds_and_an_update_of_a_margin_only_recomputes_them(sagemaker, bucket):
    physical_id = baseline_handler.on_event(event("Create", QUALITY))["PhysicalResourceId"]
    key = f"baselines/{physical_id}/statistics.json"
    with pytest.raises(BaselineJobFailed, match=f"cannot read s3://churn-monitor-dev/{key} \\(NoSuchKey"):
        baseline_handler.is_complete(event("Create", QUALITY, physical_id))
    bucket.put_object(Bucket="churn-monitor-dev", Key=key, Body=quality_statistics(auc=0.9, false_positive_rate=0.2))
    data = baseline_handler.is_complete(event("Create", QUALITY, physical_id))["Data"]
    assert data["BaseliningJobName"] == physical_id
    assert data["AlarmThresholdauc"] == repr(0.9 - 0.05)
    assert data["AlarmThresholdfalsepositiverate"] == repr(0.2 + 0.1)

    # CloudFormation sends an Update; the Provider calls is_complete after on_event for it too.
    wider = {**QUALITY, "AlarmMargins": {**MARGINS, "auc": "0.2"}}
    assert baseline_handler.on_event(event("Update", wider, physical_id)) == {"PhysicalResourceId": physical_id}
    assert job_names(sagemaker) == [physical_id]
    assert baseline_handler.is_complete(event("Update", wider, physical_id))["Data"]["AlarmThresholdauc"] == repr(
        0.9 - 0.2
    )

    bucket.put_object(Bucket="churn-monitor-dev", Key=key, Body=b'{"version": 0.0, "dataset": {"item_co')
    with pytest.raises(BaselineJobFailed, match=f"s3://churn-monitor-dev/{key} is not valid JSON"):
        baseline_handler.is_complete(event("Update", wider, physical_id))


def test_a_data_quality_baseline_reads_no_statistics(sagemaker):
    """No margins: no S3 read (the data-quality handler role has no S3 permission)."""
    physical_id = baseline_handler.on_event(event("Create"))["PhysicalResourceId"]
    data = baseline_handler.is_complete(event("Create", physical_id=physical_id))["Data"]
    assert not [name for name in data if name.startswith("AlarmThreshold")]
