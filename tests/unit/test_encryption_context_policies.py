"""The encryption contexts the code uses are the ones the functions' IAM policies let through.

moto does not evaluate IAM or key-policy conditions: a context that drifted from the policies would pass
every other test and, on AWS, make every signature (GenerateDataKey) or every export (Decrypt) fail.
So the policy files each stage deploys (.chalice/config.json names them) are evaluated here against the
contexts the code builds, by a small evaluator of the operators these policies use. The data stack's key
policies get the same contexts in test_infra_templates.py.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.exporting.layout import file_context
from chalicelib.signing.submit import encryption_context
from chalicelib.storage.fingerprint_key import FINGERPRINT_KEY_CONTEXT

CHALICE_DIR = PROJECT_ROOT / ".chalice"
CONFIG = json.loads((CHALICE_DIR / "config.json").read_text(encoding="utf-8"))
STAGES = sorted(CONFIG["stages"])
KEY_ARN = "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000"
INITIATIVE = "demo-2026"


def _policy(stage: str, function: str) -> list[dict[str, Any]]:
    name = CONFIG["stages"][stage]["lambda_functions"][function]["iam_policy_file"]
    return list(json.loads((CHALICE_DIR / name).read_text(encoding="utf-8"))["Statement"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _holds(operator: str, actual: Sequence[str], wanted: list[str]) -> bool:
    if operator in ("StringEquals", "ForAnyValue:StringEquals"):
        return any(value in wanted for value in actual)
    if operator in ("StringLike", "ForAnyValue:StringLike"):
        return any(fnmatch.fnmatchcase(value, pattern) for value in actual for pattern in wanted)
    raise AssertionError(f"the test's evaluator does not know {operator}")


def may(statements: list[dict[str, Any]], action: str, alias: str, context: Mapping[str, str],
        via: str | None = None) -> bool:
    """Whether an identity policy allows `action` on the key with `alias` for a message with `context`."""
    request: dict[str, list[str]] = {"kms:ResourceAliases": [alias]}
    request.update({f"kms:EncryptionContext:{key}": [value] for key, value in context.items()})
    if via:
        request["kms:ViaService"] = [via]
    for statement in statements:
        if statement["Effect"] != "Allow":
            raise AssertionError("the test's evaluator does not handle Deny")
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(KEY_ARN, pattern) for pattern in _as_list(statement["Resource"])):
            continue
        conditions: Mapping[str, Mapping[str, Any]] = statement.get("Condition", {})
        if all(key in request and _holds(operator, request[key], [str(v) for v in _as_list(wanted)])
               for operator, tests in conditions.items() for key, wanted in tests.items()):
            return True
    return False


def _alias(stage: str, key: str) -> str:
    return f"alias/{CONFIG['app_name']}-{stage}-{key}"


@pytest.mark.parametrize("stage", STAGES)
def test_a_citizens_statement_can_be_sealed_on_aws_with_the_context_the_code_gives_it(stage: str) -> None:
    route = _policy(stage, "api_handler")
    context = encryption_context(INITIATIVE)

    assert may(route, "kms:GenerateDataKey", _alias(stage, "statements"), context)


@pytest.mark.parametrize("stage", STAGES)
def test_the_export_can_open_on_aws_the_statements_the_route_function_sealed(stage: str) -> None:
    exporter = _policy(stage, "export_worker")
    context = encryption_context(INITIATIVE)

    assert may(exporter, "kms:Decrypt", _alias(stage, "statements"), context)
    # and only those: the same key under another purpose (a stray ciphertext) stays closed
    assert not may(exporter, "kms:Decrypt", _alias(stage, "statements"), {**context, "purpose": "other"})


@pytest.mark.parametrize("stage", STAGES)
def test_the_export_files_context_lets_the_exporter_encrypt_them_on_aws(stage: str) -> None:
    exporter = _policy(stage, "export_worker")

    assert may(exporter, "kms:GenerateDataKey", _alias(stage, "exports"), file_context(INITIATIVE, "r1", "DE", "de", 1))


@pytest.mark.parametrize("stage", STAGES)
def test_the_route_function_unwraps_the_fingerprint_key_and_can_open_nothing_else(stage: str) -> None:
    """Every stage's route policy, prod's as much as dev's: one Decrypt, the fingerprint key, its purpose."""
    route = _policy(stage, "api_handler")

    assert may(route, "kms:Decrypt", _alias(stage, "fingerprint"), FINGERPRINT_KEY_CONTEXT)
    assert not may(route, "kms:Decrypt", _alias(stage, "fingerprint"), {"purpose": "eci-other"})
    assert not may(route, "kms:Decrypt", _alias(stage, "fingerprint"), {})
    for key in ("statements", "exports"):
        for context in (encryption_context(INITIATIVE), FINGERPRINT_KEY_CONTEXT, {}):
            assert not may(route, "kms:Decrypt", _alias(stage, key), context), (key, context)
            assert not may(route, "kms:Decrypt", _alias(stage, key), context, via="s3.eu-central-1.amazonaws.com")
