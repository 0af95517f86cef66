import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from analyzer.capture_fast_path import all_strings_simple, record_lines
from analyzer.capture_records import record_rows
from analyzer.captures import CaptureReader
from analyzer.preprocessors import load_preprocessor
from contract.errors import CaptureSourceError, PreprocessorError, WindowError
from contract.layout import Window
from tests.capture_helpers import record, traffic, write_file, write_records

T0 = datetime(2024, 5, 1, 10, 0, 0)


def read(source, width, window=None, preprocessor=None):
    reader = CaptureReader(str(source), width, window, preprocessor)
    columns = None
    for batch in reader.batches():
        values = [array.to_pylist() for array in batch]
        columns = values if columns is None else [a + b for a, b in zip(columns, values, strict=True)]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return rows, reader.summary


def test_rows_are_output_fields_then_input_fields_with_line_endings_stripped(tmp_path):
    records = [
        record("1,2.5,x\n", "0.9\n", T0),
        record("3,4.5,y\r\n", "0.1\r\n", T0 + timedelta(seconds=1)),
    ]
    write_records(tmp_path, records)
    rows, summary = read(tmp_path, 4)
    assert rows == [["0.9", "1", "2.5", "x"], ["0.1", "3", "4.5", "y"]]
    assert (summary.files, summary.records, summary.rows, summary.bad_records) == (1, 2, 2, 0)


def test_a_malformed_line_is_reported_with_file_and_line_and_the_other_records_kept(tmp_path):
    [path] = write_records(tmp_path, traffic([["1", "2"], ["3", "4"], ["5", "6"]], T0))
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"captureData": {"endpointInput": ', lines[1], "", lines[2]]) + "\n")
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.5", "1", "2"], ["0.5", "3", "4"], ["0.5", "5", "6"]]
    assert summary.bad_records == 1
    assert summary.issues[0].location == f"{path}:2"
    assert "not a JSON object" in summary.issues[0].problem


def test_records_needing_the_slow_path_keep_their_place_in_the_file(tmp_path):
    records = traffic([["1", "a"], ["2", "b"], ["3", "c"]], T0)
    records[1]["captureData"]["endpointInput"]["data"] = '2,"b,with comma"\n'
    write_records(tmp_path, records)
    rows, _ = read(tmp_path, 3)
    assert rows == [["0.5", "1", "a"], ["0.5", "2", "b,with comma"], ["0.5", "3", "c"]]


def test_window_keeps_start_and_drops_end(tmp_path):
    write_records(tmp_path, traffic([[str(i)] for i in range(6)], T0, every_seconds=60))
    window = Window.parse("2024-05-01T10:01:00Z", "2024-05-01T10:04:00Z")
    rows, summary = read(tmp_path, 2, window)
    assert [row[1] for row in rows] == ["1", "2", "3"]
    assert (summary.records, summary.in_window) == (6, 3)


def test_window_skips_hour_folders_that_cannot_hold_its_records(tmp_path):
    early = traffic([["1"]], datetime(2024, 5, 1, 6, 0, 0))
    late = traffic([["2"]], datetime(2024, 5, 1, 10, 59, 30))
    write_records(tmp_path, early + late)
    _, summary = read(tmp_path, 2, Window.parse("2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z"))
    # The 10:00 folder may hold records past 11:00 and is read; the 06:00 folder is not.
    assert (summary.files, summary.records, summary.in_window) == (1, 1, 0)


def test_records_with_odd_times_are_placed_by_the_slow_path(tmp_path):
    records = traffic([["1"], ["2"]], T0)
    records[0]["eventMetadata"]["inferenceTime"] = "2024-05-01T10:00:00.250Z"
    records[1]["eventMetadata"]["inferenceTime"] = "yesterday"
    write_file(tmp_path, records, T0)
    rows, summary = read(tmp_path, 2, Window.parse("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"))
    assert rows == [["0.5", "1"]]
    assert summary.bad_records == 1 and "inferenceTime" in summary.issues[0].problem


def test_window_rejects_unreadable_or_reversed_times():
    with pytest.raises(WindowError, match="not an ISO-8601 time"):
        Window.parse("May 1st", None)
    with pytest.raises(WindowError, match="not before"):
        Window.parse("2024-05-01T11:00:00Z", "2024-05-01T10:00:00Z")


def test_json_and_base64_encodings(tmp_path):
    write_records(
        tmp_path,
        [
            record('{"b": 2, "a": 1.50}', '{"score": 0.25}', T0, encoding="JSON", content_type="application/json"),
            record("7,8\n", "0.75\n", T0, encoding="BASE64", content_type="text/csv"),
            record('{"b": true, "a": null}', '{"score": 1e-3}', T0, encoding="BASE64", content_type="application/json"),
        ],
    )
    rows, summary = read(tmp_path, 3)
    # JSON objects give their values in sorted-key order; numbers keep their text.
    assert rows == [["0.25", "1.50", "2"], ["0.75", "7", "8"], ["1e-3", None, "true"]]
    assert summary.bad_records == 0


def read_named(source, names):
    reader = CaptureReader(str(source), len(names), names=names)
    columns = [[] for _ in names]
    for batch in reader.batches():
        for column, array in zip(columns, batch, strict=True):
            column.extend(array.to_pylist())
    return [list(row) for row in zip(*columns, strict=True)], reader.summary


def test_json_objects_naming_baseline_columns_are_placed_by_name_whatever_their_key_order(tmp_path):
    names = ["score", "zeta", "alpha", "mid"]
    records = [
        record('{"mid": 3, "alpha": "x", "zeta": 1.5}', "0.25\n", T0),  # output CSV, input JSON by name
        record('{"zeta": 2}', "0.5\n", T0),  # absent columns are missing
        record('{"f0": 7, "f1": 8, "f2": 9}', "0.75\n", T0),  # no key names a column: by position
        record('{"zeta": 1, "other": 2}', "0.9\n", T0),  # a mix: unusable
        record('{"score": 1}', "0.9\n", T0),  # a column the output fields already fill
    ]
    for item in records:
        item["captureData"]["endpointInput"].update(encoding="JSON", observedContentType="application/json")
    write_records(tmp_path, records)
    rows, summary = read_named(tmp_path, names)
    assert rows == [["0.25", "1.5", "x", "3"], ["0.5", "2", None, None], ["0.75", "7", "8", "9"]]
    assert summary.bad_records == 2
    assert "['other'] are not columns of the baseline" in summary.issues[0].problem
    assert "key 'score' names column 1, which positional fields already fill" in summary.issues[1].problem


def test_output_and_input_objects_both_named_fill_one_row(tmp_path):
    names = ["score", "a", "b"]
    options = {"encoding": "JSON", "content_type": "application/json"}
    write_records(tmp_path, [record('{"b": "2", "a": "1"}', '{"score": 0.5}', T0, **options)])
    rows, summary = read_named(tmp_path, names)
    assert rows == [["0.5", "1", "2"]] and summary.bad_records == 0


@pytest.mark.parametrize("fast_neighbours", [True, False])
def test_a_byte_that_is_not_utf8_spoils_only_its_record(tmp_path, fast_neighbours):
    [path] = write_records(tmp_path, traffic([["1", "2"], ["3", "4"], ["5", "6"]], T0))
    if fast_neighbours:  # the other file keeps the fast path
        write_file(tmp_path, traffic([["7", "8"]], T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    content = path.read_bytes().split(b"\n")
    content[1] = content[1].replace(b'"data": "3', b'"data": "\xff3')
    path.write_bytes(b"\n".join(content))
    rows, summary = read(tmp_path, 3)
    assert rows[:2] == [["0.5", "1", "2"], ["0.5", "5", "6"]]
    assert rows[2:] == ([["0.5", "7", "8"]] if fast_neighbours else [])
    assert summary.bad_records == 1 and summary.issues[0].location == f"{path}:2"
    assert "not UTF-8 text (byte 0xff at position" in summary.issues[0].problem


def test_an_escaped_lone_surrogate_is_its_records_problem(tmp_path):
    [path] = write_records(tmp_path, traffic([["1", "2"], ["3", "4"]], T0))
    path.write_text(path.read_text().replace('"data": "3', '"data": "\\udc803', 1))
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.5", "1", "2"]]
    assert "lone surrogate" in summary.issues[0].problem


def test_problems_are_counted_by_kind_with_their_first_place(tmp_path):
    records = traffic([[str(i)] for i in range(6)], T0)
    for item in records[1:4]:
        item["captureData"]["endpointInput"]["encoding"] = "XML"
    [path] = write_records(tmp_path, records[:5])
    path.write_text(path.read_text() + '{"broken\n{"broken again\n')
    _, summary = read(tmp_path, 2)
    assert (summary.analysed, summary.bad_records) == (2, 5)
    assert summary.unusable_share == 5 / 7
    top = summary.top_reasons()
    assert [count for count, _, _ in top] == [3, 2]
    assert top[0][1] == f"{path}:2" and "encoding 'XML' is unknown" in top[0][2]
    assert top[1][1] == f"{path}:6" and "not a JSON object" in top[1][2]  # details differ, the kind is one


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"encoding": "XML"}, "encoding 'XML' is unknown"),
        ({"encoding": "BASE64", "data": "%%%"}, "not base64-encoded"),
        ({"encoding": "JSON", "data": '{"a": {"nested": 1}}'}, "rows must be flat"),
        ({"encoding": "JSON", "data": "{oops"}, "not valid JSON"),
        ({"data": None}, "no 'data' string"),
    ],
)
def test_undecodable_records_are_counted_and_explained(tmp_path, change, problem):
    records = traffic([["1"], ["2"]], T0)
    records[1]["captureData"]["endpointInput"].update(change)
    write_records(tmp_path, records)
    rows, summary = read(tmp_path, 2)
    assert rows == [["0.5", "1"]]
    assert summary.bad_records == 1
    assert problem in summary.issues[0].problem
    assert summary.issues[0].location.endswith(":2")


def test_multi_row_requests_pair_rows_with_their_predictions(tmp_path):
    records = [record("1,2\n3,4\n", "0.1\n0.2\n", T0), record("5,6\n7,8\n", "0.3\n", T0)]
    write_records(tmp_path, records)
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.1", "1", "2"], ["0.2", "3", "4"]]
    assert "cannot be paired" in summary.issues[0].problem


def test_field_counts_record_short_and_long_rows(tmp_path):
    write_records(tmp_path, traffic([["1", "2"], ["1"], ["1", "2", "3"]], T0))
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.5", "1", "2"], ["0.5", "1", None], ["0.5", "1", "2"]]
    assert summary.field_counts == {3: 1, 2: 1, 4: 1}
    assert summary.first_row_with[2].endswith(":2")


def test_files_read_together_keep_their_order_and_a_bad_file_its_own_line_numbers(tmp_path):
    minute = timedelta(minutes=1)
    write_file(tmp_path, traffic([["1", "a"], ["2", "b"]], T0), T0)
    middle = write_file(tmp_path, traffic([["3", "c"], ["4", "d"]], T0 + minute), T0 + minute)
    write_file(tmp_path, traffic([["5", "e"]], T0 + 2 * minute), T0 + 2 * minute)
    first, second = middle.read_text().splitlines()
    middle.write_text(f'{first}\n{{"captureData": oops}}\n{second}\n')  # pyarrow cannot read this file
    rows, summary = read(tmp_path, 3)
    assert [row[1:] for row in rows] == [["1", "a"], ["2", "b"], ["3", "c"], ["4", "d"], ["5", "e"]]
    assert (summary.files, summary.records, summary.rows, summary.bad_records) == (3, 6, 5, 1)
    assert summary.issues[0].location == f"{middle}:2"


def test_where_a_field_count_is_first_seen_is_judged_file_by_file(tmp_path):
    early = traffic([["1", "2"], ["3", "4"]], T0)
    early[0]["captureData"]["endpointInput"].update(encoding="JSON", data='{"a": "1"}')  # read record by record
    first = write_file(tmp_path, early, T0)
    write_file(tmp_path, traffic([["5"]], T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.5", "1", None], ["0.5", "3", "4"], ["0.5", "5", None]]
    assert summary.field_counts == {2: 2, 3: 1}
    assert summary.first_row_with[2] == f"{first}:1"


def test_a_leading_byte_order_mark_stays_in_the_value(tmp_path):
    write_records(tmp_path, traffic([["1", "2"], ["3", "4"]], T0, outputs=["\ufeff0.5", "0.25"]))
    rows, _ = read(tmp_path, 3)
    assert rows == [["\ufeff0.5", "1", "2"], ["0.25", "3", "4"]]


@pytest.mark.parametrize("missing", ["endpointOutput", "endpointInput"])
def test_a_record_without_one_part_is_unusable_and_never_shifts_columns(tmp_path, missing):
    records = traffic([["1", "2"], ["3", "4"], ["5", "6"]], T0)
    del records[1]["captureData"][missing]
    write_records(tmp_path, records)
    rows, summary = read(tmp_path, 3)
    assert rows == [["0.5", "1", "2"], ["0.5", "5", "6"]]
    assert (summary.analysed, summary.bad_records) == (2, 1)
    assert summary.issues[0].location.endswith(":2")
    assert f"captureData has no {missing}" in summary.issues[0].problem


def test_unreadable_file_is_reported_and_others_read(tmp_path):
    write_records(tmp_path, traffic([["1"]], T0))
    os.symlink(tmp_path / "missing.jsonl", tmp_path / "churn" / "broken.jsonl")
    rows, summary = read(tmp_path, 2)
    assert rows == [["0.5", "1"]]
    assert summary.unreadable_files == 1 and "cannot read the file" in str(summary.issues[0])


def test_missing_folder_is_a_named_error(tmp_path):
    with pytest.raises(CaptureSourceError, match="does not exist"):
        read(tmp_path / "nope", 2)


def write_script(tmp_path, body):
    path = tmp_path / "preprocessor.py"
    path.write_text(body)
    return str(path)


def test_preprocessor_rows_use_sorted_keys_and_can_drop_records(tmp_path):
    script = write_script(
        tmp_path,
        "import json\n"
        "def preprocess_handler(inference_record):\n"
        "    values = inference_record.endpoint_input.data.strip().split(',')\n"
        "    if values[0] == 'skip':\n"
        "        return []\n"
        "    row = {f'{i:03d}': v for i, v in enumerate(values)}\n"
        "    row['zzz'] = inference_record.event_metadata.event_time\n"
        "    row['000'] = float(inference_record.endpoint_output.data)\n"
        "    return row\n",
    )
    write_records(tmp_path / "cap", traffic([["1", "2"], ["skip", "0"]], T0))
    rows, summary = read(tmp_path / "cap", 3, preprocessor=load_preprocessor(script))
    assert rows == [["0.5", "2", "2024-05-01T10:00:00Z"]]
    assert (summary.dropped, summary.bad_records) == (1, 0)


def test_preprocessor_dicts_naming_baseline_columns_are_placed_by_name(tmp_path):
    script = write_script(
        tmp_path,
        "def preprocess_handler(inference_record):\n"
        "    a, b = inference_record.endpoint_input.data.strip().split(',')\n"
        "    if a == 'mixed':\n"
        "        return {'score': 1, 'stray': 2}\n"
        "    return {'b': b, 'score': inference_record.endpoint_output.data.strip(), 'a': a}\n",
    )
    write_records(tmp_path / "cap", traffic([["1", "2"], ["mixed", "0"]], T0))
    reader = CaptureReader(str(tmp_path / "cap"), 3, None, load_preprocessor(script), names=["score", "a", "b"])
    batches = list(reader.batches())
    assert [[array.to_pylist() for array in batch] for batch in batches] == [[["0.5"], ["1"], ["2"]]]
    assert "['stray'] are not columns of the baseline" in reader.summary.issues[0].problem


def test_preprocessor_may_take_a_logger_and_see_the_raw_record(tmp_path):
    script = write_script(
        tmp_path,
        "def preprocess_handler(inference_record, logger):\n"
        "    logger.info('seen %s', inference_record.event_metadata.event_id)\n"
        "    raw = inference_record.event_dict['captureData']['endpointInput']['data']\n"
        "    return {'a': inference_record.event_version, 'b': raw.strip(),\n"
        "            'c': inference_record.endpoint_input.observedContentType}\n",
    )
    write_records(tmp_path / "cap", traffic([["42"]], T0))
    rows, _ = read(tmp_path / "cap", 3, preprocessor=load_preprocessor(script))
    assert rows == [["0", "42", "text/csv"]]


def test_preprocessor_failures_are_per_record(tmp_path):
    script = write_script(
        tmp_path,
        "def preprocess_handler(inference_record):\n"
        "    value = inference_record.endpoint_input.data.strip()\n"
        "    if value == 'boom':\n"
        "        raise KeyError('missing feature')\n"
        "    return 'oops' if value == 'text' else {'v': value}\n",
    )
    write_records(tmp_path / "cap", traffic([["boom"], ["ok"], ["text"]], T0))
    rows, summary = read(tmp_path / "cap", 1, preprocessor=load_preprocessor(script))
    assert rows == [["ok"]]
    problems = [issue.problem for issue in summary.issues]
    assert "preprocess_handler raised KeyError" in problems[0]
    assert "return a flat dict" in problems[1]


def test_preprocessor_script_errors_are_named(tmp_path):
    with pytest.raises(PreprocessorError, match="not found"):
        load_preprocessor(str(tmp_path / "absent.py"))
    with pytest.raises(PreprocessorError, match="cannot import"):
        load_preprocessor(write_script(tmp_path, "def preprocess_handler(:\n"))
    with pytest.raises(PreprocessorError, match="defines no function"):
        load_preprocessor(write_script(tmp_path, "def handler(record):\n    return {}\n"))


def test_s3_prefix_is_read_through_aws_endpoint_url(tmp_path, s3):
    s3.create_bucket(Bucket="captures")
    paths = write_records(tmp_path, traffic([["1"], ["2"]], T0, every_seconds=90))
    for path in paths:
        key = "datacapture/" + str(path.relative_to(tmp_path))
        s3.put_object(Bucket="captures", Key=key, Body=path.read_bytes())
    s3.put_object(Bucket="captures", Key="datacapture/churn/AllTraffic/2024/04/01/10/old.jsonl", Body=b"{bad")
    rows, summary = read("s3://captures/datacapture", 2, Window.parse("2024-05-01T10:00:00Z", None))
    assert rows == [["0.5", "1"], ["0.5", "2"]]
    assert (summary.files, summary.bad_records) == (2, 0)


def test_s3_missing_bucket_is_a_named_error(s3):
    with pytest.raises(CaptureSourceError, match="cannot list s3://absent"):
        read("s3://absent/prefix", 2)


def test_window_contains_uses_utc():
    window = Window.parse("2024-05-01T12:00:00+02:00", "2024-05-01T11:00:00")
    assert window.contains(datetime(2024, 5, 1, 10, 30, tzinfo=UTC))
    assert json.dumps(window.describe()) == '"2024-05-01T10:00:00Z to 2024-05-01T11:00:00Z"'


@pytest.mark.parametrize(
    "inputs, outputs",
    [
        (["1,a\n", "2,b"], ["0.1\n", "0.2"]),  # line feeds at the end only: no per-value scan
        (["1,a", "2,b"], ["0.1", "0.2"]),  # no escapes at all
        (["1,a\\b", "2,b"], ["0.1\n", "0.2\n"]),  # a backslash in a value
        (['1,"a,b"\n', "2,b\n"], ["0.1\n", "0.2\n"]),  # a quoted field
        (["1,a\r\n", "2,b\n"], ["0.1\r\n", "0.2\n"]),  # a carriage return
        (["1,a\n2,c\n", "2,b\n"], ["0.1\n0.3\n", "0.2\n"]),  # a line feed inside the data: two rows
        (["1,a", "2,b\\n"], ["0.1", "0.2"]),  # a backslash followed by n, not a line feed
    ],
)
def test_fast_reading_gives_the_rows_of_the_record_by_record_reading(tmp_path, inputs, outputs):
    records = [
        record(data, out, T0 + timedelta(seconds=i)) for i, (data, out) in enumerate(zip(inputs, outputs, strict=True))
    ]
    write_records(tmp_path, records)
    rows, summary = read(tmp_path, 3)
    expected = [(row + [None] * 3)[:3] for item in records for row in record_rows(item)]
    assert rows == expected
    assert summary.bad_records == 0


@pytest.mark.parametrize(
    "content, lines, regular",
    [
        (b'{"a":1}\n{"b":2}\n', [1, 2], True),
        (b'{"a":1}\n{"b":2}', [1, 2], True),
        (b'{"a":1}', [1], True),
        (b'{"a":1}\n\n{"b":2}\n', [1, 3], False),
        (b'{"a":1}\n  {"b":2}\n', [1, 2], False),
        (b' {"a":1}\n', [1], False),
        (b'{"a":1}\n{"b":2}\n\n', [1, 2], False),
        (b'{"a":1}\n\n', [1], False),
        (b"", [], False),
    ],
)
def test_record_lines_numbers_non_blank_lines_and_flags_unusual_files(content, lines, regular):
    numbers, is_regular = record_lines(content)
    assert (numbers.tolist(), is_regular) == (lines, regular)


@pytest.mark.parametrize(
    "content, simple",
    [
        (b'{"data":"1,2"}\n', True),
        (b'{"data":"1,2\\n"}\n', True),
        (b'{"data":"1,\\"2\\""}\n', False),
        (b'{"data":"1\\n2"}\n', False),
        (b'{"data":"1,2\\\\n"}\n', False),
        (b'{"data":"1,2"}\r\n', False),
        (b'{"data":"1,2"}\\', False),
        (b'"\\n"', True),  # an escape as far from the end as `\n"` needs
        (b'"\\n', False),
        (b'{"a":"\\n"}\n{"b":"\\t"}\n', False),
    ],
)
def test_simple_strings_only_when_every_escape_is_a_final_line_feed(content, simple):
    assert all_strings_simple(content) is simple
