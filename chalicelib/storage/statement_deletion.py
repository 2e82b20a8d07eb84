"""Deleting one statement on the signatory's request: the statement, its duplicate marker and the audit entry,
in one transaction, by the identifier on the receipt.

The console reads only keys and the marker's key, never the sealed content (its IAM policy allows only
those attributes, and it has no KMS rights). The count drops through the counting path: the stream's
REMOVE record of the statement item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.rules.member_states import all_member_states
from chalicelib.storage.statements import (
    MARKER_PREFIX,
    MARKER_SORT_KEY,
    STATEMENT_BUCKETS,
    statement_key,
    statement_partition_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# What the console may read of a statement item (its policy names the same attributes).
READABLE_ATTRIBUTES = ("pk", "sk", "member_state", "marker_pk")


@dataclass(frozen=True)
class FoundStatement:
    pk: str
    sk: str
    member_state: str
    marker_pk: str  # empty for a statement stored before items named their marker


class DynamoDBStatementDeleter:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def find(self, initiative_id: str, statement_id: str) -> FoundStatement | None:
        """The statement with this identifier, whatever its Member State: one BatchGetItem of 27 keys."""
        keys = [statement_key(initiative_id, state.code, statement_id) for state in all_member_states()]
        request: Any = {self._table: {
            "Keys": [{"pk": {"S": key.pk}, "sk": {"S": key.sk}} for key in keys],
            "ProjectionExpression": ", ".join(READABLE_ATTRIBUTES), "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            items += response.get("Responses", {}).get(self._table, [])
            request = response.get("UnprocessedKeys") or {}
        if not items:
            return None
        item = items[0]
        marker_pk = item.get("marker_pk", {}).get("S", "") or self._marker_of(initiative_id, statement_id)
        return FoundStatement(item["pk"]["S"], item["sk"]["S"], item["member_state"]["S"], marker_pk)

    def _marker_of(self, initiative_id: str, statement_id: str) -> str:
        """For statements stored before items named their marker: the marker that names the statement."""
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=self._table, ProjectionExpression="pk, sk, statement_sk", ConsistentRead=True,
            FilterExpression="begins_with(pk, :prefix) AND statement_sk = :id",
            ExpressionAttributeValues={":prefix": {"S": f"{MARKER_PREFIX}#{initiative_id}#"},
                                       ":id": {"S": statement_id}},
        ):
            for item in page.get("Items", []):
                return str(item["pk"]["S"])
        return ""

    def statements_of(self, initiative_id: str, limit: int) -> list[FoundStatement]:
        """Up to `limit` statements of the initiative (keys, Member State and marker only), State by State."""
        found: list[FoundStatement] = []
        for state in all_member_states():
            for bucket in range(STATEMENT_BUCKETS):
                pk = statement_partition_key(initiative_id, state.code, bucket)
                for page in self._client.get_paginator("query").paginate(
                    TableName=self._table, KeyConditionExpression="pk = :pk", ConsistentRead=True,
                    ExpressionAttributeValues={":pk": {"S": pk}}, ProjectionExpression=", ".join(READABLE_ATTRIBUTES),
                ):
                    for item in page.get("Items", []):
                        found.append(FoundStatement(item["pk"]["S"], item["sk"]["S"], state.code,
                                                    item.get("marker_pk", {}).get("S", "")))
                        if len(found) >= limit:
                            return found
        return found

    def delete(self, found: FoundStatement, audit_put: dict[str, Any] | None) -> bool:
        """Statement, marker and audit entry (if any), all or none; False when the statement is gone already."""
        items: list[Any] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": found.pk}, "sk": {"S": found.sk}},
                        "ConditionExpression": "attribute_exists(pk)"}},
        ]
        if audit_put is not None:
            items.append({"Put": audit_put})
        if found.marker_pk:
            items.append({"Delete": {
                "TableName": self._table, "Key": {"pk": {"S": found.marker_pk}, "sk": {"S": MARKER_SORT_KEY}},
                # Only the marker of this statement: never another's, whatever marker_pk said.
                "ConditionExpression": "attribute_not_exists(pk) OR statement_sk = :id",
                "ExpressionAttributeValues": {":id": {"S": found.sk}}}})
        try:
            self._client.transact_write_items(TransactItems=items)
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True
