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

FRACTIONAL_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$"
INTEGRAL_PATTERN = r"^(-|\+)? ?\d+$"
BOOLEAN_PATTERN = r"^(true|false)$"

# Codes of `classify`, in Deequ's order of precedence.
UNKNOWN, FRACTIONAL, INTEGRAL, BOOLEAN, STRING = range(5)
TYPE_NAMES = ("Unknown", "Fractional", "Integral", "Boolean", "String")
PRESENT_TYPES = TYPE_NAMES[1:]
NUMERIC_TYPES = ("Integral", "Fractional")


def classify(values: pa.Array) -> np.ndarray:
    """Type code (uint8) of every value of a string array; null and "" are UNKNOWN.

    Values that are plain ASCII digits are settled without a regex (the common case); the
    regexes run only on the rest.
    """
    values = values.cast(pa.string()) if values.type != pa.string() else values
    codes = np.full(len(values), STRING, dtype=np.uint8)
    if len(values) == 0:
        return codes
    filled = values.fill_null("")
    codes[np.asarray(pc.equal(filled, ""))] = UNKNOWN
    digits = np.asarray(pc.ascii_is_decimal(filled))
    codes[digits] = INTEGRAL
    rest = np.flatnonzero(codes == STRING)
    if len(rest) == 0:
        return codes
    subset = filled.take(pa.array(rest))
    for code, pattern in ((FRACTIONAL, FRACTIONAL_PATTERN), (INTEGRAL, INTEGRAL_PATTERN), (BOOLEAN, BOOLEAN_PATTERN)):
        hit = np.asarray(pc.match_substring_regex(subset, pattern))
        codes[rest[hit]] = code
        keep = ~hit
        rest, subset = rest[keep], subset.filter(pa.array(keep))
        if len(rest) == 0:
            break
    return codes


def parse_numbers(values: pa.Array, codes: np.ndarray) -> np.ndarray:
    """float64 of every INTEGRAL/FRACTIONAL value as Spark casts it; NaN where the cast fails.

    Callers pass only values whose codes are numeric (other positions come back NaN).
    """
    out = np.full(len(values), np.nan)
    numeric = np.flatnonzero((codes == INTEGRAL) | (codes == FRACTIONAL))
    if len(numeric) == 0:
        return out
    text = values.take(pa.array(numeric)).cast(pa.string())
    # A sign followed by a space parses nowhere; a leading space (no sign) is trimmed.
    spaced = np.asarray(pc.match_substring_regex(text, r"^[-+] "))
    text = pc.utf8_ltrim(text, " ")
    if spaced.any():
        text = pc.if_else(pa.array(spaced), "0", text)
    out[numeric] = np.asarray(pc.cast(text, pa.float64()))
    out[numeric[spaced]] = np.nan
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
