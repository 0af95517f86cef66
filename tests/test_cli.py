"""`python -m analyzer suggest-baseline | monitor | container`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from analyzer.cli import main
from model import synthetic
from tests.capture_helpers import traffic, write_records

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2024, 5, 1, 10, 0, 0)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-baseline")
    synthetic.write_csv(folder / "train.csv", 1000, seed=31)
    assert main(["-q", "suggest-baseline", "--dataset", str(folder / "train.csv"), "--output", str(folder)]) == 0
    return folder


def captures(tmp_path, drift=None, rows=300):
    generated = synthetic.generate_rows(rows, seed=32, drift=drift)
    write_records(tmp_path / "captures", traffic([r[1:] for r in generated], START, outputs=[r[0] for r in generated]))
    return str(tmp_path / "captures")


def monitor_args(baseline, tmp_path, source, *extra):
    return [
        "monitor",
        "--captures",
        source,
        "--statistics",
        str(baseline / "statistics.json"),
        "--constraints",
        str(baseline / "constraints.json"),
        "--output",
        str(tmp_path / "report"),
        *extra,
    ]


def test_suggest_baseline_writes_both_files(baseline, capsys):
    assert json.loads((baseline / "statistics.json").read_text())["dataset"]["item_count"] == 1000
    assert (baseline / "constraints.json").is_file()


def test_suggest_baseline_without_header_names_columns_positionally(tmp_path, capsys):
    synthetic.write_csv(tmp_path / "data.csv", 50, seed=33, header=False)
    args = ["suggest-baseline", "--dataset", str(tmp_path / "data.csv"), "--no-header", "--output", str(tmp_path)]
    assert main(args) == 0
    names = [f["name"] for f in json.loads((tmp_path / "statistics.json").read_text())["features"]]
    assert names[:3] == ["_c0", "_c1", "_c2"]
    assert "Baseline of 50 rows" in capsys.readouterr().out


def test_monitor_prints_the_exit_message_and_exits_zero_on_clean_traffic(baseline, tmp_path, capsys):
    assert main(["-q", *monitor_args(baseline, tmp_path, captures(tmp_path))]) == 0
    assert capsys.readouterr().out.strip() == "Completed: Job completed successfully with no violations."


def test_violations_exit_zero_unless_fail_on_violations(baseline, tmp_path, capsys):
    source = captures(tmp_path, drift=synthetic.SCENARIOS["drifted"], rows=400)
    assert main(["-q", *monitor_args(baseline, tmp_path, source)]) == 0
    first, *listed = capsys.readouterr().out.splitlines()
    assert first == f"CompletedWithViolations: Job completed successfully with {len(listed)} violations."
    assert any(line.startswith("  baseline_drift_check Day Mins: Baseline drift distance:") for line in listed)
    assert main(["-q", *monitor_args(baseline, tmp_path, source, "--fail-on-violations")]) == 3


def test_window_options_are_passed_through(baseline, tmp_path, capsys):
    source = captures(tmp_path)
    window = ["--start", "2024-05-01T11:00:00Z", "--end", "2024-05-01T12:00:00Z"]
    assert main(["-q", *monitor_args(baseline, tmp_path, source, *window)]) == 1
    assert capsys.readouterr().err.startswith("error: Job inputs had no data: ")


def test_preprocessor_option_is_used(baseline, tmp_path, capsys):
    script = tmp_path / "drop_all.py"
    script.write_text("def preprocess_handler(inference_record):\n    return []\n")
    assert main(["-q", *monitor_args(baseline, tmp_path, captures(tmp_path), "--preprocessor", str(script))]) == 1
    assert "300 dropped by the preprocessor" in capsys.readouterr().err


def run_module(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "analyzer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cannot_run_gives_one_line_and_no_traceback(tmp_path):
    done = run_module("monitor", "--captures", str(tmp_path / "nowhere"), "--statistics", "s.json",
                      "--constraints", "c.json", "--output", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot read the baseline statistics s.json")


def test_help_lists_the_three_commands():
    done = run_module("--help")
    assert done.returncode == 0
    for command in ("suggest-baseline", "monitor", "container"):
        assert command in done.stdout


def test_container_command_reads_the_environment(tmp_path):
    done = run_module("container", env={"output_message_file": str(tmp_path / "message"), "dataset_format": ""})
    assert done.returncode == 1
    assert "environment variable dataset_format is not set" in (tmp_path / "message").read_text()


# --- output locations and baseline documents: one message naming the fix -----------------------------


@pytest.mark.parametrize("command", ["suggest-baseline", "monitor"])
def test_an_output_that_is_a_file_or_cannot_be_created_is_named_before_any_work(baseline, tmp_path, capsys, command):
    existing = tmp_path / "report.txt"
    existing.write_text("not a folder")
    source = captures(tmp_path)
    for output, message in [
        (existing, f"error: --output {existing} is an existing file, not a folder: give a folder path"),
        (existing / "sub", f"error: --output {existing / 'sub'}: the folder cannot be created (Not a directory)"),
    ]:
        if command == "monitor":
            args = monitor_args(baseline, tmp_path, source)
            args[args.index("--output") + 1] = str(output)
        else:
            args = ["suggest-baseline", "--dataset", str(baseline / "train.csv"), "--output", str(output)]
        assert main(["-q", *args]) == 1
        assert capsys.readouterr().err.startswith(message)
    assert existing.read_text() == "not a folder"


def test_the_containers_output_path_is_checked_too(tmp_path):
    existing = tmp_path / "output"
    existing.write_text("")
    env = {"output_message_file": str(tmp_path / "message"), "dataset_format": '{"csv": {"header": true}}',
           "dataset_source": str(tmp_path), "output_path": str(existing)}
    done = run_module("container", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (tmp_path / "message").read_text().startswith(f"output_path {existing} is an existing file, not a folder")


def test_an_output_file_option_refuses_a_folder_and_creates_a_missing_parent(tmp_path):
    from analyzer.outputs import output_file

    with pytest.raises(ValueError, match=f"^--out {tmp_path} is a folder: give a file path, such as "):
        output_file(tmp_path, "--out")
    assert output_file(tmp_path / "new" / "report.html", "--out") == str(tmp_path / "new" / "report.html")
    assert (tmp_path / "new").is_dir()


def _write_changed(path, source, change):
    document = json.loads(source.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return str(path)


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(features=[]), r": \$\.features is empty, so no column of the data"),
    (lambda d: [f.update(name=f"other_{i}") for i, f in enumerate(d["features"])],
     r": \$\.features lists \d+ of \d+ features that are not columns of the data"),
    (lambda d: d["features"][3].update(completeness="full"), r': \$\.features\[3\]\.completeness is "full"'),
])
def test_constraints_that_check_nothing_or_are_damaged_fail_the_run(baseline, tmp_path, capsys, change, message):
    args = monitor_args(baseline, tmp_path, captures(tmp_path))
    changed = _write_changed(tmp_path / "constraints.json", baseline / "constraints.json", change)
    args[args.index("--constraints") + 1] = changed
    assert main(["-q", *args]) == 1
    err = capsys.readouterr().err
    assert re.match(f"error: {re.escape(changed)}{message}", err), err
    assert list((tmp_path / "report").iterdir()) == []  # nothing written: failed before the captures were read


def test_duplicate_feature_names_in_the_baseline_statistics_are_named(baseline, tmp_path, capsys):
    args = monitor_args(baseline, tmp_path, captures(tmp_path))
    changed = _write_changed(tmp_path / "statistics.json", baseline / "statistics.json",
                             lambda d: d["features"][4].update(name=d["features"][3]["name"]))
    args[args.index("--statistics") + 1] = changed
    assert main(["-q", *args]) == 1
    assert capsys.readouterr().err.startswith(f"error: {changed}: $.features[4].name is \"Day Mins\" again "
                                              "(as $.features[3].name); give each feature its own name")
