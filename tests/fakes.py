"""In-memory stand-ins for the storage ports, for tests that need no AWS (the Chalice todo sample's pattern)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import date
from typing import Any

from chalicelib.counting.ports import (
    TRANSACTION_ITEM_LIMIT,
    CountedRecord,
    CountedState,
    CountTransaction,
    DeadLetter,
    LedgerRefusedError,
    StatementItemKeys,
    StatementRef,
    transaction_items,
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
    """A process dying part-way, as the export tests simulate it (raised from a store)."""


class ProcessDied(BaseException):
    """The count function's process dying (a timeout, an out-of-memory kill): nothing in the process can
    catch it, so it is a BaseException; Lambda sees a function error."""


class InMemoryCountLedger:
    """CountLedger in memory, with TransactWriteItems' semantics: every condition checked, all or nothing,
    the item limit, and a refusal naming what failed (as CancellationReasons do)."""

    def __init__(self, max_items: int = TRANSACTION_ITEM_LIMIT) -> None:
        self.max_items = max_items
        self.records: dict[StatementRef, CountedRecord] = {}
        self.totals: dict[tuple[str, str], int] = {}
        self.daily: dict[tuple[str, date, str], int] = {}
        self.dead_letters: dict[tuple[str, str], PoisonRecord] = {}
        self.final: set[str] = set()
        self.reads = 0
        self.transactions = 0  # written
        self.refused = 0

    def counted(self, statements: Collection[StatementRef]) -> dict[StatementRef, CountedRecord]:
        self.reads += 1
        return {ref: self.records.get(ref, CountedRecord(CountedState.ABSENT)) for ref in statements}

    def apply(self, transaction: CountTransaction) -> None:
        if transaction_items(transaction) > self.max_items:
            raise ValueError(f"{transaction_items(transaction)} items in one transaction, limit {self.max_items}")
        if len(set(transaction.statements)) != len(list(transaction.statements)):
            raise ValueError("two operations on one item in one transaction")  # DynamoDB refuses it so
        moved = {ref for ref, _ in transaction.count if ref in self.records}
        moved |= {ref for ref, _ in transaction.bury if ref in self.records}
        moved |= {ref for ref, _ in transaction.uncount
                  if self.records.get(ref, CountedRecord(CountedState.ABSENT)).state is not CountedState.COUNTED}
        became_final = transaction.not_final & self.final
        if moved or became_final:
            self.refused += 1
            raise LedgerRefusedError(moved, became_final)
        for ref, day in transaction.count:
            self.records[ref] = CountedRecord(CountedState.COUNTED, day)
        for ref, day in transaction.uncount:
            self.records[ref] = CountedRecord(CountedState.REMOVED, day)
        for ref, maybe_day in transaction.bury:
            self.records[ref] = CountedRecord(CountedState.REMOVED, maybe_day)
        for ref in transaction.forget:
            self.records.pop(ref, None)
        for pair, delta in transaction.totals.items():
            self.totals[pair] = self.totals.get(pair, 0) + delta
        for key, delta in transaction.daily.items():
            self.daily[key] = self.daily.get(key, 0) + delta
        for poison in transaction.dead_letters:
            self.dead_letters[(poison.initiative_id or "unknown", poison.sort_key)] = poison
        self.transactions += 1

    def counts(self, initiative_id: str) -> dict[str, int]:
        return {state: count for (initiative, state), count in self.totals.items()
                if initiative == initiative_id and count}

    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]:
        days: dict[str, dict[str, int]] = {}
        for (initiative, day, state), count in sorted(self.daily.items()):
            if initiative == initiative_id and count:
                days.setdefault(day.isoformat(), {})[state] = count
        return days


class FaultyLedger:
    """Any CountLedger (in memory, or on moto) with what the platform does to the count function's writes:

    `crash_at(n, after_write)`: the n-th next transaction's process dies before or after its write (after:
    the response is lost); `hold_next()`: the next transaction's process dies with its write in flight, to
    land later with `land_held()`, checked against the table as it is then (a zombie write);
    `busy_next(k)`: the next k transactions are refused for contention; `before_next_apply`: runs once just
    before the next transaction (another delivery racing). Everything else is the wrapped ledger's.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.before_next_apply: Callable[[], None] | None = None
        self.held: list[CountTransaction] = []
        self._applies = 0
        self._crash: tuple[int, bool] | None = None
        self._hold_next = False
        self._busy = 0
        self._failure = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def crash_at(self, transaction: int, after_write: bool) -> None:
        self._crash = (self._applies + transaction, after_write)

    def hold_next(self) -> None:
        self._hold_next = True

    def fail_at(self, transaction: int) -> None:
        """The n-th next transaction fails with an error the function sees (AWS unavailable): not written."""
        self._failure = self._applies + transaction

    def busy_next(self, transactions: int) -> None:
        self._busy = transactions

    def calm(self) -> None:
        """No fault is pending any more."""
        self._crash, self._hold_next, self._busy, self._failure, self.before_next_apply = None, False, 0, 0, None

    def land_held(self) -> int:
        """Zombie writes land now; returns how many were written (the others were refused)."""
        written = 0
        held, self.held = self.held, []
        for transaction in held:
            try:
                self.inner.apply(transaction)
                written += 1
            except LedgerRefusedError:
                pass
        return written

    def counted(self, statements: Collection[StatementRef]) -> dict[StatementRef, CountedRecord]:
        result: dict[StatementRef, CountedRecord] = self.inner.counted(statements)
        return result

    def apply(self, transaction: CountTransaction) -> None:
        racing, self.before_next_apply = self.before_next_apply, None
        if racing is not None:
            racing()
        self._applies += 1
        if self._hold_next:
            self._hold_next = False
            self.held.append(transaction)
            raise ProcessDied("died with the write in flight")
        if self._busy:
            self._busy -= 1
            raise LedgerRefusedError(busy=True)
        if self._failure == self._applies:
            raise ConnectionError("simulated: DynamoDB unreachable")
        crash = self._crash if self._crash is not None and self._crash[0] == self._applies else None
        if crash is not None and not crash[1]:
            self._crash = None
            raise ProcessDied("before the write")
        self.inner.apply(transaction)
        if crash is not None:
            self._crash = None
            raise ProcessDied("after the write")


class InMemoryRecountStore:
    """RecountStore in memory over an InMemoryCountLedger's counted records and a set of statement items.

    `between_reads` runs once between the counted records' read and the statements' (a batch landing)."""

    def __init__(self, ledger: InMemoryCountLedger) -> None:
        self.ledger = ledger
        self.statements: dict[StatementRef, StatementItemKeys] = {}
        self.letters: list[DeadLetter] = []
        self.between_reads: Callable[[], None] | None = None

    def store(self, ref: StatementRef, day: date | None, stored_at: float | None) -> None:
        self.statements[ref] = StatementItemKeys(ref, day, stored_at)

    def is_final(self, initiative_id: str) -> bool:
        return initiative_id in self.ledger.final

    def counted_records(self, initiative_id: str, member_state: str,
                        bucket: int) -> dict[StatementRef, CountedRecord]:
        return {ref: record for ref, record in self.ledger.records.items()
                if (ref.initiative_id, ref.member_state, ref.bucket) == (initiative_id, member_state, bucket)}

    def stored_statements(self, initiative_id: str, member_state: str, bucket: int) -> list[StatementItemKeys]:
        landing, self.between_reads = self.between_reads, None
        if landing is not None:
            landing()
        return [statement for ref, statement in sorted(self.statements.items())
                if (ref.initiative_id, ref.member_state, ref.bucket) == (initiative_id, member_state, bucket)]

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
        self.versions: dict[str, int] = {}  # as S3's ETags: changed by every write
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
        self.versions[key] = self.versions.get(key, 0) + 1

    def read_json_version(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        document = self.read_json(key)
        return (document, str(self.versions[key])) if document is not None else (None, None)

    def replace_json(self, key: str, document: Mapping[str, Any], version: str | None) -> str:
        from chalicelib.exporting.ports import ConcurrentWriteError

        current = str(self.versions[key]) if key in self.documents else None
        if current != version:
            raise ConcurrentWriteError(f"{key} was written by another worker")
        self.write_json(key, document)
        return str(self.versions[key])


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
    current.__dict__["collection_states"] = InMemoryCollectionStates()
    current.__dict__["withdrawals"] = InMemoryWithdrawals()
    return current


class InMemoryWithdrawals:
    """The operator's recorded withdrawal, set by a test: `day = date(...)`; none by default."""

    def __init__(self) -> None:
        self.day: date | None = None

    def withdrawn_on(self, initiative_id: str) -> date | None:
        return self.day


class InMemoryManifestSigner:
    """The exporter's signing key, made here: an ECC P-256 key as KMS's ExportSigningKey is."""

    def __init__(self, key_id: str = "arn:aws:kms:eu-central-1:000000000000:key/in-memory-signing") -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key_id = key_id
        self._private = ec.generate_private_key(ec.SECP256R1())
        self.calls = 0

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        self.calls += 1
        return self._private.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


class InMemoryCollectionStates:
    """The organisers' pause, set by a test: `paused = True`."""

    def __init__(self) -> None:
        self.paused = False
        self.reads = 0

    def state(self, initiative_id: str) -> Any:
        from chalicelib.console.records import CollectionState

        self.reads += 1
        return CollectionState(paused=self.paused)


def signing_services(today: date, **settings: Any) -> Any:
    """web_only_services, and a store and sealer in memory: the whole signing route with no AWS.

    The store is InMemoryStatementStore, the sealer ReversibleSealer (tests can read what was sealed).
    """
    current = web_only_services(today, {}, **settings)
    current.__dict__["store"] = InMemoryStatementStore()
    current.__dict__["sealer"] = ReversibleSealer()
    return current
