"""Seeded synthetic churn data shaped like the SageMaker Model Monitor workshop's training set.

The workshop file (2,333 rows, 70 columns, `Churn` first) is never read here: its marginals are
copied below as constants (see `python -m model.calibrate` for the comparison). Features are drawn
independently per column; the label follows a fixed logistic model of the features so that a model
can learn it. `Drift` knobs reshape the output to exercise every Model Monitor check, and
`Drift.churn_model` changes how the label follows from the same features (a concept shift, which
only the model-quality monitor can see).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LABEL = "Churn"

# Row counts per category in the workshop's 2,333-row training file. Categories are drawn by quota
# (largest remainder, then shuffled) so the shares are exact for any seed: plain sampling puts rare
# states (CA: 23 rows) more than 10% off their share at this row count.
STATE_COUNTS: dict[str, int] = {
    "AK": 34, "AL": 50, "AR": 44, "AZ": 48, "CA": 23, "CO": 49, "CT": 50, "DC": 37, "DE": 44,
    "FL": 43, "GA": 36, "HI": 39, "IA": 33, "ID": 52, "IL": 38, "IN": 47, "KS": 51, "KY": 44,
    "LA": 41, "MA": 36, "MD": 48, "ME": 41, "MI": 43, "MN": 63, "MO": 49, "MS": 49, "MT": 49,
    "NC": 40, "ND": 40, "NE": 48, "NH": 42, "NJ": 47, "NM": 48, "NV": 52, "NY": 58, "OH": 48,
    "OK": 39, "OR": 52, "PA": 29, "RI": 45, "SC": 37, "SD": 43, "TN": 37, "TX": 51, "UT": 55,
    "VA": 54, "VT": 56, "WA": 47, "WI": 50, "WV": 81, "WY": 53,
}  # fmt: skip
AREA_CODE_COUNTS: dict[str, int] = {"408": 567, "415": 1172, "510": 594}
INTL_PLAN_COUNTS: dict[str, int] = {"no": 2096, "yes": 237}
VMAIL_PLAN_COUNTS: dict[str, int] = {"no": 1683, "yes": 650}
STATES = list(STATE_COUNTS)

MINUTE_COLUMNS = ("Day Mins", "Eve Mins", "Night Mins", "Intl Mins")
USAGE_COLUMNS = (
    "Account Length", "VMail Message", "Day Mins", "Day Calls", "Eve Mins", "Eve Calls",
    "Night Mins", "Night Calls", "Intl Mins", "Intl Calls", "CustServ Calls",
)  # fmt: skip
_ONE_HOT_GROUPS: dict[str, dict[str, int]] = {
    "State": STATE_COUNTS,
    "Area Code": AREA_CODE_COUNTS,
    "Int'l Plan": INTL_PLAN_COUNTS,
    "VMail Plan": VMAIL_PLAN_COUNTS,
}
COLUMNS: list[str] = [
    LABEL,
    *USAGE_COLUMNS,
    *(f"{group}_{value}" for group, counts in _ONE_HOT_GROUPS.items() for value in counts),
]
FEATURES: list[str] = COLUMNS[1:]

# Workshop mean and standard deviation of the usage columns that are drawn from a normal
# distribution (rounded to the column's format, clipped at the workshop's minimum).
_NORMAL_USAGE: dict[str, tuple[float, float, float]] = {
    "Account Length": (101.28, 39.56, 1.0),
    "Day Mins": (180.23, 54.00, 0.0),
    "Day Calls": (100.26, 20.17, 0.0),
    "Eve Mins": (200.05, 50.03, 0.0),
    "Eve Calls": (99.57, 19.68, 0.0),
    "Night Mins": (201.39, 50.64, 0.0),
    "Night Calls": (100.23, 19.29, 0.0),
    "Intl Mins": (10.25, 2.78, 0.0),
}
# Over-dispersed counts: negative binomial (mean, variance) as measured in the workshop.
_COUNT_USAGE: dict[str, tuple[float, float]] = {
    "Intl Calls": (4.495, 2.489**2),
    "CustServ Calls": (1.580, 1.308**2),
}
# Voicemail messages exist only with a voicemail plan (as in the workshop): mean/std/min/max there.
_VMAIL_MESSAGES = (29.48, 7.37, 8.0, 51.0)

# Logistic churn model. The intercept is calibrated so the mean probability over the workshop-like
# feature distribution is the workshop's churn rate (325 / 2,333 = 13.93%).
CHURN_RATE = 325 / 2333
_INTERCEPT = -3.188


def _churn_logit(v: dict[str, np.ndarray]) -> np.ndarray:
    """Log-odds of churn; shaped after the workshop (heavy day use, 4+ service calls, plans)."""
    intl_plan = v["Int'l Plan_yes"]
    return (
        _INTERCEPT
        + 0.022 * (v["Day Mins"] - 180.0)
        + 2.6 / (1.0 + np.exp(-(v["Day Mins"] - 265.0) / 8.0))
        + 0.008 * (v["Eve Mins"] - 200.0)
        + 2.4 * (v["CustServ Calls"] >= 4)
        + 1.6 * intl_plan
        + 1.8 * intl_plan * ((v["Intl Mins"] > 13.0) | (v["Intl Calls"] < 3))
        + 0.12 * (v["Intl Mins"] - 10.0)
        - 1.0 * v["VMail Plan_yes"]
    )


# A competitor's offer (the concept shift): a rival's plan with free evening and night calls, aimed
# at newer customers. The same inputs now mean something else: evening and night callers and short
# tenures leave, the workshop's reasons (day minutes, service calls, the international plan) keep a
# tenth of their weight, and about a quarter of the customers churn instead of 14%.
_OFFER_INTERCEPT = -2.2
_OFFER_OLD_WEIGHT = 0.1


def _offer_logit(v: dict[str, np.ndarray]) -> np.ndarray:
    return (
        _OFFER_INTERCEPT
        + 0.03 * (v["Eve Mins"] - 200.0)
        + 0.03 * (v["Night Mins"] - 200.0)
        - 0.02 * (v["Account Length"] - 101.0)
        + _OFFER_OLD_WEIGHT * (_churn_logit(v) - _INTERCEPT)
    )


CHURN_MODELS = {"workshop": _churn_logit, "competitor_offer": _offer_logit}


@dataclass(frozen=True)
class Drift:
    """Ways to make generated data differ from the baseline; every field is optional.

    scale/shift: numeric column -> factor/offset (value * scale + shift, re-rounded to the
    column's format). state_mix: state code -> weight, replacing the whole state mix (states not
    listed do not occur). blank: column -> share of its values emptied. wrong_type_rows: rows
    replaced by a header-like row of Fractional strings (as when a CSV's first data row was read
    as a header and de-duplicated: `186,0.1,137.8,...`). add_columns: new columns of random
    integers appended at the end. drop_columns: feature columns left out. churn_model: how the
    label follows from the features (a key of CHURN_MODELS; the inputs stay as they are).
    """

    scale: dict[str, float] = field(default_factory=dict)
    shift: dict[str, float] = field(default_factory=dict)
    state_mix: dict[str, float] = field(default_factory=dict)
    blank: dict[str, float] = field(default_factory=dict)
    wrong_type_rows: int = 0
    add_columns: list[str] = field(default_factory=list)
    drop_columns: list[str] = field(default_factory=list)
    churn_model: str = "workshop"

    def __post_init__(self) -> None:
        _require_known("churn_model", [self.churn_model], list(CHURN_MODELS), "a churn model")
        _require_known("scale", self.scale, FEATURES, "a feature column")
        _require_known("shift", self.shift, FEATURES, "a feature column")
        _require_known("drop_columns", self.drop_columns, FEATURES, "a feature column")
        _require_known("state_mix", self.state_mix, STATES, "a state code such as 'CA'")
        if self.state_mix and (min(self.state_mix.values()) < 0 or sum(self.state_mix.values()) <= 0):
            raise ValueError("Drift.state_mix: weights must be >= 0 with a positive sum")
        clashes = sorted(set(self.add_columns) & set(COLUMNS)) or sorted(
            {c for c in self.add_columns if self.add_columns.count(c) > 1}
        )
        if clashes:
            raise ValueError(f"Drift.add_columns: {clashes} already exist; pick new, distinct names")
        kept = [c for c in COLUMNS if c not in self.drop_columns] + list(self.add_columns)
        _require_known("blank", self.blank, kept, "an output column (not dropped)")
        if any(not 0.0 <= share <= 1.0 for share in self.blank.values()):
            raise ValueError("Drift.blank: shares must be between 0 and 1")
        if self.wrong_type_rows < 0:
            raise ValueError("Drift.wrong_type_rows must be >= 0")


def _require_known(knob: str, names: Iterable[str], known: Sequence[str], what: str) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"Drift.{knob}: unknown name(s) {unknown}; each must be {what}")


SCENARIOS: dict[str, Drift] = {
    "normal": Drift(),
    # Large enough for the KLL L-infinity distance to pass 0.1 with a few hundred rows.
    "drifted": Drift(scale={"Day Mins": 1.3}, shift={"CustServ Calls": 2.0}),
    "missing_values": Drift(blank={"Day Mins": 0.2, "CustServ Calls": 0.2}),
    "mangled": Drift(wrong_type_rows=3),
    "state_shift": Drift(state_mix={"CA": 1.0, "TX": 1.0, "NY": 1.0}),
    "extra_column": Drift(add_columns=["Roaming Calls"]),
    "concept_shift": Drift(churn_model="competitor_offer"),
}
SCENARIO_HELP = {
    "normal": "no drift: same distribution as the baseline",
    "drifted": "Day Mins x1.3 and CustServ Calls +2 (baseline drift check fires)",
    "missing_values": "20% of Day Mins and CustServ Calls empty (completeness check fires)",
    "mangled": "3 header-like rows of Fractional strings (data type check fires)",
    "state_shift": "all customers from CA, TX or NY",
    "extra_column": "an extra integer column 'Roaming Calls' at the end (column count changes)",
    "concept_shift": "baseline inputs, changed outcomes: a competitor's offer (model-quality check fires)",
}


def header(label: bool = True, drift: Drift | None = None) -> list[str]:
    """Column names of generated rows, in order."""
    drift = drift or Drift()
    names = [c for c in COLUMNS if c not in drift.drop_columns] + list(drift.add_columns)
    return names if label else names[1:]


_header = header  # write_csv's `header` flag shadows the function


def _quota(rng: np.random.Generator, n_rows: int, weights: Sequence[float]) -> np.ndarray:
    """Category index per row with counts as close to n_rows * weight as integers allow, shuffled."""
    expected = n_rows * np.asarray(weights, dtype=float) / np.sum(weights)
    counts = np.floor(expected).astype(np.int64)
    largest_remainders = np.argsort(counts - expected, kind="stable")[: n_rows - counts.sum()]
    counts[largest_remainders] += 1
    return rng.permutation(np.repeat(np.arange(len(counts)), counts))


def _features(rng: np.random.Generator, n_rows: int, state_mix: dict[str, float]) -> dict[str, np.ndarray]:
    v: dict[str, np.ndarray] = {}
    for name, (mean, std, low) in _NORMAL_USAGE.items():
        v[name] = np.maximum(rng.normal(mean, std, n_rows), low)
    for name, (mean, var) in _COUNT_USAGE.items():
        dispersion = mean**2 / (var - mean)
        v[name] = rng.negative_binomial(dispersion, dispersion / (dispersion + mean), n_rows).astype(float)
    for group, counts in _ONE_HOT_GROUPS.items():
        weights = list(counts.values())
        if group == "State" and state_mix:
            weights = [state_mix.get(state, 0.0) for state in counts]
        picked = _quota(rng, n_rows, weights)
        for i, value in enumerate(counts):
            v[f"{group}_{value}"] = (picked == i).astype(float)
    mean, std, low, high = _VMAIL_MESSAGES
    messages = np.clip(rng.normal(mean, std, n_rows), low, high)
    v["VMail Message"] = np.where(v["VMail Plan_yes"] == 1.0, messages, 0.0)
    return {name: _round(name, v[name]) for name in FEATURES}


def _round(name: str, values: np.ndarray) -> np.ndarray:
    # `+ 0.0` turns -0.0 into 0.0 so it never prints as "-0.0".
    return (np.round(values, 1) if name in MINUTE_COLUMNS else np.rint(values)) + 0.0


def _label(rng: np.random.Generator, v: dict[str, np.ndarray], churn_model: str = "workshop") -> np.ndarray:
    """0/1 churn. Latent-logistic draw whose positives are the round(sum p) highest latent values:

    the same ranking as independent Bernoulli(p) draws, without the count noise (the churn rate
    stays within a fraction of a point of the expected rate, also when drift raises it).
    """
    logit = CHURN_MODELS[churn_model](v)
    positives = int(np.rint(np.sum(1.0 / (1.0 + np.exp(-logit)))))
    latent = logit + rng.logistic(size=logit.size)
    churn = np.zeros(logit.size)
    churn[np.argsort(-latent, kind="stable")[:positives]] = 1.0
    return churn


def _format(name: str, values: np.ndarray) -> np.ndarray:
    if name in MINUTE_COLUMNS:
        return np.char.mod("%.1f", values)
    return values.astype(np.int64).astype(str)


def _mangle(row: Sequence[str]) -> list[str]:
    """A row read as a CSV header and de-duplicated like pandas: repeats become `0.1`, `0.2`, ..."""
    seen: dict[str, int] = {}
    out = []
    for value in row:
        count = seen.get(value, 0)
        out.append(f"{value}.{count}" if count else value)
        seen[value] = count + 1
    return out


def generate_rows(
    n_rows: int, seed: int = 0, drift: Drift | None = None, label: bool = True
) -> list[list[str]]:
    """Rows of formatted values (see `header()` for the columns), deterministic for a seed."""
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    drift = drift or Drift()
    # Independent streams so a drift knob never changes the values of untouched columns.
    feature_rng, label_rng, extra_rng, damage_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    values = _features(feature_rng, n_rows, drift.state_mix)
    for name in set(drift.scale) | set(drift.shift):
        values[name] = _round(name, values[name] * drift.scale.get(name, 1.0) + drift.shift.get(name, 0.0))
    values[LABEL] = _label(label_rng, values, drift.churn_model)
    for name in drift.add_columns:
        values[name] = extra_rng.integers(0, 100, n_rows).astype(float)

    names = header(label=True, drift=drift)
    table = np.empty((n_rows, len(names)), dtype=object)
    for j, name in enumerate(names):
        table[:, j] = _format(name, values[name])
    for i in damage_rng.choice(n_rows, min(drift.wrong_type_rows, n_rows), replace=False):
        table[i] = _mangle(table[i].tolist())
    for name, share in sorted(drift.blank.items()):
        emptied = damage_rng.choice(n_rows, int(round(share * n_rows)), replace=False)
        table[emptied, names.index(name)] = ""
    return (table if label else table[:, 1:]).tolist()


def write_rows(path: str | Path, columns: Sequence[str] | None, rows: Iterable[Sequence[str]]) -> None:
    """Write CSV rows (`-` is stdout), with a header line unless `columns` is None."""
    out = sys.stdout if str(path) == "-" else open(path, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(out, lineterminator="\n")
        if columns is not None:
            writer.writerow(columns)
        writer.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()


def write_csv(
    path: str | Path,
    n_rows: int,
    seed: int = 0,
    drift: Drift | None = None,
    label: bool = True,
    header: bool = True,
) -> None:
    """Generate rows and write them as CSV to `path` (`-` is stdout)."""
    columns = _header(label=label, drift=drift) if header else None
    write_rows(path, columns, generate_rows(n_rows, seed=seed, drift=drift, label=label))


def main(argv: Sequence[str] | None = None) -> int:
    scenarios = "\n".join(f"  {name:<15} {SCENARIO_HELP[name]}" for name in SCENARIOS)
    parser = argparse.ArgumentParser(
        prog="python -m model.synthetic",
        description="Write seeded synthetic churn data shaped like the Model Monitor workshop's "
        "training set (70 columns, Churn first).",
        epilog=f"scenarios:\n{scenarios}\n\nexample: python -m model.synthetic --rows 300 --seed 7 "
        "--scenario drifted --no-label --no-header --out traffic.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=int, default=2333, help="number of data rows (default: 2333)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed, same file (default: 0)")
    parser.add_argument("--scenario", choices=list(SCENARIOS), default="normal", help="default: normal")
    parser.add_argument("--no-label", action="store_true", help="omit Churn (as a client sends the endpoint)")
    parser.add_argument("--no-header", action="store_true", help="omit the header line")
    parser.add_argument("--out", required=True, help="output CSV path, or - for stdout")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error(f"--rows must be >= 0, got {args.rows}")
    try:
        drift = SCENARIOS[args.scenario]
        write_csv(args.out, args.rows, args.seed, drift, label=not args.no_label, header=not args.no_header)
    except OSError as exc:
        parser.error(f"cannot write {args.out}: {exc.strerror}; check the folder exists and is writable")
    if args.out != "-":
        print(f"wrote {args.rows} rows ({args.scenario}, seed {args.seed}) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
