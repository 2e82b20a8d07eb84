"""Records of the statements table's stream, as Lambda delivers them, turned into typed values.

The stream is KEYS_ONLY: a record says which item was inserted, modified or removed, never what it
holds. Only the key of a statement item (``S#{initiative}#{MS}#{bucket:02d}`` / statement id) counts:

* INSERT of a statement: one more signatory for (initiative, Member State), on the statement's signing
  day (carried by its id; for an id without one, the day in Brussels when the record was made);
* REMOVE of a statement: one fewer, unless DynamoDB's TTL removed it (destruction at the end of the
  retention period never changes the published counts), which is ignored;
* MODIFY, and any item that is not a statement (duplicate markers ``F#...``): ignored;
* anything that cannot be read (no keys, a statement key that does not parse, an unknown event name,
  no event id or sequence number): poison. Poison never raises: the caller records it in a dead-letter
  place and goes on, so one bad record cannot block its shard.

Parsing never looks beyond the keys and the record's own metadata, so nothing personal can leak from here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.initiative import INITIATIVE_ID
from chalicelib.rules.member_states import member_state_codes
from chalicelib.signing.statement_id import day_of_statement_id, signing_day_at_epoch
from chalicelib.storage.statements import STATEMENT_BUCKETS, STATEMENT_PREFIX

INSERT = "INSERT"
MODIFY = "MODIFY"
REMOVE = "REMOVE"
_EVENT_NAMES = frozenset({INSERT, MODIFY, REMOVE})
# Who removes an item when its TTL runs out: DynamoDB itself, named so in the record's userIdentity.
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
_STATEMENT_KEY_START = STATEMENT_PREFIX + "#"
# DynamoDB stream sequence numbers have 21 to 40 digits: padded to 40 they sort as numbers do.
SEQUENCE_NUMBER_WIDTH = 40
_KEY_EXCERPT = 120  # how much of an unreadable partition key a dead letter keeps


@dataclass(frozen=True)
class CountedChange:
    """A statement inserted (+1) or removed (-1) in (initiative, Member State)."""

    record_id: str  # the record's eventID: unique, stable across redeliveries
    sequence_number: str
    initiative_id: str
    member_state: str
    delta: int
    statement_id: str = ""
    bucket: int = 0  # the statement partition's bucket, from its key
    day: date | None = None  # signing day; None when neither the id nor the record tells

    @property
    def is_removal(self) -> bool:
        return self.delta < 0


@dataclass(frozen=True)
class IgnoredRecord:
    """A well-formed record that changes no count (a marker, a MODIFY, a removal by TTL)."""

    record_id: str
    sequence_number: str
    why: str


@dataclass(frozen=True)
class PoisonRecord:
    """A record that cannot be read. Keys and metadata only: the stream carries nothing else."""

    record_id: str
    sequence_number: str  # "" when the record has none
    initiative_id: str | None  # when the key names a valid one
    reason: str
    event_name: str | None
    partition_key: str | None  # an excerpt, for the operator who investigates

    @property
    def sort_key(self) -> str:
        """Orders dead letters by sequence number (fixed width), then event id; unique per record."""
        sequence = self.sequence_number.zfill(SEQUENCE_NUMBER_WIDTH) if self.sequence_number else "no-sequence"
        return f"{sequence}#{self.record_id}"


StreamRecord = CountedChange | IgnoredRecord | PoisonRecord


def records_of_event(event: Mapping[str, Any]) -> list[StreamRecord]:
    """Every record of a Lambda DynamoDB stream event, parsed, in delivery order."""
    raw_records = event.get("Records")
    if not isinstance(raw_records, Sequence) or isinstance(raw_records, str | bytes):
        return []
    return [parse_record(raw) for raw in raw_records]


def parse_record(raw: object) -> StreamRecord:
    """One Lambda stream record as a typed value; never raises."""
    if not isinstance(raw, Mapping):
        return PoisonRecord(_content_id(raw), "", None, "record is not an object", None, None)
    event_id = raw.get("eventID")
    details = raw.get("dynamodb")
    sequence_number = details.get("SequenceNumber") if isinstance(details, Mapping) else None
    sequence = sequence_number if isinstance(sequence_number, str) and _is_sequence_number(sequence_number) else ""
    event_name = raw.get("eventName") if isinstance(raw.get("eventName"), str) else None

    def poison(reason: str, initiative_id: str | None = None, partition_key: str | None = None) -> PoisonRecord:
        record_id = event_id if isinstance(event_id, str) and event_id else _fallback_id(sequence, raw)
        excerpt = partition_key[:_KEY_EXCERPT] if partition_key is not None else None
        return PoisonRecord(record_id, sequence, initiative_id, reason, event_name, excerpt)

    if not isinstance(event_id, str) or not event_id:
        return poison("no eventID")
    if not isinstance(details, Mapping):
        return poison("no dynamodb section")
    if not sequence:
        return poison("no sequence number")
    if event_name not in _EVENT_NAMES:
        return poison("unknown event name")
    keys = details.get("Keys")
    partition_key = _string_attribute(keys, "pk")
    if partition_key is None:
        return poison("no partition key")
    if not partition_key.startswith(_STATEMENT_KEY_START):
        return IgnoredRecord(event_id, sequence, "not a statement")
    parsed = _statement_partition(partition_key)
    statement_id = _string_attribute(keys, "sk")
    if isinstance(parsed, str) or not statement_id:
        return poison("malformed statement key", _initiative_named_in(partition_key), partition_key)
    initiative_id, member_state, bucket = parsed
    if event_name == MODIFY:
        return IgnoredRecord(event_id, sequence, "modified")
    if event_name == REMOVE and _removed_by_ttl(raw.get("userIdentity")):
        return IgnoredRecord(event_id, sequence, "expired")
    day = day_of_statement_id(statement_id) or _record_day(details)
    delta = +1 if event_name == INSERT else -1
    return CountedChange(event_id, sequence, initiative_id, member_state, delta, statement_id, bucket, day)


def _record_day(details: Mapping[str, Any]) -> date | None:
    created = details.get("ApproximateCreationDateTime")
    if isinstance(created, int | float) and not isinstance(created, bool) and 0 < created < 32503680000:
        return signing_day_at_epoch(float(created))
    return None


def _statement_partition(partition_key: str) -> tuple[str, str, int] | str:
    """(initiative, Member State) of a statement partition key, or which part of it is malformed."""
    parts = partition_key.split("#")
    if len(parts) != 4:
        return "wrong number of parts"
    _, initiative_id, member_state, bucket = parts
    if not INITIATIVE_ID.fullmatch(initiative_id):
        return "initiative"
    if member_state not in member_state_codes():
        return "member state"
    if len(bucket) != 2 or not (bucket.isascii() and bucket.isdigit()) or int(bucket) >= STATEMENT_BUCKETS:
        return "bucket"
    return initiative_id, member_state, int(bucket)


def _initiative_named_in(partition_key: str) -> str | None:
    parts = partition_key.split("#")
    return parts[1] if len(parts) > 1 and INITIATIVE_ID.fullmatch(parts[1]) else None


def _string_attribute(keys: object, name: str) -> str | None:
    if not isinstance(keys, Mapping):
        return None
    value = keys.get(name)
    if not isinstance(value, Mapping):
        return None
    text = value.get("S")
    return text if isinstance(text, str) and text else None


def _is_sequence_number(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= SEQUENCE_NUMBER_WIDTH


def _removed_by_ttl(identity: object) -> bool:
    return (
        isinstance(identity, Mapping)
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
    )


def _fallback_id(sequence: str, raw: object) -> str:
    """A stable identity for a record without eventID: the same record redelivered gets the same one."""
    return f"seq:{sequence}" if sequence else _content_id(raw)


def _content_id(raw: object) -> str:
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return f"sha256:{digest[:32]}"
