"""One capture record (contract, section 1) into rows: the per-record path of the capture reader.

A record line is a JSON object; its `eventMetadata.inferenceTime` places it in the window, and
its `captureData.endpointOutput` and `endpointInput` parts (CSV, JSON, or BASE64 of either) decode
into rows: the output fields first, then the input fields. `RecordError` says why a line gives
no rows; the reader reports it with the file and line and keeps the other records. A record
needs both parts: without one, its fields would land in the wrong columns.

Columns of JSON objects (and of a preprocess_handler's dicts) are found by name, the rule of
`mapped_row`: when every key is one of the baseline's column names, each value goes to its column
(key order does not matter; absent columns are missing); when no key is, the values are placed by
position in sorted-key order (the service's rule for preprocessor output, section 9); a mix of
both is unusable (which column a stray key means cannot be known). CSV fields are positional.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime

from contract.errors import WindowError
from contract.layout import Window, parse_time
from contract.processing import ROW_PARTS

Row = list[str | None]  # one value per field; None or "" = missing
Fields = Row | dict[str, str | None]  # one part's fields: positional (CSV) or named (JSON objects)


class RecordError(ValueError):
    """One record cannot be turned into rows; the message says why."""


def parse_record(line: bytes, window: Window) -> dict | None:
    """The record of one line, or None when it lies outside the window."""
    try:
        record = json.loads(line)
    except UnicodeDecodeError as exc:
        raise RecordError(
            f"not UTF-8 text (byte {line[exc.start]:#04x} at position {exc.start} of the line); "
            "capture records are UTF-8 JSON: the file is damaged or was not written by data capture"
        ) from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"not a JSON object ({exc}); the file may be truncated or not a capture file") from None
    if not isinstance(record, dict):
        raise RecordError("not a JSON object; is this a data-capture file?")
    if window.bounded and not window.contains(_event_time(record)):
        return None
    return record


def _event_time(record: dict) -> datetime:
    meta = record.get("eventMetadata")
    text = meta.get("inferenceTime") if isinstance(meta, dict) else None
    if not isinstance(text, str):
        raise RecordError("no eventMetadata.inferenceTime, so the record cannot be placed in the window")
    try:
        return parse_time(text, "eventMetadata.inferenceTime")
    except WindowError as exc:
        raise RecordError(str(exc)) from None


def _text(value: object, key: object) -> str | None:
    """A preprocessor or JSON value as the text the profiler reads."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        raise RecordError(
            f"value of {key!r} is a {type(value).__name__}; rows must be flat: "
            "flatten nested values in a preprocess_handler"
        )
    return str(value)


def flat_fields(item: dict) -> dict[str, str | None]:
    """A JSON object's (or a preprocessor dict's) values as texts, by key; RecordError when nested."""
    return {str(key): _text(value, key) for key, value in item.items()}


def _by_position(fields: Fields) -> Row:
    # Keys sorted define the column order (contract, section 9).
    return [fields[key] for key in sorted(fields)] if isinstance(fields, dict) else fields


def mapped_row(parts: Sequence[Fields], names: Sequence[str] | None) -> Row:
    """One row from its parts (output first, then input): see the module's rule for named fields."""
    named = [fields for fields in parts if isinstance(fields, dict)]
    keys = [key for fields in named for key in fields]
    columns = {name: index for index, name in enumerate(names or ())}
    known = [key for key in keys if key in columns]
    if not known:
        return [value for fields in parts for value in _by_position(fields)]
    if len(known) < len(keys) or len(set(keys)) < len(keys):
        stray = sorted({key for key in keys if key not in columns or keys.count(key) > 1})
        raise RecordError(
            f"keys {stray[:5]} are not columns of the baseline or appear twice, while others are: "
            "name every field after a baseline column (or none, for columns by position)"
        )
    row: Row = [value for fields in parts if not isinstance(fields, dict) for value in fields]
    taken = len(row)
    row += [None] * (len(columns) - taken)
    for fields in named:
        for key, value in fields.items():
            if columns[key] < taken:
                raise RecordError(f"key {key!r} names column {columns[key] + 1}, which positional fields already fill")
            row[columns[key]] = value
    return row


def _content_kind(content_type: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if "json" in media:
        return "JSON"
    if "csv" in media or media == "text/plain":
        return "CSV"
    raise RecordError(
        f"BASE64 data of content type {content_type!r} cannot be read; "
        "add the type to the capture's CsvContentTypes/JsonContentTypes or use a preprocess_handler"
    )


def _csv_rows(text: str) -> list[Fields]:
    # One row per line, but a quoted field may hold line breaks; an empty line is one empty field.
    return [row or [""] for row in csv.reader(io.StringIO(text.rstrip("\r\n"), newline=""))] or [[""]]


def _json_rows(text: str, name: str) -> list[Fields]:
    try:
        # Numbers keep their text so the profiler sees exactly what was sent.
        value = json.loads(text, parse_float=str, parse_int=str)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{name}.data is not valid JSON ({exc.msg} at column {exc.colno})") from None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise RecordError(
            f"{name}.data must be a flat JSON object (or a list of them); use a preprocess_handler for other shapes"
        )
    return [flat_fields(item) for item in items]


def _part_rows(part: object, name: str) -> list[Fields]:
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise RecordError(f"captureData.{name} has no 'data' string")
    encoding, data = part.get("encoding"), part["data"]
    if not data.isascii():
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\udc80"
            raise RecordError(f"{name}.data holds an escaped lone surrogate; it is not text") from None
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise RecordError(f"{name}.data is not base64-encoded UTF-8 text ({exc})") from None
        encoding = _content_kind(part.get("observedContentType"))
    if encoding == "CSV":
        return _csv_rows(data)
    if encoding == "JSON":
        return _json_rows(data, name)
    raise RecordError(f"{name}.encoding {encoding!r} is unknown; expected CSV, JSON or BASE64")


def record_fields(record: dict) -> tuple[list[Fields], list[Fields]]:
    """The decoded rows of a record's output and of its input, as many of each."""
    capture = record.get("captureData")
    if not isinstance(capture, dict):
        raise RecordError("no 'captureData' object; is this a data-capture file?")
    absent = [name for name in ROW_PARTS if capture.get(name) is None]
    if absent:
        raise RecordError(
            f"captureData has no {' and no '.join(absent)}; a row is the output fields, then the input fields, "
            "so without both its values would land in the wrong columns (capture both Input and Output)"
        )
    output, inputs = (_part_rows(capture[name], name) for name in ROW_PARTS)
    if len(output) != len(inputs):
        raise RecordError(
            f"output and input hold {len(output)} and {len(inputs)} rows: they cannot be paired; "
            "send one row per request"
        )
    return output, inputs


def record_parts(record: dict) -> tuple[list[Row], list[Row]]:
    """`record_fields` with named fields in sorted-key order (for a look at the record)."""
    output, inputs = record_fields(record)
    return [_by_position(fields) for fields in output], [_by_position(fields) for fields in inputs]


def record_rows(record: dict, names: Sequence[str] | None = None) -> list[Row]:
    """The rows of one capture record: output fields, then input fields (`mapped_row`)."""
    return [mapped_row(parts, names) for parts in zip(*record_fields(record), strict=True)]
