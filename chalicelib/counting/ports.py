"""What counting needs from the outside world, as small interfaces.

chalicelib/storage implements them on DynamoDB (counter_writer.py, recount_store.py); tests/fakes.py in
memory, with the same all-or-nothing semantics. Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Protocol

from chalicelib.counting.stream_records import PoisonRecord

# DynamoDB's limit of items in one TransactWriteItems.
TRANSACTION_ITEM_LIMIT = 100


@dataclass(frozen=True, order=True)
class StatementRef:
    """A statement by its key parts: nothing about the person."""

    initiative_id: str
    member_state: str
    bucket: int
    statement_id: str


class CountedState(Enum):
    """A statement's durable counted record. It only ever moves forward: absent -> counted -> removed,
    or absent -> removed (a removal seen before its insert was counted). It is never deleted while the
    initiative collects, so no late or repeated record can count a statement twice."""

    ABSENT = "absent"
    COUNTED = "counted"
    REMOVED = "removed"


@dataclass(frozen=True)
class CountedRecord:
    state: CountedState
    day: date | None = None  # the day the statement was counted under (COUNTED and REMOVED)


@dataclass(frozen=True)
class CountTransaction:
    """One all-or-nothing write. Each statement's step is conditional on its counted record's state, so
    the transaction is refused, having changed nothing, if any of them moved since it was planned.

    * count: put a COUNTED record, only if there is none;
    * uncount: move a COUNTED record to REMOVED (the record's day was read first);
    * bury: put a REMOVED record, only if there is none (the insert must never count later);
    * the counter changes are the sum of the counts and uncounts, written once per transaction.
    """

    count: tuple[tuple[StatementRef, date], ...] = ()
    uncount: tuple[tuple[StatementRef, date], ...] = ()
    bury: tuple[tuple[StatementRef, date | None], ...] = ()
    dead_letters: tuple[PoisonRecord, ...] = ()
    # Initiatives whose counters this transaction changes: refused if their counts became final.
    not_final: frozenset[str] = field(default_factory=frozenset)

    @property
    def totals(self) -> dict[tuple[str, str], int]:
        """(initiative, Member State) -> change, zero changes left out."""
        totals: dict[tuple[str, str], int] = {}
        for ref, _ in self.count:
            key = (ref.initiative_id, ref.member_state)
            totals[key] = totals.get(key, 0) + 1
        for ref, _ in self.uncount:
            key = (ref.initiative_id, ref.member_state)
            totals[key] = totals.get(key, 0) - 1
        return {key: delta for key, delta in totals.items() if delta}

    @property
    def daily(self) -> dict[tuple[str, date, str], int]:
        """(initiative, day, Member State) -> change, zero changes left out."""
        daily: dict[tuple[str, date, str], int] = {}
        for sign, steps in ((1, self.count), (-1, self.uncount)):
            for ref, day in steps:
                key = (ref.initiative_id, day, ref.member_state)
                daily[key] = daily.get(key, 0) + sign
        return {key: delta for key, delta in daily.items() if delta}

    @property
    def statements(self) -> Iterator[StatementRef]:
        for steps in (self.count, self.uncount, self.bury):
            for ref, _ in steps:
                yield ref


def counter_items(transaction: CountTransaction) -> int:
    """The counter items a transaction writes: one totals item per initiative, one per (initiative, day)."""
    totals = {initiative for initiative, _ in transaction.totals}
    days = {(initiative, day) for initiative, day, _ in transaction.daily}
    return len(totals) + len(days)


def transaction_items(transaction: CountTransaction) -> int:
    """Items of the TransactWriteItems: statements, counters, dead letters and final checks."""
    statements = len(transaction.count) + len(transaction.uncount) + len(transaction.bury)
    return statements + counter_items(transaction) + len(transaction.dead_letters) + len(transaction.not_final)


class LedgerRefusedError(Exception):
    """The transaction was refused and changed nothing. Says why, so the caller plans again without
    reading everything again: statements whose counted record moved, initiatives that became final,
    or only contention with other transactions (`busy`)."""

    def __init__(self, moved: Collection[StatementRef] = (), became_final: Collection[str] = (),
                 busy: bool = False) -> None:
        super().__init__(f"refused: {len(moved)} statements moved, {len(became_final)} final, busy={busy}")
        self.moved = frozenset(moved)
        self.became_final = frozenset(became_final)
        self.busy = busy


class CountLedger(Protocol):
    """Counted records, counters, dead letters and final flags."""

    def counted(self, statements: Collection[StatementRef]) -> dict[StatementRef, CountedRecord]:
        """The counted record of each statement (ABSENT when there is none), read consistently."""
        ...

    def apply(self, transaction: CountTransaction) -> None:
        """Write all of it or nothing; raise LedgerRefusedError, having written nothing, when a condition
        fails. Other errors (AWS unavailable) propagate: nothing is half written either way."""
        ...


@dataclass(frozen=True)
class StatementItemKeys:
    """A statement item as the repair sees it: keys and the time it was stored, nothing personal."""

    ref: StatementRef
    day: date | None
    stored_at: float | None  # epoch seconds; None for items written before the attribute existed


@dataclass(frozen=True)
class DeadLetter:
    initiative: str  # "unknown" when the record named none
    sequence_number: str
    record_id: str
    reason: str


class RecountStore(Protocol):
    """What the scheduled repair reads."""

    def is_final(self, initiative_id: str) -> bool: ...

    def counted_records(self, initiative_id: str, member_state: str,
                        bucket: int) -> dict[StatementRef, CountedRecord]:
        """Every counted record (COUNTED or REMOVED) of one statement partition, read consistently."""
        ...

    def stored_statements(self, initiative_id: str, member_state: str, bucket: int) -> list[StatementItemKeys]:
        """Every statement item of one partition (keys and storage time only), read consistently."""
        ...

    def dead_letters(self, initiative_id: str) -> list[DeadLetter]:
        """Dead letters of the initiative and of records that named no initiative."""
        ...


class DailyCounts(Protocol):
    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]:
        """ISO signing day -> {Member State: signatories counted under that day}."""
        ...

