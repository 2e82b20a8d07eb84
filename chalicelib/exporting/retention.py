"""The retention clock of Art. 19 Regulation (EU) 2019/788, and the purge that runs when it runs out.

Statements of support, and every export of them, are destroyed at the latest one month after the
organisers submit the initiative to the Commission, and at the latest 21 months after the start of
the collection period: whichever comes first. What stays is the counts (marked final first, so no
recount can change them) and an audit record of what was destroyed and when, with no personal data.

Pure orchestration over small ports; chalicelib/storage implements them on DynamoDB and S3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from chalicelib.exporting.layout import initiative_prefix
from chalicelib.initiative import Initiative, add_months

MONTHS_AFTER_SUBMISSION = 1
MONTHS_AFTER_COLLECTION_START = 21


@dataclass(frozen=True)
class RetentionClock:
    due_on: date  # the first day on which nothing may be left
    reason: str

    def due(self, today: date) -> bool:
        return today >= self.due_on


def retention_clock(initiative: Initiative) -> RetentionClock:
    """When the initiative's statements must be gone, and which of the two limits decides it."""
    by_collection = add_months(initiative.collection_start, MONTHS_AFTER_COLLECTION_START)
    submitted = initiative.submitted_to_commission
    if submitted is not None:
        by_submission = add_months(submitted, MONTHS_AFTER_SUBMISSION)
        if by_submission <= by_collection:
            return RetentionClock(by_submission, f"one month after submission to the Commission on {submitted}")
    return RetentionClock(
        by_collection, f"21 months after the start of collection on {initiative.collection_start}"
    )


class RetentionOverError(RuntimeError):
    """The retention period has ended: there is nothing to export any more, and nothing may be."""


@dataclass(frozen=True)
class DeletedPage:
    """What one page of the purge destroyed: statements per Member State, and duplicate markers."""

    statements: Mapping[str, int] = field(default_factory=dict)
    markers: int = 0


class StatementPurger(Protocol):
    def delete_initiative(self, initiative_id: str) -> Iterator[DeletedPage]:
        """Delete the initiative's statements and markers page by page; each page is gone when yielded."""
        ...


class ExportPurger(Protocol):
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object (every version) under the prefix; returns how many versions went."""
        ...


class RetentionRecords(Protocol):
    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        """Record that the counts are final: nothing (no recount, no stream event) may change them."""
        ...

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        """Open the audit record unless there is one; returns whether the purge was already complete."""
        ...

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None: ...

    def purge_completed(self, initiative_id: str, export_objects: int, at: datetime) -> None: ...


@dataclass(frozen=True)
class PurgeOutcome:
    due_on: date
    state: str  # "not-due", "done" (this call finished it), "already-done", "stopped" (resumes next time)
    statements: Mapping[str, int] = field(default_factory=dict)
    markers: int = 0
    export_objects: int = 0


def purge_if_due(
    initiative: Initiative,
    *,
    today: date,
    now: Callable[[], datetime],
    statements: StatementPurger,
    exports: ExportPurger,
    records: RetentionRecords,
    should_stop: Callable[[], bool] = lambda: False,
) -> PurgeOutcome:
    """Destroy the initiative's statements, markers and export files if the clock has run out.

    Idempotent and resumable: a purge stopped half-way (time, a failure) continues where it was on
    the next call, because what was deleted is no longer found, and the audit record adds up the pages.
    It touches only keys and objects that carry this initiative's id.
    """
    clock = retention_clock(initiative)
    if not clock.due(today):
        return PurgeOutcome(clock.due_on, "not-due")
    # Final first: from here on the counts are what stays, whatever the deletions below do.
    records.mark_counts_final(initiative.id, now())
    if records.purge_started(initiative.id, clock, now()):
        return PurgeOutcome(clock.due_on, "already-done")
    per_state: dict[str, int] = {}
    markers = 0
    for page in statements.delete_initiative(initiative.id):
        records.add_deleted(initiative.id, page)
        for code, number in page.statements.items():
            per_state[code] = per_state.get(code, 0) + number
        markers += page.markers
        if should_stop():
            return PurgeOutcome(clock.due_on, "stopped", per_state, markers)
    objects = exports.delete_prefix(initiative_prefix(initiative.id))
    records.purge_completed(initiative.id, objects, now())
    return PurgeOutcome(clock.due_on, "done", per_state, markers, objects)
