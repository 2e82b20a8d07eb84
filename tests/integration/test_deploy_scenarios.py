"""`make deploy` when things go wrong: the whole of infra.deploy against a moto server, with the real chalice.

Every scenario ends as a first deploy does: exactly one REST API, one stream mapping of the count function,
and the fingerprint key the first deploy made. What is real here: infra/deploy.py; `chalice deploy` and
`chalice delete` (chalice 1.34, in a subprocess, on a copy of the project) against moto's server; the
templates, read for every name and every DeletionPolicy. What is not, because moto lacks it, each named
where it is made:

* CloudFormation (``TemplateStacks``): moto's computes no outputs after a change set, and never rolls
  back a failed creation. The stand-in builds each template's resources on the moto server from the real
  template (the data stack through chalicelib.local.provision, which the local runner uses too), deletes
  a stack as CloudFormation does (what has a DeletionPolicy Retain or RetainExceptOnCreate stays), and
  rolls back a failed creation as CloudFormation does (RetainExceptOnCreate goes, Retain stays:
  CloudFormation Template Reference, "DeletionPolicy attribute"). CloudFront and WAF cannot be made on
  moto: of the edge stack only its log bucket is. The API key stack's key, usage plan and plan key are
  made, updated and replaced as CloudFormation does (a key without a name is named after the stack, a
  new value replaces it, the old one goes once the new one is in the plan).
* API Gateway: moto imports only OpenAPI 3 documents and chalice sends Swagger 2.0; ``MotoGaps`` turns
  the document's version into 3.0 on the way in (paths kept, so the integrations are there). moto's import
  also ignores each method's ``security`` (chalice's ``api_key_required``): ``MotoGaps`` sets the method's
  apiKeyRequired from it, as API Gateway's import does.
* Lambda's GetAccountSettings: moto has none; ``MotoGaps`` answers with a new account's default limits.

moto keeps one state per process, which other tests' moto server shares: each scenario is an AWS account
of its own (an assumed role's credentials; moto keeps accounts apart by them).

A kill is a KeyboardInterrupt (what Ctrl-C raises) at a named point, or, inside `chalice deploy`, a failed
call that stops chalice after it made the API and the mapping and before it wrote its record.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.local.moto_server import moto_environment, start_moto_server
from chalicelib.local.provision import LocalClients, load_template, provision_template, template_resolver
from infra.deploy import STREAM_MAPPING, DeployError, Deployment
from infra.stacks import StackError

REGION = "eu-central-1"
STAGE = "dev"
PROJECT_FILES = ("app.py", "chalicelib", "templates", "initiatives", "requirements.txt", "vendor")
# Runs infra.chalice_stage as `make deploy` does; its Python check is the only thing lowered (moto runs no code).
CHALICE_STAGE = "import sys; from infra.chalice_stage import main; main(sys.argv[1:], minimum_python=(3, 11))"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# What the fake CloudFormation makes of API Gateway (the API key stack's); the API itself is chalice's.
API_KEY_RESOURCES = ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey")


class Killed(KeyboardInterrupt):
    """The organiser's Ctrl-C, or the machine going away, at a named point."""


# --- what moto lacks --------------------------------------------------------------------------------------


class MotoGaps:
    """Patches of moto's server (it runs in this process) where it lacks what AWS does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.apigateway import models

        self.failing: set[str] = set()  # operations that fail (botocore retries a 500) until taken out
        import_rest_api, put_rest_api = models.APIGatewayBackend.import_rest_api, models.APIGatewayBackend.put_rest_api
        create_deployment = models.APIGatewayBackend.create_deployment

        def openapi3(document: dict[str, Any]) -> dict[str, Any]:
            if "swagger" not in document:
                return document
            return {"openapi": "3.0.1", "info": {"description": "", **document.get("info", {})},
                    "paths": document.get("paths", {})}

        def import_as_openapi3(backend: Any, document: dict[str, Any], fail_on_warnings: bool) -> Any:
            return import_rest_api(backend, openapi3(document), False)

        def put_as_openapi3(backend: Any, api_id: str, document: dict[str, Any], fail_on_warnings: bool,
                            mode: str = "merge") -> Any:
            api = put_rest_api(backend, api_id, openapi3(document), False, mode)
            for path, operations in document.get("paths", {}).items():
                for method, operation in operations.items():
                    if {"api_key": []} in operation.get("security", []):
                        backend.apis[api_id].get_resource_for_path(path).resource_methods[
                            method.upper()].api_key_required = True
            return api

        def deployment_or_kill(backend: Any, *args: Any, **kwargs: Any) -> Any:
            if "CreateDeployment" in self.failing:
                raise RuntimeError("the deploying machine went away")  # moto answers 500; chalice stops
            return create_deployment(backend, *args, **kwargs)

        monkeypatch.setattr(models.APIGatewayBackend, "import_rest_api", import_as_openapi3)
        monkeypatch.setattr(models.APIGatewayBackend, "put_rest_api", put_as_openapi3)
        monkeypatch.setattr(models.APIGatewayBackend, "create_deployment", deployment_or_kill)


class LambdaWithAccountSettings:
    """boto3's Lambda client, plus GetAccountSettings as a new account with the usual quota answers it."""

    def __init__(self, client: Any, concurrent_executions: int) -> None:
        self._client, self._limit = client, concurrent_executions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_account_settings(self) -> dict[str, Any]:
        reserved = 0
        for page in self._client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                concurrency = self._client.get_function_concurrency(FunctionName=function["FunctionName"])
                reserved += concurrency.get("ReservedConcurrentExecutions", 0)
        return {"AccountLimit": {"ConcurrentExecutions": self._limit,
                                 "UnreservedConcurrentExecutions": self._limit - reserved}}


@dataclass
class MotoSession:
    """The organiser's boto3 session, on the moto server, in an account of its own."""

    endpoint: str
    credentials: dict[str, str]
    account: str
    concurrent_executions: int = 1000
    region_name: str = REGION

    def client(self, service: str, region_name: str | None = None) -> Any:
        client = boto3.client(service, region_name=region_name or self.region_name, endpoint_url=self.endpoint,
                              aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
                              aws_session_token=self.credentials["AWS_SESSION_TOKEN"])
        return LambdaWithAccountSettings(client, self.concurrent_executions) if service == "lambda" else client

    def in_region(self, region: str) -> MotoSession:
        return MotoSession(self.endpoint, self.credentials, self.account, self.concurrent_executions, region)


def account_of_its_own(endpoint: str) -> MotoSession:
    account = str(uuid.uuid4().int)[:12]
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/organiser",
                                  RoleSessionName="make-deploy")["Credentials"]
    return MotoSession(endpoint, {"AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
                                  "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                                  "AWS_SESSION_TOKEN": credentials["SessionToken"]}, account)


# --- CloudFormation's part, from the real templates ---------------------------------------------------------


@dataclass
class Stack:
    template: Path
    parameters: dict[str, str]
    outputs: dict[str, str]
    status: str
    protected: bool = False


@dataclass
class TemplateStacks:
    """CloudFormation as deploy uses it, on moto, for every region; see the module's docstring."""

    session: MotoSession
    stacks: dict[tuple[str, str], Stack] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    kill_at: set[str] = field(default_factory=set)  # "before <stack>" / "after <stack>"
    fail_creation_of: set[str] = field(default_factory=set)  # stacks whose next creation fails, as CloudFront's may

    def region(self, region: str) -> RegionStacks:
        return RegionStacks(self, region)

    def _kill(self, point: str) -> None:
        if point in self.kill_at:
            self.kill_at.discard(point)
            raise Killed(point)


@dataclass
class RegionStacks:
    cloud: TemplateStacks
    region: str

    def _session(self) -> MotoSession:
        return self.cloud.session.in_region(self.region)

    def deploy(self, name: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]:
        self.cloud._kill(f"before {name}")
        existing = self.cloud.stacks.get((self.region, name))
        if existing is not None and existing.status == "ROLLBACK_COMPLETE":
            self.cloud.stacks.pop((self.region, name))  # infra/stacks.py deletes such a stack first
            existing = None
        given = {**(existing.parameters if existing else {}), **parameters}
        self.cloud.log.append(f"{'update' if existing else 'create'} {self.region} {name}")
        if existing is None and name in self.cloud.fail_creation_of:
            self.cloud.fail_creation_of.discard(name)
            self._build(template, given, name)
            self._roll_back(template, given)
            self._remove_api_gateway(template, given, name)
            self.cloud.stacks[(self.region, name)] = Stack(template, given, {}, "ROLLBACK_COMPLETE")
            raise StackError(f"stack {name} ended ROLLBACK_COMPLETE: Distribution: Your account must be verified "
                             "before you can add new CloudFront resources")
        outputs = self._build(template, given, name)
        self.cloud.stacks[(self.region, name)] = Stack(template, given, outputs, "COMPLETE",
                                                       existing.protected if existing else False)
        self.cloud._kill(f"after {name}")
        return outputs

    def outputs(self, name: str) -> dict[str, str] | None:
        stack = self.cloud.stacks.get((self.region, name))
        return None if stack is None else dict(stack.outputs)

    def protect(self, name: str) -> None:
        self.cloud.stacks[(self.region, name)].protected = True

    def delete(self, name: str) -> bool:
        stack = self.cloud.stacks.get((self.region, name))
        if stack is None:
            return False
        if stack.protected:
            raise StackError(f"Stack [{name}] cannot be deleted while TerminationProtection is enabled")
        self.cloud.log.append(f"delete {self.region} {name}")
        for _logical_id, resource, properties in self._resources(stack.template, stack.parameters):
            if resource.get("DeletionPolicy", "Delete") == "Delete":
                self._remove(resource["Type"], properties)
        self._remove_api_gateway(stack.template, stack.parameters, name)
        del self.cloud.stacks[(self.region, name)]
        return True

    # The resources of the templates deploy uses, built from the template itself.

    def _resources(self, template: Path, parameters: Mapping[str, str]) -> Iterator[tuple[str, dict[str, Any],
                                                                                        dict[str, Any]]]:
        document = load_template(template)
        resolver = template_resolver(document, parameters, self.cloud.session.account, self.region, "eci")
        for logical_id in document["Resources"]:
            resolver.refs.setdefault(logical_id, logical_id)
            for attribute in ("Arn", "DomainName", "StreamArn"):
                resolver.attributes.setdefault((logical_id, attribute), f"{logical_id}.{attribute}")
        for logical_id, resource in document["Resources"].items():
            names = {key: value for key, value in resource.get("Properties", {}).items()
                     if key in ("QueueName", "BucketName", "TopicName", "LogGroupName", "TableName")}
            yield logical_id, resource, resolver.resolve(names)

    def _build(self, template: Path, parameters: Mapping[str, str], stack: str) -> dict[str, str]:
        session = self._session()
        if template.name == "data.yaml":
            clients = LocalClients(session.client("dynamodb"), session.client("kms"), session.client("s3"),
                                   session.client("ssm"), session.account, self.region,
                                   cognito=session.client("cognito-idp"))
            return provision_template(clients, load_template(template), parameters, stack)
        if template.name == "api-access.yaml":
            return self._build_api_gateway(template, parameters, stack)
        outputs: dict[str, str] = {}
        for logical_id, resource, properties in self._resources(template, parameters):
            kind = resource["Type"]
            if kind == "AWS::SQS::Queue":
                sqs = session.client("sqs")
                url = sqs.create_queue(QueueName=properties["QueueName"])["QueueUrl"]
                outputs[f"{logical_id}Arn"] = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            elif kind == "AWS::S3::Bucket":
                s3 = session.client("s3")
                s3.create_bucket(Bucket=properties["BucketName"])
                outputs[f"{logical_id}Name"] = properties["BucketName"]
            elif kind == "AWS::SNS::Topic":
                outputs[f"{logical_id}Arn"] = session.client("sns").create_topic(Name=properties["TopicName"])[
                    "TopicArn"]
            elif kind == "AWS::Logs::LogGroup":
                logs, group = session.client("logs"), properties["LogGroupName"]
                if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
                    logs.create_log_group(logGroupName=group)
                outputs[f"{logical_id}Arn"] = f"arn:aws:logs:{self.region}:{session.account}:log-group:{group}:*"
        if template.name == "edge.yaml":
            outputs.update(DistributionUrl="https://d111111abcdef8.cloudfront.net/", DistributionId="E2EXAMPLE",
                           DistributionDomainName="d111111abcdef8.cloudfront.net")
        return outputs

    def _build_api_gateway(self, template: Path, parameters: Mapping[str, str], stack: str) -> dict[str, str]:
        """The API key stack's resources, made or updated in the template's order, as CloudFormation does.

        A key has no Name in the template: CloudFormation names it <stack>-<logical id>-<random>, which is how
        it is found again. A new Value replaces the key: the new one is made and put in the plan first, the
        old one deleted at the end (CloudFormation's clean-up phase). The plan's stages are updated in place.
        """
        apigateway, document = self._session().client("apigateway"), load_template(template)
        resolver = template_resolver(document, parameters, self.cloud.session.account, self.region, stack)
        outputs: dict[str, str] = {}
        replaced: list[str] = []
        for logical_id, resource in document["Resources"].items():
            if resource["Type"] not in API_KEY_RESOURCES:
                continue
            properties = resolver.resolve(resource.get("Properties", {}))
            if resource["Type"] == "AWS::ApiGateway::ApiKey":
                prefix = f"{stack}-{logical_id}-"
                existing = [key for key in apigateway.get_api_keys(nameQuery=prefix, includeValues=True)["items"]
                            if key["name"].startswith(prefix)]
                same = [key["id"] for key in existing if key["value"] == properties["Value"]]
                physical = same[0] if same else apigateway.create_api_key(
                    name=prefix + uuid.uuid4().hex[:12].upper(), description=properties["Description"],
                    enabled=properties["Enabled"], value=properties["Value"])["id"]
                replaced += [key["id"] for key in existing if key["id"] != physical]
            elif resource["Type"] == "AWS::ApiGateway::UsagePlan":
                stages = [{"apiId": item["ApiId"], "stage": item["Stage"]} for item in properties["ApiStages"]]
                plans = [plan for plan in apigateway.get_usage_plans()["items"]
                         if plan["name"] == properties["UsagePlanName"]]
                if plans:
                    physical = plans[0]["id"]
                    old = plans[0].get("apiStages", [])
                    operations = [{"op": "remove", "path": "/apiStages", "value": f"{item['apiId']}:{item['stage']}"}
                                  for item in old if item not in stages]
                    operations += [{"op": "add", "path": "/apiStages", "value": f"{item['apiId']}:{item['stage']}"}
                                   for item in stages if item not in old]
                    if operations:
                        apigateway.update_usage_plan(usagePlanId=physical, patchOperations=operations)
                else:
                    physical = apigateway.create_usage_plan(name=properties["UsagePlanName"],
                                                            description=properties["Description"],
                                                            apiStages=stages)["id"]
            else:  # AWS::ApiGateway::UsagePlanKey
                plan, key = properties["UsagePlanId"], properties["KeyId"]
                in_plan = {item["id"] for item in apigateway.get_usage_plan_keys(usagePlanId=plan)["items"]}
                if key not in in_plan:
                    apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType=properties["KeyType"])
                for old_key in in_plan & set(replaced):
                    apigateway.delete_usage_plan_key(usagePlanId=plan, keyId=old_key)
                physical = f"{plan}:{key}"
            resolver.refs[logical_id] = physical
        for key in replaced:
            apigateway.delete_api_key(apiKey=key)
        for name, output in document.get("Outputs", {}).items():
            outputs[name] = str(resolver.resolve(output["Value"]))
        return outputs

    def _remove_api_gateway(self, template: Path, parameters: Mapping[str, str], stack: str) -> None:
        """A deleted (or rolled back) stack's key, plan and plan key: the plan's stages go before the plan,
        as CloudFormation does it (AWS refuses to delete a plan that still names a stage)."""
        apigateway, document = self._session().client("apigateway"), load_template(template)
        resolver = template_resolver(document, parameters, self.cloud.session.account, self.region, stack)
        for logical_id in document["Resources"]:
            resolver.refs.setdefault(logical_id, logical_id)  # found by name here, not by physical id
        for logical_id, resource in document["Resources"].items():
            if resource["Type"] not in API_KEY_RESOURCES:
                continue
            properties = resolver.resolve(resource.get("Properties", {}))
            if resource["Type"] == "AWS::ApiGateway::UsagePlan":
                for plan in apigateway.get_usage_plans()["items"]:
                    if plan["name"] != properties["UsagePlanName"]:
                        continue
                    for key in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]:
                        apigateway.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
                    for item in plan.get("apiStages", []):
                        apigateway.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
                            {"op": "remove", "path": "/apiStages", "value": f"{item['apiId']}:{item['stage']}"}])
                    apigateway.delete_usage_plan(usagePlanId=plan["id"])
            elif resource["Type"] == "AWS::ApiGateway::ApiKey":
                prefix = f"{stack}-{logical_id}-"
                for key in apigateway.get_api_keys(nameQuery=prefix)["items"]:
                    if key["name"].startswith(prefix):
                        apigateway.delete_api_key(apiKey=key["id"])

    def _roll_back(self, template: Path, parameters: Mapping[str, str]) -> None:
        """A failed creation's rollback: everything it made goes, but what says Retain."""
        for _logical_id, resource, properties in self._resources(template, parameters):
            if resource.get("DeletionPolicy", "Delete") != "Retain":
                self._remove(resource["Type"], properties)

    def _remove(self, kind: str, properties: Mapping[str, Any]) -> None:
        session = self._session()
        if kind == "AWS::SQS::Queue":
            sqs = session.client("sqs")
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=properties["QueueName"])["QueueUrl"])
        elif kind == "AWS::S3::Bucket":
            session.client("s3").delete_bucket(Bucket=properties["BucketName"])
        elif kind == "AWS::Logs::LogGroup":
            session.client("logs").delete_log_group(logGroupName=properties["LogGroupName"])
        elif kind == "AWS::SNS::Topic":
            session.client("sns").delete_topic(
                TopicArn=f"arn:aws:sns:{self.region}:{session.account}:{properties['TopicName']}")


# --- chalice, for real ----------------------------------------------------------------------------------


@dataclass
class Chalice:
    """Runs the commands deploy gives (infra.chalice_stage deploy, chalice delete) against the moto server."""

    session: MotoSession
    kill_at: set[str] = field(default_factory=set)  # "after chalice deploy"
    commands: list[list[str]] = field(default_factory=list)

    def __call__(self, command: Sequence[str], environment: Mapping[str, str]) -> None:
        self.commands.append(list(command))
        env = {**environment, **moto_environment(self.session.endpoint, REGION), **self.session.credentials}
        env.pop("AWS_PROFILE", None)
        if command[1:4] == ["-m", "infra.chalice_stage", "deploy"]:
            argv = [sys.executable, "-c", CHALICE_STAGE, *command[3:]]
        else:
            assert command[0].endswith("/chalice") and "delete" in command, command
            argv = [str(Path(sys.executable).with_name("chalice")), *command[1:]]
        result = subprocess.run(argv, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                                timeout=300, check=False)
        if result.returncode:
            raise DeployError(f"{' '.join(command[:4])} ... failed: {result.stderr[-400:]}")
        if command[1:4] == ["-m", "infra.chalice_stage", "deploy"] and "after chalice deploy" in self.kill_at:
            self.kill_at.discard("after chalice deploy")
            raise Killed("after chalice deploy")


def checkout(root: Path, name: str, package_cache: Path) -> Path:
    """A fresh checkout of the project: the files chalice packages and .chalice/ without any record."""
    project = root / name
    project.mkdir()
    for item in PROJECT_FILES:
        source = PROJECT_ROOT / item
        if source.is_dir():
            shutil.copytree(source, project / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, project / item)
    (project / ".chalice").mkdir()
    for item in (PROJECT_ROOT / ".chalice").glob("*.json"):
        shutil.copy(item, project / ".chalice" / item.name)
    (project / ".chalice" / "deployments").symlink_to(package_cache)  # chalice's dependency cache, shared
    return project


@dataclass
class World:
    """One AWS account on a moto server of its own, and the organiser's machines."""

    endpoint: str
    root: Path
    package_cache: Path
    gaps: MotoGaps
    cloud: TemplateStacks
    chalice: Chalice
    session: MotoSession
    out: io.StringIO = field(default_factory=io.StringIO)

    def organiser(self, project: Path) -> Deployment:
        return Deployment(STAGE, self.session, self.out, run=self.chalice, stacks=self.cloud.region,
                          python=str(Path(sys.executable)), project_dir=project, sleep=lambda seconds: None)

    def client(self, service: str, region: str = REGION) -> Any:
        return self.session.client(service, region)

    # What every scenario must end with.

    def apis(self) -> list[str]:
        return [api["id"] for api in self.client("apigateway").get_rest_apis()["items"]]

    def stream_mappings(self) -> list[str]:
        stream = self.cloud.stacks[(REGION, f"eci-{STAGE}-data")].outputs["StatementsTableStreamArn"]
        # All of them, whatever function: moto filters by FunctionName only in the form it was created with.
        mappings = self.client("lambda").list_event_source_mappings()["EventSourceMappings"]
        return [mapping["UUID"] for mapping in mappings if mapping["EventSourceArn"] == stream]

    def fingerprint_key(self) -> str:
        value: str = self.client("ssm").get_parameter(Name=f"/eci/{STAGE}/fingerprint-key")["Parameter"]["Value"]
        return value

    def assert_deployed_once(self, fingerprint_key: str | None = None) -> None:
        assert len(self.apis()) == 1, self.apis()
        assert len(self.stream_mappings()) == 1, self.stream_mappings()
        if fingerprint_key is not None:
            assert self.fingerprint_key() == fingerprint_key
        kept = self.client("ssm").get_parameter(Name=f"/eci/{STAGE}/chalice-deployed")["Parameter"]["Value"]
        record = json.loads(kept)
        [api] = [item for item in record["resources"] if item["resource_type"] == "rest_api"]
        assert api["rest_api_id"] == self.apis()[0], "the kept record names the API that exists"
        self.assert_only_cloudfront_gets_in(self.apis()[0])

    def api_key(self) -> str:
        value: str = self.client("ssm").get_parameter(Name=f"/eci/{STAGE}/api-key", WithDecryption=True)[
            "Parameter"]["Value"]
        return value

    def assert_only_cloudfront_gets_in(self, api: str) -> None:
        """Every method wants a key; one plan admits one key to the stage; CloudFront sends that key."""
        apigateway = self.client("apigateway")
        methods = {(resource["path"], method): settings["apiKeyRequired"]
                   for resource in apigateway.get_resources(restApiId=api, embed=["methods"])["items"]
                   for method, settings in resource.get("resourceMethods", {}).items()}
        assert ("/sign/{code}", "POST") in methods and all(methods.values()), methods
        [plan] = apigateway.get_usage_plans()["items"]
        assert plan["apiStages"] == [{"apiId": api, "stage": "api"}]
        [key] = apigateway.get_api_keys(includeValues=True)["items"]
        assert [item["id"] for item in apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [key["id"]]
        assert key["enabled"] and key["value"] == self.api_key()
        edge = self.cloud.stacks[("us-east-1", f"eci-{STAGE}-edge")].parameters
        assert edge["ApiKeyValue"] == key["value"], "CloudFront sends the key the plan admits"


@pytest.fixture(scope="module")
def package_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chalice-deployments")


@pytest.fixture
def world(tmp_path: Path, package_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    gaps = MotoGaps(monkeypatch)
    server = start_moto_server(port=0, set_environment=False)
    try:
        session = account_of_its_own(server.endpoint_url)
        yield World(server.endpoint_url, tmp_path, package_cache, gaps, TemplateStacks(session), Chalice(session),
                    session)
    finally:
        server.stop()


# --- the scenarios ----------------------------------------------------------------------------------------


def test_a_first_deploy_makes_one_api_one_mapping_and_keeps_chalices_record(world: World) -> None:
    project = checkout(world.root, "laptop", world.package_cache)

    world.organiser(project).deploy()

    world.assert_deployed_once()
    printed = world.out.getvalue()
    assert "chalice's record kept in /eci/dev/chalice-deployed" in printed
    assert world.cloud.stacks[(REGION, "eci-dev-data")].protected, "termination protection on the data stack"
    # The secrets go to chalice through its environment and to CloudFormation as NoEcho parameters, never on a
    # command line (ps shows that) nor in what the deploy prints.
    secret = world.client("ssm").get_parameter(Name="/eci/dev/origin-verify-secret", WithDecryption=True)
    for value in (secret["Parameter"]["Value"], world.api_key()):
        assert all(value not in " ".join(command) for command in world.chalice.commands)
        assert value not in printed
    [command] = world.chalice.commands
    assert "--set-from-environment=ORIGIN_VERIFY_SECRET" in command
    # Step 4's settings reached AWS.
    aws_lambda = world.client("lambda")
    invoke = aws_lambda.get_function_event_invoke_config(FunctionName="eci-dev-export_worker")
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"].endswith(":eci-dev-export-failures")
    assert aws_lambda.get_function_concurrency(FunctionName="eci-dev")["ReservedConcurrentExecutions"] == 50
    assert aws_lambda.get_function_concurrency(FunctionName="eci-dev-export_worker")[
        "ReservedConcurrentExecutions"] == 5
    stage = world.client("apigateway").get_stage(restApiId=world.apis()[0], stageName="api")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 200
    assert stage["accessLogSettings"]["destinationArn"].endswith(":log-group:/aws/apigateway/eci-dev-access")
    groups = world.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/eci-dev")["logGroups"]
    # chalice's own group for the API function is named after api_handler, which nothing writes to; the
    # deploy gives the function's real group (its name) the same retention.
    assert {group["logGroupName"]: group.get("retentionInDays") for group in groups} == {
        f"/aws/lambda/eci-dev{suffix}": 90 for suffix in ("", "-api_handler", "-count_statements",
                                                          "-recount_statements", "-export_daily", "-export_worker",
                                                          "-purge_statements", "-console_actions")}


KILL_POINTS = [
    "after eci-dev-data",  # step 1 done, nothing else
    "before eci-dev-count-failures",  # chalice deploy done and its record kept
    "after chalice deploy",  # chalice's record written here, not yet kept in SSM
    "after eci-dev-api-access",  # the key admitted, CloudFront not yet sending it
    "before eci-dev-operations",
    "before eci-dev-edge",
]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_deploy_killed_at_any_step_and_run_again_ends_as_a_first_deploy(world: World, point: str) -> None:
    project = checkout(world.root, "laptop", world.package_cache)
    world.cloud.kill_at.add(point)
    world.chalice.kill_at.add(point)

    with pytest.raises(Killed):
        world.organiser(project).deploy()
    first_key = world.fingerprint_key() if point != "after eci-dev-data" else None
    world.organiser(project).deploy()

    world.assert_deployed_once(first_key)


def test_chalice_stopped_half_way_and_the_retry_from_another_checkout_adopts_its_api_and_mapping(
    world: World,
) -> None:
    """chalice made the API and the mapping, then stopped before writing its record: nothing was kept."""
    world.gaps.failing.add("CreateDeployment")
    with pytest.raises(DeployError):
        world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy()
    world.gaps.failing.clear()
    assert len(world.apis()) == 1 and len(world.stream_mappings()) == 1
    key = world.fingerprint_key()

    world.organiser(checkout(world.root, "desktop", world.package_cache)).deploy()

    world.assert_deployed_once(key)
    assert "adopted what chalice made before" in world.out.getvalue()


def test_a_deploy_from_a_fresh_checkout_updates_the_stage_rather_than_making_a_second(world: World) -> None:
    world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy()
    key, [api] = world.fingerprint_key(), world.apis()

    world.organiser(checkout(world.root, "pipeline", world.package_cache)).deploy()

    world.assert_deployed_once(key)
    assert world.apis() == [api]
    assert "restored from /eci/dev/chalice-deployed" in world.out.getvalue()


def test_destroy_then_deploy_brings_the_stage_back_on_the_same_data(world: World) -> None:
    project = checkout(world.root, "laptop", world.package_cache)
    world.organiser(project).deploy()
    key = world.fingerprint_key()
    statements = world.cloud.stacks[(REGION, "eci-dev-data")].outputs["StatementsTableName"]
    world.client("dynamodb").put_item(TableName=statements, Item={"pk": {"S": "S#demo"}, "sk": {"S": "1"}})

    retained = world.organiser(checkout(world.root, "other", world.package_cache)).destroy()
    assert world.apis() == [] and world.client("lambda").list_functions()["Functions"] == []
    assert "CloudFormation stack eci-dev-data" in {item.what for item in retained}
    world.organiser(project).deploy()

    world.assert_deployed_once(key)
    assert world.client("dynamodb").scan(TableName=statements)["Count"] == 1, "the statements are still there"


def test_a_failed_first_creation_of_the_edge_can_be_retried(world: World) -> None:
    """A new account's CloudFront refuses until AWS verifies it; the rollback must leave no fixed name behind."""
    project = checkout(world.root, "laptop", world.package_cache)
    world.cloud.fail_creation_of.add("eci-dev-edge")

    with pytest.raises(StackError, match="ROLLBACK_COMPLETE"):
        world.organiser(project).deploy()
    key = world.fingerprint_key()
    world.organiser(project).deploy()

    world.assert_deployed_once(key)
    assert world.cloud.stacks[("us-east-1", "eci-dev-edge")].outputs["AccessLogBucketName"] == (
        f"eci-dev-edge-logs-{world.session.account}-us-east-1")


def test_a_lost_fingerprint_key_comes_back_from_its_copy_and_is_never_made_anew_over_statements(
    world: World,
) -> None:
    project = checkout(world.root, "laptop", world.package_cache)
    world.organiser(project).deploy()
    key, ssm = world.fingerprint_key(), world.client("ssm")
    statements = world.cloud.stacks[(REGION, "eci-dev-data")].outputs["StatementsTableName"]
    world.client("dynamodb").put_item(TableName=statements, Item={"pk": {"S": "S#demo"}, "sk": {"S": "1"}})

    ssm.delete_parameter(Name="/eci/dev/fingerprint-key")
    world.organiser(project).deploy()
    assert world.fingerprint_key() == key
    assert "restored from its recovery copy /eci/dev/recovery/fingerprint-key" in world.out.getvalue()

    ssm.delete_parameters(Names=["/eci/dev/fingerprint-key", "/eci/dev/recovery/fingerprint-key"])
    with pytest.raises(DeployError, match="a new key would let everyone who signed sign again"):
        world.organiser(project).deploy()
    assert ssm.get_parameters(Names=["/eci/dev/fingerprint-key"])["InvalidParameters"], "nothing made anew"


def test_an_account_without_room_for_the_reserved_concurrency_is_told_how_to_get_it(world: World) -> None:
    world.session.concurrent_executions = 10  # what new accounts often get
    project = checkout(world.root, "laptop", world.package_cache)

    with pytest.raises(DeployError, match="L-B99A9384") as refused:
        world.organiser(project).deploy()

    assert "allows 10 concurrent Lambda executions" in str(refused.value)
    assert world.chalice.commands == [], "refused before chalice made anything"



def test_one_command_goes_step_by_step_and_every_function_gets_the_data_stacks_outputs(world: World) -> None:
    url = world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy()

    assert url == "https://d111111abcdef8.cloudfront.net/"
    assert world.cloud.log == [f"create {REGION} eci-dev-data", f"update {REGION} eci-dev-data",
                               f"create {REGION} eci-dev-count-failures", f"create {REGION} eci-dev-api-access",
                               f"create {REGION} eci-dev-operations", "create us-east-1 eci-dev-edge"]
    steps = [line for line in world.out.getvalue().splitlines() if line.startswith("== ")]
    assert [line.split(" ", 3)[1:3] for line in steps] == [[f"{n}/6", word] for n, word in
                                                           enumerate(["data", "fingerprint", "chalice", "stream",
                                                                      "operations", "edge"], 1)]
    data = world.cloud.stacks[(REGION, "eci-dev-data")].outputs
    secret = world.client("ssm").get_parameter(Name="/eci/dev/origin-verify-secret", WithDecryption=True)
    for function in ("eci-dev", "eci-dev-count_statements", "eci-dev-export_worker", "eci-dev-purge_statements"):
        variables = world.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        assert {name: variables[name] for name in ("STATEMENTS_TABLE", "STATEMENTS_KEY", "EXPORT_BUCKET", "EXPORT_KEY",
                                                    "STATEMENTS_STREAM_ARN")} == {
            "STATEMENTS_TABLE": data["StatementsTableName"], "STATEMENTS_KEY": data["StatementsKeyArn"],
            "EXPORT_BUCKET": data["ExportBucketName"], "EXPORT_KEY": data["ExportsKeyArn"],
            "STATEMENTS_STREAM_ARN": data["StatementsTableStreamArn"]}, function
        assert variables["ORIGIN_VERIFY_SECRET"] == secret["Parameter"]["Value"]
    edge = world.cloud.stacks[("us-east-1", "eci-dev-edge")].parameters
    assert edge["OriginVerifySecret"] == secret["Parameter"]["Value"] and edge["ApiStageName"] == "api"
    assert edge["ApiDomainName"] == f"{world.apis()[0]}.execute-api.{REGION}.amazonaws.com"


def test_the_count_functions_stream_mapping_reports_partial_failures_and_sends_skipped_batches_to_a_queue(
    world: World,
) -> None:
    world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy()

    [uuid_] = world.stream_mappings()
    mapping = world.client("lambda").get_event_source_mapping(UUID=uuid_)
    queue = world.cloud.stacks[(REGION, "eci-dev-count-failures")].outputs["CountFailureQueueArn"]
    assert {key: mapping[key] for key in STREAM_MAPPING} == STREAM_MAPPING
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    assert queue.endswith(":eci-dev-count-failures")  # the name .chalice/policy-dev-count.json allows


def test_teardown_keeps_the_data_stack_and_names_every_kept_resource_with_the_command_to_remove_it(
    world: World,
) -> None:
    project = checkout(world.root, "laptop", world.package_cache)
    world.organiser(project).deploy()
    data = world.cloud.stacks[(REGION, "eci-dev-data")].outputs
    world.client("s3").put_object(Bucket=data["ExportBucketName"], Key="demo-2026/2026-11-27/manifest.json",
                                  Body=b"{}", ServerSideEncryption="aws:kms", SSEKMSKeyId=data["ExportsKeyArn"])
    world.cloud.log.clear()

    retained = world.organiser(project).destroy()

    assert world.cloud.log == ["delete us-east-1 eci-dev-edge", f"delete {REGION} eci-dev-operations",
                               f"delete {REGION} eci-dev-api-access", f"delete {REGION} eci-dev-count-failures"]
    apigateway = world.client("apigateway")
    assert apigateway.get_usage_plans()["items"] == [] and apigateway.get_api_keys()["items"] == []
    assert world.apis() == [] and world.client("lambda").list_functions()["Functions"] == []
    kept = {item.what: item for item in retained}
    assert kept["CloudFormation stack eci-dev-data"].commands == (
        f"aws cloudformation update-termination-protection --region {REGION} --stack-name eci-dev-data "
        "--no-enable-termination-protection",
        f"aws cloudformation delete-stack --region {REGION} --stack-name eci-dev-data")
    assert kept["DynamoDB table eci-dev-statements"].commands[-1] == (
        f"aws dynamodb delete-table --region {REGION} --table-name eci-dev-statements")
    assert "object versions: 1" in kept[f"S3 bucket {data['ExportBucketName']}"].why
    assert {"SSM parameter /eci/dev/fingerprint-key", "SSM parameter /eci/dev/recovery/fingerprint-key"} <= set(kept)
    for key in ("StatementsKeyArn", "ExportsKeyArn", "FingerprintKeyArn"):
        assert f"KMS key {data[key]}" in kept
    ssm = world.client("ssm")
    gone = ssm.get_parameters(Names=["/eci/dev/origin-verify-secret", "/eci/dev/chalice-deployed", "/eci/dev/api-key"])
    assert sorted(gone["InvalidParameters"]) == ["/eci/dev/api-key", "/eci/dev/chalice-deployed",
                                                 "/eci/dev/origin-verify-secret"]
    printed = world.out.getvalue()
    for item in retained:
        assert item.what in printed and all(command in printed for command in item.commands)
    assert world.client("dynamodb").describe_table(TableName="eci-dev-statements")["Table"]["TableStatus"] == "ACTIVE"
    with pytest.raises(StackError, match="TerminationProtection"):
        world.cloud.region(REGION).delete("eci-dev-data")


def test_teardown_of_a_stage_never_deployed_deletes_nothing_and_says_so(world: World) -> None:
    retained = world.organiser(checkout(world.root, "laptop", world.package_cache)).destroy()

    assert retained == []
    assert "nothing deployed by chalice for stage dev" in world.out.getvalue()
    assert world.chalice.commands == []


def test_tables_left_by_an_earlier_destroy_stop_the_deploy_with_what_to_do(world: World) -> None:
    """Before this version make destroy deleted the data stack and kept its tables under their fixed names."""
    for table in ("eci-dev-statements", "eci-dev-counters"):
        world.client("dynamodb").create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])

    with pytest.raises(DeployError, match="exist but the stack eci-dev-data does not") as refused:
        world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy()

    assert "Import AWS resources into a CloudFormation stack" in str(refused.value)
    assert world.cloud.log == [] and world.chalice.commands == []


def test_an_operator_role_given_without_its_path_is_refused_with_the_arn_iam_knows(world: World) -> None:
    """IAM Identity Center's roles have a path; aws:PrincipalArn carries it, so the key policies need it."""
    path = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    role = world.client("iam").create_role(
        RoleName="AWSReservedSSO_Operator_0123456789abcdef", Path=path,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))["Role"]
    without_path = f"arn:aws:iam::{world.session.account}:role/AWSReservedSSO_Operator_0123456789abcdef"
    deployment = world.organiser(checkout(world.root, "laptop", world.package_cache))

    with pytest.raises(DeployError, match=r"that role.s ARN is .*aws-reserved/sso\.amazonaws\.com"):
        deployment.check_operator(without_path)
    deployment.check_operator(role["Arn"])  # as IAM shows it: accepted
    assert role["Arn"].endswith(f":role{path}AWSReservedSSO_Operator_0123456789abcdef")


def test_rotating_the_api_key_leaves_only_the_new_one_admitted_and_sent_by_cloudfront(world: World) -> None:
    """The README's rotation: delete the kept value and deploy again."""
    project = checkout(world.root, "laptop", world.package_cache)
    world.organiser(project).deploy()
    old, key = world.api_key(), world.fingerprint_key()

    world.client("ssm").delete_parameter(Name="/eci/dev/api-key")
    world.organiser(project).deploy()

    assert world.api_key() != old
    world.assert_deployed_once(key)  # one key in the plan, the new one, and CloudFront sends it


def test_a_deploy_naming_the_operator_without_the_roles_path_stops_before_the_key_policies_change(
    world: World,
) -> None:
    world.client("iam").create_role(
        RoleName="AWSReservedSSO_Operator_0123456789abcdef", Path="/aws-reserved/sso.amazonaws.com/eu-west-1/",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    without_path = f"arn:aws:iam::{world.session.account}:role/AWSReservedSSO_Operator_0123456789abcdef"

    with pytest.raises(DeployError, match="give the ARN exactly as IAM shows it"):
        world.organiser(checkout(world.root, "laptop", world.package_cache)).deploy(
            {"OperatorPrincipalArn": without_path})

    assert world.cloud.log == [] and world.chalice.commands == [], "no stack made or changed, nothing deployed"
