"""The GitHub OIDC stack: who may assume the roles, and that they reach nothing but the bootstrap roles."""

import re

import pytest
from aws_cdk import App, Validations
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from stacks.config import ConfigError
from stacks.github_oidc_stack import STACK_NAME, GitHubOidcStack, props_from_context
from tests.stack_fixtures import cdk_context

REPOSITORY = "acme/churn-monitor"
ISSUER = "token.actions.githubusercontent.com"
EXISTING_PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"


def props(**context):
    values = {"github_repository": REPOSITORY, **context}
    return props_from_context(values.get, cdk_context()["environments"])


def template(**context):
    return Template.from_stack(GitHubOidcStack(App(), STACK_NAME, props(**context)))


def role(template, description_word):
    (found,) = [r for r in template.find_resources("AWS::IAM::Role").items()
                if description_word in r[1]["Properties"]["Description"]]
    return found


def assumable_role_names(template, role_id):
    """Bootstrap role names the role's policies allow sts:AssumeRole on; every statement must be that."""
    names = []
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole")
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                parts = resource["Fn::Join"][1]
                text = "".join(p if isinstance(p, str) else "<" + p["Ref"] + ">" for p in parts)
                match = re.fullmatch(r"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/"
                                     r"cdk-hnb659fds-([a-z-]+)-role-<AWS::AccountId>-<AWS::Region>", text)
                assert match, text
                names.append(match.group(1))
    return sorted(names)


def trust(role_resource):
    (statement,) = role_resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity" and statement["Effect"] == "Allow"
    return statement


def test_not_built_without_the_repository_context():
    assert props_from_context({}.get, ["dev", "prod"]) is None


def test_creates_the_github_provider_for_sts():
    t = template()
    t.resource_count_is("AWS::IAM::OIDCProvider", 1)
    (provider,) = t.find_resources("AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == f"https://{ISSUER}"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_deploy_role_trusts_only_this_repositorys_environment_jobs():
    t = template()
    role_id, deploy = role(t, "deployments")
    statement = trust(deploy)
    (provider_id,) = t.find_resources("AWS::IAM::OIDCProvider")
    assert statement["Principal"] == {"Federated": {"Ref": provider_id}}
    assert statement["Condition"] == {"StringEquals": {
        f"{ISSUER}:aud": "sts.amazonaws.com",
        f"{ISSUER}:sub": [f"repo:{REPOSITORY}:environment:dev", f"repo:{REPOSITORY}:environment:prod"],
    }}
    assert assumable_role_names(t, role_id) == ["deploy", "file-publishing", "image-publishing", "lookup"]
    assert "ManagedPolicyArns" not in deploy["Properties"]
    assert deploy["Properties"]["MaxSessionDuration"] >= 3600 + 5 * 60  # outlives a 55-minute baseline wait


def test_diff_role_trusts_pull_requests_and_reaches_only_the_lookup_role():
    t = template()
    role_id, diff = role(t, "pull requests")
    assert trust(diff)["Condition"]["StringEquals"][f"{ISSUER}:sub"] == [f"repo:{REPOSITORY}:pull_request"]
    assert assumable_role_names(t, role_id) == ["lookup"]
    assert "ManagedPolicyArns" not in diff["Properties"]


def test_outputs_name_the_repository_variables():
    outputs = template().find_outputs("*")
    assert {name: o["Description"] for name, o in outputs.items()} == {
        "DeployRoleArn": "Repository variable AWS_DEPLOY_ROLE_ARN",
        "DiffRoleArn": "Repository variable AWS_DIFF_ROLE_ARN",
    }


def test_an_existing_provider_is_reused_and_a_custom_qualifier_names_the_bootstrap_roles():
    t = template(github_oidc_provider_arn=EXISTING_PROVIDER, **{"@aws-cdk/core:bootstrapQualifier": "abc123"})
    t.resource_count_is("AWS::IAM::OIDCProvider", 0)
    _, deploy = role(t, "deployments")
    assert trust(deploy)["Principal"] == {"Federated": EXISTING_PROVIDER}
    assert "cdk-abc123-deploy-role-" in str(t.to_json())
    assert "cdk-hnb659fds" not in str(t.to_json())


@pytest.mark.parametrize(("context", "message"), [
    ({"github_repository": "churn"}, r"github_repository='churn' is invalid: expected owner/name"),
    ({"github_repository": "acme/churn monitor"}, "expected owner/name"),
    ({"github_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/example.com"},
     "github_oidc_provider_arn=.* is invalid.*or omit it"),
    ({"@aws-cdk/core:bootstrapQualifier": "Bad_Qualifier"}, "bootstrapQualifier='Bad_Qualifier' is invalid"),
])
def test_bad_context_is_a_named_config_error(context, message):
    with pytest.raises(ConfigError, match=message):
        props(**context)


def test_passes_aws_solutions_checks():
    app = App()
    GitHubOidcStack(app, STACK_NAME, props())
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # raises on any unacknowledged finding
