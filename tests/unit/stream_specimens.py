"""Stream records for tests: a statements table in miniature that yields, for each write, the record the
DynamoDB Streams API would return; turned into Lambda's records by the same builder the local runner uses."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.counting.ports import StatementRef
from chalicelib.counting.stream_records import StreamRecord, records_of_event
from chalicelib.local.stream_events import lambda_stream_event
from chalicelib.signing.statement_id import new_statement_id
from chalicelib.storage.statements import marker_key, statement_bucket, statement_key

STREAM_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/eci-test-statements/stream/2026-09-01T00:00:00.000"
INITIATIVE = "clean-rivers"
OTHER_INITIATIVE = "quiet-skies"
SIGNING_DAY = date(2026, 11, 27)


def streams_api_record(
    event_name: str, pk: str, sk: str, sequence_number: int, *, removed_by_ttl: bool = False
) -> dict[str, Any]:
    """One record as GetRecords returns it for a KEYS_ONLY stream."""
    record: dict[str, Any] = {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
            "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
            "SequenceNumber": str(sequence_number),
            "SizeBytes": 80,
            "StreamViewType": "KEYS_ONLY",
        },
    }
    if removed_by_ttl:
        record["userIdentity"] = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    return record


def lambda_records(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as Lambda delivers them."""
    return list(lambda_stream_event(records, STREAM_ARN)["Records"])


def parsed(records: Sequence[dict[str, Any]]) -> list[StreamRecord]:
    return records_of_event(lambda_stream_event(records, STREAM_ARN))


@dataclass
class MiniatureTable:
    """Statements signed and removed; every write gives its stream record (Streams API shape)."""

    stored: Counter[tuple[str, str]] = field(default_factory=Counter)
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(100000000000000000001))
    _keys: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    _days: dict[str, date] = field(default_factory=dict)

    def sign(self, member_state: str, initiative: str = INITIATIVE,
             day: date = SIGNING_DAY) -> tuple[str, dict[str, Any]]:
        """A statement stored: (its id, its INSERT record)."""
        statement_id = new_statement_id(day)
        key = statement_key(initiative, member_state, statement_id)
        self._keys[statement_id] = (initiative, member_state, key.pk)
        self._days[statement_id] = day
        self.stored[(initiative, member_state)] += 1
        return statement_id, streams_api_record("INSERT", key.pk, key.sk, next(self._sequence))

    def remove(self, statement_id: str, *, by_ttl: bool = False) -> dict[str, Any]:
        initiative, member_state, pk = self._keys.pop(statement_id)
        self._days.pop(statement_id)
        self.stored[(initiative, member_state)] -= 1
        return streams_api_record("REMOVE", pk, statement_id, next(self._sequence), removed_by_ttl=by_ttl)

    def duplicate_marker(self, initiative: str = INITIATIVE) -> dict[str, Any]:
        key = marker_key(initiative, uuid.uuid4().hex)
        return streams_api_record("INSERT", key.pk, key.sk, next(self._sequence))

    def raw(self, event_name: str, pk: str, sk: str = "x") -> dict[str, Any]:
        return streams_api_record(event_name, pk, sk, next(self._sequence))

    def live(self) -> list[StatementRef]:
        """The statements stored now, as the count's references."""
        return [StatementRef(initiative, state, statement_bucket(statement_id), statement_id)
                for statement_id, (initiative, state, _) in self._keys.items()]

    def day_of(self, statement_id: str) -> date:
        return self._days[statement_id]

    def daily_counts(self, initiative: str = INITIATIVE) -> dict[str, dict[str, int]]:
        days: dict[str, dict[str, int]] = {}
        for statement_id, (owner, state, _) in sorted(self._keys.items()):
            if owner == initiative:
                per_day = days.setdefault(self._days[statement_id].isoformat(), {})
                per_day[state] = per_day.get(state, 0) + 1
        return dict(sorted(days.items()))

    def counts(self, initiative: str = INITIATIVE) -> dict[str, int]:
        return {state: number for (owner, state), number in self.stored.items() if owner == initiative and number}
