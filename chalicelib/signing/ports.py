"""What signing needs from the outside world, as small interfaces.

chalicelib.storage implements them against AWS; tests/fakes.py implements them in memory.
Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol


class StorageUnavailableError(Exception):
    """AWS could not seal or store a statement just now; nothing was stored and the citizen may retry.

    Adapters raise it in place of their SDK's errors, with a message that names no personal data.
    """


@dataclass(frozen=True)
class StatementRecord:
    """A statement of support as it is stored: plaintext metadata, personal data sealed.

    Nothing in the plaintext fields identifies the signatory.
    """

    initiative_id: str
    member_state: str
    statement_id: str  # signing day and a random UUID (signing/statement_id.py), on the receipt
    submitted_on: date
    form_language: str
    annex_revision: int
    sealed: bytes  # the encryption SDK message holding the personal data


class StatementSealer(Protocol):
    """Encrypts a statement's personal data for the exporter; the writer cannot decrypt it."""

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> bytes: ...


class StatementStore(Protocol):
    def add(self, record: StatementRecord, fingerprint: str) -> bool:
        """Store the statement with its duplicate marker in one durable write.

        Returns False, and stores nothing, when the fingerprint is already known for the initiative.
        """
        ...


class CounterReader(Protocol):
    def counts(self, initiative_id: str) -> dict[str, int]:
        """Signatories per Member State code; States without statements may be absent."""
        ...
