"""The merge's rules: join key, replayed ids, duplicate labels, unmatched counts, merged records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from analyzer.capture_outputs import Attributes, capture_outputs, read_file
from analyzer.ground_truth import ground_truth_labels
from analyzer.merge import Merger, latest_labels
from contract.ground_truth import ground_truth_line, label_file_key, merged_record
from contract.layout import Window
from tests.capture_helpers import record, write_file

START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def capture(output: str, seconds: int, inference_id: str | None = None, event_id: str | None = None) -> dict:
    item = record("1,2,3", output, START + timedelta(seconds=seconds))
    if event_id:
        item["eventMetadata"]["eventId"] = event_id
    if inference_id is not None:
        item["eventMetadata"]["inferenceId"] = inference_id
    return item


def write_labels(root: Path, labels: list[tuple[str, object]], collected: datetime, name: str | None = None) -> Path:
    path = root / label_file_key("", collected, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ground_truth_line(key, label) for key, label in labels))
    return path


def _merge(captures: Path, labels: Path, output: Path | None = None):
    """(matched records, summary) of one batch of every capture file."""
    deduplicated, read, duplicates = latest_labels(ground_truth_labels(str(labels)))
    merger = Merger(deduplicated, None if output is None else str(output))
    batch = pa.concat_tables(chunk.table for chunk in capture_outputs(str(captures), Window(), Attributes("0")))
    return merger.add(batch), merger.summary(read, duplicates, (0, 0)), merger


def test_join_on_inference_id_else_event_id(tmp_path):
    write_file(
        tmp_path / "c", [capture("0.9", 0, "a"), capture("0.2", 1, event_id="ev-b"), capture("0.4", 2, "c")], START
    )
    write_labels(tmp_path / "g", [("a", 1), ("ev-b", 0), ("unknown", 1)], START)
    matched, summary, _ = _merge(tmp_path / "c", tmp_path / "g")
    assert matched.column("key").to_pylist() == ["a", "ev-b"]
    assert matched.column("label").to_pylist() == ["1", "0"]
    assert matched.column("score").to_pylist() == [0.9, 0.2]
    assert (summary.captures, summary.matched, summary.unmatched_captures, summary.unmatched_labels) == (3, 2, 1, 1)


def test_one_label_matches_every_replayed_capture(tmp_path):
    write_file(tmp_path / "c", [capture(str(i / 10), i, str(i % 2)) for i in range(6)], START)
    write_labels(tmp_path / "g", [("0", 0), ("1", 1)], START)
    matched, summary, _ = _merge(tmp_path / "c", tmp_path / "g")
    assert summary.matched == 6
    assert matched.column("label").to_pylist() == ["0", "1"] * 3  # capture order kept


def test_latest_collected_label_wins(tmp_path):
    write_file(tmp_path / "c", [capture("0.7", 0, "x"), capture("0.1", 1, "y")], START)
    write_labels(tmp_path / "g", [("x", 0), ("y", 0)], START + timedelta(hours=1), "a")
    write_labels(tmp_path / "g", [("x", 1)], START + timedelta(hours=1), "b")  # later file, same hour
    write_labels(tmp_path / "g", [("y", 1), ("y", 0)], START + timedelta(hours=2))  # later hour, last line wins
    matched, summary, _ = _merge(tmp_path / "c", tmp_path / "g")
    assert dict(zip(matched.column("key").to_pylist(), matched.column("label").to_pylist(), strict=True)) == {
        "x": "1",
        "y": "0",
    }
    assert (summary.labels, summary.duplicate_labels) == (5, 3)


def test_merged_records_keep_output_label_and_metadata(tmp_path):
    write_file(tmp_path / "c", [capture("0.9\n", 0, 'q"uote')], START)
    write_labels(tmp_path / "g", [('q"uote', 1)], START)
    matched, _, merger = _merge(tmp_path / "c", tmp_path / "g", tmp_path / "out")
    (path,) = merger.finish()
    assert Path(path).relative_to(tmp_path / "out").as_posix() == "merge/2026/01/01/10/merged.jsonl"
    (line,) = Path(path).read_text().splitlines()
    metadata = {"eventId": matched.column("event_id")[0].as_py(), "inferenceId": 'q"uote',
                "inferenceTime": "2026-01-01T10:00:00Z"}  # fmt: skip
    assert json.loads(line) == merged_record("0.9\n", "CSV", metadata, "1")


def test_output_attributes_csv_json_and_base64():
    lines = [
        capture("0.3,1\n", 0, "csv"),
        {
            **capture("", 1, "json"),
            "captureData": {"endpointOutput": {"data": '{"p": [{"s": 0.8}], "l": 1}', "encoding": "JSON"}},
        },
        {**capture("", 2, "b64"), "captureData": {"endpointOutput": {"data": "MC42LDAK", "encoding": "BASE64"}}},
    ]
    content = "".join(json.dumps(item) + "\n" for item in lines).encode()
    csv_chunk = read_file("f.jsonl", content, Window(), Attributes("0", "1"))
    assert csv_chunk.table.column("key").to_pylist() == ["csv", "b64"]  # the JSON output has no field 0
    assert csv_chunk.table.column("score").to_pylist() == [0.3, 0.6]
    assert [issue.location for issue in csv_chunk.issues] == ["f.jsonl:2"]
    json_chunk = read_file("f.jsonl", content, Window(), Attributes("p.0.s", "l"))
    assert json_chunk.table.column("key").to_pylist() == ["json"]
    assert json_chunk.table.column("inference").to_pylist() == ["1"]


def test_bad_capture_records_are_named_and_the_others_kept():
    lines = [json.dumps(capture("0.5", 0, "ok")), "{broken", json.dumps(capture("abc", 1, "nan")),
             json.dumps(capture("1.5", 2, "big")), json.dumps(capture("0.1", 3, "ok2"))]  # fmt: skip
    chunk = read_file("c.jsonl", ("\n".join(lines) + "\n").encode(), Window(), Attributes("0"))
    assert chunk.table.column("key").to_pylist() == ["ok", "ok2"]
    problems = {issue.location: issue.problem for issue in chunk.issues}
    assert problems["c.jsonl:2"].startswith("not a capture record")
    assert problems["c.jsonl:3"] == "probability attribute 0 is 'abc', not a number"
    assert problems["c.jsonl:4"] == "probability attribute 0 is 1.5, outside [0, 1]"


def test_capture_window_on_inference_time():
    lines = [json.dumps(capture("0.5", seconds, str(seconds))) for seconds in (0, 1800, 3600)]
    window = Window.parse("2026-01-01T10:30:00Z", "2026-01-01T11:00:00Z")
    chunk = read_file("c.jsonl", ("\n".join(lines) + "\n").encode(), window, Attributes("0"))
    assert chunk.table.column("key").to_pylist() == ["1800"]
