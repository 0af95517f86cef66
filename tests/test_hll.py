"""Spark's XxHash64 and Deequ's HyperLogLog++ distinct counts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import hll

MASK = (1 << 64) - 1
P1, P2, P3, P4, P5 = (
    0x9E3779B185EBCA87,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0x85EBCA77C2B2AE63,
    0x27D4EB2F165667C5,
)


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & MASK


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * P2) & MASK, 31) * P1) & MASK


def scalar_xxhash64(data: bytes, seed: int) -> int:
    """Plain-Python XXH64 from the specification (independent of the vectorised version)."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & MASK, (seed + P2) & MASK, seed & MASK, (seed - P1) & MASK]
        while i + 32 <= n:
            for lane in range(4):
                v[lane] = _round(v[lane], int.from_bytes(data[i + 8 * lane : i + 8 * lane + 8], "little"))
            i += 32
        acc = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & MASK
        for lane in v:
            acc = (((acc ^ _round(0, lane)) * P1) + P4) & MASK
    else:
        acc = (seed + P5) & MASK
    acc = (acc + n) & MASK
    while i + 8 <= n:
        acc ^= _round(0, int.from_bytes(data[i : i + 8], "little"))
        acc = (_rotl(acc, 27) * P1 + P4) & MASK
        i += 8
    if i + 4 <= n:
        acc ^= (int.from_bytes(data[i : i + 4], "little") * P1) & MASK
        acc = (_rotl(acc, 23) * P2 + P3) & MASK
        i += 4
    while i < n:
        acc ^= (data[i] * P5) & MASK
        acc = (_rotl(acc, 11) * P1) & MASK
        i += 1
    acc ^= acc >> 33
    acc = (acc * P2) & MASK
    acc ^= acc >> 29
    acc = (acc * P3) & MASK
    return acc ^ (acc >> 32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0xEF46DB3751D8E999),
        ("a", 0xD24EC4F1A98C6E5B),
        ("abc", 0x44BC2CF5AD770999),
        ("Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1),
    ],
)
def test_xxhash64_published_vectors(text: str, expected: int) -> None:
    assert int(hll.xxhash64(pa.array([text]), seed=0)[0]) == expected
    assert scalar_xxhash64(text.encode(), 0) == expected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=30))
def test_vectorised_hash_equals_the_specification(texts: list[str]) -> None:
    expected = [scalar_xxhash64(t.encode(), hll.SEED) for t in texts]
    assert [int(h) for h in hll.xxhash64(pa.array(texts, type=pa.string()))] == expected
    # A slice of a larger array (values start past its first bytes), as a dictionary's filter gives.
    sliced = pa.array(["padding", *texts], type=pa.string()).slice(1)
    assert [int(h) for h in hll.xxhash64(sliced)] == expected


def _estimate(values: list[str]) -> int:
    return hll.estimate(hll.registers_of(hll.xxhash64(pa.array(values, type=pa.string()))))


def test_empty_and_single_value() -> None:
    assert hll.estimate(np.zeros(hll.M, dtype=np.uint8)) == 0
    assert _estimate(["only"]) == 1
    assert _estimate(["only"] * 1000) == 1


def test_registers_ignore_order_and_repeats() -> None:
    values = [f"v{i}" for i in range(300)]
    a = hll.registers_of(hll.xxhash64(pa.array(values)))
    b = hll.registers_of(hll.xxhash64(pa.array(values[::-1] + values[:50])))
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("n", [10, 100, 1000, 3000, 50_000])
def test_estimates_are_close(n: int) -> None:
    # p = 9 gives about 4.6% standard error; linear counting below 400, bias-corrected above.
    estimate = _estimate([f"customer-{i}" for i in range(n)])
    assert abs(estimate - n) <= max(2, 0.15 * n)


def test_linear_counting_formula() -> None:
    registers = np.zeros(hll.M, dtype=np.uint8)
    registers[:20] = 1
    assert hll.estimate(registers) == round(hll.M * np.log(hll.M / (hll.M - 20)))
