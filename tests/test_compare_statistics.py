"""scripts/compare_statistics.py OURS REFERENCE: bit-exact comparison, differences printed per feature."""

import copy
import json
import subprocess
import sys

from analyzer.baseline import suggest_baseline
from model import synthetic
from stacks.app_builder import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "compare_statistics.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def baseline(tmp_path):
    dataset = tmp_path / "train.csv"
    synthetic.write_csv(dataset, 300, seed=3)
    suggest_baseline(str(dataset), str(tmp_path / "ours"))
    return tmp_path / "ours" / "statistics.json"


def test_identical_files_pass(tmp_path):
    ours = baseline(tmp_path)
    result = run(ours, ours)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "statistics: 70/70 reference features identical on shared fields" in result.stdout


def test_a_last_digit_difference_is_reported_with_feature_and_field(tmp_path):
    ours = baseline(tmp_path)
    reference = json.loads(ours.read_text())
    changed = copy.deepcopy(reference)
    day_mins = next(f for f in changed["features"] if f["name"] == "Day Mins")
    day_mins["numerical_statistics"]["std_dev"] *= 1 + 2**-52  # one unit in the last place
    del changed["features"][-1]
    (tmp_path / "reference.json").write_text(json.dumps(changed))
    result = run(ours, tmp_path / "reference.json")
    assert result.returncode == 1
    assert "Day Mins" in result.stdout and "std_dev" in result.stdout
    assert "features only in ours (1): VMail Plan_yes" in result.stdout
    assert "statistics: 68/69 reference features identical on shared fields" in result.stdout
