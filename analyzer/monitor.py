"""One monitoring run: captures of a window against a baseline, written as the service writes them.

Output folder: `statistics.json` (of the window), `constraints.json` (suggested from the window),
`constraint_violations.json` (always written, `{"violations" : [ ]}` when clean, so readers never
have to tell "no violations" from "no report"), and optionally the exit message file and the
CloudWatch metrics file.

The usability rule: every capture record of the window is analysed or unusable with its reason.
When the unusable share exceeds `unusable_record_threshold` (the constraints' monitoring_config,
default 0.1, or the caller's override) the run fails with `UnusableDataError` and writes no
report: statistics of the few readable records would say all is well while monitoring is blind.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from analyzer import metrics
from analyzer.captures import CaptureReader, CaptureSummary, Issue
from analyzer.checks import CheckOutcome, evaluate
from analyzer.jsonfmt import write_document
from analyzer.preprocessors import load_preprocessor
from analyzer.profile import Profiler
from analyzer.suggest import suggest_constraints
from contract.documents import Constraints, Statistics, check_constraints_columns
from contract.errors import BaselineError, NoDataError, UnusableDataError
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE, Window
from contract.metrics import METRICS_FOLDER, PUBLISH_ALL, MetricsBudget
from contract.processing import NO_DATA_REASON, cut_to_bytes, exit_message, unusable_data_message
from contract.violations import Violation, to_document

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class MonitoringResult:
    status: str  # "Completed" or "CompletedWithViolations"
    message: str  # the exit message, e.g. "Completed: Job completed successfully with no violations."
    violations: list[Violation]
    item_count: int  # rows analysed
    summary: CaptureSummary
    output_dir: str
    metrics_file: str | None = None
    drift: dict[str, float] = field(default_factory=dict)

    @property
    def bad_records(self) -> int:
        return self.summary.bad_records

    @property
    def issues(self) -> list[Issue]:
        return self.summary.issues


def load_document(path: str, what: str) -> dict:
    """A baseline JSON file, or BaselineError naming the file and what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise BaselineError(
            f"cannot read the baseline {what} {path}: {exc.strerror}; pass the {what} file written by "
            "suggest-baseline"
        ) from None
    except (ValueError, RecursionError) as exc:  # also nesting too deep, an integer of 4,300+ digits
        raise BaselineError(f"baseline {what} {path} is not valid JSON ({exc}); regenerate or fix it") from None
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise BaselineError(f"baseline {what} {path} has no 'features' list; is it a {what}.json file?")
    return document


def _no_data(captures: str, window: Window, summary: CaptureSummary) -> NoDataError:
    found = (
        f"{summary.files} files, {summary.records} records, {summary.in_window} in the window, "
        f"{summary.bad_records} unusable, {summary.dropped} dropped by the preprocessor"
    )
    hint = f"; first problem: {summary.issues[0]}" if summary.issues else ""
    return NoDataError(
        f"{NO_DATA_REASON}: no capture rows under {captures} for {window.describe()} ({found}){hint}. "
        "Check the window and that the endpoint received traffic with data capture enabled."
    )


def share(text: str) -> float:
    """A share in [0, 1] given as text (`--unusable-threshold`, the container's variable); ValueError if not."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{text!r} is not in [0, 1]")
    return value


def _check_usable(summary: CaptureSummary, threshold: float) -> None:
    """UnusableDataError when more than `threshold` of the window's records could not be used."""
    if summary.bad_records and summary.unusable_share > threshold:
        raise UnusableDataError(
            unusable_data_message(
                summary.bad_records, summary.analysed + summary.bad_records, threshold, summary.top_reasons()
            )
        )


def write_message(path: str, text: str) -> None:
    """The exit message file the processing job reports (contract, section 2), cut to the 1 KB the
    service keeps so that the cut is ours ("...") rather than mid-character."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(cut_to_bytes(text))


def _profile_captures(reader: CaptureReader, profiler: Profiler, names: list[str]) -> CaptureSummary:
    """Feed the reader's batches to the profiler, with progress, then log what the reading found."""
    log.info("reading captures under %s for %s", reader.source, reader.window.describe())
    last_report = time.monotonic()
    for batch in reader.batches():
        profiler.update(batch)
        if time.monotonic() - last_report >= PROGRESS_SECONDS:
            log.info("read %d files, %d rows so far", reader.summary.files, reader.summary.rows)
            last_report = time.monotonic()
    summary = reader.summary
    log.info(
        "read %d files: %d records, %d in the window, %d rows",
        *(summary.files, summary.records, summary.in_window, summary.rows),
    )
    for issue in summary.issues:
        log.warning("skipped: %s", issue)
    for fields, count in sorted(summary.field_counts.items()):
        if fields != len(names):
            log.warning(
                "%d rows have %d fields, the baseline has %d columns (first: %s); %s",
                *(count, fields, len(names), summary.first_row_with[fields]),
                "missing values were counted as missing" if fields < len(names) else "extra values were ignored",
            )
    unlisted = summary.bad_records + summary.unreadable_files - len(summary.issues)
    if unlisted > 0:
        log.warning("%d further problems not listed", unlisted)
    return summary


def _write_reports(output_dir: str, statistics: dict, outcome: CheckOutcome) -> None:
    os.makedirs(output_dir, exist_ok=True)
    write_document(os.path.join(output_dir, STATISTICS_FILE), statistics)
    write_document(os.path.join(output_dir, CONSTRAINTS_FILE), suggest_constraints(statistics))
    write_document(os.path.join(output_dir, VIOLATIONS_FILE), to_document(outcome.violations))


def _profile_window(captures: str, window: Window, handler: Callable | None, names: list[str],
                    unusable_threshold: float):
    """The window's profile and what reading found; fails on too many unusable records or none usable."""
    profiler = Profiler(names)
    try:
        reader = CaptureReader(captures, len(names), window, handler, names=names)
        summary = _profile_captures(reader, profiler, names)
        _check_usable(summary, unusable_threshold)
        if summary.rows == 0:
            raise _no_data(captures, window, summary)
        return profiler.result(), summary
    finally:
        profiler.close()


def _load_baseline(statistics: str, constraints: str, categorical_drift_method: str | None,
                   unusable_threshold: float | None) -> tuple[Statistics, Constraints]:
    """Both baseline files, validated before the captures are read (a damaged file fails the run before
    the long part), with the caller's overrides applied."""
    baseline = Statistics.of(load_document(statistics, "statistics"), statistics)
    checked = Constraints.of(load_document(constraints, "constraints"), constraints, categorical_drift_method)
    check_constraints_columns(checked, baseline.names, constraints)
    if unusable_threshold is not None:
        checked = replace(
            checked, config=checked.config.merged({"unusable_record_threshold": unusable_threshold}, "threshold")
        )
    return baseline, checked


def run_monitoring(
    captures: str,
    statistics: str,
    constraints: str,
    output_dir: str,
    start: str | None = None,
    end: str | None = None,
    preprocessor: str | Callable | None = None,
    publish_metrics: bool = False,
    metrics_dir: str | None = None,
    endpoint_name: str | None = None,
    schedule_name: str | None = None,
    message_file: str | None = None,
    categorical_drift_method: str | None = None,
    unusable_threshold: float | None = None,
    metrics_budget: MetricsBudget = PUBLISH_ALL,
) -> MonitoringResult:
    """Profile the captures of [start, end) and check them against the baseline files.

    `unusable_threshold` (a share in [0, 1]) replaces the constraints' `unusable_record_threshold`.
    Raises BaselineError (baseline files), NoDataError (nothing to analyse), UnusableDataError (too
    many unusable records), CaptureSourceError (captures cannot be listed), PreprocessorError
    (script cannot be loaded) or WindowError.
    """
    window = Window.parse(start, end)
    baseline, baseline_constraints = _load_baseline(statistics, constraints, categorical_drift_method,
                                                    unusable_threshold)
    names = baseline.names
    handler = load_preprocessor(preprocessor) if isinstance(preprocessor, str) else preprocessor

    profile, summary = _profile_window(captures, window, handler, names,
                                       baseline_constraints.config.unusable_record_threshold)
    current = Statistics.of(profile.statistics, "current statistics")
    outcome = evaluate(
        baseline,
        baseline_constraints,
        current,
        profile.type_counts,
        profile.value_counts,
        summary.field_counts,
    )
    _write_reports(output_dir, profile.statistics, outcome)
    metrics_file = None
    if publish_metrics and outcome.emit_metrics and any(outcome.emit_metrics.values()):
        data = metrics.metric_data(
            current, outcome.drift, outcome.emit_metrics, window.end or datetime.now(UTC), endpoint_name, schedule_name,
            metrics_budget,
        )
        metrics_file = metrics.write_metric_file(metrics_dir or os.path.join(output_dir, METRICS_FOLDER), data)

    status, message = exit_message(len(outcome.violations))
    if message_file:
        write_message(message_file, message)
    log.info("%s (%d rows, %d unusable records)", message, summary.rows, summary.bad_records)
    return MonitoringResult(
        status, message, outcome.violations, summary.rows, summary, output_dir, metrics_file, outcome.drift
    )
