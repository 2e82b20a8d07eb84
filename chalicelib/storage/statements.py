"""The statements table: statement items and duplicate markers, written together or not at all.

Item layout (one table, keys pk/sk, both strings):

* statement: pk ``S#{initiative_id}#{member_state}#{bucket:02d}``, sk ``{statement_id}``.
  The bucket spreads one busy (initiative, Member State) over several partitions. It is derived from
  the random statement id, so keys carry initiative and Member State and nothing about the signatory.
  The stream is KEYS_ONLY, so the counter learns (initiative, Member State) from the key alone.
* duplicate marker: pk ``F#{initiative_id}#{fingerprint}``, sk ``F``. The fingerprint is a keyed HMAC,
  so the marker reveals nothing without the fingerprint key.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.signing.ports import StatementRecord, StorageUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

STATEMENT_PREFIX = "S"
MARKER_PREFIX = "F"
MARKER_SORT_KEY = "F"
# Partitions per (initiative, Member State). Readers (export, recount) query each bucket in turn.
STATEMENT_BUCKETS = 16
_SEPARATOR = "#"
_CONFLICT_ATTEMPTS = 3
# When the statement was written (epoch seconds, not personal): the count repair waits until a stream
# record for it can no longer be on its way (chalicelib/counting/recount.py).
STORED_AT_ATTRIBUTE = "stored_at"


@dataclass(frozen=True)
class ItemKey:
    pk: str
    sk: str


def _check_key_part(name: str, value: str) -> None:
    if not value or _SEPARATOR in value:
        raise ValueError(f"{name} must be non-empty and must not contain {_SEPARATOR!r}")


def statement_bucket(statement_id: str) -> int:
    """A bucket in 0..STATEMENT_BUCKETS-1, stable across processes (unlike hash())."""
    return zlib.crc32(statement_id.encode("utf-8")) % STATEMENT_BUCKETS


def statement_partition_key(initiative_id: str, member_state: str, bucket: int) -> str:
    _check_key_part("initiative_id", initiative_id)
    _check_key_part("member_state", member_state)
    if not 0 <= bucket < STATEMENT_BUCKETS:
        raise ValueError(f"bucket must be in 0..{STATEMENT_BUCKETS - 1}")
    return _SEPARATOR.join((STATEMENT_PREFIX, initiative_id, member_state, f"{bucket:02d}"))


def statement_key(initiative_id: str, member_state: str, statement_id: str) -> ItemKey:
    _check_key_part("statement_id", statement_id)
    bucket = statement_bucket(statement_id)
    return ItemKey(pk=statement_partition_key(initiative_id, member_state, bucket), sk=statement_id)


def marker_key(initiative_id: str, fingerprint: str) -> ItemKey:
    _check_key_part("initiative_id", initiative_id)
    _check_key_part("fingerprint", fingerprint)
    return ItemKey(pk=_SEPARATOR.join((MARKER_PREFIX, initiative_id, fingerprint)), sk=MARKER_SORT_KEY)


def parse_statement_partition_key(pk: str) -> tuple[str, str] | None:
    """(initiative_id, member_state) of a statement item's pk; None for any other item (markers)."""
    parts = pk.split(_SEPARATOR)
    if len(parts) != 4 or parts[0] != STATEMENT_PREFIX:
        return None
    return parts[1], parts[2]


class DynamoDBStatementStore:
    """StatementStore on DynamoDB: statement item and duplicate marker in one TransactWriteItems."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add(self, record: StatementRecord, fingerprint: str) -> bool:
        statement = statement_key(record.initiative_id, record.member_state, record.statement_id)
        marker = marker_key(record.initiative_id, fingerprint)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": statement.pk},
                        "sk": {"S": statement.sk},
                        "initiative_id": {"S": record.initiative_id},
                        "member_state": {"S": record.member_state},
                        "statement_id": {"S": record.statement_id},
                        "submitted_on": {"S": record.submitted_on.isoformat()},
                        "form_language": {"S": record.form_language},
                        "annex_revision": {"N": str(record.annex_revision)},
                        "sealed": {"B": record.sealed},
                        STORED_AT_ATTRIBUTE: {"N": str(int(time.time()))},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": marker.pk},
                        "sk": {"S": marker.sk},
                        "initiative_id": {"S": record.initiative_id},
                        # The signing day, not the server clock: one date for both items.
                        "created_on": {"S": record.submitted_on.isoformat()},
                        "statement_pk": {"S": statement.pk},
                        "statement_sk": {"S": statement.sk},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        from botocore.exceptions import BotoCoreError, ClientError

        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                # botocore fills ClientRequestToken once per call and keeps it across its own retries, so
                # a retried request that had in fact succeeded is not mistaken for a duplicate.
                self._client.transact_write_items(TransactItems=items)
                return True
            except self._client.exceptions.TransactionCanceledException as error:
                reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
                statement_reason = reasons[0] if len(reasons) > 0 else None
                marker_reason = reasons[1] if len(reasons) > 1 else None
                if marker_reason == "ConditionalCheckFailed" and statement_reason in (None, "None"):
                    return False
                if "TransactionConflict" in reasons and attempt + 1 < _CONFLICT_ATTEMPTS:
                    # The same person submitting twice at once: the retry finds the other's marker.
                    time.sleep(0.05 * (attempt + 1))
                    continue
                cancelled = ", ".join(map(str, reasons))
                raise StorageUnavailableError(f"statement not stored: cancelled ({cancelled})") from None
            except (ClientError, BotoCoreError) as error:
                raise StorageUnavailableError(f"statement not stored: {type(error).__name__}") from None
        raise StorageUnavailableError("statement not stored: conflicting writes")
