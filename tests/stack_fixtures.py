"""Synthesize an environment's stacks in-process, with cdk.json's context, for template assertions."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path

from aws_cdk import App
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


def build_app(env: str, engine: str | None = None) -> tuple[App, EnvironmentStacks]:
    context = cdk_context()
    app = App(context=context)
    config = load_config(context, env_name=env, engine=engine)
    sources = replace(DEFAULT_MONITORING_SOURCES, baseline_dataset=fake_baseline_dataset())
    return app, build_environment(app, config, model_artifact_path=fake_model_artifact(),
                                  monitoring_sources=sources)


@functools.cache
def templates(env: str, engine: str | None = None) -> dict[str, Template]:
    """Templates of every stack of `env`, keyed by the EnvironmentStacks field name."""
    _, stacks = build_app(env, engine)
    return {name: Template.from_stack(stack) for name, stack in vars(stacks).items()}
