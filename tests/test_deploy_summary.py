"""`make demo`'s "what a deploy would create" summary, read from a real synthesized assembly."""

import importlib.util
from pathlib import Path

import pytest

from stacks.app_builder import PROJECT_ROOT
from tests.stack_fixtures import build_app

spec = importlib.util.spec_from_file_location("deploy_summary", PROJECT_ROOT / "scripts" / "deploy_summary.py")
deploy_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(deploy_summary)


@pytest.mark.parametrize(("env", "engine"), [("dev", "self-hosted"), ("prod", "managed")])
def test_summary_names_stacks_endpoint_capture_bucket_and_engine(env, engine):
    app, _ = build_app(env, engine)
    text = deploy_summary.summarize(Path(app.synth().directory))
    assert "would create 3 stacks" in text
    assert f"ChurnMonitor-{env}-Endpoint" in text and f"deployed after ChurnMonitor-{env}-Storage" in text
    assert f"endpoint: churn-{env}" in text
    assert "data capture: on, 100% of requests, Input+Output, KMS-encrypted" in text
    assert "public access: all blocked; policy: TLS-only; versioning: on" in text
    retained = "Retain (kept with its data)" if env == "prod" else "Delete (emptied automatically)"
    assert f"on stack deletion: {retained}" in text
    assert f"engine: {engine}" in text and "cron(0 * ? * * *)" in text
    assert "feature_baseline_drift_Day Mins" in text
    rollout = ("blue/green CANARY, canary of 1 (INSTANCE_COUNT) baking 600 s, then all traffic, final bake 600 s"
               if env == "prod" else "blue/green ALL_AT_ONCE, all traffic at once, final bake 300 s")
    assert rollout in text and "; 3 rollback alarms" in text
    assert "dashboard: <endpoint>-<region>" in text


@pytest.mark.parametrize(("env", "engine"), [("dev", "self-hosted"), ("prod", "managed")])
def test_summary_lists_the_model_quality_resources(env, engine):
    app, _ = build_app(env, engine)
    text = deploy_summary.summarize(Path(app.synth().directory))
    assert "ground truth: s3://<capture bucket>/ground-truth/<endpoint>/yyyy/mm/dd/HH/" in text
    assert "GroundTruthWriterPolicyArn" in text
    assert "model-quality baseline: scores the validation set's predictions during the deploy" in text
    assert f"churnmonitor-{env}-mq-baseline-<content hash>" in text
    if engine == "managed":
        assert (f"Model Monitor ModelQuality schedule churn-{env}-model-quality, cron(0 * ? * * *); captures from "
                "-PT25H to -PT24H of each run joined with the labels collected since") in text
    else:
        assert f"EventBridge Scheduler churn-{env}-model-quality" in text
        assert ("-> Step Functions -> the Lambda runner (1769 MB, arm64, 300 s) for windows within lambda_runner's "
                "limits, else SageMaker Processing") in text


def test_missing_assembly_names_the_fix(tmp_path, capsys):
    assert deploy_summary.main([str(tmp_path)]) == 2
    assert "run `make synth` first" in capsys.readouterr().err
