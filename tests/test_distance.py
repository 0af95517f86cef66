import math

import numpy as np
import pytest

from analyzer import distance, kll


def sketch(*values: float) -> tuple[np.ndarray, np.ndarray]:
    """A one-level sketch of the given values, as `kll.sorted_items` returns it."""
    return kll.sorted_items([np.array(values, dtype=float)])


def test_identical_sketches_have_distance_zero():
    s = sketch(1, 2, 2, 3, 5)
    assert distance.numeric_distance(s, s, "Simple") == 0.0


def test_simple_distance_is_the_largest_cdf_gap_over_both_sketches_items():
    # CDFs at 1..6: baseline .25 .5 .75 1 1 1, current 0 0 .25 .5 .75 1 -> largest gap 0.5.
    assert distance.numeric_distance(sketch(1, 2, 3, 4), sketch(3, 4, 5, 6), "Simple") == 0.5


def test_rank_is_taken_at_the_largest_item_not_above_each_key():
    # Baseline ranks at 10, 20: 1/3, 1 ; current has one item 15: at 10 -> 0, at 15 -> 1 vs 1/3.
    assert distance.numeric_distance(sketch(10, 20, 20), sketch(15), "Simple") == pytest.approx(2 / 3)


def test_items_weigh_two_to_the_power_of_their_level():
    # Sketch data [[2.0], [1.0]]: 1.0 sits on level 1 (weight 2), so the CDF at 1 is 2/3, not 1/2.
    weighted = kll.sorted_items([[2.0], [1.0]])
    assert distance.numeric_distance(weighted, sketch(1, 2), "Simple") == pytest.approx(1 / 6)


def test_robust_distance_subtracts_the_small_sample_allowance():
    n = m = 400
    base = sketch(*range(n))
    shifted = sketch(*(x + 200 for x in range(m)))
    simple = distance.numeric_distance(base, shifted, "Simple")
    robust = distance.numeric_distance(base, shifted, "Robust")
    assert simple == 0.5
    assert robust == pytest.approx(0.5 - 1.8 * math.sqrt((n + m) / (n * m)))


def test_robust_distance_is_never_negative():
    assert distance.numeric_distance(sketch(1, 2, 3, 4), sketch(3, 4, 5, 6), "Robust") == 0.0


def test_categorical_linf_compares_shares_over_the_union_of_categories():
    baseline, current = {"a": 3, "b": 1}, {"a": 1, "b": 1, "c": 2}
    assert distance.categorical_linf(baseline, current, "Simple") == 0.5
    assert distance.categorical_linf(baseline, current, "Robust") == 0.0


def test_categorical_linf_robust_matches_the_formula_on_large_counts():
    baseline, current = {"a": 5000, "b": 5000}, {"a": 7000, "b": 3000}
    expected = 0.2 - 1.8 * math.sqrt(20000 / (10000 * 10000))
    assert distance.categorical_linf(baseline, current, "Robust") == pytest.approx(expected)


@pytest.mark.parametrize("x", [0.1, 0.5, 1.5, 3.0, 12.0, 40.0])
def test_regularized_gamma_p_matches_closed_forms_on_both_branches(x):
    assert distance.regularized_gamma_p(1.0, x) == pytest.approx(1 - math.exp(-x), rel=1e-12, abs=1e-15)
    assert distance.regularized_gamma_p(2.0, x) == pytest.approx(1 - math.exp(-x) * (1 + x), rel=1e-12, abs=1e-15)
    assert distance.regularized_gamma_p(0.5, x) == pytest.approx(math.erf(math.sqrt(x)), rel=1e-12, abs=1e-15)


def test_chi_square_p_value_of_three_categories_is_exp_of_minus_half_the_statistic():
    baseline = {"a": 100, "b": 100, "c": 100}
    current = {"a": 50, "b": 30, "c": 20}
    e = 100 / 3
    statistic = ((50 - e) ** 2 + (30 - e) ** 2 + (20 - e) ** 2) / e
    # Two degrees of freedom: the chi-square survival function is exp(-x / 2).
    assert distance.chi_square_p_value(baseline, current) == pytest.approx(math.exp(-statistic / 2), rel=1e-9)


def test_chi_square_ignores_categories_unseen_in_the_baseline():
    baseline = {"a": 100, "b": 100, "c": 100}
    with_new = {"a": 50, "b": 30, "c": 20, "zz": 1000}
    assert distance.chi_square_p_value(baseline, with_new) == distance.chi_square_p_value(
        baseline, {"a": 50, "b": 30, "c": 20}
    )


def test_chi_square_merges_categories_with_too_few_expected_counts():
    # "c" expects 1 of 201: with three categories none may fall below 5, so it joins the next
    # smallest ("a", ties broken by name), leaving a 2-category table with one degree of freedom.
    baseline = {"a": 100, "b": 100, "c": 1}
    current = {"a": 60, "b": 140, "c": 1}
    total = 201
    expected_a, expected_b = 101 / 201 * total, 100 / 201 * total
    statistic = (61 - expected_a) ** 2 / expected_a + (140 - expected_b) ** 2 / expected_b
    assert distance.chi_square_p_value(baseline, current) == pytest.approx(
        math.erfc(math.sqrt(statistic / 2)), rel=1e-9
    )


def test_chi_square_is_nan_when_fewer_than_two_categories_remain():
    assert math.isnan(distance.chi_square_p_value({"a": 10}, {"a": 4}))


def test_chi_square_of_a_matching_sample_has_p_value_one():
    assert distance.chi_square_p_value({"a": 100, "b": 300}, {"a": 10, "b": 30}) == pytest.approx(1.0)
