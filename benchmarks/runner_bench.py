"""The monitoring runner Lambda's package size, cold-start import time, and the handler's duration and
peak memory on an hour of captures.

    python -m benchmarks.runner_bench                          # 3,600 and 360,000 records in the hour
    python -m benchmarks.runner_bench --records 3600 --repeat 1

The Lambda's package is built for arm64 and Python 3.14, which cannot run here: the figures of the
handler come from the same package (same sources, wheels of the same versions, same trimming) built
for x86_64 and the local Python 3.13 (pyenv), run as Lambda runs it: a fresh `python -I` (no
site-packages, no PYTHONPATH) with the package first on sys.path and boto3 from a runtime stand-in.
S3 is a local moto server in this process (downloads and uploads over loopback: faster than S3).

- package: the unzipped size of the Lambda's arm64 package (and of the x86_64 build);
- cold start: wall time of `import runner.handler` in a fresh process (median of `--repeat`), and of
  the whole process start to exit. `-B` and a package without `__pycache__`, as on Lambda: the
  package's folder is read-only there and wheels ship no .pyc, so every cold start compiles the
  package's modules (the runtime's boto3 comes compiled; its stand-in here does too);
- handler: one run per record count, in a fresh process (a cold invocation minus Lambda's own init):
  its duration; peak memory of the process tree (the analyzer aggregates numbers in a child process
  on large inputs; Lambda counts the whole sandbox), sampled from /proc like `analyzer_bench`, and the
  handler process's own ru_maxrss.

Same machine as benchmarks/analyzer_bench.py; nothing here asserts the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.analyzer_bench import SAMPLE_SECONDS, _record_line, _records, _tree_rss_kb, generate_dataset
from contract.lambdas import RunnerEnv, RunnerEvent
from contract.layout import BASELINE_PREFIX, CONSTRAINTS_FILE, STATISTICS_FILE, capture_file_key, capture_prefix
from stacks.constructs.runner_package import LAMBDA_TARGET, Target, build_package, download_wheels, folder_bytes

# A build of the package this machine runs (the Lambda's 3.14 arm64 one cannot), and its Python (pyenv).
LOCAL_TARGET = Target(python="3.13", machine="x86_64")
LOCAL_PYTHON = Path.home() / ".pyenv" / "versions" / "3.13.0" / "bin" / "python"
HOUR = datetime(2026, 1, 1, 10, tzinfo=UTC)
ENDPOINT, VARIANT, SCHEDULE = "churn", "AllTraffic", "churn-data-quality"
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")
IMPORT_SCRIPT = (
    "import sys, time; started = time.perf_counter(); sys.path[:0] = sys.argv[1:3]; import runner.handler; "
    "print(time.perf_counter() - started)"
)
RUN_SCRIPT = (
    "import json, resource, sys, time; sys.path[:0] = sys.argv[1:3]; import runner.handler; "
    "started = time.perf_counter(); result = runner.handler.handler(json.loads(sys.argv[3]), None); "
    "seconds = time.perf_counter() - started; own = resource.getrusage(resource.RUSAGE_SELF); "
    "child = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps({'seconds': seconds, 'own_kb': own.ru_maxrss, 'child_kb': child.ru_maxrss, "
    "'cpu_seconds': own.ru_utime + own.ru_stime + child.ru_utime + child.ru_stime, 'result': result}))"
)


def write_hour(root: Path, records: int) -> Path:
    """`records` capture records spread evenly over one hour, one file per minute (as the service rolls)."""
    per_minute = -(-records // 60)
    rows = _records(records)
    for minute in range(60):
        opened = HOUR + timedelta(minutes=minute)
        path = root / capture_file_key(ENDPOINT, VARIANT, opened, str(uuid.uuid4()))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            for _ in range(per_minute):
                item = next(rows, None)
                if item is None:
                    break
                index, row, score = item
                out.write(_record_line(row, score, HOUR + timedelta(seconds=index * 3600 / records)))
    return root


def runtime_stand_in(folder: Path) -> Path:
    """The Lambda runtime's boto3 (and its dependencies), linked from this interpreter's site-packages."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        if not (folder / name).exists():
            (folder / name).symlink_to(site / name)
    return folder


def upload_hour(s3, bucket: str, captures: Path, baseline: Path) -> dict:
    """The captures and baseline in `bucket`; returns the runner's event for that hour."""
    s3.create_bucket(Bucket=bucket)
    for path in sorted(captures.rglob("*.jsonl")):
        key = f"{capture_prefix(ENDPOINT, VARIANT)}{path.relative_to(captures / ENDPOINT / VARIANT).as_posix()}"
        s3.upload_file(str(path), bucket, key)
    for name in (STATISTICS_FILE, CONSTRAINTS_FILE):
        s3.upload_file(str(baseline / name), bucket, f"{BASELINE_PREFIX}/bench/{name}")
    end = HOUR + timedelta(hours=1)
    return {
        RunnerEvent.ENDPOINT_NAME: ENDPOINT, RunnerEvent.SCHEDULE_NAME: SCHEDULE,
        RunnerEvent.WINDOW_START: f"{HOUR:%Y-%m-%dT%H:%M:%SZ}", RunnerEvent.WINDOW_END: f"{end:%Y-%m-%dT%H:%M:%SZ}",
        RunnerEvent.CAPTURE_URI: f"s3://{bucket}/{capture_prefix(ENDPOINT, VARIANT)}",
        RunnerEvent.STATISTICS_URI: f"s3://{bucket}/{BASELINE_PREFIX}/bench/{STATISTICS_FILE}",
        RunnerEvent.CONSTRAINTS_URI: f"s3://{bucket}/{BASELINE_PREFIX}/bench/{CONSTRAINTS_FILE}",
        RunnerEvent.REPORT_URI: f"s3://{bucket}/reports/{ENDPOINT}/{SCHEDULE}/{end:%Y/%m/%d/%H}",
    }  # fmt: skip


def cold_imports(package: Path, runtime: Path, repeat: int) -> tuple[float, float]:
    """Median seconds of `import runner.handler`, and of the whole fresh process."""
    imports, processes = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        out = subprocess.run([str(LOCAL_PYTHON), "-I", "-B", "-c", IMPORT_SCRIPT, str(package), str(runtime)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        processes.append(time.perf_counter() - started)
        imports.append(float(out.stdout.strip()))
    return statistics.median(imports), statistics.median(processes)


def run_handler(package: Path, runtime: Path, event: dict, work: Path, cpus: str | None) -> dict:
    """One invocation in a fresh process (on `cpus` only, when given): its own figures and the sampled
    peak of its process tree."""
    environment = {**os.environ, RunnerEnv.WORK_DIR: str(work)}
    pinned = ("taskset", "-c", cpus) if cpus else ()
    command = [*pinned, str(LOCAL_PYTHON), "-I", "-B", "-c", RUN_SCRIPT, str(package), str(runtime), json.dumps(event)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=environment)
        sampled = 0
        while process.poll() is None:
            sampled = max(sampled, _tree_rss_kb(process.pid))
            time.sleep(SAMPLE_SECONDS)
        out.seek(0), err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"the handler failed:\n{err.read()[-3000:]}")
        measured = json.loads(out.read().strip().splitlines()[-1])
    measured["tree_peak_mb"] = max(sampled, measured["own_kb"], measured["child_kb"]) / 1024
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runner_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, nargs="+", default=[3_600, 360_000], help="capture records per hour")
    parser.add_argument("--repeat", type=int, default=5, help="cold imports to time (median)")
    parser.add_argument("--cpus", help="run the handler on these CPUs only (taskset list, e.g. 0: Lambda's one "
                        "vCPU up to 1,769 MB); default: all")
    parser.add_argument("--workdir", default=None, help="keep the generated data here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not LOCAL_PYTHON.exists():
        print(f"{LOCAL_PYTHON} is missing: the local build of the package cannot be run")
        return 1
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request lines
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.workdir or scratch)
        staging = work / "packages"
        download_wheels(LAMBDA_TARGET), download_wheels(LOCAL_TARGET)
        lambda_package, local_package = build_package(staging, LAMBDA_TARGET), build_package(staging, LOCAL_TARGET)
        print(f"package unzipped: {folder_bytes(lambda_package) / 1e6:.1f} MB ({LAMBDA_TARGET.name}), "
              f"{folder_bytes(local_package) / 1e6:.1f} MB ({LOCAL_TARGET.name}, measured below)")  # fmt: skip
        runtime = runtime_stand_in(work / "runtime")
        imported, process = cold_imports(local_package, runtime, args.repeat)
        print(f"cold start: import runner.handler {imported * 1000:.0f} ms, whole process {process * 1000:.0f} ms "
              f"(median of {args.repeat}, Python {LOCAL_TARGET.python} x86_64)")  # fmt: skip
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
        server.start()
        host, port = server.get_host_and_port()
        os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="bench",
                          AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")  # fmt: skip
        try:
            _handler_runs(args.records, work, local_package, runtime, args.cpus)
        finally:
            server.stop()
    return 0


def _handler_runs(counts: list[int], work: Path, package: Path, runtime: Path, cpus: str | None) -> None:
    import boto3

    from analyzer.baseline import suggest_baseline

    s3 = boto3.client("s3")
    baseline = work / "baseline"
    suggest_baseline(generate_dataset(str(work), 10_000), str(baseline))
    for count in counts:
        captures = write_hour(work / f"captures-{count}", count)
        size = sum(p.stat().st_size for p in captures.rglob("*.jsonl"))
        event = upload_hour(s3, f"bench-{count}", captures, baseline)
        measured = run_handler(package, runtime, event, work / "tmp", cpus)
        where = f" on CPUs {cpus}" if cpus else ""
        print(f"handler{where}, {count:,} records ({size / 1e6:.1f} MB in 60 files): {measured['seconds']:.2f} s "
              f"({measured['cpu_seconds']:.2f} s CPU), peak {measured['tree_peak_mb']:.0f} MB (process tree; "
              f"handler process ru_maxrss {measured['own_kb'] / 1024:.0f} MB, "
              f"child {measured['child_kb'] / 1024:.0f} MB)"
              f" -> {measured['result']['exitMessage']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
