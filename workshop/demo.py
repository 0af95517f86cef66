"""The whole monitoring loop on this machine: `python -m workshop demo` (what `make demo` runs).

An AWS emulator (moto) on 127.0.0.1 stands in for S3, SNS and SQS; the local endpoint serves the
trained model and captures to the emulator's S3 exactly as the service does; the analyzer
suggests both baselines and runs each hourly monitoring job; the real alert Lambda handler gets
the event EventBridge would send and publishes to SNS, and an SQS queue subscribed to the topic
shows what a subscriber receives. Three hours of traffic are compressed into seconds (the
endpoint's capture clock runs through each simulated hour while the requests are sent):

1. normal traffic: both monitors clean;
2. drifted inputs: the data-quality run reports drift;
3. a concept shift (baseline inputs, changed outcomes): data quality is clean, the model-quality
   run, once the hour's labels are in, reports AUC, recall and F2 below the baseline.

Every thread and server the demo starts is stopped on the way out, also on error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.documents import MODEL_OUTPUT_FEATURE
from contract.errors import ANALYZER_ERRORS
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
from contract.processing import monitoring_environment
from contract.violations import DRIFT_CHECK
from workshop import inspection, report
from workshop.baseline import prediction_baseline
from workshop.capture import CaptureConfig, CaptureWriter
from workshop.demo_clock import HOUR, SimulatedClock
from workshop.demo_quality import QualityConfig, QualityHourResult, QualityLoop, show_alert, shown
from workshop.emulator import (
    Emulated,
    EmulatorError,
    alert,
    aws_emulator,
    create_resources,
    load_alert_handler,
    processing_job,
)
from workshop.ground_truth import GroundTruthInputError
from workshop.server import EndpointStartError, LocalEndpoint, ModelLoadError, Predictor, load_model
from workshop.store import S3Store, StoreError, join
from workshop.traffic import HttpTarget, scenario_ids, scenario_rows, send_rows

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = ("normal", "drifted", "concept_shift")  # the generator's scenario of each hour of traffic
LABELLED = ("normal", "concept_shift")  # the hours whose ground truth the demo uploads
# Labels of an hour's predictions are collected during the next hour; the model-quality schedule
# waits for them: its run at H analyses the captures of H-2h..H-1h (StartTimeOffset -PT2H,
# EndTimeOffset -PT1H) with the labels collected since the window began.
LABEL_DELAY_HOURS = 1
LABELS_COLLECTED_AFTER = timedelta(minutes=30)  # into the next hour


class DemoError(RuntimeError):
    """The demo cannot run, or its result is not what the loop should produce."""


@dataclass(frozen=True)
class DemoConfig:
    model: Path = REPO / "model" / "build" / "model.tar.gz"
    train_csv: Path = REPO / "model" / "build" / "train.csv"
    validation_csv: Path = REPO / "model" / "build" / "validation-predictions.csv"
    workdir: Path = REPO / "build" / "demo"
    # 1,000 records an hour: metric noise (recall varies by about 0.04 between hours) well inside
    # quality_tolerance, so a normal hour stays clean and the concept-shifted one clearly violates.
    requests_per_hour: int = 1000
    seconds_per_hour: float = 4.0  # wall time one simulated hour of traffic takes
    concurrency: int = 8
    endpoint_name: str = "churn-demo"
    variant_name: str = "AllTraffic"
    schedule_name: str = "churn-demo-data-quality"  # `<endpoint>-data-quality`, as deployed
    quality_schedule_name: str = "churn-demo-model-quality"
    bucket: str = "churn-monitor-demo"
    seed: int = 1
    # How far a metric may fall below the baseline's value (rise, for the error rates) before the
    # model-quality run reports it: the suggested constraints alert on any dip at all.
    quality_tolerance: float = 0.15
    now: datetime | None = None  # the demo's "current time": its last model-quality run is at this hour


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



@dataclass
class HourResult:
    run_hour: datetime
    message: str
    violations: list
    local_dir: Path
    report_uri: str
    alerts: list[dict]
    html: Path | None = None


@dataclass
class DemoResult:
    """What the demo produced, hour by hour (the tests read these, not the printed text)."""

    data_quality: list[HourResult]  # one run per hour of traffic, in SCENARIOS order
    model_quality: list[QualityHourResult]  # one run per labelled hour, in order


class Demo:
    def __init__(self, config: DemoConfig, out: Output, stop: threading.Event):
        self.config, self.out, self.stop = config, out, stop
        now = (config.now or datetime.now(UTC)).astimezone(UTC)
        self.current_hour = now.replace(minute=0, second=0, microsecond=0)
        # The last labelled hour's model-quality run (its labels came in the hour after) is now.
        self.first_hour = self.current_hour - (len(SCENARIOS) + LABEL_DELAY_HOURS) * HOUR
        self.clock = SimulatedClock(self.first_hour)

    # -- steps -----------------------------------------------------------------------------------

    def run(self) -> DemoResult:
        config, out = self.config, self.out
        for path in (config.model, config.train_csv, config.validation_csv):
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
            aws = create_resources(config.bucket, config.endpoint_name)
            out.line(f"moto on {url}: bucket s3://{config.bucket}, topic {aws.topic_arn},")
            out.line(f"and SQS queue {aws.queue_url.rsplit('/', 1)[-1]} subscribed to the topic")
            handler = load_alert_handler()

            booster = load_model(config.model)
            baseline_dir = self.baseline(booster, aws)
            quality = QualityLoop(self.quality_config(), out, aws, handler)
            quality.baseline()

            out.step("Starting the local endpoint with data capture to the emulator's S3")
            destination = f"s3://{config.bucket}/{CAPTURE_PREFIX}"
            capture = CaptureConfig(destination, config.endpoint_name, config.variant_name, sampling_percentage=100)
            writer = CaptureWriter(capture, S3Store(destination, aws.s3), self.clock, random.Random(config.seed))
            endpoint = stack.enter_context(LocalEndpoint(Predictor(booster), writer))
            out.line(f"{endpoint.url}/invocations ({booster.num_features()} features, text/csv), capturing 100% of")
            out.line(f"requests to {destination}/{config.endpoint_name}/{config.variant_name}/yyyy/mm/dd/HH/")

            result = DemoResult([], [])
            labelled: list[datetime] = []  # hours whose labels are in, waiting for their model-quality run
            for index, scenario in enumerate(SCENARIOS):
                hour = self.first_hour + index * HOUR
                self.traffic(endpoint.url, writer, scenario, hour, index)
                self.show_captures(aws, hour)
                result.data_quality.append(self.monitor(aws, handler, baseline_dir, hour + HOUR))
                if labelled:  # the previous hour's labels were collected during this hour
                    result.model_quality.append(quality.run(labelled.pop(0)))
                if scenario in LABELLED:
                    quality.upload_labels(hour, collected=hour + HOUR + LABELS_COLLECTED_AFTER)
                    labelled.append(hour)
            result.model_quality.extend(quality.run(hour) for hour in labelled)
            self.show_outcome(result)
            self.write_reports(result.data_quality, baseline_dir)
            quality.write_reports(result.model_quality)
            self.mirror(aws)
        return result

    def quality_config(self) -> QualityConfig:
        config = self.config
        return QualityConfig(
            validation_csv=config.validation_csv, workdir=config.workdir, bucket=config.bucket,
            endpoint_name=config.endpoint_name, variant_name=config.variant_name,
            schedule_name=config.quality_schedule_name, tolerance=config.quality_tolerance,
            label_delay=LABEL_DELAY_HOURS * HOUR,
        )

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
        seed = config.seed * 100 + index
        rows = scenario_rows(scenario, config.requests_per_hour, seed=seed)
        ids = scenario_ids(scenario, seed, len(rows))
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
            inference_ids=ids,
            progress=progress,
            stop=self.stop,
        )
        if result.stopped:
            raise KeyboardInterrupt
        out.line(f"{result.summary()} (wall time; the capture clock covered the hour)")
        out.line(f"InferenceId {ids[0]} ... {ids[-1]}: scenario, seed, row count and row of each request")
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
        environment = monitoring_environment(config.endpoint_name, config.schedule_name, stamp["start"], stamp["end"])
        alerts = alert(aws, handler, processing_job(environment, report_uri), job_name, config.schedule_name,
                       result.message, run_hour + timedelta(minutes=7), expect_alert=bool(result.violations))
        out.line(f"alert handler invoked with the EventBridge event of job {job_name}: "
                 f"{len(alerts)} message(s) on the topic")
        return HourResult(run_hour, result.message, result.violations, local_dir, report_uri, alerts)

    def show_outcome(self, result: DemoResult) -> None:
        from model import synthetic

        out = self.out
        clean, drifted, shifted = result.data_quality
        drift = synthetic.SCENARIOS["drifted"]
        changed = set(drift.scale) | set(drift.shift)
        flagged = {v.feature_name for v in drifted.violations if v.constraint_check_type == DRIFT_CHECK}
        other = [v for v in drifted.violations if v.constraint_check_type != DRIFT_CHECK]
        out.step("Result")
        out.line("data quality (are the inputs and predictions distributed as in training?)")
        out.line(f"  first hour:  {clean.message}")
        out.line(f"  second hour: {drifted.message}")
        out.line(f"    drift on the inputs: {', '.join(sorted(flagged - {MODEL_OUTPUT_FEATURE})) or 'none'}"
                 f" (the drifted scenario changes exactly: {', '.join(sorted(changed))})")
        if MODEL_OUTPUT_FEATURE in flagged:
            out.line(f"    drift on the model's output ({MODEL_OUTPUT_FEATURE}) too: more heavy users and service "
                     "calls raise the predicted churn, which is what monitoring the predictions is for")
        out.line(f"  third hour:  {shifted.message}")
        out.line("    (the concept shift leaves the inputs as they were: data quality cannot see it)")
        problems = QualityLoop.show_outcome(out, result.model_quality)
        inputs_flagged = flagged - {MODEL_OUTPUT_FEATURE}
        if clean.violations or shifted.violations or other or inputs_flagged != changed:
            problems.append(
                f"data quality: expected a clean first and third hour and drift on exactly {sorted(changed)} in the "
                f"second; got {len(clean.violations)}/{len(shifted.violations)} violations in the first/third hour, "
                f"drift on {sorted(flagged)}, other violations {[v.feature_name for v in other]}"
            )
        if clean.alerts or shifted.alerts or len(drifted.alerts) != 1:
            problems.append(f"data quality: expected one alert, for the second hour; got "
                            f"{[len(hour.alerts) for hour in result.data_quality]}")
        if problems:
            raise DemoError("the loop did not produce the expected result: " + "; ".join(problems))
        out.step("The alerts, as an SQS subscriber of the topic received them")
        for message in drifted.alerts + [m for hour in result.model_quality for m in hour.alerts]:
            show_alert(out, message)

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
            out.line(f"data quality, {label}: {shown(result.html)}")

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
        root = shown(target)
        out.step(f"The emulator's bucket ({len(keys)} objects) is copied to {root}/; look around with")
        out.line(f"python -m workshop captures --source {root}/{CAPTURE_PREFIX} --endpoint {config.endpoint_name} "
                 f"--limit 5")
        out.line(f"python -m workshop runs --reports {root}/{REPORTS_PREFIX}/{config.endpoint_name}")
        out.line(f"python -m workshop runs --reports {root}/{REPORTS_PREFIX}/{config.endpoint_name} --run latest")


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
    except (DemoError, StoreError, ModelLoadError, EmulatorError, EndpointStartError, GroundTruthInputError,
            *ANALYZER_ERRORS) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    out.step("Done: the endpoint, its capture writer and the emulator are stopped")
    return 0
