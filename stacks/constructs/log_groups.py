"""Log groups with the environment's retention (any period CloudWatch Logs accepts) and removal policy."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct


def log_group(scope: Construct, construct_id: str, retention_days: int, retain: bool,
              log_group_name: str | None = None) -> logs.LogGroup:
    group = logs.LogGroup(
        scope, construct_id, log_group_name=log_group_name,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
    # The RetentionDays enum names only some periods; the L1 property takes the number itself.
    group.node.default_child.retention_in_days = retention_days
    return group
