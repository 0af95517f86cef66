"""GitHub Actions' way into the account: the OIDC provider and two roles with nothing but a way to the
CDK bootstrap roles.

Built only with `-c github_repository=owner/name` (stack `ChurnMonitor-GitHubOidc`). Long-lived keys
are never stored in GitHub; each job exchanges its OIDC token for a short session, and the trust
policy pins the token's `sub` claim:
- the deploy role trusts only jobs that run in one of this repository's GitHub environments
  (`repo:owner/name:environment:dev|prod`); the environments' deployment-branch rules pin them to `main`
  and `prod`'s required reviewers gate it. It may assume the bootstrap deploy, publishing and lookup roles.
- the diff role trusts only this repository's pull-request jobs and may assume only the read-only
  lookup role, so code in a pull request can read deployed templates but never deploy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, DefaultStackSynthesizer, Duration, Stack, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.config import ConfigError

STACK_NAME = "ChurnMonitor-GitHubOidc"
ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
DIFF_BOOTSTRAP_ROLES = ("lookup",)
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_PROVIDER_ARN = re.compile(rf"^arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(ISSUER)}$")
_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")


@dataclass(frozen=True)
class GitHubOidcProps:
    repository: str
    """`owner/name` of the GitHub repository whose workflows may deploy."""
    environments: tuple[str, ...]
    """GitHub environment names (one per cdk.json environment) whose jobs may assume the deploy role."""
    provider_arn: str | None = None
    """An existing GitHub OIDC provider of the account (there can be only one per account) to reuse."""
    qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER
    """`cdk bootstrap` qualifier; names the bootstrap roles."""


def props_from_context(get: Callable[[str], Any], environments: Iterable[str]) -> GitHubOidcProps | None:
    """Read `github_repository` (and optional `github_oidc_provider_arn`) from CDK context; None if unset."""
    repository = get("github_repository")
    if repository is None:
        return None
    if not isinstance(repository, str) or not _REPOSITORY.match(repository):
        raise ConfigError(f"-c github_repository={repository!r} is invalid: expected owner/name "
                          "as in https://github.com/owner/name.")
    provider_arn = get("github_oidc_provider_arn")
    if provider_arn is not None and not _PROVIDER_ARN.match(str(provider_arn)):
        raise ConfigError(f"-c github_oidc_provider_arn={provider_arn!r} is invalid: expected "
                          f"arn:aws:iam::<account>:oidc-provider/{ISSUER}, or omit it to create one.")
    qualifier = get("@aws-cdk/core:bootstrapQualifier") or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    if not _QUALIFIER.match(qualifier):
        raise ConfigError(f"@aws-cdk/core:bootstrapQualifier={qualifier!r} is invalid: expected the "
                          "`cdk bootstrap --qualifier` value (up to 10 lowercase letters or digits).")
    return GitHubOidcProps(repository=repository, environments=tuple(environments),
                           provider_arn=provider_arn, qualifier=qualifier)


class GitHubOidcStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, props: GitHubOidcProps, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        provider_arn = props.provider_arn or iam.OidcProviderNative(
            self, "GitHubProvider", url=f"https://{ISSUER}", client_ids=[AUDIENCE],
        ).oidc_provider_arn
        subject = f"repo:{props.repository}"
        self.deploy_role = self._role(
            "DeployRole", provider_arn, props, DEPLOY_BOOTSTRAP_ROLES,
            subjects=[f"{subject}:environment:{name}" for name in props.environments],
            description=f"GitHub Actions deployments of {props.repository} (environments only)",
        )
        self.diff_role = self._role(
            "DiffRole", provider_arn, props, DIFF_BOOTSTRAP_ROLES,
            subjects=[f"{subject}:pull_request"],
            description=f"GitHub Actions `cdk diff` on pull requests of {props.repository} (read-only)",
        )
        CfnOutput(self, "DeployRoleArn", value=self.deploy_role.role_arn,
                  description="Repository variable AWS_DEPLOY_ROLE_ARN")
        CfnOutput(self, "DiffRoleArn", value=self.diff_role.role_arn,
                  description="Repository variable AWS_DIFF_ROLE_ARN")
        Tags.of(self).add("project", "churn-model-monitor")

    def _role(self, construct_id: str, provider_arn: str, props: GitHubOidcProps,
              bootstrap_roles: Iterable[str], subjects: list[str], description: str) -> iam.Role:
        role = iam.Role(
            self, construct_id,
            assumed_by=iam.WebIdentityPrincipal(provider_arn, conditions={
                "StringEquals": {f"{ISSUER}:aud": AUDIENCE, f"{ISSUER}:sub": subjects},
            }),
            description=description,
            # A deploy waits up to an hour for the baseline job; the session must outlive it.
            max_session_duration=Duration.hours(2),
        )
        role.add_to_policy(iam.PolicyStatement(
            sid="AssumeCdkBootstrapRoles",
            actions=["sts:AssumeRole"],
            resources=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/"
                       f"cdk-{props.qualifier}-{name}-role-{Aws.ACCOUNT_ID}-{Aws.REGION}"
                       for name in bootstrap_roles],
        ))
        return role
