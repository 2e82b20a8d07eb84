"""One command for organisers: deploy a stage to AWS, or take it down.

    python -m infra.deploy deploy --stage prod      (make deploy STAGE=prod)
    python -m infra.deploy destroy --stage prod     (make destroy STAGE=prod)
    python -m infra.deploy package --stage prod     (make package STAGE=prod: for pipelines)

deploy, in order: the data stack (infra/data.yaml) in the configured region, with termination
protection; the wrapped fingerprint key, once, and its recovery copy; `chalice deploy` with the data
stack's outputs as the functions' environment variables (infra/chalice_stage.py says how and why), after
restoring chalice's record of what it deployed; the count function's stream mapping completed with what
chalice cannot set (partial batch responses, a retry limit, bisection, a failure queue from
infra/stream-failures.yaml), the export worker's on-failure destination, the API stage's throttling and
the API key every route requires, admitted to the stage by a usage plan (infra/api-access.yaml);
the operations stack (infra/operations.yaml: alarms, their SNS topic, a dashboard, a budget, API access
logs); the edge stack (infra/edge.yaml, CloudFront and WAF, their alarms and WAF's logs) in us-east-1 in
front of the API. It prints the site's address.

Every step can be run again after any failure, from any checkout: chalice's record of what it deployed
(.chalice/deployed/<stage>.json) is kept in SSM after each chalice deploy and restored before the next;
when none was kept (chalice stopped half-way on a first deploy) the API and the stream mapping it made
are found in AWS and adopted, so a retry never makes a second API or a second mapping.

destroy, in the reverse order, deletes the edge stack, the operations stack, the API key's stack, the
functions and the API, the failure queues, and leaves the data stack itself in place (termination
protection on): the tables, keys, bucket and parameters that hold citizens' data or the means to read
them, which a later deploy takes up again as they are. It names each with the command that removes it
deliberately.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from chalicelib.config import PROJECT_ROOT
from chalicelib.counting.mapping_settings import STREAM_MAPPING as COUNT_STREAM_MAPPING
from infra.chalice_stage import assignments

INFRA = PROJECT_ROOT / "infra"
DATA_TEMPLATE = INFRA / "data.yaml"
FAILURES_TEMPLATE = INFRA / "stream-failures.yaml"
API_ACCESS_TEMPLATE = INFRA / "api-access.yaml"
EDGE_TEMPLATE = INFRA / "edge.yaml"
OPERATIONS_TEMPLATE = INFRA / "operations.yaml"
MERGE_TEMPLATE = INFRA / "stream-mapping.merge.json"
EDGE_REGION = "us-east-1"  # CloudFront's WAF web ACLs and their logs live there
COUNT_FUNCTION = "count_statements"
EXPORT_WORKER_FUNCTION = "export_worker"
API_FUNCTION = "api_handler"
# Environment variables passed to chalice through its environment, never on its command line.
SECRET_ENVIRONMENT = ("ORIGIN_VERIFY_SECRET",)
# API Gateway's stage throttling, requests per second and burst: the API function's reserved concurrency
# (.chalice/config.json) bounds what runs at once; this bounds what reaches it, also by the execute-api
# address, before Lambda is paid for. Far above what a collection needs (a million statements in a year
# is 0.03 per second on average), far below what would run up a bill.
API_RATE_LIMIT = 100.0
API_BURST_LIMIT = 200
# API Gateway's access log lines: what was asked and answered, and how long it took; not the caller's
# address or agent (personal data), nor anything of the request's body.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "time": "$context.requestTimeEpoch", "method": "$context.httpMethod",
    "resource": "$context.resourcePath", "status": "$context.status", "bytes": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationStatus": "$context.integration.status",
    "error": "$context.error.messageString", "throttled": "$context.error.responseType",
}
# AWS keeps this much of an account's concurrency unreserved (Lambda developer guide, "Configuring
# reserved concurrency"): a reservation that would leave less is refused.
UNRESERVED_MINIMUM = 100
# The async invocation of an export worker that failed all its tries goes to this destination.
EXPORT_RETRIES = 2
PACKAGE_REGION = "eu-central-1"  # when none is configured: `chalice package` needs one, for the partition
MINIMUM_PYTHON = (3, 12)  # Chalice takes the Lambda runtime from the Python it runs on; 3.11's is deprecated

# Which data stack output becomes which environment variable of every function (chalicelib/config.py).
# Key ARNs rather than the aliases config.json names: no DescribeKey at cold start, and the encryption
# SDK's strict key provider decrypts only with ARNs. STATEMENTS_STREAM_ARN is read when Chalice imports
# app.py, for the count function's stream mapping.
FUNCTION_ENVIRONMENT = {
    "STATEMENTS_TABLE": "StatementsTableName",
    "COUNTERS_TABLE": "CountersTableName",
    "STATEMENTS_KEY": "StatementsKeyArn",
    "FINGERPRINT_KEY_PARAMETER": "FingerprintKeyParameterName",
    "EXPORT_BUCKET": "ExportBucketName",
    "EXPORT_KEY": "ExportsKeyArn",
    "EXPORT_SIGNING_KEY": "ExportSigningKeyArn",
    "STATEMENTS_STREAM_ARN": "StatementsTableStreamArn",
    "CONSOLE_TABLE": "ConsoleTableName",
    "ORGANISER_USER_POOL_ID": "OrganiserUserPoolId",
    "ORGANISER_CLIENT_ID": "OrganiserUserPoolClientId",
}

# What the count function's stream mapping gets beyond chalice's settings, and why: one place,
# chalicelib/counting/mapping_settings.py; infra/stream-mapping.merge.json holds the same values (a test
# holds them equal).
STREAM_MAPPING = COUNT_STREAM_MAPPING
# The count function answers failures as partial batch responses only where its mapping takes them.
MAPPING_ENVIRONMENT = {"COUNT_REPORTS_ITEM_FAILURES": "true"}
_MAPPING_ATTEMPTS = 12  # the count role's new SQS permission takes a few seconds to reach Lambda


FINGERPRINT_DESCRIPTION = "KMS ciphertext (base64) of the ECI fingerprint HMAC key; never overwrite"


def recovery_copy_name(parameter: str) -> str:
    """/eci/dev/fingerprint-key -> /eci/dev/recovery/fingerprint-key"""
    head, _, name = parameter.rpartition("/")
    return f"{head}/recovery/{name}"


class DeployError(RuntimeError):
    """Something the organiser must fix; the message says what."""


class Stacks(Protocol):
    """The CloudFormation stacks of one region (infra/stacks.py)."""

    def deploy(self, name: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]: ...

    def outputs(self, name: str) -> dict[str, str] | None: ...

    def delete(self, name: str) -> bool: ...

    def protect(self, name: str) -> None: ...


RunCommand = Callable[[Sequence[str], Mapping[str, str]], None]


def run_command(command: Sequence[str], environment: Mapping[str, str]) -> None:
    """Run a command in the project directory, its output straight to the terminal; raise if it fails."""
    try:
        subprocess.run(list(command), cwd=PROJECT_ROOT, env=dict(environment), check=True)  # noqa: S603
    except subprocess.CalledProcessError as error:
        raise DeployError(f"{' '.join(command[:4])} ... failed (exit status {error.returncode})") from None


def check_python(version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor)) -> None:
    if version < MINIMUM_PYTHON:
        raise DeployError(
            f"deploy needs Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer, this is "
            f"{'.'.join(map(str, version))}: Chalice gives the Lambda functions the runtime of the Python it "
            "runs on, and AWS has deprecated the 3.11 runtime. Install python3.12 (or newer) and run "
            "make deploy DEPLOY_PYTHON=python3.12"
        )


@dataclass(frozen=True)
class Retained:
    """Something destroy leaves in place on purpose, and how to remove it deliberately."""

    what: str
    why: str
    commands: tuple[str, ...]


@dataclass
class Deployment:
    """One stage of the app in one AWS account and region."""

    stage: str
    session: Any  # boto3.session.Session with the organiser's credentials and region
    out: TextIO
    run: RunCommand = run_command
    stacks: Callable[[str], Stacks] | None = None  # region -> its stacks; CloudFormation unless a test says
    python: str = sys.executable  # the deploy virtualenv's, with chalice (Python 3.12 or newer)
    project_dir: Path = PROJECT_ROOT
    sleep: Callable[[float], None] = time.sleep
    _config: dict[str, Any] = field(default_factory=dict, repr=False)

    # --- names ---------------------------------------------------------------------------------------

    @property
    def region(self) -> str:
        region: str | None = self.session.region_name
        if not region:
            raise DeployError("no AWS region: set one (make deploy REGION=eu-central-1, AWS_REGION, or the "
                              "profile's region) and run the command again")
        return region

    @property
    def app_name(self) -> str:
        return str(self.chalice_config()["app_name"])

    def stack_name(self, part: str) -> str:
        return f"{self.app_name}-{self.stage}-{part}"

    def function_name(self, function: str) -> str:
        return f"{self.app_name}-{self.stage}-{function}"  # as Chalice names a stage's functions

    def chalice_config(self) -> dict[str, Any]:
        if not self._config:
            path = self.project_dir / ".chalice" / "config.json"
            self._config.update(json.loads(path.read_text(encoding="utf-8")))
            if self.stage not in self._config.get("stages", {}):
                raise DeployError(f"stage {self.stage!r} is not in {path}: add it there first")
        return self._config

    def _stacks(self, region: str) -> Stacks:
        if self.stacks is not None:
            return self.stacks(region)
        from infra.stacks import CloudFormationStacks

        return CloudFormationStacks(self.session.client("cloudformation", region_name=region), self.out)

    def _client(self, service: str, region: str | None = None) -> Any:
        return self.session.client(service, region_name=region or self.region)

    def _step(self, number: int, total: int, text: str) -> None:
        self.out.write(f"\n== {number}/{total} {text}\n")

    # --- checks --------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """The account the credentials belong to; a clear error when there are none or they are refused."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            identity = self._client("sts").get_caller_identity()
        except EndpointConnectionError as error:
            raise DeployError(f"cannot reach AWS ({error}): check the network and the region") from None
        except (BotoCoreError, ClientError) as error:
            raise DeployError(
                f"AWS credentials are missing or refused ({type(error).__name__}: {error}). Configure them "
                "(aws configure, aws sso login, or AWS_PROFILE) and check with: aws sts get-caller-identity"
            ) from None
        account: str = identity["Account"]
        self.out.write(f"AWS account {account} as {identity['Arn']}, region {self.region}, stage {self.stage}\n")
        return account

    # --- deploy --------------------------------------------------------------------------------------

    def deploy(self, data_parameters: Mapping[str, str] | None = None,
               edge_parameters: Mapping[str, str] | None = None,
               operations_parameters: Mapping[str, str] | None = None) -> str:
        """Everything, in order; returns the site's address (the edge stack's DistributionUrl)."""
        self.check_credentials()
        total = 6
        self._step(1, total, f"data stack {self.stack_name('data')} (keys, tables, export bucket)")
        data = self.deploy_data_stack(data_parameters or {})
        environment = self.function_environment(data)

        self._step(2, total, f"fingerprint key {data['FingerprintKeyParameterName']}, origin secret, API key")
        self.create_fingerprint_key(data)
        origin_secret = self.origin_verify_secret()
        api_key = self.api_key_value()
        environment["ORIGIN_VERIFY_SECRET"] = origin_secret

        self._step(3, total, f"chalice deploy --stage {self.stage} (functions, API)")
        self.check_concurrency()
        self.restore_chalice_state(data["StatementsTableStreamArn"])
        command = [self.python, "-m", "infra.chalice_stage", "deploy", "--stage", self.stage,
                   f"--project-dir={self.project_dir}"]
        command += [f"--set={name}={value}" for name, value in environment.items() if name not in SECRET_ENVIRONMENT]
        # The secret travels in the environment, which other users of the machine cannot read (ps can).
        command += [f"--set-from-environment={name}" for name in SECRET_ENVIRONMENT]
        self.out.write("  $ " + " ".join(command) + "\n")
        self.out.flush()
        self.run(command, self._command_environment(environment))
        self.keep_chalice_state()

        self._step(4, total, f"stream mapping of {self.function_name(COUNT_FUNCTION)}, export failures, throttling, "
                             "API key")
        failures = self._stacks(self.region).deploy(
            self.stack_name("count-failures"), FAILURES_TEMPLATE, {"Stage": self.stage}
        )
        self.configure_stream_mapping(data["StatementsTableStreamArn"], failures["CountFailureQueueArn"])
        self.configure_export_failures(failures["ExportFailureQueueArn"])
        self.throttle_api_stage()
        self.expire_api_function_logs()
        self.admit_api_key(api_key)

        api_stage = self.api_stage_name()
        self._step(5, total, f"operations stack {self.stack_name('operations')} (alarms, dashboard, budget, logs)")
        operations = self._stacks(self.region).deploy(self.stack_name("operations"), OPERATIONS_TEMPLATE, {
            "Stage": self.stage, "ApiStageName": api_stage, "ApiName": self.app_name,
            **(operations_parameters or {}),
        })
        self.log_api_access(operations["ApiAccessLogGroupArn"])

        api_domain = self.api_domain_name()
        self._step(6, total, f"edge stack {self.stack_name('edge')} ({EDGE_REGION}: CloudFront, WAF) for {api_domain}")
        edge = self._stacks(EDGE_REGION).deploy(self.stack_name("edge"), EDGE_TEMPLATE, {
            "Stage": self.stage, "ApiDomainName": api_domain, "ApiStageName": api_stage,
            "OriginVerifySecret": origin_secret, "ApiKeyValue": api_key,
            **{name: value for name, value in (operations_parameters or {}).items() if name == "AlarmEmail"},
            **(edge_parameters or {}),
        })
        url = edge["DistributionUrl"]
        self.out.write(f"\nDeployed stage {self.stage}. The site: {url}\n"
                       "(a new CloudFront distribution takes a few minutes to answer everywhere)\n")
        return url

    def deploy_data_stack(self, parameters: Mapping[str, str]) -> dict[str, str]:
        """The data stack, with its tables' deletion protection and its own termination protection on.

        A first creation runs with deletion protection off: if it fails, CloudFormation's rollback can then
        delete the tables it made (RetainExceptOnCreate), which it could not while they were protected, and
        the next try starts clean. Protection goes on in an update right after the creation succeeds.
        """
        stacks, name = self._stacks(self.region), self.stack_name("data")
        self.check_no_orphaned_data(name)
        # Before the key policies get it: an ARN that matches no one would lock the operator out of them.
        self.check_operator(parameters.get("OperatorPrincipalArn", ""))
        first = not stacks.outputs(name)  # none yet, or only a failed creation's remains
        settings = {"Stage": self.stage, **parameters}
        if first:
            data = stacks.deploy(name, DATA_TEMPLATE, {**settings, "TableDeletionProtection": "false"})
        data = stacks.deploy(name, DATA_TEMPLATE, {**settings, "TableDeletionProtection": "true"})
        stacks.protect(name)
        self.out.write(f"  {name}: termination protection on\n")
        return data

    def check_no_orphaned_data(self, stack: str) -> None:
        """Before a data stack is created: tables left by an earlier stack would make its creation fail."""
        if self._stacks(self.region).outputs(stack):
            return
        dynamodb = self._client("dynamodb")
        left = []
        for part in ("statements", "counters"):
            table = f"{self.app_name}-{self.stage}-{part}"
            with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
                dynamodb.describe_table(TableName=table)
                left.append(table)
        if left:
            raise DeployError(
                f"the tables {', '.join(left)} exist but the stack {stack} does not: they were kept when an earlier "
                f"version of make destroy deleted that stack. This deploy would create them again and fail. "
                "Import them, the keys and the export bucket into a new stack (AWS CloudFormation User Guide, "
                "'Import AWS resources into a CloudFormation stack'), or, if they hold nothing to keep, remove "
                "them deliberately; then deploy again."
            )

    def check_operator(self, operator: str) -> None:
        """The key policies compare OperatorPrincipalArn with aws:PrincipalArn, the role's ARN with its path.

        A role made by IAM Identity Center (SSO) has the path /aws-reserved/sso.amazonaws.com/...: an ARN
        written without it matches no one, and the operator could neither make the fingerprint key nor
        decrypt an export. IAM knows the role's real ARN.
        """
        if not operator or ":role/" not in operator:
            return
        iam = self._client("iam")
        role = operator.rsplit("/", 1)[1]
        try:
            actual: str = iam.get_role(RoleName=role)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            raise DeployError(f"OperatorPrincipalArn names the role {role}, which does not exist") from None
        if actual != operator:
            raise DeployError(f"OperatorPrincipalArn is {operator}, but that role's ARN is {actual} (roles of IAM "
                              "Identity Center have a path): give the ARN exactly as IAM shows it")

    def function_environment(self, data_outputs: Mapping[str, str]) -> dict[str, str]:
        """The environment variables the data stack gives every function, by chalicelib/config.py's names."""
        missing = sorted(output for output in FUNCTION_ENVIRONMENT.values() if not data_outputs.get(output))
        if missing:
            raise DeployError(f"the data stack {self.stack_name('data')} has no output {', '.join(missing)}")
        return {**{name: data_outputs[output] for name, output in FUNCTION_ENVIRONMENT.items()},
                **MAPPING_ENVIRONMENT}

    def _command_environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """This process's environment, with the region of the stage (Chalice deploys to the session's)."""
        import os

        environment = dict(os.environ)
        if self.session.region_name:
            environment.update(AWS_DEFAULT_REGION=self.session.region_name, AWS_REGION=self.session.region_name)
        return {**environment, **(extra or {})}

    def create_fingerprint_key(self, data_outputs: Mapping[str, str]) -> None:
        """The wrapped fingerprint key: made once, copied once, restored from the copy, never made anew.

        A new key would give every citizen who already signed a new fingerprint: the duplicate check would
        let them sign again. So when the parameter is gone it is restored from its recovery copy, and when
        both are gone while the statements table holds anything the deploy stops.
        """
        from chalicelib.storage.fingerprint_key import create_fingerprint_key

        parameter = data_outputs["FingerprintKeyParameterName"]
        copy = recovery_copy_name(parameter)
        ssm = self._client("ssm")
        kept, copied = self._parameter_value(parameter), self._parameter_value(copy)
        if kept is not None and copied is not None and kept != copied:
            raise DeployError(f"{parameter} and its recovery copy {copy} differ: one was changed by hand. Find which "
                              "one the functions used (the other decrypts, but fingerprints made with it do not "
                              "match), then delete the wrong one (aws ssm delete-parameter --name ...) and deploy "
                              "again")
        if kept is None and copied is not None:
            ssm.put_parameter(Name=parameter, Value=copied, Type="String", Overwrite=False,
                              Description=FINGERPRINT_DESCRIPTION)
            self.out.write(f"  {parameter}: was missing, restored from its recovery copy {copy}\n")
            return
        if kept is None:
            table = data_outputs.get("StatementsTableName", "")
            if table and self._table_holds_items(table):
                raise DeployError(
                    f"the fingerprint key {parameter} and its recovery copy {copy} are both missing, and {table} "
                    "holds statements: a new key would let everyone who signed sign again undetected. Put the "
                    f"lost value back (aws ssm put-parameter --name {parameter} --type String --value BASE64) from "
                    "wherever it was saved, and deploy again"
                )
            create_fingerprint_key(ssm, self._client("kms"), data_outputs["FingerprintKeyArn"], parameter)
            kept = self._parameter_value(parameter)
            self.out.write(f"  {parameter}: created, wrapped by the fingerprint key\n")
        else:
            self.out.write(f"  {parameter}: already there, left unchanged (it must never change)\n")
        if copied is None and kept is not None:
            ssm.put_parameter(Name=copy, Value=kept, Type="String", Overwrite=False,
                              Description="Recovery copy of " + parameter + ": make deploy restores it from here")
            self.out.write(f"  {copy}: recovery copy made\n")

    def _parameter_value(self, name: str) -> str | None:
        ssm = self._client("ssm")
        try:
            value: str = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
        return value

    def _table_holds_items(self, table: str) -> bool:
        """Whether the table holds anything: one key read, nothing decrypted or printed."""
        dynamodb = self._client("dynamodb")
        try:
            page = dynamodb.scan(TableName=table, Limit=1, ProjectionExpression="pk")
        except dynamodb.exceptions.ResourceNotFoundException:
            return False
        return bool(page.get("Items"))

    # --- chalice's record of what it deployed ----------------------------------------------------------

    def state_parameter(self) -> str:
        return f"/{self.app_name}/{self.stage}/chalice-deployed"

    def deployed_path(self) -> Path:
        return self.project_dir / ".chalice" / "deployed" / f"{self.stage}.json"

    def restore_chalice_state(self, stream_arn: str) -> None:
        """Put chalice's record where chalice reads it: the kept copy, else this checkout's, else adopted.

        Without a record chalice creates a new REST API and subscribes the count function to the stream
        again; the copy kept in SSM after each deploy makes every checkout and every retry update instead.
        """
        path = self.deployed_path()
        kept = self._parameter_value(self.state_parameter())
        if kept is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(kept, encoding="utf-8")
            self.out.write(f"  chalice's record of stage {self.stage}: restored from {self.state_parameter()}\n")
            return
        if path.exists():
            self.out.write(f"  chalice's record of stage {self.stage}: this checkout's {path.name}\n")
            return
        adopted = self.adopt_deployed(stream_arn)
        if adopted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"schema_version": "2.0", "backend": "api", "resources": adopted}, indent=2),
                            encoding="utf-8")
            found = ", ".join(f"{item['resource_type']} {item.get('rest_api_id') or item.get('event_uuid')}"
                              for item in adopted)
            self.out.write(f"  no record of stage {self.stage} was kept; adopted what chalice made before: {found}\n")
        else:
            self.out.write(f"  stage {self.stage} has no API or stream mapping yet\n")

    def keep_chalice_state(self) -> None:
        """Copy chalice's record to SSM, where the next deploy finds it whatever the checkout."""
        path = self.deployed_path()
        if not path.exists():
            raise DeployError(f"chalice deploy wrote no {path}")
        self._client("ssm").put_parameter(
            Name=self.state_parameter(), Value=path.read_text(encoding="utf-8"), Type="String", Overwrite=True,
            Tier="Intelligent-Tiering",  # Standard up to 4 KB, Advanced (8 KB) beyond
            Description=f"chalice's .chalice/deployed/{self.stage}.json: make deploy restores it before chalice deploy",
        )
        self.out.write(f"  chalice's record kept in {self.state_parameter()}\n")

    def adopt_deployed(self, stream_arn: str) -> list[dict[str, Any]]:
        """Chalice's records for the stream mapping and the REST API that a stopped chalice deploy left.

        chalice itself finds functions and roles by name, but an API and a mapping only by its record.
        The mapping is the one of this stage's count function on this stream; the API is the one whose
        methods invoke this stage's API function (its resource policy names it, or its integrations do).
        """
        adopted: list[dict[str, Any]] = []
        aws_lambda = self._client("lambda")
        function = self.function_name(COUNT_FUNCTION)
        mappings = self._stream_mappings(function, stream_arn)
        for extra in mappings[1:]:  # only a chalice run without its record makes a second one
            aws_lambda.delete_event_source_mapping(UUID=extra["UUID"])
            self.out.write(f"  deleted a second stream mapping {extra['UUID']} of {function}\n")
        if mappings:
            adopted.append({"name": f"{COUNT_FUNCTION}-dynamodb-event-source", "resource_type": "dynamodb_event",
                            "stream_arn": stream_arn, "event_uuid": mappings[0]["UUID"],
                            "lambda_arn": mappings[0]["FunctionArn"]})
        api_id = self._adoptable_api()
        if api_id:
            stage = self.api_stage_name()
            adopted.append({"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api_id,
                            "rest_api_url": f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}/"})
        return adopted

    def _stream_mappings(self, function: str, stream_arn: str) -> list[dict[str, Any]]:
        """The function's mappings on the stream, oldest first. Asked by the function's ARN: AWS takes a name
        too, but moto matches only the form a mapping was created with, and chalice creates them by ARN."""
        aws_lambda = self._client("lambda")
        try:
            arn = aws_lambda.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
            found: list[dict[str, Any]] = aws_lambda.list_event_source_mappings(
                FunctionName=arn, EventSourceArn=stream_arn).get("EventSourceMappings", [])
        except aws_lambda.exceptions.ResourceNotFoundException:
            return []
        return sorted(found, key=lambda mapping: (mapping.get("LastModified") or 0, mapping["UUID"]))

    def _adoptable_api(self) -> str | None:
        aws_lambda, apigateway = self._client("lambda"), self._client("apigateway")
        function = self.function_name(API_FUNCTION).removesuffix(f"-{API_FUNCTION}")  # chalice: {app}-{stage}
        candidates: list[str] = []
        with contextlib.suppress(aws_lambda.exceptions.ResourceNotFoundException):
            policy = json.loads(aws_lambda.get_policy(FunctionName=function)["Policy"])
            for statement in policy.get("Statement", []):
                source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
                if ":execute-api:" in source:
                    candidates.append(source.split(":")[5].split("/")[0])
        apis = [api for page in apigateway.get_paginator("get_rest_apis").paginate() for api in page.get("items", [])]
        existing = {api["id"] for api in apis}
        for api_id in candidates:
            if api_id in existing:
                return api_id
        # Stopped between creating the API and allowing it to invoke the function: its integrations say.
        target = f":function:{function}/invocations"
        for api in apis:
            if api.get("name") != self.app_name:
                continue
            for page in apigateway.get_paginator("get_resources").paginate(restApiId=api["id"], embed=["methods"]):
                for resource in page.get("items", []):
                    for method in resource.get("resourceMethods", {}).values():
                        if str(method.get("methodIntegration", {}).get("uri", "")).endswith(target):
                            return str(api["id"])
        return None

    def check_concurrency(self) -> None:
        """The stage's reserved concurrency fits the account, or the organiser learns how to raise it."""
        functions = self.chalice_config()["stages"][self.stage].get("lambda_functions", {})
        wanted = {name: int(settings["reserved_concurrency"]) for name, settings in functions.items()
                  if "reserved_concurrency" in settings}
        if not wanted:
            return
        aws_lambda = self._client("lambda")
        limit = aws_lambda.get_account_settings()["AccountLimit"]
        held = 0  # what this stage's functions reserve already comes back to the pool when changed
        for name in wanted:
            with contextlib.suppress(aws_lambda.exceptions.ResourceNotFoundException):
                held += aws_lambda.get_function_concurrency(FunctionName=self.function_name(name)).get(
                    "ReservedConcurrentExecutions", 0)
        left = int(limit["UnreservedConcurrentExecutions"]) + held - sum(wanted.values())
        if left < UNRESERVED_MINIMUM:
            raise DeployError(
                f"this account allows {limit['ConcurrentExecutions']} concurrent Lambda executions in "
                f"{self.region}; stage {self.stage} reserves {sum(wanted.values())} "
                f"({', '.join(f'{name} {count}' for name, count in wanted.items())}) and AWS keeps "
                f"{UNRESERVED_MINIMUM} unreserved. New accounts often get 10. Ask for 1000 (Service Quotas, "
                f"AWS Lambda, 'Concurrent executions', quota code L-B99A9384: aws service-quotas "
                f"request-service-quota-increase --region {self.region} --service-code lambda --quota-code "
                "L-B99A9384 --desired-value 1000) and deploy again once it is granted"
            )

    def rest_api_id(self) -> str:
        for resource in self.deployed_resources():
            if resource.get("resource_type") == "rest_api":
                return str(resource["rest_api_id"])
        raise DeployError(f"chalice recorded no REST API in .chalice/deployed/{self.stage}.json")

    def api_stage_name(self) -> str:
        return str(self.chalice_config()["stages"][self.stage].get("api_gateway_stage", "api"))

    def configure_export_failures(self, queue_arn: str) -> None:
        """An export worker that failed all its tries leaves a message, and the alarm on the queue rings."""
        function = self.function_name(EXPORT_WORKER_FUNCTION)
        self._client("lambda").put_function_event_invoke_config(
            FunctionName=function, MaximumRetryAttempts=EXPORT_RETRIES,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
        )
        self.out.write(f"  {function}: after {EXPORT_RETRIES} retries, failed invocations to {queue_arn}\n")

    def log_api_access(self, log_group_arn: str) -> None:
        """The API stage writes access logs to the operations stack's group (which sets their retention)."""
        api_id, stage = self.rest_api_id(), self.api_stage_name()
        self._client("apigateway").update_stage(restApiId=api_id, stageName=stage, patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": log_group_arn.removesuffix(":*")},
            {"op": "replace", "path": "/accessLogSettings/format", "value": json.dumps(ACCESS_LOG_FORMAT)},
        ])
        self.out.write(f"  API {api_id} stage {stage}: access logs to {log_group_arn.removesuffix(':*')}\n")

    def expire_api_function_logs(self) -> None:
        """Retention for the API function's log group, which chalice misses.

        chalice names the API function {app}-{stage} but makes its log group for log_retention_in_days as
        /aws/lambda/{app}-{stage}-api_handler, which nothing writes to; Lambda writes to the function's name.
        """
        days = int(self.chalice_config()["stages"][self.stage].get("log_retention_in_days", 0))
        if not days:
            return
        logs, group = self._client("logs"), f"/aws/lambda/{self.app_name}-{self.stage}"
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        self.out.write(f"  {group}: kept {days} days\n")

    def throttle_api_stage(self) -> None:
        api_id, stage = self.rest_api_id(), self.api_stage_name()
        self._client("apigateway").update_stage(restApiId=api_id, stageName=stage, patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(API_RATE_LIMIT)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(API_BURST_LIMIT)},
        ])
        self.out.write(f"  API {api_id} stage {stage}: at most {API_RATE_LIMIT:g} requests a second, "
                       f"bursts of {API_BURST_LIMIT}\n")

    def origin_secret_parameter(self) -> str:
        return f"/{self.app_name}/{self.stage}/origin-verify-secret"

    def origin_verify_secret(self) -> str:
        """The secret CloudFront sends the API and the functions check (x-eci-origin-verify)."""
        return self._edge_secret(self.origin_secret_parameter(),
                                 "CloudFront's proof to the API functions of this stage (infra/edge.yaml)")

    def api_key_parameter(self) -> str:
        return f"/{self.app_name}/{self.stage}/api-key"

    def api_key_value(self) -> str:
        """The API key CloudFront sends (x-api-key) and API Gateway requires on every route."""
        return self._edge_secret(self.api_key_parameter(),
                                 "The API key CloudFront sends to the API Gateway stage (infra/api-access.yaml)")

    def _edge_secret(self, name: str, description: str) -> str:
        """A value only CloudFront and the API know, made once and kept in an SSM SecureString.

        Not citizens' data and not a key to any: it only keeps the execute-api address from going round
        WAF. It reaches CloudFormation as a NoEcho parameter and chalice through its environment, never a
        command line (ps shows those to every user) and never the output. Delete the parameter and deploy
        again to change it.
        """
        import secrets

        ssm = self._client("ssm")
        try:
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            self.out.write(f"  {name}: already there, kept\n")
        except ssm.exceptions.ParameterNotFound:
            value = secrets.token_urlsafe(48)
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False, Description=description)
            self.out.write(f"  {name}: created\n")
        return value

    def admit_api_key(self, api_key: str) -> None:
        """The API key stack: the key CloudFront sends, in a usage plan bound to the stage chalice made."""
        api_id, stage = self.rest_api_id(), self.api_stage_name()
        self._stacks(self.region).deploy(self.stack_name("api-access"), API_ACCESS_TEMPLATE, {
            "Stage": self.stage, "RestApiId": api_id, "ApiStageName": stage, "ApiKeyValue": api_key,
        })
        self.out.write(f"  API {api_id} stage {stage}: every route requires the API key kept in "
                       f"{self.api_key_parameter()}, which CloudFront sends\n")

    def configure_stream_mapping(self, stream_arn: str, queue_arn: str) -> None:
        """What chalice deploy cannot set on the count function's stream mapping."""
        client = self._client("lambda")
        function = self.function_name(COUNT_FUNCTION)
        found = self._stream_mappings(function, stream_arn)
        if len(found) != 1:
            raise DeployError(f"expected one stream mapping of {function} on {stream_arn}, found {len(found)}")
        settings = {**STREAM_MAPPING, "DestinationConfig": {"OnFailure": {"Destination": queue_arn}}}
        settling = (client.exceptions.ResourceInUseException, client.exceptions.InvalidParameterValueException)
        for attempt in range(1, _MAPPING_ATTEMPTS + 1):
            try:
                client.update_event_source_mapping(UUID=found[0]["UUID"], **settings)
                break
            except settling as error:
                # A mapping chalice just made is still "Creating"; a role chalice just gave SendMessage is
                # not yet seen by Lambda. Both settle within seconds.
                if attempt == _MAPPING_ATTEMPTS:
                    raise DeployError(f"could not configure the stream mapping of {function}: {error}") from None
                self.out.write(f"  waiting for the mapping and its role to settle ({type(error).__name__})\n")
                self.sleep(5)
        self.out.write(f"  {function}: partial batch responses, at most {STREAM_MAPPING['MaximumRetryAttempts']} "
                       f"retries, records older than {STREAM_MAPPING['MaximumRecordAgeInSeconds']} s skipped, "
                       f"bisection on errors, skipped batches to {queue_arn}\n")

    def deployed_resources(self) -> list[dict[str, Any]]:
        path = self.project_dir / ".chalice" / "deployed" / f"{self.stage}.json"
        if not path.exists():
            return []
        resources: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")).get("resources", [])
        return resources

    def api_domain_name(self) -> str:
        """The REGIONAL API's host, from what chalice deploy recorded (`chalice url` reads the same)."""
        for resource in self.deployed_resources():
            if resource.get("resource_type") == "rest_api":
                url = str(resource["rest_api_url"])  # https://{id}.execute-api.{region}.amazonaws.com/api/
                return url.split("//", 1)[1].split("/", 1)[0]
        raise DeployError(f"chalice recorded no REST API in .chalice/deployed/{self.stage}.json")

    # --- destroy -------------------------------------------------------------------------------------

    def destroy(self) -> list[Retained]:
        """Everything deploy made, in reverse order, but the data stack: what it holds is listed instead.

        The data stack stays, termination protection on: a later deploy updates it as it is, with the
        same tables, keys, bucket and fingerprint key (deleting it would leave them behind under fixed
        names, and the next deploy's new stack could not create them again).
        """
        account = self.check_credentials()
        data_outputs = self._stacks(self.region).outputs(self.stack_name("data"))
        edge_outputs = self._stacks(EDGE_REGION).outputs(self.stack_name("edge")) or {}
        total = 5
        self._step(1, total, f"edge stack {self.stack_name('edge')} ({EDGE_REGION})")
        self._delete_stack(EDGE_REGION, "edge")

        self._step(2, total, f"operations stack {self.stack_name('operations')} (alarms, dashboard, budget)")
        self._delete_stack(self.region, "operations")

        # Before the API goes: AWS refuses to delete a usage plan that still names a stage.
        self._step(3, total, f"API key stack {self.stack_name('api-access')} (the key, its usage plan)")
        self._delete_stack(self.region, "api-access")

        self._step(4, total, f"chalice delete --stage {self.stage} (functions, API, stream mapping, roles)")
        stream = (data_outputs or {}).get("StatementsTableStreamArn", "")
        if stream or self._parameter_value(self.state_parameter()) is not None:
            self.restore_chalice_state(stream)
        if self.deployed_resources():
            command = [str(Path(self.python).with_name("chalice")), "--project-dir", str(self.project_dir),
                       "delete", "--stage", self.stage]
            self.out.write("  $ " + " ".join(command) + "\n")
            self.out.flush()
            extra = {"STATEMENTS_STREAM_ARN": stream} if stream else {}
            self.run(command, self._command_environment(extra))
        else:
            self.out.write(f"  nothing deployed by chalice for stage {self.stage}\n")
        ssm = self._client("ssm")
        for parameter in (self.state_parameter(), self.origin_secret_parameter(), self.api_key_parameter()):
            # nothing reads them now
            with contextlib.suppress(ssm.exceptions.ParameterNotFound):
                ssm.delete_parameter(Name=parameter)

        self._step(5, total, f"failure queue stack {self.stack_name('count-failures')}")
        self._delete_stack(self.region, "count-failures")

        retained = self.retained(account, data_outputs or {}, edge_outputs)
        self.report_retained(retained)
        return retained

    def _delete_stack(self, region: str, part: str) -> None:
        if not self._stacks(region).delete(self.stack_name(part)):
            self.out.write(f"  {self.stack_name(part)}: not there, nothing to delete\n")

    def retained(self, account: str, data: Mapping[str, str], edge: Mapping[str, str]) -> list[Retained]:
        """What still exists of the stage after its stacks are gone, checked one by one."""
        region, stage = self.region, self.stage
        found: list[Retained] = []
        if data:
            stack = self.stack_name("data")
            found.append(Retained(
                f"CloudFormation stack {stack}", "holds everything below; the next make deploy takes it up again "
                "as it is. Deleting it (termination protection first) keeps what it holds: remove those next",
                (f"aws cloudformation update-termination-protection --region {region} --stack-name {stack} "
                 "--no-enable-termination-protection",
                 f"aws cloudformation delete-stack --region {region} --stack-name {stack}"),
            ))
        tables = [
            (data.get("StatementsTableName", f"eci-{stage}-statements"), "the statements of support"),
            (data.get("CountersTableName", f"eci-{stage}-counters"), "the counts and the purge's audit record"),
        ]
        dynamodb = self._client("dynamodb")
        for table, why in tables:
            try:
                described = dynamodb.describe_table(TableName=table)["Table"]
            except dynamodb.exceptions.ResourceNotFoundException:
                continue
            commands = []
            if described.get("DeletionProtectionEnabled"):
                why += "; deletion protection is on"
                commands.append(f"aws dynamodb update-table --region {region} --table-name {table} "
                                "--no-deletion-protection-enabled")
            commands.append(f"aws dynamodb delete-table --region {region} --table-name {table}")
            found.append(Retained(f"DynamoDB table {table}", why, tuple(commands)))

        bucket = data.get("ExportBucketName", f"eci-{stage}-exports-{account}-{region}")
        found += self._retained_bucket(bucket, region, "the export files (support forms, manifests)")
        if edge.get("AccessLogBucketName"):
            found += self._retained_bucket(edge["AccessLogBucketName"], EDGE_REGION,
                                           "CloudFront's access logs (IP addresses); they expire by themselves")

        parameter = data.get("FingerprintKeyParameterName", f"/eci/{stage}/fingerprint-key")
        for name in (parameter, recovery_copy_name(parameter)):
            if self._parameter_value(name) is not None:
                found.append(Retained(
                    f"SSM parameter {name}",
                    "the wrapped fingerprint key" + (" (its recovery copy)" if name != parameter else "") +
                    ": a new deploy of this stage must find the same one, or duplicates go undetected",
                    (f"aws ssm delete-parameter --region {region} --name {name}",),
                ))

        kms = self._client("kms")
        for output, why in (("StatementsKeyArn", "seals the statements: without it they can never be read"),
                            ("ExportsKeyArn", "seals the export files"),
                            ("ExportSigningKeyArn", "signed the manifests: its public key checks past runs"),
                            ("FingerprintKeyArn", "wraps the fingerprint key")):
            key = data.get(output)
            if not key:
                continue
            try:
                state = kms.describe_key(KeyId=key)["KeyMetadata"].get("KeyState", "")
            except kms.exceptions.NotFoundException:
                continue
            if state in ("PendingDeletion", "PendingReplicaDeletion"):
                continue
            found.append(Retained(
                f"KMS key {key}", why + "; $1 a month until deleted, after a waiting period of 7 to 30 days",
                (f"aws kms schedule-key-deletion --region {region} --key-id {key} --pending-window-in-days 30",),
            ))

        logs = self._client("logs")
        prefix = f"/aws/lambda/{self.app_name}-{stage}"  # the API's function is {app}-{stage}, the others -{name}
        for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix):
            for group in page.get("logGroups", []):
                name = group["logGroupName"]
                if name != prefix and not name.startswith(prefix + "-"):
                    continue  # another stage whose name starts with this one's
                found.append(Retained(f"log group {name}", "the functions' logs (nothing personal by design)",
                                      (f"aws logs delete-log-group --region {region} --log-group-name {name}",)))
        return found

    def _retained_bucket(self, bucket: str, region: str, why: str) -> list[Retained]:
        from botocore.exceptions import ClientError

        s3 = self._client("s3", region)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            return []
        listed = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        versions = len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))
        held = f"object versions: {versions}{' or more' if listed.get('IsTruncated') else ''}"
        # Versioned: `aws s3 rb --force` would leave the old versions; this removes every one, then the bucket.
        empty_and_delete = (f"{self.python} -c \"import boto3; bucket = boto3.resource('s3', region_name='{region}')"
                            f".Bucket('{bucket}'); bucket.object_versions.delete(); bucket.delete()\"")
        return [Retained(f"S3 bucket {bucket}", f"{why}; {held}", (empty_and_delete,))]

    def report_retained(self, retained: Sequence[Retained]) -> None:
        if not retained:
            self.out.write(f"\nStage {self.stage} is gone; nothing of it is left.\n")
            return
        self.out.write(
            f"\nStage {self.stage} is down. Kept on purpose, because deleting them destroys citizens' data or "
            "the means to read it.\nmake deploy brings the stage back on the same data. The purge no longer "
            "runs: destroy the statements yourself by the end of\ntheir retention period (Art. 19 Reg. "
            "2019/788), or deploy again to let it run. To remove each deliberately, in this order:\n"
        )
        for item in retained:
            self.out.write(f"  - {item.what}: {item.why}\n")
            for command in item.commands:
                self.out.write(f"      {command}\n")

    # --- package (for pipelines) ---------------------------------------------------------------------

    def package(self, output: Path) -> str:
        """`chalice package --merge-template infra/stream-mapping.merge.json`; returns the size line.

        Nothing account-specific goes in: the template takes the stream as the parameter
        StatementsTableStreamArn, and the functions find the rest by config.json's names (key aliases,
        the export bucket through the account id).
        """
        command = [self.python, "-m", "infra.chalice_stage", "package", "--stage", self.stage,
                   "--merge-template", str(MERGE_TEMPLATE), "--output", str(output)]
        self.out.write("$ " + " ".join(command) + "\n")
        self.out.flush()
        environment = self._command_environment()
        # Chalice asks the region only for the partition's names: any region of the aws partition will do.
        environment.setdefault("AWS_DEFAULT_REGION", PACKAGE_REGION)
        self.run(command, environment)
        line = describe_package(output / "deployment.zip")
        self.out.write(f"{line}\ntemplate: {output / 'sam.json'}\n")
        return line


def describe_package(archive: Path) -> str:
    """The size line `make package` prints."""
    with zipfile.ZipFile(archive) as opened:
        files = len(opened.namelist())
    return f"deployment package: {archive.stat().st_size / 1e6:.1f} MB ({files} files)"


def _assignments(values: Sequence[str], option: str) -> dict[str, str]:
    try:
        return assignments(values, option)
    except ValueError as error:
        raise DeployError(str(error)) from None


def _confirmed(stage: str, yes: bool, out: TextIO) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise DeployError("destroy asks for confirmation: run it in a terminal, or add --yes (make destroy YES=1)")
    out.write(f"This takes stage {stage} off the internet and deletes its functions, API and stacks.\n"
              f"Type the stage name ({stage}) to go on: ")
    out.flush()
    return sys.stdin.readline().strip() == stage


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy",
                                     description="Deploy the ECI collection system to AWS, or take it down.")
    parser.add_argument("command", choices=["deploy", "destroy", "package"])
    parser.add_argument("--stage", default="dev", help="a stage of .chalice/config.json (dev)")
    parser.add_argument("--region", help="AWS region of the data and the functions (else AWS_REGION or the profile's)")
    parser.add_argument("--data-parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of infra/data.yaml, e.g. OperatorPrincipalArn=arn:aws:iam::...:role/...")
    parser.add_argument("--edge-parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of infra/edge.yaml")
    parser.add_argument("--operations-parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of infra/operations.yaml, e.g. MonthlyBudgetUsd=50")
    parser.add_argument("--alarm-email", help="deploy: where alarms and the budget's warnings go (kept once given)")
    parser.add_argument("--output", type=Path, help="package: the directory to write (dist/STAGE)")
    parser.add_argument("--yes", action="store_true", help="destroy without asking")
    args = parser.parse_args(argv)
    from botocore.exceptions import ClientError

    from infra.stacks import StackError

    try:
        check_python()
        import boto3

        deployment = Deployment(args.stage, boto3.session.Session(region_name=args.region), out)
        deployment.chalice_config()
        if args.command == "package":
            deployment.package(args.output or PROJECT_ROOT / "dist" / args.stage)
        elif args.command == "deploy":
            operations = _assignments(args.operations_parameter, "--operations-parameter")
            if args.alarm_email:
                operations["AlarmEmail"] = args.alarm_email
            deployment.deploy(_assignments(args.data_parameter, "--data-parameter"),
                              _assignments(args.edge_parameter, "--edge-parameter"), operations)
        elif _confirmed(args.stage, args.yes, out):
            deployment.destroy()
        else:
            out.write("not confirmed: nothing done\n")
            return 1
    except (DeployError, StackError) as error:
        out.flush()
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ClientError as error:  # refused by AWS: the message names the operation and the reason
        out.flush()
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: a stack operation already started goes on in AWS; run the command again", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
