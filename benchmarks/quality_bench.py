"""Model-quality monitoring speed and memory against the floor of merely parsing its input files.

    python -m benchmarks.quality_bench                       # 1,000,000 merged records, 1,000 and 20,000 per file
    python -m benchmarks.quality_bench --records 100000      # quick run
    python -m benchmarks.quality_bench --workdir build/qbench --reuse

Data: the capture files of `benchmarks.analyzer_bench` (churn-shaped requests, a score per response,
the service's layout; `--records-per-file` as there), and one label per capture (its eventId: the
join key of captures without an inferenceId) in hour files of the collection layout
(`<gt>/yyyy/mm/dd/HH/MMSS.jsonl`, `LABELS_PER_FILE` each). Phases, each in a fresh interpreter,
in interleaved rounds (`analyzer_bench`'s runner: wall and CPU time, whole-process-tree peak):

- json floor: one `pyarrow.json.read_json` per capture file and per label file;
- model quality: `run_quality_monitoring` of the same files (merge, metrics, checks, merged records).

Targets (issue 12): model quality <= 2x the floor, peak <= 600 MB. Nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.json as pa_json

from benchmarks import analyzer_bench
from contract.ground_truth import ground_truth_line, label_file_key
from contract.layout import CONSTRAINTS_FILE

LABELS_PER_FILE = 50_000
TARGET = 2.0
COLLECTED = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # labels collected after the captures' hours


def _files(root: str) -> list[str]:
    paths = []
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()  # the analyzer's order (`analyzer.capture_sources`)
        paths.extend(os.path.join(folder, name) for name in sorted(names))
    return paths


def generate_labels(captures: str, root: str) -> None:
    """One label per capture record, keyed by its eventId; about 85 % agree with score > 0.5."""
    rng = np.random.default_rng(11)
    written, handle, moment = 0, None, COLLECTED
    for path in _files(captures):
        table = pa_json.read_json(path).flatten().flatten()
        scores = np.array([float(text) for text in table.column("captureData.endpointOutput.data").to_pylist()])
        labels = np.where(rng.random(len(scores)) < 0.85, scores > 0.5, scores <= 0.5).astype(int)
        for key, label in zip(table.column("eventMetadata.eventId").to_pylist(), labels.tolist(), strict=True):
            if written % LABELS_PER_FILE == 0:
                if handle:
                    handle.close()
                moment += timedelta(seconds=61)
                target = os.path.join(root, *label_file_key("", moment).split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                handle = open(target, "w", encoding="utf-8")  # noqa: SIM115 (closed on rollover)
            handle.write(ground_truth_line(key, label))
            written += 1
    if handle:
        handle.close()


def _constraints(work: str) -> str:
    path = os.path.join(work, CONSTRAINTS_FILE)
    operators = {"accuracy": "LessThanThreshold", "auc": "LessThanThreshold"}
    operators["false_positive_rate"] = "GreaterThanThreshold"
    section = {name: {"threshold": 0.5, "comparison_operator": op} for name, op in operators.items()}
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"version": 0.0, "binary_classification_constraints": section}, out)
    return path


def _floor(labels: str, captures: str, _work: str) -> None:
    for path in _files(captures) + _files(labels):
        pa_json.read_json(path)


def _quality(labels: str, captures: str, work: str) -> None:
    from analyzer.quality_monitor import run_quality_monitoring

    run_quality_monitoring(
        captures,
        labels,
        os.path.join(work, CONSTRAINTS_FILE),
        os.path.join(work, "report", os.path.basename(captures)),
        problem_type="BinaryClassification",
        probability_attribute="0",
        probability_threshold=0.5,
    )


PHASES = {"json floor": _floor, "model quality": _quality}


def _prepare(work: str, records: int, sizes: list[int], reuse: bool) -> dict[int, tuple[str, str]]:
    folders = {}
    for size in sizes:
        captures = os.path.join(work, "captures", f"{size}-per-file")
        labels = os.path.join(work, "ground-truth", f"{size}-per-file")
        if not (reuse and os.path.isdir(captures) and os.path.isdir(labels)):
            print(f"generating {records:,} capture records ({size:,} per file) and their labels", flush=True)
            analyzer_bench.generate_captures(captures, records, size)
            generate_labels(captures, labels)
        folders[size] = (captures, labels)
    _constraints(work)
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="capture records, each with a label")
    parser.add_argument("--records-per-file", type=int, nargs="+", default=list(analyzer_bench.RECORDS_PER_FILE))
    parser.add_argument("--workdir", help="keep the generated data and outputs here (default: a temp folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse data generated earlier in --workdir")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--phase", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        analyzer_bench._phase_main(*args.phase, phases=PHASES)
        return 0
    with tempfile.TemporaryDirectory(prefix="quality-bench-") as temporary:
        work = args.workdir or temporary
        os.makedirs(work, exist_ok=True)
        folders = _prepare(work, args.records, sorted(set(args.records_per_file)), args.reuse)
        runs: dict[tuple[str, int], list[dict]] = {(name, size): [] for size in folders for name in PHASES}
        for round_number in range(1, max(args.repeat, 1) + 1):
            for size, (captures, labels) in folders.items():
                for name in PHASES:
                    print(f"round {round_number}: {name}, {size:,}/file ...", flush=True)
                    measured = analyzer_bench._run_phase(name, labels, captures, work, module=__spec__.name)
                    if measured:
                        runs[name, size].append(measured)
        _report({key: analyzer_bench._summary(value) for key, value in runs.items() if value}, args.records)
    return 0


def _report(results: dict[tuple[str, int], dict], records: int) -> None:
    print(f"\nresults ({records:,} capture records and labels; medians of interleaved rounds)")
    analyzer_bench.print_phases(results, width=28)
    for size in sorted({size for _, size in results}):
        mine, floor = results.get(("model quality", size)), results.get(("json floor", size))
        if mine and floor:
            ratio = mine["seconds"] / floor["seconds"]
            print(
                f"  model quality / json floor, {size:,}/file: {ratio:.2f}x (target <= {TARGET}x, "
                f"{'ok' if ratio <= TARGET else 'over target'}); peak {mine['peak_mb']:.0f} MB "
                f"(target <= {analyzer_bench.PEAK_TARGET_MB} MB, "
                f"{'ok' if mine['peak_mb'] <= analyzer_bench.PEAK_TARGET_MB else 'over target'})"
            )


if __name__ == "__main__":
    sys.exit(main())
