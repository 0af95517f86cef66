"""Command line: `python -m workshop {serve,traffic,ground-truth,captures,runs,report,baseline-dataset,
validation-dataset,demo}`.

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
from datetime import UTC, datetime
from pathlib import Path

from contract.layout import BASELINE_FILES, Window, parse_time, run_hour
from contract.model_quality import DEFAULT_PROBABILITY_THRESHOLD
from workshop import inspection
from workshop.store import StoreError, open_store, read_location

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "model" / "build" / "model.tar.gz"

EPILOG = """the workshop's steps, offline:
  make demo                                     # everything below, in one go, against an AWS emulator
  python -m workshop serve --capture-to build/datacapture --endpoint-name churn-local
  python -m workshop traffic --url http://127.0.0.1:8080 --scenario normal --rows 300 --rate 50
  python -m workshop ground-truth --captures build/datacapture --endpoint churn-local --from-generator \
      --to build/ground-truth/churn-local     # labels for the model-quality monitor
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
    _add_ground_truth(commands)
    _add_captures(commands)
    _add_runs(commands)
    _add_report(commands)
    _add_baseline_dataset(commands)
    _add_validation_dataset(commands)
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
    traffic.add_argument("--inference-id-prefix", metavar="PREFIX",
                         help="every request carries InferenceId PREFIX-000001, PREFIX-000002, ... (the row's "
                         "number; default PREFIX: SCENARIO-sSEED-nROWS for generated rows, which `workshop "
                         "ground-truth --from-generator` reads back, or the CSV file's name)")



def _add_ground_truth(commands: argparse._SubParsersAction) -> None:
    truth = commands.add_parser(
        "ground-truth",
        help="upload labels (what really happened) for captured records, for the model-quality monitor",
        description="Labels the captured records of an endpoint variant within [--start, --end). Each label\n"
        "names a record by its inferenceId (the request's InferenceId), else its eventId; all of them go\n"
        "into one file TO/yyyy/mm/dd/HH/MMSS.jsonl, the hour being when they were collected (--collected-at).",
        epilog="examples:\n  python -m workshop ground-truth --captures build/datacapture --endpoint churn-local "
        "--from-generator --to build/ground-truth/churn-local\n  python -m workshop ground-truth --captures "
        "s3://BUCKET/datacapture --endpoint churn-dev --labels labels.csv --to s3://BUCKET/ground-truth/churn-dev",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    truth.add_argument("--captures", required=True, help="capture destination: a folder or s3://bucket/datacapture")
    truth.add_argument("--endpoint", required=True, help="endpoint name")
    truth.add_argument("--variant", default="AllTraffic", help="variant name (default: %(default)s)")
    truth.add_argument("--start", help="label records captured from this time, ISO-8601 UTC (default: all)")
    truth.add_argument("--end", help="until this time (exclusive)")
    source = truth.add_mutually_exclusive_group(required=True)
    source.add_argument("--labels", metavar="FILE.csv", help="a CSV of id,label (an id,label header line is skipped)")
    source.add_argument("--from-generator", action="store_true",
                        help="the true outcome of rows sent by `workshop traffic --scenario` (read from their ids)")
    truth.add_argument("--to", required=True, help="ground-truth location: a folder or s3://bucket/prefix")
    truth.add_argument("--collected-at", help="when the labels were collected, ISO-8601 UTC (default: now); "
                       "names the hour folder the monitor's ground-truth window selects")
    truth.add_argument("--allow-uncaptured", action="store_true",
                       help="upload --labels ids that were not captured in the range too (they count as unmatched)")


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
        help="write a self-contained HTML report of one monitoring run (data or model quality)",
        description="Data quality: summary, violations, and per-feature baseline-vs-run distributions with "
        "drift, completeness and types. Model quality (a run whose statistics.json holds a *_metrics "
        "section): metrics against their thresholds, confusion matrices, ROC and precision-recall curves "
        "over the baseline's, the merge's unmatched counts. One HTML file that needs no network.",
    )
    rep.add_argument("--run", required=True, help="the run's folder (local or s3://) with its JSON files")
    rep.add_argument("--baseline", required=True, help="folder (local or s3://) with the baseline's "
                     "statistics.json and constraints.json, or the statistics.json itself")
    rep.add_argument("--out", type=Path, help="HTML file (default: report.html in a local run folder, "
                     "else monitoring-report.html here)")
    rep.add_argument("--categorical-drift-method", choices=("LInfinity", "ChiSquared"),
                     help="data quality: the run's job-level categorical_drift_method, if it set one (it "
                     "overrides the constraints file's global method, as in the checks)")



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



def _add_validation_dataset(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser(
        "validation-dataset",
        help="write the model-quality baseline's validation set: probability,prediction,label",
        description="Scores held-out labelled rows with the model: the probability as the endpoint answers "
        "it, the predicted label (1 above --threshold) and the true label. Baseline it with `python -m "
        "analyzer suggest-baseline --problem-type BinaryClassification --inference-attribute prediction "
        "--probability-attribute probability --ground-truth-attribute label`.",
    )
    dataset.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model.tar.gz (default: %(default)s)")
    dataset.add_argument("--holdout", type=Path, default=REPO / "model" / "build" / "holdout.csv",
                         help="held-out CSV with header, label first (default: %(default)s)")
    dataset.add_argument("--threshold", type=float, default=DEFAULT_PROBABILITY_THRESHOLD,
                         help="a probability above it predicts churn (default: %(default)s, as the monitoring "
                         "run's --probability-threshold)")
    dataset.add_argument("--out", type=Path, required=True, help="CSV to write")


def _add_demo(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole loop offline: emulator, endpoint, baselines, three hours of traffic, ground truth, "
        "data- and model-quality monitoring, alerts",
        description="What `make demo` runs. Needs model/build/ (`make model`). Hour 1 is normal, hour 2 has drifted "
        "inputs, hour 3 a concept shift (same inputs, changed outcomes) that only the model-quality run sees.",
    )
    demo.add_argument("--requests-per-hour", type=int, help="default: 1000 (at least 200 keep the model-quality "
                      "standard deviations numbers)")
    demo.add_argument("--seconds-per-hour", type=float,
                      help="wall time of one simulated hour of traffic (default: 4)")
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
    from workshop import traffic

    target = traffic.HttpTarget(args.url) if args.url else traffic.SageMakerTarget(args.endpoint_name)
    if args.csv:
        rows, skipped_header = traffic.read_csv_rows(args.csv)
        if skipped_header:
            print(f"{args.csv}: skipped the header line", file=sys.stderr)
        ids = traffic.row_ids(args.inference_id_prefix or traffic.csv_prefix(args.csv), len(rows))
    else:
        ids = (traffic.row_ids(args.inference_id_prefix, args.rows) if args.inference_id_prefix
               else traffic.scenario_ids(args.scenario, args.seed, args.rows))
        rows = traffic.scenario_rows(args.scenario, args.rows, args.seed)
    step = max(1, len(rows) // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            print(f"sent {done}/{total}", file=sys.stderr)

    print(f"sending {len(rows)} rows to {target.describe()}, InferenceId {ids[0]} ... {ids[-1]}", file=sys.stderr)
    result = traffic.send_rows(rows, target, args.rate, args.concurrency, ids, progress)
    print(result.summary())
    for error in result.errors:
        print(f"  {error}")
    return 0 if result.failed == 0 and not result.stopped else 1


def _window(start: str | None, end: str | None) -> Window:
    begin = parse_time(start, "--start") if start else None
    finish = parse_time(end, "--end") if end else None
    if begin and finish and begin >= finish:
        raise CommandError(f"--start {start} is not before --end {end}")
    return Window(begin, finish)


def _ground_truth(args: argparse.Namespace) -> int:
    from workshop import ground_truth

    collected = parse_time(args.collected_at, "--collected-at") if args.collected_at else datetime.now(UTC)
    captures = ground_truth.captured(args.captures, args.endpoint, args.variant, _window(args.start, args.end))
    if args.from_generator:
        labels = ground_truth.generator_labels(captures.keys)
    else:
        labels = ground_truth.file_labels(args.labels, captures, args.allow_uncaptured)
    store = open_store(args.to)
    key = ground_truth.upload(labels, store, collected)
    print(ground_truth.describe_upload(store, key, labels, captures))
    return 0


def _captures(args: argparse.Namespace) -> int:
    window = _window(args.start, args.end)
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
    from analyzer.outputs import output_file
    from workshop import quality_report, report

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
        # A model-quality run is known by its statistics.json (a `*_metrics` section): no option needed.
        if quality_report.is_quality_run(run_files):
            page = quality_report.render(
                quality_report.load_documents(run_files, baseline_files, args.run.rstrip("/"), window)
            )
        else:
            page = report.render(report.load_documents(
                run_files, baseline_files, args.run.rstrip("/"), window, args.categorical_drift_method
            ))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = args.out or (Path(args.run) / "report.html" if not args.run.startswith("s3://") else
                       Path("monitoring-report.html"))
    output_file(out, "--out")  # a folder or an unwritable path: OutputPathError (a ValueError) names the fix
    out.write_text(page, encoding="utf-8")
    print(out)
    return 0


def _baseline_dataset(args: argparse.Namespace) -> int:
    from workshop.baseline import prediction_baseline
    from workshop.server import load_model

    rows = prediction_baseline(args.train, load_model(args.model), args.out)
    print(f"wrote {rows} rows to {args.out}", file=sys.stderr)
    return 0


def _validation_dataset(args: argparse.Namespace) -> int:
    from workshop.baseline import validation_predictions
    from workshop.server import load_model

    rows = validation_predictions(args.holdout, load_model(args.model), args.out, args.threshold)
    print(f"wrote {rows} rows to {args.out} (prediction: probability > {args.threshold})", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from workshop.demo import DemoConfig, run_demo

    given = {"requests_per_hour": args.requests_per_hour, "seconds_per_hour": args.seconds_per_hour,
             "workdir": args.workdir.resolve() if args.workdir else None}
    options = {name: value for name, value in given.items() if value is not None}
    return run_demo(DemoConfig(**options))


COMMANDS = {
    "serve": _serve,
    "traffic": _traffic,
    "ground-truth": _ground_truth,
    "captures": _captures,
    "runs": _runs,
    "report": _report,
    "baseline-dataset": _baseline_dataset,
    "validation-dataset": _validation_dataset,
    "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr
    )
    from workshop.server import EndpointStartError, ModelLoadError

    try:
        return COMMANDS[args.command](args)
    # ValueError covers the named input errors (InspectError, TrafficError, BaselineDatasetError,
    # ViolationsFormatError) and bad settings such as a sampling percentage above 100.
    except (CommandError, StoreError, ModelLoadError, EndpointStartError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
