"""AWS Lambda entry point: at most one SNS alert per monitoring run and status.

Invoked asynchronously by EventBridge (the rule narrows events to this stack's monitoring runs, so
every run event received here is alerted on):
- a managed model-quality execution's merge job `Completed` -> no alert (its analysis job, which follows,
  reports the execution; a merge job that failed or was stopped ends the execution and alerts);
- processing job `Completed` with violations -> a summary of `constraint_violations.json` (a data-quality
  run's, or a model-quality run's: told apart by its entries, `metric_name` instead of `feature_name`);
  `Completed` without violations -> no alert (a debug log line);
- processing job `Failed` / `Stopped`, state machine `FAILED` / `TIMED_OUT` / `ABORTED` -> a failure alert
  (the self-hosted engine's rule passes only completed jobs: its failed job arrives once, as the state
  machine's failure, and is alerted as that job's, see `events`);
- a report that is missing, truncated or malformed, or an event of an unexpected shape -> an error
  log line and an alert saying what could not be read and where it is.

Duplicate deliveries are dropped by writing a marker object with `IfNoneMatch="*"` (S3 answers 412
when it exists) before publishing. If publishing fails the marker is deleted and the error re-raised,
so Lambda's asynchronous retries (then the dead-letter destination) can still deliver the alert.

Environment variables:
  ALERT_TOPIC_ARN  required: the SNS topic to publish to.
  MARKER_BUCKET    bucket of the de-duplication markers (default: the bucket of the run's report;
                   without either, alerts are published without de-duplication).
  MARKER_PREFIX    key prefix of the markers (default: `alert-markers`); markers are
                   `<prefix>/<run kind>/<job or execution name>/<status>`.
  ENDPOINT_NAME    endpoint named in alerts when the event does not say (default: `unknown-endpoint`).
  SCHEDULE_NAME    schedule named in alerts when the event does not say (default: `unknown-schedule`).
  QUALITY_SCHEDULE_NAME      the model-quality schedule, if deployed: named for its runs that the event
                             does not name (a managed merge job, a self-hosted state machine's failure).
  QUALITY_STATE_MACHINE_ARN  the self-hosted model-quality state machine, whose failures are that schedule's.
  AWS_REGION       set by Lambda; used for console links when the event has no region.

Powertools for AWS Lambda is not used: the function's JSON log format (set on the function) already
turns standard `logging` records into structured logs, its idempotency utility needs DynamoDB or
Redis while an S3 conditional write needs no extra table, and event parsing is a few lines
(`events.py`). Staying on the standard library keeps the asset Docker-free and avoids pinning a
region-specific layer ARN.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from alerts import events, summary
from contract.errors import EventShapeError, ViolationsFormatError
from contract.events import FAILED_EXECUTION_STATUSES
from contract.lambdas import AlertsEnv
from contract.layout import ALERT_MARKER_PREFIX, split_s3_uri
from contract.model_quality import QualityViolation, parse_quality_violations
from contract.processing import JOB_COMPLETED, TERMINAL_JOB_STATUSES
from contract.violations import Violation, parse_violations

logger = logging.getLogger("alerts")

MAX_REPORT_BYTES = 64 * 1024 * 1024  # far above any real report (10,000 violations is about 2.5 MB)
# Another delivery of the same event holds the marker: it publishes (or releases the marker on failure).
_DUPLICATE_CODES = ("PreconditionFailed", "ConditionalRequestConflict")
# The keys only a model-quality violation has (`metric_name`), derived from the two typed views.
_QUALITY_ONLY_KEYS = frozenset(f.name for f in fields(QualityViolation)) - {f.name for f in fields(Violation)}


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    topic_arn: str
    marker_bucket: str | None
    marker_prefix: str
    defaults: events.Defaults

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        topic_arn = environ.get(AlertsEnv.TOPIC_ARN, "")
        if not topic_arn:
            raise ConfigurationError(f"{AlertsEnv.TOPIC_ARN} is not set: set it to the ARN of the SNS topic for "
                                     "alerts (the RunAlerts construct does).")
        return cls(
            topic_arn=topic_arn,
            marker_bucket=environ.get(AlertsEnv.MARKER_BUCKET) or None,
            marker_prefix=environ.get(AlertsEnv.MARKER_PREFIX, ALERT_MARKER_PREFIX).strip("/") or ALERT_MARKER_PREFIX,
            defaults=events.Defaults(
                endpoint=environ.get(AlertsEnv.ENDPOINT_NAME) or events.Defaults.endpoint,
                schedule=environ.get(AlertsEnv.SCHEDULE_NAME) or events.Defaults.schedule,
                region=environ.get("AWS_REGION") or events.Defaults.region,
                quality_schedule=environ.get(AlertsEnv.QUALITY_SCHEDULE_NAME) or None,
                quality_state_machine_arn=environ.get(AlertsEnv.QUALITY_STATE_MACHINE_ARN) or None,
            ),
        )


class ReportUnreadable(Exception):
    """The run's report could not be fetched or parsed; the message says why and where."""


def read_report(s3, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        if response.get("ContentLength", 0) > MAX_REPORT_BYTES:
            raise ReportUnreadable(f"{uri} is {response['ContentLength']:,} bytes, more than this function "
                                   f"reads ({MAX_REPORT_BYTES:,}): open it directly")
        return response["Body"].read().decode("utf-8")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise ReportUnreadable(f"{uri} does not exist: the job did not write it (see the job's logs)"
                                   ) from None
        if code in ("AccessDenied", "403"):
            # Without s3:ListBucket, S3 also answers AccessDenied for a key that does not exist.
            raise ReportUnreadable(f"{uri} is missing or not readable by this function (AccessDenied): "
                                   "check that the file exists and that the role may read "
                                   "reports/<endpoint>/*") from None
        raise ReportUnreadable(f"{uri} could not be fetched ({code or 'error'}: {error})") from None
    except BotoCoreError as error:
        raise ReportUnreadable(f"{uri} could not be fetched: {error}") from None
    except UnicodeDecodeError as error:
        raise ReportUnreadable(f"{uri} is not UTF-8 text (byte {error.start}): the file is damaged") from None


def is_model_quality_report(text: str) -> bool:
    """Whether a constraint_violations.json is a model-quality run's: its entries name a `metric_name`
    where a data-quality run's name a `feature_name` (the documents say what they are, whatever the
    schedule is called). A document that is not JSON is left to the data-quality parser, which names
    the defect as before."""
    try:
        document = json.loads(text)
    except ValueError:
        return False
    items = document.get("violations") if isinstance(document, dict) else None
    return isinstance(items, list) and any(isinstance(item, dict) and _QUALITY_ONLY_KEYS & item.keys()
                                           for item in items)


def report_alert(run: events.Run, text: str) -> summary.Alert | None:
    """The alert of a run's constraint_violations.json, data or model quality; None without violations."""
    if is_model_quality_report(text):
        return summary.quality_violations_alert(run, parse_quality_violations(text, source=run.report_uri))
    return summary.violations_alert(run, parse_violations(text, source=run.report_uri))


def alert_for_run(run: events.Run, s3) -> summary.Alert | None:
    """The alert a run calls for, or None."""
    if run.kind == events.STATE_MACHINE:
        return summary.failure_alert(run) if run.status in FAILED_EXECUTION_STATUSES else None
    if run.status not in TERMINAL_JOB_STATUSES:
        logger.info("Run %s is %s, not a terminal state: no alert", run.run_id, run.status)
        return None
    if run.status != JOB_COMPLETED:
        return summary.failure_alert(run)
    if run.is_merge_job:
        logger.info("Run %s merged captures with labels: no alert (its analysis job reports)", run.run_id)
        return None
    if run.has_violations is False:
        logger.debug("Run %s completed with no violations (%s): no alert", run.run_id, run.exit_message)
        return None
    if run.report_uri is None:
        problem = ("the event names no report location "
                   "(detail.ProcessingOutputConfig.Outputs[].S3Output.S3Uri); see the processing job's "
                   "outputs" + "".join(f"; {note}" for note in run.notes))
        logger.error("Cannot read the report of run %s: %s", run.run_id, problem)
        return summary.unreadable_alert(run, problem)
    try:
        alert = report_alert(run, read_report(s3, run.report_uri))
    except (ReportUnreadable, ViolationsFormatError) as error:
        logger.error("Cannot read the report of run %s: %s", run.run_id, error)
        return summary.unreadable_alert(run, str(error))
    if alert is None:
        logger.debug("Run %s: %s lists no violations: no alert", run.run_id, run.report_uri)
    return alert


def _marker_location(run: events.Run, settings: Settings) -> tuple[str, str] | None:
    bucket = settings.marker_bucket or (split_s3_uri(run.report_uri)[0] if run.report_uri else None)
    if not bucket:
        return None
    return bucket, f"{settings.marker_prefix}/{run.kind}/{run.dedup_id}/{run.status}"


def _claim(s3, bucket: str, key: str, alert: summary.Alert, event_id: str) -> bool | None:
    """Write the marker unless it exists: True = ours to publish, False = already claimed,
    None = the marker could not be written (publish anyway: a duplicate beats a lost alert)."""
    marker = {"event_id": event_id, "subject": alert.subject, "claimed_at": datetime.now(UTC).isoformat()}
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(marker).encode(), IfNoneMatch="*",
                      ContentType="application/json")
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _DUPLICATE_CODES:
            return False
        failure: Exception = error
    except BotoCoreError as error:
        failure = error
    logger.error("Cannot write alert marker s3://%s/%s (%s): alerting without de-duplication",
                 bucket, key, failure)
    return None


def _release(s3, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        logger.error("Cannot delete alert marker s3://%s/%s (%s): delete it by hand, or the retry of this "
                     "alert is dropped as a duplicate", bucket, key, error)


def publish_once(alert: summary.Alert, run: events.Run, event_id: str, settings: Settings, s3, sns) -> str:
    """Publish `alert` unless this run and status was already alerted; returns what happened."""
    location = _marker_location(run, settings)
    claimed = _claim(s3, *location, alert, event_id) if location else None
    if claimed is False:
        logger.info("Duplicate delivery for run %s (%s): marker s3://%s/%s exists, no alert",
                    run.run_id, run.status, *location)
        return "duplicate"
    try:
        sns.publish(TopicArn=settings.topic_arn, Subject=alert.subject, Message=alert.body,
                    MessageAttributes=alert.message_attributes())
    except Exception:
        logger.exception("Publishing the alert for run %s failed; the marker is released for the retry",
                         run.run_id)
        if claimed:
            _release(s3, *location)
        raise
    logger.info("Alert published for run %s (%s): %s", run.run_id, run.status, alert.subject)
    return "published"


def handler(event: object, context: object = None) -> dict:
    settings = Settings.from_environment(os.environ)
    # Clients per invocation: the function runs a few times an hour, so reuse would save nothing.
    s3, sns = boto3.client("s3"), boto3.client("sns")
    event_id = events.event_id(event)
    try:
        run = events.parse_event(event, settings.defaults)
    except EventShapeError as error:
        logger.error("Unexpected event %s: %s. Event: %s", event_id, error,
                     json.dumps(event, default=str)[:4000])
        run = events.placeholder_run(event, settings.defaults)
        alert = summary.unreadable_alert(run, f"{error} (event id {event_id})", event_excerpt=event)
    else:
        alert = alert_for_run(run, s3)
    if alert is None:
        return {"result": "no-alert", "run": run.run_id}
    return {"result": publish_once(alert, run, event_id, settings, s3, sns), "run": run.run_id}
