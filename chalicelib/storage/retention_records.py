"""The retention clock's records in the counters table: the counts-final flag and the purge's audit record.

Items (pk ``{initiative_id}``, beside the counters, which stay):

* final flag: sk ``FINAL`` (chalicelib/storage/counter_writer.py's FINAL_SORT_KEY): once it exists the
  count function lets no removal change a counter, and the recount corrects nothing; written in one
  transaction with its copy per counter shard (``FINAL#{shard}``, what the count function checks);
* purge audit record: sk ``PURGE``: ``due_on`` and ``reason`` (the clock), ``started_at``,
  ``completed_at``, ``statements`` (a map: Member State -> statements destroyed), ``markers``
  (duplicate markers destroyed), ``test_statements`` and ``test_markers`` (the same, of the test phase:
  items under ``{initiative_id}~test`` that a test phase which never went live left), ``export_objects``
  (object versions and unfinished uploads destroyed),
  ``backups`` (restorable copies destroyed: point-in-time recovery, backups) and ``backups_left``
  (what the purge could not destroy itself); then ``last_swept_on`` and ``found_later`` (a map: what
  the daily sweeps found and destroyed after completion). Each page of keys and each batch of export
  objects is added before it is deleted: a purge killed in between overstates, never understates.
  Numbers and dates only.
* the operator's records that move the clock: sk ``TRIGGER#{recorded_at}#{id}``: ``kind`` (submitted,
  withdrawn, hold-started, hold-ended), ``day``, ``reference`` (a hold's proceedings), ``recorded_at``
  and ``by`` (the operator's AWS identity). Written once, never changed: a correction is a later record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.exporting.retention import DeletedPage, RestorableCopies, RetentionClock, RetentionTrigger
from chalicelib.storage.counter_writer import FINAL_FLAG_SORT_KEYS, FINAL_SORT_KEY
from chalicelib.storage.counters import TRIGGER_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PURGE_SORT_KEY = "PURGE"
_FINAL_ATTEMPTS = 8


class DynamoDBRetentionRecords:
    """RetentionRecords on the counters table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        # The flag and every shard's copy at once (the first time's values kept): every purge run writes
        # them again, so a run that stopped before this, or a flag written without its copies, is completed.
        client = self._client
        items: Any = [{"Update": {
            "TableName": self._table,
            "Key": {"pk": {"S": initiative_id}, "sk": {"S": sort_key}},
            "UpdateExpression": "SET final_at = if_not_exists(final_at, :at), reason = if_not_exists(reason, :why)",
            "ExpressionAttributeValues": {":at": {"S": at.isoformat()},
                                          ":why": {"S": "retention period ended: statements destroyed"}},
        }} for sort_key in FINAL_FLAG_SORT_KEYS]
        for attempt in range(_FINAL_ATTEMPTS):
            try:
                client.transact_write_items(TransactItems=items)
                return
            except client.exceptions.TransactionCanceledException:
                pass  # a count transaction checking one of the copies at that moment: again, shortly
            time.sleep(min(0.05 * 2**attempt, 2.0))
        raise RuntimeError("DynamoDB kept refusing the counts-final flag; the purge tries again on its next run")

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
                    "test_statements": {"M": {}},
                    "test_markers": {"N": "0"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return False
        except self._client.exceptions.ConditionalCheckFailedException:
            record = self.purge_record(initiative_id)
            return record is not None and "completed_at" in record

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None:
        self._add_page(initiative_id, "statements", "markers", page.statements, page.markers)
        self._add_page(initiative_id, "test_statements", "test_markers", page.test_statements, page.test_markers)

    def _add_page(self, initiative_id: str, statements_name: str, markers_name: str,
                  statements: Mapping[str, int], markers: int) -> None:
        if not statements and not markers:
            return
        key = {"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}}
        if statements:
            # A record opened before test statements were counted has no map for them yet: make it first
            # (a no-op when it exists), since a map's members can be added to only once it exists.
            self._client.update_item(
                TableName=self._table, Key=key, UpdateExpression="SET #s = if_not_exists(#s, :empty)",
                ExpressionAttributeNames={"#s": statements_name}, ExpressionAttributeValues={":empty": {"M": {}}},
                ConditionExpression="attribute_exists(pk)")
        names: dict[str, str] = {"#s": statements_name, "#markers": markers_name}
        values: dict[str, Any] = {":zero": {"N": "0"}, ":markers": {"N": str(markers)}}
        sets = []
        for index, (code, number) in enumerate(sorted(statements.items())):
            names[f"#m{index}"] = code
            values[f":n{index}"] = {"N": str(number)}
            sets.append(f"#s.#m{index} = if_not_exists(#s.#m{index}, :zero) + :n{index}")
        expression = (f"SET {', '.join(sets)} " if sets else "") + "ADD #markers :markers"
        if not sets:  # a page of markers only: DynamoDB refuses a name or value the expression does not use
            del values[":zero"], names["#s"]
        self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConditionExpression="attribute_exists(pk)",
        )

    def add_export_objects(self, initiative_id: str, number: int) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression="ADD export_objects :number",
            ExpressionAttributeValues={":number": {"N": str(number)}},
            ConditionExpression="attribute_exists(pk)",
        )

    def purge_completed(self, initiative_id: str, backups: RestorableCopies, at: datetime) -> None:
        values: dict[str, Any] = {
            ":at": {"S": at.isoformat()}, ":zero": {"N": "0"},
            # The day it completed counts as swept: the first sweep looks again on a later day.
            ":day": {"S": at.date().isoformat()},
            ":backups": {"L": [{"S": name} for name in backups.destroyed]},
            ":left": {"L": [{"S": name} for name in backups.left]},
        }
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression="SET completed_at = :at, export_objects = if_not_exists(export_objects, :zero), "
                             "last_swept_on = :day, backups = :backups, backups_left = :left",
            ExpressionAttributeValues=values,
            ConditionExpression="attribute_exists(pk)",
        )

    def claim_sweep(self, initiative_id: str, today: date) -> datetime | None:
        try:
            item = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
                UpdateExpression="SET last_swept_on = :today",
                ConditionExpression="attribute_exists(completed_at) AND "
                                    "(attribute_not_exists(last_swept_on) OR last_swept_on < :today)",
                ExpressionAttributeValues={":today": {"S": today.isoformat()}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return datetime.fromisoformat(item["completed_at"]["S"])

    def sweep_found(self, initiative_id: str, found: Mapping[str, int], at: datetime) -> None:
        counted = {name: number for name, number in sorted(found.items()) if number}
        if not counted:
            return
        names: dict[str, str] = {"#f": "found_later"}
        values: dict[str, Any] = {":zero": {"N": "0"}, ":at": {"S": at.isoformat()}, ":empty": {"M": {}}}
        # A map's members can be added to only once the map exists: create it first (no-op if it does).
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression="SET #f = if_not_exists(#f, :empty)",
            ExpressionAttributeNames={"#f": "found_later"},
            ExpressionAttributeValues={":empty": {"M": {}}},
            ConditionExpression="attribute_exists(pk)",
        )
        sets = ["last_found_at = :at"]
        for index, (name, number) in enumerate(counted.items()):
            names[f"#k{index}"] = name
            values[f":n{index}"] = {"N": str(number)}
            sets.append(f"#f.#k{index} = if_not_exists(#f.#k{index}, :zero) + :n{index}")
        del values[":empty"]
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": PURGE_SORT_KEY}},
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ConditionExpression="attribute_exists(pk)",
        )

    # --- the operator's records that move the clock ---------------------------------------------------

    def record_trigger(self, initiative_id: str, trigger: RetentionTrigger) -> None:
        item: dict[str, Any] = {
            "pk": {"S": initiative_id},
            "sk": {"S": f"{TRIGGER_PREFIX}{trigger.recorded_at.isoformat()}#{uuid.uuid4().hex[:8]}"},
            "kind": {"S": trigger.kind},
            "day": {"S": trigger.day.isoformat()},
            "recorded_at": {"S": trigger.recorded_at.isoformat()},
            "by": {"S": trigger.by or "unknown"},
        }
        if trigger.reference:
            item["reference"] = {"S": trigger.reference}
        self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def triggers(self, initiative_id: str) -> list[RetentionTrigger]:
        found: list[RetentionTrigger] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": initiative_id}, ":prefix": {"S": TRIGGER_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                found.append(RetentionTrigger(
                    kind=item["kind"]["S"],
                    day=date.fromisoformat(item["day"]["S"]),
                    recorded_at=datetime.fromisoformat(item["recorded_at"]["S"]),
                    reference=item.get("reference", {}).get("S", ""),
                    by=item.get("by", {}).get("S", ""),
                ))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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
        test_destroyed = item.get("test_statements", {}).get("M", {})
        record["test_statements"] = {code: int(value["N"]) for code, value in test_destroyed.items()}
        record["test_markers"] = int(item.get("test_markers", {}).get("N", "0"))
        if "export_objects" in item:
            record["export_objects"] = int(item["export_objects"]["N"])
        for name in ("backups", "backups_left"):
            if name in item:
                record[name] = [value["S"] for value in item[name]["L"]]
        later = item.get("found_later", {}).get("M", {})
        record["found_later"] = {name: int(value["N"]) for name, value in later.items()}
        return record

    def counts_final(self, initiative_id: str) -> bool:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": initiative_id}, "sk": {"S": FINAL_SORT_KEY}},
            ConsistentRead=True,
        ).get("Item")
        return item is not None
