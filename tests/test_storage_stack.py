import pytest
from aws_cdk.assertions import Match

from tests.stack_fixtures import templates


def capture_bucket(template):
    buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": Match.any_value()}})
    assert len(buckets) == 1, "exactly one versioned (capture) bucket"
    return next(iter(buckets.items()))


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bucket_is_kms_encrypted_private_versioned_and_logged(env):
    template = templates(env)["storage"]
    keys = template.find_resources("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}})
    (key_id,) = keys
    _, bucket = capture_bucket(template)
    properties = bucket["Properties"]
    rule = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["LoggingConfiguration"]["DestinationBucketName"]["Ref"] != capture_bucket(template)[0]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bucket_policy_denies_every_request_without_tls(env):
    template = templates(env)["storage"]
    bucket_id, _ = capture_bucket(template)
    policies = template.find_resources("AWS::S3::BucketPolicy", {"Properties": {"Bucket": {"Ref": bucket_id}}})
    (policy,) = policies.values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny_tls = [s for s in statements
                if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(deny_tls) == 1
    assert deny_tls[0]["Principal"] == {"AWS": "*"} and deny_tls[0]["Action"] == "s3:*"


def test_lifecycle_expires_captures_and_reports_after_configured_days():
    for env, capture_days, report_days in (("dev", 14, 90), ("prod", 90, 730)):
        _, bucket = capture_bucket(templates(env)["storage"])
        rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
        assert rules["ExpireCaptures"]["Prefix"] == "datacapture/"
        assert rules["ExpireCaptures"]["ExpirationInDays"] == capture_days
        assert rules["ExpireReports"]["Prefix"] == "reports/"
        assert rules["ExpireReports"]["ExpirationInDays"] == report_days
        assert all(r["Status"] == "Enabled" for r in rules.values())


def test_dev_destroys_bucket_and_key_with_auto_delete():
    template = templates("dev")["storage"]
    bucket_id, bucket = capture_bucket(template)
    assert bucket["DeletionPolicy"] == "Delete" and bucket["UpdateReplacePolicy"] == "Delete"
    auto_delete = template.find_resources(
        "Custom::S3AutoDeleteObjects", {"Properties": {"BucketName": {"Ref": bucket_id}}})
    assert len(auto_delete) == 1
    for key in template.find_resources("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Delete"
        assert key["Properties"]["PendingWindowInDays"] == 7


def test_prod_retains_bucket_and_key_and_never_empties_them():
    template = templates("prod")["storage"]
    _, bucket = capture_bucket(template)
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    for key in template.find_resources("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("env, days", [("dev", 30), ("prod", 400)])
def test_ground_truth_has_its_prefix_and_retention(env, days):
    _, bucket = capture_bucket(templates(env)["storage"])
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireGroundTruth"]["Prefix"] == "ground-truth/"
    assert rules["ExpireGroundTruth"]["ExpirationInDays"] == days


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_ground_truth_writer_policy_uploads_labels_of_this_endpoint_and_nothing_else(env):
    from datetime import UTC, datetime
    from fnmatch import fnmatchcase

    from contract.ground_truth import label_file_key
    from contract.layout import capture_file_key, ground_truth_prefix
    from tests.self_hosted_definition import render

    template = templates(env)["storage"]
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"WriteGroundTruth", "EncryptThroughS3"}
    write, encrypt = statements["WriteGroundTruth"], statements["EncryptThroughS3"]
    assert write["Action"] == "s3:PutObject" and encrypt["Action"] == "kms:GenerateDataKey"
    assert render(encrypt["Condition"]["StringEquals"]["kms:ViaService"]) == "s3.eu-west-1.amazonaws.com"
    endpoint, bucket = f"churn-{env}", f"churn-monitor-{env}-123456789012-eu-west-1"
    allowed = render(write["Resource"])
    collected = datetime(2026, 12, 2, 13, 5, tzinfo=UTC)
    label = label_file_key(ground_truth_prefix(endpoint), collected)
    assert fnmatchcase(f"arn:aws:s3:::{bucket}/{label}", allowed)
    for other in (label_file_key(ground_truth_prefix("other-endpoint"), collected),
                  capture_file_key(endpoint, "AllTraffic", collected, "0a1b")):
        assert not fnmatchcase(f"arn:aws:s3:::{bucket}/{other}", allowed)
    outputs = template.to_json()["Outputs"]
    assert render(outputs["GroundTruthUri"]["Value"]) == f"s3://<{bucket_ref(template)}>/{ground_truth_prefix(endpoint)}/"
    assert "GroundTruthWriterPolicyArn" in outputs


def bucket_ref(template) -> str:
    return capture_bucket(template)[0]
