"""Synthesize an environment's stacks in-process, with cdk.json's context, for template assertions."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from stacks.app_builder import DEFAULT_MONITORING_SOURCES, PROJECT_ROOT, EnvironmentStacks, build_environment
from stacks.config import load_config


def cdk_context() -> dict:
    return json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def fake_model_artifact() -> Path:
    """Template tests need an asset file, not a trained model."""
    path = PROJECT_ROOT / "build" / "test-fixtures" / "model.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a real model: template tests only")
    return path


def fake_baseline_dataset() -> Path:
    """Template tests need an asset file, not the generated training data."""
    path = PROJECT_ROOT / "build" / "test-fixtures" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Churn,Day Mins\n0,1.5\n")
    return path


def fake_validation_dataset() -> Path:
    """Template tests need an asset file, not the generated validation set with predictions."""
    path = PROJECT_ROOT / "build" / "test-fixtures" / "validation-predictions.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("probability,prediction,label\n0.9,1,1\n")
    return path


def build_app(env: str, engine: str | None = None) -> tuple[App, EnvironmentStacks]:
    context = cdk_context()
    app = App(context=context)
    config = load_config(context, env_name=env, engine=engine)
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset(),
                      validation_dataset=fake_validation_dataset())
    return app, build_environment(app, config, model_artifact_path=fake_model_artifact(),
                                  monitoring_sources=sources)


@functools.cache
def templates(env: str, engine: str | None = None) -> dict[str, Template]:
    """Templates of every stack of `env`, keyed by the EnvironmentStacks field name."""
    _, stacks = build_app(env, engine)
    return {name: Template.from_stack(stack) for name, stack in vars(stacks).items()}


def lambda_asset(stack: Stack, function: dict) -> Path:
    """The synthesized folder of a Lambda function's code asset (`function`: its template resource)."""
    assembly = stack.node.root.synth()
    return Path(assembly.directory) / f"asset.{function['Properties']['Code']['S3Key'].removesuffix('.zip')}"


def asset_files(asset: Path) -> list[str]:
    return sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file())


def import_from_asset(asset: Path, modules: list[str], cwd: Path) -> list[str]:
    """Import `modules` as the Lambda does, with only the asset on the import path (isolated mode drops
    the repository); returns the files they were imported from."""
    probe = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        "print(*(importlib.import_module(name).__file__ for name in sys.argv[2:]), sep='\\n')"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(asset), *modules], capture_output=True, text=True, cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()
