"""Analyzer speed and memory against the floor of merely parsing the same files with pyarrow.

    python -m benchmarks.analyzer_bench               # 1,000,000 rows x 70 columns, 1,000,000 captures
    python -m benchmarks.analyzer_bench --rows 50000  # quick run
    python -m benchmarks.analyzer_bench --records-per-file 20000 --workdir build/bench --reuse

Generates churn-shaped data in a temporary folder (`model.synthetic` when importable, else a
numpy stand-in): a baseline CSV with header, and the same capture records (about 20,000 a minute,
a busy endpoint) in the service's layout once per `--records-per-file` (default: 1,000 and
20,000, the size of the file the service rolls each minute at that rate). Each phase runs in its
own subprocess, which reports its wall and CPU time (its child processes included):

- csv floor: `pyarrow.csv.read_csv` of the baseline CSV;
- baseline: `analyzer.baseline.suggest_baseline` of the same file;
- json floor, per file size: one `pyarrow.json.read_json` per capture file, in the analyzer's
  order (what it takes to merely parse those files);
- monitoring, per file size: `analyzer.monitor.run_monitoring` of the captures against the
  baseline (outputs in `<workdir>/monitoring/<n>-per-file`: the same records give the same files).

Peak memory is the whole process tree's (the analyzer runs its numeric aggregation in a child
process): the resident sizes of the phase's process and its descendants, read from /proc every
`SAMPLE_SECONDS` and added up, and never below either process's own `ru_maxrss`. (Adding the
processes' `ru_maxrss` instead would add peaks reached at different times.) Without /proc the
sum of the `ru_maxrss` of the phase and its largest child is shown, an upper bound.

The phases run in rounds (`--repeat`, default 3: floor, analyzer, floor, analyzer, ... in every
round, so a slow spell of a shared machine hits floors and analyzer alike). Each phase's time is
the median of its rounds (the spread is printed too); its peak memory is the largest.

Targets (issue): baseline <= 2.5x the CSV floor, monitoring <= 2x the JSON floor, peak memory
<= 600 MB. The figures depend on the machine and its load; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np

from contract.layout import capture_file_key, format_time

CHUNK_ROWS = 20_000
RECORDS_PER_FILE = (1_000, 20_000)
SEED_RECORDS = 1_000  # capture records drawn per seed: the same records whatever the file size
RECORD_SECONDS = 0.003  # between two capture records: 20,000 a minute
SAMPLE_SECONDS = 0.01  # between two readings of the phase's process tree's memory
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


def generate_dataset(folder: str, rows: int) -> str:
    """The baseline CSV (with its label column first): `folder`/train.csv."""
    header, make_rows = _generator()
    dataset = os.path.join(folder, "train.csv")
    with open(dataset, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header(True))
        for start in range(0, rows, CHUNK_ROWS):
            writer.writerows(make_rows(min(CHUNK_ROWS, rows - start), start // CHUNK_ROWS, True))
            print(f"  baseline rows: {min(start + CHUNK_ROWS, rows):,}/{rows:,}", flush=True)
    return dataset


def _records(captures: int) -> Iterator[tuple[int, list[str], float]]:
    """(index, feature row, score) of each capture record: drawn `SEED_RECORDS` at a time, so they
    do not depend on how many go in a file."""
    _header, make_rows = _generator()
    rng = np.random.default_rng(7)
    for start in range(0, captures, SEED_RECORDS):
        count = min(SEED_RECORDS, captures - start)
        rows = make_rows(count, 10_000 + start // SEED_RECORDS, False)
        yield from zip(range(start, start + count), rows, rng.random(count).tolist(), strict=True)


def _record_line(row: list[str], score: float, moment: datetime) -> str:
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
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": format_time(moment)},
        "eventVersion": "0",
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def generate_captures(root: str, captures: int, records_per_file: int) -> str:
    """`captures` records in files of `records_per_file` under `root` (the service's layout: one
    endpoint, one variant, hour folders, a file named by when its first record arrived)."""
    started = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    records = _records(captures)
    for first in range(0, captures, records_per_file):
        opened = started + timedelta(seconds=first * RECORD_SECONDS)
        path = os.path.join(root, *capture_file_key("churn", "AllTraffic", opened, str(uuid.uuid4())).split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            for index, row, score in itertools.islice(records, records_per_file):
                out.write(_record_line(row, score, started + timedelta(seconds=index * RECORD_SECONDS)))
        written = min(first + records_per_file, captures)
        if written % 100_000 < records_per_file or written == captures:
            print(f"  capture records ({records_per_file:,} per file): {written:,}/{captures:,}", flush=True)
    return root


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

    for folder, subfolders, names in os.walk(captures):
        subfolders.sort()  # the analyzer's order (`analyzer.capture_sources`)
        for name in sorted(names):
            pyarrow.json.read_json(os.path.join(folder, name))


def _monitoring(_dataset: str, captures: str, work: str) -> None:
    from analyzer.monitor import run_monitoring
    from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE

    baseline = os.path.join(work, "baseline")
    run_monitoring(
        captures=captures,
        statistics=os.path.join(baseline, STATISTICS_FILE),
        constraints=os.path.join(baseline, CONSTRAINTS_FILE),
        output_dir=os.path.join(work, "monitoring", os.path.basename(captures)),
    )


PHASES = {"csv floor": _csv_floor, "baseline": _baseline, "json floor": _json_floor, "monitoring": _monitoring}
CAPTURE_PHASES = ("json floor", "monitoring")  # run once per file size


def _tree_rss_kb(root: int) -> int:
    """Resident kB of a process and all its descendants now (Linux's /proc)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):  # children are listed per thread
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                    stack.extend(int(child) for child in children.read().split())
        except OSError:  # it ended meanwhile
            continue
    return total


def _run_phase(
    name: str, dataset: str, captures: str, work: str, module: str = "benchmarks.analyzer_bench"
) -> dict | None:
    """Run one phase in a fresh interpreter (`python -m <module> --phase ...`, this module's by default):
    its own report, and the peak of its process tree."""
    command = [sys.executable, "-m", module, "--phase", name, dataset, captures, work]
    sampling = os.path.isfile(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=os.path.dirname(os.path.dirname(__file__)))
        sampled = 0
        while process.poll() is None:
            if sampling:
                sampled = max(sampled, _tree_rss_kb(process.pid))
            time.sleep(SAMPLE_SECONDS)
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            print(f"  {name}: failed\n{err.read().strip()[-2000:]}", flush=True)
            return None
        measured = json.loads(out.read().strip().splitlines()[-1])
    own, child = measured.pop("own_kb"), measured.pop("child_kb")
    # Without /proc: the sum of the two peaks, an upper bound of the tree's.
    measured["peak_mb"] = (max(sampled, own, child) if sampling else own + child) / 1024
    return measured


def _phase_main(name: str, dataset: str, captures: str, work: str, phases: dict | None = None) -> None:
    started = time.perf_counter()
    (phases or PHASES)[name](dataset, captures, work)
    seconds = time.perf_counter() - started
    # RUSAGE_CHILDREN: the analyzer's numeric child process, waited for before the run returns.
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "own_kb": own.ru_maxrss, "child_kb": children.ru_maxrss}))


def _monitoring_available() -> bool:
    try:
        from analyzer.monitor import run_monitoring  # noqa: F401
    except ImportError:
        return False
    return True


def _prepare(work: str, rows: int, captures: int, sizes: list[int], reuse: bool) -> tuple[str, dict[int, str]]:
    """The baseline CSV and, per file size, the capture folder (generated unless reused)."""
    dataset = os.path.join(work, "train.csv")
    folders = {size: os.path.join(work, "captures", f"{size}-per-file") for size in sizes}
    if not (reuse and os.path.exists(dataset)):
        print(f"generating {rows:,} baseline rows in {work}", flush=True)
        generate_dataset(work, rows)
    for size, folder in folders.items():
        if not (reuse and os.path.isdir(folder)):
            print(f"generating {captures:,} capture records, {size:,} per file, in {folder}", flush=True)
            generate_captures(folder, captures, size)
    return dataset, folders


def _plan(dataset: str, folders: dict[int, str]) -> list[tuple[str, int | None, str]]:
    """One round's phases in order: (phase, records per file or None, captures folder)."""
    names = [name for name in PHASES if name != "monitoring" or _monitoring_available()]
    plan: list[tuple[str, int | None, str]] = [(name, None, dataset) for name in names if name not in CAPTURE_PHASES]
    for size, folder in folders.items():
        plan.extend((name, size, folder) for name in names if name in CAPTURE_PHASES)
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="baseline CSV rows (default 1,000,000)")
    parser.add_argument("--captures", type=int, help="capture records (default: same as --rows)")
    parser.add_argument(
        "--records-per-file",
        type=int,
        nargs="+",
        default=list(RECORDS_PER_FILE),
        help="capture records per file; each size is generated and measured (default 1000 20000)",
    )
    parser.add_argument("--workdir", help="keep the generated data and outputs here (default: a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse data generated earlier in --workdir")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all phases; medians are reported (default 3)")
    parser.add_argument("--phase", nargs=4, metavar=("NAME", "DATASET", "CAPTURES", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        _phase_main(*args.phase)
        return 0
    if min(args.records_per_file) < 1:
        parser.error("--records-per-file must be at least 1")
    captures = args.rows if args.captures is None else args.captures
    with tempfile.TemporaryDirectory(prefix="analyzer-bench-") as temporary:
        work = args.workdir or temporary
        os.makedirs(work, exist_ok=True)
        dataset, folders = _prepare(work, args.rows, captures, sorted(set(args.records_per_file)), args.reuse)
        plan = _plan(dataset, folders)
        runs: dict[tuple[str, int | None], list[dict]] = {(name, size): [] for name, size, _ in plan}
        for round_number in range(1, max(args.repeat, 1) + 1):
            for name, size, source in plan:
                print(f"round {round_number}: running {_label(name, size)} ...", flush=True)
                measured = _run_phase(name, dataset, source, work)
                if measured:
                    runs[name, size].append(measured)
        _report({key: _summary(measured) for key, measured in runs.items() if measured}, args.rows, captures)
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


def _label(name: str, size: int | None) -> str:
    return name if size is None else f"{name}, {size:,}/file"


def print_phases(results: dict[tuple[str, int | None], dict], width: int = 24) -> None:
    """One line per phase: median wall time, its spread, CPU time and peak memory."""
    for (name, size), measured in results.items():
        low, high = measured["spread"]
        print(
            f"  {_label(name, size):<{width}} {measured['seconds']:7.2f} s wall ({low:.2f}-{high:.2f} in "
            f"{measured['runs']} runs) {measured['cpu_seconds']:7.2f} s cpu   peak {measured['peak_mb']:6.1f} MB"
        )


def _report(results: dict[tuple[str, int | None], dict], rows: int, captures: int) -> None:
    print(f"\nresults ({rows:,} rows x 70 columns, {captures:,} capture records; medians of interleaved rounds)")
    print_phases(results)
    pairs = [(("baseline", None), ("csv floor", None))]
    pairs += [(("monitoring", size), ("json floor", size)) for name, size in results if name == "monitoring"]
    for key, floor_key in pairs:
        mine, floor = results.get(key), results.get(floor_key)
        if mine and floor:
            name, target = _label(*key), TARGETS[key[0]]
            ratio = mine["seconds"] / floor["seconds"]
            speed = "ok" if ratio <= target else "over target"
            memory = "ok" if mine["peak_mb"] <= PEAK_TARGET_MB else "over target"
            print(
                f"  {name} / {floor_key[0]}: {ratio:.2f}x (target <= {target}x, {speed});"
                f" peak {mine['peak_mb']:.0f} MB (target <= {PEAK_TARGET_MB} MB, {memory})"
            )


if __name__ == "__main__":
    sys.exit(main())
