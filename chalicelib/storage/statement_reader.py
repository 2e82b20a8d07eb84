"""Reading statement items for the export: one Query per bucket, page by page (one page in memory).

Only the export function's role may Query the statements table, and only it may decrypt what it reads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date
from typing import TYPE_CHECKING

from chalicelib.exporting.ports import StoredStatement
from chalicelib.storage.queries import query_items
from chalicelib.storage.statements import STATEMENT_BUCKETS, statement_partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

_ATTRIBUTES = "pk, sk, submitted_on, form_language, annex_revision, sealed"
_PARALLEL_QUERIES = 16


class DynamoDBStatementReader:
    """StatementSource on DynamoDB."""

    def __init__(self, client: DynamoDBClient, table_name: str, page_size: int | None = None) -> None:
        self._client = client
        self._table = table_name
        self._page_size = page_size

    def statements(
        self, initiative_id: str, member_state: str, bucket: int, after: str | None = None
    ) -> Iterator[StoredStatement]:
        pk = statement_partition_key(initiative_id, member_state, bucket)
        request: QueryInputTypeDef = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ProjectionExpression": _ATTRIBUTES,
            "ConsistentRead": True,  # what was acknowledged before the run is seen by it
        }
        if self._page_size:
            request["Limit"] = self._page_size
        if after is not None:
            request["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": after}}
        for item in query_items(self._client, request):
            yield StoredStatement(
                member_state=member_state,
                bucket=bucket,
                statement_id=item["sk"]["S"],
                submitted_on=date.fromisoformat(item["submitted_on"]["S"]),
                form_language=item["form_language"]["S"],
                annex_revision=int(item["annex_revision"]["N"]),
                sealed=bytes(item["sealed"]["B"]),
            )

    def member_states_with_statements(self, initiative_id: str, candidates: Collection[str]) -> frozenset[str]:
        """One keys-only Query of at most one item per (State, bucket), side by side."""
        from concurrent.futures import ThreadPoolExecutor

        def holds(pair: tuple[str, int]) -> bool:
            code, bucket = pair
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": statement_partition_key(initiative_id, code, bucket)}},
                Select="COUNT",
                Limit=1,
            )
            return page.get("Count", 0) > 0

        pairs = [(code, bucket) for code in sorted(candidates) for bucket in range(STATEMENT_BUCKETS)]
        with ThreadPoolExecutor(max_workers=_PARALLEL_QUERIES) as pool:
            found = list(pool.map(holds, pairs))
        return frozenset(code for (code, _bucket), present in zip(pairs, found, strict=True) if present)
