"""What `chalice package` builds: the Lambda package carries its data, the route function its own policy."""

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

# What the deploy command passes: the data stack's StatementsTableStreamArn output.
PACKAGED_STREAM_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/eci-dev-statements/stream/2026-09-01T00:00"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("package")
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-central-1", "STATEMENTS_STREAM_ARN": PACKAGED_STREAM_ARN}
    chalice = Path(sys.executable).with_name("chalice")
    subprocess.run(  # noqa: S603 - the project's own tool on its own directory
        [str(chalice), "package", "--stage", "dev", str(output)],
        cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=600,
    )
    return output


def _route_policy(package: Path) -> list[dict[str, Any]]:
    template = json.loads((package / "sam.json").read_text(encoding="utf-8"))
    role = template["Resources"]["ApiHandlerRole"]["Properties"]
    [policy] = role["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def test_lambda_package_carries_templates_initiative_rules_and_compiled_catalogues(package: Path) -> None:
    with zipfile.ZipFile(package / "deployment.zip") as archive:
        names = set(archive.namelist())
    print(f"deployment package: {(package / 'deployment.zip').stat().st_size / 1e6:.1f} MB, {len(names)} files")

    expected = {"app.py", "chalicelib/rules/member_states.json", "initiatives/demo.json",
                "templates/assets/style.css"}
    expected |= {f"templates/{page.name}" for page in (PROJECT_ROOT / "templates").glob("*.html")}
    expected |= {
        str((LOCALE_DIR / language / "LC_MESSAGES" / "messages.mo").relative_to(PROJECT_ROOT))
        for language in SUPPORTED_LANGUAGES if language != SOURCE_LANGUAGE
    }
    assert expected <= names, sorted(expected - names)


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


def test_recount_function_counts_statements_without_reading_them(package: Path) -> None:
    statements = _policy_statements(package, "RecountStatementsRole")

    for statement in statements:
        actions = _actions(statement)
        assert all("*" not in action for action in actions), statement
        assert not any(action.startswith("kms:") for action in actions)
        if "eci-dev-statements" in json.dumps(statement["Resource"]):
            assert actions == ["dynamodb:Query"]
            assert statement["Condition"]["StringEquals"] == {"dynamodb:Select": "COUNT"}
