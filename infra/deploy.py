"""One command for organisers: deploy a stage to AWS, or take it down.

    python -m infra.deploy deploy --stage prod      (make deploy STAGE=prod)
    python -m infra.deploy destroy --stage prod     (make destroy STAGE=prod)
    python -m infra.deploy package --stage prod     (make package STAGE=prod: for pipelines)

deploy, in order: the data stack (infra/data.yaml) in the configured region; the wrapped fingerprint
key, once; `chalice deploy` with the data stack's outputs as the functions' environment variables
(infra/chalice_stage.py says how and why); the count function's stream mapping completed with what
chalice cannot set (partial batch responses, a retry limit, bisection, a failure queue from
infra/stream-failures.yaml); the edge stack (infra/edge.yaml, CloudFront and WAF) in us-east-1 in
front of the API. It prints the site's address.

destroy, in the reverse order, deletes the edge stack, the functions and the API, the failure queue
and the data stack, and names what stays: the tables, keys, bucket and parameter that hold citizens'
data or the means to read it (DeletionPolicy Retain, deletion protection), each with the command that
removes it deliberately.
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
EDGE_TEMPLATE = INFRA / "edge.yaml"
MERGE_TEMPLATE = INFRA / "stream-mapping.merge.json"
EDGE_REGION = "us-east-1"  # CloudFront's WAF web ACLs and their logs live there
COUNT_FUNCTION = "count_statements"
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
    "STATEMENTS_STREAM_ARN": "StatementsTableStreamArn",
}

# What the count function's stream mapping gets beyond chalice's settings, and why: one place,
# chalicelib/counting/mapping_settings.py; infra/stream-mapping.merge.json holds the same values (a test
# holds them equal).
STREAM_MAPPING = COUNT_STREAM_MAPPING
# The count function answers failures as partial batch responses only where its mapping takes them.
MAPPING_ENVIRONMENT = {"COUNT_REPORTS_ITEM_FAILURES": "true"}
_MAPPING_ATTEMPTS = 12  # the count role's new SQS permission takes a few seconds to reach Lambda


class DeployError(RuntimeError):
    """Something the organiser must fix; the message says what."""


class Stacks(Protocol):
    """The CloudFormation stacks of one region (infra/stacks.py)."""

    def deploy(self, name: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]: ...

    def outputs(self, name: str) -> dict[str, str] | None: ...

    def delete(self, name: str) -> bool: ...


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
               edge_parameters: Mapping[str, str] | None = None) -> str:
        """Everything, in order; returns the site's address (the edge stack's DistributionUrl)."""
        self.check_credentials()
        total = 5
        self._step(1, total, f"data stack {self.stack_name('data')} (keys, tables, export bucket)")
        data = self._stacks(self.region).deploy(
            self.stack_name("data"), DATA_TEMPLATE, {"Stage": self.stage, **(data_parameters or {})}
        )
        environment = self.function_environment(data)

        self._step(2, total, f"fingerprint key {data['FingerprintKeyParameterName']}, origin secret")
        self.create_fingerprint_key(data)
        origin_secret = self.origin_verify_secret()
        environment["ORIGIN_VERIFY_SECRET"] = origin_secret

        self._step(3, total, f"chalice deploy --stage {self.stage} (functions, API)")
        command = [self.python, "-m", "infra.chalice_stage", "deploy", "--stage", self.stage]
        command += [f"--set={name}={value}" for name, value in environment.items()]
        self.out.write("  $ " + " ".join(command).replace(origin_secret, "********") + "\n")
        self.out.flush()
        self.run(command, self._command_environment(environment))

        self._step(4, total, f"stream mapping of {self.function_name(COUNT_FUNCTION)}")
        failures = self._stacks(self.region).deploy(
            self.stack_name("count-failures"), FAILURES_TEMPLATE, {"Stage": self.stage}
        )
        self.configure_stream_mapping(data["StatementsTableStreamArn"], failures["CountFailureQueueArn"])

        api_domain = self.api_domain_name()
        self._step(5, total, f"edge stack {self.stack_name('edge')} ({EDGE_REGION}: CloudFront, WAF) for {api_domain}")
        edge = self._stacks(EDGE_REGION).deploy(self.stack_name("edge"), EDGE_TEMPLATE, {
            "Stage": self.stage, "ApiDomainName": api_domain,
            "ApiStageName": str(self.chalice_config()["stages"][self.stage].get("api_gateway_stage", "api")),
            "OriginVerifySecret": origin_secret,
            **(edge_parameters or {}),
        })
        url = edge["DistributionUrl"]
        self.out.write(f"\nDeployed stage {self.stage}. The site: {url}\n"
                       "(a new CloudFront distribution takes a few minutes to answer everywhere)\n")
        return url

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
        from chalicelib.storage.fingerprint_key import create_fingerprint_key

        parameter = data_outputs["FingerprintKeyParameterName"]
        created = create_fingerprint_key(self._client("ssm"), self._client("kms"),
                                         data_outputs["FingerprintKeyArn"], parameter)
        self.out.write(f"  {parameter}: " + ("created, wrapped by the fingerprint key\n" if created
                                             else "already there, left unchanged (it must never change)\n"))

    def origin_secret_parameter(self) -> str:
        return f"/{self.app_name}/{self.stage}/origin-verify-secret"

    def origin_verify_secret(self) -> str:
        """The secret CloudFront sends the API and the functions check, made once and kept in SSM.

        Not citizens' data and not a key to any: it only keeps the execute-api address from going
        round WAF. Delete the parameter and deploy again to change it.
        """
        import secrets

        ssm, name = self._client("ssm"), self.origin_secret_parameter()
        try:
            value: str = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            self.out.write(f"  {name}: already there, kept\n")
        except ssm.exceptions.ParameterNotFound:
            value = secrets.token_urlsafe(48)
            ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False,
                              Description="CloudFront's proof to the API of this stage (infra/edge.yaml)")
            self.out.write(f"  {name}: created\n")
        return value

    def configure_stream_mapping(self, stream_arn: str, queue_arn: str) -> None:
        """What chalice deploy cannot set on the count function's stream mapping."""
        client = self._client("lambda")
        function = self.function_name(COUNT_FUNCTION)
        mappings = client.list_event_source_mappings(FunctionName=function, EventSourceArn=stream_arn)
        found = mappings.get("EventSourceMappings", [])
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
        """Everything deploy made, in reverse order, but what holds citizens' data: that is listed instead."""
        account = self.check_credentials()
        data_outputs = self._stacks(self.region).outputs(self.stack_name("data"))
        edge_outputs = self._stacks(EDGE_REGION).outputs(self.stack_name("edge")) or {}
        total = 4
        self._step(1, total, f"edge stack {self.stack_name('edge')} ({EDGE_REGION})")
        self._delete_stack(EDGE_REGION, "edge")

        self._step(2, total, f"chalice delete --stage {self.stage} (functions, API, stream mapping, roles)")
        if self.deployed_resources():
            command = [str(Path(self.python).with_name("chalice")), "delete", "--stage", self.stage]
            self.out.write("  $ " + " ".join(command) + "\n")
            self.out.flush()
            extra = {"STATEMENTS_STREAM_ARN": data_outputs["StatementsTableStreamArn"]} if data_outputs else {}
            self.run(command, self._command_environment(extra))
        else:
            self.out.write(f"  nothing deployed by chalice for stage {self.stage}\n")

        self._step(3, total, f"failure queue stack {self.stack_name('count-failures')}")
        self._delete_stack(self.region, "count-failures")

        self._step(4, total, f"data stack {self.stack_name('data')} (what holds data stays: listed below)")
        self._delete_stack(self.region, "data")
        ssm = self._client("ssm")
        with contextlib.suppress(ssm.exceptions.ParameterNotFound):
            ssm.delete_parameter(Name=self.origin_secret_parameter())  # nothing checks it any more

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
        ssm = self._client("ssm")
        try:
            ssm.get_parameter(Name=parameter)
            found.append(Retained(
                f"SSM parameter {parameter}",
                "the wrapped fingerprint key: a new deploy of this stage must find the same one, or duplicates "
                "go undetected",
                (f"aws ssm delete-parameter --region {region} --name {parameter}",),
            ))
        except ssm.exceptions.ParameterNotFound:
            pass

        kms = self._client("kms")
        for output, why in (("StatementsKeyArn", "seals the statements: without it they can never be read"),
                            ("ExportsKeyArn", "seals the export files"),
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
            "the means to read it.\nThe purge no longer runs: destroy the statements yourself by the end of "
            "their retention period (Art. 19 Reg. 2019/788),\nor deploy again to let it run. To remove each "
            "deliberately:\n"
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
            deployment.deploy(_assignments(args.data_parameter, "--data-parameter"),
                              _assignments(args.edge_parameter, "--edge-parameter"))
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
