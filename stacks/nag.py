"""Helpers to acknowledge cdk-nag findings precisely.

cdk-nag 3.x acknowledgments must quote a finding's exact id, which embeds the offending IAM
resource as cdk-nag renders it. For resources built from tokens (cross-stack references, generated
logical ids) that text is not stable to type by hand, so it is rendered here from the same value
the policy uses; the acknowledgment then still covers only that one resource.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def _render(value: object) -> str:
    """Render a resolved CloudFormation value the way cdk-nag prints it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::Join" and argument[0] == "":
            return "".join(_render(part) for part in argument[1])
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    return json.dumps(value, separators=(",", ":"))


def acknowledge_wildcard_resources(scope: IConstruct, reasons: Iterable[tuple[str, str]]) -> None:
    """Acknowledge AwsSolutions-IAM5 for each (wildcard resource, reason) pair."""
    for resource, reason in reasons:
        acknowledge_wildcard_resource(scope, resource, reason)


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for one wildcard `resource` (an ARN, possibly with tokens)."""
    rendered = _render(Stack.of(scope).resolve(resource))
    Validations.of(scope).acknowledge(
        Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{rendered}]", reason=reason))
