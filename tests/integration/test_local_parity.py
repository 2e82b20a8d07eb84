"""make run provisions exactly what infra/data.yaml declares: each expectation is read from the template.

The session's moto server was provisioned by chalicelib.local.provision (tests/integration/conftest.py);
here every declared resource is looked up on moto and compared with its declaration, resolved for the
test stage as CloudFormation would resolve it.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.local.provision import (
    OUTPUT_ENVIRONMENT,
    TemplateResolver,
    load_template,
    provision,
    template_resolver,
)
from chalicelib.storage.fingerprint_key import load_fingerprint_key

TEMPLATE = load_template()


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in TEMPLATE["Resources"].items() if resource["Type"] == kind}


@pytest.fixture(scope="module")
def declared(aws_settings: Settings) -> TemplateResolver:
    """The template's resolver for the test stage, told the ids moto gave the keys, tables and bucket."""
    account = boto3.client("sts", region_name=aws_settings.region).get_caller_identity()["Account"]
    resolver = template_resolver(TEMPLATE, {"Stage": aws_settings.stage}, account, aws_settings.region,
                                 f"eci-{aws_settings.stage}-data")
    kms: Any = boto3.client("kms", region_name=aws_settings.region)
    aliases = {alias["AliasName"]: alias.get("TargetKeyId") for alias in kms.list_aliases()["Aliases"]}
    for alias in _of_type("AWS::KMS::Alias").values():
        key_logical_id = alias["Properties"]["TargetKeyId"]["Ref"]
        key_id = aliases[resolver.resolve(alias["Properties"]["AliasName"])]
        resolver.refs[key_logical_id] = key_id
        resolver.attributes[(key_logical_id, "Arn")] = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    dynamodb: Any = boto3.client("dynamodb", region_name=aws_settings.region)
    for logical_id, table in _of_type("AWS::DynamoDB::Table").items():
        name = resolver.resolve(table["Properties"]["TableName"])
        description = dynamodb.describe_table(TableName=name)["Table"]
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = description["TableArn"]
        if "LatestStreamArn" in description:
            resolver.attributes[(logical_id, "StreamArn")] = description["LatestStreamArn"]
    for logical_id, bucket in _of_type("AWS::S3::Bucket").items():
        name = resolver.resolve(bucket["Properties"]["BucketName"])
        resolver.refs[logical_id] = name
        resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
    cognito: Any = boto3.client("cognito-idp", region_name=aws_settings.region)
    pools = {pool["Name"]: pool["Id"] for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]}
    for logical_id, pool in _of_type("AWS::Cognito::UserPool").items():
        resolver.refs[logical_id] = pools[resolver.resolve(pool["Properties"]["UserPoolName"])]
    for logical_id, app_client in _of_type("AWS::Cognito::UserPoolClient").items():
        pool_id = resolver.resolve(app_client["Properties"]["UserPoolId"])
        clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        name = resolver.resolve(app_client["Properties"]["ClientName"])
        resolver.refs[logical_id] = next(known["ClientId"] for known in clients if known["ClientName"] == name)
    return resolver


def _properties(resolver: TemplateResolver, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = resolver.resolve(TEMPLATE["Resources"][logical_id]["Properties"])
    return properties


def test_local_system_has_exactly_the_declared_tables(aws_settings: Settings, declared: TemplateResolver) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=aws_settings.region)
    names = {declared.refs[logical_id] for logical_id in _of_type("AWS::DynamoDB::Table")}
    prefix = f"eci-{aws_settings.stage}-"

    assert {name for name in dynamodb.list_tables()["TableNames"] if name.startswith(prefix)} == names
    assert names == {aws_settings.statements_table, aws_settings.counters_table, aws_settings.console_table}


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::DynamoDB::Table")))
def test_local_table_is_the_declared_table(aws_settings: Settings, declared: TemplateResolver,
                                           logical_id: str) -> None:
    properties = _properties(declared, logical_id)
    dynamodb: Any = boto3.client("dynamodb", region_name=aws_settings.region)
    table = dynamodb.describe_table(TableName=properties["TableName"])["Table"]

    assert table["KeySchema"] == properties["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(properties["AttributeDefinitions"], key=str)
    assert table["BillingModeSummary"]["BillingMode"] == properties["BillingMode"]
    assert table["DeletionProtectionEnabled"] is properties.get("DeletionProtectionEnabled", False)
    if "StreamSpecification" in properties:
        assert table["StreamSpecification"] == {
            "StreamEnabled": True, "StreamViewType": properties["StreamSpecification"]["StreamViewType"]}
    else:
        assert "StreamSpecification" not in table
    sse = properties["SSESpecification"]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    assert table["SSEDescription"]["SSEType"] == sse["SSEType"]
    if "KMSMasterKeyId" in sse:
        assert table["SSEDescription"]["KMSMasterKeyArn"] == sse["KMSMasterKeyId"]
    ttl = dynamodb.describe_time_to_live(TableName=properties["TableName"])["TimeToLiveDescription"]
    if properties.get("TimeToLiveSpecification", {}).get("Enabled"):
        assert ttl == {"TimeToLiveStatus": "ENABLED",
                       "AttributeName": properties["TimeToLiveSpecification"]["AttributeName"]}
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"
    backups = dynamodb.describe_continuous_backups(TableName=properties["TableName"])
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    declared_recovery = properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
    assert recovery == ("ENABLED" if declared_recovery else "DISABLED")


def test_statements_table_is_sealed_with_the_key_the_app_encrypts_with(aws_settings: Settings) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=aws_settings.region)
    table = dynamodb.describe_table(TableName=aws_settings.statements_table)["Table"]

    assert table["SSEDescription"]["KMSMasterKeyArn"] == aws_settings.statements_key
    assert table["StreamSpecification"]["StreamViewType"] == "KEYS_ONLY"


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::KMS::Key")))
def test_local_key_is_the_declared_key(aws_settings: Settings, declared: TemplateResolver, logical_id: str) -> None:
    properties = _properties(declared, logical_id)
    kms: Any = boto3.client("kms", region_name=aws_settings.region)
    key_id = declared.refs[logical_id]

    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == properties["KeyPolicy"]
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["Description"] == properties["Description"]
    assert metadata["KeyUsage"] == properties.get("KeyUsage", "ENCRYPT_DECRYPT")
    assert metadata["KeySpec"] == properties.get("KeySpec", "SYMMETRIC_DEFAULT")
    if metadata["KeyUsage"] == "ENCRYPT_DECRYPT":  # KMS rotates symmetric keys only (and refuses to be asked)
        assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is properties["EnableKeyRotation"]


def test_every_declared_alias_names_its_key(aws_settings: Settings, declared: TemplateResolver) -> None:
    kms: Any = boto3.client("kms", region_name=aws_settings.region)
    aliases = {alias["AliasName"]: alias.get("TargetKeyId") for alias in kms.list_aliases()["Aliases"]}
    declared_aliases = _of_type("AWS::KMS::Alias")

    for logical_id in declared_aliases:
        properties = _properties(declared, logical_id)
        assert aliases[properties["AliasName"]] == properties["TargetKeyId"], logical_id
    assert len({declared.refs[key] for key in _of_type("AWS::KMS::Key")}) == len(declared_aliases) == 4


def test_local_bucket_is_the_declared_bucket(aws_settings: Settings, declared: TemplateResolver) -> None:
    (logical_id,) = _of_type("AWS::S3::Bucket")
    properties = _properties(declared, logical_id)
    s3: Any = boto3.client("s3", region_name=aws_settings.region)
    bucket = properties["BucketName"]

    assert bucket == aws_settings.export_bucket
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    (declared_rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ApplyServerSideEncryptionByDefault"] == declared_rule["ServerSideEncryptionByDefault"]
    assert rule["BucketKeyEnabled"] is declared_rule["BucketKeyEnabled"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == properties["VersioningConfiguration"]["Status"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == properties["PublicAccessBlockConfiguration"]
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls == properties["OwnershipControls"]
    rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    for declared_lifecycle in properties["LifecycleConfiguration"]["Rules"]:
        rule = rules.pop(declared_lifecycle["Id"])
        assert rule["Status"] == declared_lifecycle["Status"]
        if "ExpirationInDays" in declared_lifecycle:
            assert rule["Expiration"] == {"Days": declared_lifecycle["ExpirationInDays"]}
        if "NoncurrentVersionExpiration" in declared_lifecycle:
            assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == (
                declared_lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"])
        if "AbortIncompleteMultipartUpload" in declared_lifecycle:
            assert rule["AbortIncompleteMultipartUpload"] == declared_lifecycle["AbortIncompleteMultipartUpload"]
    assert rules == {}


def test_bucket_policy_is_left_to_aws_because_moto_would_misread_it(aws_settings: Settings,
                                                                     declared: TemplateResolver) -> None:
    """moto refuses every request under a Deny whose condition does not hold (chalicelib/local/provision.py)."""
    (logical_id,) = _of_type("AWS::S3::BucketPolicy")
    s3: Any = boto3.client("s3", region_name=aws_settings.region)

    assert _properties(declared, logical_id)["Bucket"] == aws_settings.export_bucket
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket=aws_settings.export_bucket)


def test_app_environment_is_the_templates_outputs(moto_env: dict[str, str], declared: TemplateResolver) -> None:
    for output, variable in OUTPUT_ENVIRONMENT.items():
        assert moto_env[variable] == str(declared.resolve(TEMPLATE["Outputs"][output]["Value"])), output


def test_organisers_user_pool_requires_an_authenticator_app_and_has_both_roles(
    aws_settings: Settings, declared: TemplateResolver
) -> None:
    cognito: Any = boto3.client("cognito-idp", region_name=aws_settings.region)
    pool_id = aws_settings.organiser_user_pool_id

    mfa = cognito.get_user_pool_mfa_config(UserPoolId=pool_id)
    groups = {group["GroupName"] for group in cognito.list_groups(UserPoolId=pool_id)["Groups"]}
    app_client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=aws_settings.organiser_client_id)

    assert mfa["MfaConfiguration"] == "ON"
    assert mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert groups == {"organiser", "viewer"}
    assert "ALLOW_USER_PASSWORD_AUTH" in app_client["UserPoolClient"]["ExplicitAuthFlows"]
    assert not app_client["UserPoolClient"].get("ClientSecret"), "no secret to keep in a function's environment"


def test_provisioning_twice_changes_nothing(moto_env: dict[str, str], aws_settings: Settings) -> None:
    ssm: Any = boto3.client("ssm", region_name=aws_settings.region)
    kms: Any = boto3.client("kms", region_name=aws_settings.region)
    key_before = load_fingerprint_key(ssm, kms, aws_settings.fingerprint_key_parameter)

    again = provision(moto_env["AWS_ENDPOINT_URL"], stage=aws_settings.stage)

    assert again == {name: moto_env[name] for name in again}
    assert load_fingerprint_key(ssm, kms, aws_settings.fingerprint_key_parameter) == key_before
