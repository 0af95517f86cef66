"""The container's model-quality baseline mode (`analysis_type=MODEL_QUALITY`, a CSV dataset_format):
the deploy-time baselining job's environment gives the offline CLI's files, byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.container import run_container
from contract.model_quality import BINARY, LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN
from contract.processing import Env, QualityAttributes, exit_message, quality_baseline_environment

VALIDATION_SET = Path(__file__).resolve().parent.parent / "model" / "build" / "validation-predictions.csv"
ATTRIBUTES = QualityAttributes(BINARY, probability_attribute=PROBABILITY_COLUMN, inference_attribute=PREDICTION_COLUMN)
OUTPUT_FILES = ["constraints.json", "statistics.json"]


def baseline_env(tmp_path: Path, **changes) -> dict[str, str]:
    """The baselining job's environment (as the stack configures it), paths under `tmp_path`."""
    dataset = tmp_path / "input"
    dataset.mkdir(exist_ok=True)
    shutil.copyfile(VALIDATION_SET, dataset / VALIDATION_SET.name)
    env = {
        **quality_baseline_environment(ATTRIBUTES, LABEL_COLUMN),
        Env.DATASET_SOURCE: str(dataset),
        Env.OUTPUT_PATH: str(tmp_path / "output"),
        Env.MESSAGE_FILE: str(tmp_path / "message"),
    }
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


def test_the_baselining_environment_gives_the_offline_clis_files(tmp_path, frozen_clock):
    env = baseline_env(tmp_path)
    assert env[Env.ANALYSIS_TYPE] == "MODEL_QUALITY" and json.loads(env[Env.DATASET_FORMAT])["csv"]["header"]
    assert run_container(env) == 0
    assert (tmp_path / "message").read_text() == exit_message(0)[1]

    offline = tmp_path / "offline"
    assert main([
        "suggest-baseline", "--dataset", str(VALIDATION_SET), "--output", str(offline),
        "--problem-type", BINARY, "--probability-attribute", PROBABILITY_COLUMN,
        "--inference-attribute", PREDICTION_COLUMN, "--ground-truth-attribute", LABEL_COLUMN,
    ]) == 0  # fmt: skip
    output = tmp_path / "output"
    assert sorted(p.name for p in output.iterdir()) == OUTPUT_FILES
    for name in OUTPUT_FILES:
        assert (output / name).read_bytes() == (offline / name).read_bytes(), name
    statistics = json.loads((output / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == len(VALIDATION_SET.read_text().splitlines()) - 1
    assert "auc" in statistics["binary_classification_metrics"]


def test_every_csv_under_the_dataset_source_is_read(tmp_path, frozen_clock):
    env = baseline_env(tmp_path)
    lines = VALIDATION_SET.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "input" / VALIDATION_SET.name).unlink()
    (tmp_path / "input" / "part-1.csv").write_text("".join(lines[:half]))
    (tmp_path / "input" / "nested").mkdir()
    (tmp_path / "input" / "nested" / "part-2.csv").write_text(lines[0] + "".join(lines[half:]))
    assert run_container(env) == 0
    statistics = json.loads((tmp_path / "output" / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == len(lines) - 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({Env.GROUND_TRUTH_ATTRIBUTE: None}, "environment variable ground_truth_attribute is not set"),
        ({Env.PROBLEM_TYPE: None}, "environment variable problem_type is not set"),
        ({Env.PROBLEM_TYPE: "Ranking"}, "problem_type='Ranking': use one of BinaryClassification"),
        ({Env.DATASET_SOURCE: None}, "environment variable dataset_source is not set"),
        ({Env.OUTPUT_PATH: None}, "environment variable output_path is not set"),
        ({Env.DATASET_FORMAT: '{"csv": {"header": false}}'}, "reads a CSV with a header"),
        ({Env.DATASET_FORMAT: '{"parquet": {}}'}, "a model-quality run reads captures (a baseline: a CSV)"),
        ({Env.PROBABILITY_THRESHOLD: "half"}, "probability_threshold_attribute='half': use a number"),
        ({Env.GROUND_TRUTH_ATTRIBUTE: "churned"}, "no column 'churned' (--ground-truth-attribute)"),
    ],
)
def test_a_bad_configuration_fails_with_its_reason_in_the_message_file(tmp_path, change, message):
    assert run_container(baseline_env(tmp_path, **change)) == 1
    assert message in (tmp_path / "message").read_text()
    assert not (tmp_path / "output" / "statistics.json").exists()
