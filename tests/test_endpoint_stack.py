import json

from aws_cdk.assertions import Match

from stacks.images import XGBOOST_SERVING, image_uris_by_region
from tests.stack_fixtures import templates


def only(template, resource_type):
    (resource,) = template.find_resources(resource_type).values()
    return resource["Properties"]


def test_endpoint_config_captures_every_request_and_response_encrypted():
    template = templates("dev")["endpoint"]
    capture = only(template, "AWS::SageMaker::EndpointConfig")["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 100
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}
    assert "KmsKeyId" in capture
    destination = json.dumps(capture["DestinationS3Uri"])
    assert "/datacapture" in destination and "s3://" in destination


def test_production_variant_follows_environment_config():
    dev = only(templates("dev")["endpoint"], "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    prod = only(templates("prod")["endpoint"], "AWS::SageMaker::EndpointConfig")["ProductionVariants"]
    assert [(v["VariantName"], v["InstanceType"], v["InitialInstanceCount"]) for v in dev] == [
        ("AllTraffic", "ml.m5.large", 1)]
    assert [(v["InstanceType"], v["InitialInstanceCount"]) for v in prod] == [("ml.m5.xlarge", 2)]
    assert only(templates("dev")["endpoint"], "AWS::SageMaker::Endpoint")["EndpointName"] == "churn-dev"


def test_model_image_comes_from_the_region_mapping():
    template = templates("dev")["endpoint"]
    container = only(template, "AWS::SageMaker::Model")["PrimaryContainer"]
    find = container["Image"]["Fn::FindInMap"]
    mapping_id, region, attribute = find
    assert region == {"Ref": "AWS::Region"} and attribute == "uri"
    mapping = template.to_json()["Mappings"][mapping_id]
    assert mapping["us-east-1"]["uri"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    assert len(mapping) == len(image_uris_by_region(XGBOOST_SERVING)) > 20
    assert all(value["uri"].endswith("/sagemaker-xgboost:3.0-5") for value in mapping.values())
    assert only(template, "AWS::SageMaker::Model")["EnableNetworkIsolation"] is True


def role_statements(template):
    (role_id,) = template.find_resources("AWS::IAM::Role").keys()
    policies = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [{"Ref": role_id}]}})
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_execution_role_is_scoped_to_capture_prefix_key_and_artifact():
    statements = {s["Sid"]: s for s in role_statements(templates("dev")["endpoint"])}
    assert set(statements) == {"ReadModelArtifact", "WriteDataCapture", "EncryptDataCapture",
                               "PullServingImage", "EcrLogin", "EndpointLogs"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    write = json.dumps(statements["WriteDataCapture"]["Resource"])
    assert statements["WriteDataCapture"]["Action"] == "s3:PutObject"
    assert "churn-monitor-dev-" in write and write.endswith('/datacapture/churn-dev/*"]]}')
    assert statements["ReadModelArtifact"]["Action"] == "s3:GetObject"
    artifact = json.dumps(statements["ReadModelArtifact"]["Resource"])
    assert "-assets-" in artifact and artifact.endswith('.gz"]]}'), "one asset object, no wildcard"
    assert "GetStackOutput" in json.dumps(statements["EncryptDataCapture"]["Resource"])
    assert set(statements["EncryptDataCapture"]["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"}
    # The only unscoped resource is the one API that has none.
    assert [s["Sid"] for s in statements.values() if s["Resource"] == "*"] == ["EcrLogin"]
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith("*") for a in actions), statement


def test_endpoint_log_group_is_owned_with_retention_and_removal_policy():
    for env, days, policy in (("dev", 14, "Delete"), ("prod", 365, "Retain")):
        groups = templates(env)["endpoint"].find_resources("AWS::Logs::LogGroup")
        (group,) = groups.values()
        assert group["Properties"]["LogGroupName"] == f"/aws/sagemaker/Endpoints/churn-{env}"
        assert group["Properties"]["RetentionInDays"] == days
        assert group["DeletionPolicy"] == policy
        (model,) = templates(env)["endpoint"].find_resources("AWS::SageMaker::Model").values()
        assert next(iter(groups)) in model["DependsOn"]


def test_endpoint_has_no_managed_policies():
    template = templates("dev")["endpoint"]
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})
