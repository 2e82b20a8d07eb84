"""`make run`'s stream pump on moto: what a person signs reaches the counters, as Lambda would carry it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.local.stream_pump import StreamPump, first_failed_record, stream_pumps, streams_client
from chalicelib.storage.counters import DynamoDBCounterReader

POLISH_CITIZEN = {
    "full_first_names": "Zofia Maria",
    "family_names": "Wiśniewska-Kowal",
    "id_number": "44051401359",
    "privacy_accepted": "yes",
}


@pytest.fixture
def client(empty_tables: Settings) -> Iterator[Client]:
    services.use(services.Services(empty_tables, services.check_initiative_file(), today=lambda: date(2026, 11, 27)))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


def _sign(client: Client, code: str, fields: dict[str, str]) -> int:
    page = client.http.get(f"/sign/{code}?lang=en")
    token = re.search(rb'name="form_token" value="([^"]+)"', page.body)
    assert token
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **fields})
    response = client.http.post(f"/sign/{code}?lang=en", body=body,
                                headers={"content-type": "application/x-www-form-urlencoded"})
    return int(response.status_code)


def _counts(settings: Settings) -> dict[str, int]:
    import boto3

    client = boto3.client("dynamodb", region_name=settings.region)
    return DynamoDBCounterReader(client, settings.counters_table).counts("demo-2026")


def test_a_polish_citizen_signs_and_one_pump_later_poland_counts_one(
    client: Client, empty_tables: Settings, moto_env: dict[str, str]
) -> None:
    [pump] = stream_pumps(app_module.app, starting_position="LATEST", stream_arn=moto_env["STATEMENTS_STREAM_ARN"])
    pump.pump_once()  # at the stream's end: earlier tests' records are not this one's

    assert _sign(client, "PL", POLISH_CITIZEN) == 200
    delivered = pump.pump_once()

    assert delivered == 3  # the statement, its duplicate marker and its form's nonce
    assert _counts(empty_tables) == {"PL": 1}


def test_a_batch_whose_handler_fails_is_delivered_again_as_it_was(
    empty_tables: Settings, moto_env: dict[str, str]
) -> None:
    import boto3

    delivered: list[list[str]] = []

    def fail_once(event: dict[str, Any]) -> None:
        delivered.append([record["eventID"] for record in event["Records"]])
        if len(delivered) == 1:
            raise RuntimeError("the count function's first attempt dies")

    pump = StreamPump(streams_client(empty_tables.region), moto_env["STATEMENTS_STREAM_ARN"], fail_once,
                      starting_position="LATEST")
    pump.pump_once()
    dynamodb = boto3.client("dynamodb", region_name=empty_tables.region)
    for number in range(3):
        dynamodb.put_item(TableName=empty_tables.statements_table,
                          Item={"pk": {"S": f"F#demo-2026#{number}"}, "sk": {"S": "F"}})

    assert pump.pump_once() == 0
    assert pump.pump_once() == 3
    assert pump.pump_once() == 0
    assert len(delivered) == 2 and delivered[0] == delivered[1] and len(delivered[0]) == 3
    assert pump.failures == 1


def test_a_batch_answered_with_a_partial_failure_is_delivered_again_from_the_record_named(
    empty_tables: Settings, moto_env: dict[str, str]
) -> None:
    import boto3

    delivered: list[list[str]] = []

    def fail_from_the_second_once(event: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
        records = event["Records"]
        delivered.append([record["eventID"] for record in records])
        if len(delivered) == 1:
            return {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    pump = StreamPump(streams_client(empty_tables.region), moto_env["STATEMENTS_STREAM_ARN"],
                      fail_from_the_second_once, starting_position="LATEST")
    pump.pump_once()
    dynamodb = boto3.client("dynamodb", region_name=empty_tables.region)
    for number in range(3):
        dynamodb.put_item(TableName=empty_tables.statements_table,
                          Item={"pk": {"S": f"F#demo-2026#{number}"}, "sk": {"S": "F"}})

    assert pump.pump_once() == 1  # the first record is done; the rest comes again
    assert pump.pump_once() == 2
    assert delivered[1] == delivered[0][1:]
    assert pump.failures == 1


def test_a_partial_failure_naming_no_record_of_the_batch_fails_the_whole_batch() -> None:
    records = [{"dynamodb": {"SequenceNumber": str(number)}} for number in (100, 200, 300)]

    assert first_failed_record({"batchItemFailures": []}, records) is None
    assert first_failed_record(None, records) is None
    assert first_failed_record({"batchItemFailures": [{"itemIdentifier": "300"}, {"itemIdentifier": "200"}]},
                               records) == 1
    assert first_failed_record({"batchItemFailures": [{"itemIdentifier": ""}]}, records) == 0
    assert first_failed_record({"batchItemFailures": [{"itemIdentifier": "999"}]}, records) == 0


def _recording_pump(settings: Settings, moto_env: dict[str, str]) -> tuple[StreamPump, list[str]]:
    """A pump at the stream's end that records the partition key of every record it delivers."""
    delivered: list[str] = []

    def record(event: dict[str, Any]) -> None:
        delivered.extend(record["dynamodb"]["Keys"]["pk"]["S"] for record in event["Records"])

    pump = StreamPump(streams_client(settings.region), moto_env["STATEMENTS_STREAM_ARN"], record,
                      starting_position="LATEST")
    pump.pump_once()
    return pump, delivered


def _put(settings: Settings, *names: str) -> None:
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    for name in names:
        dynamodb.put_item(TableName=settings.statements_table, Item={"pk": {"S": name}, "sk": {"S": "S"}})


def _sign_twice_in_one_cancelled_transaction(settings: Settings) -> None:
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    marker = {"pk": {"S": "F#demo-2026#same-person"}, "sk": {"S": "F"}}
    dynamodb.put_item(TableName=settings.statements_table, Item=marker)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": settings.statements_table, "Item": {"pk": {"S": "rolled-back"}, "sk": {"S": "S"}}}},
            {"Put": {"TableName": settings.statements_table, "Item": marker,
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])


@pytest.mark.parametrize("rollback", ["moto's own, swapping in a copy of the table", "the local system's"])
def test_after_a_duplicate_signature_the_pump_delivers_every_later_record_once(
    empty_tables: Settings, moto_env: dict[str, str], rollback: str
) -> None:
    from chalicelib.local import moto_rollback

    pump, delivered = _recording_pump(empty_tables, moto_env)
    _put(empty_tables, "before")
    while pump.pump_once():
        pass
    if rollback.startswith("moto's own"):
        with moto_rollback.suspended():
            _sign_twice_in_one_cancelled_transaction(empty_tables)
    else:
        _sign_twice_in_one_cancelled_transaction(empty_tables)
    _put(empty_tables, "after-1", "after-2", "after-3")
    while pump.pump_once():
        pass

    assert delivered == ["before", "F#demo-2026#same-person", "after-1", "after-2", "after-3"]


def test_a_delivered_record_that_moto_then_rolls_back_does_not_hide_the_record_written_in_its_place(
    empty_tables: Settings, moto_env: dict[str, str]
) -> None:
    """moto alone streams a transaction's writes before it is cancelled; a pump may deliver one of them."""
    import boto3
    from moto.dynamodb.models import dynamodb_backends

    pump, delivered = _recording_pump(empty_tables, moto_env)
    _put(empty_tables, "rolled-back")
    pump.pump_once()
    account = boto3.client("sts", region_name=empty_tables.region).get_caller_identity()["Account"]
    shard = dynamodb_backends[account][empty_tables.region].tables[empty_tables.statements_table].stream_shard
    shard.items.pop()  # as moto's swap does: the shard as it was before that write
    _put(empty_tables, "written-in-its-place")
    while pump.pump_once():
        pass

    assert delivered == ["rolled-back", "written-in-its-place"]


def test_a_pump_resumed_after_a_restart_delivers_only_what_came_after(
    empty_tables: Settings, moto_env: dict[str, str]
) -> None:
    first, delivered_before = _recording_pump(empty_tables, moto_env)
    _put(empty_tables, "before-1", "before-2")
    while first.pump_once():
        pass
    _put(empty_tables, "after-1")

    delivered: list[str] = []
    second = StreamPump(streams_client(empty_tables.region), moto_env["STATEMENTS_STREAM_ARN"],
                        lambda event: delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]))
    second.resume({**first.positions(), "shardId-of-a-table-since-deleted": ("1", "gone")})
    while second.pump_once():
        pass

    assert delivered_before == ["before-1", "before-2"]
    assert delivered == ["after-1"]
