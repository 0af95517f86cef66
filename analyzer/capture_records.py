"""One capture record (contract, section 1) into rows: the per-record path of the capture reader.

A record line is a JSON object; its `eventMetadata.inferenceTime` places it in the window, and
its `captureData.endpointOutput` and `endpointInput` parts (CSV, JSON, or BASE64 of either) decode
into rows: the output fields first, then the input fields. `RecordError` says why a line gives
no rows; the reader reports it with the file and line and keeps the other records.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
from datetime import datetime

from contract.errors import WindowError
from contract.layout import Window, parse_time
from contract.processing import ROW_PARTS

Row = list[str | None]  # one value per field; None or "" = missing


class RecordError(ValueError):
    """One record cannot be turned into rows; the message says why."""


def parse_record(line: bytes, window: Window) -> dict | None:
    """The record of one line, or None when it lies outside the window."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
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


def dict_row(item: dict) -> Row:
    # Keys sorted define the column order (contract, section 9).
    return [_text(item[key], key) for key in sorted(item, key=str)]


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


def _csv_rows(text: str) -> list[Row]:
    lines = text.rstrip("\r\n").split("\n")
    return [next(csv.reader([line.rstrip("\r")]), []) for line in lines]


def _json_rows(text: str, name: str) -> list[Row]:
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
    return [dict_row(item) for item in items]


def _part_rows(part: object, name: str) -> list[Row]:
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise RecordError(f"captureData.{name} has no 'data' string")
    encoding, data = part.get("encoding"), part["data"]
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


def record_parts(record: dict) -> tuple[list[Row] | None, list[Row] | None]:
    """The decoded rows of a record's output and of its input (None for an absent part), as many of
    each when both are there."""
    capture = record.get("captureData")
    if not isinstance(capture, dict):
        raise RecordError("no 'captureData' object; is this a data-capture file?")
    output, inputs = (_part_rows(capture[name], name) if capture.get(name) is not None else None for name in ROW_PARTS)
    decoded = [rows for rows in (output, inputs) if rows is not None]
    if not decoded:
        raise RecordError("captureData has neither endpointInput nor endpointOutput")
    if len({len(rows) for rows in decoded}) > 1:
        counts = " and ".join(f"{len(rows)}" for rows in decoded)
        raise RecordError(f"output and input hold {counts} rows: they cannot be paired; send one row per request")
    return output, inputs


def record_rows(record: dict) -> list[Row]:
    """The rows of one capture record: output fields, then input fields."""
    decoded = [rows for rows in record_parts(record) if rows is not None]
    return [[value for rows in parts for value in rows] for parts in zip(*decoded, strict=True)]
