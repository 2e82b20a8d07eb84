"""In-memory stand-ins for the storage ports, for tests that need no AWS (the Chalice todo sample's pattern)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from chalicelib.signing.ports import StatementRecord


class InMemoryStatementStore:
    def __init__(self) -> None:
        self.statements: dict[str, StatementRecord] = {}
        self.fingerprints: dict[str, str] = {}

    def add(self, record: StatementRecord, fingerprint: str) -> bool:
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
