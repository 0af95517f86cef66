"""Training: the packaged model loads like the serving container loads it, predicts well, and the
artifact is byte-for-byte reproducible."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from model import synthetic, train

SMALL = train.TrainConfig(rows=1200, holdout_rows=800, seed=3, num_round=30)


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> tuple[Path, float]:
    out_dir = tmp_path_factory.mktemp("build")
    return out_dir, train.train(SMALL, out_dir)


def model_member(tar_path: Path) -> tuple[tarfile.TarInfo, bytes]:
    with tarfile.open(tar_path, "r:gz") as tar:
        (member,) = tar.getmembers()
        return member, tar.extractfile(member).read()


def test_tarball_holds_exactly_one_plain_xgboost_model(build):
    out_dir, _ = build
    with tarfile.open(out_dir / "model.tar.gz", "r:gz") as tar:
        assert tar.getnames() == ["xgboost-model"]
    member, _ = model_member(out_dir / "model.tar.gz")
    assert member.isfile() and (member.mtime, member.uid, member.gid, member.uname) == (0, 0, 0, "")


def test_model_loads_from_the_file_and_predicts_probabilities(build, tmp_path):
    out_dir, _ = build
    _, payload = model_member(out_dir / "model.tar.gz")
    # The serving container calls Booster.load_model on the extracted file.
    (tmp_path / "xgboost-model").write_bytes(payload)
    booster = xgb.Booster()
    booster.load_model(tmp_path / "xgboost-model")
    assert json.loads(booster.save_config())["learner"]["objective"]["name"] == "binary:logistic"

    features = np.asarray(synthetic.generate_rows(500, seed=99, label=False), dtype=float)
    scores = booster.predict(xgb.DMatrix(features))
    assert scores.shape == (500,)
    assert ((scores >= 0) & (scores <= 1)).all() and scores.std() > 0.05


def test_model_ranks_fresh_data_well(build, tmp_path):
    out_dir, recorded_auc = build
    (tmp_path / "m").write_bytes(model_member(out_dir / "model.tar.gz")[1])
    booster = xgb.Booster(model_file=str(tmp_path / "m"))
    data = np.asarray(synthetic.generate_rows(1500, seed=123), dtype=float)
    fresh_auc = train.auc(data[:, 0], booster.predict(xgb.DMatrix(data[:, 1:])))
    assert fresh_auc >= 0.80 and recorded_auc >= 0.80


def test_train_csv_is_the_training_data_with_header(build):
    out_dir, _ = build
    with open(out_dir / "train.csv", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == synthetic.header() and lines[0][0] == "Churn"
    assert lines[1:] == synthetic.generate_rows(SMALL.rows, seed=SMALL.seed)


def test_holdout_csv_is_the_held_out_data_with_header(build):
    out_dir, _ = build
    with open(out_dir / "holdout.csv", newline="") as f:
        lines = list(csv.reader(f))
    assert lines[0] == synthetic.header()
    assert lines[1:] == synthetic.generate_rows(SMALL.holdout_rows, seed=SMALL.seed + train.HOLDOUT_SEED_OFFSET)


@pytest.mark.parametrize("threshold", [0.5, 0.8])
def test_validation_set_has_the_endpoints_probability_a_prediction_and_the_true_label(build, tmp_path, threshold):
    from workshop.cli import main

    out_dir, _ = build
    out = tmp_path / "validation.csv"
    assert main(["validation-dataset", "--model", str(out_dir / "model.tar.gz"), "--holdout",
                 str(out_dir / "holdout.csv"), "--threshold", str(threshold), "--out", str(out)]) == 0
    with open(out, newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["probability", "prediction", "label"] and len(rows) == SMALL.holdout_rows
    holdout = np.asarray(synthetic.generate_rows(SMALL.holdout_rows, seed=SMALL.seed + train.HOLDOUT_SEED_OFFSET),
                         dtype=float)
    booster = xgb.Booster(model_file=bytearray(model_member(out_dir / "model.tar.gz")[1]))
    scores = booster.predict(xgb.DMatrix(holdout[:, 1:]))
    assert [float(r[0]) for r in rows] == scores.astype(float).tolist()  # the float32 score, printed exactly
    assert [r[1] for r in rows] == ["1" if s > threshold else "0" for s in scores]
    assert [r[2] for r in rows] == [str(int(v)) for v in holdout[:, 0]]
    assert {"0", "1"} <= {r[1] for r in rows}


def test_validation_set_names_a_bad_label_and_a_bad_threshold(build, tmp_path):
    from workshop.baseline import BaselineDatasetError, validation_predictions
    from workshop.server import load_model

    out_dir, _ = build
    lines = (out_dir / "holdout.csv").read_text().splitlines()
    lines[3] = "yes" + lines[3][1:]
    (tmp_path / "holdout.csv").write_text("\n".join(lines) + "\n")
    booster = load_model(out_dir / "model.tar.gz")
    with pytest.raises(BaselineDatasetError, match="holdout.csv line 4: label 'yes' is not 0 or 1"):
        validation_predictions(tmp_path / "holdout.csv", booster, tmp_path / "v.csv")
    with pytest.raises(BaselineDatasetError, match="--threshold 1.5 must be between 0 and 1"):
        validation_predictions(out_dir / "holdout.csv", booster, tmp_path / "v.csv", threshold=1.5)


def test_two_runs_give_byte_identical_outputs(build, tmp_path):
    out_dir, _ = build
    train.train(SMALL, tmp_path)
    for name in ("model.tar.gz", "train.csv", "holdout.csv"):
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_tarball_bytes_depend_only_on_the_payload(tmp_path):
    train.write_model_tar(b"abc", tmp_path / "a.tar.gz")
    train.write_model_tar(b"abc", tmp_path / "b.tar.gz")
    train.write_model_tar(b"abd", tmp_path / "c.tar.gz")
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.tar.gz", "b.tar.gz", "c.tar.gz"))
    assert a == b != c
    assert a[4:8] == b"\0\0\0\0"  # gzip header MTIME
    with tarfile.open(fileobj=io.BytesIO(a), mode="r:gz") as tar:
        assert tar.extractfile("xgboost-model").read() == b"abc"


def test_outputs_are_reused_only_when_current(build):
    out_dir, recorded_auc = build
    assert train.up_to_date(SMALL, out_dir) == pytest.approx(recorded_auc)
    assert train.up_to_date(dataclasses.replace(SMALL, seed=4), out_dir) is None
    model_tar = out_dir / "model.tar.gz"
    mtime = model_tar.stat().st_mtime
    os.utime(model_tar, (0, 0))  # now older than the sources
    try:
        assert train.up_to_date(SMALL, out_dir) is None
    finally:
        os.utime(model_tar, (mtime, mtime))


def test_cli_trains_once_then_reuses_until_forced(tmp_path, capsys):
    args = ["--rows", "600", "--holdout-rows", "400", "--out-dir", str(tmp_path)]
    assert train.main(args) == 0
    out = capsys.readouterr().out
    assert "held-out AUC: 0." in out and str(tmp_path / "model.tar.gz") in out
    assert train.main(args) == 0
    assert "up to date" in capsys.readouterr().out
    assert train.main(args + ["--force"]) == 0
    assert "held-out AUC: 0." in capsys.readouterr().out


def test_weak_model_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train, "MIN_AUC", 1.01)
    assert train.main(["--rows", "300", "--holdout-rows", "300", "--out-dir", str(tmp_path)]) == 1
    assert "held-out AUC" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "labels, scores, expected",
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1.0),
        ([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),
    ],
)
def test_auc_on_known_cases(labels, scores, expected):
    assert train.auc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def test_auc_matches_pairwise_counting_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 20, 300) / 20.0  # many ties
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairwise = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert train.auc(labels, scores) == pytest.approx(pairwise)
    with pytest.raises(ValueError, match="both classes"):
        train.auc(np.zeros(5), scores[:5])
