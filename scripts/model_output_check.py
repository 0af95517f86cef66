#!/usr/bin/env python3
"""The pre-deploy model check: how the candidate model's score distribution differs from the current one's.

Usage: python -m scripts.model_output_check --dataset DATASET.csv --head-model HEAD.tar.gz
           [--base-model BASE.tar.gz] [--constraints CONSTRAINTS.json] [--holdout HOLDOUT.csv]
           [--output SECTION.md]

Both models score the same rows (the inputs of the baseline dataset, label or score first, as
`python -m workshop baseline-dataset` writes it), the analyzer profiles each set of scores and compares
the two KLL sketches with its own drift distance (`analyzer.checks.drift_value`), against the threshold
the deployed monitor applies to the model's output (`--constraints`: this change's constraints.json; the
analyzer's default without it). Prints the "model output" section of the data-contract comment (Markdown).
With `--holdout` (labelled held-out rows, label first: `make model` writes model/build/holdout.csv) both models
are also scored as the model-quality monitor scores a window: AUC, recall, precision, F1, F2 and accuracy
of each on the same labelled rows. Without `--base-model` (the base branch could not build one) the
section says there is nothing to compare.
Exit codes: 0 section written (whatever the distance), 1 an input could not be read (the message names the
file and what to do), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzer.baseline import profile_dataset
from analyzer.checks import drift_exceeds, drift_value
from analyzer.quality_baseline import suggest_quality_baseline
from contract.documents import MODEL_OUTPUT_FEATURE, Constraints, FeatureStatistics, MonitoringConfig, Statistics
from contract.errors import BaselineError, DatasetError, QualityInputError
from contract.model_quality import BINARY, QualityStatistics
from scripts.pr_section import EXIT_UNREADABLE, emit_section  # noqa: F401 (EXIT_UNREADABLE: this script's exit code)
from workshop.baseline import (
    LABEL,
    PREDICTION,
    PROBABILITY,
    BaselineDatasetError,
    prediction_baseline,
    validation_predictions,
)
from workshop.server import ModelLoadError, load_model

SECTION_TITLE = "### Model output"
QUALITY_NOT_COMPARED = ("*Model quality* is not compared: pass `--holdout` (labelled held-out rows; `make model` "
                        "writes `model/build/holdout.csv`).")
# The model-quality metrics the comparison shows, as statistics.json names them.
QUALITY_METRICS = ("auc", "recall", "precision", "f1", "f2", "accuracy")


class CheckInputError(ValueError):
    """An input of the check cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ScoredModel:
    """One model's scores on the dataset's rows, profiled as the analyzer profiles a baseline."""

    artifact: Path
    digest: str
    scores: FeatureStatistics


@dataclass(frozen=True)
class Comparison:
    rows: int
    base: ScoredModel
    head: ScoredModel
    distance: float
    threshold: float
    method: str

    @property
    def exceeds(self) -> bool:
        return drift_exceeds(self.distance, self.threshold, self.method)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise CheckInputError(f"cannot read {path}: {error.strerror}; build it with `make model`") from None


def score(artifact: Path, dataset: Path, workdir: Path) -> tuple[int, ScoredModel]:
    """The dataset's rows with `artifact`'s scores as first column, profiled; returns (rows, scored model)."""
    digest = _digest(artifact)
    scored_csv = workdir / f"{digest}.csv"
    try:
        rows = prediction_baseline(dataset, load_model(artifact), scored_csv)
        statistics = Statistics.of(profile_dataset(str(scored_csv)).statistics)
    except (ModelLoadError, BaselineDatasetError, DatasetError) as error:
        raise CheckInputError(str(error)) from None
    return rows, ScoredModel(artifact, digest, statistics.features[MODEL_OUTPUT_FEATURE])


def output_config(constraints: Path | None) -> MonitoringConfig:
    """The monitoring config the deployed monitor applies to the model's output column."""
    if constraints is None:
        return MonitoringConfig()
    try:
        document = json.loads(constraints.read_text(encoding="utf-8"))
        return Constraints.of(document, str(constraints)).feature_config(MODEL_OUTPUT_FEATURE)
    except OSError as error:
        raise CheckInputError(f"cannot read {constraints}: {error.strerror}; generate it with "
                              "`python -m analyzer suggest-baseline`") from None
    except (ValueError, BaselineError) as error:
        raise CheckInputError(f"{constraints}: not a usable constraints.json ({error})") from None


def compare(dataset: Path, base_model: Path, head_model: Path, config: MonitoringConfig) -> Comparison:
    with tempfile.TemporaryDirectory(prefix="model-output-") as tmp:
        rows, base = score(base_model, dataset, Path(tmp))
        _, head = score(head_model, dataset, Path(tmp))
    measured = drift_value(base.scores, head.scores, config)
    assert measured is not None  # scores are numbers: both profiles carry a KLL sketch
    return Comparison(rows, base, head, *measured)


@dataclass(frozen=True)
class QualityComparison:
    rows: int
    holdout: Path
    base: dict[str, float]  # metric -> value on the held-out rows
    head: dict[str, float]


def quality(artifact: Path, holdout: Path, workdir: Path) -> tuple[int, dict[str, float]]:
    """`artifact`'s model-quality metrics on the labelled `holdout` rows, computed as a baseline is."""
    predictions = workdir / f"{_digest(artifact)}-validation.csv"
    try:
        rows = validation_predictions(holdout, load_model(artifact), predictions)
        statistics = suggest_quality_baseline(
            str(predictions), str(workdir / predictions.stem), problem_type=BINARY, inference_attribute=PREDICTION,
            probability_attribute=PROBABILITY, ground_truth_attribute=LABEL)
    except (ModelLoadError, BaselineDatasetError, QualityInputError, DatasetError) as error:
        raise CheckInputError(f"{error}; `make model` writes model/build/holdout.csv") from None
    view = QualityStatistics.of(statistics, str(predictions))
    return rows, {name: view.metric(name).value for name in QUALITY_METRICS}


def compare_quality(holdout: Path, base_model: Path, head_model: Path) -> QualityComparison:
    with tempfile.TemporaryDirectory(prefix="model-quality-") as tmp:
        rows, base = quality(base_model, holdout, Path(tmp))
        _, head = quality(head_model, holdout, Path(tmp))
    return QualityComparison(rows, holdout, base, head)


def _quality_rows(comparison: QualityComparison | None) -> list[str]:
    if comparison is None:
        return [QUALITY_NOT_COMPARED]
    lines = [f"*Model quality* of both models on the same {comparison.rows} labelled rows of `{comparison.holdout}` "
             "(churn = probability above 0.5), as the model-quality monitor computes a window's:", "",
             "| metric | base branch | this pull request | change |", "|---|---|---|---|"]
    for name in QUALITY_METRICS:
        base, head = comparison.base[name], comparison.head[name]
        lines.append(f"| {name} | {base:.4f} | {head:.4f} | {head - base:+.4f} |")
    return lines


def _summary_rows(comparison: Comparison) -> list[str]:
    def row(label: str, read: Callable[[ScoredModel], str]) -> str:
        return f"| {label} | {read(comparison.base)} | {read(comparison.head)} |"

    def number(model: ScoredModel, key: str) -> str:
        return f"{model.scores.numerical[key]:.4f}"

    return [
        "| | base branch | this pull request |",
        "|---|---|---|",
        row("model artifact (sha256)", lambda model: f"`{model.digest[:12]}`"),
        row("mean score", lambda model: number(model, "mean")),
        row("standard deviation", lambda model: number(model, "std_dev")),
        row("min / max", lambda model: f"{number(model, 'min')} / {number(model, 'max')}"),
    ]


def _verdict(comparison: Comparison) -> str:
    measured = (f"drift distance **{comparison.distance:.4f}** ({comparison.method}, the hourly monitor's KLL "
                f"comparison), threshold {comparison.threshold:g}")
    if comparison.distance == 0:
        return f"**No change** in the score distribution: {measured}."
    if comparison.exceeds:
        return (f"**The score distribution changes beyond the monitor's threshold**: {measured}. Any decision "
                "cut-off on the score (for example the share of customers called above 0.5) moves with it: "
                "review before merging. After the merge the baseline is rebuilt from the new model, so the "
                "hourly monitor will not report this shift itself.")
    return f"**Within the threshold**: {measured}."


def render_markdown(comparison: Comparison | None, dataset: Path,
                    quality_comparison: QualityComparison | None = None) -> str:
    lines = [SECTION_TITLE, ""]
    if comparison is None:
        lines += ["The base branch has no model to compare with (`make model` failed on it): nothing to compare."]
        return "\n".join(lines) + "\n"
    lines += [f"Both models scored the same {comparison.rows} rows (the inputs of `{dataset}`); "
              f"`{MODEL_OUTPUT_FEATURE}` profiled with the offline analyzer.", ""]
    lines += [_verdict(comparison), ""]
    lines += [*_summary_rows(comparison), "", *_quality_rows(quality_comparison)]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True,
                        help="CSV with a header, label or score first, then the model's inputs")
    parser.add_argument("--head-model", type=Path, required=True, help="model.tar.gz built from this change")
    parser.add_argument("--base-model", type=Path, help="model.tar.gz of the base branch (omit if it has none)")
    parser.add_argument("--constraints", type=Path,
                        help="constraints.json whose threshold applies to the output (default: the analyzer's)")
    parser.add_argument("--holdout", type=Path,
                        help="labelled held-out CSV (label first) to compare both models' model-quality metrics on")
    parser.add_argument("--output", type=Path, help="also write the Markdown section to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def render() -> str:
        config = output_config(args.constraints)
        if not args.base_model:
            return render_markdown(None, args.dataset)
        comparison = compare(args.dataset, args.base_model, args.head_model, config)
        quality_comparison = compare_quality(args.holdout, args.base_model, args.head_model) if args.holdout else None
        return render_markdown(comparison, args.dataset, quality_comparison)

    return emit_section(render, args.output, CheckInputError)

if __name__ == "__main__":
    sys.exit(main())
