"""The scheduled recount's reads and writes: statement items counted per partition, counters corrected.

Statements are counted with Query Select=COUNT on each ``S#{initiative}#{MS}#{bucket}`` partition, so
the recount reads no statement's content (its IAM policy allows only that Select). Layout of the
counters table: chalicelib/storage/counter_writer.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.counting.ports import CounterReading, DeadLetter, SeenDrift
from chalicelib.storage.counter_writer import (
    DEAD_LETTER_PREFIX,
    FINAL_SORT_KEY,
    RECOUNT_SORT_KEY,
    UNKNOWN_INITIATIVE,
    VERSION_ATTRIBUTE,
    dead_letter_partition_key,
    version_condition,
)
from chalicelib.storage.counters import MEMBER_STATE_SORT_PREFIX, SIGNATORIES_ATTRIBUTE, counter_sort_key
from chalicelib.storage.statements import STATEMENT_BUCKETS, statement_partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


class DynamoDBRecountStore:
    """RecountStore on DynamoDB."""

    def __init__(self, client: DynamoDBClient, statements_table: str, counters_table: str) -> None:
        self._client = client
        self._statements = statements_table
        self._counters = counters_table

    def is_final(self, initiative_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._counters,
            Key={"pk": {"S": initiative_id}, "sk": {"S": FINAL_SORT_KEY}},
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response

    def counters(self, initiative_id: str) -> dict[str, CounterReading]:
        readings: dict[str, CounterReading] = {}
        for item in self._query({
            "TableName": self._counters,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": initiative_id}, ":prefix": {"S": MEMBER_STATE_SORT_PREFIX}},
            "ProjectionExpression": "sk, #n, #v",
            "ExpressionAttributeNames": {"#n": SIGNATORIES_ATTRIBUTE, "#v": VERSION_ATTRIBUTE},
            "ConsistentRead": True,
        }):
            state = item["sk"]["S"].removeprefix(MEMBER_STATE_SORT_PREFIX)
            readings[state] = CounterReading(
                int(item.get(SIGNATORIES_ATTRIBUTE, {}).get("N", "0")),
                int(item.get(VERSION_ATTRIBUTE, {}).get("N", "0")),
            )
        return readings

    def count_statements(self, initiative_id: str, member_state: str) -> int:
        total = 0
        for bucket in range(STATEMENT_BUCKETS):
            request: QueryInputTypeDef = {
                "TableName": self._statements,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {
                    ":pk": {"S": statement_partition_key(initiative_id, member_state, bucket)}
                },
                "Select": "COUNT",
                "ConsistentRead": True,
            }
            while True:
                page = self._client.query(**request)
                total += page["Count"]
                last_key = page.get("LastEvaluatedKey")
                if not last_key:
                    break
                request["ExclusiveStartKey"] = last_key
        return total

    def seen_drifts(self, initiative_id: str) -> dict[str, SeenDrift]:
        response = self._client.get_item(
            TableName=self._counters,
            Key={"pk": {"S": initiative_id}, "sk": {"S": RECOUNT_SORT_KEY}},
            ConsistentRead=True,
        )
        drifts = response.get("Item", {}).get("drifts", {}).get("M", {})
        return {
            state: SeenDrift(int(seen["M"]["version"]["N"]), int(seen["M"]["recounted"]["N"]))
            for state, seen in drifts.items()
        }

    def remember_drifts(self, initiative_id: str, drifts: Mapping[str, SeenDrift]) -> None:
        self._client.put_item(
            TableName=self._counters,
            Item={
                "pk": {"S": initiative_id},
                "sk": {"S": RECOUNT_SORT_KEY},
                "drifts": {"M": {
                    state: {"M": {"version": {"N": str(seen.version)}, "recounted": {"N": str(seen.recounted)}}}
                    for state, seen in drifts.items()
                }},
            },
        )

    def correct(self, initiative_id: str, member_state: str, expected_version: int, signatories: int) -> bool:
        condition, values = version_condition(expected_version)
        client = self._client
        try:
            client.update_item(
                TableName=self._counters,
                Key={"pk": {"S": initiative_id}, "sk": {"S": counter_sort_key(member_state)}},
                UpdateExpression="SET #n = :signatories ADD #v :one",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#n": SIGNATORIES_ATTRIBUTE, "#v": VERSION_ATTRIBUTE},
                ExpressionAttributeValues={":signatories": {"N": str(signatories)}, ":one": {"N": "1"}, **values},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def dead_letters(self, initiative_id: str) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for partition in (dead_letter_partition_key(initiative_id), dead_letter_partition_key(None)):
            for item in self._query({
                "TableName": self._counters,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "ProjectionExpression": "sequence_number, record_id, reason",
            }):
                letters.append(DeadLetter(
                    initiative=partition.removeprefix(DEAD_LETTER_PREFIX) or UNKNOWN_INITIATIVE,
                    sequence_number=item.get("sequence_number", {}).get("S", ""),
                    record_id=item.get("record_id", {}).get("S", ""),
                    reason=item.get("reason", {}).get("S", ""),
                ))
        return letters

    def _query(self, request: QueryInputTypeDef) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._client.query(**request)
            items += page.get("Items", [])
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return items
            request["ExclusiveStartKey"] = last_key
