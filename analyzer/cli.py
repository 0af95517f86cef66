"""Command line: `python -m analyzer {suggest-baseline,monitor,monitor-model-quality,container}`.

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
from analyzer.monitor import run_monitoring, share
from analyzer.outputs import output_folder
from contract.errors import ANALYZER_ERRORS
from contract.layout import CONSTRAINTS_FILE, STATISTICS_FILE, VIOLATIONS_FILE
from contract.model_quality import DEFAULT_PROBABILITY_THRESHOLD, PROBLEM_TYPES

EXIT_FAILED = 1
EXIT_VIOLATIONS = 3
EXIT_ARGUMENTS = 2

EPILOG = """examples:
  python -m analyzer suggest-baseline --dataset model/build/train.csv --output baseline/
  python -m analyzer suggest-baseline --problem-type BinaryClassification --dataset validation.csv \\
      --inference-attribute prediction --probability-attribute probability \\
      --ground-truth-attribute label --output quality-baseline/
  python -m analyzer monitor --captures s3://bucket/datacapture/my-endpoint/AllTraffic \\
      --statistics baseline/statistics.json --constraints baseline/constraints.json \\
      --output report/ --start 2024-05-01T10:00:00Z --end 2024-05-01T11:00:00Z
  python -m analyzer monitor-model-quality --problem-type BinaryClassification \\
      --captures captures/ --ground-truth ground-truth/ --constraints quality-baseline/constraints.json \\
      --probability-attribute 0 --probability-threshold 0.5 --output quality-report/
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
    _add_quality_baseline_options(baseline)

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
    monitor.add_argument(
        "--unusable-threshold",
        type=share,
        metavar="SHARE",
        help="fail the run (exit 1) when more than this share of the window's capture records cannot be used "
        "(default: the constraints' monitoring_config unusable_record_threshold, else 0.1)",
    )

    _add_quality_monitor(commands)

    commands.add_parser(
        "container",
        help="run as the service's analyzer container (configured by environment variables)",
        description="Read dataset_format, dataset_source, output_path, baseline_statistics, "
        "baseline_constraints, start_time, end_time, ... from the environment, as the Model Monitor "
        "container does.",
    )
    return parser


def _add_quality_monitor(commands: argparse._SubParsersAction) -> None:
    quality = commands.add_parser(
        "monitor-model-quality",
        help="join captured predictions with ground-truth labels and check the model's quality",
        description="Merge the endpoint's captured predictions of a window with the ground-truth labels "
        "(on inferenceId, else eventId), score the matched pairs and check them against the model-quality "
        f"constraints, writing {STATISTICS_FILE}, {VIOLATIONS_FILE}, merge/ and merge_summary.json.",
    )
    quality.add_argument("--problem-type", required=True, choices=PROBLEM_TYPES, help="the model's problem type")
    quality.add_argument("--captures", required=True, help="folder of capture .jsonl files, or s3://bucket/prefix")
    quality.add_argument("--ground-truth", required=True, help="folder of label files (yyyy/mm/dd/HH/*.jsonl) or s3://")
    quality.add_argument("--constraints", required=True, help="the model-quality baseline's constraints.json")
    quality.add_argument("--statistics", help="the baseline's statistics.json (validated only)")
    quality.add_argument("--output", required=True, help="folder for the report files")
    quality.add_argument(
        "--probability-attribute", help='where the endpoint output holds the score: CSV field index ("0") or JSON path'
    )
    quality.add_argument(
        "--probability-threshold",
        type=float,
        help=f"a score above this predicts the positive class (default {DEFAULT_PROBABILITY_THRESHOLD})",
    )
    quality.add_argument("--inference-attribute", help="where the endpoint output holds the predicted label")
    quality.add_argument("--start", help="capture window start (inferenceTime), ISO-8601 UTC; default: open")
    quality.add_argument("--end", help="capture window end (exclusive); default: open")
    quality.add_argument("--ground-truth-start", help="first label collection hour to read; default: open")
    quality.add_argument("--ground-truth-end", help="label collection hours before this; default: open")
    quality.add_argument("--endpoint", help="Endpoint dimension of the metrics file")
    quality.add_argument("--schedule", help="MonitoringSchedule dimension of the metrics file")
    quality.add_argument(
        "--fail-on-violations", action="store_true", help=f"exit {EXIT_VIOLATIONS} when any violation is found"
    )


def _monitor_model_quality(args: argparse.Namespace) -> int:
    from analyzer.quality_monitor import run_quality_monitoring

    result = run_quality_monitoring(
        args.captures,
        args.ground_truth,
        args.constraints,
        args.output,
        problem_type=args.problem_type,
        probability_attribute=args.probability_attribute,
        probability_threshold=args.probability_threshold,
        inference_attribute=args.inference_attribute,
        start=args.start,
        end=args.end,
        ground_truth_start=args.ground_truth_start,
        ground_truth_end=args.ground_truth_end,
        statistics=args.statistics,
        endpoint=args.endpoint,
        schedule=args.schedule,
    )
    summary = result.summary
    print(result.message)
    print(
        f"  merged {summary.matched} of {summary.captures} capture records with {summary.labels} labels "
        f"({summary.unmatched_captures} captures without a label, {summary.unmatched_labels} labels without a "
        f"capture, {summary.duplicate_labels} duplicate labels)"
    )
    for violation in result.violations:
        print(f"  {violation.constraint_check_type} {violation.metric_name}: {violation.description}")
    if result.issues:
        print(f"  ({len(result.issues)} records could not be used; see the warnings above)")
    return EXIT_VIOLATIONS if result.violations and args.fail_on_violations else 0


def _add_quality_baseline_options(baseline: argparse.ArgumentParser) -> None:
    quality = baseline.add_argument_group(
        "model quality",
        "with --problem-type: a model-quality baseline of a CSV with a header holding the model's predictions "
        "and the true labels (attributes are column names); without it: a data-quality baseline",
    )
    quality.add_argument("--problem-type", choices=PROBLEM_TYPES, help="the model's problem type")
    quality.add_argument("--inference-attribute", help="column of the predicted label (or value, for Regression)")
    quality.add_argument(
        "--probability-attribute", help="column of the positive class's probability (BinaryClassification)"
    )
    quality.add_argument("--ground-truth-attribute", help="column of the true label")
    quality.add_argument(
        "--probability-threshold",
        type=float,
        help=f"without --inference-attribute, a probability above this is a positive prediction "
        f"(default {DEFAULT_PROBABILITY_THRESHOLD})",
    )


def _suggest_quality_baseline(args: argparse.Namespace) -> int:
    from analyzer.quality_baseline import suggest_quality_baseline

    if args.ground_truth_attribute is None or args.format != "csv" or args.no_header:
        print("error: --problem-type needs --ground-truth-attribute and a CSV with a header", file=sys.stderr)
        return EXIT_ARGUMENTS
    statistics = suggest_quality_baseline(
        args.dataset,
        args.output,
        problem_type=args.problem_type,
        inference_attribute=args.inference_attribute,
        probability_attribute=args.probability_attribute,
        ground_truth_attribute=args.ground_truth_attribute,
        probability_threshold=args.probability_threshold,
    )
    count = statistics["dataset"]["item_count"]
    print(
        f"{args.problem_type} baseline of {count} records written to "
        f"{os.path.join(args.output, STATISTICS_FILE)} and {CONSTRAINTS_FILE}"
    )
    return 0


def _suggest_baseline(args: argparse.Namespace) -> int:
    from analyzer.baseline import suggest_baseline

    if args.problem_type is not None:
        return _suggest_quality_baseline(args)
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
        unusable_threshold=args.unusable_threshold,
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
        # Checked before the long part: a folder that cannot be written fails at once, with the fix.
        if getattr(args, "output", None) is not None:
            output_folder(args.output, "--output")
        if args.command == "monitor-model-quality":
            return _monitor_model_quality(args)
        return _suggest_baseline(args) if args.command == "suggest-baseline" else _monitor(args)
    except ANALYZER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
