"""User scripts (contract, section 9): loading them, and the record preprocessor's input and output.

`load_handler` imports a function from a script (the record preprocessor, the post-analytics
processor); `load_preprocessor` adapts `preprocess_handler` to one argument. The handler gets an
`InferenceRecord` (the service's attribute names) and returns a flat dict (one row), a list of
them, or [] to drop the record; `handler_rows` turns that into rows, columns found by name (or by
position in sorted-key order when no key names a baseline column: `capture_records.mapped_row`).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analyzer.capture_records import RecordError, Row, flat_fields, mapped_row
from contract.errors import PreprocessorError


@dataclass(frozen=True)
class CapturePart:
    data: str | None
    encoding: str | None
    observedContentType: str | None  # the service's attribute name
    mode: str | None


@dataclass(frozen=True)
class EventMetadata:
    event_id: str | None
    event_time: str | None
    # Inferred: the service's name for the caller's CustomAttributes in the capture record.
    custom_attribute: str | None


@dataclass(frozen=True)
class InferenceRecord:
    endpoint_input: CapturePart | None
    endpoint_output: CapturePart | None
    event_metadata: EventMetadata
    event_version: str | None
    event_dict: dict


def inference_record(record: dict) -> InferenceRecord:
    capture = record.get("captureData") or {}
    meta = record.get("eventMetadata") or {}

    def part(name: str) -> CapturePart | None:
        raw = capture.get(name)
        if not isinstance(raw, dict):
            return None
        return CapturePart(raw.get("data"), raw.get("encoding"), raw.get("observedContentType"), raw.get("mode"))

    return InferenceRecord(
        endpoint_input=part("endpointInput"),
        endpoint_output=part("endpointOutput"),
        event_metadata=EventMetadata(meta.get("eventId"), meta.get("inferenceTime"), meta.get("customAttributes")),
        event_version=record.get("eventVersion"),
        event_dict=record,
    )


def load_handler(path: str, name: str, signature: str) -> Callable:
    """Import `name` from the script at `path`; PreprocessorError says what to fix."""
    spec = importlib.util.spec_from_file_location(f"user_script_{name}", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise PreprocessorError(f"{path}: script not found; pass the path of a .py file defining {signature}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's module may raise anything at import time
        raise PreprocessorError(f"{path}: cannot import the script ({type(exc).__name__}: {exc})") from None
    handler = getattr(module, name, None)
    if not callable(handler):
        raise PreprocessorError(f"{path}: defines no function {signature}")
    return handler


def load_preprocessor(path: str) -> Callable[[InferenceRecord], object]:
    """`preprocess_handler(inference_record)` or `preprocess_handler(inference_record, logger)`."""
    handler = load_handler(path, "preprocess_handler", "preprocess_handler(inference_record)")
    try:
        positional = [
            p
            for p in inspect.signature(handler).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):
        positional = []
    if len(positional) >= 2:
        logger = logging.getLogger("record_preprocessor")
        return lambda record: handler(record, logger)
    return handler


def handler_rows(result: object, names: Sequence[str] | None = None) -> list[Row]:
    """The rows of what `preprocess_handler` returned; RecordError for anything but flat dicts."""
    items = result if isinstance(result, list) else [result]
    if not all(isinstance(item, dict) for item in items):
        raise RecordError(
            f"preprocess_handler returned {type(result).__name__}; "
            "return a flat dict (one row) or [] to drop the record"
        )
    return [mapped_row([flat_fields(item)], names) for item in items]
