"""The count function and the recount through Chalice, with the real DynamoDB transaction, on moto."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.counting.exactly_once import DeliveryNotAppliedError
from chalicelib.counting.mapping_settings import REPAIR_AFTER_SECONDS
from chalicelib.counting.ports import (
    CountedRecord,
    CountedState,
    CountTransaction,
    LedgerRefusedError,
    StatementRef,
)
from chalicelib.counting.recount import recount
from chalicelib.local.stream_events import scheduled_event
from chalicelib.signing.ports import StatementRecord
from chalicelib.signing.statement_id import new_statement_id
from chalicelib.storage.counter_writer import COUNTER_SHARDS, FINAL_SORT_KEY, DynamoDBCountLedger, counted_record_of
from chalicelib.storage.counters import DynamoDBCounterReader
from chalicelib.storage.retention_records import DynamoDBRetentionRecords
from chalicelib.storage.statements import DynamoDBStatementStore, statement_bucket, statement_key
from tests.integration.conftest import clear_tables
from tests.unit.test_counting_properties import run_schedule

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


def _sign(settings: Settings, member_state: str, day: date = date(2026, 11, 27)) -> str:
    """A statement stored as the POST path stores it (sealed data made up: counting never reads it)."""
    statement_id = new_statement_id(day)
    record = StatementRecord(INITIATIVE, member_state, statement_id, day, "en", 1, b"sealed")
    assert _store(settings).add(record, uuid.uuid4().hex)
    return statement_id


def _delete(dynamodb: Any, settings: Settings, member_state: str, statement_id: str) -> None:
    key = statement_key(INITIATIVE, member_state, statement_id)
    dynamodb.delete_item(TableName=settings.statements_table, Key={"pk": {"S": key.pk}, "sk": {"S": key.sk}})


def _counts(settings: Settings) -> dict[str, int]:
    import boto3

    reader = DynamoDBCounterReader(boto3.client("dynamodb", region_name=settings.region), settings.counters_table)
    return reader.counts(INITIATIVE)


def _publish_final_counts(settings: Settings, at: datetime = datetime(2031, 1, 1, tzinfo=UTC)) -> None:
    """What the purge does first: the counts become final."""
    import boto3

    records = DynamoDBRetentionRecords(boto3.client("dynamodb", region_name=settings.region), settings.counters_table)
    records.mark_counts_final(INITIATIVE, at)


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
            # Lambda is told to deliver again from the first record not known to be applied.
            response = _deliver(lambda_client, batch)
            assert response == {"batchItemFailures": [{"itemIdentifier": batch[0]["dynamodb"]["SequenceNumber"]}]}
        else:
            # A mapping without ReportBatchItemFailures would take an answer for success: the function fails.
            with pytest.raises(DeliveryNotAppliedError):
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
    _publish_final_counts(empty_tables)
    _delete(dynamodb, empty_tables, "LU", signed[1])
    _deliver(lambda_client, statement_stream())

    assert _counts(empty_tables) == {"LU": 3}
    # The purge's removal took the statement's counted record with it; the others stay until theirs.
    ledger = DynamoDBCountLedger(dynamodb, empty_tables.counters_table)
    records = ledger.counted([_ref("LU", statement) for statement in signed])
    assert [records[_ref("LU", statement)].state for statement in signed] == [
        CountedState.COUNTED, CountedState.ABSENT, CountedState.COUNTED]


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


def test_the_repair_counts_statements_whose_records_never_came_once(
    lambda_client: Client, current: services.Services, empty_tables: Settings, statement_stream: Records,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for state in ("PT", "PT", "ES"):
        _sign(empty_tables, state)
    _deliver(lambda_client, statement_stream())
    for state in ("PT", "IE"):
        _sign(empty_tables, state)
    discarded = statement_stream()  # the mapping gave up on these: never delivered

    with caplog.at_level(logging.INFO):
        # Three States, not the scheduled handler's 27: moto answers some hundred queries a second.
        waiting = recount(INITIATIVE, current.recount_store, current.count_ledger, today=current.today,
                          member_states=["PT", "ES", "IE"])
        assert (waiting.waiting, _counts(empty_tables)) == (2, {"PT": 2, "ES": 1})  # too recent to repair
        later = recount(INITIATIVE, current.recount_store, current.count_ledger, today=current.today,
                        member_states=["PT", "ES", "IE"], now=lambda: time.time() + REPAIR_AFTER_SECONDS + 1)

    assert later.repaired == 2
    assert f"count repaired initiative={INITIATIVE} state=PT counted=1 uncounted=0" in caplog.text
    assert _counts(empty_tables) == {"PT": 3, "ES": 1, "IE": 1}
    _deliver(lambda_client, discarded)  # the records come after all: nothing counts twice
    assert _counts(empty_tables) == {"PT": 3, "ES": 1, "IE": 1}


def test_a_batch_costs_transactions_only_and_no_read(
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

    assert [name.rsplit(".", 1)[1] for name in calls] == ["TransactWriteItems"]
    assert sum(_counts(empty_tables).values()) == 30


def _ref(member_state: str, statement_id: str) -> StatementRef:
    return StatementRef(INITIATIVE, member_state, statement_bucket(statement_id), statement_id)


def test_a_statement_counted_already_is_refused_by_name_and_nothing_is_written(empty_tables: Settings) -> None:
    import boto3

    ledger = DynamoDBCountLedger(boto3.client("dynamodb", region_name=empty_tables.region),
                                 empty_tables.counters_table)
    first, second = _ref("PL", "2026-11-27-a"), _ref("PL", "2026-11-27-b")
    ledger.apply(CountTransaction(count=((first, date(2026, 11, 27)),), not_final=frozenset({INITIATIVE})))

    with pytest.raises(LedgerRefusedError) as refusal:
        ledger.apply(CountTransaction(count=((second, date(2026, 11, 27)), (first, date(2026, 11, 27))),
                                      not_final=frozenset({INITIATIVE})))

    assert (refusal.value.moved, refusal.value.became_final, refusal.value.busy) == ({first}, frozenset(), False)
    assert ledger.counted([first, second]) == {first: CountedRecord(CountedState.COUNTED, date(2026, 11, 27)),
                                               second: CountedRecord(CountedState.ABSENT)}
    assert _counts(empty_tables) == {"PL": 1}


def test_counts_made_final_between_read_and_write_refuse_a_removal_on_dynamodb(
    dynamodb: Any, empty_tables: Settings
) -> None:
    """The FINAL flag is checked inside the transaction, not only when the batch was read."""
    import boto3

    ledger = DynamoDBCountLedger(boto3.client("dynamodb", region_name=empty_tables.region),
                                 empty_tables.counters_table)
    statement = _ref("SE", "2026-11-27-c")
    ledger.apply(CountTransaction(count=((statement, date(2026, 11, 27)),), not_final=frozenset({INITIATIVE})))
    [record] = ledger.counted([statement]).values()  # the count function reads, then the purge publishes
    _publish_final_counts(empty_tables)

    with pytest.raises(LedgerRefusedError) as refusal:
        ledger.apply(CountTransaction(uncount=((statement, record.day or date(2026, 11, 27)),),
                                      not_final=frozenset({INITIATIVE})))

    assert refusal.value.became_final == {INITIATIVE} and not refusal.value.moved
    assert _counts(empty_tables) == {"SE": 1}
    assert ledger.counted([statement])[statement].state is CountedState.COUNTED


def test_once_the_counts_are_final_a_count_is_refused_whichever_shard_its_counters_take(
    dynamodb: Any, empty_tables: Settings
) -> None:
    import boto3

    client = boto3.client("dynamodb", region_name=empty_tables.region)
    _publish_final_counts(empty_tables)
    _publish_final_counts(empty_tables, datetime(2031, 1, 2, tzinfo=UTC))  # each purge run again: the first kept
    for shard in range(COUNTER_SHARDS):
        ledger = DynamoDBCountLedger(client, empty_tables.counters_table, shard=lambda shard=shard: shard)
        with pytest.raises(LedgerRefusedError) as refusal:
            ledger.apply(CountTransaction(count=((_ref("SE", f"2026-11-27-{shard}"), date(2026, 11, 27)),),
                                          not_final=frozenset({INITIATIVE})))
        assert refusal.value.became_final == {INITIATIVE}

    assert _counts(empty_tables) == {}
    flag = dynamodb.get_item(TableName=empty_tables.counters_table,
                             Key={"pk": {"S": INITIATIVE}, "sk": {"S": FINAL_SORT_KEY}})["Item"]
    assert flag["final_at"]["S"].startswith("2031-01-01")


def test_daily_counts_follow_the_signing_day_and_removals(
    lambda_client: Client, dynamodb: Any, empty_tables: Settings, statement_stream: Records
) -> None:
    import boto3

    first = _sign(empty_tables, "NL", date(2026, 11, 26))
    _sign(empty_tables, "NL", date(2026, 11, 27))
    _sign(empty_tables, "BE", date(2026, 11, 27))
    _deliver(lambda_client, statement_stream())
    _delete(dynamodb, empty_tables, "NL", first)
    _deliver(lambda_client, statement_stream())

    reader = DynamoDBCounterReader(boto3.client("dynamodb", region_name=empty_tables.region),
                                   empty_tables.counters_table)
    assert reader.daily_counts(INITIATIVE) == {"2026-11-27": {"NL": 1, "BE": 1}}
    assert reader.counts(INITIATIVE) == {"NL": 1, "BE": 1}


class MotoLedgerView(DynamoDBCountLedger):
    """The DynamoDB ledger on moto, with the read-outs the delivery model checks (scans: small tables)."""

    def __init__(self, settings: Settings) -> None:
        import boto3

        self.client = boto3.client("dynamodb", region_name=settings.region)
        super().__init__(self.client, settings.counters_table)
        self.settings = settings
        self.final: set[str] = set()

    @property
    def records(self) -> dict[StatementRef, CountedRecord]:
        found: dict[StatementRef, CountedRecord] = {}
        for page in self.client.get_paginator("scan").paginate(TableName=self.settings.counters_table):
            for item in page["Items"]:
                parts = item["pk"]["S"].split("#")
                if parts[0] == "C" and len(parts) == 4:
                    found[StatementRef(parts[1], parts[2], int(parts[3]), item["sk"]["S"])] = counted_record_of(item)
        return found

    def counts(self, initiative_id: str) -> dict[str, int]:
        counts = DynamoDBCounterReader(self.client, self.settings.counters_table).counts(initiative_id)
        return {state: number for state, number in counts.items() if number}

    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]:
        days = DynamoDBCounterReader(self.client, self.settings.counters_table).daily_counts(initiative_id)
        return {day: {s: n for s, n in states.items() if n} for day, states in days.items()}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_delivery_model_on_moto_counts_each_statement_exactly_once(aws_settings: Settings,
                                                                        data: st.DataObject) -> None:
    """The model of tests/unit/test_counting_properties.py, fewer schedules, on the real DynamoDB ledger."""
    clear_tables(aws_settings)
    run_schedule(data, lambda _max_items: MotoLedgerView(aws_settings))
