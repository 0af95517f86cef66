"""The capture reader's fast path: whole groups of records parsed by pyarrow, no loop per record.

The usual capture file has one JSON object per line, CSV input and output without quotes or line
breaks, and second-precision times. For such records one `pyarrow.json` call reads a group of
files (`read_table`), buffer scans settle which records qualify and which lie outside the window
(`fast_candidates`), and one `pyarrow.csv` call splits their rows into columns (`fast_rows`).
Every other record is left to the per-record path (`analyzer.capture_records`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from analyzer.arrays import bool_array, index_array, string_scalar, to_numpy
from contract.layout import TIME_FORMAT, Window

# Only what the fast path reads: other fields are ignored (a record the fast path does not take is
# read again, whole, by the per-record path).
_PART = pa.struct([("data", pa.string()), ("encoding", pa.string())])
_CAPTURE_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([("endpointInput", _PART), ("endpointOutput", _PART)])),
        ("eventMetadata", pa.struct([("inferenceTime", pa.string())])),
    ]
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INPUT, _OUTPUT, _DATA, _ENCODING, _TIME = 0, 1, 0, 1, 0  # struct field positions in _CAPTURE_SCHEMA
_BOM = b"\xef\xbb\xbf"
# One literal each: a literal search runs at memchr speed, a character class byte by byte.
_QUOTE_OR_BREAK = [re.compile(re.escape(char)) for char in (b'"', b"\r", b"\n")]
JSON_BLOCK_BYTES = 1 << 22
CSV_BLOCK_BYTES = 1 << 22


def record_lines(content: bytes) -> tuple[np.ndarray, bool]:
    """1-based line numbers of a file's records (its non-blank lines), and whether every line is one.

    The usual file has a JSON object on every line: that is checked without a loop per line.
    """
    text = np.frombuffer(content, dtype=np.uint8)
    # Located in one pass (a record is hundreds of bytes: few positions), then only the byte after
    # each looked at: whole-file masks cost a pass each.
    breaks = np.flatnonzero(text == ord("\n"))
    inner = breaks[:-1] if content.endswith(b"\n") else breaks  # line breaks followed by a line
    if content.startswith(b"{") and bool((text[inner + 1] == ord("{")).all()):
        return np.arange(1, len(inner) + 2), True
    numbers = [i + 1 for i, line in enumerate(content.split(b"\n")) if line.strip()]
    return np.array(numbers, dtype=np.int64), False


def all_strings_simple(content: bytes) -> bool:
    """Whether no JSON string of the file can hold a quote or a carriage return, nor a line feed
    but as its last character: no raw carriage return, and every backslash starts a `\\n"`
    (JSON escapes quotes and control characters; pyarrow rejects raw ones inside strings). Then
    the capture `data` values need no per-value scan (`_plain_text`)."""
    if b"\r" in content:
        return False
    text = np.frombuffer(content, dtype=np.uint8)
    escapes = np.flatnonzero(text == ord("\\"))  # one per record, usually (the output's final line feed)
    if not len(escapes):
        return True
    if escapes[-1] + 2 >= len(text):
        return False  # too close to the end to start `\n"`
    return bool(((text[escapes + 1] == ord("n")) & (text[escapes + 2] == ord('"'))).all())


def _utf8(content: bytes) -> bool:
    # pyarrow's JSON reader does not check that strings are UTF-8: a bad byte would reach the profiler.
    if content.isascii():
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_table(contents: Sequence[bytes], records: int) -> pa.Table | None:
    """The records of consecutive files as one table, or None when some line is unusual, some byte
    is not UTF-8 (or the table does not hold `records` records): those files are then read record
    by record."""
    if not all(_utf8(part) for part in contents):
        return None
    content = b"".join(part if part.endswith(b"\n") else part + b"\n" for part in contents if part)
    try:
        table = pa_json.read_json(
            io.BytesIO(content),
            read_options=pa_json.ReadOptions(block_size=JSON_BLOCK_BYTES),
            parse_options=pa_json.ParseOptions(explicit_schema=_CAPTURE_SCHEMA, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if len(table) == records else None


def _equals(values: pa.Array, text: str) -> np.ndarray:
    """`values == text` as a numpy mask (False for nulls), compared once per distinct value."""
    if not values.null_count and _all_equal(values, text.encode()):
        return np.ones(len(values), dtype=bool)
    encoded = pc.dictionary_encode(values)
    matches = np.append(to_numpy(pc.equal(encoded.dictionary, string_scalar(text)), null_value=False), False)
    return matches[to_numpy(encoded.indices, null_value=len(matches) - 1)]


def _all_equal(values: pa.Array, text: bytes) -> bool:
    """Whether every value of a string array without nulls is `text` (two buffer comparisons)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1, offset=4 * values.offset)
    if not len(values) or not (np.diff(offsets) == len(text)).all():
        return False
    data = values.buffers()[2].slice(int(offsets[0]), len(text) * len(values))
    return data.equals(pa.py_buffer(text * len(values)))


def _any_ends_in_line_feed(data: pa.Array) -> bool:
    offsets = np.frombuffer(data.buffers()[1], dtype=np.int32, count=len(data) + 1, offset=4 * data.offset)
    ends = offsets[1:][np.diff(offsets) > 0] - 1
    return bool(len(ends)) and bool((np.frombuffer(data.buffers()[2], dtype=np.uint8)[ends] == ord("\n")).any())


def _quote_or_break(data: pa.Array) -> bool:
    """Whether any value may hold a quote or a line break (one scan of the whole text buffer)."""
    text = data.buffers()[2]
    return text is not None and any(pattern.search(memoryview(text)) for pattern in _QUOTE_OR_BREAK)


def _plain_text(data: pa.Array, simple_strings: bool) -> tuple[pa.Array, np.ndarray]:
    """`data` without trailing line breaks, and which values are present and hold no quote or line
    break (commas then separate the fields). Usually settled by buffer scans, not per value; with
    `simple_strings` (see `all_strings_simple`) by the last byte of each value."""
    if simple_strings:
        if _any_ends_in_line_feed(data):
            data = pc.utf8_rtrim(data, characters="\n")
        return data, ~to_numpy(pc.is_null(data))
    if _quote_or_break(data):
        data = pc.utf8_rtrim(data, characters="\r\n")
    present = ~to_numpy(pc.is_null(data))
    if not _quote_or_break(data):
        return data, present
    quoted = to_numpy(pc.match_substring_regex(data, r'["\r\n]'), null_value=True)
    return data, present & ~quoted


def _epoch_seconds(moment: datetime) -> int:
    # Whole seconds, rounded down (as a second-precision pyarrow timestamp of `moment`).
    return (moment - _EPOCH) // timedelta(seconds=1)


def fast_candidates(table: pa.Table, window: Window, simple_strings: bool) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Which records pyarrow can turn into rows directly, which are settled (outside the window,
    no rows), and every record's row text (output fields, then input fields) ending in a newline."""
    capture = table.column("captureData").combine_chunks()
    out_part, in_part = pc.struct_field(capture, [_OUTPUT]), pc.struct_field(capture, [_INPUT])
    out_data, out_plain = _plain_text(pc.struct_field(out_part, [_DATA]), simple_strings)
    in_data, in_plain = _plain_text(pc.struct_field(in_part, [_DATA]), simple_strings)
    # A record without one of its parts is unusable: the per-record path says why.
    ok = in_plain & _equals(pc.struct_field(in_part, [_ENCODING]), "CSV")
    ok &= out_plain & _equals(pc.struct_field(out_part, [_ENCODING]), "CSV")
    outside = np.zeros(len(table), dtype=bool)
    if window.bounded:
        times = pc.strptime(
            pc.struct_field(table.column("eventMetadata").combine_chunks(), [_TIME]),
            format=TIME_FORMAT,
            unit="s",
            error_is_null=True,
        )
        inside = ~to_numpy(pc.is_null(times))
        ok &= inside
        seconds = to_numpy(times.cast(pa.int64()), null_value=0)
        if window.start:
            inside &= seconds >= _epoch_seconds(window.start)
        if window.end:
            inside &= seconds < _epoch_seconds(window.end)
        # Records outside the window are settled here: "handled, no rows".
        outside = ~inside
    comma, newline, nothing = (string_scalar(text) for text in (",", "\n", ""))
    lines = pc.binary_join_element_wise(out_data, comma, in_data, newline, nothing)
    return ok & ~outside, ok & outside, lines


def _columns_from_split(lines: pa.Array, width: int) -> list[pa.Array]:
    """Split newline-terminated rows on commas into `width` string columns (missing beyond a row's end)."""
    fields = pc.split_pattern(pc.utf8_rtrim(lines, characters="\n"), ",")
    lengths = to_numpy(pc.list_value_length(fields))
    starts = to_numpy(fields.offsets)[:-1]
    values = fields.flatten()
    columns = []
    for j in range(width):
        present = lengths > j
        columns.append(values.take(index_array(np.where(present, starts + j, 0), valid=present)))
    return columns


def _columns_from_csv(lines: pa.Array, width: int) -> list[pa.Array] | None:
    """`width` string columns of newline-terminated rows without quotes or line breaks, parsed by
    one `pyarrow.csv` call; None when some row does not hold `width` fields. (Plain strings: the
    profiler dictionary-encodes a whole flush at once, cheaper than per-block dictionaries.)"""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=4 * lines.offset)
    text = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    if text.slice(0, len(_BOM)).to_pybytes() == _BOM:
        return None  # pyarrow would drop a leading byte-order mark
    names = [f"c{j}" for j in range(width)]
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(text),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
    except pa.ArrowInvalid:
        return None
    if len(table) != len(lines):
        return None
    return [column.combine_chunks() for column in table.columns]


def fast_rows(lines: pa.Array, width: int) -> tuple[list[tuple[np.ndarray, list[pa.Array]]], np.ndarray]:
    """(positions, columns) parts of plain-CSV rows, and each row's number of fields.

    Rows with the baseline's number of fields (the usual case) go through the CSV parser; the others
    are split one by one (padded or cut to `width`).
    """
    columns = _columns_from_csv(lines, width)
    if columns is not None:
        return [(np.arange(len(lines)), columns)], np.full(len(lines), width)
    lengths = to_numpy(pc.count_substring(lines, ",")) + 1
    whole = lengths == width
    parts = []
    if whole.any():
        columns = _columns_from_csv(lines.filter(bool_array(whole)), width)
        if columns is not None:
            parts.append((np.flatnonzero(whole), columns))
            lines = lines.filter(bool_array(~whole))
        else:
            whole[:] = False
    if len(lines):
        parts.append((np.flatnonzero(~whole), _columns_from_split(lines, width)))
    return parts, lengths
