"""Train the churn model on synthetic data and package it for the SageMaker XGBoost container.

    python -m model.train [--rows N] [--seed S] [--out-dir model/build] [--force]

Writes `train.csv` (the training data with header, label first; `make model` turns it into the
monitoring baseline dataset with `python -m workshop baseline-dataset`), `holdout.csv` (the held-out
rows the AUC is measured on, same format; `make model` scores them into the model-quality
baseline's validation set with `python -m workshop validation-dataset`),
`model.tar.gz` (exactly one file, `xgboost-model`, as the XGBoost 3.0-5 serving container loads it)
and `train-info.json` (parameters and held-out AUC). Skips the work when those are newer than the
sources and were made with the same parameters. The tarball is byte-deterministic so the CDK asset
hash only changes when the model does.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from model import synthetic

DEFAULT_OUT_DIR = Path(__file__).resolve().parent / "build"
MODEL_MEMBER = "xgboost-model"
MIN_AUC = 0.80
# Held-out rows come from a seed this far from the training seed: an independent stream.
HOLDOUT_SEED_OFFSET = 10_000
# The workshop's hyperparameters; one thread and a fixed seed make training deterministic.
XGB_PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.8,
    "tree_method": "hist",
    "eval_metric": "auc",
    "nthread": 1,
}
_SOURCES = (Path(synthetic.__file__), Path(__file__))


@dataclass(frozen=True)
class TrainConfig:
    rows: int = 2333  # as many as the workshop's training file
    holdout_rows: int = 2000
    seed: int = 0
    num_round: int = 100


@dataclass(frozen=True)
class Outputs:
    train_csv: Path
    holdout_csv: Path
    model_tar: Path
    info_json: Path

    @classmethod
    def in_dir(cls, out_dir: Path) -> Outputs:
        names = ("train.csv", "holdout.csv", "model.tar.gz", "train-info.json")
        return cls(*(out_dir / name for name in names))

    @property
    def files(self) -> tuple[Path, Path, Path, Path]:
        return self.train_csv, self.holdout_csv, self.model_tar, self.info_json


class ModelQualityError(RuntimeError):
    """Held-out AUC below MIN_AUC: the generator's label model or the hyperparameters need work."""


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC from the Mann-Whitney U statistic, ties getting their average rank."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="stable")
    sorted_scores = np.asarray(scores)[order]
    # Runs of tied scores occupy ranks starts+1 .. ends; each member gets the run's mean rank.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], len(order)]
    ranks = np.empty(len(order))
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes among the labels")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _matrix(rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(rows, dtype=float)
    return data[:, 1:], data[:, 0]


def fit(config: TrainConfig) -> tuple[xgb.Booster, list[list[str]], list[list[str]], float]:
    """Train on generated rows; returns the booster, the training and held-out rows and the held-out AUC."""
    print(f"generating {config.rows} training and {config.holdout_rows} held-out rows (seed {config.seed})")
    rows = synthetic.generate_rows(config.rows, seed=config.seed)
    holdout = synthetic.generate_rows(config.holdout_rows, seed=config.seed + HOLDOUT_SEED_OFFSET)
    (x_train, y_train), (x_hold, y_hold) = _matrix(rows), _matrix(holdout)
    # No feature names: the serving container builds its DMatrix from bare CSV values.
    d_train, d_hold = xgb.DMatrix(x_train, label=y_train), xgb.DMatrix(x_hold, label=y_hold)
    print(f"training xgboost {xgb.__version__}, {config.num_round} rounds")
    booster = xgb.train(
        {**XGB_PARAMS, "seed": config.seed},
        d_train,
        num_boost_round=config.num_round,
        evals=[(d_train, "train"), (d_hold, "holdout")],
        verbose_eval=max(1, config.num_round // 4),
    )
    return booster, rows, holdout, auc(y_hold, booster.predict(d_hold))


def model_bytes(booster: xgb.Booster) -> bytes:
    """The model file as `Booster.save_model` writes it (UBJSON, xgboost's default format)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{MODEL_MEMBER}.ubj"  # the extension only picks the format explicitly
        booster.save_model(path)
        return path.read_bytes()


def write_model_tar(payload: bytes, path: Path) -> None:
    """A tar.gz with one member and no timestamps, owners or file names that vary between runs."""
    member = tarfile.TarInfo(MODEL_MEMBER)
    member.size, member.mtime, member.mode = len(payload), 0, 0o644
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(member, io.BytesIO(payload))
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(tar_buffer.getvalue())
    partial.replace(path)


def up_to_date(config: TrainConfig, out_dir: Path) -> float | None:
    """The recorded AUC if the outputs match `config` and are newer than the sources, else None."""
    out = Outputs.in_dir(out_dir)
    if not all(f.exists() for f in out.files):
        return None
    try:
        info = json.loads(out.info_json.read_text())
    except ValueError:
        return None
    if info.get("config") != asdict(config) or info.get("xgboost") != xgb.__version__:
        return None
    newest_source = max(s.stat().st_mtime for s in _SOURCES)
    return info.get("auc") if min(f.stat().st_mtime for f in out.files) > newest_source else None


def train(config: TrainConfig, out_dir: Path) -> float:
    """Fit, check the held-out AUC, then write the four outputs; returns the AUC."""
    booster, rows, holdout, holdout_auc = fit(config)
    print(f"held-out AUC: {holdout_auc:.4f} ({config.holdout_rows} rows)")
    if holdout_auc < MIN_AUC:
        raise ModelQualityError(
            f"held-out AUC {holdout_auc:.4f} < {MIN_AUC}: nothing written; check the label model in "
            "model/synthetic.py (python -m model.calibrate) or train on more rows (--rows)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Outputs.in_dir(out_dir)
    synthetic.write_rows(out.train_csv, synthetic.header(), rows)
    synthetic.write_rows(out.holdout_csv, synthetic.header(), holdout)
    write_model_tar(model_bytes(booster), out.model_tar)
    # Written last: its presence and parameters mark a complete, matching build.
    info = {"config": asdict(config), "xgboost": xgb.__version__, "auc": holdout_auc}
    out.info_json.write_text(json.dumps(info, indent=2) + "\n")
    return holdout_auc


def main(argv: Sequence[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=defaults.rows,
                        help=f"training rows (default: {defaults.rows})")
    parser.add_argument("--holdout-rows", type=int, default=defaults.holdout_rows,
                        help=f"held-out rows for the AUC (default: {defaults.holdout_rows})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="data and training seed (default: 0)")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help=f"(default: {DEFAULT_OUT_DIR})")
    parser.add_argument("--force", action="store_true", help="retrain even if the outputs are up to date")
    args = parser.parse_args(argv)
    if args.rows < 50 or args.holdout_rows < 50:
        parser.error("--rows and --holdout-rows must each be at least 50 (both classes must occur)")
    config = TrainConfig(rows=args.rows, holdout_rows=args.holdout_rows, seed=args.seed)
    out = Outputs.in_dir(args.out_dir)

    recorded_auc = None if args.force else up_to_date(config, args.out_dir)
    if recorded_auc is not None:
        print(f"up to date (held-out AUC {recorded_auc:.4f}); use --force to retrain")
    else:
        try:
            train(config, args.out_dir)
        except ModelQualityError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"error: cannot write to {args.out_dir}: {exc}; check it is writable", file=sys.stderr)
            return 1
    print(f"training data:    {out.train_csv}")
    print(f"held-out data:    {out.holdout_csv}")
    print(f"model artifact:   {out.model_tar}")
    print(f"training info:    {out.info_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
