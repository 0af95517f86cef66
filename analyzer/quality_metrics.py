"""Model-quality metrics of matched (label, prediction[, score]) records, streamed in chunks.

`QualityAccumulator(problem_type, seed=...)` takes numpy chunks (`add`) and writes the statistics
section (`section()`) in the service's key order (contract, section 4). Exact where the service is
known:

- Binary scalars as Spark's MulticlassMetrics computes them (inferred: this gives the real and the
  documented numbers to the last digit): precision 0 without positive predictions,
  `(1 + b^2) * p * r / (b^2 * p + r)` for F-beta (0 when p + r = 0), and the real run's derived
  rates `true_negative_rate = 1 - false_positive_rate`, `false_negative_rate = 1 - true_positive_rate`.
  Undefined recall and false positive rate (no such labels) are 0.
- Curves and AUC as Spark MLlib's BinaryClassificationMetrics with numBins = `CURVE_BINS` on one
  partition: distinct scores in descending order; when `grouping = distinct scores // numBins` is
  2 or more, each run of `grouping` consecutive scores is one point (the last run may be shorter)
  holding the cumulative counts through its last score; cumulative counts; ROC = (0, 0), the
  points, (1, 1); PR starts at (recall 0, the first point's precision); AUC = the trapezoids
  `(x2 - x1) * (y2 + y1) / 2.0` of the (down-sampled) ROC added in order from 0.0. Without scores
  the predicted label is the score (ours).
- Best constant classifier (inferred): always the class the model predicts most often; a tie goes
  to the later class (binary: the positive one). It fits the real 2021 baseline (always-negative)
  and the documentation's binary example (always-positive). Its multiclass example's constant is "1",
  neither its most predicted class nor its majority label: its numbers are matched, its choice is not.
- Standard deviations: "NaN" below 200 records; else the sample standard deviation (n - 1) of the
  metric over 5 Bernoulli 80 % samples (each record kept with probability 0.8, as Spark's
  `sample(false, 0.8)`), decided per record by a hash of (seed, sample, record position), so
  membership does not depend on how the records are chunked.
- Multiclass: weighted metrics as MulticlassMetrics (`metric * label count / records`, summed over
  the labels in class order). Regression: mae, mse, rmse, and r2 = 1 - SSerr / SStot with SStot
  from shifted sums (0 when the labels are constant, 1 when also predicted exactly).
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from contract.model_quality import (
    BINARY,
    CONFUSION_MATRIX,
    CURVE_BINS,
    DEVIATION,
    MIN_RECORDS_FOR_DEVIATION,
    MULTICLASS,
    NAN_TEXT,
    PR_CURVE,
    PR_FIELDS,
    REGRESSION,
    ROC_CURVE,
    ROC_FIELDS,
    SAMPLE_FRACTION,
    SAMPLES_FOR_DEVIATION,
    VALUE,
    metric_keys,
    scalar_metrics,
)

BETAS = {"f0_5": 0.5, "f1": 1.0, "f2": 2.0}
ROWS = 1 + SAMPLES_FOR_DEVIATION  # row 0: every record; rows 1..5: the samples
# Chunks' score tables are merged once their rows pass this and the merged table's size (memory stays
# near the number of distinct scores; doubling keeps the merging work n log n).
COMPACT_ROWS = 1 << 18
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def window_seed(*parts: object) -> int:
    """A reproducible seed from a run's identity (its window's start and end, say)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over uint64 (wrapping arithmetic)."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sample_membership(seed: int, start: int, count: int) -> np.ndarray:
    """(count, ROWS) booleans: column 0 all True, column k whether record `start + i` is in sample k."""
    index = np.arange(start, start + count, dtype=np.uint64)
    member = np.ones((count, ROWS), dtype=bool)
    for k in range(1, ROWS):
        key = _mix(np.array([(seed & 0xFFFFFFFF) * ROWS + k], dtype=np.uint64))[0]
        uniform = (_mix(index ^ key) >> np.uint64(11)).astype(np.float64) * 2.0**-53
        member[:, k] = uniform < SAMPLE_FRACTION
    return member


def predict_from_scores(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted labels (int 0/1) of positive-class probabilities: positive above the threshold only."""
    return (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int64)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def f_score(precision: float, recall: float, beta: float) -> float:
    beta2 = beta * beta
    if precision + recall == 0:
        return 0.0
    return (1 + beta2) * precision * recall / (beta2 * precision + recall)


def _deviation(values: list[float], count: int) -> float | str:
    if count < MIN_RECORDS_FOR_DEVIATION:
        return NAN_TEXT
    return float(np.std(np.array(values, dtype=np.float64), ddof=1))


def _metric_objects(rows: list[dict[str, float]], count: int) -> dict[str, dict]:
    """{name: {value, standard_deviation}} from the metrics of all records (row 0) and of the samples."""
    return {
        name: {VALUE: rows[0][name], DEVIATION: _deviation([row[name] for row in rows[1:]], count)} for name in rows[0]
    }


# --- binary classification ------------------------------------------------------------------------


def binary_scalars(tn: int, fp: int, fn: int, tp: int) -> dict[str, float]:
    """The scalar metrics of one confusion matrix, except auc (statistics key order, auc left out)."""
    positives, negatives, total = tp + fn, tn + fp, tn + fp + fn + tp
    recall, precision = _ratio(tp, positives), _ratio(tp, tp + fp)
    false_positive_rate = _ratio(fp, negatives)
    if tp + fp >= tn + fn:  # the model predicts positive at least as often: always-positive
        constant = {"recall": _ratio(positives, positives), "precision": _ratio(positives, total)}
        constant["accuracy"] = constant["precision"]
    else:
        constant = {"recall": 0.0, "precision": 0.0, "accuracy": _ratio(negatives, total)}
    values = {
        "recall": recall,
        "precision": precision,
        "accuracy": _ratio(tp + tn, total),
        **{f"{name}_best_constant_classifier": value for name, value in constant.items()},
        "true_positive_rate": recall,
        "true_negative_rate": 1 - false_positive_rate,
        "false_positive_rate": false_positive_rate,
        "false_negative_rate": 1 - recall,
    }
    for name, beta in BETAS.items():
        values[name] = f_score(precision, recall, beta)
    for name, beta in BETAS.items():
        values[f"{name}_best_constant_classifier"] = f_score(constant["precision"], constant["recall"], beta)
    return values


def downsampled(positives: np.ndarray, negatives: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-score counts (descending score order) summed in runs of `len // bins` scores, as Spark's
    numBins; unchanged when that is below 2 (or bins is 0)."""
    grouping = len(positives) // bins if bins > 0 else 0
    if grouping < 2:
        return positives, negatives
    starts = np.arange(0, len(positives), grouping)
    return np.add.reduceat(positives, starts), np.add.reduceat(negatives, starts)


def binary_curves(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, ...]:
    """ROC (fpr, tpr) and PR (precision, recall) of per-point counts in descending score order."""
    tp = np.cumsum(positives.astype(np.float64))
    fp = np.cumsum(negatives.astype(np.float64))
    recall = tp / tp[-1] if tp[-1] else np.zeros_like(tp)
    fpr = fp / fp[-1] if fp[-1] else np.zeros_like(fp)
    precision = tp / (tp + fp)
    roc_x = np.concatenate(([0.0], fpr, [1.0]))
    roc_y = np.concatenate(([0.0], recall, [1.0]))
    return roc_x, roc_y, np.concatenate((precision[:1], precision)), np.concatenate(([0.0], recall))


def area_under_curve(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoids of successive points, summed left to right from 0.0 (accumulate is sequential)."""
    if len(x) < 2:
        return 0.0
    trapezoids = (x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0
    return float(np.add.accumulate(trapezoids)[-1])


class _ScoreTable:
    """Per distinct score: negative and positive counts of every row (all records, each sample)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending = 0  # rows of the parts after the merged one

    def add(self, scores: np.ndarray, labels: np.ndarray, member: np.ndarray) -> None:
        unique, inverse = np.unique(scores, return_inverse=True)
        codes = 2 * inverse.reshape(-1) + labels  # (score, label) pairs: columns 2 * row + label
        # int32: a chunk's counts fit (half the memory of a table of a million distinct scores);
        # merged tables sum in int64.
        columns = np.empty((len(unique), 2 * ROWS), dtype=np.int32)
        for row in range(ROWS):
            kept = codes if row == 0 else codes[member[:, row]]
            columns[:, 2 * row : 2 * row + 2] = np.bincount(kept, minlength=2 * len(unique)).reshape(-1, 2)
        self.parts.append((unique, columns))
        self.pending += len(unique)
        if self.pending > max(COMPACT_ROWS, len(self.parts[0][0])):
            self.merged()
            self.pending = 0

    def merged(self) -> tuple[np.ndarray, np.ndarray]:
        """The parts as one table (kept: later calls reuse it)."""
        if len(self.parts) > 1:
            scores = np.concatenate([part[0] for part in self.parts])
            counts = np.concatenate([part[1] for part in self.parts])
            order = np.argsort(scores, kind="stable")
            scores, counts = scores[order], counts[order]
            starts = np.flatnonzero(np.concatenate(([True], scores[1:] != scores[:-1])))
            self.parts = [(scores[starts], np.add.reduceat(counts, starts, axis=0, dtype=np.int64))]
        return self.parts[0]

    def curves(self, row: int, bins: int) -> tuple[np.ndarray, ...]:
        counts = self.merged()[1]
        negatives, positives = counts[::-1, 2 * row], counts[::-1, 2 * row + 1]
        present = (negatives + positives) > 0  # a score no record of this sample has is no point
        return binary_curves(*downsampled(positives[present], negatives[present], bins))


class _Binary:
    def __init__(self, bins: int) -> None:
        self.bins = bins
        self.counts = np.zeros((ROWS, 4), dtype=np.int64)  # tn, fp, fn, tp
        self.table = _ScoreTable()
        self.has_scores: bool | None = None

    def add(self, labels, predictions, scores, member) -> None:
        labels = _binary_array(labels, "labels")
        predictions = _binary_array(predictions, "predictions")
        if self.has_scores is not None and self.has_scores != (scores is not None):
            raise ValueError("either every chunk has scores or none has")
        self.has_scores = scores is not None
        scores = predictions.astype(np.float64) if scores is None else np.asarray(scores, dtype=np.float64)
        if len(scores) != len(labels) or not np.isfinite(scores).all():
            raise ValueError("scores must be finite numbers, one per label")
        codes = 2 * labels + predictions
        for row in range(ROWS):
            self.counts[row] += np.bincount(codes[member[:, row]], minlength=4)
        self.table.add(scores, labels, member)

    def section(self, count: int) -> dict:
        rows = []
        for row in range(ROWS):
            values = binary_scalars(*map(int, self.counts[row]))
            has_records = self.counts[row].sum() > 0
            roc_x, roc_y, precisions, recalls = self.table.curves(row, self.bins) if has_records else ((),) * 4
            values["auc"] = area_under_curve(np.asarray(roc_x), np.asarray(roc_y))
            rows.append(values)
            if row == 0:
                curves = {
                    ROC_CURVE: dict(zip(ROC_FIELDS, (roc_x.tolist(), roc_y.tolist()), strict=True)),
                    PR_CURVE: dict(zip(PR_FIELDS, (precisions.tolist(), recalls.tolist()), strict=True)),
                }
        tn, fp, fn, tp = map(int, self.counts[0])
        found = {CONFUSION_MATRIX: {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}}, **curves}
        found.update(_metric_objects(rows, count))
        return {key: found[key] for key in metric_keys(BINARY)}


def _binary_array(values, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iub" or (array.size and (array.min() < 0 or array.max() > 1)):
        raise ValueError(f"binary {what} must be integers 0 or 1")
    return array.astype(np.int64)


# --- multiclass classification --------------------------------------------------------------------


def _class_order(name: str) -> tuple:
    """Classes that read as numbers in numeric order, before the others in text order (ours)."""
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def _weighted(matrix: np.ndarray) -> dict[str, float]:
    """accuracy and the label-weighted recall, precision and F-scores of a confusion matrix."""
    total, labels, predicted = int(matrix.sum()), matrix.sum(axis=1), matrix.sum(axis=0)
    sums = dict.fromkeys(("weighted_recall", "weighted_precision", *(f"weighted_{f}" for f in BETAS)), 0.0)
    for index in np.flatnonzero(labels):
        hits, count = int(matrix[index, index]), int(labels[index])
        recall, precision = hits / count, _ratio(hits, int(predicted[index]))
        sums["weighted_recall"] += recall * count / total
        sums["weighted_precision"] += precision * count / total
        for name, beta in BETAS.items():
            sums[f"weighted_{name}"] += f_score(precision, recall, beta) * count / total
    return {"accuracy": _ratio(int(np.trace(matrix)), total), **sums}


def multiclass_scalars(matrix: np.ndarray, constant: int | None = None) -> dict[str, float]:
    """The scalar metrics of a (actual x predicted) matrix; `constant`: the constant classifier's class
    (default: the most predicted one, a tie to the later class)."""
    if constant is None:
        predicted = matrix.sum(axis=0)
        constant = len(predicted) - 1 - int(np.argmax(predicted[::-1]))
    always = np.zeros_like(matrix)
    always[:, constant] = matrix.sum(axis=1)
    best = {f"{name}_best_constant_classifier": value for name, value in _weighted(always).items()}
    return {**_weighted(matrix), **best}


class _Multiclass:
    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], np.ndarray] = {}

    def add(self, labels, predictions, scores, member) -> None:
        labels, predictions = np.asarray(labels).astype(str), np.asarray(predictions).astype(str)
        classes, inverse = np.unique(np.concatenate((labels, predictions)), return_inverse=True)
        size = len(classes)
        codes = inverse[: len(labels)] * size + inverse[len(labels) :]
        counts = np.stack([np.bincount(codes[member[:, row]], minlength=size * size) for row in range(ROWS)])
        for code in np.flatnonzero(counts[0]):
            key = (str(classes[code // size]), str(classes[code % size]))
            self.pairs[key] = self.pairs.get(key, 0) + counts[:, code]

    def section(self, count: int) -> dict:
        classes = sorted({name for pair in self.pairs for name in pair}, key=_class_order)
        position = {name: index for index, name in enumerate(classes)}
        matrices = np.zeros((ROWS, len(classes), len(classes)), dtype=np.int64)
        for (actual, predicted), counts in self.pairs.items():
            matrices[:, position[actual], position[predicted]] = counts
        rows = [multiclass_scalars(matrix) for matrix in matrices]
        matrix = {a: {p: int(matrices[0, i, j]) for j, p in enumerate(classes)} for i, a in enumerate(classes)}
        return {CONFUSION_MATRIX: matrix, **_metric_objects(rows, count)}


# --- regression -----------------------------------------------------------------------------------


def regression_scalars(count: int, absolute: float, squared: float, shifted: float, shifted_squares: float) -> dict:
    """mae, mse, rmse, r2 from the sums of |error|, error^2 and of the labels minus a constant (and squared)."""
    mse = _ratio(squared, count)
    total = shifted_squares - shifted * shifted / count if count else 0.0
    r2 = 1 - squared / total if total > 0 else (1.0 if squared == 0 else 0.0)
    return {"mae": _ratio(absolute, count), "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


class _Regression:
    def __init__(self) -> None:
        self.sums = np.zeros((ROWS, 5), dtype=np.float64)  # count, |e|, e^2, y - shift, (y - shift)^2
        self.shift: float | None = None

    def add(self, labels, predictions, scores, member) -> None:
        labels, predictions = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
        if not (np.isfinite(labels).all() and np.isfinite(predictions).all()):
            raise ValueError("regression labels and predictions must be finite numbers")
        if self.shift is None and len(labels):
            self.shift = float(labels[0])  # shifting by a label keeps SStot accurate for large values
        errors, shifted = labels - predictions, labels - (self.shift or 0.0)
        values = np.stack((np.ones_like(errors), np.abs(errors), errors * errors, shifted, shifted * shifted), axis=1)
        self.sums += member.T.astype(np.float64) @ values

    def section(self, count: int) -> dict:
        rows = [regression_scalars(int(sums[0]), *map(float, sums[1:])) for sums in self.sums]
        return _metric_objects(rows, count)


# --- the accumulator ------------------------------------------------------------------------------


class QualityAccumulator:
    """Streams matched records in chunks; `section()` is the statistics section of all of them.

    Binary: labels and predictions int 0/1 arrays, scores a float array (or None: the predicted label
    is the score). Multiclass: labels and predictions as strings (scores ignored). Regression: float
    labels and predictions. `seed` fixes the standard deviations' samples (`window_seed`);
    `curve_bins` the binary curves' down-sampling (Spark's numBins, 0: none)."""

    def __init__(self, problem_type: str, *, seed: int, curve_bins: int = CURVE_BINS) -> None:
        scalar_metrics(problem_type)  # validates the problem type
        self.problem_type = problem_type
        self.seed = seed
        self.count = 0
        kinds = {MULTICLASS: _Multiclass, REGRESSION: _Regression}
        self._kind = _Binary(curve_bins) if problem_type == BINARY else kinds[problem_type]()

    def add(self, labels, predictions, scores=None) -> None:
        size = len(labels)
        if len(predictions) != size or (scores is not None and len(scores) != size):
            raise ValueError("labels, predictions and scores must have the same length")
        if not size:
            return
        self._kind.add(labels, predictions, scores, sample_membership(self.seed, self.count, size))
        self.count += size

    def section(self) -> dict:
        """The `<problem>_metrics` section in the service's key order."""
        if not self.count:
            raise ValueError("no records were added")
        return self._kind.section(self.count)
