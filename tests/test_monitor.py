"""Monitoring runs on synthetic captures from `model.synthetic`, checked end to end.

Capture rows are output fields, then input fields. The baseline (`train.csv`) has the label
`Churn` first, so two kinds of traffic appear below:
- "label as output": the response is the label value itself, so captured rows have exactly the
  baseline's layout (the clean case for testing each check);
- "probability as output": what the workshop endpoint really returns; the probability lands in
  the `Churn` column and the service reports `data_type_check` for it.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

import pytest

from analyzer import captures, cli, profile
from analyzer.aggregator_process import AggregatorProcess
from analyzer.baseline import suggest_baseline
from analyzer.container import run_container
from analyzer.monitor import run_monitoring
from contract.errors import BaselineError, NoDataError, UnusableDataError
from contract.metrics import BATCH_SIZE, NAMESPACE
from contract.processing import MESSAGE_MAX_BYTES, UNUSABLE_DATA_REASON, Env, capture_dataset_format
from contract.violations import parse_violations
from model import synthetic
from tests.capture_helpers import record, traffic, write_records

START = datetime(2024, 5, 1, 10, 0, 0)
WINDOW = {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T11:00:00Z"}
INTEGRAL = re.compile(r"^(-|\+)? ?\d+$")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline")
    synthetic.write_csv(folder / "train.csv", 2333, seed=1)
    suggest_baseline(str(folder / "train.csv"), str(folder))
    return folder


def label_as_output(rows):
    """Captures whose response is the label: rows keep the baseline's exact layout."""
    return traffic([row[1:] for row in rows], START, outputs=[row[0] for row in rows])


def drifted_traffic(rows=400, seed=4):
    """The "drifted" scenario's features, answered with the labels of undrifted rows.

    The generator's label follows the features, so drifted rows would also move the Churn
    column's distribution; a real endpoint's response does not come from that label.
    """
    features = synthetic.generate_rows(rows, seed=seed, drift=synthetic.SCENARIOS["drifted"])
    labels = [row[0] for row in synthetic.generate_rows(rows, seed=seed)]
    return traffic([row[1:] for row in features], START, outputs=labels, every_seconds=5)


def monitor(baseline, tmp_path, records, constraints=None, **options):
    captures = tmp_path / "captures"
    write_records(captures, records)
    return run_monitoring(
        str(captures),
        str(baseline / "statistics.json"),
        str(constraints or baseline / "constraints.json"),
        str(tmp_path / "report"),
        **{**WINDOW, **options},
    )


def checks_of(result):
    return [(v.constraint_check_type, v.feature_name) for v in result.violations]


def edited_constraints(baseline, tmp_path, edit):
    document = json.loads((baseline / "constraints.json").read_text())
    edit(document)
    path = tmp_path / "edited-constraints.json"
    path.write_text(json.dumps(document))
    return path


def set_config(**changes):
    return lambda document: document["monitoring_config"].update(changes)


def set_distribution(**changes):
    return lambda document: document["monitoring_config"]["distribution_constraints"].update(changes)


def test_iid_traffic_with_the_label_as_output_has_no_violations(baseline, tmp_path):
    result = monitor(baseline, tmp_path, label_as_output(synthetic.generate_rows(300, seed=2)))
    assert result.violations == []
    assert result.status == "Completed"
    assert result.message == "Completed: Job completed successfully with no violations."
    assert result.item_count == 300 and result.bad_records == 0


def test_iid_traffic_with_probabilities_as_output_reports_only_the_churn_type_change(baseline, tmp_path):
    rows = synthetic.generate_rows(300, seed=2, label=False)
    probabilities = [f"{0.01 + i / 1000:.4f}" for i in range(300)]
    result = monitor(baseline, tmp_path, traffic(rows, START, outputs=probabilities))
    assert [v.to_dict() for v in result.violations] == [
        {
            "feature_name": "Churn",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: Integral, "
            "Expected match: 100.0%. Observed: Only 0.0% of data is Integral.",
        }
    ]
    assert result.message == "CompletedWithViolations: Job completed successfully with 1 violations."


def test_report_files_are_written_in_the_service_layout(baseline, tmp_path):
    message_file = tmp_path / "message"
    result = monitor(
        baseline, tmp_path, label_as_output(synthetic.generate_rows(200, seed=3)), message_file=str(message_file)
    )
    report = tmp_path / "report"
    violations_text = (report / "constraint_violations.json").read_text()
    assert parse_violations(violations_text) == result.violations == []
    statistics = json.loads((report / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 200
    assert [f["name"] for f in statistics["features"]] == synthetic.COLUMNS
    assert json.loads((report / "constraints.json").read_text())["features"][0]["name"] == "Churn"
    assert message_file.read_text() == result.message


def test_drifted_scenario_fires_drift_on_exactly_the_shifted_columns(baseline, tmp_path):
    result = monitor(baseline, tmp_path, drifted_traffic())
    assert checks_of(result) == [("baseline_drift_check", "Day Mins"), ("baseline_drift_check", "CustServ Calls")]
    for violation in result.violations:
        value = re.fullmatch(r"Baseline drift distance: (\S+) exceeds threshold: 0\.1", violation.description)
        assert float(value.group(1)) == result.drift[violation.feature_name] > 0.1


def test_wrong_typed_rows_fire_data_type_check_with_the_exact_ratio(baseline, tmp_path):
    rows = synthetic.generate_rows(300, seed=5, drift=synthetic.SCENARIOS["mangled"])
    result = monitor(baseline, tmp_path, label_as_output(rows))
    baseline_types = {
        f["name"]: f["inferred_type"] for f in json.loads((baseline / "constraints.json").read_text())["features"]
    }
    expected = {}
    for j, name in enumerate(synthetic.COLUMNS):
        integral = sum(1 for row in rows if INTEGRAL.match(row[j]))
        if baseline_types[name] == "Integral" and integral < len(rows):
            expected[name] = integral / len(rows) * 100
    assert expected, "the scenario should damage some Integral columns"
    found = [v for v in result.violations if v.constraint_check_type == "data_type_check"]
    assert [v.feature_name for v in found] == list(expected)
    template = re.compile(
        r"Data type match requirement is not met\. Expected data type: Integral, Expected match: 100\.0%\. "
        r"Observed: Only (\S+)% of data is Integral\."
    )
    assert [float(template.fullmatch(v.description).group(1)) for v in found] == list(expected.values())


def test_blanked_values_fire_completeness_check(baseline, tmp_path):
    rows = synthetic.generate_rows(300, seed=6, drift=synthetic.SCENARIOS["missing_values"])
    result = monitor(baseline, tmp_path, label_as_output(rows))
    assert checks_of(result) == [("completeness_check", "Day Mins"), ("completeness_check", "CustServ Calls")]
    assert result.violations[0].description == (
        "Data completeness requirement is not met. Expected: 100.0%. Observed: Only 80.0%."
    )


def test_extra_column_fires_extra_column_check(baseline, tmp_path):
    rows = synthetic.generate_rows(200, seed=7, drift=synthetic.SCENARIOS["extra_column"])
    result = monitor(baseline, tmp_path, label_as_output(rows))
    assert checks_of(result) == [("extra_column_check", "_c70")]
    description = result.violations[0].description
    assert "200 of 200 rows have more fields than the baseline's 70 columns (up to 71)" in description


def test_short_rows_fire_missing_column_check_and_count_as_missing(baseline, tmp_path, caplog):
    rows = [row[:-1] for row in synthetic.generate_rows(200, seed=8)]
    result = monitor(baseline, tmp_path, label_as_output(rows))
    assert re.search(r"200 rows have 69 fields, the baseline has 70 columns \(first: \S+\.jsonl:1\)", caplog.text)
    assert checks_of(result) == [("completeness_check", "VMail Plan_yes"), ("missing_column_check", "VMail Plan_yes")]
    assert result.violations[0].description.endswith("Observed: Only 0.0%.")


def test_bad_records_are_counted_and_the_rest_analysed(baseline, tmp_path):
    records = label_as_output(synthetic.generate_rows(100, seed=9))
    records[5]["captureData"]["endpointInput"]["encoding"] = "UTF-16"
    result = monitor(baseline, tmp_path, records)
    assert (result.item_count, result.bad_records) == (99, 1)
    assert "encoding 'UTF-16' is unknown" in result.issues[0].problem


def test_custom_preprocessor_flattens_nested_json(baseline, tmp_path):
    rows = synthetic.generate_rows(150, seed=10)
    records = [
        record(
            json.dumps({"instances": [{"features": [float(v) for v in row[1:]]}]}),
            json.dumps({"predictions": [{"label": int(row[0])}]}),
            START,
            encoding="JSON",
            content_type="application/json",
        )
        for row in rows
    ]
    script = tmp_path / "flatten.py"
    script.write_text(
        "import json\n"
        "def preprocess_handler(inference_record):\n"
        "    features = json.loads(inference_record.endpoint_input.data)['instances'][0]['features']\n"
        "    label = json.loads(inference_record.endpoint_output.data)['predictions'][0]['label']\n"
        "    values = [label] + [int(v) if v.is_integer() else v for v in features]\n"
        "    return {f'{i:03d}': v for i, v in enumerate(values)}\n"
    )
    result = monitor(baseline, tmp_path, records, preprocessor=str(script))
    assert result.item_count == 150
    assert result.violations == []


def test_simple_method_distance_is_robust_distance_plus_the_allowance(baseline, tmp_path):
    rows = synthetic.generate_rows(300, seed=11)
    robust = monitor(baseline, tmp_path / "robust", label_as_output(rows))
    simple_constraints = edited_constraints(baseline, tmp_path, set_distribution(comparison_method="Simple"))
    simple = monitor(baseline, tmp_path / "simple", label_as_output(rows), constraints=simple_constraints)
    allowance = 1.8 * ((2333 + 300) / (2333 * 300)) ** 0.5
    assert robust.drift.keys() == simple.drift.keys()
    for name, value in simple.drift.items():
        assert robust.drift[name] == pytest.approx(max(0.0, value - allowance), abs=1e-12)
    assert max(simple.drift.values()) > max(robust.drift.values())


def test_per_feature_override_silences_one_column(baseline, tmp_path):
    def disable_day_mins(document):
        feature = next(f for f in document["features"] if f["name"] == "Day Mins")
        feature["monitoringConfigOverrides"] = {"evaluate_constraints": "Disabled"}

    edited = edited_constraints(baseline, tmp_path, disable_day_mins)
    result = monitor(baseline, tmp_path, drifted_traffic(), constraints=edited)
    assert checks_of(result) == [("baseline_drift_check", "CustServ Calls")]


def test_comparison_threshold_is_honoured(baseline, tmp_path):
    loose = edited_constraints(baseline, tmp_path, set_distribution(comparison_threshold=0.99))
    assert monitor(baseline, tmp_path, drifted_traffic(), constraints=loose).violations == []


# --- a small handmade baseline with a String column -----------------------------------------------


@pytest.fixture(scope="module")
def state_baseline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("state-baseline")
    lines = ["label,state,amount"] + [f"{i % 2},{['CA', 'TX', 'NY'][i % 3]},{i % 50}.5" for i in range(600)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    suggest_baseline(str(folder / "data.csv"), str(folder))
    return folder


def state_traffic(states):
    rows = [[state, f"{i % 50}.5"] for i, state in enumerate(states)]
    return traffic(rows, START, outputs=[str(i % 2) for i in range(len(states))])


def test_unseen_category_fires_categorical_values_check(state_baseline, tmp_path):
    states = (["CA", "TX", "NY"] * 100)[:297] + ["ZZ", "ZZ", "QQ"]
    result = monitor(state_baseline, tmp_path, state_traffic(states))
    assert checks_of(result) == [("categorical_values_check", "state")]
    assert result.violations[0].description == (
        "Data domain requirement is not met. Expected: 100.0% of values in the baseline domain. "
        'Observed: Only 99.0% (297 of 300). Unseen values: "ZZ" (2), "QQ" (1).'
    )


def test_chi_squared_detects_a_category_mix_change_that_robust_linf_absorbs(state_baseline, tmp_path):
    states = ["CA"] * 150 + ["TX"] * 100 + ["NY"] * 50
    linf = monitor(state_baseline, tmp_path / "linf", state_traffic(states))
    # L-infinity 1/6 minus the allowance 1.8 * sqrt(900 / (600 * 300)) leaves about 0.04.
    assert linf.violations == [] and 0.0 < linf.drift["state"] < 0.1
    chi = monitor(state_baseline, tmp_path / "chi", state_traffic(states), categorical_drift_method="ChiSquared")
    assert checks_of(chi) == [("baseline_drift_check", "state")]
    assert chi.drift["state"] < 1e-6 and "ChiSquared p-value" in chi.violations[0].description
    even_mix = state_traffic(["CA", "TX", "NY"] * 100)
    even = monitor(state_baseline, tmp_path / "even", even_mix, categorical_drift_method="ChiSquared")
    assert even.violations == [] and even.drift["state"] == pytest.approx(1.0)


# --- failures and metrics -------------------------------------------------------------------------


def test_empty_window_raises_no_data_error(baseline, tmp_path):
    with pytest.raises(NoDataError, match=r"^Job inputs had no data: .*2024-05-01T12:00:00Z to 2024-05-01T13:00:00Z"):
        monitor(
            baseline,
            tmp_path,
            label_as_output(synthetic.generate_rows(10, seed=12)),
            start="2024-05-01T12:00:00Z",
            end="2024-05-01T13:00:00Z",
        )


def test_unparseable_baseline_is_a_named_error(baseline, tmp_path):
    broken = tmp_path / "constraints.json"
    broken.write_text('{"features": [')
    with pytest.raises(BaselineError, match=f"baseline constraints {broken} is not valid JSON"):
        monitor(baseline, tmp_path, label_as_output(synthetic.generate_rows(10, seed=12)), constraints=broken)


def metric_names(path):
    return {d["MetricName"]: d for d in json.loads(path.read_text())["MetricData"]}


def test_metrics_file_holds_the_three_metric_families(baseline, tmp_path):
    result = monitor(
        baseline,
        tmp_path,
        drifted_traffic(),
        publish_metrics=True,
        metrics_dir=str(tmp_path / "metrics"),
        endpoint_name="churn-endpoint",
        schedule_name="churn-hourly",
    )
    document = json.loads((tmp_path / "metrics" / "data-metrics.json").read_text())
    assert document["Namespace"] == NAMESPACE == "aws/sagemaker/Endpoints/data-metrics"
    data = metric_names(tmp_path / "metrics" / "data-metrics.json")
    drift = data["feature_baseline_drift_Day Mins"]
    assert drift["Value"] == result.drift["Day Mins"]
    assert drift["Dimensions"] == [
        {"Name": "Endpoint", "Value": "churn-endpoint"},
        {"Name": "MonitoringSchedule", "Value": "churn-hourly"},
    ]
    assert data["feature_non_null_Day Mins"]["Value"] == 1.0
    assert data["feature_data_Day Mins"]["StatisticValues"]["SampleCount"] == 400.0
    assert drift["Timestamp"] == "2024-05-01T11:00:00+00:00"


def test_emit_metrics_disabled_writes_no_metrics(baseline, tmp_path):
    quiet = edited_constraints(baseline, tmp_path, lambda d: d["monitoring_config"].update(emit_metrics="Disabled"))
    result = monitor(
        baseline,
        tmp_path,
        label_as_output(synthetic.generate_rows(50, seed=13)),
        constraints=quiet,
        publish_metrics=True,
        metrics_dir=str(tmp_path / "metrics"),
    )
    assert result.metrics_file is None and not (tmp_path / "metrics").exists()


def test_metric_files_are_accepted_by_put_metric_data(baseline, tmp_path, monkeypatch):
    """As the self-hosted state machine sends them: the file's MetricData in batches of BATCH_SIZE."""
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monitor(
        baseline,
        tmp_path,
        label_as_output(synthetic.generate_rows(50, seed=13)),
        publish_metrics=True,
        metrics_dir=str(tmp_path / "metrics"),
        endpoint_name="churn-endpoint",
        schedule_name="churn-hourly",
    )
    with mock_aws():
        import boto3

        client = boto3.client("cloudwatch")
        document = json.loads((tmp_path / "metrics" / "data-metrics.json").read_text())
        data = [{**d, "Timestamp": datetime.fromisoformat(d["Timestamp"])} for d in document["MetricData"]]
        for start in range(0, len(data), BATCH_SIZE):
            client.put_metric_data(Namespace=document["Namespace"], MetricData=data[start : start + BATCH_SIZE])
        sent = len(data)
        names = {
            m["MetricName"]
            for page in client.get_paginator("list_metrics").paginate(Namespace=NAMESPACE)
            for m in page["Metrics"]
        }
    assert sent == len(metric_names(tmp_path / "metrics" / "data-metrics.json"))
    assert {"feature_data_Day Mins", "feature_non_null_Churn", "feature_baseline_drift_State_CA"} <= names


def test_a_wide_input_flushed_before_the_child_threshold_still_aggregates_in_the_child(baseline, tmp_path, monkeypatch):
    # 70 columns fill the profiler's buffer before the input reaches PROCESS_AFTER_ROWS rows (as
    # 20,000-record capture files did at full scale): the numbers of those early flushes wait,
    # the child process still takes the run, and the reports are those of an in-process run.
    records = label_as_output(synthetic.generate_rows(600, seed=5))
    records = [
        {**item, "eventMetadata": {**item["eventMetadata"], "inferenceTime": f"2024-05-01T10:{i // 60:02d}:00Z"}}
        for i, item in enumerate(records)
    ]  # ten files of 60 records
    monkeypatch.setattr(captures, "GROUP_RECORDS", 60)
    monkeypatch.setattr(profile, "FLUSH_CELLS", 100 * 70)
    started = []
    original = AggregatorProcess.__init__
    monkeypatch.setattr(AggregatorProcess, "__init__", lambda self, *args: started.append(1) or original(self, *args))
    reports = {}
    for name, threshold in (("in-process", 10_000), ("child", 200)):
        monkeypatch.setattr(profile, "PROCESS_AFTER_ROWS", threshold)
        folder = tmp_path / name
        folder.mkdir()
        result = monitor(baseline, folder, records)
        assert result.item_count == 600
        reports[name] = {path.name: path.read_bytes() for path in (folder / "report").iterdir()}
        assert len(started) == (name == "child")
    assert reports["child"] == reports["in-process"]
    assert set(reports["child"]) == {"statistics.json", "constraints.json", "constraint_violations.json"}


# --- the usability rule ----------------------------------------------------------------------------


def spoiled(records, indices):
    """`records` with the input of those records in a content type the reader cannot read."""
    for index in indices:
        part = records[index]["captureData"]["endpointInput"]
        data = base64.b64encode(part["data"].encode()).decode()
        part.update(data=data, encoding="BASE64", observedContentType="application/x-protobuf")
    return records


def test_a_window_of_mostly_unusable_records_fails_naming_the_share_and_top_reasons(baseline, tmp_path):
    records = spoiled(label_as_output(synthetic.generate_rows(100, seed=30)), range(1, 96))
    records[97]["captureData"]["endpointInput"]["encoding"] = "XML"
    with pytest.raises(UnusableDataError) as error:
        monitor(baseline, tmp_path, records)
    message = str(error.value)
    assert message.startswith(
        f"{UNUSABLE_DATA_REASON}: 96 of 100 capture records of the window (96.0%) could not be used, "
        "above the unusable_record_threshold of 10%. Top reasons: 95 records: BASE64 data of content type "
        "'application/x-protobuf' cannot be read"
    )
    reasons = r"\(first: \S+\.jsonl:2\); 1 record: endpointInput\.encoding 'XML' is unknown.*\(first: \S+\.jsonl:2\)\."
    assert re.search(reasons, message)
    assert len(message.encode()) <= MESSAGE_MAX_BYTES
    assert not (tmp_path / "report").exists()  # no report saying all is well


def test_the_threshold_comes_from_the_constraints_and_the_caller_overrides_it(baseline, tmp_path):
    records = spoiled(label_as_output(synthetic.generate_rows(100, seed=31)), range(10))
    runs = iter(range(4))

    def run(**options):  # each run its own folders
        return monitor(baseline, tmp_path / f"run{next(runs)}", records, **options)

    result = run()  # 10 % is not above the default 10 %
    assert (result.item_count, result.bad_records, result.status) == (90, 10, "Completed")
    with pytest.raises(UnusableDataError, match=r"10 of 100 .* \(10\.0%\) .* unusable_record_threshold of 5%"):
        run(unusable_threshold=0.05)
    strict = edited_constraints(baseline, tmp_path, set_config(unusable_record_threshold=0.0))
    with pytest.raises(UnusableDataError, match="threshold of 0%"):
        run(constraints=strict)
    assert run(constraints=strict, unusable_threshold=0.5).bad_records == 10


def test_records_without_an_output_are_unusable_and_the_others_keep_their_columns(baseline, tmp_path):
    records = label_as_output(synthetic.generate_rows(300, seed=2))
    for item in records[::50]:
        del item["captureData"]["endpointOutput"]
    result = monitor(baseline, tmp_path, records)
    assert (result.item_count, result.bad_records) == (294, 6)
    assert "captureData has no endpointOutput" in result.issues[0].problem
    assert result.violations == []  # before: every input one column to the left, drift on most features


def test_the_container_fails_with_the_reason_in_a_message_file_of_at_most_1_kb(baseline, tmp_path):
    rows = synthetic.generate_rows(60, seed=32)
    records = label_as_output(rows)
    for index, item in enumerate(records[1:], start=1):  # many kinds of problem, long locations
        item["captureData"]["endpointInput"]["encoding"] = f"UNKNOWN-{index}-{'x' * 80}"
    folder = tmp_path / ("deep-" + "y" * 120) / "captures"
    write_records(folder, records)
    env = {
        Env.DATASET_FORMAT: json.dumps(capture_dataset_format()),
        Env.DATASET_SOURCE: str(folder),
        Env.OUTPUT_PATH: str(tmp_path / "output"),
        Env.BASELINE_STATISTICS: str(baseline / "statistics.json"),
        Env.BASELINE_CONSTRAINTS: str(baseline / "constraints.json"),
        Env.MESSAGE_FILE: str(tmp_path / "message"),
        Env.UNUSABLE_THRESHOLD: "0.5",
    }
    assert run_container(env) == 1
    message = (tmp_path / "message").read_text()
    assert message.startswith(f"{UNUSABLE_DATA_REASON}: 59 of 60 capture records") and "Completed" not in message
    assert "threshold of 50%" in message and f"(first: {folder}" in message
    assert len(message.encode()) <= MESSAGE_MAX_BYTES
    assert run_container({**env, Env.UNUSABLE_THRESHOLD: "1.5"}) == 1
    assert (tmp_path / "message").read_text() == "unusable_record_threshold='1.5': use a share in [0, 1] such as 0.1"


def test_the_command_line_exits_1_without_a_completed_message(baseline, tmp_path, capsys):
    records = spoiled(label_as_output(synthetic.generate_rows(20, seed=33)), range(5))
    write_records(tmp_path / "captures", records)
    common = [
        "-q", "monitor", "--captures", str(tmp_path / "captures"), "--statistics", str(baseline / "statistics.json"),
        "--constraints", str(baseline / "constraints.json"), "--output", str(tmp_path / "report"),
    ]
    assert cli.main(common) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert "Completed" not in out and err.startswith(f"error: {UNUSABLE_DATA_REASON}: 5 of 20")
    assert cli.main([*common, "--unusable-threshold", "0.25"]) == 0
    assert capsys.readouterr().out.startswith("Completed")
    with pytest.raises(SystemExit):
        cli.main([*common, "--unusable-threshold", "2"])
