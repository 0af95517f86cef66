"""analyzer.quality_metrics: exact metrics, Spark's curves and AUC, deviations, and streaming."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.quality_metrics import (
    QualityAccumulator,
    binary_scalars,
    multiclass_scalars,
    predict_from_scores,
    sample_membership,
)
from contract.model_quality import BINARY, CURVE_BINS, MULTICLASS, REGRESSION, metric_keys, violation_name
from tests.data import model_quality_reference as ref


def _section(labels, predictions, scores=None, seed=7, problem_type=BINARY, bins=CURVE_BINS):
    accumulator = QualityAccumulator(problem_type, seed=seed, curve_bins=bins)
    accumulator.add(np.asarray(labels), np.asarray(predictions), None if scores is None else np.asarray(scores))
    return accumulator.section()


def _values(section):
    return {name: item["value"] for name, item in section.items() if isinstance(item, dict) and "value" in item}


def _records(matrix):
    """(labels, predictions) arrays holding the counts of a {"actual": {"predicted": n}} matrix."""
    pairs = [(a, p) for a, row in matrix.items() for p, n in row.items() for _ in range(n)]
    return np.array([a for a, _ in pairs]), np.array([p for _, p in pairs])


# --- the service's numbers ----------------------------------------------------------------------------


def test_the_documented_binary_example():
    labels, predictions = _records(ref.DOC_BINARY_CONFUSION)
    section = _section(labels.astype(int), predictions.astype(int), np.linspace(0.1, 0.9, 4))
    assert section["confusion_matrix"] == ref.DOC_BINARY_CONFUSION
    values = _values(section)
    assert {name: values[name] for name in ref.DOC_BINARY_SCALARS} == ref.DOC_BINARY_SCALARS
    assert {item["standard_deviation"] for name, item in section.items() if name in values} == {"NaN"}


def test_the_real_baseline_table():
    tn, fp, fn, tp = 173, 0, 12, 16
    values = binary_scalars(tn, fp, fn, tp)
    printed = {name: float(f"{values[name]:.6g}") for name in values}
    assert printed == {name: value for name, (value, _) in ref.BASELINE_TABLE.items() if name != "auc"}
    # Always-negative (the model predicts negative most often): 173 / 201.
    assert values["accuracy_best_constant_classifier"] == 173 / 201


def test_the_real_runs_values_and_thresholds_to_the_last_digit():
    run = binary_scalars(tn=449, fp=69, fn=1218, tp=156)  # the only counts of 1892 records that fit
    written = {violation_name(name): value for name, value in run.items()}
    for _, name, description in ref.RUN_VIOLATIONS:
        if name != "auc":
            assert f"{name} with {written[name]!r} +/-" in description
    baseline = binary_scalars(tn=173, fp=0, fn=12, tp=16)
    assert repr(baseline["false_negative_rate"]) == "0.4285714285714286"  # 1 - tpr, not 12/28
    assert repr(run["true_negative_rate"]) == "0.8667953667953667"  # 1 - fpr, not 449/518
    assert run["f0_5"] < baseline["f0_5"]  # yet the service listed no f0_5 violation


def test_the_documented_multiclass_example():
    matrix = np.array([[1180, 510], [268, 138]])
    assert multiclass_scalars(matrix, constant=1) == ref.DOC_MULTICLASS_SCALARS
    # Our rule (the most predicted class, "0" here) differs from the example's constant ("1").
    ours = multiclass_scalars(matrix)
    assert ours["accuracy_best_constant_classifier"] == 1690 / 2096
    labels, predictions = _records(ref.DOC_MULTICLASS_CONFUSION)
    section = _section(labels, predictions, problem_type=MULTICLASS)
    assert list(section) == list(metric_keys(MULTICLASS))
    assert section["confusion_matrix"] == ref.DOC_MULTICLASS_CONFUSION
    assert {k: section[k]["value"] for k in list(ref.DOC_MULTICLASS_SCALARS)[:6]} == dict(
        list(ref.DOC_MULTICLASS_SCALARS.items())[:6]
    )


def test_the_documented_regression_example():
    labels, predictions = _records(ref.DOC_MULTICLASS_CONFUSION)
    section = _section(labels.astype(float), predictions.astype(float), problem_type=REGRESSION)
    assert _values(section) == ref.DOC_REGRESSION
    assert isinstance(section["mae"]["standard_deviation"], float)  # 2096 records


# --- hand-computed cases ----------------------------------------------------------------------------


def test_ties_make_one_point():
    section = _section([1, 0, 1, 0], [1, 1, 1, 0], [0.9, 0.8, 0.8, 0.3])
    roc = section["receiver_operating_characteristic_curve"]
    assert roc == {"false_positive_rates": [0.0, 0.0, 0.5, 1.0, 1.0], "true_positive_rates": [0.0, 0.5, 1.0, 1.0, 1.0]}
    assert section["precision_recall_curve"] == {"precisions": [1.0, 1.0, 2 / 3, 0.5], "recalls": [0.0, 0.5, 1.0, 1.0]}
    assert section["auc"]["value"] == 0.875  # 0.5 * 1.5 / 2 + 0.5 * 2 / 2
    assert section["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 2}}


def test_curves_are_down_sampled_as_spark_numbins():
    # 10 distinct scores, numBins 3: runs of 10 // 3 = 3 scores, the last run a single one; each point
    # holds the cumulative counts through its run's last score.
    labels = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0]
    scores = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    section = _section(labels, [int(s > 0.5) for s in scores], scores, bins=3)
    # (tp, fp) after each run: (2, 1), (3, 3), (5, 4), (5, 5) of 5 positives and 5 negatives
    roc = section["receiver_operating_characteristic_curve"]
    assert roc["false_positive_rates"] == [0.0, 0.2, 0.6, 0.8, 1.0, 1.0]
    assert roc["true_positive_rates"] == [0.0, 0.4, 0.6, 1.0, 1.0, 1.0]
    pr = section["precision_recall_curve"]
    assert pr == {"precisions": [2 / 3, 2 / 3, 3 / 6, 5 / 9, 5 / 10], "recalls": [0.0, 0.4, 0.6, 1.0, 1.0]}
    # AUC of the down-sampled ROC (Spark's areaUnderROC): 0.04 + 0.2 + 0.16 + 0.2 + 0; whole: 16 / 25
    assert section["auc"]["value"] == pytest.approx(0.6, abs=1e-15)
    whole = _section(labels, [int(s > 0.5) for s in scores], scores, bins=0)
    assert whole["auc"]["value"] == pytest.approx(0.64, abs=1e-15)


def test_fewer_than_two_scores_per_bin_leave_the_curves_whole():
    rng = np.random.default_rng(3)
    labels, scores = rng.integers(0, 2, 60), rng.random(60)
    whole = _section(labels, (scores > 0.5).astype(int), scores, bins=0)
    assert len(whole["precision_recall_curve"]["recalls"]) == 61
    for bins in (31, 60, CURVE_BINS):  # 60 // 31 = 1: no down-sampling
        assert _section(labels, (scores > 0.5).astype(int), scores, bins=bins) == whole
    assert len(_section(labels, (scores > 0.5).astype(int), scores, bins=30)["precision_recall_curve"]["recalls"]) == 31


def test_a_single_class():
    values = _values(_section([0, 0, 0], [0, 1, 0], [0.2, 0.7, 0.1]))
    assert (values["recall"], values["false_negative_rate"], values["precision"]) == (0.0, 1.0, 0.0)
    assert values["false_positive_rate"] == 1 / 3 and values["auc"] == 0.0
    values = _values(_section([1, 1], [1, 1], [0.6, 0.9]))
    assert (values["recall"], values["precision"], values["accuracy"], values["true_negative_rate"]) == (1, 1, 1, 1)
    assert values["auc"] == 1.0


def test_all_negative_predictions():
    values = _values(_section([1, 0, 0, 1], [0, 0, 0, 0], [0.4, 0.1, 0.3, 0.2]))
    assert values["precision"] == 0.0 and values["recall"] == 0.0 and values["f1"] == 0.0
    assert values["accuracy_best_constant_classifier"] == 0.5 and values["recall_best_constant_classifier"] == 0.0
    assert values["auc"] == 0.75


def test_all_positive_predictions():
    values = _values(_section([1, 0, 0, 0], [1, 1, 1, 1], [0.9, 0.8, 0.7, 0.6]))
    assert values["precision"] == 0.25 and values["recall"] == 1.0 and values["false_positive_rate"] == 1.0
    assert values["true_negative_rate"] == 0.0 and values["precision_best_constant_classifier"] == 0.25
    assert values["f1"] == values["f1_best_constant_classifier"] == 0.4


def test_without_scores_the_predicted_label_is_the_score():
    section = _section([1, 0, 1, 0], [1, 0, 0, 0])
    assert section["receiver_operating_characteristic_curve"]["false_positive_rates"] == [0.0, 0.0, 1.0, 1.0]
    assert section["auc"]["value"] == 0.75


def test_threshold_is_strict():
    assert predict_from_scores(np.array([0.8, 0.80001, 0.2]), 0.8).tolist() == [0, 1, 0]


def test_regression_constant_labels():
    assert _values(_section([2.0, 2.0], [2.0, 2.0], problem_type=REGRESSION))["r2"] == 1.0
    values = _values(_section([2.0, 2.0], [1.0, 3.0], problem_type=REGRESSION))
    assert values == {"mae": 1.0, "mse": 1.0, "rmse": 1.0, "r2": 0.0}


def test_deviations_need_200_records():
    rng = np.random.default_rng(1)
    for size, kind in ((199, str), (200, float)):
        labels = rng.integers(0, 2, size)
        section = _section(labels, labels ^ (rng.random(size) < 0.2), rng.random(size))
        assert all(type(section[name]["standard_deviation"]) is kind for name in _values(section))


def test_samples_are_about_80_percent_and_reproducible():
    member = sample_membership(3, 0, 20_000)
    assert member[:, 0].all() and 0.78 < member[:, 1:].mean() < 0.82
    assert (sample_membership(3, 5_000, 10) == member[5_000:5_010]).all()
    assert not (sample_membership(4, 0, 1000) == member[:1000]).all()


def test_bad_arrays_are_refused():
    accumulator = QualityAccumulator(BINARY, seed=1)
    with pytest.raises(ValueError, match="0 or 1"):
        accumulator.add(np.array([2]), np.array([1]))
    with pytest.raises(ValueError, match="same length"):
        accumulator.add(np.array([1, 0]), np.array([1]))
    with pytest.raises(ValueError, match="no records"):
        accumulator.section()


# --- streaming against a plain reference ----------------------------------------------------------------


def _reference_curves(labels, scores, bins=CURVE_BINS):
    """Spark's BinaryClassificationMetrics spelled out: distinct scores descending, grouped in runs of
    len // bins of them when that is 2 or more (one point per run), else one point per score."""
    points, tp, fp = [], 0, 0
    positives = sum(labels)
    negatives = len(labels) - positives
    distinct = sorted(set(scores), reverse=True)
    size = len(distinct) // bins if bins else 0
    groups = [distinct[i : i + size] for i in range(0, len(distinct), size)] if size >= 2 else [[s] for s in distinct]
    for group in groups:
        tp += sum(1 for s, y in zip(scores, labels, strict=True) if s in group and y == 1)
        fp += sum(1 for s, y in zip(scores, labels, strict=True) if s in group and y == 0)
        points.append((fp / negatives if negatives else 0.0, tp / positives if positives else 0.0, tp / (tp + fp)))
    roc = [(0.0, 0.0)] + [(x, y) for x, y, _ in points] + [(1.0, 1.0)]
    auc = 0.0
    for (x1, y1), (x2, y2) in zip(roc, roc[1:], strict=False):
        auc += (x2 - x1) * (y2 + y1) / 2.0
    pr = [(0.0, points[0][2])] + [(y, p) for _, y, p in points]
    return roc, pr, auc


def _reference(labels, predictions, scores, member, bins):
    rows = []
    for column in range(member.shape[1]):
        keep = [i for i in range(len(labels)) if member[i, column]]
        y, p, s = [labels[i] for i in keep], [predictions[i] for i in keep], [scores[i] for i in keep]
        counts = [
            sum(1 for a, b in zip(y, p, strict=True) if (a, b) == pair) for pair in ((0, 0), (0, 1), (1, 0), (1, 1))
        ]
        values = binary_scalars(*counts)
        values["auc"] = _reference_curves(y, s, bins)[2] if keep else 0.0
        rows.append(values)
    return rows


chunked_records = st.integers(1, 260).flatmap(
    lambda size: st.tuples(
        st.lists(st.integers(0, 1), min_size=size, max_size=size),
        st.lists(st.integers(0, 1), min_size=size, max_size=size),
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]), min_size=size, max_size=size),
        st.lists(st.integers(1, size), max_size=6),
    )
)


def _check_streaming(labels, predictions, scores, cuts, seed, bins=CURVE_BINS):
    accumulator = QualityAccumulator(BINARY, seed=seed, curve_bins=bins)
    bounds = [0, *sorted(set(cuts)), len(labels)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        accumulator.add(np.array(labels[start:end]), np.array(predictions[start:end]), np.array(scores[start:end]))
    section = accumulator.section()
    rows = _reference(labels, predictions, scores, sample_membership(seed, 0, len(labels)), bins)
    roc, pr, _ = _reference_curves(labels, scores, bins)
    assert section["receiver_operating_characteristic_curve"] == {
        "false_positive_rates": [x for x, _ in roc], "true_positive_rates": [y for _, y in roc]}  # fmt: skip
    assert section["precision_recall_curve"] == {"precisions": [p for _, p in pr], "recalls": [r for r, _ in pr]}
    for name, item in section.items():
        if name in rows[0]:
            assert item["value"] == rows[0][name]
            expected = np.std([row[name] for row in rows[1:]], ddof=1) if len(labels) >= 200 else "NaN"
            assert item["standard_deviation"] == expected


@settings(max_examples=25, deadline=None)
@given(chunked_records, st.integers(0, 2**31), st.sampled_from([0, 1, 2, 3, CURVE_BINS]))
def test_streaming_equals_the_plain_reference(records, seed, bins):
    _check_streaming(*records, seed, bins)


def test_streaming_with_deviations_and_many_distinct_scores():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 240).tolist()
    scores = rng.random(240).round(3).tolist()
    predictions = [int(s > 0.5) for s in scores]
    _check_streaming(labels, predictions, scores, [1, 17, 100, 101, 239], seed=11)
    _check_streaming(labels, predictions, scores, [1, 17, 100, 101, 239], seed=11, bins=7)  # runs of 30-odd


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 300), st.lists(st.integers(1, 299), max_size=5), st.integers(0, 99))
def test_multiclass_and_regression_do_not_depend_on_chunking(size, cuts, seed):
    rng = np.random.default_rng(seed)
    labels, predictions = rng.integers(0, 3, size), rng.integers(0, 3, size)
    bounds = [0, *sorted({c for c in cuts if c < size}), size]
    for problem_type, convert in ((MULTICLASS, lambda a: a.astype(str)), (REGRESSION, lambda a: a * 1.5)):
        whole = _section(convert(labels), convert(predictions), seed=seed, problem_type=problem_type)
        accumulator = QualityAccumulator(problem_type, seed=seed)
        for start, end in zip(bounds, bounds[1:], strict=False):
            accumulator.add(convert(labels[start:end]), convert(predictions[start:end]))
        chunked = accumulator.section()
        assert list(chunked) == list(whole) and chunked.get("confusion_matrix") == whole.get("confusion_matrix")
        for name, item in _values(whole).items():
            assert math.isclose(_values(chunked)[name], item, rel_tol=1e-12, abs_tol=1e-12)


def test_merging_score_tables_while_streaming_keeps_every_count(monkeypatch):
    from analyzer import quality_metrics

    monkeypatch.setattr(quality_metrics, "COMPACT_ROWS", 3)
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 210).tolist()
    scores = rng.random(210).round(2).tolist()
    _check_streaming(labels, [int(s > 0.3) for s in scores], scores, list(range(5, 210, 7)), seed=2)


def test_a_tie_in_predictions_goes_to_the_later_class():
    assert binary_scalars(tn=2, fp=1, fn=1, tp=0)["accuracy_best_constant_classifier"] == 0.75  # negative
    assert binary_scalars(tn=1, fp=1, fn=1, tp=1)["recall_best_constant_classifier"] == 1.0  # tie: positive
    tied = np.array([[2, 1], [0, 1]])  # "0" and "1" predicted twice each; labels: three "0", one "1"
    assert multiclass_scalars(tied)["accuracy_best_constant_classifier"] == 0.25  # always "1"
