"""What `cdk destroy` does, read from the templates of every stack that exists in each environment:
dev leaves nothing behind (buckets emptied, keys scheduled for deletion, log groups removed), prod keeps
its data by policy, and stacks are destroyed monitoring → endpoint → storage."""

import pytest

from stacks.config import load_config
from tests.stack_fixtures import build_app, cdk_context, templates

# Deploy order; `cdk destroy` goes the other way. A new stack must be given its place here.
DEPLOY_ORDER = ["storage", "endpoint", "monitoring"]
DATA_TYPES = ("AWS::S3::Bucket", "AWS::KMS::Key")
KEPT_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}
# What each kind of schedule starts: CloudFormation must delete the schedule first.
SCHEDULE_TARGETS = {
    "AWS::SageMaker::MonitoringSchedule": "AWS::SageMaker::{}JobDefinition",  # of its MonitoringType
    "AWS::Scheduler::Schedule": "AWS::StepFunctions::StateMachine",
}


def target_type(schedule: dict) -> str:
    monitoring_type = schedule["Properties"].get("MonitoringScheduleConfig", {}).get("MonitoringType", "")
    return SCHEDULE_TARGETS[schedule["Type"]].format(monitoring_type)
# CDK's singleton bucket-emptying function: its log group is created at run time (see README).
UNMANAGED_LOG_FUNCTIONS = ("CustomS3AutoDeleteObjectsCustomResourceProviderHandler",)
ENGINES = (None, "managed")  # None: cdk.json's engine (self-hosted), the templates other tests use too


def resources(env, *types, engine=None):
    """(stack, logical id, resource) of every resource of `types` (all if none) in the stacks of `env`."""
    return [(stack, logical_id, resource)
            for stack, template in templates(env, engine).items()
            for logical_id, resource in template.to_json()["Resources"].items()
            if not types or resource["Type"] in types]


def references(value):
    """Logical ids a template value points at through Ref or Fn::GetAtt."""
    if isinstance(value, dict):
        if set(value) == {"Ref"}:
            return {value["Ref"]}
        if set(value) == {"Fn::GetAtt"}:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(references(v) for v in value))
    return set()


def depends_on(resource):
    explicit = resource.get("DependsOn", [])
    explicit = {explicit} if isinstance(explicit, str) else set(explicit)
    return references(resource.get("Properties", {})) | explicit


def test_dev_deletes_every_resource_and_its_replacements():
    found = resources("dev")
    assert found
    kept = [(stack, logical_id) for stack, logical_id, resource in found
            if {resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")} & KEPT_POLICIES]
    assert kept == []
    for stack, logical_id, resource in resources("dev", *DATA_TYPES, "AWS::Logs::LogGroup"):
        policies = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
        assert policies == ("Delete", "Delete"), (stack, logical_id)


def test_dev_empties_every_bucket_before_deleting_it():
    buckets = resources("dev", "AWS::S3::Bucket")
    assert buckets
    for stack, logical_id, _ in buckets:
        emptied = [resource for _, _, resource in resources("dev", "Custom::S3AutoDeleteObjects")
                   if resource["Properties"]["BucketName"] == {"Ref": logical_id}]
        assert len(emptied) == 1, (stack, logical_id)


def test_dev_schedules_every_key_for_deletion_after_seven_days():
    keys = resources("dev", "AWS::KMS::Key")
    assert keys
    assert all(resource["Properties"]["PendingWindowInDays"] == 7 for _, _, resource in keys)


def test_prod_retains_every_bucket_and_key_and_never_empties_them():
    data = resources("prod", *DATA_TYPES)
    assert {resource["Type"] for _, _, resource in data} == set(DATA_TYPES)
    for stack, logical_id, resource in data:
        policies = (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy"))
        assert policies == ("Retain", "Retain"), (stack, logical_id)
    assert resources("prod", "Custom::S3AutoDeleteObjects") == []


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_log_groups_expire_after_the_configured_retention(env):
    groups = resources(env, "AWS::Logs::LogGroup", "Custom::LogRetention")
    if not groups:
        pytest.skip(f"no stack of {env} defines a log group yet")
    days = load_config(cdk_context(), env).log_retention_days
    for stack, logical_id, resource in groups:
        assert resource["Properties"].get("RetentionInDays") == days, (stack, logical_id)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_stacks_deploy_in_order_so_destroy_removes_monitoring_then_endpoint_then_storage(env):
    app, stacks = build_app(env)
    present = vars(stacks)
    unplaced = set(present) - set(DEPLOY_ORDER)
    assert not unplaced, f"give {unplaced} a place in DEPLOY_ORDER"
    ordered = [present[name].artifact_id for name in DEPLOY_ORDER if name in present]
    assert len(ordered) >= 2
    # The synthesized assembly's dependencies (explicit and from cross-stack references) order cdk destroy.
    artifacts = {artifact.id: artifact for artifact in app.synth().stacks}

    def upstream(artifact_id):
        direct = {d.id for d in artifacts[artifact_id].dependencies if d.id in artifacts}
        return direct.union(*(upstream(d) for d in direct))

    for position, artifact_id in enumerate(ordered):
        assert set(ordered[:position]) <= upstream(artifact_id), artifact_id
        assert not set(ordered[position + 1:]) & upstream(artifact_id), artifact_id


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_schedules_are_deleted_before_what_they_start(env, engine):
    schedules = resources(env, *SCHEDULE_TARGETS, engine=engine)
    # Data quality and model quality: one schedule each (cdk.json enables model quality everywhere).
    assert len(schedules) == 2, schedules
    for stack, logical_id, schedule in schedules:
        targets = {target_id for _, target_id, _ in resources(env, target_type(schedule), engine=engine)}
        # CloudFormation deletes a resource before the ones it references or depends on.
        assert depends_on(schedule) & targets, (stack, logical_id)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_function_logs_to_a_log_group_its_stack_owns(engine):
    functions = [(stack, logical_id, resource) for stack, logical_id, resource
                 in resources("dev", "AWS::Lambda::Function", engine=engine)
                 if not logical_id.startswith(UNMANAGED_LOG_FUNCTIONS)]
    if not functions:
        pytest.skip("no stack defines a Lambda function yet")
    for stack, logical_id, function in functions:
        group = function["Properties"].get("LoggingConfig", {}).get("LogGroup", {})
        owned = {group_id for _, group_id, _ in resources("dev", "AWS::Logs::LogGroup", engine=engine)}
        assert isinstance(group, dict) and group.get("Ref") in owned, (stack, logical_id)
