"""What the export needs from the outside world, as small interfaces.

chalicelib/storage implements them on AWS (DynamoDB, KMS and the encryption SDK, S3);
tests/fakes.py implements them in memory. Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredStatement:
    """A statement item as the export reads it: metadata in the clear, personal data sealed."""

    member_state: str
    bucket: int  # the partition bucket it is stored under; with statement_id, its place in the scan
    statement_id: str
    submitted_on: date
    form_language: str
    annex_revision: int
    sealed: bytes


class StatementSource(Protocol):
    def statements(
        self, initiative_id: str, member_state: str, bucket: int, after: str | None = None
    ) -> Iterator[StoredStatement]:
        """One bucket's statements in statement_id order, starting after `after` if given."""
        ...

    def member_states_with_statements(self, initiative_id: str, candidates: Collection[str]) -> frozenset[str]:
        """Which of the candidate Member States hold at least one statement of the initiative."""
        ...


class StatementOpener(Protocol):
    def open(self, sealed: bytes, expected_context: Mapping[str, str]) -> bytes:
        """The plaintext payload; raises if the sealed message's context lacks an expected pair."""
        ...


@dataclass(frozen=True)
class StoredObject:
    """What the store reports about a file once it is complete (of the bytes as stored, encrypted)."""

    size: int
    sha256: str
    readers: tuple[str, ...]  # who can decrypt it: "kms:<key arn>", "rsa:<authority key id>"


class ExportFile(Protocol):
    """A file being written: plaintext goes in, the store encrypts and uploads it as it goes."""

    def write(self, data: bytes, /) -> object: ...

    def close(self) -> StoredObject:
        """Finish the encryption and the upload; the object exists only after this returns."""
        ...

    def abort(self) -> None:
        """Give up: nothing of this file is left visible."""
        ...


class ConcurrentWriteError(RuntimeError):
    """A conditional write found the document changed since it was read: another worker wrote it."""


class ExportFileStore(Protocol):
    def create(self, key: str, context: Mapping[str, str], member_state: str) -> ExportFile:
        """A new encrypted file at `key`; `context` becomes its encryption context (no personal data).

        `member_state` selects the extra readers: that State's authority key, if one is configured.
        """
        ...

    def read_json(self, key: str) -> dict[str, Any] | None:
        """The JSON document at key, or None if there is none."""
        ...

    def write_json(self, key: str, document: Mapping[str, Any]) -> None: ...

    def read_json_version(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """The JSON document at key and a tag of its version; (None, None) if there is none."""
        ...

    def replace_json(self, key: str, document: Mapping[str, Any], version: str | None) -> str:
        """Write the document only if the stored one is still at `version` (None: only if there is none).

        Returns the new version's tag; raises ConcurrentWriteError, writing nothing, if it was not.
        """
        ...


class CountSource(Protocol):
    def counts(self, initiative_id: str) -> dict[str, int]:
        """Signatories per Member State as the counters hold them."""
        ...


class ManifestSigner(Protocol):
    """Signs a run's manifest statement with a key only the exporter may use (KMS, asymmetric)."""

    key_id: str  # the key's ARN: named in the signature document, for people; verification never trusts it

    def sign(self, message: bytes) -> bytes:
        """The DER-encoded ECDSA P-256 / SHA-256 signature of `message` (at most 4096 bytes)."""
        ...
