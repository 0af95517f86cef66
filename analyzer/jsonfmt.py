"""JSON text laid out as the service writes it (Jackson's default pretty printer, Java numbers).

Layout (contract, section 3): `"key" : value`, objects one entry per line with two-space
indentation, arrays inline (`[ 1.0, 2.0 ]`, `[ {` ... `}, {` ... `} ]`), empty containers
`{ }` and `[ ]`, a final newline. Python floats are written as Java's `Double.toString`:
always a fraction digit, scientific form (`3.8E7`, `1.0E-4`) outside [1e-3, 1e7); Python ints
(counts) without a point; non-finite doubles quoted (`"NaN"`, Jackson's default).

Digits are the shortest that round-trip (Python's repr). Java up to 18 printed a few rare
values with one more digit (JDK-4511638); those would differ in the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from contract.javanumbers import java_double

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _string(text: str) -> str:
    out = []
    for char in text:
        escaped = _SHORT_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = java_double(value)
        return text if math.isfinite(value) else f'"{text}"'
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON: {value!r}")


def _floats(values: Sequence[float]) -> list[str]:
    """Java texts of many doubles: repr where it already is Java's text, else `java_double`."""
    texts = list(map(repr, values))
    magnitude = np.abs(np.array(values, dtype=np.float64))
    positional = ((magnitude >= 1e-3) & (magnitude < 1e7)) | (magnitude == 0.0)
    for i in np.flatnonzero(~positional).tolist():
        texts[i] = _scalar(values[i])
    return texts


def _write(value: object, nesting: int, out: list[str]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.append("{ }")
            return
        inner = "\n" + "  " * (nesting + 1)
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + inner + _string(str(key)) + " : ")
            _write(item, nesting + 1, out)
        out.append("\n" + "  " * nesting + "}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            out.append("[ ]")
            return
        if all(type(item) is float for item in value):
            out.append("[ " + ", ".join(_floats(value)) + " ]")
            return
        out.append("[ ")
        for i, item in enumerate(value):
            if i:
                out.append(", ")
            # Arrays are inline: their items stay at the enclosing nesting level.
            _write(item, nesting, out)
        out.append(" ]")
    else:
        out.append(_scalar(value))


def dumps(document: Mapping) -> str:
    """The document as the service lays it out, keys in insertion order, with a final newline."""
    out: list[str] = []
    _write(document, 0, out)
    out.append("\n")
    return "".join(out)


def write_document(path: str, document: Mapping) -> None:
    """Write a document to `path` in the service's layout."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(dumps(document))
