"""In-memory stand-ins for the storage ports, for tests that need no AWS (the Chalice todo sample's pattern)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date
from typing import Any

from chalicelib.counting.ports import (
    TRANSACTION_ITEM_LIMIT,
    AppliedRun,
    CounterReading,
    CountTransaction,
    DeadLetter,
    LedgerConflictError,
    LedgerState,
    SeenDrift,
)
from chalicelib.counting.stream_records import PoisonRecord
from chalicelib.exporting.ports import StoredObject, StoredStatement
from chalicelib.signing.ports import FormNonce, FormReplayedError, StatementRecord


class InMemoryStatementStore:
    """StatementStore in memory, with the DynamoDB store's outcomes: a replayed nonce wins over a duplicate."""

    def __init__(self) -> None:
        self.statements: dict[str, StatementRecord] = {}
        self.fingerprints: dict[str, str] = {}
        self.nonces: dict[str, int] = {}

    def add(self, record: StatementRecord, fingerprint: str, nonce: FormNonce | None = None) -> bool:
        nonce_key = f"{record.initiative_id}#{nonce.value}" if nonce else None
        if nonce_key in self.nonces:
            raise FormReplayedError("form token already used")
        if nonce is not None and nonce_key is not None:
            self.nonces[nonce_key] = nonce.expires_at
        key = f"{record.initiative_id}#{fingerprint}"
        if key in self.fingerprints:
            return False
        self.fingerprints[key] = record.statement_id
        self.statements[record.statement_id] = record
        return True


class InMemoryCounterReader:
    def __init__(self, counts: Mapping[str, int] | None = None) -> None:
        self.values = dict(counts or {})

    def counts(self, initiative_id: str) -> dict[str, int]:
        return dict(self.values)


class ReversibleSealer:
    """Wraps the plaintext in a JSON envelope with its context, so tests can look inside.

    Not encryption: only for tests of the signing flow, never wired into the app.
    """

    def __init__(self) -> None:
        self.calls = 0

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        self.calls += 1
        return json.dumps({"context": dict(context), "plaintext": plaintext.decode("utf-8")}).encode("utf-8")

    @staticmethod
    def open(sealed: bytes) -> dict[str, object]:
        envelope = json.loads(sealed)
        return {"context": envelope["context"], "payload": json.loads(envelope["plaintext"])}


class SimulatedCrash(Exception):  # noqa: N818 - it is what the test simulates, not an error of the code
    """The count function's process dying, before or after its write reached the table."""


class InMemoryCountLedger:
    """CountLedger in memory with TransactWriteItems' all-or-nothing semantics and its item limit.

    `crash_at(n, after_write)` makes the n-th next transaction die before or after it is written.
    `before_next_apply` runs once just before the next transaction is checked (another delivery racing).
    """

    def __init__(self, max_items: int = TRANSACTION_ITEM_LIMIT) -> None:
        self.max_items = max_items
        self.counters: dict[tuple[str, str], int] = {}
        self.markers: dict[str, AppliedRun] = {}
        self.dead_letters: dict[tuple[str, str], PoisonRecord] = {}
        self.final: set[str] = set()
        self.reads = 0
        self.transactions = 0  # written
        self.refused = 0
        self.before_next_apply: Callable[[], None] | None = None
        self._applies = 0
        self._crash: tuple[int, bool] | None = None

    def crash_at(self, transaction: int, after_write: bool) -> None:
        self._crash = (self._applies + transaction, after_write)

    def no_crash(self) -> None:
        self._crash = None

    def read(self, marker_key: str, initiatives: Collection[str]) -> LedgerState:
        self.reads += 1
        return LedgerState(self.markers.get(marker_key, AppliedRun()), frozenset(self.final & set(initiatives)))

    def apply(self, transaction: CountTransaction) -> None:
        racing, self.before_next_apply = self.before_next_apply, None
        if racing is not None:
            racing()
        if transaction.item_count > self.max_items:
            raise ValueError(f"{transaction.item_count} items in one transaction, limit {self.max_items}")
        self._applies += 1
        crash = self._crash if self._crash is not None and self._crash[0] == self._applies else None
        if crash is not None and not crash[1]:
            self._crash = None
            raise SimulatedCrash("before the write")
        marker = self.markers.get(transaction.marker_key, AppliedRun())
        if marker.version != transaction.expected_version or transaction.not_final & self.final:
            self.refused += 1
            raise LedgerConflictError("marker or final flag moved")
        self.markers[transaction.marker_key] = AppliedRun(transaction.applied, marker.version + 1)
        for pair, delta in transaction.increments.items():
            self.counters[pair] = self.counters.get(pair, 0) + delta
        for poison in transaction.dead_letters:
            self.dead_letters[(poison.initiative_id or "unknown", poison.sort_key)] = poison
        self.transactions += 1
        if crash is not None:
            self._crash = None
            raise SimulatedCrash("after the write")

    def continue_run(self, marker_key: str, applied: tuple[str, ...]) -> None:
        existing = self.markers.get(marker_key)
        if existing is None or len(existing.record_ids) < len(applied):
            self.markers[marker_key] = AppliedRun(applied, (existing.version if existing else 0) + 1)

    def counts(self, initiative_id: str) -> dict[str, int]:
        return {state: count for (initiative, state), count in self.counters.items() if initiative == initiative_id}


class InMemoryRecountStore:
    """RecountStore in memory. `while_counting` runs once during the statements' count (a batch landing)."""

    def __init__(self) -> None:
        self.statements: dict[tuple[str, str], int] = {}
        self.readings: dict[tuple[str, str], CounterReading] = {}
        self.final: set[str] = set()
        self.seen: dict[str, dict[str, SeenDrift]] = {}
        self.letters: list[DeadLetter] = []
        self.while_counting: Callable[[], None] | None = None

    def add_to_counter(self, initiative_id: str, member_state: str, delta: int) -> None:
        """What the count function does to a counter: add, and move its version."""
        reading = self.readings.get((initiative_id, member_state), CounterReading(0, 0))
        self.readings[(initiative_id, member_state)] = CounterReading(reading.signatories + delta, reading.version + 1)

    def is_final(self, initiative_id: str) -> bool:
        return initiative_id in self.final

    def counters(self, initiative_id: str) -> dict[str, CounterReading]:
        return {state: reading for (initiative, state), reading in self.readings.items() if initiative == initiative_id}

    def count_statements(self, initiative_id: str, member_state: str) -> int:
        landing, self.while_counting = self.while_counting, None
        if landing is not None:
            landing()
        return self.statements.get((initiative_id, member_state), 0)

    def seen_drifts(self, initiative_id: str) -> dict[str, SeenDrift]:
        return dict(self.seen.get(initiative_id, {}))

    def remember_drifts(self, initiative_id: str, drifts: Mapping[str, SeenDrift]) -> None:
        self.seen[initiative_id] = dict(drifts)

    def correct(self, initiative_id: str, member_state: str, expected_version: int, signatories: int) -> bool:
        reading = self.readings.get((initiative_id, member_state), CounterReading(0, 0))
        if reading.version != expected_version:
            return False
        self.readings[(initiative_id, member_state)] = CounterReading(signatories, reading.version + 1)
        return True

    def dead_letters(self, initiative_id: str) -> list[DeadLetter]:
        return [letter for letter in self.letters if letter.initiative in (initiative_id, "unknown")]


class InMemoryStatementSource:
    """StatementSource over a list of StoredStatements, in the scan order DynamoDB gives them.

    Its "sealed" bytes are the payload itself: pair it with PlainOpener.
    """

    def __init__(self, initiative_id: str, statements: list[StoredStatement]) -> None:
        self.initiative_id = initiative_id
        self.items = list(statements)
        self.reads = 0

    def statements(
        self, initiative_id: str, member_state: str, bucket: int, after: str | None = None
    ) -> Iterator[StoredStatement]:
        if initiative_id != self.initiative_id:
            return
        chosen = sorted(
            (item for item in self.items if item.member_state == member_state and item.bucket == bucket),
            key=lambda item: item.statement_id,
        )
        for item in chosen:
            if after is None or item.statement_id > after:
                self.reads += 1
                yield item

    def member_states_with_statements(self, initiative_id: str, candidates: Collection[str]) -> frozenset[str]:
        if initiative_id != self.initiative_id:
            return frozenset()
        return frozenset(item.member_state for item in self.items if item.member_state in candidates)


class PlainOpener:
    """StatementOpener for InMemoryStatementSource: the sealed bytes are the plaintext. Counts opens."""

    def __init__(self) -> None:
        self.opened = 0

    def open(self, sealed: bytes, expected_context: Mapping[str, str]) -> bytes:
        self.opened += 1
        return sealed


class InMemoryExportFile:
    def __init__(self, store: InMemoryExportFileStore, key: str, fail_after_bytes: int | None) -> None:
        self._store = store
        self._key = key
        self._buffer = bytearray()
        self._fail_after = fail_after_bytes

    def write(self, data: bytes, /) -> None:
        self._buffer += data
        if self._fail_after is not None and len(self._buffer) > self._fail_after:
            raise SimulatedCrash("the upload failed")

    def close(self) -> StoredObject:
        data = bytes(self._buffer)
        self._store.objects[self._key] = data
        self._store.writes[self._key] = self._store.writes.get(self._key, 0) + 1
        return StoredObject(len(data), hashlib.sha256(data).hexdigest(), ("plain",))

    def abort(self) -> None:
        self._store.aborted.append(self._key)


class InMemoryExportFileStore:
    """ExportFileStore in memory, unencrypted (the XML as written). `fail_on_file(n)` breaks the n-th next file."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.writes: dict[str, int] = {}
        self.aborted: list[str] = []
        self._created = 0
        self._fail_at: int | None = None

    def fail_on_file(self, number: int) -> None:
        self._fail_at = self._created + number

    def create(self, key: str, context: Mapping[str, str], member_state: str) -> InMemoryExportFile:
        self._created += 1
        failing = self._fail_at is not None and self._created == self._fail_at
        if failing:
            self._fail_at = None
        return InMemoryExportFile(self, key, 100 if failing else None)

    def read_json(self, key: str) -> dict[str, Any] | None:
        document = self.documents.get(key)
        return json.loads(json.dumps(document)) if document is not None else None

    def write_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.documents[key] = json.loads(json.dumps(document))


def web_only_services(today: date, counts: Mapping[str, int], **settings: Any) -> Any:
    """The app's services for pages alone: counters in memory, a fixed made-up fingerprint key, no AWS.

    `settings` replaces fields of the settings (origin_verify_secret=...). Pass it to services.use().
    """
    from dataclasses import replace

    from chalicelib import services
    from chalicelib.config import Settings

    configured = Settings.from_environ({
        "STATEMENTS_TABLE": "t-statements", "COUNTERS_TABLE": "t-counters",
        "STATEMENTS_KEY": "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000",
        "FINGERPRINT_KEY_PARAMETER": "/eci/test/fingerprint-key",
    })
    current = services.Services(replace(configured, **settings), services.check_initiative_file(),
                                today=lambda: today)
    current.__dict__["counters"] = InMemoryCounterReader(dict(counts))
    current.__dict__["fingerprint_key"] = bytes(range(32))
    return current


def signing_services(today: date, **settings: Any) -> Any:
    """web_only_services, and a store and sealer in memory: the whole signing route with no AWS.

    The store is InMemoryStatementStore, the sealer ReversibleSealer (tests can read what was sealed).
    """
    current = web_only_services(today, {}, **settings)
    current.__dict__["store"] = InMemoryStatementStore()
    current.__dict__["sealer"] = ReversibleSealer()
    return current
