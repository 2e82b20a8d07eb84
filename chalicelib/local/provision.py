"""Build on a moto server exactly what infra/data.yaml declares, then the fingerprint key.

The template is the one source of truth. moto's own CloudFormation drops several properties the
design depends on (SSESpecification, PointInTimeRecoverySpecification, bucket versioning and public
access block), so this module reads the template itself: it resolves the intrinsic functions the
template uses, creates each resource through the service APIs in dependency order, and evaluates the
template's Outputs. A property it does not know how to apply stops provisioning with an error naming
it, so the local system cannot drift silently from what is deployed.

It talks only to the endpoint it is given, with moto's test credentials: it cannot touch a real account.
"""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.config import PROJECT_ROOT
from chalicelib.storage.fingerprint_key import create_fingerprint_key

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient

DATA_TEMPLATE = PROJECT_ROOT / "infra" / "data.yaml"
# The count function's and the export worker's failure queues: the dashboard reads the first one's depth.
FAILURES_TEMPLATE = PROJECT_ROOT / "infra" / "stream-failures.yaml"
DEFAULT_STAGE = "dev"
DEFAULT_REGION = "eu-central-1"

# Which template output becomes which environment variable of the app (chalicelib.config.Settings).
OUTPUT_ENVIRONMENT = {
    "StatementsTableName": "STATEMENTS_TABLE",
    "StatementsTableStreamArn": "STATEMENTS_STREAM_ARN",
    "CountersTableName": "COUNTERS_TABLE",
    "StatementsKeyArn": "STATEMENTS_KEY",
    "FingerprintKeyParameterName": "FINGERPRINT_KEY_PARAMETER",
    "ExportBucketName": "EXPORT_BUCKET",
    "ExportsKeyArn": "EXPORT_KEY",
    "ExportSigningKeyArn": "EXPORT_SIGNING_KEY",
    "ConsoleTableName": "CONSOLE_TABLE",
    "OrganiserUserPoolId": "ORGANISER_USER_POOL_ID",
    "OrganiserUserPoolClientId": "ORGANISER_CLIENT_ID",
}
FINGERPRINT_KEY_ARN_OUTPUT = "FingerprintKeyArn"
# Which checkout's system a moto server holds: the operator's `--local` tool refuses any other (on a shared
# machine, port 5000 may be another person's `make run`).
LOCAL_SYSTEM_PARAMETER = "/eci/{stage}/local-system"

# KMS keys have no name: these tags (the local analogue of CloudFormation's aws:cloudformation:* tags)
# let a second run find the keys the first one made.
_STACK_TAG = "eci-local:stack"
_LOGICAL_ID_TAG = "eci-local:logical-id"


class ProvisioningError(RuntimeError):
    """The template uses something the local provisioner cannot apply, or a resource cannot be made."""


@dataclass(frozen=True)
class LocalClients:
    dynamodb: DynamoDBClient
    kms: KMSClient
    s3: S3Client
    ssm: SSMClient
    account_id: str
    region: str
    cognito: CognitoIdentityProviderClient | None = None  # the organisers' user pool
    sqs: Any = None  # the failure queues (no SQS stubs among the dependencies)


def local_clients(endpoint_url: str, region: str = DEFAULT_REGION) -> LocalClients:
    """Clients bound to the given (moto) endpoint with moto's test credentials."""
    import boto3.session

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials, by design
        region_name=region,
    )
    account_id = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
    return LocalClients(
        dynamodb=session.client("dynamodb", endpoint_url=endpoint_url),
        kms=session.client("kms", endpoint_url=endpoint_url),
        s3=session.client("s3", endpoint_url=endpoint_url),
        ssm=session.client("ssm", endpoint_url=endpoint_url),
        cognito=session.client("cognito-idp", endpoint_url=endpoint_url),
        sqs=session.client("sqs", endpoint_url=endpoint_url),
        account_id=account_id,
        region=region,
    )


def provision(
    endpoint_url: str,
    stage: str = DEFAULT_STAGE,
    region: str = DEFAULT_REGION,
    template_path: Path = DATA_TEMPLATE,
) -> dict[str, str]:
    """Create the data resources and the fingerprint key on moto; return the app's environment.

    Idempotent: a second run finds what the first made and returns the same values (the fingerprint
    key in particular is never replaced). Returns STATEMENTS_TABLE, STATEMENTS_STREAM_ARN, COUNTERS_TABLE,
    STATEMENTS_KEY (a key ARN), FINGERPRINT_KEY_PARAMETER, EXPORT_BUCKET and ECI_STAGE.
    """
    clients = local_clients(endpoint_url, region)
    outputs = provision_template(clients, load_template(template_path), {"Stage": stage}, f"eci-{stage}-data")
    missing = [name for name in (*OUTPUT_ENVIRONMENT, FINGERPRINT_KEY_ARN_OUTPUT) if name not in outputs]
    if missing:
        raise ProvisioningError(f"{template_path} lacks the outputs {missing}")
    create_fingerprint_key(
        clients.ssm,
        clients.kms,
        outputs[FINGERPRINT_KEY_ARN_OUTPUT],
        outputs["FingerprintKeyParameterName"],
    )
    provision_template(clients, load_template(FAILURES_TEMPLATE), {"Stage": stage}, f"eci-{stage}-count-failures")
    clients.ssm.put_parameter(Name=LOCAL_SYSTEM_PARAMETER.format(stage=stage), Value=str(PROJECT_ROOT),
                              Type="String", Overwrite=True)
    environment = {variable: outputs[output] for output, variable in OUTPUT_ENVIRONMENT.items()}
    environment["ECI_STAGE"] = stage
    # moto runs no Lambda functions: an export's Member States run one after another in the caller.
    environment["EXPORT_FAN_OUT"] = "in-process"
    environment["CONSOLE_ACTIONS"] = "in-process"  # likewise the console's actions
    return environment


def local_system_owner(endpoint_url: str, stage: str = DEFAULT_STAGE, region: str = DEFAULT_REGION) -> str | None:
    """The project folder whose system the moto server at endpoint_url holds; None if it holds none."""
    clients = local_clients(endpoint_url, region)
    try:
        value: str = clients.ssm.get_parameter(Name=LOCAL_SYSTEM_PARAMETER.format(stage=stage))["Parameter"]["Value"]
    except clients.ssm.exceptions.ParameterNotFound:
        return None
    return value


# --- the template -------------------------------------------------------------------------------------


def _yaml() -> Any:
    import yaml  # type: ignore[import-untyped, unused-ignore]

    return yaml


def load_template(path: Path = DATA_TEMPLATE) -> dict[str, Any]:
    """The template as plain data, short-form tags (!Ref, !Sub, !GetAtt, ...) turned into long form."""
    yaml: Any = _yaml()
    # A SafeLoader of our own, so the CloudFormation tags do not leak into other users of PyYAML.
    template_loader: Any = type("TemplateLoader", (yaml.SafeLoader,), {})

    def intrinsic(loader: Any, suffix: str, node: Any) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    template_loader.add_multi_constructor("!", intrinsic)
    with path.open(encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=template_loader)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ProvisioningError(f"{path} is not a CloudFormation template with Resources")
    return template


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# What Ref AWS::NoValue resolves to: the property or list item holding it is left out.
_NO_VALUE = object()


@dataclass
class TemplateResolver:
    """Evaluates the intrinsic functions the data template uses: Ref (AWS::NoValue too), Fn::GetAtt,
    Fn::Sub, Fn::Join, and Fn::If on the template's Conditions."""

    refs: dict[str, str]
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    declared_conditions: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else self._ref(argument)
            if name == "Fn::GetAtt":
                return self._attribute(*_get_att_target(argument))
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::Join":
                delimiter, parts = argument
                return str(delimiter).join(str(self.resolve(part)) for part in parts)
            if name == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self._condition(condition) else if_false)
            if name.startswith("Fn::") or name == "Condition":
                raise ProvisioningError(f"intrinsic function {name} is not supported locally")
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _condition(self, name: str) -> bool:
        """A condition of the template's Conditions section, evaluated on first use."""
        if name not in self.conditions:
            if name not in self.declared_conditions:
                raise ProvisioningError(f"unknown condition {name}")
            # Taken out before it is evaluated, so a condition that refers to itself is an error, not a loop.
            self.conditions[name] = self._evaluate(self.declared_conditions.pop(name))
        return self.conditions[name]

    def _evaluate(self, expression: Mapping[str, Any]) -> bool:
        ((name, argument),) = expression.items()
        if name == "Condition":
            return self._condition(argument)
        if name == "Fn::Equals":
            left, right = (str(self.resolve(item)) for item in argument)
            return left == right
        if name == "Fn::Not":
            return not self._evaluate(argument[0])
        if name == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if name == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        raise ProvisioningError(f"condition function {name} is not supported locally")

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise ProvisioningError(f"Ref to unknown name {name}")
        return self.refs[name]

    def _attribute(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) not in self.attributes:
            raise ProvisioningError(f"Fn::GetAtt {logical_id}.{attribute} is not available locally")
        return self.attributes[(logical_id, attribute)]

    def _sub(self, argument: str | list[Any]) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], {key: self.resolve(item) for key, item in argument[1].items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._attribute(*name.split(".", 1))
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _get_att_target(argument: str | list[str]) -> tuple[str, str]:
    if isinstance(argument, str):
        logical_id, attribute = argument.split(".", 1)
        return logical_id, attribute
    return str(argument[0]), str(argument[1])


def _referenced_names(value: Any) -> Iterator[str]:
    """Every logical id or parameter name a (still unresolved) property value refers to."""
    if isinstance(value, list):
        for item in value:
            yield from _referenced_names(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                yield _get_att_target(item)[0]
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                yield from (name.split(".", 1)[0] for name in _SUB_VARIABLE.findall(text))
                if not isinstance(item, str):
                    yield from _referenced_names(item[1])
            else:
                yield from _referenced_names(item)


def template_resolver(
    template: Mapping[str, Any], parameters: Mapping[str, str], account_id: str, region: str, stack_name: str
) -> TemplateResolver:
    """What the template's parameters, pseudo parameters and conditions come to, checked as CloudFormation
    checks parameters; resources' Refs and attributes are added as they are made."""
    values: dict[str, str] = {}
    for name, declaration in template.get("Parameters", {}).items():
        if name in parameters:
            values[name] = parameters[name]
        elif "Default" in declaration:
            values[name] = str(declaration["Default"])
        else:
            raise ProvisioningError(f"template parameter {name} needs a value")
        pattern = declaration.get("AllowedPattern")
        if pattern and not re.fullmatch(pattern, values[name]):
            raise ProvisioningError(f"template parameter {name} does not match {pattern}")
    return TemplateResolver(
        refs={
            **values,
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
        },
        declared_conditions=dict(template.get("Conditions", {})),
    )


def provision_template(
    clients: LocalClients, template: Mapping[str, Any], parameters: Mapping[str, str], stack_name: str
) -> dict[str, str]:
    """Create the template's resources through the service APIs; return its evaluated Outputs."""
    resolver = template_resolver(template, parameters, clients.account_id, clients.region, stack_name)
    resources: dict[str, Any] = dict(template["Resources"])
    order: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        depends_on = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        needed = {name for name in _referenced_names(resource.get("Properties", {})) if name in resources}
        order.add(logical_id, *needed, *depends_on)
    for logical_id in order.static_order():
        resource = resources[logical_id]
        if "Condition" in resource:
            raise ProvisioningError(f"{logical_id}: conditional resources are not supported locally")
        kind = resource["Type"]
        builder = _BUILDERS.get(kind)
        if builder is None:
            raise ProvisioningError(f"{logical_id}: resource type {kind} is not supported locally")
        properties = resolver.resolve(resource.get("Properties", {}))
        unsupported = sorted(set(properties) - builder.properties)
        if unsupported:
            raise ProvisioningError(
                f"{logical_id}: {kind} properties {unsupported} are not applied by the local provisioner; "
                "teach chalicelib/local/provision.py to apply them"
            )
        built = builder.build(clients, _ResourceIdentity(stack_name, logical_id), properties)
        resolver.refs[logical_id] = built.ref
        for attribute, value in built.attributes.items():
            resolver.attributes[(logical_id, attribute)] = value
    outputs: dict[str, Any] = template.get("Outputs", {})
    return {name: str(resolver.resolve(output["Value"])) for name, output in outputs.items()}


# --- one builder per resource type --------------------------------------------------------------------


_Properties = dict[str, Any]


@dataclass(frozen=True)
class _ResourceIdentity:
    stack_name: str
    logical_id: str


@dataclass(frozen=True)
class _Built:
    ref: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class _Builder:
    properties: frozenset[str]
    build: Callable[[LocalClients, _ResourceIdentity, _Properties], _Built]


def _build_key(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    kms = clients.kms
    key_id = _find_tagged_key(kms, identity)
    if key_id is None:
        tags = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])]
        tags += [
            {"TagKey": _STACK_TAG, "TagValue": identity.stack_name},
            {"TagKey": _LOGICAL_ID_TAG, "TagValue": identity.logical_id},
        ]
        metadata = kms.create_key(
            Description=properties.get("Description", ""),
            Policy=json.dumps(properties["KeyPolicy"]),
            KeyUsage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            KeySpec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            Tags=tags,  # type: ignore[arg-type]
        )["KeyMetadata"]
        key_id = metadata["KeyId"]
    else:
        # As CloudFormation does on an update: the key stays, its policy becomes the template's.
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(properties["KeyPolicy"]))
    if properties.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key_id)
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return _Built(ref=key_id, attributes={"Arn": arn, "KeyId": key_id})


def _find_tagged_key(kms: KMSClient, identity: _ResourceIdentity) -> str | None:
    wanted = {(_STACK_TAG, identity.stack_name), (_LOGICAL_ID_TAG, identity.logical_id)}
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            key_id = key["KeyId"]
            state = kms.describe_key(KeyId=key_id)["KeyMetadata"].get("KeyState")
            if state != "Enabled":
                continue
            tags = kms.list_resource_tags(KeyId=key_id).get("Tags", [])
            if wanted <= {(tag["TagKey"], tag["TagValue"]) for tag in tags}:
                return key_id
    return None


def _build_alias(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    kms = clients.kms
    alias_name, target = properties["AliasName"], properties["TargetKeyId"]
    existing = {alias["AliasName"]: alias.get("TargetKeyId") for alias in kms.list_aliases()["Aliases"]}
    if alias_name not in existing:
        kms.create_alias(AliasName=alias_name, TargetKeyId=target)
    elif existing[alias_name] != target:
        kms.update_alias(AliasName=alias_name, TargetKeyId=target)
    return _Built(ref=alias_name, attributes={})


def _build_table(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    dynamodb = clients.dynamodb
    name = properties.get("TableName") or f"{identity.stack_name}-{identity.logical_id}"
    try:
        description = dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
            "DeletionProtectionEnabled": bool(properties.get("DeletionProtectionEnabled", False)),
        }
        same_shape = ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "Tags")
        for name_in_both in same_shape:
            if name_in_both in properties:
                request[name_in_both] = properties[name_in_both]
        if "SSESpecification" in properties:
            # CloudFormation says SSEEnabled where the API says Enabled.
            sse = properties["SSESpecification"]
            request["SSESpecification"] = {
                key: value
                for key, value in {
                    "Enabled": bool(sse.get("SSEEnabled", False)),
                    "SSEType": sse.get("SSEType"),
                    "KMSMasterKeyId": sse.get("KMSMasterKeyId"),
                }.items()
                if value is not None
            }
        if "StreamSpecification" in properties:
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": properties["StreamSpecification"]["StreamViewType"],
            }
        description = dynamodb.create_table(**request)["TableDescription"]
    recovery = properties.get("PointInTimeRecoverySpecification", {})
    if recovery.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    if "TimeToLiveSpecification" in properties:
        ttl = properties["TimeToLiveSpecification"]
        current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        enabled = bool(ttl.get("Enabled"))
        if (current.get("TimeToLiveStatus") == "ENABLED") != enabled:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": enabled, "AttributeName": ttl["AttributeName"]},
            )
    attributes = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attributes["StreamArn"] = description["LatestStreamArn"]
    return _Built(ref=name, attributes=attributes)


def _build_bucket(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    s3 = clients.s3
    name = properties.get("BucketName") or f"{identity.stack_name}-{identity.logical_id}".lower()
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        if clients.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name,
                CreateBucketConfiguration={"LocationConstraint": clients.region},  # type: ignore[typeddict-item]
            )
    if "BucketEncryption" in properties:
        # CloudFormation's ServerSideEncryptionConfiguration is the API's Rules, by another name.
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
            }
            for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        encryption: Any = {"Rules": rules}
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration=encryption)
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]}
        )
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])
    if "Tags" in properties:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": properties["Tags"]})
    if "LifecycleConfiguration" in properties:
        lifecycle: Any = {"Rules": [_lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]]}
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=lifecycle)
    return _Built(ref=name, attributes={"Arn": f"arn:aws:s3:::{name}"})


def _skip_bucket_policy(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    """Checked, deliberately not applied: moto 5 evaluates a Deny statement whose condition does not hold as
    a denial (a policy that denies plain-HTTP requests then refuses every request), and the local system
    speaks plain HTTP to moto anyway. tests/unit/test_infra_templates.py checks what the policy says."""
    bucket = properties["Bucket"]
    existing = {known["Name"] for known in clients.s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        raise ProvisioningError(f"{identity.logical_id}: bucket {bucket} is not one the template made")
    if not properties["PolicyDocument"].get("Statement"):
        raise ProvisioningError(f"{identity.logical_id}: the policy has no statements")
    return _Built(ref=bucket, attributes={})


def _build_queue(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    """CreateQueue is idempotent for the same attributes: a second run finds the queue the first made."""
    if clients.sqs is None:
        raise ProvisioningError("the template declares an SQS queue: LocalClients needs an sqs client")
    attributes = {"MessageRetentionPeriod": str(properties.get("MessageRetentionPeriod", 345600)),
                  "SqsManagedSseEnabled": str(bool(properties.get("SqsManagedSseEnabled", False))).lower()}
    url = clients.sqs.create_queue(QueueName=properties["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return _Built(ref=url, attributes={"Arn": arn})


def _skip_queue_policy(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    """Checked, not applied, for the reason _skip_bucket_policy gives (a Deny of plain HTTP)."""
    if not properties.get("Queues") or not properties["PolicyDocument"].get("Statement"):
        raise ProvisioningError(f"{identity.logical_id}: a queue policy names its queues and has statements")
    return _Built(ref=identity.logical_id, attributes={})


def _cognito(clients: LocalClients) -> CognitoIdentityProviderClient:
    if clients.cognito is None:
        raise ProvisioningError("the template declares a Cognito user pool: LocalClients needs a cognito client")
    return clients.cognito


def _build_user_pool(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    """The pool, found again by name on a second run; MFA set through its own call, as the API wants."""
    cognito = _cognito(clients)
    name = properties["UserPoolName"]
    pages = cognito.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60})
    pool_id = next((pool["Id"] for page in pages for pool in page["UserPools"] if pool.get("Name") == name), None)
    if pool_id is None:
        request: dict[str, Any] = {"PoolName": name}
        for same_name in ("AdminCreateUserConfig", "Policies", "AccountRecoverySetting", "DeletionProtection"):
            if same_name in properties:
                request[same_name] = properties[same_name]
        pool_id = cognito.create_user_pool(**request)["UserPool"]["Id"]
    mfa = properties.get("MfaConfiguration", "OFF")
    software_token = "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", [])
    if mfa != "OFF" and not software_token:
        raise ProvisioningError(f"{identity.logical_id}: only SOFTWARE_TOKEN_MFA is applied locally")
    cognito.set_user_pool_mfa_config(
        UserPoolId=pool_id, MfaConfiguration=mfa,
        SoftwareTokenMfaConfiguration={"Enabled": software_token},
    )
    arn = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"].get("Arn", "")
    provider = f"cognito-idp.{clients.region}.amazonaws.com/{pool_id}"
    return _Built(ref=pool_id, attributes={"Arn": arn, "ProviderName": provider})


def _build_user_pool_client(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    cognito = _cognito(clients)
    pool_id, name = properties["UserPoolId"], properties["ClientName"]
    existing = next((client["ClientId"] for client in cognito.list_user_pool_clients(
        UserPoolId=pool_id, MaxResults=60)["UserPoolClients"] if client.get("ClientName") == name), None)
    settings = {key: properties[key] for key in (
        "ExplicitAuthFlows", "PreventUserExistenceErrors", "AccessTokenValidity", "IdTokenValidity",
        "TokenValidityUnits") if key in properties}
    if existing is None:
        existing = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName=name, GenerateSecret=bool(properties.get("GenerateSecret", False)),
            **settings,
        )["UserPoolClient"]["ClientId"]
    else:
        cognito.update_user_pool_client(UserPoolId=pool_id, ClientId=existing, ClientName=name, **settings)
    return _Built(ref=existing, attributes={"ClientId": existing})


def _build_user_pool_group(clients: LocalClients, identity: _ResourceIdentity, properties: _Properties) -> _Built:
    cognito = _cognito(clients)
    pool_id, name = properties["UserPoolId"], properties["GroupName"]
    try:
        cognito.get_group(UserPoolId=pool_id, GroupName=name)
    except cognito.exceptions.ResourceNotFoundException:
        cognito.create_group(UserPoolId=pool_id, GroupName=name, Description=properties.get("Description", ""))
    return _Built(ref=name, attributes={})


_LIFECYCLE_RULE_PROPERTIES = frozenset(
    {"Id", "Status", "Prefix", "ExpirationInDays", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"}
)


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the names differ)."""
    unsupported = sorted(set(rule) - _LIFECYCLE_RULE_PROPERTIES)
    if unsupported:
        raise ProvisioningError(f"lifecycle rule properties {unsupported} are not applied by the local provisioner")
    converted: dict[str, Any] = {
        "ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    return converted


_BUILDERS: dict[str, _Builder] = {
    "AWS::KMS::Key": _Builder(
        frozenset({"Description", "EnableKeyRotation", "KeyPolicy", "KeySpec", "KeyUsage", "Tags"}),
        _build_key,
    ),
    "AWS::KMS::Alias": _Builder(frozenset({"AliasName", "TargetKeyId"}), _build_alias),
    "AWS::DynamoDB::Table": _Builder(
        frozenset(
            {
                "TableName",
                "AttributeDefinitions",
                "KeySchema",
                "BillingMode",
                "ProvisionedThroughput",
                "GlobalSecondaryIndexes",
                "LocalSecondaryIndexes",
                "SSESpecification",
                "StreamSpecification",
                "PointInTimeRecoverySpecification",
                "DeletionProtectionEnabled",
                "TimeToLiveSpecification",
                "Tags",
            }
        ),
        _build_table,
    ),
    "AWS::S3::Bucket": _Builder(
        frozenset(
            {
                "BucketName",
                "BucketEncryption",
                "VersioningConfiguration",
                "PublicAccessBlockConfiguration",
                "OwnershipControls",
                "LifecycleConfiguration",
                "Tags",
            }
        ),
        _build_bucket,
    ),
    "AWS::S3::BucketPolicy": _Builder(frozenset({"Bucket", "PolicyDocument"}), _skip_bucket_policy),
    "AWS::Cognito::UserPool": _Builder(
        frozenset({"UserPoolName", "AdminCreateUserConfig", "MfaConfiguration", "EnabledMfas", "Policies",
                   "AccountRecoverySetting", "DeletionProtection"}),
        _build_user_pool,
    ),
    "AWS::Cognito::UserPoolClient": _Builder(
        frozenset({"ClientName", "UserPoolId", "GenerateSecret", "ExplicitAuthFlows", "PreventUserExistenceErrors",
                   "AccessTokenValidity", "IdTokenValidity", "TokenValidityUnits"}),
        _build_user_pool_client,
    ),
    "AWS::Cognito::UserPoolGroup": _Builder(frozenset({"GroupName", "UserPoolId", "Description"}),
                                            _build_user_pool_group),
    "AWS::SQS::Queue": _Builder(frozenset({"QueueName", "MessageRetentionPeriod", "SqsManagedSseEnabled"}),
                                _build_queue),
    "AWS::SQS::QueuePolicy": _Builder(frozenset({"Queues", "PolicyDocument"}), _skip_queue_policy),
}
