"""Datasets for the two baselines, made from the model's scores on labelled rows.

Data quality: captured rows are the endpoint's output fields, then its input fields (contract,
section 6). The workshop baselines its training file, whose first column is the label `Churn` (0/1):
the model's probability then lands in an Integral column and the service reports a data type
violation on `Churn` every hour. Replacing the label with the model's score on the same rows makes
a clean hour clean, and monitors the prediction distribution as well.

Model quality: a validation set with predictions, `probability,prediction,label` as the AWS example's
baseline file, made from held-out rows (not the training rows, whose metrics are optimistic: a clean
hour would then look worse than the baseline). `python -m analyzer suggest-baseline --problem-type
BinaryClassification --inference-attribute prediction --probability-attribute probability
--ground-truth-attribute label` baselines it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import xgboost as xgb

from analyzer.quality_metrics import predict_from_scores
from contract.documents import MODEL_OUTPUT_FEATURE
from contract.model_quality import DEFAULT_PROBABILITY_THRESHOLD, LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN
from workshop.server import format_score

# The validation set's columns: the attributes its model-quality baseline names.
PROBABILITY, PREDICTION, LABEL = PROBABILITY_COLUMN, PREDICTION_COLUMN, LABEL_COLUMN


class BaselineDatasetError(ValueError):
    """The labelled CSV cannot be turned into a baseline dataset; the message says why."""


def _scored(labelled_csv: str | Path, booster: xgb.Booster) -> tuple[list[str], list[list[str]], np.ndarray]:
    """Header, rows and the model's scores of a CSV with a header, the label first, then the features."""
    try:
        with open(labelled_csv, newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
    except (OSError, ValueError) as exc:
        raise BaselineDatasetError(f"cannot read {labelled_csv}: {exc}; build it with `make model`") from None
    n_features = booster.num_features()
    if len(header) != n_features + 1:
        raise BaselineDatasetError(
            f"{labelled_csv} has {len(header)} columns; expected the label then the model's {n_features} features"
        )
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise BaselineDatasetError(f"{labelled_csv} line {number}: {len(row)} values, the header has {len(header)}")
    try:
        features = np.array([row[1:] for row in rows], dtype=np.float32)
    except ValueError as exc:
        raise BaselineDatasetError(f"{labelled_csv}: a feature value is not a number ({exc})") from None
    return header, rows, booster.inplace_predict(features)


def _write(out_csv: str | Path, header: list[str], rows: object) -> None:
    with open(out_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def prediction_baseline(train_csv: str | Path, booster: xgb.Booster, out_csv: str | Path) -> int:
    """Write `MODEL_OUTPUT_FEATURE` + the feature columns of a labelled training CSV; returns the row count.

    Scores are formatted exactly as the endpoint answers, so the baseline's output column has the
    same type as the captured one.
    """
    header, rows, scores = _scored(train_csv, booster)
    _write(out_csv, [MODEL_OUTPUT_FEATURE, *header[1:]],
           ([format_score(score), *row[1:]] for score, row in zip(scores, rows, strict=True)))
    return len(rows)


def validation_predictions(
    holdout_csv: str | Path, booster: xgb.Booster, out_csv: str | Path,
    threshold: float = DEFAULT_PROBABILITY_THRESHOLD,
) -> int:
    """Write `probability,prediction,label` for a labelled held-out CSV; returns the row count.

    The probability is the endpoint's answer to the row, the prediction 1 when it is above
    `threshold` (the monitoring run's rule for captured scores, `predict_from_scores`).
    """
    if not 0.0 <= threshold <= 1.0:
        raise BaselineDatasetError(f"--threshold {threshold} must be between 0 and 1")
    header, rows, scores = _scored(holdout_csv, booster)
    labels = [row[0] for row in rows]
    bad = next((i for i, label in enumerate(labels) if label not in ("0", "1")), None)
    if bad is not None:
        raise BaselineDatasetError(f"{holdout_csv} line {bad + 2}: label {labels[bad]!r} is not 0 or 1")
    # format_score prints the float32 score exactly, so the run reading it back predicts the same label.
    predictions = predict_from_scores(scores, threshold)
    scored = zip(scores, predictions, labels, strict=True)
    _write(out_csv, [PROBABILITY, PREDICTION, LABEL], ([format_score(s), int(p), label] for s, p, label in scored))
    return len(rows)
