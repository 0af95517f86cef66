"""Least-privilege policy statements written as (sid, actions, resource) rows."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import aws_iam as iam

Statement = tuple[str, list[str], str]


def add_statements(role: iam.IRole, statements: Iterable[Statement]) -> None:
    """Add one Allow statement per row, each on a single resource, to the role's default policy."""
    for sid, actions, resource in statements:
        role.add_to_principal_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=[resource]))
