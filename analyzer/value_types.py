"""Type of each value and of each column (contract, section 6; Deequ's `StatefulDataType`).

A value is classified by full-string regular expressions, tried in this order:

- Fractional `^(-|\\+)? ?\\d+((\\.\\d+)|((?:\\.\\d+)?[Ee][-+]?\\d+))$`
- Integral   `^(-|\\+)? ?\\d+$`
- Boolean    `^(true|false)$`
- String     anything else; an empty or missing value is Unknown (not present).

`\\d` is ASCII [0-9] in Java, as in RE2 (pyarrow); Python's `re` needs `[0-9]` for the same
meaning. The column type follows Deequ's `DataTypeHistogram.determineType`.

Numbers are parsed as Spark casts them: `Double.parseDouble` / `UTF8String.toLong` trim
surrounding spaces, but a space *between sign and digits* (allowed by the regexes) fails the cast,
so such a value counts as present yet adds nothing to the numeric statistics (Spark gives null).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import bool_array, index_array, string_lengths, to_numpy

FRACTIONAL_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$"
INTEGRAL_PATTERN = r"^(-|\+)? ?\d+$"
BOOLEAN_PATTERN = r"^(true|false)$"

# Codes of `classify`, in Deequ's order of precedence.
UNKNOWN, FRACTIONAL, INTEGRAL, BOOLEAN, STRING = range(5)
TYPE_NAMES = ("Unknown", "Fractional", "Integral", "Boolean", "String")


def classify(values: pa.Array) -> np.ndarray:
    """Type code (uint8) of every value of a string array; null and "" are UNKNOWN.

    Values that are plain ASCII digits are settled without a regex (the common case); the
    regexes run only on the rest.
    """
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    codes = np.full(len(values), STRING, dtype=np.uint8)
    unknown = string_lengths(values) == 0
    if values.null_count:
        unknown |= to_numpy(values.is_null())
    codes[unknown] = UNKNOWN
    rest = np.flatnonzero(~unknown)
    subset = values.take(index_array(rest)) if len(rest) < len(values) else values
    digits = to_numpy(pc.ascii_is_decimal(subset))
    codes[rest[digits]] = INTEGRAL
    rest, subset = rest[~digits], subset.filter(bool_array(~digits))
    for code, pattern in ((FRACTIONAL, FRACTIONAL_PATTERN), (INTEGRAL, INTEGRAL_PATTERN), (BOOLEAN, BOOLEAN_PATTERN)):
        if len(rest) == 0:
            break
        hit = to_numpy(pc.match_substring_regex(subset, pattern))
        codes[rest[hit]] = code
        rest, subset = rest[~hit], subset.filter(bool_array(~hit))
    return codes


def parse_numbers(values: pa.Array, codes: np.ndarray) -> np.ndarray:
    """float64 of every INTEGRAL/FRACTIONAL value as Spark casts it; NaN elsewhere and where the cast fails."""
    out = np.full(len(values), np.nan)
    numeric = np.flatnonzero((codes == INTEGRAL) | (codes == FRACTIONAL))
    if len(numeric) == 0:
        return out
    text = values.take(index_array(numeric)) if len(numeric) < len(values) else values
    if not pa.types.is_string(text.type):
        text = text.cast(pa.string())
    # A sign followed by a space parses nowhere (left NaN); a leading space (no sign) is trimmed.
    castable = ~to_numpy(pc.match_substring_regex(text, r"^[-+] "))
    if not castable.all():
        numeric, text = numeric[castable], text.filter(bool_array(castable))
    out[numeric] = to_numpy(pc.cast(pc.utf8_ltrim(text, " "), pa.float64()))
    return out


def column_type(counts: Mapping[str, int]) -> str:
    """Deequ's rule from the counts of present values by their own type.

    No present value: Unknown; any String, or Boolean mixed with numbers: String; any Boolean:
    Boolean (written as String by the statistics); any Fractional: Fractional; else Integral.
    """
    integral, fractional = counts.get("Integral", 0), counts.get("Fractional", 0)
    boolean, string = counts.get("Boolean", 0), counts.get("String", 0)
    if integral + fractional + boolean + string == 0:
        return "Unknown"
    if string > 0 or (boolean > 0 and integral + fractional > 0):
        return "String"
    if boolean > 0:
        return "Boolean"
    return "Fractional" if fractional > 0 else "Integral"


def parses_as_number(text: str) -> bool:
    """Whether Python reads `text` as a float (the per-value check behind a bad-input message)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
