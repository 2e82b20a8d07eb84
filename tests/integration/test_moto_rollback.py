"""The local system's fix of moto's transaction rollback (chalicelib/local/moto_rollback.py).

A tester who signs twice cancels a transaction: the answer must be moto's own (same cancellation reasons),
nothing of the cancelled transaction may remain (items or stream records), and the table must stay the same
object, so the stream pump keeps reading it and no copy of the whole table is made. The property test runs
random transactions on two fresh moto backends, one with moto's own rollback and one with the fix, and
requires the same answers, items and stream records after each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.config import PROJECT_ROOT, Settings
from chalicelib.local import moto_rollback

REGION = "eu-central-1"


def _server_table(settings: Settings) -> Any:
    """The moto server's own Table object (the server runs in this process)."""
    from moto.dynamodb.models import dynamodb_backends

    account = boto3.client("sts", region_name=settings.region).get_caller_identity()["Account"]
    return dynamodb_backends[account][settings.region].tables[settings.statements_table]


def _duplicate_signature(settings: Settings) -> list[dict[str, Any]]:
    """A statement and its duplicate marker, as a second signature by the same person writes them."""
    table = settings.statements_table
    return [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "S#demo-2026#PL"}, "sk": {"S": "S#second"}}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "F#demo-2026#same-person"}, "sk": {"S": "F"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


@pytest.fixture
def first_signature(empty_tables: Settings) -> Iterator[Settings]:
    dynamodb: Any = boto3.client("dynamodb", region_name=empty_tables.region)
    dynamodb.put_item(TableName=empty_tables.statements_table,
                      Item={"pk": {"S": "F#demo-2026#same-person"}, "sk": {"S": "F"}, "first": {"S": "yes"}})
    yield empty_tables


def _stream_after_now(settings: Settings) -> Any:
    streams: Any = boto3.client("dynamodbstreams", region_name=settings.region)
    arn = boto3.client("dynamodb", region_name=settings.region).describe_table(
        TableName=settings.statements_table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    return lambda: streams.get_records(ShardIterator=iterator)["Records"]


def _cancel(settings: Settings) -> dict[str, Any]:
    dynamodb: Any = boto3.client("dynamodb", region_name=settings.region)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as cancelled:
        dynamodb.transact_write_items(TransactItems=_duplicate_signature(settings))
    response: dict[str, Any] = cancelled.value.response
    return response


def test_a_second_signature_is_refused_with_moto_own_cancellation_reasons(first_signature: Settings) -> None:
    with moto_rollback.suspended():
        moto_own = _cancel(first_signature)
    fixed = _cancel(first_signature)

    assert fixed["CancellationReasons"] == moto_own["CancellationReasons"] == [
        {"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]
    assert fixed["Error"] == moto_own["Error"]


def test_nothing_of_a_cancelled_signature_is_stored_or_streamed(first_signature: Settings) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=first_signature.region)
    stream = _stream_after_now(first_signature)

    _cancel(first_signature)

    items = dynamodb.scan(TableName=first_signature.statements_table)["Items"]
    assert items == [{"pk": {"S": "F#demo-2026#same-person"}, "sk": {"S": "F"}, "first": {"S": "yes"}}]
    assert stream() == []


def test_a_cancelled_transaction_leaves_the_table_in_place_where_moto_alone_swaps_in_a_copy(
    first_signature: Settings,
) -> None:
    before = _server_table(first_signature)
    _cancel(first_signature)
    assert _server_table(first_signature) is before

    with moto_rollback.suspended():
        _cancel(first_signature)
    assert _server_table(first_signature) is not before  # what the fix removes: the pump read `before`


def test_a_committed_transaction_streams_its_records_in_order(empty_tables: Settings) -> None:
    dynamodb: Any = boto3.client("dynamodb", region_name=empty_tables.region)
    stream = _stream_after_now(empty_tables)
    items = [{"pk": {"S": f"S#demo-2026#PL#{number}"}, "sk": {"S": "S"}} for number in range(3)]

    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": empty_tables.statements_table, "Item": item}} for item in items])

    records = stream()
    assert [record["dynamodb"]["Keys"] for record in records] == items
    sequence = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert sequence == list(range(sequence[0], sequence[0] + 3))


def test_the_fix_is_pinned_to_the_moto_releases_requirements_dev_names() -> None:
    requirements = (PROJECT_ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^moto\[[^\]]*\]([^\s#]+)", requirements, re.MULTILINE)

    assert pinned is not None and pinned.group(1) == moto_rollback.MOTO_VERSIONS
    moto_rollback.check_moto()  # the installed moto is one of them, with the lines the fix relies on


def test_the_fix_refuses_loudly_a_moto_release_it_was_not_written_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_rollback, "installed_moto_version", lambda: (6, 0, 0))
    with pytest.raises(moto_rollback.MotoInternalsChangedError, match=r"moto 6\.0\.0 is installed"):
        moto_rollback.check_moto()


def test_the_fix_refuses_loudly_when_moto_no_longer_copies_and_swaps_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(moto_rollback, "_RELIED_ON", (*moto_rollback._RELIED_ON, "a line moto never had"))
    with pytest.raises(moto_rollback.MotoInternalsChangedError, match="a line moto never had"):
        moto_rollback.check_moto()


def test_the_patch_module_says_what_moto_does_and_what_it_changes() -> None:
    text = Path(moto_rollback.__file__).read_text(encoding="utf-8")
    assert "What moto 5.2 does" in text and "What this patch changes" in text


# --- the same transactions on moto alone and with the fix --------------------------------------------

_KEYS = ["a", "b", "c"]
_RANGED, _HASH_ONLY = "ranged", "hash-only"


def _backend() -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend(REGION, "123456789012")
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    backend.create_table(_RANGED, schema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}],
                         throughput=None, attr=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                         global_indexes=None, indexes=None, streams=stream, billing_mode="PAY_PER_REQUEST",
                         sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None)
    backend.create_table(_HASH_ONLY, schema=[{"AttributeName": "pk", "KeyType": "HASH"}], throughput=None,
                         attr=[{"AttributeName": "pk", "AttributeType": "S"}], global_indexes=None, indexes=None,
                         streams=stream, billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
                         deletion_protection_enabled=False, warm_throughput=None)
    return backend


_CONDITIONS = st.sampled_from([None, "attribute_not_exists(pk)", "attribute_exists(pk)", "v < :limit"])


@st.composite
def _operation(draw: st.DrawFn) -> dict[str, Any]:
    table = draw(st.sampled_from([_RANGED, _HASH_ONLY]))
    key = {"pk": {"S": draw(st.sampled_from(_KEYS))}}
    if table == _RANGED:
        key["sk"] = {"S": draw(st.sampled_from(["1", "2"]))}
    kind = draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"]))
    condition = draw(_CONDITIONS)
    if kind == "ConditionCheck" and condition is None:
        condition = "attribute_exists(pk)"
    operation: dict[str, Any] = {"TableName": table}
    values: dict[str, Any] = {}
    if kind == "Put":
        operation["Item"] = {**key, "v": {"N": str(draw(st.integers(0, 3)))}}
    else:
        operation["Key"] = key
    if kind == "Update":
        # "v + :one" fails on an item without v: an error moto reports among the reasons.
        operation["UpdateExpression"] = draw(st.sampled_from(["SET v = v + :one", "SET w = :one"]))
        values[":one"] = {"N": "1"}
    if condition is not None:
        operation["ConditionExpression"] = condition
        if ":limit" in condition:
            values[":limit"] = {"N": "2"}
    if values:
        operation["ExpressionAttributeValues"] = values
    return {kind: operation}


def _outcome(backend: Any, transaction: list[dict[str, Any]]) -> tuple[str, str]:
    try:
        backend.transact_write_items(transaction)
    except Exception as error:
        return type(error).__name__, str(getattr(error, "description", error))
    return "committed", ""


def _state(backend: Any) -> tuple[list[list[str]], list[list[Any]]]:
    import json

    tables = []
    streams = []
    for name in (_RANGED, _HASH_ONLY):
        table = backend.get_table(name)
        items = [item for partition in table.items.values()
                 for item in (partition.values() if table.range_key_attr else [partition])]
        tables.append(sorted(json.dumps(item.to_json(), sort_keys=True) for item in items))
        streams.append([(record.record["eventName"], record.record["dynamodb"]["SequenceNumber"],
                         json.dumps({key: value for key, value in record.record["dynamodb"].items()
                                     if key not in ("ApproximateCreationDateTime", "SizeBytes")}, sort_keys=True))
                        for record in table.stream_shard.items])
    return tables, streams


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_operation(), min_size=1, max_size=4), min_size=1, max_size=6))
def test_every_transaction_ends_as_moto_alone_ends_it(transactions: list[list[dict[str, Any]]]) -> None:
    alone, fixed = _backend(), _backend()
    for transaction in transactions:
        with moto_rollback.suspended():
            expected = _outcome(alone, transaction)
        moto_rollback.install()
        assert _outcome(fixed, transaction) == expected
        assert _state(fixed) == _state(alone)
