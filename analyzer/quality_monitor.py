"""One model-quality monitoring run: merge the window's predictions with their labels, score, check.

Output folder (as the service's two jobs leave it): `statistics.json` (the matched records' metrics),
`constraint_violations.json` (always written), `merge/<capture hour>/merged.jsonl` (the merged
records, for inspection), `merge_summary.json` (ours: matched, unmatched and duplicate counts),
and optionally the exit message file and the CloudWatch metrics file
(`contract.model_quality.NAMESPACE`, dimensions Endpoint and MonitoringSchedule).

Rules:
- Labels: the merge's (`analyzer.merge`). Labels or predictions not of the problem type fail the
  run with the values seen (a wrong label column would otherwise be scored as nonsense).
- Usability (ours, as data quality's `unusable_record_threshold`): capture records and label lines
  that cannot be used are listed with file:line in the log and counted in the summary; when more than
  `unusable_threshold` (default 0.1) of either side is unusable the run fails naming the first ones.
  Unmatched shares are logged as warnings and kept in the summary: label delay makes some normal.
- No matched pair fails like the service ("Job inputs had no data: ..." naming both sources and the key).
- The metrics' seeded samples: the seed is `window_seed` of the capture window's start and end
  (open ends written as "open"), so a rerun of the same window gives the same deviations.
- A score equal to the threshold predicts the negative class (`predict_from_scores`).

Flow: the labels are read in a thread while the capture files are read (`READ_WORKERS` at once);
the captures stream in batches of about `BATCH_RECORDS` through the merge (the first batch waits
for the labels; a label problem is reported before a capture problem) into the metrics; the merged
records are written in a thread meanwhile. The merged records of a run that fails later (too many
unusable captures) stay in `merge/` for inspection. pyarrow allocates from the C allocator during
the run (`_system_allocator`).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import metrics
from analyzer.arrays import to_numpy
from analyzer.capture_outputs import Attributes, OutputChunk, capture_outputs
from analyzer.captures import Issue
from analyzer.ground_truth import check_values, ground_truth_labels
from analyzer.jsonfmt import write_document
from analyzer.merge import Merger, latest_labels
from analyzer.monitor import write_message
from analyzer.quality_checks import check_quality
from analyzer.quality_metrics import QualityAccumulator, predict_from_scores, window_seed
from contract import metrics as metric_names
from contract.errors import NoMatchedDataError, QualityInputError
from contract.ground_truth import JOIN_KEY_RULE, MERGE_SUMMARY_FILE, MergeSummary
from contract.layout import STATISTICS_FILE, VIOLATIONS_FILE, Window
from contract.model_quality import (
    BINARY,
    DEFAULT_PROBABILITY_THRESHOLD,
    NAMESPACE,
    PR_CURVE,
    REGRESSION,
    ROC_CURVE,
    QualityConstraints,
    QualityStatistics,
    QualityViolation,
    published_metric_names,
    quality_violations_document,
    statistics_document,
    statistics_section,
)
from contract.processing import exit_message, no_matched_data_message

log = logging.getLogger(__name__)
UNUSABLE_THRESHOLD = 0.1
BATCH_RECORDS = 1 << 20  # records joined per call: each call hashes every label key
READ_WORKERS = min(4, os.cpu_count() or 1)
SHOWN_ISSUES = 3


@dataclass(frozen=True)
class QualityMonitoringResult:
    status: str
    message: str
    violations: list[QualityViolation]
    summary: MergeSummary
    statistics: dict
    output_dir: str
    issues: list[Issue]
    metrics_file: str | None = None


def _attributes(problem_type: str, probability: str | None, inference: str | None) -> Attributes:
    if problem_type == BINARY and probability is None and inference is None:
        raise QualityInputError(f"{BINARY} needs --probability-attribute or --inference-attribute (or both)")
    if problem_type != BINARY and inference is None:
        raise QualityInputError(f"{problem_type} needs --inference-attribute (where the output holds the prediction)")
    return Attributes(probability if problem_type == BINARY else None, inference, problem_type)


def _check_usable(issues: list[Issue], unusable: int, total: int, what: str, threshold: float) -> None:
    for issue in issues[:200]:
        log.warning("skipped: %s", issue)
    if unusable and unusable > threshold * total:
        shown = "; ".join(str(issue) for issue in issues[:SHOWN_ISSUES])
        raise QualityInputError(
            f"{unusable} of {total} {what} ({100 * unusable / total:.1f}%) could not be used, above the "
            f"{100 * threshold:g}% a run accepts; first: {shown}"
        )


def _batches(chunks: Iterable[OutputChunk], issues: list[Issue]) -> Iterator[pa.Table]:
    """Consecutive files' usable records in batches of about BATCH_RECORDS (one join call each)."""
    pending: list[pa.Table] = []
    size = 0
    for chunk in chunks:
        issues.extend(chunk.issues)
        if len(chunk.table):
            pending.append(chunk.table)
            size += len(chunk.table)
        if size >= BATCH_RECORDS:
            yield pa.concat_tables(pending)
            pending, size = [], 0
    if pending:
        yield pa.concat_tables(pending)


def _located(table: pa.Table, where: str) -> Callable[[int], str]:
    """Where a row came from, for messages: `where` formatted with the row's columns."""

    def location(row: int) -> str:
        return where.format(**{name: table.column(name)[row].as_py() for name in ("key", "hour", "line", "file")
                               if name in table.column_names})  # fmt: skip

    return location


def _merge_and_score(captures: str, window: Window, attributes: Attributes, labelled: Future, score) -> list[Issue]:
    """Stream the window's capture records through the merge (`_labelled_merger`'s, once the labels
    are read) into `score`; returns their issues."""
    issues: list[Issue] = []
    try:
        # Files are read in threads (pyarrow parses without the GIL), ahead of the batches' merge.
        for batch in _batches(capture_outputs(captures, window, attributes, workers=READ_WORKERS), issues):
            matched = labelled.result()[0].add(batch)
            if attributes.inference:
                what = f"predictions (inference attribute {attributes.inference}) under {captures}"
                where = _located(matched, "the capture record with key {key!r} in hour folder {hour}")
                check_values(matched.column("inference"), attributes.problem_type, what, where)
            score(matched)
    except Exception:
        labelled.result()  # a problem of the labels is named first, as when they were read first
        raise
    return issues


def _read_labels(
    ground_truth: str, window: Window, problem_type: str, threshold: float
) -> tuple[pa.Table, int, int, list[Issue]]:
    chunks = list(ground_truth_labels(ground_truth, window))
    issues = [issue for chunk in chunks for issue in chunk.issues]
    read = sum(len(chunk.table) for chunk in chunks)
    _check_usable(issues, len(issues), read + len(issues), f"ground-truth lines under {ground_truth}", threshold)
    for chunk in chunks:
        where = _located(chunk.table, f"{chunk.file}:{{line}}")
        check_values(chunk.table.column("label"), problem_type, f"ground-truth labels of {chunk.file}", where)
    labels, read, duplicates = latest_labels(chunks)
    return labels, read, duplicates, issues


def _labelled_merger(
    ground_truth: str, window: Window, problem_type: str, threshold: float, output: str
) -> tuple[Merger, int, int, list[Issue]]:
    """(the merger of the window's labels, labels read, duplicates, unusable label lines). Run in a
    thread while the first capture files are read; only the merger holds the labels, so that its
    summary can let them go."""
    labels, read, duplicates, issues = _read_labels(ground_truth, window, problem_type, threshold)
    return Merger(labels, output), read, duplicates, issues


def _finish(labelled: Future) -> None:
    """Wait for the merged records' writing (it overlapped the metrics), when the labels were read."""
    if labelled.exception() is None:
        labelled.result()[0].finish()


def _numbers(part: pa.Table, name: str) -> np.ndarray:
    return to_numpy(pc.cast(part.column(name), pa.float64()))


def _scorer(accumulator: QualityAccumulator, threshold: float):
    """Adds matched records to the accumulator (labels and predictions already checked)."""
    problem_type = accumulator.problem_type

    def score(matched: pa.Table) -> None:
        columns = matched.column_names
        if problem_type == BINARY:
            scores = to_numpy(matched.column("score")) if "score" in columns else None
            if "inference" in columns:
                predictions = _numbers(matched, "inference").astype(np.int64)
            else:
                predictions = predict_from_scores(scores, threshold)
            accumulator.add(_numbers(matched, "label").astype(np.int64), predictions, scores)
        elif problem_type == REGRESSION:
            accumulator.add(_numbers(matched, "label"), _numbers(matched, "inference"))
        else:
            labels, predictions = (matched.column(name).to_pylist() for name in ("label", "inference"))
            accumulator.add(np.array(labels, dtype=str), np.array(predictions, dtype=str))

    return score


def _metric_data(
    statistics: QualityStatistics, moment: datetime, endpoint: str | None, schedule: str | None
) -> list[dict]:
    dimensions = metric_names.dimensions(endpoint, schedule)
    data = []
    for name in published_metric_names(statistics.problem_type):
        metric = statistics.metric(name)
        if metric is not None and math.isfinite(metric.value):
            data.append({"MetricName": name, "Dimensions": dimensions, "Timestamp": moment.isoformat(),
                         "Unit": "None", "Value": metric.value})  # fmt: skip
    return data


def _log_summary(summary: MergeSummary) -> None:
    log.info(
        "merged on %s: %d of %d capture records matched a label (%d labels read, %d duplicates replaced)",
        *(summary.join_key, summary.matched, summary.captures, summary.labels, summary.duplicate_labels),
    )
    if summary.unmatched_captures:
        log.warning("%d capture records (%.1f%%) have no label yet: not scored", summary.unmatched_captures,
                    100 * summary.unmatched_capture_share)  # fmt: skip
    if summary.unmatched_labels:
        log.warning("%d labels (%.1f%%) match no capture record of the window", summary.unmatched_labels,
                    100 * summary.unmatched_label_share)  # fmt: skip


def _write(output: str, statistics: dict, violations: list[QualityViolation], summary: MergeSummary) -> None:
    os.makedirs(output, exist_ok=True)
    write_document(os.path.join(output, STATISTICS_FILE), statistics)
    write_document(os.path.join(output, VIOLATIONS_FILE), quality_violations_document(violations))
    with open(os.path.join(output, MERGE_SUMMARY_FILE), "w", encoding="utf-8") as handle:
        json.dump(summary.to_document(), handle, indent=2)


def _merge_window(labelled: Future, captures: str, ground_truth: str, windows: tuple[Window, Window],
                  attributes: Attributes, score, threshold: float):
    """(merge summary, capture issues, label issues) of the window's captures streamed through the merge."""
    window, label_window = windows
    capture_issues = _merge_and_score(captures, window, attributes, labelled, score)
    merger, read, duplicates, label_issues = labelled.result()
    total = merger.captures + len(capture_issues)
    _check_usable(capture_issues, len(capture_issues), total, f"capture records under {captures}", threshold)
    summary = merger.summary(read, duplicates, (len(capture_issues), len(label_issues)))
    _log_summary(summary)
    if not summary.matched:
        found = (f"{summary.captures} usable capture records for {window.describe()}, {summary.labels} labels "
                 f"collected {label_window.describe()}")  # fmt: skip
        raise NoMatchedDataError(no_matched_data_message(captures, ground_truth, JOIN_KEY_RULE, found))
    return summary, capture_issues, label_issues


def _report(output: str, accumulator: QualityAccumulator, constraints: QualityConstraints, summary: MergeSummary,
            evaluated: datetime) -> tuple[dict, QualityStatistics, list[QualityViolation]]:
    """statistics.json, constraint_violations.json and merge_summary.json of the run."""
    problem_type = accumulator.problem_type
    document = statistics_document(problem_type, accumulator.section(), accumulator.count, evaluated)
    # The checks need the scalars only: the curves (up to CURVE_BINS points each) are not read back.
    section = statistics_section(problem_type)
    scalars = {key: value for key, value in document[section].items() if key not in (ROC_CURVE, PR_CURVE)}
    current = QualityStatistics.of({**document, section: scalars}, "the run's statistics", problem_type)
    violations = check_quality(current, constraints)
    _write(output, document, violations, summary)
    return document, current, violations


def _system_allocator(run):
    """`run` with pyarrow allocating from the C allocator: it returns the large freed blocks (parsed
    files, hash tables) to the system, where the default pool keeps them (about 150 MB less peak
    memory on a million records, and no slower)."""

    @functools.wraps(run)
    def allocating(*args, **kwargs):
        previous = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            return run(*args, **kwargs)
        finally:
            pa.set_memory_pool(previous)

    return allocating


@_system_allocator
def run_quality_monitoring(
    captures: str,
    ground_truth: str,
    constraints: str,
    output: str,
    *,
    problem_type: str,
    probability_attribute: str | None = None,
    probability_threshold: float | None = None,
    inference_attribute: str | None = None,
    start: str | None = None,
    end: str | None = None,
    ground_truth_start: str | None = None,
    ground_truth_end: str | None = None,
    statistics: str | None = None,
    endpoint: str | None = None,
    schedule: str | None = None,
    publish_metrics: bool = True,
    metrics_dir: str | None = None,
    message_file: str | None = None,
    unusable_threshold: float = UNUSABLE_THRESHOLD,
) -> QualityMonitoringResult:
    """Merge, score and check one window. `statistics` (the baseline's) is only validated: the
    service's run needs the constraints alone. Raises QualityDocumentError (baseline files),
    QualityInputError (bad or unusable inputs), NoMatchedDataError, CaptureSourceError, WindowError."""
    windows = (Window.parse(start, end), Window.parse(ground_truth_start, ground_truth_end))
    attributes = _attributes(problem_type, probability_attribute, inference_attribute)
    threshold = DEFAULT_PROBABILITY_THRESHOLD if probability_threshold is None else probability_threshold
    # The baseline files first: a damaged one fails the run before the long part.
    baseline_constraints = QualityConstraints.read(constraints, problem_type)
    if statistics:
        QualityStatistics.read(statistics, problem_type)
    seed = window_seed(*(format_or_open(moment) for moment in (windows[0].start, windows[0].end)))
    accumulator = QualityAccumulator(problem_type, seed=seed)
    evaluated = windows[0].end or datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=1) as background:
        # The labels are read while the first capture files are; the first merge waits for them.
        labelled = background.submit(_labelled_merger, ground_truth, windows[1], problem_type, unusable_threshold,
                                     output)  # fmt: skip
        try:
            summary, capture_issues, label_issues = _merge_window(
                labelled, captures, ground_truth, windows, attributes, _scorer(accumulator, threshold),
                unusable_threshold,
            )  # fmt: skip
            document, current, violations = _report(output, accumulator, baseline_constraints, summary, evaluated)
        finally:
            _finish(labelled)
    metrics_file = None
    if publish_metrics:
        metrics_file = metrics.write_metric_file(
            metrics_dir or os.path.join(output, metric_names.METRICS_FOLDER),
            _metric_data(current, evaluated, endpoint, schedule), NAMESPACE, metric_names.MODEL_METRICS_FILE,
        )  # fmt: skip
    status, message = exit_message(len(violations))
    if message_file:
        write_message(message_file, message)
    log.info("%s (%d matched records)", message, summary.matched)
    return QualityMonitoringResult(status, message, violations, summary, document, output,
                                   capture_issues + label_issues, metrics_file)  # fmt: skip


def format_or_open(moment: datetime | None) -> str:
    """A window bound in the seed: ISO-8601, or "open"."""
    return moment.isoformat() if moment else "open"
