"""Every item of a DynamoDB Query, page after page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


def query_items(client: DynamoDBClient, request: QueryInputTypeDef) -> Iterator[dict[str, Any]]:
    """The items of ``request``'s Query, following LastEvaluatedKey from page to page.

    The request may itself start after a key (``ExclusiveStartKey``) and set a page size (``Limit``), as
    the export's resumable reads do; it is not changed.
    """
    request = request.copy()
    while True:
        page = client.query(**request)
        yield from page.get("Items", [])
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key
