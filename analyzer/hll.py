"""Approximate distinct counts as Deequ computes them (`ApproxCountDistinct`).

Deequ's `StatefulHyperloglogPlus` is Spark's HyperLogLog++ with relative SD 0.05, so p = 9
(512 registers). Each value is hashed with Spark's XxHash64 (seed 42) over its UTF-8 bytes, the
top 9 bits pick a register, and the register keeps the largest "leading zeros + 1" of the rest.
The estimate is linear counting below Spark's threshold (400 for p = 9), else the raw estimate
minus the HLL++ bias interpolated from the paper's tables (k = 6 nearest neighbours).

Deequ's column profiler computes it in its first pass on the columns *as read* (strings), so
numeric columns are counted by their text too: "1" and "1.0" are two values. This gives both
`distinct_count` (String features, a double) and `approximate_num_distinct_values` (numeric
features, an integer), and decides which String features get a categorical histogram (<= 120).

Hashing is vectorised: strings are grouped by byte length and each group is hashed as a 2-D
byte array with numpy uint64 arithmetic (wrap-around multiplication, as in Java).
"""

from __future__ import annotations

import bisect
import math

import numpy as np
import pyarrow as pa

from analyzer.arrays import index_array, string_lengths

P = 9
M = 1 << P
SEED = 42
LINEAR_COUNTING_THRESHOLD = 400  # Spark's THRESHOLDS(p - 4) for p = 9
BIAS_NEIGHBOURS = 6
ALPHA_M2 = (0.7213 / (1.0 + 1.079 / M)) * M * M

_MASK = (1 << 64) - 1
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)

# HyperLogLog++ appendix tables for precision 9 (Spark's HyperLogLogPlusPlusHelper).
RAW_ESTIMATES = (
    369, 374.8294, 381.2452, 387.6698, 394.1464, 400.2024, 406.8782, 413.6598, 420.462, 427.2826, 433.7102,
    440.7416, 447.9366, 455.1046, 462.285, 469.0668, 476.306, 483.8448, 491.301, 498.9886, 506.2422, 513.8138,
    521.7074, 529.7428, 537.8402, 545.1664, 553.3534, 561.594, 569.6886, 577.7876, 585.65, 594.228, 602.8036,
    611.1666, 620.0818, 628.0824, 637.2574, 646.302, 655.1644, 664.0056, 672.3802, 681.7192, 690.5234, 700.2084,
    708.831, 718.485, 728.1112, 737.4764, 746.76, 756.3368, 766.5538, 775.5058, 785.2646, 795.5902, 804.3818,
    814.8998, 824.9532, 835.2062, 845.2798, 854.4728, 864.9582, 875.3292, 886.171, 896.781, 906.5716, 916.7048,
    927.5322, 937.875, 949.3972, 958.3464, 969.7274, 980.2834, 992.1444, 1003.4264, 1013.0166, 1024.018,
    1035.0438, 1046.34, 1057.6856, 1068.9836, 1079.0312, 1091.677, 1102.3188, 1113.4846, 1124.4424, 1135.739,
    1147.1488, 1158.9202, 1169.406, 1181.5342, 1193.2834, 1203.8954, 1216.3286, 1226.2146, 1239.6684, 1251.9946,
    1262.123, 1275.4338, 1285.7378, 1296.076, 1308.9692, 1320.4964, 1333.0998, 1343.9864, 1357.7754, 1368.3208,
    1380.4838, 1392.7388, 1406.0758, 1416.9098, 1428.9728, 1440.9228, 1453.9292, 1462.617, 1476.05, 1490.2996,
    1500.6128, 1513.7392, 1524.5174, 1536.6322, 1548.2584, 1562.3766, 1572.423, 1587.1232, 1596.5164, 1610.5938,
    1622.5972, 1633.1222, 1647.7674, 1658.5044, 1671.57, 1683.7044, 1695.4142, 1708.7102, 1720.6094, 1732.6522,
    1747.841, 1756.4072, 1769.9786, 1782.3276, 1797.5216, 1808.3186, 1819.0694, 1834.354, 1844.575, 1856.2808,
    1871.1288, 1880.7852, 1893.9622, 1906.3418, 1920.6548, 1932.9302, 1945.8584, 1955.473, 1968.8248, 1980.6446,
    1995.9598, 2008.349, 2019.8556, 2033.0334, 2044.0206, 2059.3956, 2069.9174, 2082.6084, 2093.7036, 2106.6108,
    2118.9124, 2132.301, 2144.7628, 2159.8422, 2171.0212, 2183.101, 2193.5112, 2208.052, 2221.3194, 2233.3282,
    2247.295, 2257.7222, 2273.342, 2286.5638, 2299.6786, 2310.8114, 2322.3312, 2335.516, 2349.874, 2363.5968,
    2373.865, 2387.1918, 2401.8328, 2414.8496, 2424.544, 2436.7592, 2447.1682, 2464.1958, 2474.3438, 2489.0006,
    2497.4526, 2513.6586, 2527.19, 2540.7028, 2553.768,
)
BIASES = (
    368, 361.8294, 355.2452, 348.6698, 342.1464, 336.2024, 329.8782, 323.6598, 317.462, 311.2826, 305.7102,
    299.7416, 293.9366, 288.1046, 282.285, 277.0668, 271.306, 265.8448, 260.301, 254.9886, 250.2422, 244.8138,
    239.7074, 234.7428, 229.8402, 225.1664, 220.3534, 215.594, 210.6886, 205.7876, 201.65, 197.228, 192.8036,
    188.1666, 184.0818, 180.0824, 176.2574, 172.302, 168.1644, 164.0056, 160.3802, 156.7192, 152.5234, 149.2084,
    145.831, 142.485, 139.1112, 135.4764, 131.76, 129.3368, 126.5538, 122.5058, 119.2646, 116.5902, 113.3818,
    110.8998, 107.9532, 105.2062, 102.2798, 99.4728, 96.9582, 94.3292, 92.171, 89.7809999999999, 87.5716,
    84.7048, 82.5322, 79.875, 78.3972, 75.3464, 73.7274, 71.2834, 70.1444, 68.4263999999999, 66.0166, 64.018,
    62.0437999999999, 60.3399999999999, 58.6856, 57.9836, 55.0311999999999, 54.6769999999999, 52.3188, 51.4846,
    49.4423999999999, 47.739, 46.1487999999999, 44.9202, 43.4059999999999, 42.5342000000001, 41.2834,
    38.8954000000001, 38.3286000000001, 36.2146, 36.6684, 35.9946, 33.123, 33.4338, 31.7378000000001, 29.076,
    28.9692, 27.4964, 27.0998, 25.9864, 26.7754, 24.3208, 23.4838, 22.7388000000001, 24.0758000000001,
    21.9097999999999, 20.9728, 19.9228000000001, 19.9292, 16.617, 17.05, 18.2996000000001, 15.6128000000001,
    15.7392, 14.5174, 13.6322, 12.2583999999999, 13.3766000000001, 11.423, 13.1232, 9.51639999999998,
    10.5938000000001, 9.59719999999993, 8.12220000000002, 9.76739999999995, 7.50440000000003, 7.56999999999994,
    6.70440000000008, 6.41419999999994, 6.71019999999999, 5.60940000000005, 4.65219999999999, 6.84099999999989,
    3.4072000000001, 3.97859999999991, 3.32760000000007, 5.52160000000003, 3.31860000000006, 2.06940000000009,
    4.35400000000004, 1.57500000000005, 0.280799999999999, 2.12879999999996, -0.214799999999968,
    -0.0378000000000611, -0.658200000000079, 0.654800000000023, -0.0697999999999865, 0.858400000000074,
    -2.52700000000004, -2.1751999999999, -3.35539999999992, -1.04019999999991, -0.651000000000067,
    -2.14439999999991, -1.96659999999997, -3.97939999999994, -0.604400000000169, -3.08260000000018,
    -3.39159999999993, -5.29640000000018, -5.38920000000007, -5.08759999999984, -4.69900000000007,
    -5.23720000000003, -3.15779999999995, -4.97879999999986, -4.89899999999989, -7.48880000000008,
    -5.94799999999987, -5.68060000000014, -6.67180000000008, -4.70499999999993, -7.27779999999984,
    -4.6579999999999, -4.4362000000001, -4.32139999999981, -5.18859999999995, -6.66879999999992,
    -6.48399999999992, -5.1260000000002, -4.4032000000002, -6.13500000000022, -5.80819999999994,
    -4.16719999999987, -4.15039999999999, -7.45600000000013, -7.24080000000004, -9.83179999999993,
    -5.80420000000004, -8.6561999999999, -6.99940000000015, -10.5473999999999, -7.34139999999979,
    -6.80999999999995, -6.29719999999998, -6.23199999999997,
)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _round(acc: np.ndarray, lane: np.ndarray) -> np.ndarray:
    return _rotl(acc + lane * _P2, 31) * _P1


def _words(block: np.ndarray, start: int, width: int) -> np.ndarray:
    """Little-endian words of `width` bytes (8 or 4) at column `start` of a 2-D byte array."""
    dtype = "<u8" if width == 8 else "<u4"
    return np.ascontiguousarray(block[:, start : start + width]).view(dtype).ravel().astype(np.uint64)


def _xxhash64_same_length(block: np.ndarray, seed: int) -> np.ndarray:
    """XXH64 of each row of a 2-D uint8 array (all rows one length), as Spark's `XXH64`."""
    rows, length = block.shape
    position = 0
    if length >= 32:
        v1 = np.full(rows, (seed + int(_P1) + int(_P2)) & _MASK, dtype=np.uint64)
        v2 = np.full(rows, (seed + int(_P2)) & _MASK, dtype=np.uint64)
        v3 = np.full(rows, seed & _MASK, dtype=np.uint64)
        v4 = np.full(rows, (seed - int(_P1)) & _MASK, dtype=np.uint64)
        while position + 32 <= length:
            v1 = _round(v1, _words(block, position, 8))
            v2 = _round(v2, _words(block, position + 8, 8))
            v3 = _round(v3, _words(block, position + 16, 8))
            v4 = _round(v4, _words(block, position + 24, 8))
            position += 32
        acc = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        for lane in (v1, v2, v3, v4):
            acc = (acc ^ _round(np.zeros(rows, dtype=np.uint64), lane)) * _P1 + _P4
    else:
        acc = np.full(rows, (seed + int(_P5)) & _MASK, dtype=np.uint64)
    acc = acc + np.uint64(length)
    while position + 8 <= length:
        acc = acc ^ _round(np.zeros(rows, dtype=np.uint64), _words(block, position, 8))
        acc = _rotl(acc, 27) * _P1 + _P4
        position += 8
    if position + 4 <= length:
        acc = acc ^ (_words(block, position, 4) * _P1)
        acc = _rotl(acc, 23) * _P2 + _P3
        position += 4
    while position < length:
        acc = acc ^ (block[:, position].astype(np.uint64) * _P5)
        acc = _rotl(acc, 11) * _P1
        position += 1
    acc = acc ^ (acc >> np.uint64(33))
    acc = acc * _P2
    acc = acc ^ (acc >> np.uint64(29))
    acc = acc * _P3
    return acc ^ (acc >> np.uint64(32))


def xxhash64(values: pa.Array, seed: int = SEED) -> np.ndarray:
    """XXH64 (uint64) of the UTF-8 bytes of each value of a string array without nulls."""
    values = values.cast(pa.large_string())
    if not len(values):
        return np.empty(0, dtype=np.uint64)
    lengths = string_lengths(values)
    # Ordered by length (one gather), the values of each length are one run of bytes: a
    # (values x length) view, where an index per byte would cost more than the hashing.
    order = np.argsort(lengths, kind="stable")
    grouped = values.take(index_array(order))
    offsets = np.frombuffer(grouped.buffers()[1], dtype=np.int64, count=len(grouped) + 1, offset=8 * grouped.offset)
    data_buffer = grouped.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.empty(0, np.uint8)
    ordered_lengths = lengths[order]
    firsts = np.flatnonzero(np.diff(ordered_lengths, prepend=-1))
    hashes = np.empty(len(values), dtype=np.uint64)
    for first, last in zip(firsts.tolist(), [*firsts[1:].tolist(), len(values)], strict=True):
        length, start = int(ordered_lengths[first]), int(offsets[first])
        block = data[start : start + (last - first) * length].reshape(last - first, length)
        hashes[first:last] = _xxhash64_same_length(block, seed)
    out = np.empty(len(values), dtype=np.uint64)
    out[order] = hashes
    return out


def registers_of(hashes: np.ndarray) -> np.ndarray:
    """Registers (uint8[512]) of a set of hashes: the largest `leading zeros + 1` per index."""
    index = (hashes >> np.uint64(64 - P)).astype(np.intp)
    w = (hashes << np.uint64(P)) | np.uint64(1 << (P - 1))
    # Bit length of w (>= 256): exact through float64 on the top 53 bits.
    high = w >> np.uint64(11)
    bit_length = np.where(high > 0, np.frexp(high.astype(np.float64))[1] + 11, np.frexp(w.astype(np.float64))[1])
    rank = (64 - bit_length + 1).astype(np.uint8)
    registers = np.zeros(M, dtype=np.uint8)
    np.maximum.at(registers, index, rank)
    return registers


def _estimate_bias(estimate: float) -> float:
    n = len(RAW_ESTIMATES)
    nearest = bisect.bisect_left(RAW_ESTIMATES, estimate)
    # Java's Arrays.binarySearch returns the index of an equal element, else the insertion point.
    low = max(nearest - BIAS_NEIGHBOURS + 1, 0)
    high = min(low + BIAS_NEIGHBOURS, n)

    def distance(i: int) -> float:
        diff = estimate - RAW_ESTIMATES[i]
        return diff * diff

    while high < n and distance(high) < distance(low):
        low += 1
        high += 1
    total = 0.0
    for i in range(low, high):
        total += BIASES[i]
    return total / (high - low)


def estimate(registers: np.ndarray) -> int:
    """Deequ's `DeequHyperLogLogPlusPlusUtils.count`, rounded like Java's `Math.round`."""
    z_inverse = 0.0
    for value in registers.tolist():
        z_inverse += 1.0 / (1 << value)
    zeros = float(np.count_nonzero(registers == 0))
    raw = ALPHA_M2 / z_inverse
    corrected = raw - _estimate_bias(raw) if raw < 5.0 * M else raw
    if zeros > 0:
        linear = M * math.log(M / zeros)
        result = linear if linear <= LINEAR_COUNTING_THRESHOLD else corrected
    else:
        result = corrected
    return math.floor(result + 0.5)
