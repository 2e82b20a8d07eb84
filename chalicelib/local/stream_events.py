"""Lambda's events, built as Lambda builds them, for the local runner and the tests (Chalice's test client
has no DynamoDB or scheduled event generator).

A DynamoDB stream record as the Streams API returns it (GetRecords) becomes the record Lambda hands a
function: the same eventID, eventName and keys, the creation time in epoch seconds, eventSourceARN
added, the region the stream's (moto names us-east-1 whatever the region), and userIdentity with
Lambda's lower-case field names (present for removals by TTL). Pure: no AWS calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any


def stream_region(stream_arn: str) -> str:
    parts = stream_arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def lambda_stream_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """One GetRecords record as Lambda's DynamoDB event source mapping delivers it."""
    details = dict(record.get("dynamodb", {}))
    created = details.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        details["ApproximateCreationDateTime"] = int(created.timestamp())
    delivered: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        "awsRegion": stream_region(stream_arn) or record.get("awsRegion"),
        "dynamodb": details,
        "eventSourceARN": stream_arn,
    }
    identity = record.get("userIdentity")
    if isinstance(identity, Mapping):
        delivered["userIdentity"] = {
            "type": identity.get("Type", identity.get("type")),
            "principalId": identity.get("PrincipalId", identity.get("principalId")),
        }
    return delivered


def lambda_stream_event(records: Sequence[Mapping[str, Any]], stream_arn: str) -> dict[str, Any]:
    """The event of one batch: Lambda's {"Records": [...]} for these GetRecords records, in order."""
    return {"Records": [lambda_stream_record(record, stream_arn) for record in records]}


def scheduled_event(rule_name: str, region: str, account_id: str = "000000000000",
                    now: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge hands a scheduled function."""
    fired = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": fired,
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        "detail": {},
    }
