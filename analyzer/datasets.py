"""Read a baseline dataset as the service's Spark job does: every value as a string, in batches.

Formats: CSV with or without a header (without one, columns are `_c0, _c1, ...`) and JSON lines
of flat objects. `path` is one file or a folder (every file below it, hidden files and
`_SUCCESS`-style markers skipped). `read_partitioned` reads each of Spark's partitions (see
`analyzer.partitions`) with Hadoop's line rules.

Bad input raises `DatasetError` naming the file and line: rows with a different number of
fields than the header are counted over the whole file and reported (never dropped silently).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv

from analyzer.arrays import string_array
from analyzer.partitions import DEFAULT_PARALLELISM, RangeFile, Split, line_range, plan_partitions, split_lines
from analyzer.prefetch import prefetched
from contract.errors import DatasetError

DEFAULT_BATCH_ROWS = 16_384
# Each streaming CSV reader reads ahead in the background (Arrow queues up to 32 blocks), and the
# profiler reads every partition at once: blocks of at most 512 KB bound that to ~64 MB for 4
# partitions (1 MB blocks measured ~110 MB more peak memory on the 1M-row benchmark, same speed).
MIN_BLOCK_BYTES = 1 << 18
MAX_BLOCK_BYTES = 1 << 19
MAX_REPORTED_LINES = 10
PREFETCH_BATCHES = 8


Batch = list[pa.Array]


def list_files(path: str) -> list[str]:
    """The file itself, or every data file below a folder in path order."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DatasetError(f"{path}: no such file or folder; pass a CSV/JSON-lines file or a folder of them")
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found.extend(os.path.join(root, name) for name in sorted(files) if not name.startswith((".", "_")))
    if not found:
        raise DatasetError(f"{path}: the folder holds no data files")
    return sorted(found)


def _first_line(path: str) -> str:
    with open(path, "rb") as handle:
        raw = handle.readline()
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}, line 1: not UTF-8 text ({error.reason}); save the file as UTF-8") from None


def _csv_names(files: Sequence[str], header: bool) -> list[str]:
    first = _first_line(files[0])
    if not first:
        raise DatasetError(f"{files[0]}, line 1: empty; the first line must hold the header or the first row")
    fields = next(csv.reader([first]))
    if not header:
        return [f"_c{i}" for i in range(len(fields))]
    if len(set(fields)) != len(fields):
        duplicated = sorted({name for name in fields if fields.count(name) > 1})
        raise DatasetError(f"{files[0]}, line 1: duplicate column names {duplicated}; give every column its own name")
    for other in files[1:]:
        if next(csv.reader([_first_line(other)]), []) != fields:
            raise DatasetError(
                f"{other}, line 1: header differs from {files[0]}'s; all files of a dataset need the same header"
            )
    return fields


def _locate_lines(split: Split, texts: list[str]) -> list[int]:
    """Line numbers (in the file) of the given row texts, matched in order."""
    found, wanted = [], list(texts)
    for line_number, raw in split_lines(split):
        if not wanted:
            break
        if raw.decode("utf-8", "replace") == wanted[0]:
            found.append(line_number)
            wanted.pop(0)
    return found


def _block_size(path: str, batch_rows: int) -> int:
    """pyarrow reads by bytes: about `batch_rows` rows, judged from the file's second line."""
    with open(path, "rb") as handle:
        handle.readline()
        row_bytes = max(len(handle.readline()), 16)
    return min(max(batch_rows * row_bytes, MIN_BLOCK_BYTES), MAX_BLOCK_BYTES)


def _reader(split: Split, names: list[str], skip_header: bool, block: int, invalid_row) -> pacsv.CSVStreamingReader:
    begin, end = line_range(split)
    return pacsv.open_csv(
        RangeFile(split.path, begin, end),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1 if skip_header else 0, block_size=block),
        parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _not_utf8(split: Split) -> DatasetError | None:
    """The error naming a split's first line that is not UTF-8, if any: checked once reading has
    failed, as the likely cause (pyarrow names neither the line nor the byte)."""
    for line_number, raw in split_lines(split):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return DatasetError(
                f"{split.path}, line {line_number}: byte {raw[bad.start]:#04x} at column {bad.start + 1} is "
                "not UTF-8 text; save the file as UTF-8 (or remove the byte)"
            )
    return None


def _parse_error(split: Split, error: Exception, rows: int) -> DatasetError:
    """The named error of a split pyarrow cannot read: a byte that is not UTF-8, else where the
    reading stopped."""
    not_utf8 = _not_utf8(split)
    if not_utf8:
        return not_utf8
    first = next(split_lines(split), (1, b""))[0]
    return DatasetError(
        f"{split.path}: cannot parse as CSV after {rows} rows from line {first} ({error}); "
        "check the quoting of the rows that follow"
    )


def _csv_split_batches(split: Split, names: list[str], header: bool, batch_rows: int) -> Iterator[Batch]:
    begin, end = line_range(split)
    if end <= begin:
        return
    block = _block_size(split.path, batch_rows)
    done = 0  # rows already yielded: a retry with larger blocks skips them
    while True:
        ragged: list[str] = []
        count = [0]

        def invalid_row(row, ragged=ragged, count=count) -> str:
            count[0] += 1
            if len(ragged) < MAX_REPORTED_LINES:
                ragged.append(row.text)
            return "skip"

        seen = 0
        try:
            for record_batch in _reader(split, names, header and begin == 0, block, invalid_row):
                seen += record_batch.num_rows
                if seen > done:
                    yield [column.slice(record_batch.num_rows - (seen - done)) for column in record_batch.columns]
                    done = seen
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            # A row longer than a block ("straddling object"): read again with blocks that hold it.
            if "straddling" in str(error) and block <= end - begin:
                block = min(block * 8, end - begin + 1)
                continue
            raise _parse_error(split, error, done) from None
    if count[0]:
        _raise_ragged(split, names, header, count[0], ragged)


def _raise_ragged(split: Split, names: list[str], header: bool, count: int, ragged: list[str]) -> None:
    not_utf8 = _not_utf8(split)  # a byte that is not UTF-8 may have cut a quoted field short
    if not_utf8:
        raise not_utf8
    lines = _locate_lines(split, ragged)
    numbers = ", ".join(map(str, lines))
    where = f"line{'s' if len(lines) > 1 else ''} {numbers}" if lines else f"rows such as {ragged[0]!r}"
    raise DatasetError(
        f"{split.path}: {count} row(s) do not have {len(names)} fields like the "
        f"{'header' if header else 'first line'} ({where}{', ...' if count > len(lines) else ''}); "
        "fix or remove them (quote values that contain commas)"
    )


def _json_text(value: object, path: str, line: int, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise DatasetError(
        f"{path}, line {line}: field {key!r} holds a nested {type(value).__name__}; "
        "JSON lines must be flat objects of strings, numbers, booleans or nulls"
    )


def _json_records(split: Split) -> Iterator[tuple[int, dict]]:
    for line_number, raw in split_lines(split):
        text = raw.strip()
        if not text:
            continue
        try:
            # Numbers keep their text, as the profiler reads every value as written.
            record = json.loads(text, parse_float=str, parse_int=str)
        except UnicodeDecodeError:
            raise _not_utf8(split) or DatasetError(f"{split.path}, line {line_number}: not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise DatasetError(f"{split.path}, line {line_number}: not valid JSON ({error})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{split.path}, line {line_number}: a JSON line must be an object {{...}}")
        yield line_number, record


def _json_names(partitions: list[list[Split]]) -> list[str]:
    """Spark infers a JSON schema as the union of all keys, sorted by name."""
    keys: set[str] = set()
    for splits in partitions:
        for split in splits:
            for _, record in _json_records(split):
                keys.update(record)
    return sorted(keys)


def _json_split_batches(split: Split, names: list[str], batch_rows: int) -> Iterator[Batch]:
    columns: list[list[str | None]] = [[] for _ in names]
    for line, record in _json_records(split):
        for key, column in zip(names, columns, strict=True):
            column.append(_json_text(record.get(key), split.path, line, key))
        if len(columns[0]) >= batch_rows:
            yield [string_array(column) for column in columns]
            columns = [[] for _ in names]
    if columns and columns[0]:
        yield [string_array(column) for column in columns]


def _plan(path: str, fmt: str, parallelism: int) -> list[list[Split]]:
    if fmt not in ("csv", "jsonl"):
        raise DatasetError(f"unknown dataset format {fmt!r}; use 'csv' or 'jsonl'")
    files = list_files(path)
    return plan_partitions([(name, os.path.getsize(name)) for name in files], parallelism)


def _partition_readers(
    path: str, fmt: str, header: bool, batch_rows: int, parallelism: int
) -> tuple[list[str], list[Iterator[Batch]]]:
    partitions = _plan(path, fmt, parallelism)
    if fmt == "csv":
        names = _csv_names(list_files(path), header)

        def batches(splits: list[Split]) -> Iterator[Batch]:
            for split in splits:
                yield from _csv_split_batches(split, names, header, batch_rows)
    else:
        names = _json_names(partitions)

        def batches(splits: list[Split]) -> Iterator[Batch]:
            for split in splits:
                yield from _json_split_batches(split, names, batch_rows)

    if not names:
        raise DatasetError(f"{path}: no columns found; the dataset is empty")
    return names, [batches(splits) for splits in partitions]


def read_partitioned(
    path: str,
    fmt: str = "csv",
    header: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    parallelism: int = DEFAULT_PARALLELISM,
) -> tuple[list[str], int, Iterator[tuple[int, Batch]]]:
    """Column names, the number of partitions and `(partition, batch)` pairs, round-robin.

    Each partition's batches come in its own row order; interleaving lets the profiler advance
    all partitions together (its standard-deviation recurrence runs them in lockstep). A batch is
    one string array per column (null = missing; plain strings: the profiler dictionary-encodes
    each flush); `batch_rows` is approximate for CSV (pyarrow reads by bytes).
    """
    names, readers = _partition_readers(path, fmt, header, batch_rows, parallelism)

    def interleaved() -> Iterator[tuple[int, Batch]]:
        active = dict(enumerate(readers))
        while active:
            for index in list(active):
                batch = next(active[index], None)
                if batch is None:
                    del active[index]
                else:
                    yield index, batch

    return names, len(readers), prefetched(interleaved(), PREFETCH_BATCHES)
