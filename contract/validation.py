"""Checking a parsed JSON document against a small schema: every problem, each with its JSON path.

`documents` declares the shapes of statistics.json, constraints.json and the monitoring config
with `Leaf` (a scalar rule and the fix it names), `Obj` and `Arr`; `check` walks a document and
records each problem in `Problems` (`$.features[3].completeness is "full"; use a number in
[0, 1]`), so a damaged file is reported in one go instead of one traceback at a time.
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from contract.errors import DocumentError

MAX_PROBLEMS = 10  # listed per document; the rest are counted
# Jackson writes non-finite doubles as these strings (analyzer.jsonfmt does the same).
JAVA_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
LONG_MAX = 2**63 - 1  # counts are Java longs
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def shown(value: object, limit: int = 60) -> str:
    """A value as JSON, shortened: what the problem says was found."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind(value: object) -> str:
    """A JSON value's kind, with its article (`an object`, `a list`, `a string`, ...)."""
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a string" if isinstance(value, str) else "a number" if is_number(value) else type(value).__name__


def child(path: str, key: str) -> str:
    return f"{path}.{key}" if _IDENTIFIER.match(key) else f"{path}[{json.dumps(key)}]"


def is_number(value: object) -> bool:
    """A JSON number (numpy's too), not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def as_double(value: object) -> float | None:
    """The double a JSON value stands for (Jackson's quoted non-finite strings included), else None."""
    if is_number(value):
        try:
            return float(value)
        except OverflowError:  # an integer beyond the double range
            return None
    return JAVA_NON_FINITE.get(value) if isinstance(value, str) else None


class Problems:
    """The problems of one document (`source` names it: a path, or e.g. "baseline statistics")."""

    def __init__(self, source: str | None = None) -> None:
        self.source = source
        self.found: list[str] = []
        self.total = 0

    def add(self, path: str, text: str) -> None:
        self.total += 1
        if len(self.found) < MAX_PROBLEMS:
            self.found.append(f"{self.source}: {path} {text}" if self.source else f"{path} {text}")

    def value(self, path: str, value: object, fix: str) -> None:
        self.add(path, f"is {shown(value)}; use {fix}")

    def raise_if_any(self) -> None:
        if self.total:
            raise DocumentError(self.source, self.found, self.total)


@dataclass(frozen=True)
class Leaf:
    """A scalar: `accepts(value)` decides; a problem names `fix` ("use a number in [0, 1]")."""

    accepts: Callable[[object], bool]
    fix: str
    fast_type: type | None = None  # items of exactly this type are accepted without a call (long lists)


@dataclass(frozen=True)
class Obj:
    """An object whose keys follow `fields`; `closed`: other keys are problems (hand-edited blocks,
    where a misspelt key would otherwise be ignored without a word)."""

    fields: Mapping[str, Leaf | Obj | Arr]
    required: tuple[str, ...] = ()
    closed: bool = False
    what: str = "key"  # what the keys are, for an unknown key's message


@dataclass(frozen=True)
class Arr:
    items: Leaf | Obj | Arr


def check(value: object, schema: Leaf | Obj | Arr, path: str, problems: Problems) -> None:
    """Record every way `value` departs from `schema` (absent optional keys are fine)."""
    if isinstance(schema, Leaf):
        if not schema.accepts(value):
            problems.value(path, value, schema.fix)
    elif isinstance(schema, Arr):
        if not isinstance(value, list):
            problems.add(path, f"must be a list, got {kind(value)}")
            return
        items = schema.items
        if isinstance(items, Leaf) and items.fast_type and all(type(v) is items.fast_type for v in value):
            return
        for index, item in enumerate(value):
            check(item, items, f"{path}[{index}]", problems)
    elif not isinstance(value, Mapping):
        problems.add(path, f"must be an object, got {kind(value)}")
    else:
        _check_object(value, schema, path, problems)


def _check_object(value: Mapping, schema: Obj, path: str, problems: Problems) -> None:
    for key in schema.required:
        if key not in value:
            rule = schema.fields[key]
            fix = rule.fix if isinstance(rule, Leaf) else "an object" if isinstance(rule, Obj) else "a list"
            problems.add(child(path, key), f"is missing; use {fix}")
    for key, item in value.items():
        rule = schema.fields.get(key)
        if rule is not None:
            check(item, rule, child(path, str(key)), problems)
        elif schema.closed:
            close = difflib.get_close_matches(str(key), list(schema.fields), n=1)
            hint = f"did you mean {json.dumps(close[0])}? " if close else ""
            known = ", ".join(schema.fields)
            problems.add(child(path, str(key)), f"is not a known {schema.what}; {hint}use one of {known}")


# --- common leaves --------------------------------------------------------------------------------


def number_in(
    low: float | None = None, high: float | None = None, *, nan: bool = False, low_open: bool = False
) -> Callable:
    """A rule for doubles in [low, high] (`low_open`: (low, high]); NaN only when `nan`."""

    def accepts(value: object) -> bool:
        x = as_double(value)
        if x is None or math.isnan(x):
            return x is not None and nan
        above = low is None or (x > low if low_open else x >= low)
        return above and (high is None or x <= high)

    return accepts


def whole(low: int = 0, high: int = LONG_MAX) -> Callable:
    """A rule for whole numbers (a JSON integer, or a double without a fraction) in [low, high]."""

    def accepts(value: object) -> bool:
        if not is_number(value):
            return False
        x = as_double(value)
        return x is not None and math.isfinite(x) and x == math.floor(x) and low <= value <= high

    return accepts


DOUBLE = Leaf(number_in(nan=True), "a number", fast_type=float)
ITEM = Leaf(number_in(), "a number (not NaN)", fast_type=float)
SHARE = Leaf(number_in(0.0, 1.0), "a number in [0, 1]")
NON_NEGATIVE = Leaf(number_in(0.0), "a number >= 0")
COUNT = Leaf(whole(), "a whole number >= 0 (below 2^63)")
TEXT = Leaf(lambda v: isinstance(v, str), "a string")
BOOLEAN = Leaf(lambda v: isinstance(v, bool), "true or false")
SCALAR = Leaf(lambda v: isinstance(v, (str, bool)) or is_number(v), "a string or a number", fast_type=str)


def one_of(choices: tuple[str, ...], fix: str | None = None) -> Leaf:
    return Leaf(lambda v: isinstance(v, str) and v in choices, fix or f"one of {', '.join(choices)}")
