"""Java's `Double.toString`: the number format of the service's documents and messages.

Always a fraction digit, scientific form (`3.8E7`, `1.0E-4`) outside [1e-3, 1e7), shortest digits
that round-trip (Python's repr), so `float(java_double(x)) == x` for every finite x.
"""

from __future__ import annotations

import math


def java_double(value: float) -> str:
    """`Double.toString(value)` (shortest round-trip digits)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        # Python's repr is positional here and already has a fraction digit.
        return repr(value)
    digits, exponent = _shortest_digits(magnitude)
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest_digits(magnitude: float) -> tuple[str, int]:
    """Significant digits of repr(magnitude) and the decimal exponent of the first one."""
    text = repr(magnitude)
    if "e" in text:
        mantissa, exp = text.split("e")
        whole, _, fraction = mantissa.partition(".")
        digits, exponent = whole + fraction, int(exp) + len(whole) - 1
    else:
        whole, _, fraction = text.partition(".")
        if whole != "0":
            digits, exponent = whole + fraction, len(whole) - 1
        else:
            stripped = fraction.lstrip("0")
            digits, exponent = stripped, -(len(fraction) - len(stripped) + 1)
    digits = digits.lstrip("0").rstrip("0") or "0"
    return digits, exponent
