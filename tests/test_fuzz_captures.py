"""Fuzz: capture files mixing good records with damaged ones, read as a monitoring run reads them.

For any mix, the reader raises nothing, every record is either analysed or counted unusable (none
lost), the good records' rows come out in order with their values in their columns, the profile
of the mix equals the profile of the good records alone, and the usability rule's outcome follows
the unusable share. Cases per run: `EXAMPLES` mixes of up to 40 records in 1-3 files.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.capture_records import record_rows
from analyzer.captures import CaptureReader
from analyzer.monitor import _check_usable
from analyzer.profile import Profiler
from contract.errors import UnusableDataError
from contract.layout import Window

EXAMPLES = 240
NAMES = ["score", "alpha", "beta", "gamma"]  # the output field, then three input fields
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
WINDOW = Window.parse("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z")

# Values as an endpoint sends them: numbers, words, empty (missing); some need CSV quoting.
plain = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.text("abcxyzé ", min_size=1, max_size=6).map(str.strip).filter(bool),
    st.just(""),
)
quoted = st.text("ab,\"\n", min_size=1, max_size=5)  # commas, quotes and line breaks: the per-record path
value = st.one_of(plain, plain, plain, quoted)


def _csv(values: list[str]) -> str:
    def field(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text

    return ",".join(field(text) for text in values)


def _part(data: str, mode: str, encoding: str, content_type: str) -> dict:
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


@st.composite
def good_record(draw, index: int) -> tuple[dict, list[str | None]]:
    """A record and the row it must give (None for a missing value)."""
    row = [draw(plain)] + [draw(value) for _ in NAMES[1:]]
    shape = draw(st.sampled_from(["csv", "csv", "base64", "json-named", "json-shuffled"]))
    output = _part(_csv(row[:1]) + draw(st.sampled_from(["\n", "\r\n", ""])), "OUTPUT", "CSV", "text/csv")
    if shape == "csv":
        inputs = _part(_csv(row[1:]) + "\n", "INPUT", "CSV", "text/csv")
    elif shape == "base64":
        inputs = _part(base64.b64encode(_csv(row[1:]).encode()).decode(), "INPUT", "BASE64", "text/csv")
    else:
        items = list(zip(NAMES[1:], row[1:], strict=True))
        if shape == "json-shuffled":
            items = draw(st.permutations(items))
        inputs = _part(json.dumps(dict(items)), "INPUT", "JSON", "application/json")
    time = (T0 + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
    capture = {"endpointInput": inputs, "endpointOutput": output}
    record = {"captureData": capture, "eventMetadata": {"inferenceTime": time}}
    return record, [text if text != "" else None for text in row]


def _damaged(record: dict, kind: str, byte: int) -> bytes:
    """One kind of damage done to a good record: the line as written."""
    capture, meta = record["captureData"], record["eventMetadata"]
    if kind in ("endpointInput", "endpointOutput"):
        del capture[kind]
    elif kind == "bad-base64":
        capture["endpointInput"].update(encoding="BASE64", data="%%not base64%%")
    elif kind == "unknown-encoding":
        capture["endpointInput"]["encoding"] = "UTF-16"
    elif kind == "unreadable-content-type":
        capture["endpointInput"].update(encoding="BASE64", data="AAAA", observedContentType="image/png")
    elif kind == "bad-time":
        meta["inferenceTime"] = "yesterday"
    elif kind == "nested-json":
        capture["endpointInput"].update(encoding="JSON", data='{"alpha": {"deep": 1}}')
    elif kind == "stray-key":
        capture["endpointInput"].update(encoding="JSON", data='{"alpha": 1, "delta": 2}')
    elif kind == "lone-surrogate":
        capture["endpointInput"]["data"] = "\udc80,1,2"
    elif kind == "data-not-text":
        capture["endpointOutput"]["data"] = 0.5
    elif kind == "no-metadata":
        del record["eventMetadata"]
    elif kind == "rows-unpaired":
        capture["endpointOutput"].update(data="1\n2\n", encoding="CSV")
    line = json.dumps(record).encode()
    if kind == "not-utf8":
        return line.replace(b'"data": "', b'"data": "' + bytes([byte]), 1)
    if kind == "truncated":
        return line[: len(line) // 2]
    if kind == "not-an-object":
        return b"[1, 2, 3]"
    return line


DAMAGE = [
    "endpointInput", "endpointOutput", "bad-base64", "unknown-encoding", "unreadable-content-type", "bad-time",
    "nested-json", "stray-key", "lone-surrogate", "not-utf8", "truncated", "not-an-object", "data-not-text",
    "no-metadata", "rows-unpaired",
]  # fmt: skip


@st.composite
def capture_mix(draw):
    """(files of (line, whether it is undamaged), the good rows in order, the number of damaged records)."""
    count = draw(st.integers(1, 40))
    lines, rows, bad = [], [], 0
    for index in range(count):
        record, row = draw(good_record(index))
        if draw(st.integers(0, 3)) == 0:
            lines.append((_damaged(record, draw(st.sampled_from(DAMAGE)), draw(st.integers(0x80, 0xFF))), False))
            bad += 1
        else:
            lines.append((json.dumps(record).encode(), True))
            rows.append(row)
    cuts = sorted(draw(st.lists(st.integers(0, count), max_size=2)))
    files = [lines[a:b] for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    return files, rows, bad


def _write(root: Path, files: list[list[tuple[bytes, bool]]], only_good: bool = False) -> None:
    folder = root / "churn" / "AllTraffic" / "2024" / "05" / "01" / "10"
    folder.mkdir(parents=True)
    for number, lines in enumerate(files):
        content = b"".join(line + b"\n" for line, good in lines if good or not only_good)
        (folder / f"{number:02d}-00-000-fuzz.jsonl").write_bytes(content)


def _read(root: Path, preprocessor=None) -> tuple[list[list[str | None]], dict, object]:
    reader = CaptureReader(str(root), len(NAMES), WINDOW, preprocessor, names=NAMES)
    profiler = Profiler(NAMES)
    columns: list[list[str | None]] = [[] for _ in NAMES]
    for batch in reader.batches():
        profiler.update(batch)
        for column, array in zip(columns, batch, strict=True):
            column.extend(array.to_pylist())
    rows = [[text if text != "" else None for text in row] for row in zip(*columns, strict=True)]
    statistics = profiler.result().statistics if rows else None
    return rows, statistics, reader.summary


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=capture_mix(), threshold=st.sampled_from([0.0, 0.1, 0.25, 1.0]))
def test_damaged_records_are_counted_and_never_change_the_good_records_profile(tmp_path_factory, mix, threshold):
    files, good_rows, bad = mix
    mixed, clean = tmp_path_factory.mktemp("mixed"), tmp_path_factory.mktemp("clean")
    _write(mixed, files)
    _write(clean, files, only_good=True)

    rows, statistics, summary = _read(mixed)
    assert rows == good_rows  # none lost, none shifted, in order
    assert (summary.analysed, summary.bad_records) == (len(good_rows), bad)
    assert sum(summary.reasons.values()) == bad
    clean_rows, clean_statistics, _ = _read(clean)
    assert clean_rows == good_rows and statistics == clean_statistics

    share = bad / (bad + len(good_rows))
    assert summary.unusable_share == pytest.approx(share)
    if bad and share > threshold:
        with pytest.raises(UnusableDataError, match=f"{bad} of {bad + len(good_rows)} capture records"):
            _check_usable(summary, threshold)
    else:
        _check_usable(summary, threshold)



def _by_name_preprocessor(inference_record) -> dict:
    """A user's handler: the record's row as a dict by column name, keys in reverse order; a damaged
    record makes it raise."""
    [row] = record_rows(inference_record.event_dict, NAMES)
    return dict(reversed(list(zip(NAMES, row, strict=True))))


@settings(max_examples=EXAMPLES // 3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=capture_mix())
def test_a_preprocessor_sees_the_same_good_rows_and_its_failures_are_counted(tmp_path_factory, mix):
    files, good_rows, bad = mix
    root = tmp_path_factory.mktemp("preprocessed")
    _write(root, files)
    rows, _, summary = _read(root, _by_name_preprocessor)
    assert rows == good_rows
    assert (summary.analysed, summary.bad_records) == (len(good_rows), bad)
