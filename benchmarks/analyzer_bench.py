"""Analyzer speed and memory against the floor of merely parsing the same files with pyarrow.

    python -m benchmarks.analyzer_bench               # 1,000,000 rows x 70 columns, 1,000,000 captures
    python -m benchmarks.analyzer_bench --rows 50000  # quick run

Generates churn-shaped data in a temporary folder (`model.synthetic` when importable, else a
numpy stand-in): a baseline CSV with header and capture files in the service's layout (one
JSON-lines file per 1,000 records). Each phase runs in its own subprocess, which reports its
wall time and peak resident memory (ru_maxrss):

- csv floor: `pyarrow.csv.read_csv` of the baseline CSV;
- baseline: `analyzer.baseline.suggest_baseline` of the same file;
- json floor: `pyarrow.json.read_json` of every capture file;
- monitoring: `analyzer.monitor.run_monitoring` of the captures against the baseline.

The phases run in rounds (`--repeat`, default 3: floor, analyzer, floor, analyzer, ... in every
round, so a slow spell of a shared machine hits floors and analyzer alike). Each phase's time is
the median of its rounds (the spread is printed too); its peak memory is the largest.

Targets (issue): baseline <= 2.5x the CSV floor, monitoring <= 2x the JSON floor, peak memory
<= 600 MB. The figures depend on the machine and its load; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np

CHUNK_ROWS = 20_000
RECORDS_PER_FILE = 1_000
TARGETS = {"baseline": 2.5, "monitoring": 2.0}
PEAK_TARGET_MB = 600


def _numpy_rows(n_rows: int, seed: int, label: bool) -> list[list[str]]:
    """Churn-shaped rows without `model.synthetic`: 11 numeric columns, one-hot state/area/plans."""
    rng = np.random.default_rng(seed)
    columns = [
        rng.integers(1, 243, n_rows).astype(str),
        rng.integers(0, 51, n_rows).astype(str),
    ]
    for mean in (180.0, 200.0, 200.0):
        columns.append(np.char.mod("%.1f", np.round(np.clip(rng.normal(mean, 50.0, n_rows), 0, None), 1)))
        columns.append(rng.integers(40, 170, n_rows).astype(str))
    columns.append(np.char.mod("%.1f", np.round(np.clip(rng.normal(10.0, 2.8, n_rows), 0, None), 1)))
    columns.append(rng.integers(0, 20, n_rows).astype(str))
    columns.append(rng.integers(0, 9, n_rows).astype(str))
    for levels in (51, 3, 2, 2):
        picked = rng.integers(0, levels, n_rows)
        columns.extend(np.where(picked == level, "1", "0") for level in range(levels))
    if label:
        columns.insert(0, rng.integers(0, 2, n_rows).astype(str))
    return np.column_stack(columns).tolist()


def _generator():
    """(header(label), rows(n, seed, label)) from model.synthetic, or the numpy stand-in."""
    try:
        from model import synthetic
    except ImportError:
        names = ["Churn"] + [f"f{i}" for i in range(69)]
        return (lambda label: names if label else names[1:]), _numpy_rows
    return (lambda label: synthetic.header(label=label)), (
        lambda n, seed, label: synthetic.generate_rows(n, seed=seed, label=label)
    )


def generate(folder: str, rows: int, captures: int) -> tuple[str, str]:
    header, make_rows = _generator()
    dataset = os.path.join(folder, "train.csv")
    with open(dataset, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header(True))
        for start in range(0, rows, CHUNK_ROWS):
            writer.writerows(make_rows(min(CHUNK_ROWS, rows - start), start // CHUNK_ROWS, True))
            print(f"  baseline rows: {min(start + CHUNK_ROWS, rows):,}/{rows:,}", flush=True)
    capture_root = os.path.join(folder, "captures")
    opened = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    rng = np.random.default_rng(7)
    time_format = "%Y-%m-%dT%H:%M:%SZ"
    written = 0
    while written < captures:
        count = min(RECORDS_PER_FILE, captures - written)
        feature_rows = make_rows(count, 10_000 + written // RECORDS_PER_FILE, False)
        scores = rng.random(count)
        folder_path = os.path.join(capture_root, "churn", "AllTraffic", opened.strftime("%Y/%m/%d/%H"))
        os.makedirs(folder_path, exist_ok=True)
        name = f"{opened:%M-%S}-000-{uuid.uuid4()}.jsonl"
        with open(os.path.join(folder_path, name), "w", encoding="utf-8") as out:
            for row, score in zip(feature_rows, scores, strict=True):
                record = {
                    "captureData": {
                        "endpointInput": {
                            "observedContentType": "text/csv",
                            "mode": "INPUT",
                            "data": ",".join(row),
                            "encoding": "CSV",
                        },
                        "endpointOutput": {
                            "observedContentType": "text/csv; charset=utf-8",
                            "mode": "OUTPUT",
                            "data": f"{score}\n",
                            "encoding": "CSV",
                        },
                    },
                    "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": opened.strftime(time_format)},
                    "eventVersion": "0",
                }
                out.write(json.dumps(record, separators=(",", ":")) + "\n")
        written += count
        opened += timedelta(seconds=1)
        if written % 100_000 == 0 or written == captures:
            print(f"  capture records: {written:,}/{captures:,}", flush=True)
    return dataset, capture_root


# ---------------------------------------------------------------------------------------------
# Phases (each runs in a fresh interpreter: `--phase NAME ...`).
# ---------------------------------------------------------------------------------------------


def _csv_floor(dataset: str, _captures: str, _work: str) -> None:
    import pyarrow.csv

    pyarrow.csv.read_csv(dataset)


def _baseline(dataset: str, _captures: str, work: str) -> None:
    from analyzer.baseline import suggest_baseline

    suggest_baseline(dataset, os.path.join(work, "baseline"))


def _json_floor(_dataset: str, captures: str, _work: str) -> None:
    import pyarrow.json

    for folder, _subfolders, names in os.walk(captures):
        for name in names:
            pyarrow.json.read_json(os.path.join(folder, name))


def _monitoring(_dataset: str, captures: str, work: str) -> None:
    from analyzer.monitor import run_monitoring
    from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE

    baseline = os.path.join(work, "baseline")
    run_monitoring(
        captures=captures,
        statistics=os.path.join(baseline, STATISTICS_FILE),
        constraints=os.path.join(baseline, CONSTRAINTS_FILE),
        output_dir=os.path.join(work, "monitoring"),
    )


PHASES = {"csv floor": _csv_floor, "baseline": _baseline, "json floor": _json_floor, "monitoring": _monitoring}


def _run_phase(name: str, dataset: str, captures: str, work: str) -> dict | None:
    command = [sys.executable, "-m", "benchmarks.analyzer_bench", "--phase", name, dataset, captures, work]
    done = subprocess.run(command, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    if done.returncode != 0:
        print(f"  {name}: failed\n{done.stderr.strip()[-2000:]}", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _phase_main(name: str, dataset: str, captures: str, work: str) -> None:
    started = time.perf_counter()
    PHASES[name](dataset, captures, work)
    seconds = time.perf_counter() - started
    # The analyzer may run its numeric aggregation in a child process: count both (their
    # peaks added, an upper bound of the peak they reached together).
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_mb": (own.ru_maxrss + children.ru_maxrss) / 1024}))


def _monitoring_available() -> bool:
    try:
        from analyzer.monitor import run_monitoring  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="baseline CSV rows (default 1,000,000)")
    parser.add_argument("--captures", type=int, help="capture records (default: same as --rows)")
    parser.add_argument("--workdir", help="keep the generated data and outputs here (default: a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse data generated earlier in --workdir")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all phases; medians are reported (default 3)")
    parser.add_argument("--phase", nargs=4, metavar=("NAME", "DATASET", "CAPTURES", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        _phase_main(*args.phase)
        return 0
    captures = args.rows if args.captures is None else args.captures
    with tempfile.TemporaryDirectory(prefix="analyzer-bench-") as temporary:
        work = args.workdir or temporary
        os.makedirs(work, exist_ok=True)
        dataset, capture_root = os.path.join(work, "train.csv"), os.path.join(work, "captures")
        if not (args.reuse and os.path.exists(dataset) and os.path.isdir(capture_root)):
            print(f"generating {args.rows:,} rows and {captures:,} capture records in {work}", flush=True)
            dataset, capture_root = generate(work, args.rows, captures)
        names = [name for name in PHASES if name != "monitoring" or _monitoring_available()]
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for round_number in range(1, max(args.repeat, 1) + 1):
            for name in names:
                print(f"round {round_number}: running {name} ...", flush=True)
                measured = _run_phase(name, dataset, capture_root, work)
                if measured:
                    runs[name].append(measured)
        _report({name: _summary(measured) for name, measured in runs.items() if measured}, args.rows, captures)
    return 0


def _summary(runs: list[dict]) -> dict:
    seconds = [run["seconds"] for run in runs]
    return {
        "seconds": statistics.median(seconds),
        "spread": (min(seconds), max(seconds)),
        "cpu_seconds": statistics.median(run["cpu_seconds"] for run in runs),
        "peak_mb": max(run["peak_mb"] for run in runs),
        "runs": len(runs),
    }


def _report(results: dict, rows: int, captures: int) -> None:
    print(f"\nresults ({rows:,} rows x 70 columns, {captures:,} capture records; medians of rounds)")
    for name, measured in results.items():
        low, high = measured["spread"]
        print(
            f"  {name:<11} {measured['seconds']:8.2f} s wall ({low:.2f}-{high:.2f} in {measured['runs']} runs)"
            f" {measured['cpu_seconds']:8.2f} s cpu   peak {measured['peak_mb']:7.1f} MB"
        )
    for name, floor in (("baseline", "csv floor"), ("monitoring", "json floor")):
        mine, base = results.get(name), results.get(floor)
        if mine and base:
            ratio = mine["seconds"] / base["seconds"]
            verdict = "ok" if ratio <= TARGETS[name] else "over target"
            print(f"  {name} / {floor}: {ratio:.2f}x (target <= {TARGETS[name]}x, {verdict})")
            memory = "ok" if mine["peak_mb"] <= PEAK_TARGET_MB else "over target"
            print(
                f"  {name} peak memory / {floor}'s: {mine['peak_mb'] / base['peak_mb']:.2f}x "
                f"({mine['peak_mb']:.0f} MB, target <= {PEAK_TARGET_MB} MB, {memory})"
            )


if __name__ == "__main__":
    sys.exit(main())
