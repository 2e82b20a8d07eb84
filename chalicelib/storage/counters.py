"""Reading the counters table: one item per (initiative, Member State), written by the count function.

Layout: pk ``{initiative_id}``, sk ``MS#{member_state}``, numeric attribute ``signatories``. Other items
under the same pk (the counter's own bookkeeping) have other sort-key prefixes and are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

MEMBER_STATE_SORT_PREFIX = "MS#"
SIGNATORIES_ATTRIBUTE = "signatories"


def counter_sort_key(member_state: str) -> str:
    return f"{MEMBER_STATE_SORT_PREFIX}{member_state}"


class DynamoDBCounterReader:
    """CounterReader on DynamoDB: one Query per initiative (27 small items fit one page)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def counts(self, initiative_id: str) -> dict[str, int]:
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": initiative_id},
                ":prefix": {"S": MEMBER_STATE_SORT_PREFIX},
            },
            "ProjectionExpression": "sk, #n",
            "ExpressionAttributeNames": {"#n": SIGNATORIES_ATTRIBUTE},
        }
        counts: dict[str, int] = {}
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                code = item["sk"]["S"].removeprefix(MEMBER_STATE_SORT_PREFIX)
                number = item.get(SIGNATORIES_ATTRIBUTE, {}).get("N")
                if number is not None:
                    counts[code] = int(number)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return counts
            request["ExclusiveStartKey"] = last_key
