"""The contract package: templates and their parsers round-trip, the layout's names and rules, the job spec."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import layout, processing
from contract.documents import Constraints, MonitoringConfig, Statistics
from contract.errors import BaselineError, WindowError
from contract.javanumbers import java_double
from contract.violations import (
    DETAILS_BY_CHECK,
    DataTypeMismatch,
    DomainMismatch,
    DomainTooLarge,
    Drift,
    ExtraColumns,
    Incompleteness,
    MissingColumns,
    Violation,
    parse_details,
    unseen_listing,
)

# Descriptions from a real service report (contract, section 5), word for word.
REAL = {
    "data_type_check": "Data type match requirement is not met. Expected data type: Integral, Expected match: "
    "100.0%. Observed: Only 0.8919722497522299% of data is Integral.",
    "completeness_check": "Data completeness requirement is not met. Expected: 100.0%. Observed: Only "
    "0.8919722497522299%.",
    "baseline_drift_check": "Baseline drift distance: 0.9293200129316993 exceeds threshold: 0.1",
}

doubles = st.floats(allow_nan=True, allow_infinity=True)
counts = st.integers(min_value=0, max_value=10**12)
names = st.text(min_size=1, max_size=30)


def test_real_descriptions_are_read_with_their_numbers():
    assert parse_details("data_type_check", REAL["data_type_check"]) == DataTypeMismatch(
        "Integral", 100.0, 0.8919722497522299
    )
    assert parse_details("completeness_check", REAL["completeness_check"]) == Incompleteness(100.0, 0.8919722497522299)
    assert parse_details("baseline_drift_check", REAL["baseline_drift_check"]) == Drift(0.9293200129316993, 0.1)
    for check, text in REAL.items():
        assert parse_details(check, text).describe() == text


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN (a NaN share is written and read back as NaN)."""
    fields_a, fields_b = vars(a), vars(b)
    return fields_a.keys() == fields_b.keys() and all(
        x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) for x, y in zip(
            fields_a.values(), fields_b.values(), strict=True)
    )


@given(
    st.one_of(
        st.builds(DataTypeMismatch, st.sampled_from(["Integral", "Fractional", "String"]), doubles, doubles),
        st.builds(Incompleteness, doubles, doubles),
        st.builds(Drift, doubles, doubles, st.booleans()),
        st.builds(DomainMismatch, doubles, doubles, counts, counts, st.text(max_size=60)),
        st.builds(DomainTooLarge, doubles, counts, counts, counts, doubles, counts, counts),
        st.builds(MissingColumns, counts, counts, counts, counts, names),
        st.builds(ExtraColumns, counts, counts, counts, counts),
    )
)
def test_every_description_round_trips(details):
    text = details.describe()
    parsed = parse_details(details.check, text)
    assert parsed is not None and type(parsed) is type(details) and _same(parsed, details), text
    assert parsed.describe() == text


def test_violation_details_and_unknown_wording():
    drift = Violation.of("Day Mins", Drift(0.25, 0.1))
    assert drift.constraint_check_type == "baseline_drift_check" and drift.details == Drift(0.25, 0.1)
    assert Violation("x", "baseline_drift_check", "drifted a lot").details is None
    assert Violation("x", "some_future_check", REAL["baseline_drift_check"]).details is None
    assert set(DETAILS_BY_CHECK) == {
        "data_type_check", "completeness_check", "baseline_drift_check", "categorical_values_check",
        "missing_column_check", "extra_column_check",
    }


def test_unseen_listing_shows_the_most_frequent_five():
    unseen = {"a": 1, "b": 7, "c": 3, "d": 3, "e": 2, "f": 9, "g": 1}
    assert unseen_listing(unseen) == '"f" (9), "b" (7), "c" (3), "d" (3), "e" (2) and 2 more'


@given(doubles)
def test_java_double_round_trips(value):
    text = java_double(value)
    assert math.isnan(float(text)) if math.isnan(value) else float(text) == value


def test_monitoring_config_document_is_the_default_every_real_file_shows():
    assert MonitoringConfig().to_document() == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 1.0,
        "domain_content_threshold": 1.0,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
            "categorical_comparison_threshold": 0.1,
            "categorical_drift_method": "LInfinity",
        },
    }
    config = MonitoringConfig(emit_metrics=False, comparison_threshold=0.3)
    assert MonitoringConfig().merged(config.to_document(), "x") == config


def test_read_model_views():
    statistics = Statistics.of({
        "dataset": {"item_count": 4},
        "features": [
            {"name": "n", "inferred_type": "Integral", "numerical_statistics": {
                "common": {"num_present": 3}, "min": 1.0,
                "distribution": {"kll": {"buckets": [{"lower_bound": 1, "upper_bound": 2, "count": 3}],
                                         "sketch": {"data": [[1.0, 2.0], []]}}}}},
            {"name": "s", "inferred_type": "String", "string_statistics": {
                "common": {"num_present": 4}, "distinct_count": 2.0,
                "distribution": {"categorical": {"buckets": [{"value": 1, "count": 3}, {"value": "b", "count": 1}]}}}},
        ],
    })
    n, s = statistics.features["n"], statistics.features["s"]
    assert statistics.item_count == 4 and statistics.names == ["n", "s"]
    assert (n.num_present, n.is_numeric, n.sketch_data, n.kll_buckets) == (3, True, [[1.0, 2.0], []], [(1.0, 2.0, 3.0)])
    assert (s.num_present, s.distinct_count, s.categories, s.sketch_data) == (4, 2, {"1": 3, "b": 1}, None)
    with pytest.raises(BaselineError, match=r"baseline statistics: \$\.features\[0\]\.name is missing"):
        Statistics.of({"features": [{"no": "name"}]}, "baseline statistics")
    constraints = Constraints.of({"features": [{"name": "s", "monitoringConfigOverrides": {"emit_metrics": "Disabled"},
                                                "string_constraints": {"domains": ["a"]}}]})
    assert constraints.feature("s").domains == ["a"] and constraints.feature("missing").completeness is None
    assert constraints.feature_config("s").emit_metrics is False and constraints.config.emit_metrics is True


# --- layout ---------------------------------------------------------------------------------------


def test_capture_keys_are_written_and_read_back():
    opened = datetime(2024, 5, 1, 10, 59, 30, 123456, tzinfo=UTC)
    key = layout.capture_file_key("churn", "AllTraffic", opened, "0f6a2b1c-aaaa-4bbb-8ccc-123456789abc")
    assert key == "churn/AllTraffic/2024/05/01/10/59-30-123-0f6a2b1c-aaaa-4bbb-8ccc-123456789abc.jsonl"
    assert layout.capture_file_opened(f"{layout.capture_prefix('churn', 'AllTraffic')}{key[17:]}") == opened.replace(
        microsecond=123000
    )
    assert layout.capture_file_hour(key) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert layout.capture_file_opened("churn/AllTraffic/notes.txt") is None


def test_the_window_rule_keeps_one_spare_hour():
    window = layout.Window.parse("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")
    kept = [h for h in range(6, 13) if window.may_hold(f"x/2024/05/01/{h:02d}/f.jsonl")]
    assert kept == [9, 10]
    assert [h.hour for h in window.hours()] == kept
    assert window.may_hold("no-hour-folder.jsonl")
    with pytest.raises(WindowError, match="not before"):
        layout.Window.parse("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z")
    assert layout.parse_time("2024-05-01T10:00:00+02:00") == datetime(2024, 5, 1, 8, tzinfo=UTC)


def test_names_and_report_folders():
    assert layout.schedule_name("churn-dev") == "churn-dev-data-quality"
    assert len(layout.schedule_name("e" * 63)) == 63
    assert layout.report_prefix("churn-dev", "churn-dev-data-quality") == "reports/churn-dev/churn-dev-data-quality/"
    uri = "s3://bucket/reports/churn-dev/churn-dev-data-quality/2024/05/01/11/"
    assert layout.report_folder_names(uri) == ("churn-dev", "churn-dev-data-quality")
    assert layout.report_folder_names("s3://bucket/elsewhere/") is None
    assert layout.run_hour("churn-dev/sched/2024/05/01/11") == datetime(2024, 5, 1, 11, tzinfo=UTC)
    assert layout.run_hour("churn-dev/sched/latest") is None


# --- processing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 12])
def test_exit_messages_say_whether_there_were_violations(count):
    status, message = processing.exit_message(count)
    assert message.startswith(f"{status}: Job completed successfully")
    assert processing.exit_message_has_violations(message) is (count > 0)
    assert processing.exit_message_has_violations("Failed: out of memory") is None


def test_the_job_spec_renders_a_create_processing_job_request():
    spec = processing.ProcessingJobSpec(
        role_arn="arn:role", image_uri="image", kms_key_arn="arn:key", instance_type="ml.m5.xlarge",
        volume_size_gb=20, max_runtime_seconds=1800, environment={processing.Env.DATASET_SOURCE: "in"},
        entrypoint=("python3", "-m", "analyzer", "container"),
        inputs=(processing.ProcessingInput(processing.CODE_INPUT, "s3://b/code.zip", processing.CODE_INPUT_PATH),),
        outputs=(processing.ProcessingOutput(processing.REPORT_OUTPUT, "s3://b/r", processing.OUTPUT_PATH),),
    )
    request = spec.create_request("job-1")
    assert request["ProcessingJobName"] == "job-1"
    assert request["AppSpecification"] == {"ImageUri": "image", "ContainerEntrypoint": list(spec.entrypoint)}
    assert request["ProcessingInputs"][0]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert request["ProcessingOutputConfig"] == {"KmsKeyId": "arn:key", "Outputs": [{
        "OutputName": "monitoring_output",
        "S3Output": {"S3Uri": "s3://b/r", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}
    assert request["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert spec.output("monitoring_output").s3_uri == "s3://b/r" and spec.output("metrics") is None


def test_a_wording_reads_only_what_it_writes():
    wording = DataTypeMismatch.wording
    assert wording.kinds == {"expected_type": "word", "expected_percent": "percent", "observed_percent": "percent"}
    text = DataTypeMismatch("Integral", 100.0, 97.5).describe()
    assert wording.read(text) == {"expected_type": "Integral", "expected_percent": 100.0, "observed_percent": 97.5}
    assert wording.read(text.replace("of data is Integral", "of data is String")) is None  # repeated: same text
    assert wording.read(text + " ") is None and wording.read(text.replace("97.5", "97,5")) is None
