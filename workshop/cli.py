"""Command line: `python -m workshop {serve,traffic,captures,runs,report,baseline-dataset,demo}`.

Results go to stdout, progress and errors to stderr. Exit codes: 0 done, 1 could not do it
(the reason in one line), 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from contract.layout import BASELINE_FILES, Window, parse_time, run_hour
from workshop import inspection
from workshop.store import StoreError, open_store, read_location

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "model" / "build" / "model.tar.gz"

EPILOG = """the workshop's steps, offline:
  make demo                                     # everything below, in one go, against an AWS emulator
  python -m workshop serve --capture-to build/datacapture --endpoint-name churn-local
  python -m workshop traffic --url http://127.0.0.1:8080 --scenario normal --rows 300 --rate 50
  python -m workshop captures --source build/datacapture --endpoint churn-local --limit 5
  python -m workshop baseline-dataset --out build/baseline-dataset.csv
  python -m analyzer suggest-baseline --dataset build/baseline-dataset.csv --output build/baseline
  python -m analyzer monitor --captures build/datacapture/churn-local/AllTraffic ...
  python -m workshop runs --reports s3://BUCKET/reports/ENDPOINT --run latest
  python -m workshop report --run s3://BUCKET/reports/ENDPOINT/SCHEDULE/2024/05/01/12 --baseline DIR

against AWS: the same commands with s3:// locations and --endpoint-name for traffic; set
AWS_ENDPOINT_URL to use a local S3 (moto) instead."""


class CommandError(RuntimeError):
    """A command cannot do what was asked; the message says why and what to do."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m workshop",
        description="The Model Monitor workshop's loop on a laptop: a local endpoint with data capture, "
        "traffic, inspecting captures and monitoring runs, HTML reports, and the whole loop as a demo.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (e.g. every request) on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(commands)
    _add_traffic(commands)
    _add_captures(commands)
    _add_runs(commands)
    _add_report(commands)
    _add_baseline_dataset(commands)
    _add_demo(commands)
    return parser


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve the model like the SageMaker XGBoost endpoint, with data capture",
        description="POST /invocations (text/csv, 69 feature values per line) -> text/csv predictions; "
        "GET /ping. Successful requests are captured as the service does, until Ctrl-C.",
    )
    serve.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model.tar.gz (default: %(default)s)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8080, help="port (default: %(default)s; 0 = any free port)")
    serve.add_argument(
        "--capture-to", metavar="LOCATION", help="capture destination: a folder or s3://bucket/datacapture "
        "(default: no capture)"
    )
    serve.add_argument("--endpoint-name", default="churn-local", help="capture folder name (default: %(default)s)")
    serve.add_argument("--variant", default="AllTraffic", help="variant name (default: %(default)s)")
    serve.add_argument("--sampling", type=float, default=100.0, help="percent of requests captured (default: 100)")
    serve.add_argument("--roll-seconds", type=float, default=60.0, help="capture file roll interval (default: 60)")



def _add_traffic(commands: argparse._SubParsersAction) -> None:
    traffic = commands.add_parser(
        "traffic",
        help="send rows to an endpoint, one row per request",
        description="Send generated rows (--scenario) or a CSV file's rows (--csv; a header line is skipped) "
        "to the local endpoint (--url) or a SageMaker endpoint (--endpoint-name, through boto3).",
    )
    target = traffic.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="local endpoint, e.g. http://127.0.0.1:8080")
    target.add_argument("--endpoint-name", help="a SageMaker endpoint (uses your AWS credentials and region)")
    source = traffic.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", help="generator scenario: normal, drifted, missing_values, mangled, ...")
    source.add_argument("--csv", help="CSV of feature values (no label), as the workshop's test file")
    traffic.add_argument("--rows", type=int, default=300, help="rows to generate with --scenario (default: 300)")
    traffic.add_argument("--seed", type=int, default=7, help="generator seed (default: %(default)s)")
    traffic.add_argument("--rate", type=float, help="requests per second (default: as fast as possible)")
    traffic.add_argument("--concurrency", type=int, default=4, help="requests in flight (default: %(default)s)")
    traffic.add_argument("--inference-id-prefix", help="send InferenceId PREFIX-000001, PREFIX-000002, ...")



def _add_captures(commands: argparse._SubParsersAction) -> None:
    captures = commands.add_parser(
        "captures",
        help="list capture files and print captured records as a table",
        description="Capture files under LOCATION/ENDPOINT/VARIANT/yyyy/mm/dd/HH/ and their records "
        "(time, event id, output, the first input columns), optionally within [--start, --end).",
    )
    captures.add_argument("--source", required=True, help="capture destination: a folder or s3://bucket/datacapture")
    captures.add_argument("--endpoint", required=True, help="endpoint name")
    captures.add_argument("--variant", default="AllTraffic", help="variant name (default: %(default)s)")
    captures.add_argument("--start", help="from this time, ISO-8601 UTC (e.g. 2024-05-01T10:00:00Z)")
    captures.add_argument("--end", help="until this time (exclusive)")
    captures.add_argument("--limit", type=int, default=20, help="records to print (default: 20; 0 = all)")
    captures.add_argument("--columns", type=int, default=4, help="input columns to show (default: 4)")
    captures.add_argument("--names", help="name the columns from a baseline statistics.json or a CSV header")
    captures.add_argument("--files", action="store_true", help="list the files (with record counts) as well")



def _add_runs(commands: argparse._SubParsersAction) -> None:
    runs = commands.add_parser(
        "runs",
        help="list monitoring runs with status and violation counts, or show one run's violations",
        description="Runs are folders .../yyyy/mm/dd/HH/ holding constraint_violations.json (and statistics.json).",
    )
    runs.add_argument("--reports", required=True, help="a folder or s3://bucket/reports[/endpoint[/schedule]]")
    runs.add_argument("--run", help="show this run's violations: its folder (or yyyy/mm/dd/HH), or 'latest'")



def _add_report(commands: argparse._SubParsersAction) -> None:
    rep = commands.add_parser(
        "report",
        help="write a self-contained HTML report of one monitoring run",
        description="Summary, violations, and per-feature baseline-vs-run distributions with drift, "
        "completeness and types, in one HTML file that needs no network.",
    )
    rep.add_argument("--run", required=True, help="the run's folder (local or s3://) with its JSON files")
    rep.add_argument("--baseline", required=True, help="folder (local or s3://) with the baseline's "
                     "statistics.json and constraints.json, or the statistics.json itself")
    rep.add_argument("--out", type=Path, help="HTML file (default: report.html in a local run folder, "
                     "else monitoring-report.html here)")
    rep.add_argument("--categorical-drift-method", choices=("LInfinity", "ChiSquared"),
                     help="the run's job-level categorical_drift_method, if it set one (it overrides the "
                     "constraints file's global method, as in the checks)")



def _add_baseline_dataset(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser(
        "baseline-dataset",
        help="write the baseline dataset: the model's output on the training rows, then the inputs",
        description="Replaces the training file's label column with the model's score, so the baseline's "
        "first column matches what captured rows hold there (see the README).",
    )
    dataset.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model.tar.gz (default: %(default)s)")
    dataset.add_argument("--train", type=Path, default=REPO / "model" / "build" / "train.csv",
                         help="training CSV with header, label first (default: %(default)s)")
    dataset.add_argument("--out", type=Path, required=True, help="CSV to write")



def _add_demo(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole loop offline: emulator, endpoint, baseline, two hours of traffic, monitoring, alert",
        description="What `make demo` runs. Needs model/build/ (`make model`).",
    )
    demo.add_argument("--requests-per-hour", type=int, default=400, help="default: %(default)s")
    demo.add_argument("--seconds-per-hour", type=float, default=4.0,
                      help="wall time of one simulated hour of traffic (default: %(default)s)")
    demo.add_argument("--workdir", type=Path, help="output folder (default: build/demo)")


def _serve(args: argparse.Namespace) -> int:
    from workshop.capture import CaptureConfig, CaptureWriter
    from workshop.server import LocalEndpoint, Predictor, load_model

    writer = None
    if args.capture_to:
        config = CaptureConfig(args.capture_to, args.endpoint_name, args.variant, args.sampling,
                               roll_seconds=args.roll_seconds)
        writer = CaptureWriter(config)
    endpoint = LocalEndpoint(Predictor(load_model(args.model)), writer, args.host, args.port)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with endpoint:
        where = f", capturing {args.sampling:g}% to {args.capture_to}" if writer else " (no capture)"
        print(f"serving {args.model} on {endpoint.url}/invocations{where}; Ctrl-C stops", file=sys.stderr)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        print("stopping: finishing requests in flight and writing the captures", file=sys.stderr)
    if writer:
        s = writer.stats
        print(f"captured {s.written} of {s.requests} requests in {s.files} files"
              f" ({s.failed_records} lost to write errors)", file=sys.stderr)
    return 0


def _traffic(args: argparse.Namespace) -> int:
    from workshop.traffic import HttpTarget, SageMakerTarget, read_csv_rows, scenario_rows, send_rows

    if args.csv:
        rows, skipped_header = read_csv_rows(args.csv)
        if skipped_header:
            print(f"{args.csv}: skipped the header line", file=sys.stderr)
    else:
        rows = scenario_rows(args.scenario, args.rows, args.seed)
    target = HttpTarget(args.url) if args.url else SageMakerTarget(args.endpoint_name)
    ids = [f"{args.inference_id_prefix}-{i:06d}" for i in range(1, len(rows) + 1)] if args.inference_id_prefix else None
    step = max(1, len(rows) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            print(f"sent {done}/{total}", file=sys.stderr)

    print(f"sending {len(rows)} rows to {target.describe()}", file=sys.stderr)
    result = send_rows(rows, target, args.rate, args.concurrency, ids, progress)
    print(result.summary())
    for error in result.errors:
        print(f"  {error}")
    return 0 if result.failed == 0 and not result.stopped else 1


def _captures(args: argparse.Namespace) -> int:
    start = parse_time(args.start, "--start") if args.start else None
    end = parse_time(args.end, "--end") if args.end else None
    if start and end and start >= end:
        raise CommandError(f"--start {args.start} is not before --end {args.end}")
    window = Window(start, end)
    location = inspection.capture_location(args.source, args.endpoint, args.variant)
    files = inspection.capture_files(args.source, args.endpoint, args.variant, window)
    if not files:
        raise CommandError(
            f"no capture files under {location}/ for that time range; "
            "check --source, --endpoint and --variant, and that the endpoint has captured traffic"
        )
    records, problems = inspection.read_records(files, window)
    names = inspection.column_names(read_location(args.names).decode(), args.names) if args.names else None
    if args.files:
        print(inspection.files_table(files, records))
        print()
    shown = records if args.limit == 0 else records[: args.limit]
    print(inspection.records_table(shown, names, args.columns))
    print(f"\n{len(shown)} of {len(records)} records from {len({r.file for r in records})} files under {location}/")
    for problem in problems[:10]:
        print(f"skipped {problem}", file=sys.stderr)
    return 0


def _runs(args: argparse.Namespace) -> int:
    store = open_store(args.reports)
    runs = inspection.list_runs(store)
    if args.run:
        run = inspection.find_run(runs, args.run)
        print(f"{store.describe(run.folder)}/  window {run.window}  {run.status}, {len(run.violations)} violations")
        if run.problem:
            raise CommandError(run.problem)
        if run.violations:
            print(inspection.violations_table(run))
        return 0
    if not runs:
        raise CommandError(f"no monitoring runs under {args.reports}; check the location (…/reports/ENDPOINT)")
    print(inspection.runs_table(runs))
    return 0


def _report(args: argparse.Namespace) -> int:
    from workshop import report

    # The stack's BaselineStatistics output names the file; its folder also holds constraints.json.
    baseline = args.baseline.rstrip("/")
    for name in BASELINE_FILES:
        baseline = baseline.removesuffix(f"/{name}")
    run_store, baseline_store = open_store(args.run), open_store(baseline)
    run_files = {name: run_store.read(name) for name in run_store.list() if "/" not in name and name.endswith(".json")}
    baseline_files = {name: baseline_store.read(name) for name in BASELINE_FILES}
    hour = run_hour(args.run.rstrip("/"))
    window = inspection.window_text(hour) if hour else ""
    try:
        docs = report.load_documents(
            run_files, baseline_files, args.run.rstrip("/"), window, args.categorical_drift_method
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = args.out or (Path(args.run) / "report.html" if not args.run.startswith("s3://") else
                       Path("monitoring-report.html"))
    out.write_text(report.render(docs), encoding="utf-8")
    print(out)
    return 0


def _baseline_dataset(args: argparse.Namespace) -> int:
    from workshop.baseline import prediction_baseline
    from workshop.server import load_model

    rows = prediction_baseline(args.train, load_model(args.model), args.out)
    print(f"wrote {rows} rows to {args.out}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from workshop.demo import DemoConfig, run_demo

    options = {"requests_per_hour": args.requests_per_hour, "seconds_per_hour": args.seconds_per_hour}
    if args.workdir:
        options["workdir"] = args.workdir.resolve()
    return run_demo(DemoConfig(**options))


COMMANDS = {
    "serve": _serve,
    "traffic": _traffic,
    "captures": _captures,
    "runs": _runs,
    "report": _report,
    "baseline-dataset": _baseline_dataset,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr
    )
    from workshop.server import ModelLoadError

    try:
        return COMMANDS[args.command](args)
    # ValueError covers the named input errors (InspectError, TrafficError, BaselineDatasetError,
    # ViolationsFormatError) and bad settings such as a sampling percentage above 100.
    except (CommandError, StoreError, ModelLoadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
