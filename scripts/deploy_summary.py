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

from contract.layout import CAPTURE_PREFIX
from contract.metrics import feature_drift_metric


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


def _monitoring_lines(template: dict) -> list[str]:
    lines = []
    for baseline in _resources(template, "Custom::DataQualityBaseline"):
        lines.append(f"  baseline: a SageMaker Processing job ({baseline.get('JobNamePrefix')}-<content hash>) "
                     "profiles the baseline dataset during the deploy")
    for schedule in _resources(template, "AWS::SageMaker::MonitoringSchedule"):
        config = schedule["MonitoringScheduleConfig"]
        lines.append(f"  engine: managed (Model Monitor schedule {schedule.get('MonitoringScheduleName')}, "
                     f"{config['ScheduleConfig']['ScheduleExpression']})")
    for schedule in _resources(template, "AWS::Scheduler::Schedule"):
        lines.append(f"  engine: self-hosted (EventBridge Scheduler {schedule.get('Name')}, "
                     f"{schedule['ScheduleExpression']} -> Step Functions -> SageMaker Processing)")
    for topic in _resources(template, "AWS::SNS::Topic"):
        lines.append(f"  alerts: SNS topic '{topic.get('DisplayName')}' (KMS-encrypted), fed by a Lambda on "
                     "each run's end state")
    alarms = [a.get("MetricName") for a in _resources(template, "AWS::CloudWatch::Alarm")
              if str(a.get("MetricName", "")).startswith(feature_drift_metric(""))]
    if alarms:
        lines.append(f"  drift alarms: {', '.join(alarms)}")
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
