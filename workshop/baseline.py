"""A baseline dataset whose first column is the model's output, for monitoring captured traffic.

Captured rows are the endpoint's output fields, then its input fields (contract, section 6).
The workshop baselines its training file, whose first column is the label `Churn` (0/1): the
model's probability then lands in an Integral column and the service reports a data type
violation on `Churn` every hour. Replacing the label with the model's score on the same rows
makes a clean hour clean, and monitors the prediction distribution as well.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import xgboost as xgb

from contract.documents import MODEL_OUTPUT_FEATURE
from workshop.server import format_score


class BaselineDatasetError(ValueError):
    """The training CSV cannot be turned into a baseline dataset; the message says why."""


def prediction_baseline(train_csv: str | Path, booster: xgb.Booster, out_csv: str | Path) -> int:
    """Write `MODEL_OUTPUT_FEATURE` + the feature columns of a labelled training CSV; returns the row count.

    The input has a header and the label first; scores are formatted exactly as the endpoint
    answers, so the baseline's output column has the same type as the captured one.
    """
    try:
        with open(train_csv, newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
    except (OSError, ValueError) as exc:
        raise BaselineDatasetError(f"cannot read {train_csv}: {exc}; build it with `make model`") from None
    n_features = booster.num_features()
    if len(header) != n_features + 1:
        raise BaselineDatasetError(
            f"{train_csv} has {len(header)} columns; expected the label then the model's {n_features} features"
        )
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise BaselineDatasetError(f"{train_csv} line {number}: {len(row)} values, the header has {len(header)}")
    try:
        features = np.array([row[1:] for row in rows], dtype=np.float32)
    except ValueError as exc:
        raise BaselineDatasetError(f"{train_csv}: a feature value is not a number ({exc})") from None
    scores = booster.inplace_predict(features)
    with open(out_csv, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([MODEL_OUTPUT_FEATURE, *header[1:]])
        writer.writerows([format_score(score), *row[1:]] for score, row in zip(scores, rows, strict=True))
    return len(rows)
