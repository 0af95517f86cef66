"""cdk-nag's AwsSolutions pack is the synth gate; it runs here once per environment and monitoring engine
(and in `make test`'s CLI synth). The plugin is registered only in this file: it makes Template.from_stack
raise elsewhere."""

import pytest
from aws_cdk import Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks

from tests.stack_fixtures import build_app


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("engine", ["self-hosted", "managed"])
def test_every_stack_passes_aws_solutions_checks(env, engine, tmp_path):
    app, _ = build_app(env, engine)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding


def test_an_unjustified_wildcard_fails_synthesis():
    app, stacks = build_app("dev")
    stacks.endpoint.endpoint.role.add_to_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::some-bucket/*"]))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="(?i)validation"):
        app.synth()
