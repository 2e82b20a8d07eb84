"""`make deploy` and `make destroy` without AWS: moto for the account, a fake for CloudFormation and chalice.

The stacks are an in-memory fake that makes on moto the resources later steps use, as CloudFormation
would (its own adapter is tested against botocore's Stubber: tests/unit/test_cloudformation_stacks.py);
`chalice deploy` and `chalice delete` are stand-ins that do on moto what chalice does (a function, its
stream mapping, its log group) and record how they were called.

Each test is an organiser with an AWS account of its own on moto (moto keeps accounts apart by the
credentials of an assumed role), and moto's state is neither reset nor removed: the session's moto server,
which other tests share, lives in the same process and the same state.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import PROJECT_ROOT, Settings
from infra import deploy as deploy_module
from infra.deploy import STREAM_MAPPING, DeployError, Deployment, check_python

REGION = "eu-central-1"
STAGE = "dev"
API_HOST = "abc123defg.execute-api.eu-central-1.amazonaws.com"
SITE = "https://d111111abcdef8.cloudfront.net/"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 session in an AWS account of its own on moto's in-process mock."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    mock = mock_aws()
    mock.start(reset=False)
    try:
        account = str(uuid.uuid4().int)[:12]
        credentials = boto3.client("sts", region_name=REGION).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/organiser", RoleSessionName="make-deploy")["Credentials"]
        yield boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"], region_name=REGION)
    finally:
        mock.stop(remove_data=False)


@dataclass
class FakeCloud:
    """CloudFormation's part, on moto: each template makes what the later steps use; Retain means kept."""

    session: Any
    log: list[str] = field(default_factory=list)
    outputs_of: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    parameters_of: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def stacks(self, region: str) -> FakeStacks:
        return FakeStacks(self, region)

    def make(self, region: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]:
        stage = parameters["Stage"]
        if template.name == "data.yaml":
            kms = self.session.client("kms", region_name=region)
            keys = {name: kms.create_key(Description=f"eci-{stage}: {name}")["KeyMetadata"]["Arn"]
                    for name in ("statements", "fingerprint", "exports")}
            dynamodb = self.session.client("dynamodb", region_name=region)
            tables = {}
            for name, protected in (("statements", True), ("counters", False)):
                tables[name] = dynamodb.create_table(
                    TableName=f"eci-{stage}-{name}", BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                          {"AttributeName": "sk", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                    DeletionProtectionEnabled=protected,
                )["TableDescription"]
            account = self.session.client("sts").get_caller_identity()["Account"]
            bucket = f"eci-{stage}-exports-{account}-{region}"
            s3 = self.session.client("s3", region_name=region)
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            return {
                "StatementsTableName": tables["statements"]["TableName"],
                "StatementsTableStreamArn": tables["statements"]["LatestStreamArn"],
                "CountersTableName": tables["counters"]["TableName"],
                "StatementsKeyArn": keys["statements"], "FingerprintKeyArn": keys["fingerprint"],
                "ExportsKeyArn": keys["exports"], "ExportBucketName": bucket,
                "FingerprintKeyParameterName": f"/eci/{stage}/fingerprint-key",
                "ConsoleTableName": f"eci-{stage}-console", "OrganiserUserPoolId": f"{region}_Organisers1",
                "OrganiserUserPoolClientId": "console0client0id",
            }
        if template.name == "stream-failures.yaml":
            sqs = self.session.client("sqs", region_name=region)
            url = sqs.create_queue(QueueName=f"eci-{stage}-count-failures")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return {"CountFailureQueueArn": arn, "CountFailureQueueUrl": url}
        assert template.name == "edge.yaml"
        logs_bucket = f"eci-{stage}-edge-accesslogbucket-{uuid.uuid4().hex[:12]}"
        self.session.client("s3", region_name=region).create_bucket(Bucket=logs_bucket)
        return {"DistributionUrl": SITE, "DistributionDomainName": SITE[8:-1], "DistributionId": "E2EXAMPLE",
                "AccessLogBucketName": logs_bucket}


@dataclass
class FakeStacks:
    cloud: FakeCloud
    region: str

    def deploy(self, name: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]:
        assert template.exists(), template
        self.cloud.log.append(f"stack {self.region} {name}")
        self.cloud.parameters_of[(self.region, name)] = dict(parameters)
        if (self.region, name) not in self.cloud.outputs_of:
            self.cloud.outputs_of[(self.region, name)] = self.cloud.make(self.region, template, parameters)
        return self.cloud.outputs_of[(self.region, name)]

    def outputs(self, name: str) -> dict[str, str] | None:
        return self.cloud.outputs_of.get((self.region, name))

    def delete(self, name: str) -> bool:
        self.cloud.log.append(f"delete {self.region} {name}")
        if self.cloud.outputs_of.pop((self.region, name), None) is None:
            return False
        if name.endswith("-count-failures"):  # no Retain: it goes
            sqs = self.cloud.session.client("sqs", region_name=self.region)
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        return True


@dataclass
class FakeChalice:
    """`chalice deploy` and `chalice delete`, as far as the later steps can see."""

    session: Any
    project: Path
    cloud: FakeCloud
    commands: list[list[str]] = field(default_factory=list)
    environments: list[dict[str, str]] = field(default_factory=list)
    fingerprint_key_at_deploy: list[bool] = field(default_factory=list)

    def __call__(self, command: Sequence[str], environment: Mapping[str, str]) -> None:
        self.commands.append(list(command))
        self.environments.append(dict(environment))
        if command[1:4] == ["-m", "infra.chalice_stage", "deploy"]:
            self.cloud.log.append("chalice deploy")
            self._deploy(dict(argument.removeprefix("--set=").split("=", 1) for argument in command[6:]))
        elif command[1:2] == ["delete"]:
            self.cloud.log.append("chalice delete")
            self.session.client("lambda").delete_function(FunctionName="eci-dev-count_statements")
            (self.project / ".chalice" / "deployed" / f"{STAGE}.json").unlink()
        else:
            raise AssertionError(command)

    def _deploy(self, environment: dict[str, str]) -> None:
        ssm = self.session.client("ssm")
        self.fingerprint_key_at_deploy.append(
            bool(ssm.describe_parameters(ParameterFilters=[
                {"Key": "Name", "Values": [environment["FINGERPRINT_KEY_PARAMETER"]]}])["Parameters"]))
        role = self.session.client("iam").create_role(
            RoleName="eci-dev-count_statements", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                           "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "")
        aws_lambda = self.session.client("lambda")
        aws_lambda.create_function(FunctionName="eci-dev-count_statements", Runtime="python3.12", Role=role,
                                   Handler="app.count_statements", Code={"ZipFile": code.getvalue()},
                                   Environment={"Variables": environment})
        aws_lambda.create_event_source_mapping(EventSourceArn=environment["STATEMENTS_STREAM_ARN"],
                                               FunctionName="eci-dev-count_statements", BatchSize=1000,
                                               StartingPosition="TRIM_HORIZON")
        for group in ("eci-dev", "eci-dev-count_statements", "eci-devtwo"):  # the last one: another stage's
            self.session.client("logs").create_log_group(logGroupName=f"/aws/lambda/{group}")
        deployed = self.project / ".chalice" / "deployed"
        deployed.mkdir(exist_ok=True)
        (deployed / f"{STAGE}.json").write_text(json.dumps({"schema_version": "2.0", "backend": "api", "resources": [
            {"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": "arn:aws:lambda:..."},
            {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123defg",
             "rest_api_url": f"https://{API_HOST}/api/"},
        ]}))


@dataclass
class Organiser:
    deployment: Deployment
    cloud: FakeCloud
    chalice: FakeChalice
    out: io.StringIO


@pytest.fixture
def organiser(aws: Any, tmp_path: Path) -> Organiser:
    (tmp_path / ".chalice").mkdir()
    shutil.copy(PROJECT_ROOT / ".chalice" / "config.json", tmp_path / ".chalice" / "config.json")
    cloud = FakeCloud(aws)
    chalice = FakeChalice(aws, tmp_path, cloud)
    out = io.StringIO()
    deployment = Deployment(STAGE, aws, out, run=chalice, stacks=cloud.stacks, python="/opt/deploy/bin/python",
                            project_dir=tmp_path, sleep=lambda seconds: None)
    return Organiser(deployment, cloud, chalice, out)


def test_one_command_deploys_data_key_functions_mapping_and_edge_in_order_and_prints_the_site(
    organiser: Organiser, aws: Any
) -> None:
    url = organiser.deployment.deploy()

    assert url == SITE
    assert organiser.cloud.log == [
        f"stack {REGION} eci-dev-data", "chalice deploy", f"stack {REGION} eci-dev-count-failures",
        "stack us-east-1 eci-dev-edge",
    ]
    assert organiser.chalice.fingerprint_key_at_deploy == [True]  # made before any function could need it
    printed = organiser.out.getvalue()
    assert printed.rstrip().splitlines()[-2] == f"Deployed stage dev. The site: {SITE}"
    assert [line for line in printed.splitlines() if line.startswith("== ")] == [
        "== 1/5 data stack eci-dev-data (keys, tables, export bucket)",
        "== 2/5 fingerprint key /eci/dev/fingerprint-key, origin secret",
        "== 3/5 chalice deploy --stage dev (functions, API)",
        "== 4/5 stream mapping of eci-dev-count_statements",
        f"== 5/5 edge stack eci-dev-edge (us-east-1: CloudFront, WAF) for {API_HOST}",
    ]
    secret = aws.client("ssm").get_parameter(Name="/eci/dev/origin-verify-secret", WithDecryption=True)
    assert organiser.cloud.parameters_of[("us-east-1", "eci-dev-edge")] == {
        "Stage": "dev", "ApiDomainName": API_HOST, "ApiStageName": "api",
        "OriginVerifySecret": secret["Parameter"]["Value"]}
    assert secret["Parameter"]["Type"] == "SecureString" and len(secret["Parameter"]["Value"]) >= 32
    assert secret["Parameter"]["Value"] not in printed, "the secret is never printed"


def test_every_setting_the_functions_need_reaches_them_from_the_data_stack(organiser: Organiser) -> None:
    organiser.deployment.deploy()

    [command] = organiser.chalice.commands
    assert command[:6] == ["/opt/deploy/bin/python", "-m", "infra.chalice_stage", "deploy", "--stage", "dev"]
    injected = dict(argument.removeprefix("--set=").split("=", 1) for argument in command[6:])
    data = organiser.cloud.outputs_of[(REGION, "eci-dev-data")]
    assert injected == {
        "STATEMENTS_TABLE": "eci-dev-statements", "COUNTERS_TABLE": "eci-dev-counters",
        "STATEMENTS_KEY": data["StatementsKeyArn"], "FINGERPRINT_KEY_PARAMETER": "/eci/dev/fingerprint-key",
        "EXPORT_BUCKET": data["ExportBucketName"], "EXPORT_KEY": data["ExportsKeyArn"],
        "STATEMENTS_STREAM_ARN": data["StatementsTableStreamArn"],
        "CONSOLE_TABLE": "eci-dev-console", "ORGANISER_USER_POOL_ID": data["OrganiserUserPoolId"],
        "ORGANISER_CLIENT_ID": data["OrganiserUserPoolClientId"],
        "COUNT_REPORTS_ITEM_FAILURES": "true",  # step 4 gives the mapping ReportBatchItemFailures
        "ORIGIN_VERIFY_SECRET": organiser.cloud.parameters_of[("us-east-1", "eci-dev-edge")]["OriginVerifySecret"],
    }
    assert organiser.chalice.environments[0]["AWS_DEFAULT_REGION"] == REGION
    # What a function sees: config.json's stage variables under the injected ones (Chalice's merge order).
    stage = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]
    settings = Settings.from_environ({**stage["environment_variables"], **injected, "AWS_REGION": REGION})
    assert settings.export_bucket == data["ExportBucketName"]
    assert settings.statements_key.startswith("arn:aws:kms:") and settings.export_key.startswith("arn:aws:kms:")
    assert settings.export_worker_function == "eci-dev-export_worker"


def test_the_count_functions_stream_mapping_reports_partial_failures_and_sends_skipped_batches_to_a_queue(
    organiser: Organiser, aws: Any
) -> None:
    organiser.deployment.deploy()

    [mapping] = aws.client("lambda").list_event_source_mappings(
        FunctionName="eci-dev-count_statements")["EventSourceMappings"]
    queue = organiser.cloud.outputs_of[(REGION, "eci-dev-count-failures")]["CountFailureQueueArn"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumRetryAttempts"] == STREAM_MAPPING["MaximumRetryAttempts"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    assert queue.endswith(":eci-dev-count-failures")  # the name .chalice/policy-dev-count.json allows


def test_deploying_again_keeps_the_fingerprint_key_it_made_the_first_time(organiser: Organiser, aws: Any) -> None:
    organiser.deployment.deploy()
    ssm = aws.client("ssm")
    first = ssm.get_parameter(Name="/eci/dev/fingerprint-key")["Parameter"]["Value"]
    first_origin_secret = organiser.cloud.parameters_of[("us-east-1", "eci-dev-edge")]["OriginVerifySecret"]
    organiser.chalice._deploy = lambda environment: None  # chalice updates in place: nothing new to make

    organiser.deployment.deploy()

    assert ssm.get_parameter(Name="/eci/dev/fingerprint-key")["Parameter"]["Value"] == first
    # CloudFront and the functions keep the secret they share.
    assert organiser.cloud.parameters_of[("us-east-1", "eci-dev-edge")]["OriginVerifySecret"] == first_origin_secret
    assert "already there, left unchanged" in organiser.out.getvalue()


def test_teardown_goes_in_reverse_order_and_names_every_kept_resource_with_the_command_to_remove_it(
    organiser: Organiser, aws: Any
) -> None:
    organiser.deployment.deploy()
    data = organiser.cloud.outputs_of[(REGION, "eci-dev-data")]
    access_logs = organiser.cloud.outputs_of[("us-east-1", "eci-dev-edge")]["AccessLogBucketName"]
    aws.client("s3").put_object(Bucket=data["ExportBucketName"], Key="demo-2026/2026-11-27/manifest.json", Body=b"{}")
    organiser.cloud.log.clear()

    retained = organiser.deployment.destroy()

    assert organiser.cloud.log == ["delete us-east-1 eci-dev-edge", "chalice delete",
                                   f"delete {REGION} eci-dev-count-failures", f"delete {REGION} eci-dev-data"]
    assert organiser.chalice.commands[-1] == ["/opt/deploy/bin/chalice", "delete", "--stage", "dev"]
    kept = {item.what: item for item in retained}
    statements = kept["DynamoDB table eci-dev-statements"]
    assert "deletion protection is on" in statements.why
    assert statements.commands == (
        f"aws dynamodb update-table --region {REGION} --table-name eci-dev-statements --no-deletion-protection-enabled",
        f"aws dynamodb delete-table --region {REGION} --table-name eci-dev-statements",
    )
    assert kept["DynamoDB table eci-dev-counters"].commands == (
        f"aws dynamodb delete-table --region {REGION} --table-name eci-dev-counters",)
    assert "object versions: 1" in kept[f"S3 bucket {data['ExportBucketName']}"].why
    assert f"S3 bucket {access_logs}" in kept
    assert "SSM parameter /eci/dev/fingerprint-key" in kept
    # The origin secret protects nothing once CloudFront and the API are gone: removed, not listed.
    assert not any("origin-verify" in what for what in kept)
    assert aws.client("ssm").get_parameters(Names=["/eci/dev/origin-verify-secret"])["InvalidParameters"]
    for key in ("StatementsKeyArn", "ExportsKeyArn", "FingerprintKeyArn"):
        assert kept[f"KMS key {data[key]}"].commands == (
            f"aws kms schedule-key-deletion --region {REGION} --key-id {data[key]} --pending-window-in-days 30",)
    assert {"log group /aws/lambda/eci-dev", "log group /aws/lambda/eci-dev-count_statements"} <= set(kept)
    assert "log group /aws/lambda/eci-devtwo" not in kept
    printed = organiser.out.getvalue()
    for item in retained:
        assert item.what in printed and all(command in printed for command in item.commands)
    # Nothing that holds data was deleted.
    assert aws.client("dynamodb").describe_table(TableName="eci-dev-statements")["Table"]["TableStatus"] == "ACTIVE"
    assert aws.client("s3").list_object_versions(Bucket=data["ExportBucketName"])["Versions"]


def test_teardown_of_a_stage_never_deployed_deletes_nothing_and_says_so(organiser: Organiser) -> None:
    retained = organiser.deployment.destroy()

    assert retained == []
    assert "eci-dev-data: not there, nothing to delete" in organiser.out.getvalue()
    assert "nothing deployed by chalice for stage dev" in organiser.out.getvalue()
    assert organiser.chalice.commands == []


def test_without_credentials_nothing_starts_and_the_error_says_how_to_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls: list[object] = []
    deployment = Deployment(STAGE, boto3.session.Session(region_name=REGION), io.StringIO(),
                            run=lambda command, environment: calls.append(command),
                            stacks=lambda region: calls.append(region))  # type: ignore[arg-type, func-returns-value]

    with pytest.raises(DeployError, match="aws sts get-caller-identity"):
        deployment.deploy()
    assert calls == []


def test_deploy_refuses_a_python_older_than_3_12_and_says_why() -> None:
    with pytest.raises(DeployError, match=r"3\.12 or newer, this is 3\.11: Chalice gives the Lambda functions"):
        check_python((3, 11))
    check_python((3, 12))
    check_python((3, 14))


def test_the_command_line_reports_errors_in_one_line_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy_module, "check_python", lambda: check_python((3, 11)))

    assert deploy_module.main(["deploy", "--stage", "prod"], out=io.StringIO()) == 1
    assert capsys.readouterr().err.startswith("error: deploy needs Python 3.12 or newer")


def test_make_package_merges_the_stream_mapping_settings_and_reports_the_package_size(tmp_path: Path) -> None:
    commands: list[list[str]] = []

    def chalice_package(command: Sequence[str], environment: Mapping[str, str]) -> None:
        commands.append(list(command))
        output = Path(command[command.index("--output") + 1])
        output.mkdir(parents=True)
        with zipfile.ZipFile(output / "deployment.zip", "w") as archive:
            archive.writestr("app.py", "")
            archive.writestr("templates/base.html", "")

    out = io.StringIO()
    line = Deployment("prod", boto3.session.Session(region_name=REGION), out, run=chalice_package,
                      python="/opt/deploy/bin/python").package(tmp_path / "dist")

    assert commands == [["/opt/deploy/bin/python", "-m", "infra.chalice_stage", "package", "--stage", "prod",
                         "--merge-template", str(deploy_module.MERGE_TEMPLATE), "--output", str(tmp_path / "dist")]]
    assert line.startswith("deployment package: 0.0 MB (2 files)")
    assert line in out.getvalue()
