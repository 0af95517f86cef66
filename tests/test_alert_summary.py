"""The alert summary is a pure function of the violations document and the run: tested without AWS."""

from __future__ import annotations

import json
import re

import pytest
from alerts import events, handler, summary

from analyzer import checks, jsonfmt
from contract.errors import ViolationsFormatError
from contract.events import NO_DATA_ERROR, NO_LABELS_ERROR
from contract.model_quality import QualityViolation, quality_violations_document
from contract.processing import no_matched_data_message
from contract.violations import (
    DataTypeMismatch,
    DomainMismatch,
    Drift,
    Incompleteness,
    Violation,
    parse_violations,
    to_document,
    unseen_listing,
)
from tests.data import model_quality_reference

SNS_LIMIT_BYTES = 262_144
FOLDER = "s3://bucket/reports/churn-dev/churn-dev-hourly/2026/11/25/14/"

# Same shape and wording as the real service's file (contract, section 5), our own values.
DATA_TYPE_97 = ("Data type match requirement is not met. Expected data type: Integral, "
                "Expected match: 100.0%. Observed: Only 97.5% of data is Integral.")
REAL_SHAPED_REPORT = f"""{{
  "violations" : [ {{
    "feature_name" : "Account Length",
    "constraint_check_type" : "data_type_check",
    "description" : "{DATA_TYPE_97}"
  }}, {{
    "feature_name" : "VMail Message",
    "constraint_check_type" : "completeness_check",
    "description" : "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 88.25%."
  }}, {{
    "feature_name" : "Day Mins",
    "constraint_check_type" : "baseline_drift_check",
    "description" : "Baseline drift distance: 0.4173522013888889 exceeds threshold: 0.1"
  }} ]
}}"""


def make_run(**changes) -> events.Run:
    values = dict(kind=events.PROCESSING_JOB, run_id="model-monitoring-202611251400-0a1b2c3d",
                  status="Completed", endpoint="churn-dev", schedule="churn-dev-hourly", region="eu-west-1",
                  console_url="https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1"
                              "#/processing-jobs/x",
                  exit_message="CompletedWithViolations: Job completed successfully with 3 violations.",
                  output_uri=FOLDER)
    values.update(changes)
    return events.Run(**values)


def drift(feature: str, distance: float, threshold: float = 0.1) -> Violation:
    return Violation(feature, "baseline_drift_check",
                     f"Baseline drift distance: {distance!r} exceeds threshold: {threshold!r}")


def message_bytes(alert: summary.Alert) -> int:
    """What SNS counts against its limit: the body plus each attribute's name, type and value."""
    attributes = alert.message_attributes()
    return len(alert.body.encode()) + sum(
        len(name.encode()) + len(a["DataType"].encode()) + len(a["StringValue"].encode())
        for name, a in attributes.items())


def lines_under(body: str, heading_start: str) -> list[str]:
    """The indented lines of the section whose heading starts with `heading_start`."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading_start))
    section = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        section.append(line.strip())
    return section


def test_real_shaped_report_gives_an_actionable_alert():
    alert = summary.violations_alert(make_run(), parse_violations(REAL_SHAPED_REPORT))

    assert len(alert.subject) < 100
    assert alert.subject.startswith("churn-dev: 3 monitoring violations")
    assert "drift Day Mins 0.417" in alert.subject
    assert lines_under(alert.body, "Violations per check") == [
        "data_type_check: 1", "completeness_check: 1", "baseline_drift_check: 1"]
    assert lines_under(alert.body, "Baseline drift") == ["Day Mins: 0.4174 > threshold 0.1"]
    assert lines_under(alert.body, "Data type") == [
        "Account Length: only 97.5% of values are Integral (required 100%)"]
    assert lines_under(alert.body, "Completeness") == [
        "VMail Message: only 88.25% of values present (required 100%)"]
    assert f"Full report: {FOLDER}constraint_violations.json" in alert.body
    assert ("https://eu-west-1.console.aws.amazon.com/s3/object/bucket?region=eu-west-1&prefix="
            "reports/churn-dev/churn-dev-hourly/2026/11/25/14/constraint_violations.json") in alert.body
    assert alert.message_attributes() == {
        "severity": {"DataType": "String", "StringValue": "high"},
        "endpoint": {"DataType": "String", "StringValue": "churn-dev"},
        "schedule": {"DataType": "String", "StringValue": "churn-dev-hourly"},
        "violation_count": {"DataType": "Number", "StringValue": "3"},
    }


def test_synthetic_report_sorts_drift_and_ranks_the_worst_check():
    violations = [
        Violation("State_CA", "categorical_values_check",
                  'Data domain requirement is not met. Expected: 100.0% of values in the baseline domain. '
                  'Observed: Only 99.0% (297 of 300). Unseen values: "2" (3).'),
        Violation("Eve Mins", "data_type_check",
                  "Data type match requirement is not met. Expected data type: Fractional, Expected match: "
                  "100.0%. Observed: Only 12.5% of data is Fractional."),
        Violation("Churn", "data_type_check",
                  "Data type match requirement is not met. Expected data type: Integral, Expected match: "
                  "100.0%. Observed: Only 0.0% of data is Integral."),
        drift("Night Calls", 0.12),
        drift("CustServ Calls", 0.61),
        drift("Day Mins", 0.35),
        Violation("Int'l Plan_yes", "baseline_drift_check",
                  "Baseline drift distance: 0.003 is below threshold: 0.05 (ChiSquared p-value)"),
        Violation("Intl Calls", "completeness_check",
                  "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 95.0%."),
        Violation("_c70", "extra_column_check",
                  "Extra columns: 4 of 300 rows have more fields than the baseline's 70 columns (up to 71); "
                  "values after column 70 were not analyzed."),
    ]
    alert = summary.violations_alert(make_run(), violations)

    assert "worst: drift CustServ Calls 0.61 vs 0.1" in alert.subject
    assert lines_under(alert.body, "Baseline drift") == [
        "CustServ Calls: 0.61 > threshold 0.1", "Day Mins: 0.35 > threshold 0.1",
        "Night Calls: 0.12 > threshold 0.1", "Int'l Plan_yes: 0.003 < (p-value) threshold 0.05"]
    assert lines_under(alert.body, "Data type") == [
        "Churn: only 0% of values are Integral (required 100%)",
        "Eve Mins: only 12.5% of values are Fractional (required 100%)"]
    assert lines_under(alert.body, "Violations per check") == [
        "data_type_check: 2", "completeness_check: 1", "baseline_drift_check: 4",
        "categorical_values_check: 1", "extra_column_check: 1"]
    # Checks without numbers keep their full description.
    (domain_line,) = lines_under(alert.body, "categorical_values_check")
    assert domain_line.startswith("State_CA: Data domain requirement is not met.")
    assert domain_line.endswith('Unseen values: "2" (3).')
    assert lines_under(alert.body, "extra_column_check")[0].startswith("_c70: Extra columns: 4 of 300 rows")
    assert alert.message_attributes()["violation_count"]["StringValue"] == "9"


def test_report_written_by_the_analyzer_is_summarised_with_its_numbers():
    """The analyzer's own wording and file layout (Java doubles, Jackson print), every check type."""
    names = ["Churn", "Account Length", "Day Mins", "State_CA"]
    violations = [
        Violation.of("Account Length", DataTypeMismatch("Integral", 100.0, 3869 / 3882 * 100)),
        Violation.of("Day Mins", Incompleteness(100.0, 289 / 300 * 100)),
        Violation.of("Day Mins", Drift(0.2345678, 0.1)),
        Violation.of("Account Length", Drift(3.5e-4, 0.1)),
        Violation.of("State_CA", Drift(1.2e-5, 0.05, p_value=True)),
        Violation.of("State_CA", DomainMismatch(100.0, 290 / 300 * 100, 290, 300, unseen_listing({"2": 7, "x": 3}))),
        *checks.column_count_violations(names, {4: 290, 3: 6, 5: 4}),
    ]
    report = jsonfmt.dumps(to_document(violations))
    alert = summary.violations_alert(make_run(), parse_violations(report))

    assert lines_under(alert.body, "Data type") == [
        "Account Length: only 99.6651% of values are Integral (required 100%)"]
    assert lines_under(alert.body, "Completeness") == [
        "Day Mins: only 96.3333% of values present (required 100%)"]
    assert lines_under(alert.body, "Baseline drift") == [
        "Day Mins: 0.2346 > threshold 0.1", "Account Length: 0.00035 > threshold 0.1",
        "State_CA: 1.2e-05 < (p-value) threshold 0.05"]
    assert lines_under(alert.body, "Violations per check") == [
        "data_type_check: 1", "completeness_check: 1", "baseline_drift_check: 3",
        "categorical_values_check: 1", "missing_column_check: 1", "extra_column_check: 1"]
    # The first column the short rows lack (index 3 of the baseline's names).
    assert "worst: missing columns State_CA" in alert.subject
    assert alert.message_attributes()["violation_count"]["StringValue"] == "8"


def test_missing_columns_outrank_drift_and_unknown_checks_are_kept():
    violations = [drift("Day Mins", 0.9),
                  Violation("Eve Calls", "missing_column_check",
                            "Missing columns: 10 of 300 rows have fewer fields."),
                  Violation("Day Mins", "some_future_check", "A check this code does not know yet.")]
    alert = summary.violations_alert(make_run(), violations)
    assert "worst: missing columns Eve Calls" in alert.subject
    assert lines_under(alert.body, "some_future_check") == ["Day Mins: A check this code does not know yet."]


def test_only_minor_checks_give_medium_severity():
    violations = [Violation("Intl Calls", "completeness_check", "Data completeness requirement is not met. "
                                                                "Expected: 100.0%. Observed: Only 95.0%.")]
    alert = summary.violations_alert(make_run(), violations)
    assert alert.severity == "medium"
    assert alert.subject == "churn-dev: 1 monitoring violation, worst: completeness Intl Calls 95% present"


def test_unrecognised_wording_is_shown_verbatim_not_dropped():
    violations = [Violation("Day Mins", "baseline_drift_check", "Drift distance was 0.3 (new wording)")]
    alert = summary.violations_alert(make_run(), violations)
    assert lines_under(alert.body, "Baseline drift") == ["Day Mins: Drift distance was 0.3 (new wording)"]
    assert alert.subject.endswith("worst: drift Day Mins")


def test_an_empty_report_gives_no_alert():
    assert summary.violations_alert(make_run(), parse_violations('{ "violations" : [ ] }')) is None


def test_ten_thousand_violations_stay_within_sns_limits():
    violations = [drift(f"feature_{i:05d}", 0.1 + i / 100_000) for i in range(4_000)]
    violations += [Violation(f"feature_{i:05d}", "data_type_check",
                             "Data type match requirement is not met. Expected data type: Integral, Expected "
                             f"match: 100.0%. Observed: Only {i / 100}% of data is Integral.")
                   for i in range(3_000)]
    violations += [Violation(f"feature_{i:05d}", "categorical_values_check", "x" * 2_000)
                   for i in range(3_000)]
    document = json.dumps(to_document(violations))
    alert = summary.violations_alert(make_run(), parse_violations(document))

    size = message_bytes(alert)
    print(f"10,000 violations: report {len(document):,} bytes -> message {size:,} bytes")
    assert size < SNS_LIMIT_BYTES
    assert len(alert.subject) < 100
    assert alert.message_attributes()["violation_count"]["StringValue"] == "10000"
    assert lines_under(alert.body, "Violations per check") == [
        "data_type_check: 3,000", "baseline_drift_check: 4,000", "categorical_values_check: 3,000"]
    drift_lines = lines_under(alert.body, "Baseline drift")
    assert drift_lines[0] == "feature_03999: 0.14 > threshold 0.1"
    assert drift_lines[-1] == f"... and {4_000 - summary.MAX_LISTED:,} more: see the full report"
    assert "worst: drift feature_03999" in alert.subject


def test_pathological_reports_are_cut_to_the_byte_budget():
    # Thousands of distinct check types with huge feature names: the final byte budget still holds.
    violations = [Violation("f" * 50_000 + str(i), f"check_{i}", "d") for i in range(2_000)]
    alert = summary.violations_alert(make_run(), violations)
    assert message_bytes(alert) < SNS_LIMIT_BYTES
    assert alert.body.endswith("[message shortened to stay within SNS's size limit: see the full report]")


def test_subject_is_printable_ascii_under_100_characters():
    alert = summary.violations_alert(make_run(endpoint="churn-dev"), [drift("Tägliche Minuten " * 20, 0.5)])
    assert len(alert.subject) == 99 and alert.subject.endswith("...")
    assert re.fullmatch(r"[ -~]+", alert.subject)


@pytest.mark.parametrize("status,reason,exit_message", [
    ("Failed", "AlgorithmError: Job inputs had no data", ""),
    ("Stopped", "", "Stopped by user"),
])
def test_failure_alert_quotes_the_reason(status, reason, exit_message):
    run = make_run(status=status, failure_reason=reason, exit_message=exit_message)
    alert = summary.failure_alert(run)
    assert alert.subject == f"churn-dev: monitoring run {status} (model-monitoring-202611251400-0a1b2c3d)"
    assert alert.severity == "critical"
    assert (f"Failure reason: {reason}" in alert.body) == bool(reason)
    assert (f"Exit message: {exit_message}" in alert.body) == bool(exit_message)
    assert ("no captured requests" in alert.body) == ("no data" in reason)
    assert run.console_url in alert.body


def test_a_run_failed_for_unusable_records_says_monitoring_could_not_see_the_hour():
    from contract.processing import unusable_data_message

    reason = unusable_data_message(999, 1000, 0.1, [(999, "x.jsonl:2", "BASE64 data cannot be read")])
    blind = summary.failure_alert(make_run(status="Failed", failure_reason=f"AlgorithmError: {reason}"))
    assert "Monitoring could not see this hour" in blind.body and "999 of 1000" in blind.body
    other = summary.failure_alert(make_run(status="Failed", failure_reason="AlgorithmError: out of memory"))
    assert "Monitoring could not see this hour" not in other.body


def test_unreadable_report_alert_says_where_the_report_is():
    problem = "constraint_violations.json: not valid JSON (line 3, column 5)"
    alert = summary.unreadable_alert(make_run(), problem)
    assert alert.subject.startswith("churn-dev: monitoring report could not be read")
    assert (f"Report location: {FOLDER}constraint_violations.json "
            "(bucket bucket, key reports/churn-dev/churn-dev-hourly/") in alert.body
    assert f"Problem: {problem}" in alert.body
    assert alert.severity == "critical"


# --- model quality ---------------------------------------------------------------------------------

QUALITY_FOLDER = "s3://bucket/reports/churn-dev/churn-dev-model-quality/2021/05/18/01/"


def quality_run(**changes) -> events.Run:
    values = dict(schedule="churn-dev-model-quality", output_uri=QUALITY_FOLDER,
                  run_id="model-quality-monitoring-202105180100-e03ba5d6d5eb3ed13314e479",
                  exit_message=model_quality_reference.RUN_MESSAGE)
    return make_run(**{**values, **changes})


def real_quality_report() -> str:
    """The real 2021 run's constraint_violations.json lines, as the file holds them."""
    violations = [QualityViolation(check, description, metric)
                  for check, metric, description in model_quality_reference.RUN_VIOLATIONS]
    return json.dumps(quality_violations_document(violations), indent=2)


def test_the_real_model_quality_run_alerts_with_each_metric_value_and_threshold():
    alert = handler.report_alert(quality_run(), real_quality_report())

    assert alert.subject == "churn-dev: 10 model-quality violations: auc 0.513 < 0.94, precision 0.693 < 1, ..."
    assert lines_under(alert.body, "Metrics that broke their constraint") == [
        "auc: 0.5128 +/- 0.007142, below threshold 0.9395 (LessThanThreshold)",
        "precision: 0.6933 +/- 0.008913, below threshold 1 (LessThanThreshold)",
        "truePositiveRate: 0.1135 +/- 0.002574, below threshold 0.5714 (LessThanThreshold)",
        "f1: 0.1951 +/- 0.003988, below threshold 0.7273 (LessThanThreshold)",
        "accuracy: 0.3198 +/- 0.004244, below threshold 0.9403 (LessThanThreshold)",
        "falsePositiveRate: 0.1332 +/- 0.003089, above threshold 0 (GreaterThanThreshold)",
        "trueNegativeRate: 0.8668 +/- 0.003089, below threshold 1 (LessThanThreshold)",
        "falseNegativeRate: 0.8865 +/- 0.002574, above threshold 0.4286 (GreaterThanThreshold)",
        "recall: 0.1135 +/- 0.002574, below threshold 0.5714 (LessThanThreshold)",
        "f2: 0.1363 +/- 0.003005, below threshold 0.625 (LessThanThreshold)",
    ]
    assert alert.body.startswith("Model-quality monitoring found 10 violations for endpoint churn-dev")
    assert f"Full report: {QUALITY_FOLDER}constraint_violations.json" in alert.body
    assert f"{QUALITY_FOLDER}statistics.json" in alert.body and "concept drift" in alert.body
    assert "Violations per check" not in alert.body and "Baseline drift" not in alert.body
    assert alert.severity == "high"
    assert alert.message_attributes()["violation_count"]["StringValue"] == "10"
    assert alert.message_attributes()["schedule"]["StringValue"] == "churn-dev-model-quality"


def test_model_quality_wording_unknown_or_without_deviation_is_still_shown():
    violations = [
        QualityViolation("LessThanThreshold", "Metric auc with 0.61 +/- NaN was LessThanThreshold '0.8'", "auc"),
        QualityViolation("LessThanThreshold", "AUC fell to 0.6 (a future wording)", "auc"),
    ]
    alert = summary.quality_violations_alert(quality_run(), violations)
    assert lines_under(alert.body, "Metrics that broke") == [
        "auc: 0.61 +/- NaN, below threshold 0.8 (LessThanThreshold)", "auc: AUC fell to 0.6 (a future wording)"]
    assert alert.subject == "churn-dev: 2 model-quality violations: auc 0.61 < 0.8, auc"
    assert summary.quality_violations_alert(quality_run(), []) is None


def test_model_quality_subject_stays_printable_ascii_under_100_characters():
    alert = handler.report_alert(quality_run(endpoint="kündigung-" * 8), real_quality_report())
    assert len(alert.subject) < 100 and re.fullmatch(r"[ -~]+", alert.subject)


def test_reports_are_told_apart_by_their_entries_not_the_schedule_name():
    data_quality = json.dumps(to_document([drift("metric_name", 0.5)]))  # a feature may be called so
    assert not handler.is_model_quality_report(data_quality)
    assert handler.is_model_quality_report(real_quality_report())
    alert = handler.report_alert(quality_run(), data_quality)
    assert lines_under(alert.body, "Baseline drift") == ["metric_name: 0.5 > threshold 0.1"]
    with pytest.raises(ViolationsFormatError, match=r"violations\[0\] lacks description"):
        handler.report_alert(quality_run(), '{"violations": [{"metric_name": "auc", "constraint_check_type": "x"}]}')


def test_a_model_quality_run_without_data_alerts_with_its_reason():
    reason = no_matched_data_message("/opt/ml/processing/input_data", "/opt/ml/processing/groundtruth",
                                     "inferenceId, else eventId", "1892 captures, 0 labels")
    alert = summary.failure_alert(quality_run(status="Failed", failure_reason=reason, exit_message=""))
    # The analyzer's reason names both sides of a join that matched nothing.
    assert alert.subject == ("churn-dev: monitoring run Failed: no label matched "
                             "(model-quality-monitoring-202105180100-e03ba5d6d5eb3ed13314e479)")[:96] + "..."
    assert f"Failure reason: {reason}" in alert.body and alert.severity == "critical"
    assert "No captured prediction matched a ground-truth label" in alert.body
    assert "says nothing about the model" in alert.body and "no captured requests:" not in alert.body


@pytest.mark.parametrize("error,reason,subject,meaning", [
    # The self-hosted state machine's no-data failures: the error name says which side was empty.
    (NO_LABELS_ERROR, "Job inputs had no data: no ground-truth label under s3://b/ground-truth/churn-dev/",
     "labels missing", "The ground-truth labels were missing, not the model wrong"),
    (NO_DATA_ERROR, "Job inputs had no data: no capture file under s3://b/datacapture/churn-dev/AllTraffic/",
     "captures missing", "The captured predictions were missing, not the model wrong"),
    # A job's reason (the managed service's style): the location it names says which side.
    ("", "AlgorithmError: Job inputs had no data: no ground truth under /opt/ml/processing/groundtruth",
     "labels missing", "The ground-truth labels were missing, not the model wrong"),
    ("", "AlgorithmError: Job inputs had no data: no records under /opt/ml/processing/input_data",
     "captures missing", "The captured predictions were missing, not the model wrong"),
    ("", "AlgorithmError: Job inputs had no data", "", "no captured requests or no ground-truth labels"),
])
def test_a_model_quality_run_without_data_names_the_missing_side(error, reason, subject, meaning):
    kind = events.STATE_MACHINE if error else events.PROCESSING_JOB
    run = quality_run(kind=kind, run_id="run-1", status="Failed", error=error, exit_message="",
                      failure_reason=f"{error}: {reason}" if error else reason)
    alert = summary.failure_alert(run)
    assert alert.subject.endswith(f"Failed{': ' + subject if subject else ''} (run-1)")
    assert meaning in alert.body
    # Only a labels-missing run points at the label prefix.
    assert ("ground-truth/churn-dev/yyyy/mm/dd/HH/" in alert.body) == (subject == "labels missing")
    assert "falls short" not in alert.body and "concept drift" not in alert.body


def test_a_data_quality_run_without_captures_keeps_its_wording():
    run = make_run(kind=events.STATE_MACHINE, run_id="run-1", status="FAILED", error=NO_DATA_ERROR, exit_message="",
                   failure_reason=f"{NO_DATA_ERROR}: Job inputs had no data: no capture file under s3://b/x/")
    alert = summary.failure_alert(run)
    assert alert.subject == "churn-dev: monitoring state machine FAILED (run-1)"
    assert "The window had no captured requests: expected if the endpoint received no traffic." in alert.body
