"""The demo's stand-in for AWS: a moto server, the alert topic and its subscriber, the alert Lambda.

`aws_emulator()` starts moto on 127.0.0.1 and points boto3 at it through the environment;
`create_resources` makes the bucket, the SNS topic and an SQS queue subscribed to it (what an
e-mail subscription would receive); `alert` hands the real alert Lambda handler the EventBridge
event a finished processing job sends, and returns what the subscriber received.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from contract.events import PROCESSING_JOB_EVENT, SAGEMAKER_SOURCE
from contract.lambdas import AlertsEnv
from contract.layout import format_time
from contract.metrics import METRICS_FOLDER
from contract.processing import JOB_COMPLETED, ProcessingJobSpec, monitoring_outputs

REPO = Path(__file__).resolve().parent.parent
REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's default account
ALERT_HANDLER = REPO / "lambda" / "alerts" / "handler.py"


class EmulatorError(RuntimeError):
    """A part of the emulated AWS the demo needs is missing."""


@contextlib.contextmanager
def patched_environ(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or with None, remove) environment variables, restoring them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def aws_emulator() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) with the environment pointing boto3 at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto's state is per process, not per server: start empty even after an earlier demo in
        # this process (its alert markers would otherwise swallow this run's alerts as duplicates).
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        env = {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        with patched_environ(env):
            yield url
    finally:
        server.stop()


@dataclass(frozen=True)
class Emulated:
    s3: object
    sns: object
    sqs: object
    topic_arn: str
    queue_url: str


def create_resources(bucket: str, endpoint_name: str) -> Emulated:
    """The bucket, the alert topic and an SQS queue subscribed to it (as an e-mail would be)."""
    import boto3

    s3, sns, sqs = (boto3.client(name) for name in ("s3", "sns", "sqs"))
    s3.create_bucket(Bucket=bucket)
    topic_arn = sns.create_topic(Name=f"{endpoint_name}-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{endpoint_name}-alert-subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return Emulated(s3, sns, sqs, topic_arn, queue_url)


def processing_job_event(spec: ProcessingJobSpec, job_name: str, exit_message: str, schedule_arn: str,
                         ended: datetime) -> dict:
    """The EventBridge event of a finished processing job: detail = the DescribeProcessingJob shape, that
    is the job's CreateProcessingJob request with its status and times."""
    millis = int(ended.timestamp() * 1000)
    job_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{job_name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": PROCESSING_JOB_EVENT,
        "source": SAGEMAKER_SOURCE,
        "account": ACCOUNT,
        "time": format_time(ended),
        "region": REGION,
        "resources": [job_arn],
        "detail": {
            **spec.create_request(job_name),
            "ProcessingJobArn": job_arn,
            "ProcessingJobStatus": JOB_COMPLETED,  # with violations too: the ExitMessage tells them apart
            "ExitMessage": exit_message,
            "MonitoringScheduleArn": schedule_arn,
            "ProcessingStartTime": millis - 60_000,
            "ProcessingEndTime": millis,
            "CreationTime": millis - 120_000,
            "LastModifiedTime": millis,
        },
    }


def processing_job(environment: dict[str, str], report_uri: str) -> ProcessingJobSpec:
    """The hourly job the self-hosted engine would have run (placeholder image and key)."""
    return ProcessingJobSpec(
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/monitoring",
        image_uri="local-analyzer",
        kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/demo",
        instance_type="ml.m5.xlarge",
        volume_size_gb=20,
        max_runtime_seconds=3600,
        environment=environment,
        outputs=monitoring_outputs(report_uri, f"{report_uri}/{METRICS_FOLDER}"),
    )


def load_alert_handler() -> Callable[[dict, object], dict]:
    """The alert Lambda's `handler`; `lambda/` is its code root, as in the deployed function."""
    if not ALERT_HANDLER.exists():
        raise EmulatorError(f"{ALERT_HANDLER} is missing: the alert Lambda is part of this repository")
    if str(ALERT_HANDLER.parent.parent) not in sys.path:
        sys.path.insert(0, str(ALERT_HANDLER.parent.parent))
    return importlib.import_module("alerts.handler").handler


class LambdaContext:
    function_name = "churn-demo-alerts"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:churn-demo-alerts"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def receive_alerts(sqs: object, queue_url: str, wait_seconds: float) -> list[dict]:
    """SNS notifications delivered to the subscribed queue within `wait_seconds`."""
    deadline, messages = time.monotonic() + wait_seconds, []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in batch.get("Messages", []):
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if messages or time.monotonic() >= deadline:
            return messages
        time.sleep(0.1)


def alert(aws: Emulated, handler: Callable, spec: ProcessingJobSpec, job_name: str, schedule_name: str,
          exit_message: str, ended: datetime, expect_alert: bool) -> list[dict]:
    """Invoke the alert handler with the finished job's event; the notifications the subscriber got."""
    schedule_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{schedule_name}"
    event = processing_job_event(spec, job_name, exit_message, schedule_arn, ended)
    with patched_environ({AlertsEnv.TOPIC_ARN: aws.topic_arn}):
        handler(event, LambdaContext())
    return receive_alerts(aws.sqs, aws.queue_url, wait_seconds=5.0 if expect_alert else 0.5)
