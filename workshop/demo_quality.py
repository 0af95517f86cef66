"""The demo's model-quality steps: the baseline of the validation set, ground truth, the hourly runs.

The model-quality monitor joins what the endpoint predicted (the captures) with what really
happened (labels uploaded later, `workshop.ground_truth`) and compares the model's metrics in a
window with the baseline's. The demo uploads labels for the first (normal) and third
(concept-shifted) hour, each during the hour after, and runs the schedule as deployed with a label
delay: the run at H analyses the predictions of H-2h..H-1h.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from analyzer.jsonfmt import write_document
from analyzer.quality_baseline import suggest_quality_baseline
from analyzer.quality_monitor import run_quality_monitoring
from contract.ground_truth import MergeSummary
from contract.layout import (
    BASELINE_FILES,
    BASELINE_PREFIX,
    CAPTURE_PREFIX,
    CONSTRAINTS_FILE,
    REPORTS_PREFIX,
    STATISTICS_FILE,
    Window,
    format_time,
    ground_truth_prefix,
    hour_folder,
    monitoring_job_name,
)
from contract.model_quality import (
    BINARY,
    DEFAULT_PROBABILITY_THRESHOLD,
    ENDPOINT_PROBABILITY_FIELD,
    LESS_THAN,
    OPERATOR,
    THRESHOLD,
    VALUE,
    constraints_section,
    metric_of_violation_name,
    statistics_section,
)
from contract.processing import QualityAttributes, quality_monitoring_environment
from workshop import ground_truth, inspection, quality_report
from workshop.baseline import LABEL, PREDICTION, PROBABILITY
from workshop.demo_clock import HOUR
from workshop.emulator import Emulated, alert, processing_job
from workshop.inspection import format_table
from workshop.store import S3Store, join

# The metrics the demo expects the concept-shifted hour to break (the "AUC, recall, F2").
SHIFT_BREAKS = ("auc", "recall", "f2")
PROBABILITY_FIELD = ENDPOINT_PROBABILITY_FIELD


def shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def loosen(constraints: dict, tolerance: float, problem_type: str = BINARY) -> dict:
    """The constraints with each threshold moved `tolerance` in the metric's favour (within [0, 1]).

    Suggested thresholds are the baseline's values, so any dip alerts (the AWS example says so);
    a user loosens them by hand, as this does.
    """
    section = constraints[constraints_section(problem_type)]
    loosened = {}
    for name, item in section.items():
        moved = item[THRESHOLD] - tolerance if item[OPERATOR] == LESS_THAN else item[THRESHOLD] + tolerance
        loosened[name] = {**item, THRESHOLD: min(max(moved, 0.0), 1.0)}
    return {**constraints, constraints_section(problem_type): loosened}


@dataclass(frozen=True)
class QualityConfig:
    validation_csv: Path
    workdir: Path
    bucket: str
    endpoint_name: str
    variant_name: str
    schedule_name: str
    tolerance: float
    label_delay: timedelta  # how long after its hour a prediction's label is collected, at most


@dataclass
class QualityHourResult:
    hour: datetime  # the hour of predictions analysed
    run_hour: datetime
    labels: int  # labels uploaded for the hour
    message: str
    violations: list  # contract.model_quality.QualityViolation, in the service's order
    summary: MergeSummary
    local_dir: Path
    report_uri: str
    metrics: dict[str, float]  # the window's value of each SHIFT_BREAKS metric
    alerts: list[dict] = field(default_factory=list)
    html: Path | None = None

    @property
    def violated(self) -> list[str]:
        """The violated metrics' statistics.json keys (`false_negative_rate`, not the camelCase name)."""
        return [metric_of_violation_name(v.metric_name) for v in self.violations]


def show_alert(out: object, message: dict) -> None:
    out.line(f"Subject: {message.get('Subject')}")
    attributes = {k: v.get("Value") for k, v in (message.get("MessageAttributes") or {}).items()}
    if attributes:
        out.line(f"Attributes: {json.dumps(attributes)}")
    out.line("")
    out.line(str(message.get("Message", "")))
    out.line("")


class QualityLoop:
    def __init__(self, config: QualityConfig, out: object, aws: Emulated, handler: Callable):
        self.config, self.out, self.aws, self.handler = config, out, aws, handler
        self.baseline_dir = config.workdir / "quality-baseline"
        self.labels: dict[datetime, int] = {}

    @property
    def captures(self) -> str:
        return f"s3://{self.config.bucket}/{CAPTURE_PREFIX}"

    @property
    def ground_truth(self) -> str:
        return f"s3://{self.config.bucket}/{ground_truth_prefix(self.config.endpoint_name)}"

    def baseline(self) -> None:
        config, out = self.config, self.out
        out.step("Suggesting the model-quality baseline from the validation set with predictions")
        statistics = suggest_quality_baseline(
            str(config.validation_csv), str(self.baseline_dir), problem_type=BINARY,
            inference_attribute=PREDICTION, probability_attribute=PROBABILITY, ground_truth_attribute=LABEL,
            probability_threshold=DEFAULT_PROBABILITY_THRESHOLD,
        )
        path = self.baseline_dir / CONSTRAINTS_FILE
        suggested = json.loads(path.read_text())
        write_document(str(path), loosen(suggested, config.tolerance))
        loosened = json.loads(path.read_text())[constraints_section(BINARY)]
        metrics = statistics[statistics_section(BINARY)]
        out.line(f"{shown(config.validation_csv)}: {PROBABILITY},{PREDICTION},{LABEL} of "
                 f"{statistics['dataset']['item_count']} held-out rows (prediction: probability > "
                 f"{DEFAULT_PROBABILITY_THRESHOLD})")
        rows = [[name, f"{metrics[name][VALUE]:.4f}", f"{item[THRESHOLD]:.4f}",
                 f"{loosened[name][THRESHOLD]:.4f}", item[OPERATOR]]
                for name, item in suggested[constraints_section(BINARY)].items()]
        out.line(format_table(["metric", "baseline", "suggested", "demo threshold", "alerts when"], rows))
        out.line(f"The suggested thresholds are the baseline's values: any dip alerts. The demo loosens each by "
                 f"{config.tolerance} (a normal hour's recall varies by about 0.04), as a user edits constraints.json.")
        store = S3Store(f"s3://{config.bucket}/{BASELINE_PREFIX}/{config.endpoint_name}/{config.schedule_name}",
                        self.aws.s3)
        for name in BASELINE_FILES:
            store.write(name, (self.baseline_dir / name).read_bytes())
        out.line(f"statistics.json and constraints.json -> {store.describe('')}/")

    def upload_labels(self, hour: datetime, collected: datetime) -> None:
        config, out = self.config, self.out
        window = Window(hour, hour + HOUR)
        captures = ground_truth.captured(self.captures, config.endpoint_name, config.variant_name, window)
        labels = ground_truth.generator_labels(captures.keys)
        store = S3Store(self.ground_truth, self.aws.s3)
        key = ground_truth.upload(labels, store, collected)
        self.labels[hour] = len(labels)
        out.step(f"Ground truth for {hour:%H}:00-{hour + HOUR:%H}:00Z, collected at {collected:%H:%M}Z: what really "
                 "happened to each prediction")
        out.line(ground_truth.describe_upload(store, key, labels, captures))
        out.line("(as `python -m workshop ground-truth --from-generator` does: an InferenceId names its generated row)")
        first = ground_truth.ground_truth_lines(list(labels.items())[:1]).decode().strip()
        out.line(f"one line per InferenceId, e.g. {first}")

    def run(self, hour: datetime) -> QualityHourResult:
        config, out = self.config, self.out
        run_hour = hour + HOUR + config.label_delay
        start, end = format_time(hour), format_time(hour + HOUR)
        out.step(f"Model-quality run at {run_hour:%H}:00Z: predictions of {hour:%H}:00-{hour + HOUR:%H}:00Z "
                 f"with the labels collected {hour:%H}:00-{run_hour:%H}:00Z")
        folder = join(config.endpoint_name, config.schedule_name, hour_folder(run_hour))
        local_dir = config.workdir / "runs" / folder
        result = run_quality_monitoring(
            f"{self.captures}/{config.endpoint_name}/{config.variant_name}", self.ground_truth,
            str(self.baseline_dir / CONSTRAINTS_FILE), str(local_dir), problem_type=BINARY,
            probability_attribute=PROBABILITY_FIELD, probability_threshold=DEFAULT_PROBABILITY_THRESHOLD,
            inference_attribute=None, start=start, end=end, ground_truth_start=start,
            ground_truth_end=format_time(run_hour), statistics=str(self.baseline_dir / STATISTICS_FILE),
            endpoint=config.endpoint_name, schedule=config.schedule_name,
        )
        reports = S3Store(f"s3://{config.bucket}/{REPORTS_PREFIX}", self.aws.s3)
        for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
            reports.write(join(folder, path.relative_to(local_dir).as_posix()), path.read_bytes())
        report_uri = reports.describe(folder)
        out.line(f"{result.message}")
        merged = result.summary
        out.line(f"merge on {merged.join_key}: {merged.matched} of {merged.captures} predictions matched a label; "
                 f"{merged.unmatched_captures} without one, {merged.unmatched_labels} labels without a prediction, "
                 f"{merged.duplicate_labels} duplicate labels")
        out.line(f"report files: {report_uri}/")
        if result.violations:
            details = [v.details for v in result.violations]
            rows = [[d.metric, f"{d.value:.4f} +/- {d.standard_deviation:.4f}", d.operator, f"{d.threshold:.4f}"]
                    for d in details]
            out.line(format_table(["metric", "value", "was", "threshold"], rows))
            out.line(f"(constraint_violations.json words each as the service does: {result.violations[0].description})")
        job_name = monitoring_job_name(config.schedule_name, run_hour)
        attributes = QualityAttributes(BINARY, PROBABILITY_FIELD, DEFAULT_PROBABILITY_THRESHOLD)
        environment = quality_monitoring_environment(config.endpoint_name, config.schedule_name, attributes,
                                                     captures=(start, end), labels=(start, format_time(run_hour)))
        alerts = alert(self.aws, self.handler, processing_job(environment, report_uri), job_name,
                       config.schedule_name, result.message, run_hour + timedelta(minutes=9),
                       expect_alert=bool(result.violations))
        out.line(f"alert handler invoked with the EventBridge event of job {job_name}: {len(alerts)} message(s)")
        section = result.statistics[statistics_section(BINARY)]
        metrics = {name: section[name][VALUE] for name in SHIFT_BREAKS}
        return QualityHourResult(hour, run_hour, self.labels.get(hour, 0), result.message, list(result.violations),
                                 result.summary, local_dir, report_uri, metrics, alerts)

    @staticmethod
    def show_outcome(out: object, results: list[QualityHourResult]) -> list[str]:
        """Print the model-quality outcome; the ways it differs from what the demo should show."""
        clean, shifted = results
        out.line("model quality (are the predictions still right, now that the labels are in?)")
        for name, hour in (("first hour: ", clean), ("third hour: ", shifted)):
            values = ", ".join(f"{metric} {value:.3f}" for metric, value in hour.metrics.items())
            out.line(f"  {name} {hour.message} ({values}; {hour.summary.matched} predictions scored)")
        missing = [name for name in SHIFT_BREAKS if name not in shifted.violated]
        out.line(f"    past their thresholds: {', '.join(shifted.violated) or 'nothing'}")
        problems = []
        if clean.violations or missing or clean.alerts or len(shifted.alerts) != 1:
            problems.append(
                f"model quality: expected a clean first hour and {', '.join(SHIFT_BREAKS)} below the baseline in the "
                f"third, with one alert; got {clean.violated or 'no violations'} in the first hour, "
                f"{shifted.violated or 'none'} in the third, {len(clean.alerts)}/{len(shifted.alerts)} alerts"
            )
        return problems

    def write_reports(self, results: list[QualityHourResult]) -> None:
        baseline_files = {name: (self.baseline_dir / name).read_bytes() for name in BASELINE_FILES}
        for result in results:
            run_files = {path.name: path.read_bytes() for path in result.local_dir.glob("*.json")}
            window = inspection.window_text(result.hour + HOUR)  # the analysed hour's window
            docs = quality_report.load_documents(run_files, baseline_files, result.report_uri, window)
            result.html = self.config.workdir / f"quality-report-{result.run_hour:%Y%m%d-%H}00.html"
            result.html.write_text(quality_report.render(docs), encoding="utf-8")
            label = "concept-shifted hour" if result.violations else "clean hour"
            self.out.line(f"model quality, {label}: {shown(result.html)}")
