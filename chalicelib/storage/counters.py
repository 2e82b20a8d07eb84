"""Reading the counters: totals summed over their shards, and counts per signing day.

Layout (written by the count function, chalicelib/storage/counter_writer.py): totals under pk
``{initiative_id}``, sk ``TOTAL#{shard}``; per day under pk ``{initiative_id}#DAYS``, sk
``{day}#{shard}``; each item holds one number attribute per Member State code. Beside them, the
operator's retention records (sk ``TRIGGER#...``, chalicelib/storage/retention_records.py): the public
pages read the withdrawal among them, which closes the collection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.rules.member_states import member_state_codes
from chalicelib.storage.counter_writer import TOTALS_SORT_PREFIX, days_partition_key
from chalicelib.storage.queries import query_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# The operator's retention records (written by chalicelib/storage/retention_records.py, which imports this).
TRIGGER_PREFIX = "TRIGGER#"
WITHDRAWN_KIND = "withdrawn"  # chalicelib/exporting/retention.py's WITHDRAWN, kept light for the web pages


def _add_states(into: dict[str, int], item: Mapping[str, Any]) -> None:
    codes = member_state_codes()
    for name, value in item.items():
        if name in codes and "N" in value:
            into[name] = into.get(name, 0) + int(value["N"])


class DynamoDBCounterReader:
    """CounterReader on DynamoDB: one Query per initiative for the totals (its shards fit one page)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def counts(self, initiative_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in query_items(self._client, {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": initiative_id}, ":prefix": {"S": TOTALS_SORT_PREFIX}},
        }):
            _add_states(counts, item)
        return counts

    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]:
        """ISO signing day -> {Member State: signatories counted under that day}; days without any absent."""
        days: dict[str, dict[str, int]] = {}
        for item in query_items(self._client, {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": days_partition_key(initiative_id)}},
        }):
            day = item["sk"]["S"].split("#", 1)[0]
            _add_states(days.setdefault(day, {}), item)
        return {day: counts for day, counts in sorted(days.items()) if any(counts.values())}


class DynamoDBWithdrawalReader:
    """The day the organisers withdrew the initiative, as the operator last recorded it (a later record
    corrects an earlier one), or None: one Query of the records, for the public pages, which must not load
    the export code (chalicelib/exporting/retention.py folds the same records into the retention clock)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def withdrawn_on(self, initiative_id: str) -> date | None:
        withdrawals = [item for item in query_items(self._client, {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": initiative_id}, ":prefix": {"S": TRIGGER_PREFIX}},
        }) if item.get("kind", {}).get("S") == WITHDRAWN_KIND]
        if not withdrawals:
            return None
        latest = max(withdrawals, key=lambda item: item["recorded_at"]["S"])
        return date.fromisoformat(latest["day"]["S"])
