"""Compare the synthetic generator's marginals with the workshop's training file.

    python -m model.calibrate training-dataset-with-header.csv [--rows N] [--seed S]

Prints, for every column, the workshop and synthetic mean and standard deviation and their
relative differences, flags any outside the tolerance, and exits 1 if one is. Run it after
changing the constants in `model/synthetic.py`; the project never reads the workshop file itself.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import synthetic

RELATIVE_TOLERANCE = 0.10
CHURN_RATE_TOLERANCE_POINTS = 2.0


class WorkshopFileError(ValueError):
    """The workshop CSV cannot be used; the message names the file, line and fix."""


@dataclass(frozen=True)
class ColumnComparison:
    name: str
    reference_mean: float
    synthetic_mean: float
    reference_std: float
    synthetic_std: float

    @property
    def mean_diff(self) -> float:
        return _relative(self.synthetic_mean, self.reference_mean)

    @property
    def std_diff(self) -> float:
        return _relative(self.synthetic_std, self.reference_std)

    @property
    def ok(self) -> bool:
        return abs(self.mean_diff) <= RELATIVE_TOLERANCE and abs(self.std_diff) <= RELATIVE_TOLERANCE


def _relative(value: float, reference: float) -> float:
    # A zero reference (a column that is always 0) can only be matched exactly.
    return (value - reference) / abs(reference) if reference else (0.0 if value == 0 else float("inf"))


def read_workshop(path: Path) -> np.ndarray:
    """The workshop file as a float matrix in `synthetic.COLUMNS` order."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except OSError as exc:
        raise WorkshopFileError(f"{path}: cannot read ({exc.strerror}); pass the workshop CSV path") from exc
    header = lines[0] if lines else []
    if header != synthetic.COLUMNS:
        pairs = zip([*header, "(nothing)"], [*synthetic.COLUMNS, "(nothing)"], strict=False)
        at, (found, expected) = next((i, p) for i, p in enumerate(pairs) if p[0] != p[1])
        raise WorkshopFileError(
            f"{path}, line 1: column {at + 1} is {found!r}, expected {expected!r}; the header must be the "
            f"workshop's {len(synthetic.COLUMNS)} columns, Churn first (training-dataset-with-header.csv)"
        )
    rows, problems = [], []
    for line_no, row in enumerate(lines[1:], start=2):
        try:
            if len(row) != len(synthetic.COLUMNS):
                raise ValueError(f"{len(row)} fields, expected {len(synthetic.COLUMNS)}")
            rows.append([float(x) for x in row])
        except ValueError as exc:
            problems.append(f"line {line_no}: {exc}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise WorkshopFileError(f"{path}, {shown}: fix or remove those lines (a comparison needs every row)")
    if not rows:
        raise WorkshopFileError(f"{path}: no data rows after the header")
    return np.asarray(rows)


def compare(reference: np.ndarray, generated: np.ndarray) -> list[ColumnComparison]:
    """Per-column mean and population standard deviation (as Model Monitor reports) of both."""
    return [
        ColumnComparison(name, *values)
        for name, values in zip(
            synthetic.COLUMNS,
            zip(reference.mean(axis=0), generated.mean(axis=0), reference.std(axis=0), generated.std(axis=0),
                strict=True),
            strict=True,
        )
    ]


def format_table(comparisons: Sequence[ColumnComparison]) -> str:
    lines = [
        f"{'column':<16} {'ws mean':>10} {'syn mean':>10} {'diff':>7}   "
        f"{'ws std':>10} {'syn std':>10} {'diff':>7}",
    ]
    for c in comparisons:
        lines.append(
            f"{c.name:<16} {c.reference_mean:>10.4f} {c.synthetic_mean:>10.4f} {c.mean_diff:>+7.1%}   "
            f"{c.reference_std:>10.4f} {c.synthetic_std:>10.4f} {c.std_diff:>+7.1%}"
            + ("" if c.ok else f"   <-- outside {RELATIVE_TOLERANCE:.0%}")
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model.calibrate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("workshop_csv", type=Path, help="the workshop's training-dataset-with-header.csv")
    parser.add_argument("--rows", type=int, help="synthetic rows (default: as many as the workshop file)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    args = parser.parse_args(argv)
    try:
        reference = read_workshop(args.workshop_csv)
    except WorkshopFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = args.rows or len(reference)
    generated = np.asarray(synthetic.generate_rows(rows, seed=args.seed), dtype=float)
    comparisons = compare(reference, generated)
    print(f"workshop: {len(reference)} rows; synthetic: {rows} rows, seed {args.seed}")
    print(format_table(comparisons))

    ws_rate, syn_rate = 100 * reference[:, 0].mean(), 100 * generated[:, 0].mean()
    rate_ok = abs(syn_rate - ws_rate) <= CHURN_RATE_TOLERANCE_POINTS
    print(f"\nchurn rate: workshop {ws_rate:.2f}%, synthetic {syn_rate:.2f}% "
          f"({syn_rate - ws_rate:+.2f} points, tolerance {CHURN_RATE_TOLERANCE_POINTS:g})")
    failed = [c.name for c in comparisons if not c.ok] + ([] if rate_ok else ["churn rate"])
    if failed:
        print(f"OUT OF TOLERANCE: {', '.join(failed)}")
        return 1
    print(f"all {len(comparisons)} columns within {RELATIVE_TOLERANCE:.0%}; churn rate within tolerance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
