"""The retention clock's records in the counters table: the counts-final flag and the purge's audit record.

Items (pk ``{initiative_id}``, beside the counters, which stay):

* final flag: sk ``FINAL`` (chalicelib/storage/counter_writer.py's FINAL_SORT_KEY): once it exists the
  count function lets no removal change a counter, and the recount corrects nothing;
* purge audit record: sk ``PURGE``: ``due_on`` and ``reason`` (the clock), ``started_at``,
  ``completed_at``, ``statements`` (a map: Member State -> statements destroyed), ``markers``
  (duplicate markers destroyed) and ``export_objects`` (object versions destroyed). Numbers and
  dates only: nothing personal.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.exporting.retention import DeletedPage, RetentionClock
from chalicelib.storage.counter_writer import FINAL_SORT_KEY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PURGE_SORT_KEY = "PURGE"


class DynamoDBRetentionRecords:
    """RetentionRecords on the counters table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": initiative_id},
                    "sk": {"S": FINAL_SORT_KEY},
                    "final_at": {"S": at.isoformat()},
                    "reason": {"S": "retention period ended: statements destroyed"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": initiative_id},
                    "sk": {"S": PURGE_SORT_KEY},
                    "due_on": {"S": clock.due_on.isoformat()},
                    "reason": {"S": clock.reason},
                    "started_at": {"S": at.isoformat()},
                    "statements": {"M": {}},
                    "markers": {"N": "0"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return False
        except self._client.exceptions.ConditionalCheckFailedException:
            record = self.purge_record(initiative_id)
            return record is not None and "completed_at" in record

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None:
        if not page.statements and not page.markers:
            return
        names: dict[str, str] = {"#s": "statements"}
        values: dict[str, Any] = {":zero": {"N": "0"}, ":markers": {"N": str(page.markers)}}
        sets = []
        for index, (code, number) in enumerate(sorted(page.statements.items())):
            names[f"#m{index}"] = code
            values[f":n{index}"] = {"N": str(number)}
            sets.append(f"#s.#m{index} = if_not_exists(#s.#m{index}, :zero) + :n{index}")
        expression = (f"SET {', '.join(sets)} " if sets else "") + "ADD markers :markers"
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConditionExpression="attribute_exists(pk)",
        )

    def purge_completed(self, initiative_id: str, export_objects: int, at: datetime) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression="SET completed_at = :at, export_objects = :objects",
            ExpressionAttributeValues={":at": {"S": at.isoformat()}, ":objects": {"N": str(export_objects)}},
            ConditionExpression="attribute_exists(pk)",
        )

    def purge_record(self, initiative_id: str) -> dict[str, Any] | None:
        """The audit record as plain values, or None if no purge has started."""
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        record: dict[str, Any] = {
            key: value["S"] for key, value in item.items() if "S" in value and key not in ("pk", "sk")
        }
        destroyed = item.get("statements", {}).get("M", {})
        record["statements"] = {code: int(value["N"]) for code, value in destroyed.items()}
        record["markers"] = int(item.get("markers", {}).get("N", "0"))
        if "export_objects" in item:
            record["export_objects"] = int(item["export_objects"]["N"])
        return record

    def counts_final(self, initiative_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": FINAL_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        return item is not None
