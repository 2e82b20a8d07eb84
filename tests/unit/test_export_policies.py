"""Least privilege for the export and purge functions: only the export worker may decrypt statements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CHALICE_DIR = Path(__file__).resolve().parents[2] / ".chalice"
STAGES = ("dev", "prod")
FUNCTIONS = {"export_daily": "export-daily", "export_worker": "export", "purge_statements": "purge"}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((CHALICE_DIR / "config.json").read_text(encoding="utf-8"))
    return config


def _statements(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["Statement"])


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_app_defines_the_export_and_purge_functions_the_config_gives_policies() -> None:
    import app

    names = set(app.app.handler_map)
    assert set(FUNCTIONS) <= names
    for stage in STAGES:
        functions = _config()["stages"][stage]["lambda_functions"]
        for function, policy in FUNCTIONS.items():
            assert functions[function]["iam_policy_file"] == f"policy-{stage}-{policy}.json"
            assert (CHALICE_DIR / f"policy-{stage}-{policy}.json").is_file()
        assert functions["export_worker"]["lambda_timeout"] == 900


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_export_worker_may_decrypt_statements(stage: str) -> None:
    for path in sorted(CHALICE_DIR.glob(f"policy-{stage}-*.json")):
        for statement in _statements(path):
            if "kms:Decrypt" in _actions(statement) and f"alias/eci-{stage}-statements" in json.dumps(statement):
                assert path.name == f"policy-{stage}-export.json", path.name
                assert statement["Condition"]["StringEquals"] == {"kms:EncryptionContext:purpose": "eci-statement"}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("policy", sorted(FUNCTIONS.values()))
def test_export_and_purge_policies_name_their_stage_and_no_wildcard_action(stage: str, policy: str) -> None:
    for statement in _statements(CHALICE_DIR / f"policy-{stage}-{policy}.json"):
        assert all("*" not in action for action in _actions(statement)), statement
        resource = json.dumps(statement["Resource"])
        other = "prod" if stage == "dev" else "dev"
        assert f"eci-{other}-" not in json.dumps(statement)
        if _actions(statement) == ["dynamodb:ListBackups"]:
            assert statement["Resource"] == "*"  # ListBackups has no resource type; the purge filters by table
            continue
        if not resource.startswith('"arn:aws:logs') and not resource.startswith('"arn:aws:kms'):
            assert f"eci-{stage}-" in resource, statement


@pytest.mark.parametrize("stage", STAGES)
def test_purge_can_delete_and_read_keys_but_never_decrypt(stage: str) -> None:
    statements = _statements(CHALICE_DIR / f"policy-{stage}-purge.json")
    actions = {action for statement in statements for action in _actions(statement)}

    assert not any(action.startswith("kms:") for action in actions)
    on_statements = [s for s in statements if f"table/eci-{stage}-statements" in json.dumps(s["Resource"])]
    assert not {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:RestoreTableToPointInTime",
                "dynamodb:RestoreTableFromBackup"} & {action for s in on_statements for action in _actions(s)}
    queries = [s["Resource"] for s in statements if "dynamodb:Query" in _actions(s)]
    assert queries == [f"arn:aws:dynamodb:*:*:table/eci-{stage}-counters"], "the operator's records only"
    [scan] = [statement for statement in statements if "dynamodb:Scan" in _actions(statement)]
    assert scan["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == ["pk", "sk"]


@pytest.mark.parametrize("stage", STAGES)
def test_daily_schedule_can_only_hand_the_run_to_the_worker(stage: str) -> None:
    statements = _statements(CHALICE_DIR / f"policy-{stage}-export-daily.json")
    actions = {action for statement in statements for action in _actions(statement)}

    assert actions == {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "lambda:InvokeFunction"}


@pytest.mark.parametrize("stage", STAGES)
def test_export_worker_reads_export_objects_only_through_s3(stage: str) -> None:
    statements = _statements(CHALICE_DIR / f"policy-{stage}-export.json")
    export_decrypts = [s for s in statements if "kms:Decrypt" in _actions(s)
                       and f"alias/eci-{stage}-exports" in json.dumps(s)]

    assert [s["Condition"]["StringLike"] for s in export_decrypts] == [{"kms:ViaService": "s3.*.amazonaws.com"}]


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_export_worker_may_sign_manifests_and_only_with_the_signing_key(stage: str) -> None:
    signers = []
    for path in sorted(CHALICE_DIR.glob(f"policy-{stage}-*.json")):
        for statement in _statements(path):
            if "kms:Sign" in _actions(statement):
                signers.append(path.name)
                assert statement["Condition"] == {
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/eci-{stage}-export-signing"}}
    assert signers == [f"policy-{stage}-export.json"]


@pytest.mark.parametrize("stage", STAGES)
def test_purge_may_end_the_statements_tables_restore_points_and_backups_and_abort_uploads(stage: str) -> None:
    statements = _statements(CHALICE_DIR / f"policy-{stage}-purge.json")

    def resources_of(action: str) -> list[Any]:
        return [s["Resource"] for s in statements if action in _actions(s)]

    table = f"arn:aws:dynamodb:*:*:table/eci-{stage}-statements"
    assert resources_of("dynamodb:UpdateContinuousBackups") == [table]
    assert resources_of("dynamodb:DescribeContinuousBackups") == [table]
    assert resources_of("dynamodb:DeleteBackup") == [f"{table}/backup/*"]
    assert resources_of("dynamodb:ListBackups") == ["*"]
    bucket = f"arn:aws:s3:::eci-{stage}-exports-${{aws:PrincipalAccount}}-*"
    assert resources_of("s3:AbortMultipartUpload") == [f"{bucket}/*"]
    assert resources_of("s3:ListBucketMultipartUploads") == [bucket]
