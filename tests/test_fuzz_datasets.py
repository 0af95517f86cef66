"""Fuzz: baseline datasets (CSV, JSON lines) of odd but valid values, and the same with one damage.

A valid file is read whole, every value in its column (as Python's csv/json modules read it); a
damaged one raises `DatasetError` naming the file and, for a byte that is not UTF-8, its line;
nothing else escapes. Cases per run: `EXAMPLES` CSV files and `EXAMPLES` JSON-lines files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.datasets import read_partitioned
from contract.errors import DatasetError

EXAMPLES = 300
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text_value = st.text(st.sampled_from(list('ab1.-, "\n\ré')), max_size=6)


def _read(path: Path, fmt: str) -> tuple[list[str], list[list[str | None]]]:
    names, _, pairs = read_partitioned(str(path), fmt)
    columns: list[list[str | None]] = [[] for _ in names]
    for _, batch in pairs:  # one partition: small files are not split
        for column, array in zip(columns, batch, strict=True):
            column.extend(array.to_pylist())
    return names, [[value if value != "" else None for value in row] for row in zip(*columns, strict=True)]


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def csv_file(draw):
    """(content, expected rows, damage): rows as `csv` reads them back, "" as None."""
    width = draw(st.integers(2, 5))
    rows = draw(st.lists(st.lists(text_value, min_size=width, max_size=width), min_size=1, max_size=30))
    # A row whose fields are all empty is written as an empty line, which is no row: keep one field.
    rows = [row if any(row) else ["x", *row[1:]] for row in rows]
    out = io.StringIO()
    # Lines end in CRLF, so the writer quotes every field holding a CR or LF (as CSV requires).
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    csv.writer(out, quoting=quoting).writerows([[f"c{i}" for i in range(width)], *rows])
    content = out.getvalue().encode()
    damage = draw(st.sampled_from(["none", "none", "not-utf8", "ragged"]))
    if damage == "not-utf8":
        position = draw(st.integers(0, len(content) - 1))
        content = content[:position] + bytes([draw(st.integers(0x80, 0xBF))]) + content[position:]
    elif damage == "ragged":
        content += b"only-one-field\n"
    expected = [[value if value != "" else None for value in row] for row in rows]
    return content, expected, damage


@FUZZ
@given(case=csv_file())
def test_csv_files_are_read_whole_or_refused_with_a_named_error(tmp_path_factory, case):
    content, expected, damage = case
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_bytes(content)
    if damage == "none":
        assert _read(path, "csv")[1] == expected
        return
    with pytest.raises(DatasetError) as error:
        _read(path, "csv")
    message = str(error.value)
    assert str(path) in message
    if damage == "not-utf8":
        line = next(number for number, raw in enumerate(content.split(b"\n"), start=1) if not _utf8(raw))
        assert f"line {line}:" in message and "not UTF-8" in message
    else:
        assert "do not have" in message


json_value = st.one_of(
    text_value, st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none()
)


def _as_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def jsonl_file(draw):
    keys = st.sampled_from(["b", "a", "é", "c d", "z"])
    records = draw(st.lists(st.dictionaries(keys, json_value, min_size=1, max_size=4), min_size=1, max_size=30))
    lines = [json.dumps(record, ensure_ascii=draw(st.booleans())).encode() for record in records]
    damage = draw(st.sampled_from(["none", "none", "not-utf8", "nested", "not-an-object", "truncated"]))
    line = draw(st.integers(0, len(lines) - 1))
    if damage == "not-utf8":
        lines[line] = lines[line][:1] + b"\xff" + lines[line][1:]
    elif damage == "nested":
        lines[line] = b'{"a": {"deep": 1}}'
    elif damage == "not-an-object":
        lines[line] = b"[1, 2]"
    elif damage == "truncated":
        lines[line] = lines[line][:-1]
    names = sorted({key for record in records for key in record})
    expected = [[_as_text(record.get(name)) for name in names] for record in records]
    return b"\n".join(lines) + b"\n", names, expected, damage, line + 1


@FUZZ
@given(case=jsonl_file())
def test_json_lines_are_read_by_name_or_refused_with_the_line(tmp_path_factory, case):
    content, names, expected, damage, line = case
    path = tmp_path_factory.mktemp("jsonl") / "data.jsonl"
    path.write_bytes(content)
    if damage == "none":
        assert _read(path, "jsonl") == (names, expected)
        return
    with pytest.raises(DatasetError, match=rf"data\.jsonl, line {line}: ") as error:
        _read(path, "jsonl")
    assert ("byte 0xff at column 2 is not UTF-8" in str(error.value)) == (damage == "not-utf8")
