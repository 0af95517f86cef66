"""The whole monitoring loop on this machine: `python -m workshop demo` (what `make demo` runs).

An AWS emulator (moto) on 127.0.0.1 stands in for S3, SNS and SQS; the local endpoint serves the
trained model and captures to the emulator's S3 exactly as the service does; the analyzer
suggests the baseline and runs each hourly monitoring job; the real alert Lambda handler gets
the event EventBridge would send and publishes to SNS, and an SQS queue subscribed to the topic
shows what a subscriber receives. Two hours of traffic are compressed into seconds: the endpoint's
capture clock runs through each simulated hour while the requests are sent.

Every thread and server the demo starts is stopped on the way out, also on error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import random
import shutil
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.documents import MODEL_OUTPUT_FEATURE
from contract.errors import ANALYZER_ERRORS
from contract.events import PROCESSING_JOB_EVENT, SAGEMAKER_SOURCE
from contract.lambdas import AlertsEnv
from contract.layout import (
    BASELINE_FILES,
    BASELINE_PREFIX,
    CAPTURE_PREFIX,
    CONSTRAINTS_FILE,
    REPORT_FILES,
    REPORTS_PREFIX,
    STATISTICS_FILE,
    Window,
    format_time,
    hour_folder,
    monitoring_job_name,
)
from contract.metrics import METRICS_FOLDER
from contract.processing import (
    JOB_COMPLETED,
    ProcessingJobSpec,
    monitoring_environment,
    monitoring_outputs,
)
from contract.violations import DRIFT_CHECK
from workshop import inspection, report
from workshop.baseline import prediction_baseline
from workshop.capture import CaptureConfig, CaptureWriter
from workshop.server import LocalEndpoint, ModelLoadError, Predictor, load_model
from workshop.store import S3Store, StoreError, join
from workshop.traffic import HttpTarget, scenario_rows, send_rows

REPO = Path(__file__).resolve().parent.parent
REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's default account
ALERT_HANDLER = REPO / "lambda" / "alerts" / "handler.py"
HOUR = timedelta(hours=1)


class DemoError(RuntimeError):
    """The demo cannot run, or its result is not what the loop should produce."""


@dataclass(frozen=True)
class DemoConfig:
    model: Path = REPO / "model" / "build" / "model.tar.gz"
    train_csv: Path = REPO / "model" / "build" / "train.csv"
    workdir: Path = REPO / "build" / "demo"
    requests_per_hour: int = 400
    seconds_per_hour: float = 4.0  # wall time one simulated hour of traffic takes
    concurrency: int = 8
    endpoint_name: str = "churn-demo"
    variant_name: str = "AllTraffic"
    schedule_name: str = "churn-demo-data-quality"  # `<endpoint>-data-quality`, as deployed
    bucket: str = "churn-monitor-demo"
    seed: int = 1
    now: datetime | None = None  # the demo's "current time"; its two hours are the two before it


class SimulatedClock:
    """The capture clock: runs through one simulated hour in `wall_seconds`, then holds at its end.

    Clamping to the hour keeps a slow machine's late requests in the hour they belong to.
    """

    def __init__(self, start: datetime):
        self._lock = threading.Lock()
        self._start, self._wall_start, self._speed, self._limit = start, time.monotonic(), 0.0, start

    def run_hour(self, start: datetime, wall_seconds: float) -> None:
        with self._lock:
            self._start, self._wall_start = start, time.monotonic()
            self._speed, self._limit = HOUR / timedelta(seconds=wall_seconds), start + HOUR - timedelta(milliseconds=1)

    def hold(self, moment: datetime) -> None:
        with self._lock:
            self._start, self._speed, self._limit = moment, 0.0, moment

    def __call__(self) -> datetime:
        with self._lock:
            elapsed = timedelta(seconds=(time.monotonic() - self._wall_start) * self._speed)
            return min(self._start + elapsed, self._limit)


@dataclass
class Output:
    """Results on stdout, progress on stderr, each step timed from the start."""

    started: float = field(default_factory=time.monotonic)

    def step(self, text: str) -> None:
        print(f"\n== [{time.monotonic() - self.started:5.1f}s] {text}", flush=True)

    def line(self, text: str = "") -> None:
        print(("   " + text.replace("\n", "\n   ")) if text else "", flush=True)

    def progress(self, text: str) -> None:
        print(f"   ... {text}", file=sys.stderr, flush=True)


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


def create_resources(config: DemoConfig) -> Emulated:
    """The bucket, the alert topic and an SQS queue subscribed to it (as an e-mail would be)."""
    import boto3

    s3, sns, sqs = (boto3.client(name) for name in ("s3", "sns", "sqs"))
    s3.create_bucket(Bucket=config.bucket)
    topic_arn = sns.create_topic(Name=f"{config.endpoint_name}-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{config.endpoint_name}-alert-subscriber")["QueueUrl"]
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


def monitoring_job(config: DemoConfig, report_uri: str, start: str, end: str) -> ProcessingJobSpec:
    """The hourly job the self-hosted engine would have run for this window (placeholder image and key)."""
    return ProcessingJobSpec(
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/monitoring",
        image_uri="local-analyzer",
        kms_key_arn=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/demo",
        instance_type="ml.m5.xlarge",
        volume_size_gb=20,
        max_runtime_seconds=3600,
        environment=monitoring_environment(config.endpoint_name, config.schedule_name, start, end),
        outputs=monitoring_outputs(report_uri, f"{report_uri}/{METRICS_FOLDER}"),
    )


def load_alert_handler() -> Callable[[dict, object], dict]:
    """The alert Lambda's `handler`; `lambda/` is its code root, as in the deployed function."""
    if not ALERT_HANDLER.exists():
        raise DemoError(f"{ALERT_HANDLER} is missing: the alert Lambda is part of this repository")
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


@dataclass
class HourResult:
    run_hour: datetime
    message: str
    violations: list
    local_dir: Path
    report_uri: str
    alerts: list[dict]
    html: Path | None = None


class Demo:
    def __init__(self, config: DemoConfig, out: Output, stop: threading.Event):
        self.config, self.out, self.stop = config, out, stop
        now = (config.now or datetime.now(UTC)).astimezone(UTC)
        self.current_hour = now.replace(minute=0, second=0, microsecond=0)
        self.clock = SimulatedClock(self.current_hour - 2 * HOUR)

    # -- steps -----------------------------------------------------------------------------------

    def run(self) -> list[HourResult]:
        config, out = self.config, self.out
        for path in (config.model, config.train_csv):
            if not path.exists():
                raise DemoError(f"{path} is missing; build the model first with `make model`")
        marker = config.workdir / ".workshop-demo"
        if config.workdir.exists() and any(config.workdir.iterdir()):
            if not marker.exists():  # never delete a folder the demo did not make
                raise DemoError(f"{config.workdir} is not empty and not a previous demo's folder; pick another")
            shutil.rmtree(config.workdir)
        config.workdir.mkdir(parents=True, exist_ok=True)
        marker.touch()
        with contextlib.ExitStack() as stack:
            out.step("Starting an AWS emulator (moto server)")
            url = stack.enter_context(aws_emulator())
            aws = create_resources(config)
            out.line(f"moto on {url}: bucket s3://{config.bucket}, topic {aws.topic_arn},")
            out.line(f"and SQS queue {aws.queue_url.rsplit('/', 1)[-1]} subscribed to the topic")
            handler = load_alert_handler()

            booster = load_model(config.model)
            baseline_dir = self.baseline(booster, aws)

            out.step("Starting the local endpoint with data capture to the emulator's S3")
            destination = f"s3://{config.bucket}/{CAPTURE_PREFIX}"
            capture = CaptureConfig(destination, config.endpoint_name, config.variant_name, sampling_percentage=100)
            writer = CaptureWriter(capture, S3Store(destination, aws.s3), self.clock, random.Random(config.seed))
            endpoint = stack.enter_context(LocalEndpoint(Predictor(booster), writer))
            out.line(f"{endpoint.url}/invocations ({booster.num_features()} features, text/csv), capturing 100% of")
            out.line(f"requests to {destination}/{config.endpoint_name}/{config.variant_name}/yyyy/mm/dd/HH/")

            results = []
            for index, scenario in enumerate(("normal", "drifted")):
                hour = self.current_hour - (2 - index) * HOUR
                self.traffic(endpoint.url, writer, scenario, hour, index)
                self.show_captures(aws, hour)
                results.append(self.monitor(aws, handler, baseline_dir, hour + HOUR))
            self.show_outcome(results)
            self.write_reports(results, baseline_dir)
            self.mirror(aws)
        return results

    def baseline(self, booster: object, aws: Emulated) -> Path:
        config, out = self.config, self.out
        from analyzer.baseline import suggest_baseline

        out.step("Suggesting the baseline from the training data")
        dataset = config.workdir / "baseline-dataset.csv"
        rows = prediction_baseline(config.train_csv, booster, dataset)
        out.line(f"Baseline dataset: {dataset.relative_to(REPO) if dataset.is_relative_to(REPO) else dataset}")
        out.line(f'= the model\'s output ("{MODEL_OUTPUT_FEATURE}") on the {rows} training rows, then their 69 inputs.')
        out.line("Why not the training file itself, as the workshop does: captured rows are the endpoint's")
        out.line("output followed by its inputs, so the baseline's first column is compared with the model's")
        out.line("output. The workshop's first column is the 0/1 label Churn, so the real service reports")
        out.line('"Churn ... Only 0.0% of data is Integral" on every hourly run, clean or not. Baselining the')
        out.line("model's output instead keeps a clean hour clean and monitors the predictions too.")
        baseline_dir = config.workdir / "baseline"
        suggest_baseline(str(dataset), str(baseline_dir), fmt="csv", header=True)
        store = S3Store(f"s3://{config.bucket}/{BASELINE_PREFIX}/{config.endpoint_name}", aws.s3)
        for name in BASELINE_FILES:
            store.write(name, (baseline_dir / name).read_bytes())
        out.line(f"statistics.json and constraints.json -> {store.describe('')}/")
        return baseline_dir

    def traffic(self, url: str, writer: CaptureWriter, scenario: str, hour: datetime, index: int) -> None:
        config, out = self.config, self.out
        from model import synthetic

        out.step(f"Hour {hour:%H}:00-{hour + HOUR:%H}:00Z: {config.requests_per_hour} requests, scenario "
                 f"{scenario!r} ({synthetic.SCENARIO_HELP[scenario]})")
        rows = scenario_rows(scenario, config.requests_per_hour, seed=config.seed * 100 + index)
        self.clock.run_hour(hour, config.seconds_per_hour)
        step = max(1, config.requests_per_hour // 4)

        def progress(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                out.progress(f"{done}/{total} requests (capture clock {self.clock():%H:%M:%S}Z)")

        result = send_rows(
            rows,
            HttpTarget(url),
            rate=config.requests_per_hour / config.seconds_per_hour,
            concurrency=config.concurrency,
            progress=progress,
            stop=self.stop,
        )
        if result.stopped:
            raise KeyboardInterrupt
        out.line(f"{result.summary()} (wall time; the capture clock covered the hour)")
        if result.failed:
            raise DemoError(f"{result.failed} requests failed, first: {result.errors[0]}")
        # The hour is over: the service closes its capture files within about a minute.
        self.clock.hold(hour + HOUR)
        writer.flush()
        stats = writer.stats
        out.line(f"capture writer so far: {stats.written} records in {stats.files} files, "
                 f"{stats.failed_records} lost to write errors")

    def show_captures(self, aws: Emulated, hour: datetime) -> None:
        config, out = self.config, self.out
        store = S3Store(f"s3://{config.bucket}/{CAPTURE_PREFIX}", aws.s3)
        window = Window(hour, hour + HOUR)
        files = inspection.capture_files(store.location, config.endpoint_name, config.variant_name, window)
        records, problems = inspection.read_records(files, window)
        holding = sorted({r.file for r in records})
        folders = Counter(key.rsplit("/", 1)[0] for key in holding)
        out.line(f"Captured: {len(records)} records in {len(holding)} files under")
        for folder, count in sorted(folders.items()):
            out.line(f"  {store.describe(folder)}/ ({count} files)")
        if problems:
            raise DemoError(f"unreadable capture records: {problems[0]}")
        names = json.loads((config.workdir / "baseline" / STATISTICS_FILE).read_text())["features"]
        out.line("The first records, as `python -m workshop captures` prints them:")
        out.line(inspection.records_table(records[:4], [f["name"] for f in names], columns=4))

    def monitor(self, aws: Emulated, handler: Callable, baseline_dir: Path, run_hour: datetime) -> HourResult:
        from analyzer.monitor import run_monitoring

        config, out = self.config, self.out
        start, end = run_hour - HOUR, run_hour
        out.step(f"Monitoring run at {run_hour:%H}:00Z, as the hourly schedule starts it: window "
                 f"{start:%H}:00-{end:%H}:00Z")
        folder = join(config.endpoint_name, config.schedule_name, hour_folder(run_hour))
        local_dir = config.workdir / "runs" / folder
        captures = f"s3://{config.bucket}/{CAPTURE_PREFIX}/{config.endpoint_name}/{config.variant_name}"
        stamp = {"start": format_time(start), "end": format_time(end)}
        result = run_monitoring(
            captures,
            str(baseline_dir / STATISTICS_FILE),
            str(baseline_dir / CONSTRAINTS_FILE),
            str(local_dir),
            start=stamp["start"],
            end=stamp["end"],
            endpoint_name=config.endpoint_name,
            schedule_name=config.schedule_name,
        )
        # What the processing job's output upload does at the end of the job.
        reports = S3Store(f"s3://{config.bucket}/{REPORTS_PREFIX}", aws.s3)
        for name in REPORT_FILES:
            reports.write(join(folder, name), (local_dir / name).read_bytes())
        report_uri = reports.describe(folder)
        out.line(f"{result.message} ({result.item_count} rows)")
        out.line(f"report files: {report_uri}/")
        if result.violations:
            out.line(inspection.violations_table(inspection.RunInfo(folder, run_hour, True, result.violations)))

        job_name = monitoring_job_name(config.schedule_name, run_hour)
        schedule_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{config.schedule_name}"
        spec = monitoring_job(config, report_uri, stamp["start"], stamp["end"])
        event = processing_job_event(spec, job_name, result.message, schedule_arn, run_hour + timedelta(minutes=7))
        with patched_environ({AlertsEnv.TOPIC_ARN: aws.topic_arn}):
            handler(event, LambdaContext())
        alerts = receive_alerts(aws.sqs, aws.queue_url, wait_seconds=5.0 if result.violations else 0.5)
        out.line(f"alert handler invoked with the EventBridge event of job {job_name}: "
                 f"{len(alerts)} message(s) on the topic")
        return HourResult(run_hour, result.message, result.violations, local_dir, report_uri, alerts)

    def show_outcome(self, results: list[HourResult]) -> None:
        from model import synthetic

        out = self.out
        clean, drifted = results
        drift = synthetic.SCENARIOS["drifted"]
        changed = set(drift.scale) | set(drift.shift)
        flagged = {v.feature_name for v in drifted.violations if v.constraint_check_type == DRIFT_CHECK}
        other = [v for v in drifted.violations if v.constraint_check_type != DRIFT_CHECK]
        out.step("Result")
        out.line(f"first hour:  {clean.message}")
        out.line(f"second hour: {drifted.message}")
        out.line(f"  drift on the inputs: {', '.join(sorted(flagged - {MODEL_OUTPUT_FEATURE})) or 'none'}"
                 f" (the drifted scenario changes exactly: {', '.join(sorted(changed))})")
        if MODEL_OUTPUT_FEATURE in flagged:
            out.line(f"  drift on the model's output ({MODEL_OUTPUT_FEATURE}) too: more heavy users and service calls")
            out.line("  raise the predicted churn, which is what monitoring the predictions is for")
        inputs_flagged = flagged - {MODEL_OUTPUT_FEATURE}
        if clean.violations or other or inputs_flagged != changed or clean.alerts or not drifted.alerts:
            raise DemoError(
                "the loop did not produce the expected result: a clean first hour, drift on exactly "
                f"{sorted(changed)} in the second, and one alert; got {len(clean.violations)} violations in the "
                f"first hour, drift on {sorted(flagged)}, other violations {[v.feature_name for v in other]}, "
                f"{len(clean.alerts)}/{len(drifted.alerts)} alerts"
            )
        out.step("The alert, as an SQS subscriber of the topic received it")
        for alert in drifted.alerts:
            out.line(f"Subject: {alert.get('Subject')}")
            attributes = {k: v.get("Value") for k, v in (alert.get("MessageAttributes") or {}).items()}
            if attributes:
                out.line(f"Attributes: {json.dumps(attributes)}")
            out.line("")
            out.line(str(alert.get("Message", "")))

    def write_reports(self, results: list[HourResult], baseline_dir: Path) -> None:
        out = self.out
        out.step("HTML monitoring reports (self-contained; open them in a browser)")
        baseline_files = {name: (baseline_dir / name).read_bytes() for name in BASELINE_FILES}
        for result in results:
            run_files = {path.name: path.read_bytes() for path in result.local_dir.glob("*.json")}
            window = inspection.window_text(result.run_hour)
            docs = report.load_documents(run_files, baseline_files, result.report_uri, window)
            result.html = self.config.workdir / f"report-{result.run_hour:%Y%m%d-%H}00.html"
            result.html.write_text(report.render(docs), encoding="utf-8")
            label = "drifted hour" if result.violations else "clean hour"
            out.line(f"{label}: {_shown(result.html)}")

    def mirror(self, aws: Emulated) -> None:
        """Copy the emulator's bucket to disk before it goes away, for the inspect commands."""
        config, out = self.config, self.out
        bucket = S3Store(f"s3://{config.bucket}", aws.s3)
        target = config.workdir / "s3" / config.bucket
        keys = bucket.list()
        for key in keys:
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bucket.read(key))
        root = _shown(target)
        out.step(f"The emulator's bucket ({len(keys)} objects) is copied to {root}/; look around with")
        out.line(f"python -m workshop captures --source {root}/{CAPTURE_PREFIX} --endpoint {config.endpoint_name} "
                 f"--limit 5")
        out.line(f"python -m workshop runs --reports {root}/{REPORTS_PREFIX}/{config.endpoint_name}")
        out.line(f"python -m workshop runs --reports {root}/{REPORTS_PREFIX}/{config.endpoint_name} --run latest")


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. from a CI runner or `kill`) unwinds like Ctrl-C, so cleanup runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(config: DemoConfig) -> int:
    """Run the loop, print the outcome; 0 when it shows what it should, 1 otherwise, 130 on Ctrl-C."""
    out, stop = Output(), threading.Event()
    try:
        with sigterm_as_interrupt():
            Demo(config, out, stop).run()
    except KeyboardInterrupt:
        stop.set()
        print("\ninterrupted: the endpoint and the emulator were stopped", file=sys.stderr)
        return 130
    except (DemoError, StoreError, ModelLoadError, *ANALYZER_ERRORS) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    out.step("Done: the endpoint, its capture writer and the emulator are stopped")
    return 0
