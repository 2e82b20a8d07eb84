"""Destroying one initiative's statement items and duplicate markers in the statements table.

Markers are keyed by fingerprint, so they cannot be queried by initiative: one Scan finds both kinds
by their key prefixes (``S#{initiative}#`` and ``F#{initiative}#``; the ``#`` after the id keeps
``demo`` from matching ``demo-2026``), and the same Scan finds those of the initiative's test phase
(``S#{initiative}~test#``, ``F#{initiative}~test#``), which a test phase that never went live leaves.
The Scan projects the keys only, and the purge function's IAM policy allows it to read nothing else;
it holds no KMS permission, so it could not read a statement even if it fetched one. A purge is rare
(once per initiative), so a Scan is the price.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chalicelib.console.records import initiative_id_in_test_phase
from chalicelib.exporting.retention import DeletedPage
from chalicelib.storage.statements import MARKER_PREFIX, STATEMENT_PREFIX, parse_statement_partition_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# TransactWriteItems' limit. Deletes go in transactions, not BatchWriteItem: IAM cannot tell a batch's
# deletes from its puts, while a transaction's deletes need dynamodb:DeleteItem alone, so the purge
# function may delete and never put (its policy grants no PutItem).
_BATCH = 100
_RETRIES = 8


class DynamoDBStatementPurger:
    """StatementPurger on DynamoDB: Scan a page of keys and report it; delete it in batches when asked.

    Finding and deleting are two steps so that the purge can record a page before it goes.
    """

    def __init__(self, client: DynamoDBClient, table_name: str, page_size: int | None = None) -> None:
        self._client = client
        self._table = table_name
        self._page_size = page_size

    def find_pages(self, initiative_id: str) -> Iterator[DeletedPage]:
        if not initiative_id or "#" in initiative_id:
            raise ValueError("an initiative id is non-empty and has no '#'")
        test_id = initiative_id_in_test_phase(initiative_id)
        marker_prefix = f"{MARKER_PREFIX}#{initiative_id}#"
        test_marker_prefix = f"{MARKER_PREFIX}#{test_id}#"
        request: dict[str, Any] = {
            "TableName": self._table,
            "Select": "SPECIFIC_ATTRIBUTES",  # the purge function's IAM policy requires it, with pk and sk only
            "ProjectionExpression": "pk, sk",
            "FilterExpression": "begins_with(pk, :statements) OR begins_with(pk, :markers) "
                                "OR begins_with(pk, :test_statements) OR begins_with(pk, :test_markers)",
            "ExpressionAttributeValues": {
                ":statements": {"S": f"{STATEMENT_PREFIX}#{initiative_id}#"}, ":markers": {"S": marker_prefix},
                ":test_statements": {"S": f"{STATEMENT_PREFIX}#{test_id}#"},
                ":test_markers": {"S": test_marker_prefix},
            },
            "ConsistentRead": True,
        }
        if self._page_size:
            request["Limit"] = self._page_size
        while True:
            page = self._client.scan(**request)
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in page.get("Items", [])]
            statements: dict[str, int] = {}
            test_statements: dict[str, int] = {}
            markers = test_markers = 0
            for key in keys:
                pk = key["pk"]["S"]
                parsed = parse_statement_partition_key(pk)
                if parsed is not None and parsed[0] == initiative_id:
                    statements[parsed[1]] = statements.get(parsed[1], 0) + 1
                elif parsed is not None and parsed[0] == test_id:
                    test_statements[parsed[1]] = test_statements.get(parsed[1], 0) + 1
                elif pk.startswith(marker_prefix):
                    markers += 1
                elif pk.startswith(test_marker_prefix):
                    test_markers += 1
                else:  # the filter returned something else: never delete what is not this initiative's
                    raise RuntimeError("the purge scan returned an item of another initiative")
            if keys:
                # The caller deletes it (or not) before the next page is scanned; the scan goes on from
                # LastEvaluatedKey either way.
                yield DeletedPage(statements, markers, tuple(keys), test_statements, test_markers)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key

    def delete(self, page: DeletedPage) -> None:
        keys = list(page.keys)
        for start in range(0, len(keys), _BATCH):
            self._delete(keys[start:start + _BATCH])

    def _delete(self, keys: list[Any]) -> None:
        client = self._client
        items: Any = [{"Delete": {"TableName": self._table, "Key": key}} for key in keys]
        for attempt in range(_RETRIES):
            try:
                client.transact_write_items(TransactItems=items)
                return
            except client.exceptions.TransactionCanceledException:
                pass  # another write on one of these items (a late export worker's read does not count)
            except (client.exceptions.ProvisionedThroughputExceededException,
                    client.exceptions.RequestLimitExceeded):
                pass
            time.sleep(min(0.05 * 2**attempt, 2.0))  # throttled or in conflict: back off, then again
        raise RuntimeError("DynamoDB kept refusing deletes; the purge resumes on its next run")
