"""What counting needs from the outside world, as small interfaces.

chalicelib/storage implements them on DynamoDB (counter_writer.py, recount.py); tests/fakes.py in memory,
with the same all-or-nothing semantics. Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.counting.stream_records import PoisonRecord

# DynamoDB's limit of items in one TransactWriteItems.
TRANSACTION_ITEM_LIMIT = 100


class LedgerConflictError(Exception):
    """The transaction was refused and changed nothing: its marker (or an initiative's final flag) moved
    since it was read. Read again and plan again."""


@dataclass(frozen=True)
class AppliedRun:
    """A progress marker: the records (event ids, in delivery order) applied from the record it is keyed by.

    version 0 means there is no marker yet; every write of a marker adds one.
    """

    record_ids: tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True)
class LedgerState:
    marker: AppliedRun
    final_initiatives: frozenset[str]  # of those asked about: counts are final, removals change nothing


@dataclass(frozen=True)
class CountTransaction:
    """One all-or-nothing write: increments, dead letters and the marker that says they are applied."""

    marker_key: str  # event id of the delivery's first record
    expected_version: int  # the marker's version when read; 0: it must not exist yet
    applied: tuple[str, ...]  # the marker's run after this write
    increments: Mapping[tuple[str, str], int]  # (initiative, Member State) -> signatories to add, never 0
    dead_letters: tuple[PoisonRecord, ...] = ()
    # Initiatives whose removals this transaction applies: it must fail if their counts became final.
    not_final: frozenset[str] = field(default_factory=frozenset)

    @property
    def item_count(self) -> int:
        return 1 + len(self.increments) + len(self.dead_letters) + len(self.not_final)


class CountLedger(Protocol):
    """The counters with their progress markers, dead letters and final flags."""

    def read(self, marker_key: str, initiatives: Collection[str]) -> LedgerState:
        """The marker keyed by marker_key, and which of the initiatives have final counts: one read."""
        ...

    def apply(self, transaction: CountTransaction) -> None:
        """Write all of it or nothing. Raises LedgerConflictError, having written nothing, when the marker's
        version is no longer expected_version or one of not_final has become final."""
        ...

    def continue_run(self, marker_key: str, applied: tuple[str, ...]) -> None:
        """Store a continuation marker, unless a marker as long or longer is already there."""
        ...


@dataclass(frozen=True)
class CounterReading:
    signatories: int
    version: int  # 0: no counter item yet; every change to the counter adds one


@dataclass(frozen=True)
class SeenDrift:
    """A drift as the previous recount saw it: the counter's version and the statements it counted."""

    version: int
    recounted: int


@dataclass(frozen=True)
class DeadLetter:
    initiative: str  # "unknown" when the record named none
    sequence_number: str
    record_id: str
    reason: str


class RecountStore(Protocol):
    """What the scheduled recount reads and writes."""

    def is_final(self, initiative_id: str) -> bool: ...

    def counters(self, initiative_id: str) -> dict[str, CounterReading]:
        """Every Member State's counter of the initiative, read consistently."""
        ...

    def count_statements(self, initiative_id: str, member_state: str) -> int:
        """Statement items stored for (initiative, Member State), counted from the statements table."""
        ...

    def seen_drifts(self, initiative_id: str) -> dict[str, SeenDrift]: ...

    def remember_drifts(self, initiative_id: str, drifts: Mapping[str, SeenDrift]) -> None: ...

    def correct(self, initiative_id: str, member_state: str, expected_version: int, signatories: int) -> bool:
        """Set the counter, only if its version is still expected_version; False if it moved."""
        ...

    def dead_letters(self, initiative_id: str) -> list[DeadLetter]:
        """Dead letters of the initiative and of records that named no initiative."""
        ...
