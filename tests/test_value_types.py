"""Per-value and per-column types (contract, section 6) and Spark-like number parsing."""

from __future__ import annotations

import math
import re

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.value_types import (
    FRACTIONAL,
    INTEGRAL,
    STRING,
    TYPE_NAMES,
    classify,
    column_type,
    parse_numbers,
)

CASES = {
    "": "Unknown",
    "0": "Integral",
    "007": "Integral",
    "-5": "Integral",
    "+5": "Integral",
    " 5": "Integral",
    "- 5": "Integral",
    "5 ": "String",
    "274.4": "Fractional",
    "-0.0": "Fractional",
    "1e5": "Fractional",
    "1.5E-3": "Fractional",
    "2E+10": "Fractional",
    ".5": "String",
    "5.": "String",
    "1.2.3": "String",
    "1e": "String",
    "true": "Boolean",
    "false": "Boolean",
    "True": "String",
    "NaN": "String",
    "Infinity": "String",
    "0x1F": "String",
    "1_000": "String",
    "١٢": "String",  # Arabic-Indic digits: Java's \\d is ASCII only
    "５": "String",
    "abc": "String",
}


def test_value_classification() -> None:
    values = list(CASES)
    codes = classify(pa.array(values))
    assert {value: TYPE_NAMES[code] for value, code in zip(values, codes, strict=True)} == CASES


def test_null_is_unknown_and_dictionary_arrays_work() -> None:
    assert [TYPE_NAMES[c] for c in classify(pa.array(["1", None, "x"]))] == ["Integral", "Unknown", "String"]
    assert [TYPE_NAMES[c] for c in classify(pa.array(["1.5", "a"]).dictionary_encode().dictionary)] == [
        "Fractional",
        "String",
    ]


# The contract's regexes in Python (with [0-9] for Java's ASCII \d), as an independent oracle.
_FRACTIONAL = re.compile(r"(-|\+)? ?[0-9]+((\.[0-9]+)|((?:\.[0-9]+)?[Ee][-+]?[0-9]+))")
_INTEGRAL = re.compile(r"(-|\+)? ?[0-9]+")
_BOOLEAN = re.compile(r"true|false")


def _oracle(value: str) -> int:
    if value == "":
        return 0
    for code, pattern in ((FRACTIONAL, _FRACTIONAL), (INTEGRAL, _INTEGRAL), (3, _BOOLEAN)):
        if pattern.fullmatch(value):
            return code
    return STRING


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.eE+- tfrualsx", max_size=8), max_size=40))
def test_classification_equals_the_regexes(values: list[str]) -> None:
    assert classify(pa.array(values, type=pa.string())).tolist() == [_oracle(v) for v in values]


def test_parse_like_spark_casts() -> None:
    values = ["5", " 5", "- 5", "+5", "1e5", "274.4", "12345678901234567890123", "1e999", "-0.0", "x"]
    codes = classify(pa.array(values))
    parsed = parse_numbers(pa.array(values), codes)
    assert parsed[:2].tolist() == [5.0, 5.0]
    assert math.isnan(parsed[2])  # a space after the sign fails Spark's cast
    assert parsed[3:8].tolist() == [5.0, 100000.0, 274.4, 1.2345678901234568e22, math.inf]
    assert np.signbit(parsed[8]) and parsed[8] == 0.0
    assert math.isnan(parsed[9])  # not numeric


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, "Unknown"),
        ({"Integral": 3}, "Integral"),
        ({"Integral": 3, "Fractional": 1}, "Fractional"),
        ({"Boolean": 2}, "Boolean"),
        ({"Boolean": 2, "Integral": 1}, "String"),
        ({"Fractional": 5, "String": 1}, "String"),
    ],
)
def test_column_type(counts: dict[str, int], expected: str) -> None:
    assert column_type(counts) == expected
