"""The count function's writes to the counters table: one read and one TransactWriteItems per batch.

Items of the counters table (keys pk/sk, both strings):

* counter: pk ``{initiative_id}``, sk ``MS#{member_state}``: ``signatories`` (read by the public view,
  chalicelib/storage/counters.py) and ``version``, one more on every change (the recount's guard);
* final flag: pk ``{initiative_id}``, sk ``FINAL``, written when the counts are published for good
  (the purge); removals then change nothing;
* recount state: pk ``{initiative_id}``, sk ``RECOUNT`` (chalicelib/storage/recount_store.py);
* progress marker: pk ``STREAM#{event id}``, sk ``PROGRESS``: ``applied`` (the run of event ids),
  ``version``, ``expires_at`` (TTL: two days, beyond the stream's 24-hour retention);
* dead letter: pk ``DEADLETTER#{initiative_id or "unknown"}``, sk ``{sequence number, 40 digits}#{event id}``:
  the reason and the record's keys. The stream is KEYS_ONLY, so a dead letter holds nothing personal.

The exactly-once scheme is chalicelib/counting/exactly_once.py; this is its CountLedger on DynamoDB.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from chalicelib.counting.ports import AppliedRun, CountTransaction, LedgerConflictError, LedgerState
from chalicelib.counting.stream_records import PoisonRecord
from chalicelib.storage.counters import SIGNATORIES_ATTRIBUTE, counter_sort_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

FINAL_SORT_KEY = "FINAL"
RECOUNT_SORT_KEY = "RECOUNT"
VERSION_ATTRIBUTE = "version"
MARKER_PREFIX = "STREAM#"
MARKER_SORT_KEY = "PROGRESS"
DEAD_LETTER_PREFIX = "DEADLETTER#"
UNKNOWN_INITIATIVE = "unknown"
EXPIRES_ATTRIBUTE = "expires_at"  # the counters table's TTL attribute (infra/data.yaml)
# Lambda can deliver a record for 24 hours; a marker kept twice as long outlives every redelivery.
MARKER_LIFETIME_SECONDS = 2 * 24 * 3600
_CONTENTION_ATTEMPTS = 3


def marker_partition_key(marker_key: str) -> str:
    return f"{MARKER_PREFIX}{marker_key}"


def dead_letter_partition_key(initiative_id: str | None) -> str:
    return f"{DEAD_LETTER_PREFIX}{initiative_id or UNKNOWN_INITIATIVE}"


def version_condition(expected_version: int) -> tuple[str, dict[str, Any]]:
    """A condition that holds while the item's version is still expected_version (0: none yet)."""
    if expected_version == 0:
        return "attribute_not_exists(#v)", {}
    return "#v = :expected", {":expected": {"N": str(expected_version)}}


class DynamoDBCountLedger:
    """CountLedger on DynamoDB: BatchGetItem to read, TransactWriteItems to apply."""

    def __init__(self, client: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def read(self, marker_key: str, initiatives: Collection[str]) -> LedgerState:
        marker_pk = marker_partition_key(marker_key)
        keys: list[dict[str, Any]] = [{"pk": {"S": marker_pk}, "sk": {"S": MARKER_SORT_KEY}}]
        keys += [{"pk": {"S": initiative}, "sk": {"S": FINAL_SORT_KEY}} for initiative in sorted(initiatives)]
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        found: list[dict[str, Any]] = []
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            found += response.get("Responses", {}).get(self._table, [])
            request = dict(response.get("UnprocessedKeys") or {})
            if request:
                time.sleep(0.05)  # throttled: a short pause, then the keys it did not read
        marker = AppliedRun()
        final: set[str] = set()
        for item in found:
            if item["pk"]["S"] == marker_pk:
                marker = AppliedRun(
                    tuple(value["S"] for value in item.get("applied", {}).get("L", [])),
                    int(item.get(VERSION_ATTRIBUTE, {}).get("N", "0")),
                )
            else:
                final.add(item["pk"]["S"])
        return LedgerState(marker, frozenset(final))

    def apply(self, transaction: CountTransaction) -> None:
        now = self._clock()
        items: list[TransactWriteItemTypeDef] = [self._marker_put(transaction, now)]
        for (initiative, member_state), delta in sorted(transaction.increments.items()):
            items.append({
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": initiative}, "sk": {"S": counter_sort_key(member_state)}},
                    "UpdateExpression": "ADD #n :delta, #v :one",
                    "ExpressionAttributeNames": {"#n": SIGNATORIES_ATTRIBUTE, "#v": VERSION_ATTRIBUTE},
                    "ExpressionAttributeValues": {":delta": {"N": str(delta)}, ":one": {"N": "1"}},
                }
            })
        items += [self._dead_letter_put(poison, now) for poison in transaction.dead_letters]
        for initiative in sorted(transaction.not_final):
            items.append({
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": initiative}, "sk": {"S": FINAL_SORT_KEY}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            })
        self._transact(items)

    def continue_run(self, marker_key: str, applied: tuple[str, ...]) -> None:
        client = self._client
        # A marker as long or longer may be there already: it says everything this one would.
        with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
            client.update_item(
                TableName=self._table,
                Key={"pk": {"S": marker_partition_key(marker_key)}, "sk": {"S": MARKER_SORT_KEY}},
                # A new version, so that a delivery that read the shorter marker cannot write over this one.
                UpdateExpression="SET applied = :applied, #e = :expires ADD #v :one",
                ConditionExpression="attribute_not_exists(pk) OR size(applied) < :length",
                ExpressionAttributeNames={"#v": VERSION_ATTRIBUTE, "#e": EXPIRES_ATTRIBUTE},
                ExpressionAttributeValues={
                    ":applied": {"L": [{"S": record_id} for record_id in applied]},
                    ":expires": {"N": str(int(self._clock()) + MARKER_LIFETIME_SECONDS)},
                    ":one": {"N": "1"},
                    ":length": {"N": str(len(applied))},
                },
            )

    def _marker_put(self, transaction: CountTransaction, now: float) -> TransactWriteItemTypeDef:
        condition, values = version_condition(transaction.expected_version)
        put: PutTypeDef = {
            "TableName": self._table,
            "Item": {
                "pk": {"S": marker_partition_key(transaction.marker_key)},
                "sk": {"S": MARKER_SORT_KEY},
                "applied": {"L": [{"S": record_id} for record_id in transaction.applied]},
                VERSION_ATTRIBUTE: {"N": str(transaction.expected_version + 1)},
                EXPIRES_ATTRIBUTE: {"N": str(int(now) + MARKER_LIFETIME_SECONDS)},
            },
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#v": VERSION_ATTRIBUTE},
        }
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _dead_letter_put(self, poison: PoisonRecord, now: float) -> TransactWriteItemTypeDef:
        item: dict[str, Any] = {
            "pk": {"S": dead_letter_partition_key(poison.initiative_id)},
            "sk": {"S": poison.sort_key},
            "record_id": {"S": poison.record_id},
            "reason": {"S": poison.reason},
            "recorded_at": {"N": str(int(now))},
        }
        if poison.sequence_number:
            item["sequence_number"] = {"S": poison.sequence_number}
        if poison.event_name:
            item["event_name"] = {"S": poison.event_name[:40]}
        if poison.partition_key:
            item["partition_key"] = {"S": poison.partition_key}
        return {"Put": {"TableName": self._table, "Item": item}}

    def _transact(self, items: list[TransactWriteItemTypeDef]) -> None:
        client = self._client
        for attempt in range(_CONTENTION_ATTEMPTS):
            try:
                client.transact_write_items(TransactItems=items)
                return
            except client.exceptions.TransactionCanceledException as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise LedgerConflictError("progress marker or final flag changed since read") from None
                if "TransactionConflict" not in reasons:
                    raise
                if attempt + 1 == _CONTENTION_ATTEMPTS:
                    # Another shard's batch keeps touching the same counters: read again, plan again.
                    raise LedgerConflictError("counters busy with other transactions") from None
                time.sleep(0.02 * (attempt + 1))
