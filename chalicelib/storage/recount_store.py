"""The scheduled repair's reads: counted records and statement items, one partition at a time.

Statement items are read with their keys and storage time only (ProjectionExpression; the repair's IAM
policy allows no other attributes), so the repair never sees a statement's content. Layout of the
counters table: chalicelib/storage/counter_writer.py.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from chalicelib.counting.ports import CountedRecord, DeadLetter, StatementItemKeys, StatementRef
from chalicelib.signing.statement_id import day_of_statement_id
from chalicelib.storage.counter_writer import (
    DAY_ATTRIBUTE,
    DEAD_LETTER_PREFIX,
    FINAL_SORT_KEY,
    STATE_ATTRIBUTE,
    UNKNOWN_INITIATIVE,
    counted_partition_key,
    counted_record_of,
    dead_letter_partition_key,
)
from chalicelib.storage.queries import query_items
from chalicelib.storage.statements import STORED_AT_ATTRIBUTE, statement_partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# What the repair may read of a statement item (its IAM policy names the same attributes).
STATEMENT_ATTRIBUTES_READ = ("pk", "sk", "submitted_on", STORED_AT_ATTRIBUTE)


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

    def counted_records(self, initiative_id: str, member_state: str,
                        bucket: int) -> dict[StatementRef, CountedRecord]:
        return {
            StatementRef(initiative_id, member_state, bucket, item["sk"]["S"]): counted_record_of(item)
            for item in query_items(self._client, {
                "TableName": self._counters,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": counted_partition_key(initiative_id, member_state,
                                                                                bucket)}},
                "ProjectionExpression": "sk, #s, #d",
                "ExpressionAttributeNames": {"#s": STATE_ATTRIBUTE, "#d": DAY_ATTRIBUTE},
                "ConsistentRead": True,
            })
        }

    def stored_statements(self, initiative_id: str, member_state: str, bucket: int) -> list[StatementItemKeys]:
        statements: list[StatementItemKeys] = []
        names = {f"#a{i}": name for i, name in enumerate(STATEMENT_ATTRIBUTES_READ)}
        for item in query_items(self._client, {
            "TableName": self._statements,
            "KeyConditionExpression": "#a0 = :pk",
            "ExpressionAttributeValues": {":pk": {"S": statement_partition_key(initiative_id, member_state,
                                                                              bucket)}},
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "Select": "SPECIFIC_ATTRIBUTES",
            "ConsistentRead": True,
        }):
            statement_id = item["sk"]["S"]
            submitted_on = item.get("submitted_on", {}).get("S")
            stored_at = item.get(STORED_AT_ATTRIBUTE, {}).get("N")
            statements.append(StatementItemKeys(
                StatementRef(initiative_id, member_state, bucket, statement_id),
                date.fromisoformat(submitted_on) if submitted_on else day_of_statement_id(statement_id),
                float(stored_at) if stored_at is not None else None,
            ))
        return statements

    def dead_letters(self, initiative_id: str) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        for partition in (dead_letter_partition_key(initiative_id), dead_letter_partition_key(None)):
            for item in query_items(self._client, {
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
