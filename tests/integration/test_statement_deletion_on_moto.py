"""An organiser deletes a statement on the signatory's request, by the identifier on the receipt."""

from __future__ import annotations

import csv
import io
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.signing.ports import StatementRecord
from chalicelib.storage.statement_reader import DynamoDBStatementReader
from chalicelib.storage.statements import DynamoDBStatementStore, statement_bucket, statement_key
from tests.integration.organiser_console import Account, create_account, csrf_of, first_sign_in, get_as, post_as

SIGNING_DAY = date(2026, 11, 27)
FORM = {"content-type": "application/x-www-form-urlencoded"}
POLISH_CITIZEN = {"full_first_names": "Zofia Maria", "family_names": "Wiśniewska-Kowal",
                  "id_number": "44051401359", "privacy_accepted": "yes"}
_numbers = itertools.count()


@pytest.fixture
def client(empty_tables: Settings) -> Iterator[Client]:
    services.use(services.Services(empty_tables, services.check_initiative_file(), today=lambda: SIGNING_DAY))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


@pytest.fixture
def organiser(empty_tables: Settings, client: Client) -> str:
    account = create_account(empty_tables, f"deleting{next(_numbers)}@example.org", "organiser")
    return first_sign_in(client, account)


@pytest.fixture
def viewer(empty_tables: Settings, client: Client) -> str:
    account = create_account(empty_tables, f"looking{next(_numbers)}@example.org", "viewer")
    return first_sign_in(client, Account(account.email, account.password))


def _sign(client: Client, fields: dict[str, str]) -> str:
    form = client.http.get("/sign/PL?lang=en")
    token = re.search(rb'name="form_token" value="([^"]+)"', form.body)
    assert token
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **fields})
    receipt = client.http.post("/sign/PL?lang=en", headers=FORM, body=body)
    found = re.search(rb"<code>([0-9a-f-]{36,47})</code>", receipt.body)
    assert receipt.status_code == 200 and found
    return found.group(1).decode()


def _items(settings: Settings, prefix: str) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    return [item for item in dynamodb.scan(TableName=settings.statements_table)["Items"]
            if item["pk"]["S"].startswith(prefix)]


def _delete(client: Client, session: str, statement_id: str, reason: str = "erasure_request") -> Any:
    return post_as(client, session, "/organiser/statements/delete", csrf=csrf_of(client, session),
                   statement_id=statement_id, reason=reason)


def _count(client: Client, records: list[dict[str, Any]]) -> None:
    answer = client.lambda_.invoke("count_statements", {"Records": records}).payload
    assert not answer.get("batchItemFailures"), answer


def _counted(settings: Settings) -> dict[str, int]:
    from chalicelib.storage.counters import DynamoDBCounterReader

    reader = DynamoDBCounterReader(boto3.client("dynamodb", region_name=settings.region), settings.counters_table)
    return reader.counts(services.current().initiative.id)


def test_organiser_deletes_a_statement_by_its_receipt_identifier_and_the_count_drops_once(
    client: Client, organiser: str, empty_tables: Settings, statement_stream: Callable[[], list[dict[str, Any]]]
) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)
    _count(client, statement_stream())
    assert _counted(empty_tables).get("PL") == 1

    deleted = _delete(client, organiser, statement_id)

    assert deleted.status_code == 200
    assert f"<code>{statement_id}</code> (Member State PL)".encode() in deleted.body
    assert _items(empty_tables, "S#") == [] and _items(empty_tables, "F#") == []
    removals = statement_stream()
    assert [record["eventName"] for record in removals] == ["REMOVE", "REMOVE"]  # statement and marker
    _count(client, removals)
    _count(client, removals)  # delivered again, as Lambda may
    assert _counted(empty_tables).get("PL", 0) == 0


def test_deletion_is_in_the_audit_log_with_identifier_member_state_reason_and_who(
    client: Client, organiser: str
) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    _delete(client, organiser, statement_id, reason="withdrawn_support")

    log = list(csv.DictReader(io.StringIO(get_as(client, organiser, "/organiser/audit.csv").body.decode())))
    [entry] = [row for row in log if row["action"] == "delete_statement" and statement_id in row["details"]]
    assert entry["details"] == f"member_state=PL reason=withdrawn_support statement_id={statement_id}"
    assert entry["actor"] == services.current().organiser_tokens.verify(organiser).subject
    assert "Zofia" not in entry["details"] and "44051401359" not in ",".join(entry.values())


def test_person_may_sign_again_after_the_deletion(client: Client, organiser: str, empty_tables: Settings) -> None:
    _delete(client, organiser, _sign(client, POLISH_CITIZEN))

    again = _sign(client, POLISH_CITIZEN)

    assert [item["sk"]["S"] for item in _items(empty_tables, "S#")] == [again]


def test_identifier_typed_in_capitals_or_with_spaces_finds_the_statement(client: Client, organiser: str) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    assert _delete(client, organiser, f"  {statement_id.upper()} ").status_code == 200


def test_deleting_the_same_statement_twice_says_no_statement_has_this_identifier(
    client: Client, organiser: str
) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)
    _delete(client, organiser, statement_id)

    again = _delete(client, organiser, statement_id)

    assert again.status_code == 404
    assert b"No statement has this identifier" in again.body


@pytest.mark.parametrize("typed", ["", "not-an-id", "1234", "0b7c5a4e-1f2d-4c3b-9a8e-7d6c5b4a3f2",
                                   "2026-13-40-0b7c5a4e-1f2d-4c3b-9a8e-7d6c5b4a3f21",
                                   "{0b7c5a4e-1f2d-4c3b-9a8e-7d6c5b4a3f21}"])
def test_something_that_is_not_an_identifier_gets_a_clear_answer_and_deletes_nothing(
    client: Client, organiser: str, empty_tables: Settings, typed: str
) -> None:
    _sign(client, POLISH_CITIZEN)

    refused = _delete(client, organiser, typed)

    assert refused.status_code == 400
    assert b"That is not a statement identifier." in refused.body
    assert len(_items(empty_tables, "S#")) == 1


def test_unknown_identifier_deletes_nothing(client: Client, organiser: str, empty_tables: Settings) -> None:
    _sign(client, POLISH_CITIZEN)

    refused = _delete(client, organiser, str(uuid.uuid4()))

    assert refused.status_code == 404
    assert len(_items(empty_tables, "S#")) == 1 and len(_items(empty_tables, "F#")) == 1


def test_reason_not_on_the_list_deletes_nothing(client: Client, organiser: str, empty_tables: Settings) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    refused = _delete(client, organiser, statement_id, reason="Zofia called me")

    assert refused.status_code == 400
    assert len(_items(empty_tables, "S#")) == 1


def test_viewer_cannot_delete(client: Client, viewer: str, empty_tables: Settings) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    refused = _delete(client, viewer, statement_id)

    assert refused.status_code == 403
    assert len(_items(empty_tables, "S#")) == 1


def test_deletion_without_the_csrf_token_deletes_nothing(
    client: Client, organiser: str, empty_tables: Settings
) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    refused = post_as(client, organiser, "/organiser/statements/delete", statement_id=statement_id,
                      reason="erasure_request")

    assert refused.status_code == 403
    assert len(_items(empty_tables, "S#")) == 1


def test_deletion_without_a_session_deletes_nothing(client: Client, empty_tables: Settings) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)

    refused = client.http.post("/organiser/statements/delete", headers=FORM,
                               body=urlencode({"statement_id": statement_id, "reason": "erasure_request"}))

    assert refused.status_code == 401
    assert len(_items(empty_tables, "S#")) == 1


def test_statement_stored_before_items_named_their_marker_is_deleted_with_its_marker(
    client: Client, organiser: str, empty_tables: Settings
) -> None:
    statement_id = _sign(client, POLISH_CITIZEN)
    dynamodb = boto3.client("dynamodb", region_name=empty_tables.region)
    [statement] = _items(empty_tables, "S#")
    dynamodb.update_item(TableName=empty_tables.statements_table,
                         Key={"pk": statement["pk"], "sk": statement["sk"]}, UpdateExpression="REMOVE marker_pk")

    assert _delete(client, organiser, statement_id).status_code == 200
    assert _items(empty_tables, "S#") == [] and _items(empty_tables, "F#") == []


def _same_bucket_ids(count: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < count:
        candidate = str(uuid.uuid4())
        if not ids or statement_bucket(candidate) == statement_bucket(ids[0]):
            ids.append(candidate)
    return sorted(ids)


def test_deletion_during_an_export_run_leaves_the_statement_out_unless_the_run_had_read_it(
    client: Client, organiser: str, empty_tables: Settings
) -> None:
    """Defined behaviour: a deletion is never held back by an export. The run exports what it read: a statement
    deleted before the run reached it is not in the run's files; one deleted after is (the audit entry's time
    says which), and no later run has it."""
    dynamodb = boto3.client("dynamodb", region_name=empty_tables.region)
    store = DynamoDBStatementStore(dynamodb, empty_tables.statements_table)
    initiative_id = services.current().initiative.id
    first, second, third = _same_bucket_ids(3)
    for statement_id in (first, second, third):
        record = StatementRecord(initiative_id, "DE", statement_id, SIGNING_DAY, "de", 1, b"sealed")
        assert store.add(record, uuid.uuid4().hex)
    reading = DynamoDBStatementReader(dynamodb, empty_tables.statements_table, page_size=1).statements(
        initiative_id, "DE", statement_bucket(first))

    exported = [next(reading).statement_id]  # the run has read the first statement
    assert _delete(client, organiser, first).status_code == 200  # deleted after it was read
    assert _delete(client, organiser, third).status_code == 200  # deleted before the run reached it
    exported += [statement.statement_id for statement in reading]

    assert exported == [first, second]
    assert [item["sk"]["S"] for item in _items(empty_tables, "S#")] == [second]
    assert statement_key(initiative_id, "DE", first).pk.startswith("S#")
