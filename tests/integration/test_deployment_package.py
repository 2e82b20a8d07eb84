"""What `chalice package` builds: the Lambda package carries its data, each function its own least privilege.

The package is built as `make deploy` builds it (infra/chalice_stage.py: config.json's stage with the data
stack's outputs over it), once per module; the pipelines' variant is that template with
infra/stream-mapping.merge.json merged in by Chalice's own merger, as `chalice package --merge-template`
does (`make package`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.web.i18n import LOCALE_DIR, SOURCE_LANGUAGE, SUPPORTED_LANGUAGES
from infra.deploy import FUNCTION_ENVIRONMENT, MERGE_TEMPLATE, STREAM_MAPPING, describe_package

# What the deploy command passes: the data stack's StatementsTableStreamArn output.
PACKAGED_STREAM_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/eci-dev-statements/stream/2026-09-01T00:00"
# The other outputs, as the data stack of account 123456789012 would give them.
STACK_OUTPUTS = {
    "STATEMENTS_TABLE": "eci-dev-statements",
    "COUNTERS_TABLE": "eci-dev-counters",
    "STATEMENTS_KEY": "arn:aws:kms:eu-central-1:123456789012:key/11111111-1111-1111-1111-111111111111",
    "FINGERPRINT_KEY_PARAMETER": "/eci/dev/fingerprint-key",
    "EXPORT_BUCKET": "eci-dev-exports-123456789012-eu-central-1",
    "EXPORT_KEY": "arn:aws:kms:eu-central-1:123456789012:key/33333333-3333-3333-3333-333333333333",
    "EXPORT_SIGNING_KEY": "arn:aws:kms:eu-central-1:123456789012:key/44444444-4444-4444-4444-444444444444",
    "STATEMENTS_STREAM_ARN": PACKAGED_STREAM_ARN,
    "CONSOLE_TABLE": "eci-dev-console",
    "ORGANISER_USER_POOL_ID": "eu-central-1_AbCdEf123",
    "ORGANISER_CLIENT_ID": "1example23456789console",
}
# Function resource in the template -> its name in .chalice/config.json.
FUNCTIONS = {
    "APIHandler": "api_handler",
    "CountStatements": "count_statements",
    "RecountStatements": "recount_statements",
    "ExportDaily": "export_daily",
    "ExportWorker": "export_worker",
    "PurgeStatements": "purge_statements",
    "ConsoleActions": "console_actions",
}
DATA_SERVICES = ("dynamodb:", "kms:", "s3:", "ssm:", "sqs:")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("package")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1"}
    env.pop("STATEMENTS_STREAM_ARN", None)  # it must come from the injected outputs
    subprocess.run(  # noqa: S603 - the project's own tool on its own directory
        [sys.executable, "-m", "infra.chalice_stage", "package", "--stage", "dev",
         *[f"--set={name}={value}" for name, value in STACK_OUTPUTS.items()], "--output", str(output)],
        cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=600,
    )
    return output


@pytest.fixture(scope="module")
def merged(package: Path) -> Path:
    """The pipelines' template: what `chalice package --merge-template infra/stream-mapping.merge.json` writes."""
    from chalice.package import TemplateDeepMerger

    template = json.loads((package / "sam.json").read_text(encoding="utf-8"))
    addition = json.loads(MERGE_TEMPLATE.read_text(encoding="utf-8"))
    path = package / "merged" / "sam.json"
    path.parent.mkdir()
    path.write_text(json.dumps(TemplateDeepMerger().merge(addition, template), indent=2), encoding="utf-8")
    return path


def _template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return template


def _route_policy(package: Path) -> list[dict[str, Any]]:
    template = json.loads((package / "sam.json").read_text(encoding="utf-8"))
    role = template["Resources"]["ApiHandlerRole"]["Properties"]
    [policy] = role["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def test_lambda_package_carries_templates_initiative_rules_and_compiled_catalogues(
    package: Path, capsys: pytest.CaptureFixture[str], record_property: Any
) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = set(archive.namelist())
    size = describe_package(package / "deployment.zip")  # the line `make package` prints
    record_property("deployment_package", size)
    with capsys.disabled():  # on the terminal whatever -s says
        print(f"\n{size}")

    expected = {"app.py", "chalicelib/rules/member_states.json", "initiatives/demo.json",
                "templates/assets/style.css"}
    expected |= {f"templates/{page.name}" for page in (PROJECT_ROOT / "templates").glob("*.html")}
    expected |= {
        str((LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo").relative_to(PROJECT_ROOT))
        for language in SUPPORTED_LANGUAGES if language != SOURCE_LANGUAGE
    }
    assert expected <= names, sorted(expected - names)
    assert not [name for name in names if name.startswith(("infra/", "tests/", "bench/"))], "tools stay out"


def test_route_function_may_encrypt_statements_but_never_decrypt_or_read_them(package: Path) -> None:
    statements = _route_policy(package)
    statements_table = "table/eci-dev-statements"

    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        if statements_table in json.dumps(statement["Resource"]):
            assert actions == ["dynamodb:PutItem"], "no Scan, Query or Get of statements"
        if "kms:Decrypt" in actions:
            # Only the fingerprint key's wrapped secret, never the statements key.
            condition = json.dumps(statement["Condition"])
            assert "alias/eci-dev-fingerprint" in condition and "statements" not in condition
        if "kms:GenerateDataKey" in actions:
            assert "alias/eci-dev-statements" in json.dumps(statement["Condition"])
        assert not {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"} & set(actions)
    decrypting = [statement for statement in statements if "kms:Decrypt" in _actions(statement)]
    assert [statement["Condition"]["StringEquals"] for statement in decrypting] == [
        {"kms:EncryptionContext:purpose": "eci-fingerprint"}
    ], "one Decrypt, bound to the fingerprint key's purpose: a statement's context says eci-statement"


def _policy_statements(package: Path, role: str) -> list[dict[str, Any]]:
    template = json.loads((package / "sam.json").read_text(encoding="utf-8"))
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_count_function_reads_the_statements_stream_from_its_start_in_batches(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text(encoding="utf-8"))
    [event] = template["Resources"]["CountStatements"]["Properties"]["Events"].values()

    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == PACKAGED_STREAM_ARN
    assert event["Properties"]["StartingPosition"] == "TRIM_HORIZON"
    assert event["Properties"]["BatchSize"] == 1000


def test_count_function_reads_only_the_stream_and_writes_only_counters(package: Path) -> None:
    statements = _policy_statements(package, "CountStatementsRole")

    for statement in statements:
        actions = _actions(statement)
        assert all("*" not in action for action in actions), statement
        resource = json.dumps(statement["Resource"])
        if "eci-dev-statements" in resource:
            assert resource.endswith('/stream/*"'), "the stream only, never the table's items"
            assert set(actions) == {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
        elif any(action.startswith("dynamodb:") for action in actions) and resource != '"*"':
            assert resource == '"arn:aws:dynamodb:*:*:table/eci-dev-counters"', statement
        assert not any(action.startswith("kms:") for action in actions), "no key: the stream carries keys only"
    granted = {action for statement in statements for action in _actions(statement)}
    assert {"dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} <= granted


def test_recount_function_reads_statement_keys_and_times_never_their_content(package: Path) -> None:
    from chalicelib.storage.recount_store import STATEMENT_ATTRIBUTES_READ

    statements = _policy_statements(package, "RecountStatementsRole")

    on_statements = [statement for statement in statements if "eci-dev-statements" in json.dumps(statement["Resource"])]
    assert on_statements
    for statement in statements:
        actions = _actions(statement)
        assert all("*" not in action for action in actions), statement
        assert not any(action.startswith("kms:") for action in actions)
    for statement in on_statements:
        assert _actions(statement) == ["dynamodb:Query"]
        assert statement["Condition"]["StringEquals"] == {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}
        allowed = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        assert sorted(allowed) == sorted(STATEMENT_ATTRIBUTES_READ) and "sealed" not in allowed


# --- every function: its own role, its own policy file, no wildcard action --------------------------------


def _roles_and_policies(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each IAM role of the template with every policy attached to it (inline, or AWS::IAM::Policy)."""
    resources = template["Resources"]
    roles: dict[str, list[dict[str, Any]]] = {
        name: list(resource["Properties"].get("Policies", []))
        for name, resource in resources.items() if resource["Type"] == "AWS::IAM::Role"
    }
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for role in resource["Properties"]["Roles"]:
                roles[role["Ref"]].append(resource["Properties"])
    return roles


@pytest.mark.parametrize("variant", ["deploy", "pipeline"])
def test_no_function_policy_grants_a_wildcard_action_or_any_data_resource_by_wildcard(
    package: Path, merged: Path, variant: str
) -> None:
    template = _template(package / "sam.json" if variant == "deploy" else merged)

    for role, policies in _roles_and_policies(template).items():
        assert not template["Resources"][role]["Properties"].get("ManagedPolicyArns"), role
        for policy in policies:
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = _actions(statement)
                assert statement["Effect"] == "Allow" and not statement.get("NotAction"), (role, statement)
                assert all("*" not in action for action in actions), (role, statement)
                if any(action.startswith(DATA_SERVICES) for action in actions) and statement["Resource"] == "*":
                    # The only ones: ListStreams and ListBackups take no resource; the event source mapping
                    # needs the first, the purge (to find backups of the statements table) the second.
                    allowed = [["dynamodb:ListStreams"], *([["dynamodb:ListBackups"]]
                                                           if role == "PurgeStatementsRole" else [])]
                    assert actions in allowed, (role, statement)


def test_each_function_runs_as_its_own_role_with_exactly_its_policy_file(package: Path) -> None:
    template = _template(package / "sam.json")
    stage = json.loads((PROJECT_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))["stages"]["dev"]
    functions = {name: resource for name, resource in template["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"}

    assert set(functions) == set(FUNCTIONS)
    roles = {name: function["Properties"]["Role"]["Fn::GetAtt"][0] for name, function in functions.items()}
    assert len(set(roles.values())) == len(roles), "no two functions share a role"
    attached = _roles_and_policies(template)
    assert set(attached) == set(roles.values()), "no role without a function"
    for name, role in roles.items():
        policy_file = stage["lambda_functions"][FUNCTIONS[name]]["iam_policy_file"]
        expected = json.loads((PROJECT_ROOT / ".chalice" / policy_file).read_text(encoding="utf-8"))
        [policy] = attached[role]
        assert policy["PolicyDocument"] == expected, f"{name} runs with {policy_file}, and nothing else"


def test_the_route_function_encrypts_and_writes_statements_and_decrypts_none(package: Path) -> None:
    statements = _policy_statements(package, "ApiHandlerRole")

    writes = [statement for statement in statements if "table/eci-dev-statements" in json.dumps(statement["Resource"])]
    assert [_actions(statement) for statement in writes] == [["dynamodb:PutItem"]]
    encrypt = [statement for statement in statements if "kms:GenerateDataKey" in _actions(statement)]
    assert [statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"] for statement in encrypt] == [
        "alias/eci-dev-statements"
    ]
    for statement in statements:
        if "kms:Decrypt" in _actions(statement):
            assert "eci-dev-statements" not in json.dumps(statement)


def test_the_export_function_decrypts_statements_encrypts_exports_and_writes_the_bucket(package: Path) -> None:
    statements = _policy_statements(package, "ExportWorkerRole")

    def granted(action: str) -> list[dict[str, Any]]:
        return [statement for statement in statements if action in _actions(statement)]

    decrypt_statements = [statement for statement in granted("kms:Decrypt")
                          if "alias/eci-dev-statements" in json.dumps(statement["Condition"])]
    assert [statement["Condition"]["StringEquals"] for statement in decrypt_statements] == [
        {"kms:EncryptionContext:purpose": "eci-statement"}
    ]
    assert [statement["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"]
            for statement in granted("kms:GenerateDataKey")] == ["alias/eci-dev-exports"]
    assert [statement["Resource"] for statement in granted("s3:PutObject")] == [EXPORT_OBJECTS]
    reads = [statement for statement in statements if "table/eci-dev-statements" in json.dumps(statement["Resource"])]
    assert [_actions(statement) for statement in reads] == [["dynamodb:Query"]], "reads statements, never writes"
    writes = [(statement["Resource"], statement.get("Condition")) for statement in statements
              if any(action.startswith("dynamodb:") and action != "dynamodb:Query" for action in _actions(statement))]
    assert writes == [("arn:aws:dynamodb:*:*:table/eci-dev-console",
                       {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["EXPORT#*", "AUDIT#*"]}})], \
        "beyond reading, it only tells the dashboard how a run stands and records each run's start"


def test_the_purge_function_deletes_due_statements_and_exports_and_reads_nothing(package: Path) -> None:
    statements = _policy_statements(package, "PurgeStatementsRole")
    granted = {action for statement in statements for action in _actions(statement)}

    [delete] = [statement for statement in statements if "dynamodb:DeleteItem" in _actions(statement)]
    assert delete["Resource"] == "arn:aws:dynamodb:*:*:table/eci-dev-statements"
    assert delete["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["S#*", "F#*"]
    # Deletes in transactions need DeleteItem alone: BatchWriteItem (which also puts) and PutItem are not granted.
    assert not {"dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} & {
        action for statement in statements if "eci-dev-statements" in json.dumps(statement["Resource"])
        for action in _actions(statement)}
    [scan] = [statement for statement in statements if "dynamodb:Scan" in _actions(statement)]
    assert scan["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == ["pk", "sk"], "keys only"
    assert "s3:DeleteObjectVersion" in granted
    assert not any(action.startswith("kms:") for action in granted), "it never needs to read what it deletes"
    # Every copy: restore points and backups of the statements table, uploads a worker left unfinished.
    [restore_points] = [statement for statement in statements
                        if "dynamodb:UpdateContinuousBackups" in _actions(statement)]
    assert restore_points["Resource"] == "arn:aws:dynamodb:*:*:table/eci-dev-statements"
    [backups] = [statement for statement in statements if "dynamodb:DeleteBackup" in _actions(statement)]
    assert backups["Resource"] == "arn:aws:dynamodb:*:*:table/eci-dev-statements/backup/*"
    assert {"dynamodb:ListBackups", "dynamodb:DescribeContinuousBackups", "s3:AbortMultipartUpload",
            "s3:ListBucketMultipartUploads"} <= granted
    [queries] = [statement for statement in statements if "dynamodb:Query" in _actions(statement)]
    assert queries["Resource"] == "arn:aws:dynamodb:*:*:table/eci-dev-counters", "the operator's records only"
    assert not {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject"} & {
        action for statement in statements if "statements" in json.dumps(statement["Resource"])
        or "exports" in json.dumps(statement["Resource"]) for action in _actions(statement)}


def test_the_console_function_appends_audit_entries_and_sets_the_state_and_never_decrypts(package: Path) -> None:
    statements = _policy_statements(package, "ConsoleActionsRole")
    granted = {action for statement in statements for action in _actions(statement)}

    puts = [statement for statement in statements if "dynamodb:PutItem" in _actions(statement)]
    assert [(statement["Resource"], statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
            for statement in puts] == [("arn:aws:dynamodb:*:*:table/eci-dev-console", ["AUDIT#*", "STATE#*"]),
                                       ("arn:aws:dynamodb:*:*:table/eci-dev-console", ["SIGNED_OUT#*"])]
    assert all(_actions(statement) == ["dynamodb:PutItem"] for statement in puts)
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & {
        action for statement in statements if "eci-dev-console" in json.dumps(statement["Resource"])
        for action in _actions(statement)}, "audit entries are never changed or removed"
    assert not any(action.startswith("kms:") for action in granted), "it can decrypt nothing"


def test_the_console_function_may_read_only_the_depth_of_the_count_failure_queue(package: Path) -> None:
    statements = _policy_statements(package, "ConsoleActionsRole")

    sqs = [statement for statement in statements if any(a.startswith("sqs:") for a in _actions(statement))]
    assert [(sorted(_actions(statement)), statement["Resource"]) for statement in sqs] == [
        (["sqs:GetQueueAttributes", "sqs:GetQueueUrl"], "arn:aws:sqs:*:*:eci-dev-count-failures")
    ], "never ReceiveMessage or DeleteMessage: it counts the messages, it does not take them"


def test_the_recount_and_the_export_each_write_only_their_own_records_for_the_dashboard(package: Path) -> None:
    for role, prefixes in (("RecountStatementsRole", ["COUNTING#*"]), ("ExportWorkerRole", ["EXPORT#*", "AUDIT#*"])):
        on_console = [statement for statement in _policy_statements(package, role)
                      if "eci-dev-console" in json.dumps(statement["Resource"])]
        assert [(_actions(statement), statement["Condition"]) for statement in on_console] == [
            (["dynamodb:PutItem"], {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": prefixes}})], role


def test_the_console_function_may_start_an_export_only_by_invoking_the_export_function(package: Path) -> None:
    statements = _policy_statements(package, "ConsoleActionsRole")

    invoking = [statement for statement in statements if any(a.startswith("lambda:") for a in _actions(statement))]
    assert [(_actions(statement), statement["Resource"]) for statement in invoking] == [
        (["lambda:InvokeFunction"], "arn:aws:lambda:*:*:function:eci-dev-export_worker")
    ], "the export function plans the run and records its start; the console reads no statement and no export"
    assert not any(a.startswith(("s3:", "kms:")) for statement in statements for a in _actions(statement))


def test_the_console_function_deletes_a_statement_by_key_but_cannot_read_its_sealed_content(package: Path) -> None:
    statements = _policy_statements(package, "ConsoleActionsRole")
    on_statements = [statement for statement in statements
                     if "table/eci-dev-statements" in json.dumps(statement["Resource"])]

    assert sorted(action for statement in on_statements for action in _actions(statement)) == [
        "dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"]
    for statement in on_statements:
        if _actions(statement) != ["dynamodb:DeleteItem"]:
            readable = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
            assert "sealed" not in readable and {"pk", "sk"} <= set(readable), statement
        else:
            assert statement["Condition"]["StringEqualsIfExists"] == {"dynamodb:ReturnValues": "NONE"}
            assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["S#*", "F#*"]
    assert not any(action.startswith("kms:") for statement in statements for action in _actions(statement))


def test_the_route_function_reads_the_collection_state_and_asks_the_console_function_to_act(package: Path) -> None:
    statements = _policy_statements(package, "ApiHandlerRole")
    # No Cognito right: signing in, and GlobalSignOut on signing out, are authorised by the user's own secrets.
    assert not [action for statement in statements for action in _actions(statement) if action.startswith("cognito")]

    console = [statement for statement in statements if "eci-dev-console" in json.dumps(statement["Resource"])]
    assert [(_actions(statement), statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
            for statement in console if "table/" in statement["Resource"]] == [
        (["dynamodb:GetItem"], ["STATE#*", "SIGNED_OUT#*"])], "the state, and whether a session was signed out"
    assert [statement["Resource"] for statement in statements if "lambda:InvokeFunction" in _actions(statement)] == [
        "arn:aws:lambda:*:*:function:eci-dev-console_actions"]


def test_the_count_function_may_send_only_to_its_failure_queue_beyond_stream_and_counters(package: Path) -> None:
    statements = _policy_statements(package, "CountStatementsRole")

    sqs = [statement for statement in statements if any(a.startswith("sqs:") for a in _actions(statement))]
    assert [(_actions(statement), statement["Resource"]) for statement in sqs] == [
        (["sqs:SendMessage"], "arn:aws:sqs:*:*:eci-dev-count-failures")
    ]


def test_every_function_gets_the_data_stacks_outputs_as_environment_variables(package: Path) -> None:
    template = _template(package / "sam.json")

    for name in FUNCTIONS:
        variables = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert {key: variables.get(key) for key in FUNCTION_ENVIRONMENT} == STACK_OUTPUTS, name
        assert variables["ECI_STAGE"] == "dev"


# Bucket names are global: the pattern names this account, and the condition requires that it owns the bucket.
EXPORT_BUCKETS = "arn:aws:s3:::eci-dev-exports-${aws:PrincipalAccount}-*"
EXPORT_OBJECTS = EXPORT_BUCKETS + "/*"
# The log group Lambda writes for each function, as chalice deploy (and the merged template) names it.
LOG_GROUPS = {
    "APIHandler": "/aws/lambda/eci-dev",
    "CountStatements": "/aws/lambda/eci-dev-count_statements",
    "RecountStatements": "/aws/lambda/eci-dev-recount_statements",
    "ExportDaily": "/aws/lambda/eci-dev-export_daily",
    "ExportWorker": "/aws/lambda/eci-dev-export_worker",
    "PurgeStatements": "/aws/lambda/eci-dev-purge_statements",
    "ConsoleActions": "/aws/lambda/eci-dev-console_actions",
}


def _function_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [statement for policy in _roles_and_policies(template)[role]
            for statement in policy["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("variant", ["deploy", "pipeline"])
def test_each_function_writes_only_its_own_log_group(package: Path, merged: Path, variant: str) -> None:
    template = _template(package / "sam.json" if variant == "deploy" else merged)

    for function, group in LOG_GROUPS.items():
        logs = [statement for statement in _function_statements(template, function)
                if any(action.startswith("logs:") for action in _actions(statement))]
        assert [sorted(statement["Resource"]) for statement in logs] == [
            [f"arn:aws:logs:*:*:log-group:{group}", f"arn:aws:logs:*:*:log-group:{group}:*"]], function
        if variant == "pipeline":  # CloudFormation would otherwise name the function, and its log group
            name = template["Resources"][function]["Properties"]["FunctionName"]["Fn::Sub"]
            assert name.replace("${Stage}", "dev") == group.removeprefix("/aws/lambda/"), function


def test_functions_reach_only_export_buckets_their_own_account_owns(package: Path) -> None:
    template = _template(package / "sam.json")

    s3_statements = [statement for function in FUNCTIONS for statement in _function_statements(template, function)
                     if any(action.startswith("s3:") for action in _actions(statement))]
    assert s3_statements, "the exporter and the purge reach the bucket"
    for statement in s3_statements:
        assert statement["Resource"] in (EXPORT_BUCKETS, EXPORT_OBJECTS), statement
        assert statement["Condition"]["StringEquals"] == {"aws:ResourceAccount": "${aws:PrincipalAccount}"}


def test_the_route_function_puts_only_statements_markers_and_form_nonces(package: Path) -> None:
    [put] = [statement for statement in _policy_statements(package, "ApiHandlerRole")
             if "dynamodb:PutItem" in _actions(statement)]

    assert put["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["S#*", "F#*", "T#*"]


# --- the pipelines' variant: chalice package --merge-template infra/stream-mapping.merge.json ----------------


def test_the_merged_template_completes_the_stream_mapping_as_make_deploy_does(merged: Path) -> None:
    template = _template(merged)
    resources = template["Resources"]
    [(name, event)] = resources["CountStatements"]["Properties"]["Events"].items()
    mapping = event["Properties"]

    assert name == "CountStatementsDynamodbEventSource"  # the name chalice generates, which the merge must hit
    assert {key: mapping[key] for key in STREAM_MAPPING} == STREAM_MAPPING
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] == 10
    assert mapping["MaximumRecordAgeInSeconds"] == 3600
    assert mapping["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["CountStatementsFailureQueue", "Arn"]}}}
    assert (mapping["StartingPosition"], mapping["BatchSize"]) == ("TRIM_HORIZON", 1000)  # chalice's, kept
    assert mapping["Stream"] == {"Ref": "StatementsTableStreamArn"}  # the data stack's output, per deployment
    assert template["Parameters"]["StatementsTableStreamArn"]["Type"] == "String"
    assert resources["CountStatementsFailureQueue"]["Type"] == "AWS::SQS::Queue"
    assert resources["CountStatementsFailureQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    grant = resources["CountStatementsFailureQueuePolicy"]["Properties"]
    assert grant["Roles"] == [{"Ref": "CountStatementsRole"}]
    assert grant["PolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Action": "sqs:SendMessage",
        "Resource": {"Fn::GetAtt": ["CountStatementsFailureQueue", "Arn"]}}]
    # The mapping is made after the role may send to the queue: Lambda checks that when it creates it.
    assert resources["CountStatements"]["DependsOn"] == ["CountStatementsFailureQueuePolicy"]
    assert resources["CountStatements"]["Properties"]["Handler"] == "app.count_statements"  # chalice's, kept
    # The function answers failures as partial batch responses only because this mapping takes them.
    variables = resources["CountStatements"]["Properties"]["Environment"]["Variables"]
    assert variables["COUNT_REPORTS_ITEM_FAILURES"] == "true"
    assert variables["STATEMENTS_TABLE"], "the merge adds to chalice's variables, it does not replace them"
    # The data stack's key policies name these two roles as chalice deploy names them (infra/data.yaml).
    assert resources["ApiHandlerRole"]["Properties"]["RoleName"] == {"Fn::Sub": "eci-${Stage}-api_handler"}
    assert resources["ExportWorkerRole"]["Properties"]["RoleName"] == {"Fn::Sub": "eci-${Stage}-export_worker"}
    assert resources["ApiHandlerRole"]["Properties"]["Policies"], "chalice's policy kept beside the name"
    # The API refuses what does not come through CloudFront: the pipeline passes the edge stack's secret.
    api_variables = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_variables["ORIGIN_VERIFY_SECRET"] == {"Ref": "OriginVerifySecret"}
    assert template["Parameters"]["OriginVerifySecret"]["NoEcho"] is True
    assert api_variables["STATEMENTS_TABLE"], "chalice's variables kept"


def test_cfn_lint_finds_no_error_in_the_packaged_templates(package: Path, merged: Path) -> None:
    linter = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(  # noqa: S603 - the project's own linter on its own output
        [str(linter), str(merged)],  # chalice's own, unmerged, names a log group after a missing resource
        capture_output=True, text=True, timeout=300, check=False,
    )

    assert result.returncode & 2 == 0, result.stdout + result.stderr  # cfn-lint's exit code: 2 means errors


# --- names, concurrency, logs: what the policies, the alarms and the export rely on --------------------------

# The name chalice deploy gives each function, which the policies, the alarms and the export call it by.
DEPLOYED_NAMES = {
    "APIHandler": "eci-${Stage}",
    "CountStatements": "eci-${Stage}-count_statements",
    "RecountStatements": "eci-${Stage}-recount_statements",
    "ExportDaily": "eci-${Stage}-export_daily",
    "ExportWorker": "eci-${Stage}-export_worker",
    "PurgeStatements": "eci-${Stage}-purge_statements",
    "ConsoleActions": "eci-${Stage}-console_actions",
}


def test_the_pipeline_template_names_every_function_as_make_deploy_does_and_has_no_default_stage(
    merged: Path,
) -> None:
    template = _template(merged)
    resources = template["Resources"]

    functions = {name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function"}
    assert functions == set(DEPLOYED_NAMES)
    for name, deployed in DEPLOYED_NAMES.items():
        assert resources[name]["Properties"]["FunctionName"] == {"Fn::Sub": deployed}, name
    assert "Default" not in template["Parameters"]["Stage"], "a prod package must not get dev's names"
    # The daily export starts its workers by reference, whatever the function is called.
    variables = resources["ExportDaily"]["Properties"]["Environment"]["Variables"]
    assert variables["EXPORT_WORKER_FUNCTION"] == {"Ref": "ExportWorker"}
    assert variables["STATEMENTS_TABLE"], "chalice's variables kept"
    # ...and its policy allows exactly that name.
    [invoke] = [statement for statement in _policy_statements(merged.parent.parent, "ExportDailyRole")
                if "lambda:InvokeFunction" in _actions(statement)]
    assert invoke["Resource"] == "arn:aws:lambda:*:*:function:eci-dev-export_worker"


def test_the_api_has_reserved_concurrency_and_the_export_worker_a_cap(package: Path, merged: Path) -> None:
    for path in (package / "sam.json", merged):
        resources = _template(path)["Resources"]
        assert resources["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == 50
        assert resources["ExportWorker"]["Properties"]["ReservedConcurrentExecutions"] == 5
        others = [name for name in FUNCTIONS if name not in ("APIHandler", "ExportWorker")]
        assert not [name for name in others if "ReservedConcurrentExecutions" in resources[name]["Properties"]]


def test_every_functions_logs_expire(merged: Path) -> None:
    resources = _template(merged)["Resources"]
    groups = {resource["Properties"]["LogGroupName"]["Fn::Sub"]: resource["Properties"]["RetentionInDays"]
              for resource in resources.values() if resource["Type"] == "AWS::Logs::LogGroup"}
    # chalice names the API function's group after ${ApiHandler}, a resource that does not exist (the function
    # is APIHandler): the merge template puts it right.
    assert groups == {f"/aws/lambda/${{{name}}}": 90 for name in FUNCTIONS}


def test_an_export_worker_that_fails_its_retries_lands_in_a_queue_its_role_may_send_to(merged: Path) -> None:
    resources = _template(merged)["Resources"]
    config = resources["ExportWorkerInvokeConfig"]["Properties"]

    assert config["FunctionName"] == {"Ref": "ExportWorker"} and config["Qualifier"] == "$LATEST"
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["ExportWorkerFailureQueue", "Arn"]}}}
    queue = resources["ExportWorkerFailureQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "eci-${Stage}-export-failures"} and queue["SqsManagedSseEnabled"]
    sends = [statement for statement in _policy_statements(merged.parent.parent, "ExportWorkerRole")
             if "sqs:SendMessage" in _actions(statement)]
    assert [statement["Resource"] for statement in sends] == ["arn:aws:sqs:*:*:eci-dev-export-failures"]


@pytest.mark.parametrize("variant", ["deploy", "pipeline"])
def test_api_gateway_refuses_every_method_without_the_api_key_cloudfront_sends(
    package: Path, merged: Path, variant: str
) -> None:
    """API Gateway answers 403 itself, before Lambda runs, to a request at the execute-api address."""
    import app as app_module

    api = _template(package / "sam.json" if variant == "deploy" else merged)["Resources"]["RestAPI"]
    document = api["Properties"]["DefinitionBody"]
    methods = {(path, method.upper()): operation for path, operations in document["paths"].items()
               for method, operation in operations.items()}

    assert set(methods) == {(path, method) for path, entries in app_module.app.routes.items() for method in entries}
    for (path, method), operation in methods.items():
        assert operation.get("security") == [{"api_key": []}], f"{method} {path} takes requests without the key"
    # API Gateway's extension of Swagger: the key is read from the x-api-key header CloudFront sets.
    assert document["securityDefinitions"]["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert document.get("x-amazon-apigateway-api-key-source", "HEADER") == "HEADER"


def test_the_pipeline_template_admits_the_api_key_to_its_stage_as_make_deploy_does(merged: Path) -> None:
    """The packaged API requires a key: the pipeline's template holds infra/api-access.yaml's plan and key."""
    from chalicelib.local.provision import load_template

    template = _template(merged)
    access = load_template(MERGE_TEMPLATE.with_name("api-access.yaml"))
    # make deploy names the API and its stage by parameter; the packaged template has them as resources.
    by_reference = json.loads(json.dumps(access["Resources"]).replace(
        '{"Ref": "RestApiId"}', '{"Ref": "RestAPI"}').replace('{"Ref": "ApiStageName"}', '{"Ref": "RestAPI.Stage"}'))

    assert {name: template["Resources"][name] for name in by_reference} == by_reference
    assert by_reference["EdgeUsagePlan"]["Properties"]["ApiStages"] == [
        {"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]  # SAM's name for the API's stage
    key = template["Parameters"]["ApiKeyValue"]
    assert key["NoEcho"] is True and key["MinLength"] == access["Parameters"]["ApiKeyValue"]["MinLength"]
