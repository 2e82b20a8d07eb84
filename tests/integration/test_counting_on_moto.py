"""The count function and the recount through Chalice, with the real DynamoDB transaction, on moto."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.counting.recount import recount
from chalicelib.local.stream_events import scheduled_event
from chalicelib.signing.ports import StatementRecord
from chalicelib.storage.counter_writer import FINAL_SORT_KEY, DynamoDBCountLedger
from chalicelib.storage.counters import DynamoDBCounterReader
from chalicelib.storage.statements import DynamoDBStatementStore, statement_key

INITIATIVE = "demo-2026"  # the demo initiative's id: the recount recounts the configured initiative
Records = Callable[[], list[dict[str, Any]]]


class CrashAfterWrite(Exception):  # noqa: N818 - the simulated event, not an error of the code
    pass


@pytest.fixture
def dynamodb(empty_tables: Settings) -> Any:
    import boto3

    return boto3.client("dynamodb", region_name=empty_tables.region)


@pytest.fixture
def current(empty_tables: Settings) -> Iterator[services.Services]:
    configured = services.Services(empty_tables, services.check_initiative_file(), today=lambda: date(2026, 11, 27))
    services.use(configured)
    yield configured
    services.use(None)


@pytest.fixture
def lambda_client(current: services.Services) -> Iterator[Client]:
    with Client(app_module.app) as client:
        yield client


def _deliver(client: Client, records: list[dict[str, Any]]) -> Any:
    """The function's answer to Lambda: its partial batch response."""
    return client.lambda_.invoke("count_statements", {"Records": records}).payload


def _store(settings: Settings) -> DynamoDBStatementStore:
    import boto3

    return DynamoDBStatementStore(boto3.client("dynamodb", region_name=settings.region), settings.statements_table)


def _sign(settings: Settings, member_state: str) -> str:
    """A statement stored as the POST path stores it (sealed data made up: counting never reads it)."""
    statement_id = str(uuid.uuid4())
    record = StatementRecord(INITIATIVE, member_state, statement_id, date(2026, 11, 27), "en", 1, b"sealed")
    assert _store(settings).add(record, uuid.uuid4().hex)
    return statement_id


def _delete(dynamodb: Any, settings: Settings, member_state: str, statement_id: str) -> None:
    key = statement_key(INITIATIVE, member_state, statement_id)
    dynamodb.delete_item(TableName=settings.statements_table, Key={"pk": {"S": key.pk}, "sk": {"S": key.sk}})


def _counts(settings: Settings) -> dict[str, int]:
    import boto3

    reader = DynamoDBCounterReader(boto3.client("dynamodb", region_name=settings.region), settings.counters_table)
    return reader.counts(INITIATIVE)


def _statement_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["dynamodb"]["Keys"]["pk"]["S"].startswith("S#")]


def test_signatures_count_once_when_lambda_delivers_their_batch_twice(
    lambda_client: Client, empty_tables: Settings, statement_stream: Records
) -> None:
    for state in ("PL", "PL", "DE"):
        _sign(empty_tables, state)
    batch = statement_stream()

    _deliver(lambda_client, batch)
    _deliver(lambda_client, batch)

    assert _counts(empty_tables) == {"PL": 2, "DE": 1}


@pytest.mark.parametrize("reports_item_failures", [True, False], ids=["partial-batch-response", "plain-mapping"])
def test_a_crash_after_the_counters_were_written_then_the_redelivery_counts_once(
    empty_tables: Settings, statement_stream: Records, reports_item_failures: bool
) -> None:
    import boto3

    settings = replace(empty_tables, count_reports_item_failures=reports_item_failures)
    current = services.Services(settings, services.check_initiative_file(), today=lambda: date(2026, 11, 27))
    services.use(current)
    for state in ("FR", "FR", "IT"):
        _sign(empty_tables, state)
    batch = statement_stream()
    client = boto3.client("dynamodb", region_name=empty_tables.region)
    current.__dict__["count_ledger"] = DynamoDBCountLedger(client, empty_tables.counters_table)

    def crash(**_: Any) -> None:
        raise CrashAfterWrite("the transaction is written, then its response is lost")

    with Client(app_module.app) as lambda_client:
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", crash)
        if reports_item_failures:
            # Lambda is told to deliver again from the first record: the retry finds this delivery's marker.
            response = _deliver(lambda_client, batch)
            assert response == {"batchItemFailures": [{"itemIdentifier": batch[0]["dynamodb"]["SequenceNumber"]}]}
        else:
            # A mapping without ReportBatchItemFailures would take an answer for success: the function fails.
            with pytest.raises(CrashAfterWrite):
                _deliver(lambda_client, batch)
        client.meta.events.unregister("after-call.dynamodb.TransactWriteItems", crash)
        assert _counts(empty_tables) == {"FR": 2, "IT": 1}

        _deliver(lambda_client, batch[:1])  # Lambda retries, this time with a smaller batch
        _deliver(lambda_client, batch[1:])  # and moves on
    services.use(None)

    assert _counts(empty_tables) == {"FR": 2, "IT": 1}


def test_two_shards_interleaved_count_every_statement_once(
    lambda_client: Client, empty_tables: Settings, statement_stream: Records
) -> None:
    for state in ("PL", "DE", "PL", "AT", "DE", "PL"):
        _sign(empty_tables, state)
    records = statement_stream()
    shard_one, shard_two = records[0::2], records[1::2]  # moto has one shard: deal its records to two

    _deliver(lambda_client, shard_one[:3])
    _deliver(lambda_client, shard_two[:2])
    _deliver(lambda_client, shard_one[:3])  # shard one's batch again
    _deliver(lambda_client, shard_one[3:])
    _deliver(lambda_client, shard_two[2:])

    assert _counts(empty_tables) == {"PL": 3, "DE": 2, "AT": 1}


def test_an_organiser_deleting_an_invalid_statement_lowers_its_states_count(
    lambda_client: Client, dynamodb: Any, empty_tables: Settings, statement_stream: Records
) -> None:
    invalid = _sign(empty_tables, "NL")
    _sign(empty_tables, "NL")
    _deliver(lambda_client, statement_stream())

    _delete(dynamodb, empty_tables, "NL", invalid)
    _deliver(lambda_client, statement_stream())

    assert _counts(empty_tables) == {"NL": 1}


def test_destruction_by_ttl_or_after_the_final_counts_leaves_the_published_counts_unchanged(
    lambda_client: Client, dynamodb: Any, empty_tables: Settings, statement_stream: Records
) -> None:
    signed = [_sign(empty_tables, "LU") for _ in range(3)]
    _deliver(lambda_client, statement_stream())

    _delete(dynamodb, empty_tables, "LU", signed[0])
    [expired] = _statement_records(statement_stream())
    expired["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}  # as TTL removes
    _deliver(lambda_client, [expired])
    dynamodb.put_item(TableName=empty_tables.counters_table,
                      Item={"pk": {"S": INITIATIVE}, "sk": {"S": FINAL_SORT_KEY}})
    _delete(dynamodb, empty_tables, "LU", signed[1])
    _deliver(lambda_client, statement_stream())

    assert _counts(empty_tables) == {"LU": 3}


def test_a_poison_record_is_dead_lettered_the_batch_counts_and_the_recount_reports_it(
    lambda_client: Client, dynamodb: Any, empty_tables: Settings, statement_stream: Records,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _sign(empty_tables, "CZ")
    _sign(empty_tables, "SK")
    first, second = _statement_records(statement_stream())
    poison = {**second, "eventID": uuid.uuid4().hex,
              "dynamodb": {**second["dynamodb"], "Keys": {"pk": {"S": "S#demo-2026#CZ#99"}, "sk": {"S": "x"}}}}

    _deliver(lambda_client, [first, poison, second])
    _deliver(lambda_client, [first, poison, second])
    with caplog.at_level(logging.INFO):
        lambda_client.lambda_.invoke("recount_statements", scheduled_event("recount_statements", "eu-central-1"))

    assert _counts(empty_tables) == {"CZ": 1, "SK": 1}
    [letter] = dynamodb.query(
        TableName=empty_tables.counters_table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"DEADLETTER#{INITIATIVE}"}},
    )["Items"]
    assert letter["sequence_number"]["S"] == second["dynamodb"]["SequenceNumber"]
    assert letter["reason"]["S"] == "malformed statement key"
    assert set(letter) == {"pk", "sk", "record_id", "reason", "recorded_at", "sequence_number", "event_name",
                           "partition_key"}
    sequence = second["dynamodb"]["SequenceNumber"]
    assert f"dead letter initiative={INITIATIVE} sequence={sequence}" in caplog.text
    assert f"dead letters initiative={INITIATIVE} total=1" in caplog.text


def test_the_recount_reports_drift_and_corrects_it_when_the_next_run_sees_it_again(
    lambda_client: Client, current: services.Services, dynamodb: Any, empty_tables: Settings, statement_stream: Records,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for state in ("PT", "PT", "ES"):
        _sign(empty_tables, state)
    _deliver(lambda_client, statement_stream())
    dynamodb.update_item(  # a counter gone wrong by hand
        TableName=empty_tables.counters_table, Key={"pk": {"S": INITIATIVE}, "sk": {"S": "MS#PT"}},
        UpdateExpression="SET signatories = :wrong", ExpressionAttributeValues={":wrong": {"N": "7"}},
    )
    store = current.recount_store

    with caplog.at_level(logging.INFO):
        # Three States, not the scheduled handler's 27: moto answers some hundred queries a second.
        recount(INITIATIVE, store, ["PT", "ES", "IE"])
        assert _counts(empty_tables)["PT"] == 7  # seen once: it might still be the stream catching up
        recount(INITIATIVE, store, ["PT", "ES", "IE"])

    assert f"count drift initiative={INITIATIVE} state=PT counted=7 recounted=2" in caplog.text
    assert _counts(empty_tables) == {"PT": 2, "ES": 1}
    _sign(empty_tables, "PT")  # and counting goes on from the corrected value
    _deliver(lambda_client, statement_stream())
    assert _counts(empty_tables) == {"PT": 3, "ES": 1}


def test_a_batch_costs_one_read_and_one_transaction(
    lambda_client: Client, current: services.Services, empty_tables: Settings, statement_stream: Records
) -> None:
    import boto3

    for index in range(30):
        _sign(empty_tables, ("PL", "DE", "FR", "IT", "ES")[index % 5])
    batch = statement_stream()
    client = boto3.client("dynamodb", region_name=empty_tables.region)
    current.__dict__["count_ledger"] = DynamoDBCountLedger(client, empty_tables.counters_table)
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda event_name, **_: calls.append(event_name))

    _deliver(lambda_client, batch)

    assert [name.rsplit(".", 1)[1] for name in calls] == ["BatchGetItem", "TransactWriteItems"]
    assert sum(_counts(empty_tables).values()) == 30


def test_progress_markers_expire_by_ttl_on_the_counters_table(aws_settings: Settings, dynamodb: Any) -> None:
    described = dynamodb.describe_time_to_live(TableName=aws_settings.counters_table)["TimeToLiveDescription"]

    assert (described["TimeToLiveStatus"], described["AttributeName"]) == ("ENABLED", "expires_at")


def test_a_delivery_that_read_a_marker_since_moved_is_refused_and_writes_nothing(empty_tables: Settings) -> None:
    import boto3

    from chalicelib.counting.ports import CountTransaction, LedgerConflictError

    ledger = DynamoDBCountLedger(boto3.client("dynamodb", region_name=empty_tables.region),
                                 empty_tables.counters_table)
    first = CountTransaction("event-1", 0, ("event-1",), {(INITIATIVE, "PL"): 1})
    ledger.apply(first)

    with pytest.raises(LedgerConflictError):
        ledger.apply(first)  # a second delivery that read the marker before the first wrote it
    ledger.continue_run("event-2", ("event-2", "event-3"))
    ledger.continue_run("event-2", ("event-2",))  # a shorter run never replaces a longer one

    state = ledger.read("event-2", [INITIATIVE])
    assert state.marker.record_ids == ("event-2", "event-3") and state.final_initiatives == frozenset()
    assert ledger.read("event-1", []).marker.version == 1
    assert _counts(empty_tables) == {"PL": 1}
