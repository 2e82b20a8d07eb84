"""One form, one statement: the form token's nonce is written with the statement, and a replay is told
apart from a duplicate without telling anyone whether the person had signed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.signing.ports import FormNonce, FormReplayedError, StatementRecord
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.statements import EXPIRES_ATTRIBUTE, DynamoDBStatementStore, nonce_key

INITIATIVE = "demo-2026"
EXPIRES = 1_790_007_200


def _record() -> StatementRecord:
    return StatementRecord(INITIATIVE, "PL", str(uuid.uuid4()), date(2026, 11, 27), "pl", 1, b"sealed")


def _nonce() -> FormNonce:
    return FormNonce(uuid.uuid4().hex[:12], EXPIRES)


def _items(settings: Settings, prefix: str) -> list[dict[str, Any]]:
    dynamodb: Any = boto3.client("dynamodb", region_name=settings.region)
    items = dynamodb.scan(TableName=settings.statements_table)["Items"]
    return [item for item in items if item["pk"]["S"].startswith(prefix)]


@pytest.fixture
def store(empty_tables: Settings, aws_clients: AwsClients) -> DynamoDBStatementStore:
    return DynamoDBStatementStore(aws_clients.dynamodb, empty_tables.statements_table)


@pytest.fixture
def calls_to(aws_clients: AwsClients) -> Iterator[list[str]]:
    names: list[str] = []

    def record(model: Any, **_: Any) -> None:
        names.append(model.name)

    events = aws_clients.dynamodb.meta.events
    events.register("before-call.dynamodb", record)
    yield names
    events.unregister("before-call.dynamodb", record)


def test_statement_marker_and_form_nonce_are_one_write_and_the_nonce_expires(
    store: DynamoDBStatementStore, empty_tables: Settings, calls_to: list[str]
) -> None:
    nonce = _nonce()

    assert store.add(_record(), "a" * 64, nonce) is True

    assert calls_to == ["TransactWriteItems"]
    [stored_nonce] = _items(empty_tables, "T#")
    assert stored_nonce["pk"]["S"] == nonce_key(INITIATIVE, nonce.value).pk
    assert stored_nonce[EXPIRES_ATTRIBUTE] == {"N": str(EXPIRES)}
    assert set(stored_nonce) == {"pk", "sk", "initiative_id", EXPIRES_ATTRIBUTE}  # nothing about the person
    assert EXPIRES_ATTRIBUTE not in _items(empty_tables, "S#")[0]  # statements never expire by TTL


def test_statements_table_expires_what_carries_the_ttl_attribute(empty_tables: Settings) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=empty_tables.region)
    described = dynamodb.describe_time_to_live(TableName=empty_tables.statements_table)["TimeToLiveDescription"]

    assert (described["TimeToLiveStatus"], described["AttributeName"]) == ("ENABLED", EXPIRES_ATTRIBUTE)


def test_form_sent_again_for_another_person_is_a_replay_and_stores_nothing(
    store: DynamoDBStatementStore, empty_tables: Settings
) -> None:
    nonce = _nonce()
    assert store.add(_record(), "a" * 64, nonce) is True

    with pytest.raises(FormReplayedError):
        store.add(_record(), "b" * 64, nonce)

    assert len(_items(empty_tables, "S#")) == 1 and len(_items(empty_tables, "F#")) == 1


def test_form_sent_again_for_the_same_person_is_a_replay_not_a_duplicate(store: DynamoDBStatementStore) -> None:
    nonce = _nonce()
    assert store.add(_record(), "a" * 64, nonce) is True

    with pytest.raises(FormReplayedError):
        store.add(_record(), "a" * 64, nonce)


def test_a_duplicates_form_is_used_up_like_any_other(
    store: DynamoDBStatementStore, empty_tables: Settings, calls_to: list[str]
) -> None:
    # Were it not, a second use of the token would pass after a duplicate but not after a new statement.
    assert store.add(_record(), "a" * 64, _nonce()) is True
    duplicates_form = _nonce()

    calls_to.clear()
    assert store.add(_record(), "a" * 64, duplicates_form) is False
    assert calls_to == ["TransactWriteItems", "PutItem"]  # the cancelled write, then the nonce alone
    with pytest.raises(FormReplayedError):
        store.add(_record(), "c" * 64, duplicates_form)

    assert len(_items(empty_tables, "S#")) == 1
    assert {item["pk"]["S"] for item in _items(empty_tables, "T#")} >= {nonce_key(INITIATIVE, duplicates_form.value).pk}


class _ReportsOnlyTheFirstFailure:
    """A DynamoDB client whose cancellations name only the first failed condition: AWS does not promise
    to report them all, and the answer must not depend on which it reports."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            return self._client.transact_write_items(**kwargs)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response["CancellationReasons"]
            first = next(i for i, reason in enumerate(reasons) if reason.get("Code") not in (None, "None"))
            error.response["CancellationReasons"] = [
                reason if i == first else {"Code": "None"} for i, reason in enumerate(reasons)]
            raise

    def put_item(self, **kwargs: Any) -> Any:
        return self._client.put_item(**kwargs)


def test_replay_of_a_used_form_for_someone_who_signed_is_a_replay_whatever_dynamodb_reports(
    empty_tables: Settings, aws_clients: AwsClients
) -> None:
    store = DynamoDBStatementStore(_ReportsOnlyTheFirstFailure(aws_clients.dynamodb), empty_tables.statements_table)
    nonce = _nonce()
    assert store.add(_record(), "a" * 64, _nonce()) is True  # the person signed earlier
    assert store.add(_record(), "b" * 64, nonce) is True  # the form is used for someone else

    with pytest.raises(FormReplayedError):  # only the marker's failure is reported: still a replay
        store.add(_record(), "a" * 64, nonce)
