"""Snapshot the project's outputs, to show that a refactor changes none of them (a test tool, run by hand).

Run it in each checkout (from any directory; it works in the checkout that holds it, with the
interpreter that runs it, normally the checkout's .venv), then compare the two folders:

    .venv/bin/python tests/output_snapshot.py /tmp/before --reference-dataset data/train.csv
    (in the other checkout, same arguments)  .venv/bin/python tests/output_snapshot.py /tmp/after ...
    diff -r /tmp/before /tmp/after          # empty: no output changed

OUT_DIR (new or empty) receives:

  baselines/<name>/      `python -m analyzer suggest-baseline` of model/build/baseline-dataset.csv,
                         model/build/train.csv and every reference dataset given
  demo/                  `python -m workshop demo`: its baseline, both monitoring runs' JSON files, the HTML
                         reports, the alert marker, the file list and stdout, with what differs between two
                         runs of the same code masked (DEMO_MASKS; the demo's hours become HOUR-2/-1/-0)
  replay/<scenario>/     `python -m analyzer monitor` over seeded capture files of a fixed normal and a
                         fixed drifted hour, scored by the model (`python -m workshop baseline-dataset`)
  synth/<env>-<engine>/  `cdk synth` templates, keys sorted, content hashes masked (SYNTH_MASKS)

`make model` runs first (it rebuilds only what is stale), so both checkouts use their own model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CDK = REPO / "node_modules" / ".bin" / "cdk"
MODEL_BUILD = REPO / "model" / "build"
ENV = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONDONTWRITEBYTECODE": "1"}
SECTIONS = ("baselines", "demo", "replay", "synth")
ENVIRONMENTS, ENGINES = ("dev", "prod"), ("self-hosted", "managed")

# The demo: 400 requests an hour (its default) paced 100 ms apart, so they reach the capture writer
# in order: with its default 4 s per hour (10 ms apart) concurrent requests overtake each other, and
# the order of the runs' sketch values and the last digits of their sums change from run to run.
DEMO_SECONDS_PER_HOUR = "40"
DEMO_FILES = ("baseline/*.json", "runs/**/*.json", "report-*.html", "s3/*/alert-markers/**/*")
DEMO_UNLISTED = ("/datacapture/",)  # capture file names are times and uuid4s; their count follows wall time
# What differs between two demo runs of the same code. Applied before the hour tokens.
DEMO_MASKS: tuple[tuple[str, str], ...] = (
    # moto and the local endpoint listen on free ports
    (r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:<port>"),
    # step headers are timed from the start
    (r"== \[\s*\d+\.\ds\]", "== [<elapsed>]"),
    # the traffic summary's wall time and rate
    (r"succeeded in \d+\.\d s \(\d+/s\)", "succeeded in <seconds> s (<rate>/s)"),
    # capture files roll on the simulated clock, which runs on wall time: their count varies
    (r"\b\d+ files\b", "<n> files"),
    (r"\(\d+ objects\)", "(<n> objects)"),
    # the first captured records: capture clock time and the first 8 hex digits of a uuid4 event id
    (r"(?m)^(\s+)\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ(\s+)[0-9a-f]{8}(?=\s)", r"\1<inferenceTime>\2<eventId>"),
    # the alert marker: the EventBridge event's uuid4 and the wall-clock claimed_at
    (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", "<uuid>"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", "<now>"),
    # the HTML reports' "report generated" wall-clock time
    (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", "<now>"),
)
# How the demo writes its hours (windows, S3 keys, report and job names); each becomes HOUR-<n>.
HOUR_FORMATS = ("%Y-%m-%dT%H", "%Y/%m/%d/%H", "%Y%m%d-%H00", "%Y%m%d%H")

# The replay: a fixed hour of each scenario, one capture file per minute as the endpoint rolls them.
REPLAY_ENDPOINT, REPLAY_ROWS = "churn-replay", 300
REPLAY_HOURS = {
    "normal": (datetime(2024, 5, 1, 10, tzinfo=UTC), 7),  # (window start, generator seed)
    "drifted": (datetime(2024, 5, 1, 11, tzinfo=UTC), 8),
}

# Content hashes in templates: they follow the bytes of code, model and data, not what is deployed.
SHA256 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")  # asset hashes: S3 keys, PYTHONPATH, asset paths
SYNTH_MASKS: tuple[tuple[str, str], ...] = (
    # the managed engine's job definition name: 8 hex digits of sha256 of its resolved properties
    (r"-dq-[0-9a-f]{8}-", "-dq-<hash8>-"),
)


class SnapshotError(RuntimeError):
    """A step failed; the message says which and why."""


def run(args: Sequence[str | Path], cwd: Path = REPO) -> str:
    """Run a command, return its stdout; raise with the end of its stderr when it fails."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise SnapshotError(f"`{' '.join(str(a) for a in args)}` exited {result.returncode}:\n{tail}")
    return result.stdout


def substitute(text: str, masks: Iterable[tuple[str, str]]) -> str:
    for pattern, replacement in masks:
        text = re.sub(pattern, replacement, text)
    return text


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- baselines ---------------------------------------------------------------------------------------


def baseline_datasets(with_header: Sequence[Path], without_header: Sequence[Path]) -> dict[str, tuple[Path, bool]]:
    """Snapshot name -> (dataset, has a header line); names are file stems and must be distinct."""
    datasets = {"baseline-dataset": (MODEL_BUILD / "baseline-dataset.csv", True),
                "train": (MODEL_BUILD / "train.csv", True)}
    for path, header in [(p, True) for p in with_header] + [(p, False) for p in without_header]:
        if not path.is_file():
            raise SnapshotError(f"{path}: no such file")
        if path.stem in datasets:
            raise SnapshotError(f"{path}: another dataset is already named {path.stem!r}; rename one")
        datasets[path.stem] = (path.resolve(), header)
    return datasets


def suggest_baseline(dataset: Path, output: Path, header: bool = True) -> None:
    run([PYTHON, "-m", "analyzer", "-q", "suggest-baseline", "--dataset", dataset, "--output", output,
         *([] if header else ["--no-header"])])


def snapshot_baselines(out: Path, datasets: dict[str, tuple[Path, bool]]) -> None:
    for name, (dataset, header) in datasets.items():
        suggest_baseline(dataset, out / name, header)


# -- demo --------------------------------------------------------------------------------------------


def hour_masks(workdir: Path) -> list[tuple[str, str]]:
    """The demo's hours follow the clock: name them relative to its current hour (its latest run)."""
    runs = sorted(workdir.glob("runs/*/*/[0-9]*/[0-9]*/[0-9]*/[0-9]*"))
    if not runs:
        raise SnapshotError(f"the demo left no monitoring runs under {workdir / 'runs'}")
    current = datetime.strptime("/".join(runs[-1].parts[-4:]), "%Y/%m/%d/%H")
    masks = []
    for back in (2, 1, 0):
        hour, token = current - timedelta(hours=back), f"HOUR-{back}"
        masks += [(rf"(?<!\d){re.escape(hour.strftime(fmt))}(?!\d)", token) for fmt in HOUR_FORMATS]
        # the hour alone: "window 04:00-05:00Z", "run at 05:00Z", "2024-05-01T04:00Z..05:00Z"
        masks.append((rf"(?<![\d:]){hour:%H}:00(?=Z|-)", f"{token}:00"))
    return masks


def demo_files(workdir: Path) -> list[Path]:
    return sorted({path for pattern in DEMO_FILES for path in workdir.glob(pattern) if path.is_file()})


def snapshot_demo(out: Path, scratch: Path) -> None:
    workdir = scratch / "demo"
    stdout = run([PYTHON, "-m", "workshop", "demo", "--workdir", workdir,
                  "--seconds-per-hour", DEMO_SECONDS_PER_HOUR])
    masks = [*DEMO_MASKS, (re.escape(str(workdir.resolve())), "<WORKDIR>"), *hour_masks(workdir)]
    for path in demo_files(workdir):
        name = substitute(path.relative_to(workdir).as_posix(), masks)
        write_text(out / name, substitute(path.read_text(encoding="utf-8"), masks))
    listed = [path.relative_to(workdir).as_posix() for path in sorted(workdir.rglob("*")) if path.is_file()]
    listing = sorted(substitute(name, masks) for name in listed if not any(p in f"/{name}" for p in DEMO_UNLISTED))
    write_text(out / "files.txt", "".join(f"{name}\n" for name in listing))
    write_text(out / "stdout.txt", substitute(stdout, masks))


# -- replay ------------------------------------------------------------------------------------------


def write_capture_hour(captures: Path, scored_csv: Path, hour: datetime, first_event: int) -> None:
    """One hour of capture files: row i at hour + i * 3600 / rows s, the model's score as the response.

    The one in-process import: the capture record and file name as the endpoint's capture writer makes them.
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from workshop.capture import CaptureConfig, capture_key, capture_record

    config = CaptureConfig(destination=str(captures), endpoint_name=REPLAY_ENDPOINT)
    _, *rows = scored_csv.read_text(encoding="utf-8").splitlines()
    files: dict[str, list[str]] = {}
    for i, row in enumerate(rows):
        score, features = row.split(",", 1)
        time = hour + timedelta(seconds=i * 3600 // len(rows))
        opened = time.replace(second=0)
        key = capture_key(config, opened, f"00000000-0000-4000-8000-{int(opened.timestamp()):012x}")
        record = capture_record(config, time, features.encode(), "text/csv", f"{score}\n".encode(),
                                "text/csv; charset=utf-8", f"00000000-0000-4000-8000-{first_event + i:012x}")
        files.setdefault(key, []).append(json.dumps(record, separators=(",", ":")) + "\n")
    for key, lines in files.items():
        write_text(captures / key, "".join(lines))


def snapshot_replay(out: Path, scratch: Path) -> None:
    baseline, captures = scratch / "replay-baseline", scratch / "replay-captures"
    suggest_baseline(MODEL_BUILD / "baseline-dataset.csv", baseline)
    for index, (scenario, (hour, seed)) in enumerate(REPLAY_HOURS.items()):
        labelled, scored = scratch / f"{scenario}.csv", scratch / f"{scenario}-scored.csv"
        run([PYTHON, "-m", "model.synthetic", "--rows", REPLAY_ROWS, "--seed", seed, "--scenario", scenario,
             "--out", labelled])
        run([PYTHON, "-m", "workshop", "baseline-dataset", "--train", labelled, "--out", scored])
        write_capture_hour(captures, scored, hour, index * REPLAY_ROWS)
    for scenario, (hour, _) in REPLAY_HOURS.items():
        stdout = run([PYTHON, "-m", "analyzer", "-q", "monitor",
                      "--captures", captures / REPLAY_ENDPOINT / "AllTraffic",
                      "--statistics", baseline / "statistics.json", "--constraints", baseline / "constraints.json",
                      "--output", out / scenario, "--start", f"{hour:%Y-%m-%dT%H:%M:%SZ}",
                      "--end", f"{hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"])
        write_text(out / scenario / "stdout.txt", stdout)


# -- synth -------------------------------------------------------------------------------------------


def mask_template(text: str) -> str:
    """Sorted, indented JSON; each distinct sha256 becomes <sha256-N>, numbered by first appearance."""
    pretty = json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"
    numbers: dict[str, int] = {}
    pretty = SHA256.sub(lambda m: f"<sha256-{numbers.setdefault(m.group(), len(numbers) + 1)}>", pretty)
    return substitute(pretty, SYNTH_MASKS)


def snapshot_synth(out: Path, scratch: Path) -> None:
    for env in ENVIRONMENTS:
        for engine in ENGINES:
            cdk_out = scratch / f"cdk.out.{env}-{engine}"
            run([CDK, "synth", "-q", "-c", f"env={env}", "-c", f"engine={engine}", "-o", cdk_out])
            for template in sorted(cdk_out.glob("*.template.json")):
                write_text(out / f"{env}-{engine}" / template.name, mask_template(template.read_text()))


# -- main --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tests/output_snapshot.py",
        description=__doc__.split("\n\n")[0] + " An empty `diff -r` of two checkouts' snapshots means their "
        "baselines, demo, replayed monitoring runs and synthesized templates are identical, up to masks that "
        "hide only what differs between two runs of the same code.",
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", type=Path, help="where to write the snapshot (new or empty)")
    parser.add_argument("--reference-dataset", metavar="CSV", type=Path, action="append", default=[],
                        help="also baseline this CSV (with a header line); repeatable")
    parser.add_argument("--reference-dataset-no-header", metavar="CSV", type=Path, action="append", default=[],
                        help="also baseline this CSV that has no header line (suggest-baseline --no-header), "
                        "e.g. the workshop's test-dataset-input-cols.csv; repeatable")
    parser.add_argument("--skip", choices=SECTIONS, action="append", default=[],
                        help="leave a section out (to iterate quickly; then both snapshots must skip it)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out: Path = args.out_dir.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        sys.exit(f"error: {out} exists and is not an empty folder; remove it or pick another")
    try:
        datasets = baseline_datasets(args.reference_dataset, args.reference_dataset_no_header)
        print("make model (rebuilds only what is stale)", file=sys.stderr)
        # The running interpreter is the venv: keep make from reinstalling it (a worktree sharing a .venv
        # has requirements files newer than .venv/.installed).
        run(["make", "--no-print-directory", "-o", ".venv/.installed", "model"])
        steps = {
            "baselines": lambda target, _: snapshot_baselines(target, datasets),
            "demo": snapshot_demo,
            "replay": snapshot_replay,
            "synth": snapshot_synth,
        }
        with tempfile.TemporaryDirectory(prefix="output-snapshot-") as scratch:
            for section, step in steps.items():
                if section not in args.skip:
                    print(f"{section} ...", file=sys.stderr)
                    step(out / section, Path(scratch))
    except SnapshotError as exc:
        sys.exit(f"error: {exc}")
    print(f"snapshot of {REPO} in {out}:")
    for section in SECTIONS:
        files = [p for p in (out / section).rglob("*") if p.is_file()]
        if files:
            print(f"  {section + '/':<11} {len(files):3d} files")
    print(f"compare with another checkout's snapshot: diff -r {out} OTHER_OUT_DIR")
    return 0


if __name__ == "__main__":
    sys.exit(main())
