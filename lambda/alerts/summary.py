"""Turn a monitoring run into one alert: an SNS subject, a plain-text body and message attributes.

Pure functions over the violations document (`contract.violations`, or `contract.model_quality` for a
model-quality run) and the run (`alerts.events`): no AWS calls, so every message is unit-tested. A
report may hold thousands of violations; the body lists the worst few of each kind, counts the rest
and links the full report, so a message stays far below SNS's 256 KB limit (a final byte budget
guards anything unforeseen). A model-quality alert names each metric with its value, standard
deviation and the threshold it broke, in the report's order (the service's check order). A model-quality
run that had no data says which side was missing (`Run.missing`: the labels, the captures, or no label
matched a prediction), so that a late label upload does not read as a bad model.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from alerts.events import CAPTURES, LABELS, STATE_MACHINE, UNMATCHED, Run, s3_console_url
from contract.ground_truth import MERGE_SUMMARY_FILE
from contract.layout import (
    CONSTRAINTS_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    ground_truth_prefix,
    is_model_quality_schedule,
    split_s3_uri,
)
from contract.model_quality import LESS_THAN, QualityViolation
from contract.processing import NO_DATA_REASON, UNUSABLE_DATA_REASON
from contract.violations import (
    COMPLETENESS_CHECK,
    DATA_TYPE_CHECK,
    DOMAIN_CHECK,
    DRIFT_CHECK,
    EXTRA_COLUMN_CHECK,
    MISSING_COLUMN_CHECK,
    DataTypeMismatch,
    Drift,
    Incompleteness,
    Violation,
    check_order,
)

SUBJECT_LIMIT = 99  # SNS: under 100 printable ASCII characters
BODY_BYTE_BUDGET = 200_000  # SNS allows 262,144 bytes for body plus attributes
MAX_LISTED = 20  # violations listed per kind; the rest are counted and left to the report
MAX_DESCRIPTION = 400  # characters of one listed description
MAX_LINE = 5_000  # characters of any line (feature names come from user data)

CRITICAL, HIGH, MEDIUM = "critical", "high", "medium"
# Worst first: how directly a check says the model now scores inputs unlike its training data.
# Drift ranks above data type because the workshop's label column (`Churn`) receives the model's
# probability and so fails the data type check on every run (contract, section 6).
WORST_FIRST = (MISSING_COLUMN_CHECK, DRIFT_CHECK, DATA_TYPE_CHECK, COMPLETENESS_CHECK, DOMAIN_CHECK,
               EXTRA_COLUMN_CHECK)
_HIGH_CHECKS = frozenset(WORST_FIRST[:3])
_SHORT_NAMES = {DRIFT_CHECK: "drift", DATA_TYPE_CHECK: "data type", COMPLETENESS_CHECK: "completeness",
                DOMAIN_CHECK: "new categories", MISSING_COLUMN_CHECK: "missing columns",
                EXTRA_COLUMN_CHECK: "extra columns"}
_ADVICE = {
    DRIFT_CHECK: "Drift: compare this window's statistics.json (same folder) with the baseline's; "
                            "if the shift is real and lasting, retrain and re-baseline.",
    DATA_TYPE_CHECK: "Data type: a client sends values of another type, or shifted columns; check the "
                       "request format against the baseline's feature order.",
    COMPLETENESS_CHECK: "Completeness: clients send empty values; find the client or upstream job that "
                          "drops them.",
    DOMAIN_CHECK: "New categories: values outside the baseline's domain; extend the baseline "
                                "if they are legitimate.",
    MISSING_COLUMN_CHECK: "Missing columns: requests carry fewer fields than the baseline; a client is "
                            "on an old or wrong schema.",
    EXTRA_COLUMN_CHECK: "Extra columns: requests carry more fields than the baseline.",
}
_NO_QUALITY_DATA = ("The window had no captured requests or no ground-truth labels to merge with them (the reason "
                    "names the empty prefix): expected if the endpoint received no traffic, or if the labels of "
                    "the window are not uploaded yet (widen the schedule's ground-truth window for late labels).")
# A model-quality run without data, by what it lacked (`Run.missing`): (subject words, what it means).
_MISSING_QUALITY_DATA = {
    LABELS: ("labels missing",
             "The ground-truth labels were missing, not the model wrong: no label was collected in the run's label "
             "window (the reason names the empty prefix), so the predictions could not be scored and the model's "
             "quality is unknown for this hour. Check that the label pipeline uploads to {labels}/yyyy/mm/dd/HH/; "
             "if labels arrive later than the schedule allows, widen its label delay (cdk.json model_quality "
             "start_time_offset and end_time_offset)."),
    CAPTURES: ("captures missing",
               "The captured predictions were missing, not the model wrong: the window had no captured requests to "
               "score (expected if the endpoint received no traffic in that hour; otherwise check its data "
               "capture), so the model's quality is unknown for this hour."),
    UNMATCHED: ("no label matched",
                "No captured prediction matched a ground-truth label, so nothing was scored: this says nothing "
                "about the model. Either the labels of these predictions are not uploaded yet (widen the label "
                "delay), or they do not join: a label's eventId must hold the capture's inferenceId (or eventId)."),
}
_QUALITY_ADVICE = (
    "Open the run's report (`python -m workshop report --run <run folder> --baseline <baseline folder>`): "
    "the confusion matrix and the ROC and precision-recall curves against the baseline's.",
    "If the data-quality runs of the same hours are clean, the inputs did not change but what they mean did "
    "(concept drift): retrain on recently labelled data and re-baseline.",
    "Check the ground truth as well: labels joined to the wrong predictions (the capture's inferenceId) "
    "look like a bad model.",
)

@dataclass(frozen=True)
class Alert:
    subject: str
    body: str
    severity: str
    endpoint: str
    schedule: str
    violation_count: int

    def message_attributes(self) -> dict:
        """SNS message attributes, for subscription filter policies (violation_count is a Number)."""
        text = {"severity": self.severity, "endpoint": self.endpoint, "schedule": self.schedule}
        attributes = {name: {"DataType": "String", "StringValue": value or "-"}
                      for name, value in text.items()}
        attributes["violation_count"] = {"DataType": "Number", "StringValue": str(self.violation_count)}
        return attributes


@dataclass(frozen=True)
class _Finding:
    """One violation with the numbers its description states (None when the wording is not recognised)."""

    violation: Violation

    @property
    def feature(self) -> str:
        return self.violation.feature_name

    @property
    def details(self) -> DataTypeMismatch | Incompleteness | Drift | None:
        details = self.violation.details
        return details if isinstance(details, (DataTypeMismatch, Incompleteness, Drift)) else None

    def line(self) -> str:
        details = self.details
        if isinstance(details, Drift):
            comparison = "< (p-value)" if details.p_value else ">"
            return f"{self.feature}: {details.distance:.4g} {comparison} threshold {details.threshold:g}"
        if isinstance(details, DataTypeMismatch):
            return (f"{self.feature}: only {details.observed_percent:.6g}% of values are {details.expected_type} "
                    f"(required {details.expected_percent:g}%)")
        if isinstance(details, Incompleteness):
            return (f"{self.feature}: only {details.observed_percent:.6g}% of values present "
                    f"(required {details.expected_percent:g}%)")
        return f"{self.feature}: {_clip(self.violation.description, MAX_DESCRIPTION)}"

    def short(self) -> str:
        """The finding in a few words, for the subject."""
        details = self.details
        if isinstance(details, Drift):
            return f"{self.feature} {details.distance:.3g} vs {details.threshold:g}"
        if isinstance(details, DataTypeMismatch):
            return f"{self.feature} {details.observed_percent:.3g}% {details.expected_type}"
        if isinstance(details, Incompleteness):
            return f"{self.feature} {details.observed_percent:.3g}% present"
        return self.feature

    def worst_first_key(self) -> tuple:
        """Within a check: largest drift distance (smallest p-value), lowest observed share; else file order."""
        details = self.details
        if isinstance(details, Drift):
            return (1, details.distance) if details.p_value else (0, -details.distance)
        if details is not None:
            return (0, details.observed_percent)
        return (2, 0.0)


def _check_rank(check: str) -> int:
    return WORST_FIRST.index(check) if check in WORST_FIRST else len(WORST_FIRST)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _subject(text: str) -> str:
    """SNS subjects must be printable ASCII, one line, under 100 characters."""
    ascii_text = "".join(c if " " <= c <= "~" else "?" for c in text)
    return _clip(ascii_text, SUBJECT_LIMIT)


def _fit(lines: list[str]) -> str:
    """Join lines, cutting at a line boundary if the text would exceed the byte budget."""
    body, size = [], 0
    note = "[message shortened to stay within SNS's size limit: see the full report]"
    for line in lines:
        size += len(line.encode()) + 1
        if size > BODY_BYTE_BUDGET - len(note) - 1:
            body.append(note)
            break
        body.append(_clip(line, MAX_LINE))
    return "\n".join(body)


def _run_lines(run: Run) -> list[str]:
    lines = [f"Endpoint: {run.endpoint}    Schedule: {run.schedule}",
             f"Run: {run.run_id} ({run.status})"]
    if run.window:
        lines.append(f"Analysed window: {run.window}")
    return lines


def _report_lines(run: Run, model_quality: bool = False) -> list[str]:
    if not run.report_uri:
        return []
    folder = run.report_uri.rsplit("/", 1)[0]
    if model_quality:
        files = [f"The window's metrics, confusion matrix and curves: {folder}/{STATISTICS_FILE}",
                 f"Matched and unmatched records of the merge: {folder}/{MERGE_SUMMARY_FILE}"]
    else:
        files = [f"Window statistics and suggested constraints: {folder}/{STATISTICS_FILE}, "
                 f"{folder}/{CONSTRAINTS_FILE}"]
    return [
        f"Full report: {run.report_uri}",
        f"Open in the S3 console: {s3_console_url(run.report_uri, run.region)}",
        *files,
    ]


def _section(title: str, findings: list[_Finding], max_listed: int) -> list[str]:
    lines = ["", title]
    lines += [f"  {finding.line()}" for finding in findings[:max_listed]]
    if len(findings) > max_listed:
        lines.append(f"  ... and {len(findings) - max_listed:,} more: see the full report")
    return lines


def violations_alert(run: Run, violations: list[Violation], max_listed: int = MAX_LISTED) -> Alert | None:
    """The alert for a run's violations; None when there are none (nothing to alert)."""
    if not violations:
        return None
    by_check: dict[str, list[_Finding]] = {}
    for violation in violations:
        by_check.setdefault(violation.constraint_check_type, []).append(_Finding(violation))
    for findings in by_check.values():
        findings.sort(key=_Finding.worst_first_key)
    checks = sorted(by_check, key=lambda c: (_check_rank(c), c))
    worst = by_check[checks[0]][0]
    worst_check = checks[0]
    count = len(violations)
    noun = "violation" if count == 1 else "violations"

    # Counts in the service's check order (unknown checks last, in report order).
    listed_checks = list(dict.fromkeys(v.constraint_check_type for v in sorted(violations, key=check_order)))
    lines = [f"Model monitoring found {count:,} {noun} for endpoint {run.endpoint}.", *_run_lines(run), "",
             "Violations per check:"]
    lines += [f"  {check}: {len(by_check[check]):,}" for check in listed_checks[:max_listed]]
    if len(listed_checks) > max_listed:
        lines.append(f"  ... and {len(listed_checks) - max_listed:,} more check types: see the full report")

    titles = {
        DRIFT_CHECK: "Baseline drift, largest distance first (distance > threshold):",
        DATA_TYPE_CHECK: "Data type problems, share of values of the baseline's type:",
        COMPLETENESS_CHECK: "Completeness problems, share of non-empty values:",
    }
    for check in checks:
        title = titles.get(check, f"{check} ({_SHORT_NAMES.get(check, 'other')}):")
        lines += _section(title, by_check[check], max_listed)

    lines += ["", *_report_lines(run), f"{run.console_name}: {run.console_url}", "", "What to do:"]
    lines += [f"- {_ADVICE[check]}" for check in checks if check in _ADVICE]

    return Alert(
        subject=_subject(f"{run.endpoint}: {count:,} monitoring {noun}, worst: "
                         f"{_SHORT_NAMES.get(worst_check, worst_check)} {worst.short()}"),
        body=_fit(lines),
        severity=HIGH if _HIGH_CHECKS & set(by_check) else MEDIUM,
        endpoint=run.endpoint, schedule=run.schedule, violation_count=count,
    )


@dataclass(frozen=True)
class _QualityFinding:
    """One model-quality violation: the metric, its value +/- deviation and the threshold it broke."""

    violation: QualityViolation

    def line(self) -> str:
        details = self.violation.details
        if details is None:  # a wording this project does not write: shown as it is
            return f"{self.violation.metric_name}: {_clip(self.violation.description, MAX_DESCRIPTION)}"
        side = "below" if details.operator == LESS_THAN else "above"
        return (f"{details.metric}: {_g(details.value, 4)} +/- {_g(details.standard_deviation, 4)}, {side} "
                f"threshold {_g(details.threshold, 4)} ({details.operator})")

    def short(self) -> str:
        details = self.violation.details
        if details is None:
            return self.violation.metric_name
        relation = "<" if details.operator == LESS_THAN else ">"
        return f"{details.metric} {_g(details.value, 3)} {relation} {_g(details.threshold, 3)}"


def _g(value: float, digits: int) -> str:
    return "NaN" if math.isnan(value) else f"{value:.{digits}g}"


def _quality_subject(endpoint: str, findings: list[_QualityFinding]) -> str:
    """`<endpoint>: N model-quality violations: auc 0.513 < 0.94, ...`: as many whole metrics as fit."""
    count = len(findings)
    head = f"{endpoint}: {count:,} model-quality {'violation' if count == 1 else 'violations'}"
    items: list[str] = []
    for finding in findings:
        more = ", ..." if len(items) + 1 < count else ""
        if len(f"{head}: {', '.join([*items, finding.short()])}{more}") > SUBJECT_LIMIT:
            break
        items.append(finding.short())
    listed = f": {', '.join(items)}{', ...' if len(items) < count else ''}" if items else ""
    return _subject(head + listed)


def quality_violations_alert(run: Run, violations: list[QualityViolation],
                             max_listed: int = MAX_LISTED) -> Alert | None:
    """The alert for a model-quality run's violations (in the report's order, the service's check order);
    None when there are none."""
    if not violations:
        return None
    findings = [_QualityFinding(violation) for violation in violations]
    count = len(violations)
    noun = "violation" if count == 1 else "violations"
    lines = [f"Model-quality monitoring found {count:,} {noun} for endpoint {run.endpoint}: scored against "
             "the labels that came in, the model falls short of its baseline's constraints.", *_run_lines(run)]
    lines += _section("Metrics that broke their constraint (value +/- standard deviation, threshold):",
                      findings, max_listed)
    lines += ["", *_report_lines(run, model_quality=True), f"{run.console_name}: {run.console_url}", "",
              "What to do:", *(f"- {advice}" for advice in _QUALITY_ADVICE)]
    return Alert(subject=_quality_subject(run.endpoint, findings), body=_fit(lines), severity=HIGH,
                 endpoint=run.endpoint, schedule=run.schedule, violation_count=count)


def failure_alert(run: Run) -> Alert:
    """A monitoring run that failed or was stopped: monitoring is blind until it runs again."""
    what = "monitoring state machine" if run.kind == STATE_MACHINE else "monitoring run"
    lines = [f"The {what} for endpoint {run.endpoint} ended {run.status}: no report for this window.",
             *_run_lines(run), ""]
    if run.failure_reason:
        lines.append(f"Failure reason: {run.failure_reason}")
    if run.exit_message:
        lines.append(f"Exit message: {run.exit_message}")
    if not (run.failure_reason or run.exit_message):
        lines.append("The event gives no failure reason: see the job's logs.")
    if UNUSABLE_DATA_REASON in f"{run.failure_reason} {run.exit_message}":
        lines.append("Monitoring could not see this hour: too many captured records could not be read, so no "
                     "statistics were computed. Check the endpoint's content types and capture settings.")
    if run.notes:
        lines.append("Fields of the event that were ignored: " + "; ".join(run.notes))
    lines += ["", f"Details and logs: {run.console_url}"]
    if run.output_uri:
        lines.append(f"Output folder (may be empty): {run.output_uri}")
    lines.append("")
    missing, meaning = _no_data_meaning(run)
    if meaning:
        lines.append(meaning)
    lines.append("Monitoring resumes with the next scheduled run; fix the cause if it repeats.")
    return Alert(
        subject=_subject(f"{run.endpoint}: {what} {run.status}{missing} ({run.run_id})"),
        body=_fit(lines), severity=CRITICAL, endpoint=run.endpoint, schedule=run.schedule, violation_count=0,
    )


def _no_data_meaning(run: Run) -> tuple[str, str]:
    """(": <what was missing>" for the subject, what it means) of a run that had no data; ("", "") otherwise."""
    reason = f"{run.failure_reason} {run.exit_message}"
    if run.missing is None and NO_DATA_REASON not in reason:
        return "", ""
    # A failed run leaves no report to tell its kind: the schedule's name does (`contract.layout`).
    if not is_model_quality_schedule(run.schedule):
        return "", "The window had no captured requests: expected if the endpoint received no traffic."
    if run.missing is None:
        return "", _NO_QUALITY_DATA
    words, meaning = _MISSING_QUALITY_DATA[run.missing]
    return f": {words}", meaning.format(labels=ground_truth_prefix(run.endpoint))


def unreadable_alert(run: Run, problem: str, event_excerpt: object = None) -> Alert:
    """The run's report (or the event itself) could not be read: say why and where to look."""
    what = "report" if run.report_uri else "event"
    lines = [f"The monitoring {what} for endpoint {run.endpoint} could not be read, so this run's "
             "violations (if any) are unknown.", *_run_lines(run), "", f"Problem: {problem}"]
    if run.report_uri:
        bucket, key = split_s3_uri(run.report_uri)
        lines += [f"Report location: {run.report_uri} (bucket {bucket}, key {key})",
                  f"Open in the S3 console: {s3_console_url(run.report_uri, run.region)}"]
    lines.append(f"Console: {run.console_url}")
    if event_excerpt is not None:
        lines += ["", "The event as received (shortened):",
                  _clip(json.dumps(event_excerpt, default=str, sort_keys=True), 4000)]
    lines += ["", f"Check that the monitoring job wrote {VIOLATIONS_FILE} completely; if the job "
                  "was interrupted, its next run writes a fresh report."]
    return Alert(
        subject=_subject(f"{run.endpoint}: monitoring {what} could not be read"),
        body=_fit(lines), severity=CRITICAL, endpoint=run.endpoint, schedule=run.schedule, violation_count=0,
    )
