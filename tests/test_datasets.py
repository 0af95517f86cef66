"""Reading baseline datasets: CSV/JSON lines, folders, Spark's partitions, errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import partitions as spark_partitions
from analyzer.datasets import read_partitioned
from analyzer.partitions import Split, line_range, plan_partitions
from contract.errors import DatasetError

MB = 1024 * 1024


def read_dataset(path: str, **options) -> tuple[list[str], list[list]]:
    """Column names and every batch, partition after partition (each in its row order)."""
    names, _, pairs = read_partitioned(path, **options)
    by_partition: dict[int, list] = {}
    for index, batch in pairs:
        by_partition.setdefault(index, []).append(batch)
    return names, [batch for index in sorted(by_partition) for batch in by_partition[index]]


def _rows(path: Path, **options) -> tuple[list[str], list[list[str | None]]]:
    names, batches = read_dataset(str(path), **options)
    columns: list[list[str | None]] = [[] for _ in names]
    for batch in batches:
        for column, array in zip(columns, batch, strict=True):
            column.extend(array.to_pylist())
    return names, [list(row) for row in zip(*columns, strict=True)]


def test_csv_with_header_reads_strings_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text('a,b,c\n1,x y,007\n,"q,r",2.50\n3,,\n')
    names, rows = _rows(path)
    assert names == ["a", "b", "c"]
    assert rows == [["1", "x y", "007"], [None, "q,r", "2.50"], ["3", None, None]]


def test_csv_without_header_names_columns_positionally(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("1,2\n3,4\n")
    assert _rows(path, header=False) == (["_c0", "_c1"], [["1", "2"], ["3", "4"]])


def test_folder_of_files_skips_hidden_and_markers(tmp_path: Path) -> None:
    (tmp_path / "part-0.csv").write_text("a,b\n1,2\n")
    (tmp_path / "part-1.csv").write_text("a,b\n3,4\n5,6\n")
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".part-0.csv.crc").write_text("junk")
    names, rows = _rows(tmp_path)
    assert names == ["a", "b"]
    # Spark packs files largest first: part-1 (larger) comes before part-0.
    assert rows == [["3", "4"], ["5", "6"], ["1", "2"]]


def test_files_with_different_headers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "b.csv").write_text("a,c\n1,2\n")
    with pytest.raises(DatasetError, match=r"b\.csv, line 1: header differs"):
        read_dataset(str(tmp_path))


def test_ragged_rows_are_counted_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n")
    with pytest.raises(DatasetError) as error:
        read_dataset(str(path))
    message = str(error.value)
    assert "bad.csv" in message and "2 row(s)" in message and "lines 3, 5" in message and "3 fields" in message


def test_missing_and_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        read_dataset(str(tmp_path / "nope.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no data files"):
        read_dataset(str(tmp_path / "empty"))
    (tmp_path / "blank.csv").write_text("")
    with pytest.raises(DatasetError, match="line 1: empty"):
        read_dataset(str(tmp_path / "blank.csv"))
    with pytest.raises(DatasetError, match="unknown dataset format"):
        read_dataset(str(tmp_path / "blank.csv"), fmt="parquet")


def test_json_lines_keep_number_text_and_sort_keys(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"b": 1.50, "a": "x"}\n\n{"a": null, "c": true, "b": 2}\n')
    names, rows = _rows(path, fmt="jsonl")
    assert names == ["a", "b", "c"]  # Spark's inferred JSON schema: keys sorted by name
    assert rows == [["x", "1.50", None], [None, "2", "true"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": {"b": 2}}\n', r"line 2: field 'a' holds a nested dict"),
        ('{"a": 1}\n{"a": \n', r"line 2: not valid JSON"),
        ('{"a": 1}\n[1, 2]\n', r"line 2: a JSON line must be an object"),
    ],
)
def test_json_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_dataset(str(path), fmt="jsonl")


def test_spark_split_arithmetic() -> None:
    # One 40 MB file, parallelism 4: (40 + 4) MB / 4 = 11 MB splits, one per partition.
    partitions = plan_partitions([("big", 40 * MB)], parallelism=4)
    assert [[(s.start, s.length) for s in p] for p in partitions] == [
        [(0, 11 * MB)],
        [(11 * MB, 11 * MB)],
        [(22 * MB, 11 * MB)],
        [(33 * MB, 7 * MB)],
    ]
    # Small files: the 4 MB open cost puts every file in its own partition, largest first.
    small = plan_partitions([("a", 100), ("b", 300), ("c", 200)], parallelism=4)
    assert [[s.path for s in p] for p in small] == [["b"], ["c"], ["a"]]
    # A small single file is one partition.
    assert plan_partitions([("train.csv", 375_873)]) == [[Split("train.csv", 0, 375_873)]]


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.text(alphabet="ab,", max_size=6), min_size=1, max_size=30),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=5),
)
def test_splits_own_every_line_exactly_once(tmp_path_factory: pytest.TempPathFactory, lines, cuts) -> None:
    path = tmp_path_factory.mktemp("lines") / "file.txt"
    content = "".join(line + "\n" for line in lines)
    path.write_text(content)
    size = len(content.encode())
    bounds = sorted({0, size, *[c for c in cuts if c < size]})
    owned = ""
    for start, stop in zip(bounds, bounds[1:], strict=False):
        begin, end = line_range(Split(str(path), start, stop - start))
        owned += content[begin:end]
    assert owned == content


def test_partitions_cover_the_file_and_drop_only_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_partitions, "OPEN_COST_BYTES", 64)
    monkeypatch.setattr(spark_partitions, "MAX_PARTITION_BYTES", 64)
    path = tmp_path / "train.csv"
    body = [f"{i},{i * 2}" for i in range(100)]
    path.write_text("x,y\n" + "\n".join(body) + "\n")
    names, partitions, pairs = read_partitioned(str(path), batch_rows=7)
    assert partitions > 3
    by_partition: dict[int, list[str]] = {}
    for index, batch in pairs:
        xs, ys = (array.to_pylist() for array in batch)
        by_partition.setdefault(index, []).extend(f"{x},{y}" for x, y in zip(xs, ys, strict=True))
    assert sorted(row for rows in by_partition.values() for row in rows) == sorted(body)
    assert by_partition[0][0] == "0,0"  # the header line is dropped from the first split only


@pytest.mark.parametrize("row", [2, 30_000])  # in pyarrow's first block (raised when opening), and far after it
def test_a_byte_that_is_not_utf8_is_named_with_its_line(tmp_path: Path, row: int) -> None:
    lines = [b"a,b"] + [f"{i},x{i}".encode() for i in range(40_000)]
    lines[row] = lines[row].replace(b"x", b"x\xff")
    path = tmp_path / "data.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    column = lines[row].index(b"\xff") + 1
    with pytest.raises(DatasetError, match=rf"data\.csv, line {row + 1}: byte 0xff at column {column} is not UTF-8"):
        read_dataset(str(path))


@pytest.mark.parametrize("size", [600_000, 5_000_000])  # longer than one block, and than eight
def test_a_field_longer_than_a_block_is_read(tmp_path: Path, size: int) -> None:
    big = "y" * size
    rows = [[str(i), "x", str(i % 3)] for i in range(3000)]
    rows[1500][1] = big
    path = tmp_path / "data.csv"
    path.write_text("a,b,c\n" + "".join(",".join(row) + "\n" for row in rows))
    names, read = _rows(path)
    assert names == ["a", "b", "c"]
    assert read == rows  # every row once, in order: rows read before the retry are not repeated

