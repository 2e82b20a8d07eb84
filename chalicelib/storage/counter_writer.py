"""The count function's writes to the counters table: TransactWriteItems of counted records and counters.

Items of the counters table (keys pk/sk, both strings):

* totals: pk ``{initiative_id}``, sk ``TOTAL#{shard:02d}``: one number attribute per Member State code.
  A transaction adds its changes to one shard chosen at random, so concurrent transactions (one per
  stream shard) rarely touch the same item; readers sum the shards (chalicelib/storage/counters.py).
* per day: pk ``{initiative_id}#DAYS``, sk ``{signing day}#{shard:02d}``, the same attributes.
* counted record: pk ``C#{initiative_id}#{member_state}#{bucket:02d}``, sk ``{statement_id}`` (the
  statement's own key parts): ``state`` (counted / removed), ``day``, ``at`` (epoch seconds). Spread over
  the same partitions as the statements themselves, so no key is hotter than the statements table's.
* final flag: pk ``{initiative_id}``, sk ``FINAL``, written when the counts are published for good
  (the purge); counters never change after it. With it, in the same transaction, one copy per counter
  shard, sk ``FINAL#{shard:02d}``: a count transaction checks the copy of the shard its counters take,
  so transactions on different shards share no item (DynamoDB cancels a transaction when any of its
  items, a ConditionCheck's too, is part of another one in flight).
* dead letter: pk ``DEADLETTER#{initiative_id or "unknown"}``, sk ``{sequence number, 40 digits}#{event id}``:
  the reason and the record's keys. The stream is KEYS_ONLY, so a dead letter holds nothing personal.

The exactly-once scheme is chalicelib/counting/exactly_once.py; this is its CountLedger on DynamoDB.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.counting.ports import (
    CountedRecord,
    CountedState,
    CountTransaction,
    LedgerRefusedError,
    StatementRef,
)
from chalicelib.counting.stream_records import PoisonRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

FINAL_SORT_KEY = "FINAL"
TOTALS_SORT_PREFIX = "TOTAL#"
DAYS_PARTITION_SUFFIX = "#DAYS"
COUNTED_PREFIX = "C"
STATE_ATTRIBUTE = "state"
DAY_ATTRIBUTE = "day"
DEAD_LETTER_PREFIX = "DEADLETTER#"
UNKNOWN_INITIATIVE = "unknown"
# Counter items per initiative (totals) and per day. At the design peak of 1,000 statements a second a
# transaction carries up to ~96 statements, so the totals partition sees about 11-25 transactions a
# second in all, ~2 write units each: far below a partition's 1,000 (bench/count_batch.py prints it).
COUNTER_SHARDS = 8
_BATCH_GET_LIMIT = 100
_SEPARATOR = "#"


def final_shard_sort_key(shard: int) -> str:
    return f"{FINAL_SORT_KEY}#{shard:02d}"


# What the purge writes when the counts become final: the flag readers look at, and each shard's copy.
FINAL_FLAG_SORT_KEYS = (FINAL_SORT_KEY, *(final_shard_sort_key(shard) for shard in range(COUNTER_SHARDS)))


def totals_sort_key(shard: int) -> str:
    return f"{TOTALS_SORT_PREFIX}{shard:02d}"


def days_partition_key(initiative_id: str) -> str:
    return f"{initiative_id}{DAYS_PARTITION_SUFFIX}"


def day_sort_key(day: date, shard: int) -> str:
    return f"{day.isoformat()}#{shard:02d}"


def counted_partition_key(initiative_id: str, member_state: str, bucket: int) -> str:
    return _SEPARATOR.join((COUNTED_PREFIX, initiative_id, member_state, f"{bucket:02d}"))


def counted_key(ref: StatementRef) -> dict[str, Any]:
    return {"pk": {"S": counted_partition_key(ref.initiative_id, ref.member_state, ref.bucket)},
            "sk": {"S": ref.statement_id}}


def dead_letter_partition_key(initiative_id: str | None) -> str:
    return f"{DEAD_LETTER_PREFIX}{initiative_id or UNKNOWN_INITIATIVE}"


def counted_record_of(item: Mapping[str, Any]) -> CountedRecord:
    state = CountedState(item.get(STATE_ATTRIBUTE, {}).get("S", CountedState.COUNTED.value))
    day_text = item.get(DAY_ATTRIBUTE, {}).get("S")
    return CountedRecord(state, date.fromisoformat(day_text) if day_text else None)


def counter_update(table: str, key: dict[str, Any], changes: Mapping[str, int]) -> TransactWriteItemTypeDef:
    """ADD each Member State's change to one counter item (names as ExpressionAttributeNames: AT is a reserved word)."""
    names = {f"#m{i}": state for i, state in enumerate(sorted(changes))}
    values = {f":m{i}": {"N": str(changes[state])} for i, state in enumerate(sorted(changes))}
    expression = "ADD " + ", ".join(f"#m{i} :m{i}" for i in range(len(names)))
    return {"Update": {"TableName": table, "Key": key, "UpdateExpression": expression,
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


class DynamoDBCountLedger:
    """CountLedger on DynamoDB: BatchGetItem to read counted records, TransactWriteItems to apply."""

    def __init__(self, client: DynamoDBClient, table_name: str, clock: Callable[[], float] = time.time,
                 shard: Callable[[], int] = lambda: random.randrange(COUNTER_SHARDS)) -> None:  # noqa: S311
        self._client = client
        self._table = table_name
        self._clock = clock
        self._shard = shard

    def counted(self, statements: Collection[StatementRef]) -> dict[StatementRef, CountedRecord]:
        refs = sorted(set(statements))
        by_key = {(counted_key(ref)["pk"]["S"], ref.statement_id): ref for ref in refs}
        records = {ref: CountedRecord(CountedState.ABSENT) for ref in refs}
        for start in range(0, len(refs), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {self._table: {
                "Keys": [counted_key(ref) for ref in refs[start:start + _BATCH_GET_LIMIT]],
                "ConsistentRead": True,
                "ProjectionExpression": "pk, sk, #s, #d",
                "ExpressionAttributeNames": {"#s": STATE_ATTRIBUTE, "#d": DAY_ATTRIBUTE},
            }}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    records[by_key[(item["pk"]["S"], item["sk"]["S"])]] = counted_record_of(item)
                request = dict(response.get("UnprocessedKeys") or {})
                if request:
                    time.sleep(0.05)  # throttled: a short pause, then the keys it did not read
        return records

    def apply(self, transaction: CountTransaction) -> None:
        now = str(int(self._clock()))
        items: list[TransactWriteItemTypeDef] = []
        owners: list[StatementRef | str | None] = []  # per item: its statement, its initiative (final), or none
        for ref, day in transaction.count:
            items.append(self._counted_put(ref, CountedState.COUNTED, day, now))
            owners.append(ref)
        for ref, _day in transaction.uncount:
            items.append({"Update": {
                "TableName": self._table, "Key": counted_key(ref),
                "UpdateExpression": "SET #s = :removed, #at = :now",
                "ConditionExpression": "#s = :counted",
                "ExpressionAttributeNames": {"#s": STATE_ATTRIBUTE, "#at": "at"},
                "ExpressionAttributeValues": {":removed": {"S": CountedState.REMOVED.value},
                                              ":counted": {"S": CountedState.COUNTED.value}, ":now": {"N": now}},
            }})
            owners.append(ref)
        for ref, maybe_day in transaction.bury:
            items.append(self._counted_put(ref, CountedState.REMOVED, maybe_day, now))
            owners.append(ref)
        for ref in transaction.forget:
            items.append({"Delete": {"TableName": self._table, "Key": counted_key(ref)}})
            owners.append(None)
        shard = self._shard()
        totals: dict[str, dict[str, int]] = {}
        for (initiative, state), delta in transaction.totals.items():
            totals.setdefault(initiative, {})[state] = delta
        for initiative, changes in sorted(totals.items()):
            key = {"pk": {"S": initiative}, "sk": {"S": totals_sort_key(shard)}}
            items.append(counter_update(self._table, key, changes))
            owners.append(None)
        daily: dict[tuple[str, date], dict[str, int]] = {}
        for (initiative, day, state), delta in transaction.daily.items():
            daily.setdefault((initiative, day), {})[state] = delta
        for (initiative, day), changes in sorted(daily.items()):
            key = {"pk": {"S": days_partition_key(initiative)}, "sk": {"S": day_sort_key(day, shard)}}
            items.append(counter_update(self._table, key, changes))
            owners.append(None)
        for poison in transaction.dead_letters:
            items.append(self._dead_letter_put(poison, now))
            owners.append(None)
        for initiative in sorted(transaction.not_final):
            items.append({"ConditionCheck": {
                "TableName": self._table,
                "Key": {"pk": {"S": initiative}, "sk": {"S": final_shard_sort_key(shard)}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }})
            owners.append(initiative)
        self._transact(items, owners)

    def _counted_put(self, ref: StatementRef, state: CountedState, day: date | None,
                     now: str) -> TransactWriteItemTypeDef:
        item: dict[str, Any] = {**counted_key(ref), STATE_ATTRIBUTE: {"S": state.value}, "at": {"N": now}}
        if day is not None:
            item[DAY_ATTRIBUTE] = {"S": day.isoformat()}
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def _dead_letter_put(self, poison: PoisonRecord, now: str) -> TransactWriteItemTypeDef:
        item: dict[str, Any] = {
            "pk": {"S": dead_letter_partition_key(poison.initiative_id)},
            "sk": {"S": poison.sort_key},
            "record_id": {"S": poison.record_id},
            "reason": {"S": poison.reason},
            "recorded_at": {"N": now},
        }
        if poison.sequence_number:
            item["sequence_number"] = {"S": poison.sequence_number}
        if poison.event_name:
            item["event_name"] = {"S": poison.event_name[:40]}
        if poison.partition_key:
            item["partition_key"] = {"S": poison.partition_key}
        return {"Put": {"TableName": self._table, "Item": item}}

    def _transact(self, items: list[TransactWriteItemTypeDef], owners: list[StatementRef | str | None]) -> None:
        client = self._client
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            moved: set[StatementRef] = set()
            final: set[str] = set()
            busy = False
            for code, owner in zip(reasons, owners, strict=False):
                if code == "ConditionalCheckFailed" and isinstance(owner, StatementRef):
                    moved.add(owner)
                elif code == "ConditionalCheckFailed" and isinstance(owner, str):
                    final.add(owner)
                elif code in ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"):
                    busy = True
                elif code not in (None, "None"):
                    raise  # a validation error or worse: the caller reports the batch as not applied
            if not (moved or final or busy):
                raise
            raise LedgerRefusedError(moved, final, busy) from None
