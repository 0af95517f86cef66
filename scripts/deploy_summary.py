#!/usr/bin/env python3
"""Print what `cdk deploy` would create, read from a synthesized cloud assembly.

Usage: python -m scripts.deploy_summary [CDK_OUT_DIR]   (default: cdk.out; run from the repository root)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from contract.lambdas import RUNNER_HANDLER
from contract.layout import CAPTURE_PREFIX, GROUND_TRUTH_PREFIX
from contract.metrics import feature_drift_metric
from contract.model_quality import NAMESPACE as MODEL_METRICS_NAMESPACE


def _resources(template: dict, resource_type: str) -> list[dict]:
    return [r.get("Properties", {}) for r in template.get("Resources", {}).values() if r["Type"] == resource_type]


def _policy_of(template: dict, resource_type: str) -> str:
    policies = {r.get("DeletionPolicy", "Delete") for r in template["Resources"].values() if r["Type"] == resource_type}
    return "/".join(sorted(policies)) or "-"


def _bucket_lines(template: dict) -> list[str]:
    lines = []
    auto_delete = any(r["Type"] == "Custom::S3AutoDeleteObjects" for r in template["Resources"].values())
    for bucket in _resources(template, "AWS::S3::Bucket"):
        if "VersioningConfiguration" not in bucket:
            continue  # the access-log bucket; summarised by the capture bucket's logging line
        sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        rules = bucket.get("LifecycleConfiguration", {}).get("Rules", [])
        lifecycle = ", ".join(f"{r.get('Prefix', '*')} after {r['ExpirationInDays']} d"
                              for r in rules if "ExpirationInDays" in r)
        lines += [
            "  capture bucket: churn-monitor-<env>-<account>-<region>",
            f"    encryption: {sse['SSEAlgorithm']} with the stack's customer-managed key (rotation on)",
            "    public access: all blocked; policy: TLS-only; versioning: on; access logs: separate bucket",
            f"    lifecycle: {lifecycle}",
            f"    on stack deletion: {_policy_of(template, 'AWS::S3::Bucket')}"
            + (" (emptied automatically)" if auto_delete else " (kept with its data)"),
        ]
    return lines


def _rollout_line(deployment: dict) -> str:
    policy = deployment["BlueGreenUpdatePolicy"]
    routing = policy["TrafficRoutingConfiguration"]
    steps = "all traffic at once"
    if "CanarySize" in routing:
        size = routing["CanarySize"]
        steps = (f"canary of {size['Value']} ({size['Type']}) baking {routing['WaitIntervalInSeconds']} s, "
                 "then all traffic")
    alarms = len(deployment.get("AutoRollbackConfiguration", {}).get("Alarms", []))
    return (f"    updates: blue/green {routing['Type']}, {steps}, final bake {policy['TerminationWaitInSeconds']} s, "
            f"timeout {policy['MaximumExecutionTimeoutInSeconds']} s; {alarms} rollback alarms")


def _endpoint_lines(template: dict) -> list[str]:
    lines = []
    for endpoint in _resources(template, "AWS::SageMaker::Endpoint"):
        lines.append(f"  endpoint: {endpoint.get('EndpointName')}")
        if "DeploymentConfig" in endpoint:
            lines.append(_rollout_line(endpoint["DeploymentConfig"]))
    for config in _resources(template, "AWS::SageMaker::EndpointConfig"):
        for variant in config["ProductionVariants"]:
            lines.append(f"    variant {variant['VariantName']}: {variant['InitialInstanceCount']} x "
                         f"{variant['InstanceType']}")
        capture = config["DataCaptureConfig"]
        modes = "+".join(o["CaptureMode"] for o in capture["CaptureOptions"])
        types = capture["CaptureContentTypeHeader"]
        lines += [
            f"    data capture: {'on' if capture['EnableCapture'] else 'off'}, "
            f"{capture['InitialSamplingPercentage']}% of requests, {modes}, KMS-encrypted",
            f"    content types: CSV {types['CsvContentTypes']}, JSON {types['JsonContentTypes']}",
            f"    destination: s3://<capture bucket>/{CAPTURE_PREFIX}/<endpoint>/<variant>/yyyy/mm/dd/HH/",
        ]
    for model in _resources(template, "AWS::SageMaker::Model"):
        lines.append("    model: XGBoost 3.0-5 serving image (per-region mapping), network isolation "
                     f"{'on' if model.get('EnableNetworkIsolation') else 'off'}")
    return lines


def _ground_truth_lines(template: dict) -> list[str]:
    outputs = template.get("Outputs", {})
    if "GroundTruthUri" not in outputs:
        return []
    return [
        f"  ground truth: s3://<capture bucket>/{GROUND_TRUTH_PREFIX}/<endpoint>/yyyy/mm/dd/HH/ (hour of collection); "
        "label pipelines attach the write-only managed policy of output GroundTruthWriterPolicyArn",
    ]


def _baseline_lines(template: dict) -> list[str]:
    what = {"Custom::DataQualityBaseline": "data-quality baseline: profiles the baseline dataset",
            "Custom::ModelQualityBaseline": "model-quality baseline: scores the validation set's predictions"}
    return [f"  {text} during the deploy (SageMaker Processing job {baseline.get('JobNamePrefix')}-<content hash>)"
            for kind, text in what.items() for baseline in _resources(template, kind)]


def _quality_window(template: dict) -> str:
    for definition in _resources(template, "AWS::SageMaker::ModelQualityJobDefinition"):
        endpoint_input = definition["ModelQualityJobInput"]["EndpointInput"]
        return (f"; captures from {endpoint_input['StartTimeOffset']} to {endpoint_input['EndTimeOffset']} of each "
                "run joined with the labels collected since")
    return ""


def _schedule_lines(template: dict) -> list[str]:
    lines = []
    for schedule in _resources(template, "AWS::SageMaker::MonitoringSchedule"):
        config = schedule["MonitoringScheduleConfig"]
        window = _quality_window(template) if config["MonitoringType"] == "ModelQuality" else ""
        lines.append(f"  engine: managed (Model Monitor {config['MonitoringType']} schedule "
                     f"{schedule.get('MonitoringScheduleName')}, {config['ScheduleConfig']['ScheduleExpression']}"
                     f"{window})")
    runners = [f for f in _resources(template, "AWS::Lambda::Function") if f.get("Handler") == RUNNER_HANDLER]
    target = "SageMaker Processing"
    if runners:
        runner = runners[0]
        target = (f"the Lambda runner ({runner['MemorySize']} MB, {runner['Architectures'][0]}, "
                  f"{runner['Timeout']} s) for windows within lambda_runner's limits, else SageMaker Processing")
    for schedule in _resources(template, "AWS::Scheduler::Schedule"):
        lines.append(f"  engine: self-hosted (EventBridge Scheduler {schedule.get('Name')}, "
                     f"{schedule['ScheduleExpression']} -> Step Functions -> {target})")
    return lines


def _monitoring_lines(template: dict) -> list[str]:
    lines = _ground_truth_lines(template) + _baseline_lines(template) + _schedule_lines(template)
    for topic in _resources(template, "AWS::SNS::Topic"):
        lines.append(f"  alerts: SNS topic '{topic.get('DisplayName')}' (KMS-encrypted), fed by a Lambda on "
                     "each run's end state")
    alarms = [a.get("MetricName") for a in _resources(template, "AWS::CloudWatch::Alarm")
              if str(a.get("MetricName", "")).startswith(feature_drift_metric(""))]
    if alarms:
        lines.append(f"  drift alarms: {', '.join(alarms)}")
    quality_alarms = [f"{a.get('MetricName')} {'<' if 'Less' in a.get('ComparisonOperator', '') else '>'} baseline"
                      for a in _resources(template, "AWS::CloudWatch::Alarm")
                      if a.get("Namespace") == MODEL_METRICS_NAMESPACE]
    if quality_alarms:
        lines.append(f"  model-quality alarms (baseline value worsened by the configured margin): "
                     f"{', '.join(quality_alarms)}")
    if _resources(template, "AWS::CloudWatch::Dashboard"):
        lines.append("  dashboard: <endpoint>-<region> (traffic, errors, latency, drift, runs, alarms)")
    return lines


def summarize(assembly: Path) -> str:
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = [(name, a) for name, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"]
    if not stacks:
        raise SystemExit(f"error: no stacks in {assembly}: run `make synth` first")
    out = [f"A deploy of {assembly} would create {len(stacks)} stacks:"]
    for name, artifact in stacks:
        template = json.loads((assembly / artifact["properties"]["templateFile"]).read_text())
        counts = Counter(r["Type"] for r in template["Resources"].values())
        depends = artifact.get("dependencies", [])
        stack_deps = [d for d in depends if not d.endswith(".assets")]
        out.append("")
        out.append(f"{name}  ({sum(counts.values())} resources"
                   + (f"; deployed after {', '.join(stack_deps)}" if stack_deps else "") + ")")
        out += _bucket_lines(template) + _endpoint_lines(template) + _monitoring_lines(template)
        main_types = sorted(t for t in counts if t.startswith(("AWS::SageMaker", "AWS::KMS", "AWS::SNS",
                                                              "AWS::Events", "AWS::Scheduler",
                                                              "AWS::StepFunctions", "AWS::Lambda",
                                                              "AWS::CloudWatch")))
        if main_types:
            out.append("  resources: " + ", ".join(f"{counts[t]} {t.split('::', 1)[1]}" for t in main_types))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path, help="cdk synth output directory")
    args = parser.parse_args(argv)
    if not (args.assembly / "manifest.json").exists():
        print(f"error: {args.assembly}/manifest.json not found: run `make synth` first", file=sys.stderr)
        return 2
    print(summarize(args.assembly))
    return 0


if __name__ == "__main__":
    sys.exit(main())
