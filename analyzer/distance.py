"""Drift distances between a baseline and a current profile, as Deequ computes them.

Numeric columns compare KLL sketches with an L-infinity distance between the two empirical
CDFs; String columns compare category counts with L-infinity or a chi-square goodness-of-fit
p-value (contract, section 5; Deequ `analyzers/Distance.scala`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from analyzer import kll

# Deequ's default c(alpha) for the Kolmogorov-Smirnov style correction ("Robust").
C_ALPHA = 1.8

# Deequ's chi-square regrouping thresholds: Yates for tables with more than two categories,
# Cochran for two.
YATES_MIN_EXPECTED = 5.0
YATES_MAX_SHARE_BELOW = 0.2
COCHRAN_MIN_EXPECTED = 10.0


def _robust(linf_simple: float, n: float, m: float) -> float:
    return max(0.0, linf_simple - C_ALPHA * math.sqrt((n + m) / (n * m)))


def _select(linf_simple: float, n: float, m: float, method: str) -> float:
    """`Robust` subtracts the small-sample allowance; `Simple` keeps the raw distance."""
    return linf_simple if method == "Simple" else _robust(linf_simple, n, m)


def numeric_distance(
    baseline: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
    method: str = "Robust",
) -> float:
    """L-infinity distance between two sketches given as `kll.sorted_items` pairs.

    Both CDFs are evaluated at every distinct item of either sketch; the rank at a key is the
    weight of the items at or below it (0 when there is none).
    """
    (items_b, cum_b), (items_c, cum_c) = baseline, current
    if len(items_b) == 0 or len(items_c) == 0:
        return 0.0
    n, m = float(cum_b[-1]), float(cum_c[-1])
    keys = np.union1d(items_b, items_c)
    cdf_b = kll.rank_inclusive(items_b, cum_b, keys) / n
    cdf_c = kll.rank_inclusive(items_c, cum_c, keys) / m
    return _select(float(np.max(np.abs(cdf_b - cdf_c))), n, m, method)


def categorical_linf(baseline: Mapping[str, int], current: Mapping[str, int], method: str = "Robust") -> float:
    """Largest difference in category share over the union of categories."""
    n = float(sum(baseline.values()))
    m = float(sum(current.values()))
    if n == 0 or m == 0:
        return 0.0
    linf = max(abs(baseline.get(k, 0) / n - current.get(k, 0) / m) for k in baseline.keys() | current.keys())
    return _select(linf, n, m, method)


def _regroup(observed: dict[str, float], expected: dict[str, float]) -> None:
    """Merge the smallest expected categories until the chi-square test's size rules hold.

    Deequ merges the smallest category into the second smallest; it breaks ties in hash-map
    order, which we cannot reproduce, so ties go to the smaller category name.
    """
    while len(expected) >= 2:
        if len(expected) > 2:
            threshold, allowed = YATES_MIN_EXPECTED, int(YATES_MAX_SHARE_BELOW * len(expected))
        else:
            threshold, allowed = COCHRAN_MIN_EXPECTED, 0
        if sum(1 for v in expected.values() if v < threshold) <= allowed:
            return
        smallest = min(sorted(expected), key=expected.__getitem__)
        moved_expected = expected.pop(smallest)
        moved_observed = observed.pop(smallest, 0.0)
        second = min(sorted(expected), key=expected.__getitem__)
        expected[second] += moved_expected
        observed[second] = observed.get(second, 0.0) + moved_observed


def chi_square_p_value(baseline: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Pearson goodness-of-fit p-value of current counts against baseline proportions.

    As in Deequ: categories unseen in the baseline are ignored (the categorical values check
    reports them), baseline counts are scaled to the current total, small categories are merged,
    and NaN is returned when fewer than two categories remain (no drift can be judged).
    """
    observed_total = float(sum(v for k, v in current.items() if k in baseline))
    baseline_total = float(sum(baseline.values()))
    if baseline_total == 0:
        return math.nan
    expected = {k: v / baseline_total * observed_total for k, v in baseline.items()}
    observed = {k: float(v) for k, v in current.items()}
    _regroup(observed, expected)
    if len(expected) < 2:
        return math.nan
    obs = np.array([observed.get(k, 0.0) for k in expected])
    exp = np.array(list(expected.values()))
    if np.any(exp == 0.0):
        # Spark's test: an observed count where none is expected is certain drift.
        return 0.0 if np.any(obs[exp == 0.0] > 0) else math.nan
    statistic = float(np.sum((obs - exp) ** 2 / exp))
    return 1.0 - regularized_gamma_p((len(exp) - 1) / 2.0, statistic / 2.0)


def _log_gamma_prefix(a: float, x: float) -> float:
    return math.exp(-x + a * math.log(x) - math.lgamma(a))


def regularized_gamma_p(a: float, x: float, epsilon: float = 1e-14, max_iterations: int = 100_000) -> float:
    """P(a, x), the regularized lower incomplete gamma function (chi-square CDF at 2x with 2a dof).

    Same scheme as Apache Commons Math, which Spark's chi-square test calls: a power series
    below x = a + 1, else one minus the Lentz continued fraction for Q.
    """
    if math.isnan(a) or math.isnan(x) or a <= 0.0 or x < 0.0:
        return math.nan
    if x == 0.0:
        return 0.0
    if x >= a + 1.0:
        return 1.0 - _regularized_gamma_q_fraction(a, x, epsilon, max_iterations)
    term = 1.0 / a
    total = term
    n = 0
    while abs(term / total) > epsilon and n < max_iterations and math.isfinite(total):
        n += 1
        term *= x / (a + n)
        total += term
    if not math.isfinite(total):
        return 1.0
    return _log_gamma_prefix(a, x) * total


def _regularized_gamma_q_fraction(a: float, x: float, epsilon: float, max_iterations: int) -> float:
    tiny = 1e-50
    # Continued fraction with a_n = 2n + 1 - a + x and b_n = n (a - n), modified Lentz method.
    h = (1.0 - a + x) or tiny
    c, d = h, 0.0
    for n in range(1, max_iterations + 1):
        an = 2.0 * n + 1.0 - a + x
        bn = n * (a - n)
        d = an + bn * d
        d = tiny if d == 0.0 else d
        c = an + bn / c
        c = tiny if c == 0.0 else c
        d = 1.0 / d
        delta = c * d
        h *= delta
        if abs(delta - 1.0) < epsilon:
            break
    return _log_gamma_prefix(a, x) / h
