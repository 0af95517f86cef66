"""Test helpers for the workshop package: a small trained model and a controllable clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import xgboost as xgb

from model import synthetic
from model.train import model_bytes, write_model_tar


def small_model(tar_path: Path, rows: int = 400, rounds: int = 10) -> xgb.Booster:
    """A quickly trained churn model packaged as the serving container expects; returns the booster."""
    data = np.asarray(synthetic.generate_rows(rows, seed=5), dtype=float)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                        xgb.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=rounds)
    write_model_tar(model_bytes(booster), tar_path)
    return booster


class SteppingClock:
    """Each call returns the previous time plus `step` (thread-safe): requests spread over hours."""

    def __init__(self, start: datetime, step: timedelta):
        self._lock = threading.Lock()
        self._next, self._step = start, step

    def __call__(self) -> datetime:
        with self._lock:
            now, self._next = self._next, self._next + self._step
            return now
