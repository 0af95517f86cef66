"""Command line: `python -m analyzer {suggest-baseline,monitor,container}`.

Progress goes to stderr; results (exit message and violations) to stdout. Exit codes: 0 = the
run completed (with or without violations), 1 = it could not run (the reason in one line),
2 = wrong arguments, 3 = violations found and --fail-on-violations given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from analyzer.container import run_container
from analyzer.monitor import run_monitoring
from contract.errors import ANALYZER_ERRORS
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE

EXIT_FAILED = 1
EXIT_VIOLATIONS = 3

EPILOG = """examples:
  python -m analyzer suggest-baseline --dataset model/build/train.csv --output baseline/
  python -m analyzer monitor --captures s3://bucket/datacapture/my-endpoint/AllTraffic \\
      --statistics baseline/statistics.json --constraints baseline/constraints.json \\
      --output report/ --start 2024-05-01T10:00:00Z --end 2024-05-01T11:00:00Z
  python -m analyzer container    # configured by the service's environment variables

exit codes: 0 completed (with or without violations), 1 could not run, 2 bad arguments,
3 violations found with --fail-on-violations"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analyzer",
        description="Offline re-implementation of the SageMaker Model Monitor data-quality analyzer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    baseline = commands.add_parser(
        "suggest-baseline",
        help="profile a training dataset: statistics.json and constraints.json",
        description="Profile a dataset and suggest constraints, as a baselining job does.",
    )
    baseline.add_argument("--dataset", required=True, help="CSV or JSON-lines file, or a folder of them")
    baseline.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="dataset format (default: csv)")
    baseline.add_argument(
        "--no-header", action="store_true", help="the CSV has no header line (columns are named _c0, _c1, ...)"
    )
    baseline.add_argument("--output", required=True, help="folder for statistics.json and constraints.json")

    monitor = commands.add_parser(
        "monitor",
        help="check captured traffic against a baseline: statistics, constraints, violations",
        description="Profile the endpoint's captured records of a window and check them against a baseline, "
        f"writing {STATISTICS_FILE}, {CONSTRAINTS_FILE} and {VIOLATIONS_FILE}.",
    )
    monitor.add_argument(
        "--captures", required=True, help="folder of capture .jsonl files, or s3://bucket/prefix"
    )
    monitor.add_argument("--statistics", required=True, help="the baseline's statistics.json")
    monitor.add_argument("--constraints", required=True, help="the baseline's constraints.json")
    monitor.add_argument("--output", required=True, help="folder for the report files")
    monitor.add_argument("--start", help="window start, ISO-8601 UTC (e.g. 2024-05-01T10:00:00Z); default: open")
    monitor.add_argument("--end", help="window end (exclusive), ISO-8601 UTC; default: open")
    monitor.add_argument("--preprocessor", help="script defining preprocess_handler(inference_record)")
    monitor.add_argument(
        "--fail-on-violations", action="store_true", help=f"exit {EXIT_VIOLATIONS} when any violation is found"
    )

    commands.add_parser(
        "container",
        help="run as the service's analyzer container (configured by environment variables)",
        description="Read dataset_format, dataset_source, output_path, baseline_statistics, "
        "baseline_constraints, start_time, end_time, ... from the environment, as the Model Monitor "
        "container does.",
    )
    return parser


def _suggest_baseline(args: argparse.Namespace) -> int:
    from analyzer.baseline import suggest_baseline

    profile = suggest_baseline(args.dataset, args.output, fmt=args.format, header=not args.no_header)
    count = profile.statistics["dataset"]["item_count"]
    print(f"Baseline of {count} rows written to {os.path.join(args.output, STATISTICS_FILE)} and {CONSTRAINTS_FILE}")
    return 0


def _monitor(args: argparse.Namespace) -> int:
    result = run_monitoring(
        args.captures,
        args.statistics,
        args.constraints,
        args.output,
        start=args.start,
        end=args.end,
        preprocessor=args.preprocessor,
    )
    print(result.message)
    for violation in result.violations:
        print(f"  {violation.constraint_check_type} {violation.feature_name}: {violation.description}")
    if result.bad_records:
        print(f"  ({result.bad_records} capture records could not be used; see the warnings above)")
    if result.violations and args.fail_on_violations:
        return EXIT_VIOLATIONS
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr
    )
    if args.command == "container":
        return run_container(os.environ)
    try:
        return _suggest_baseline(args) if args.command == "suggest-baseline" else _monitor(args)
    except ANALYZER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
