#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=dev|prod [-c engine=managed|self-hosted]`.

`-c github_repository=owner/name` adds the `ChurnMonitor-GitHubOidc` stack (GitHub Actions deploy roles)."""

import sys

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from stacks.app_builder import build_environment
from stacks.config import ConfigError, load_config
from stacks.github_oidc_stack import STACK_NAME as OIDC_STACK_NAME
from stacks.github_oidc_stack import GitHubOidcStack, props_from_context

app = App()
try:
    config = load_config(
        {"environments": app.node.try_get_context("environments")},
        env_name=app.node.try_get_context("env"),
        engine=app.node.try_get_context("engine"),
    )
    build_environment(app, config)
    oidc = props_from_context(app.node.try_get_context, app.node.try_get_context("environments"))
    if oidc is not None:
        GitHubOidcStack(app, OIDC_STACK_NAME, oidc, description="GitHub Actions OIDC deploy and diff roles")
except (ConfigError, FileNotFoundError) as error:
    sys.exit(f"error: {error}")
# cdk-nag 3.x is a policy-validation plugin: any unacknowledged finding fails synth.
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
