"""Handlers of the baseline custom resource for CDK's `custom_resources.Provider` framework.

`on_event` starts (or finds) the baselining processing job and returns its name as the physical id;
`is_complete` is polled by the framework until the job completes (attributes `StatisticsS3Uri`,
`ConstraintsS3Uri`, `BaseliningJobName`, `BaselineId`, and with alarm margins one `AlarmThreshold<metric>`
each, from the job's statistics.json) or ends otherwise (the exception's message, with the job's
FailureReason and ExitMessage, becomes the CloudFormation event's reason). The framework
sends the responses to CloudFormation. The logic is in `baseline_job` (pure); boto3 ships with the runtime.
"""

from __future__ import annotations

import logging

import boto3
from baseline_job import (
    REUSABLE,
    RUNNING,
    BaselineSpec,
    alarm_thresholds,
    candidate_names,
    completion_data,
    failure_message,
    is_valid_job_name,
    processing_job_request,
)
from botocore.exceptions import BotoCoreError, ClientError

from contract.errors import BaselineJobFailed
from contract.layout import split_s3_uri

log = logging.getLogger()
log.setLevel(logging.INFO)


def on_event(event: dict, context: object = None) -> dict:
    request = event["RequestType"]
    client = boto3.client("sagemaker")
    if request == "Delete":
        stop_if_running(client, event["PhysicalResourceId"])
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    spec = BaselineSpec.from_properties(event["ResourceProperties"])
    names = candidate_names(spec)
    if request == "Update" and event["PhysicalResourceId"] in names:
        log.info("Baseline inputs unchanged: keeping job %s", event["PhysicalResourceId"])
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    return {"PhysicalResourceId": start_or_reuse(client, spec, names)}


def is_complete(event: dict, context: object = None) -> dict:
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    spec = BaselineSpec.from_properties(event["ResourceProperties"])
    client = boto3.client("sagemaker")
    describe = client.describe_processing_job(ProcessingJobName=event["PhysicalResourceId"])
    data = completion_data(describe, spec.job_name_prefix)
    if data is None:
        log.info("Baseline job %s is %s", describe["ProcessingJobName"], describe["ProcessingJobStatus"])
        return {"IsComplete": False}
    if spec.alarm_margins:
        uri = data["StatisticsS3Uri"]
        data.update(alarm_thresholds(read_object(uri), uri, spec.problem_type, spec.alarm_margins))
    log.info("Baseline job %s completed: %s", data["BaseliningJobName"], data)
    return {"IsComplete": True, "Data": data}


def read_object(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    try:
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise BaselineJobFailed(
            f"Alarm thresholds: cannot read {uri} ({error.response['Error'].get('Code')}: "
            f"{error.response['Error'].get('Message', '')})."
        ) from None


def _already_exists(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    message = error.response["Error"].get("Message", "")
    return code == "ResourceInUse" or (code == "ValidationException" and "already exists" in message)


def start_or_reuse(client, spec: BaselineSpec, names: list[str]) -> str:
    """Start the job under the first free name; a running or completed job of the same content is reused."""
    for name in names:
        try:
            client.create_processing_job(**processing_job_request(spec, name))
            log.info("Started baseline job %s", name)
            return name
        except ClientError as error:
            if not _already_exists(error):
                raise
        describe = client.describe_processing_job(ProcessingJobName=name)
        if describe["ProcessingJobStatus"] in REUSABLE:
            log.info("Reusing baseline job %s (%s)", name, describe["ProcessingJobStatus"])
            return name
        log.warning("Not reusing %s", failure_message(describe))
    raise BaselineJobFailed(
        f"Baseline jobs {names[0]} to {names[-1]} all exist and failed or were stopped: read their "
        "FailureReason (aws sagemaker describe-processing-job), fix the cause, and change the dataset or "
        "the analyzer settings to start a new job."
    )


def stop_if_running(client, name: str) -> None:
    """Stop the job if it still runs. Never raises: a deletion must not fail over a baseline job."""
    if not is_valid_job_name(name):
        log.info("Physical id %r is not a job name (the create failed before starting one)", name)
        return
    try:
        status = client.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"]
        if status in RUNNING:
            client.stop_processing_job(ProcessingJobName=name)
            log.info("Stopped baseline job %s", name)
        else:
            log.info("Baseline job %s is %s: nothing to stop", name, status)
    except (ClientError, BotoCoreError) as error:
        log.warning("Could not stop baseline job %s (ignored so the deletion goes on): %s", name, error)
