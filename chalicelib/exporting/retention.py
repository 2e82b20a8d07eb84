"""The retention clock of Art. 19 Regulation (EU) 2019/788, and the purge that runs when it runs out.

Statements of support, and every copy of them, are destroyed at the latest one month after the
organisers submit the initiative to the Commission, one month after they withdraw it, and at the
latest 21 months after the start of the collection period: whichever comes first. Administrative or
judicial proceedings hold them until one week after the final decision. What stays is the counts
(marked final first, so no recount can change them) and an audit record of what was destroyed and
when, with no personal data.

The submission, a withdrawal and a hold are facts the operator records (operator_cli.py), each an
audited record of its own (``RetentionTrigger``): the clock folds them with the initiative file, so
no edit of the file and no redeploy is needed when they happen.

Pure orchestration over small ports; chalicelib/storage implements them on DynamoDB and S3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.exporting.layout import initiative_prefix
from chalicelib.initiative import Initiative, add_months

MONTHS_AFTER_SUBMISSION = 1
MONTHS_AFTER_WITHDRAWAL = 1
MONTHS_AFTER_COLLECTION_START = 21
DAYS_AFTER_FINAL_DECISION = 7

# What an operator may record (chalicelib/operator_cli.py): each moves the clock.
SUBMITTED = "submitted"  # the day the initiative was submitted to the Commission
WITHDRAWN = "withdrawn"  # the day the organisers withdrew it: also closes the collection (web pages)
HOLD_STARTED = "hold-started"  # proceedings that need the statements began (with their reference)
HOLD_ENDED = "hold-ended"  # the day of the proceedings' final decision
TRIGGER_KINDS = (SUBMITTED, WITHDRAWN, HOLD_STARTED, HOLD_ENDED)


@dataclass(frozen=True)
class RetentionTrigger:
    """One recorded fact that moves the clock; the record is also its audit trail (who, when)."""

    kind: str
    day: date
    recorded_at: datetime
    reference: str = ""  # the proceedings a hold is for
    by: str = ""  # who recorded it (the operator's AWS identity)


@dataclass(frozen=True)
class RetentionClock:
    due_on: date  # the first day on which nothing may be left
    reason: str
    # Proceedings that hold the statements with no final decision recorded yet: nothing is due while any is.
    held_by: tuple[str, ...] = ()

    def due(self, today: date) -> bool:
        return not self.held_by and today >= self.due_on


def _latest(triggers: Iterable[RetentionTrigger], kind: str, reference: str | None = None) -> date | None:
    """The day of the last record of this kind: a later record corrects an earlier one."""
    matching = [trigger for trigger in triggers
                if trigger.kind == kind and (reference is None or trigger.reference == reference)]
    return max(matching, key=lambda trigger: trigger.recorded_at).day if matching else None


def retention_clock(initiative: Initiative, triggers: Iterable[RetentionTrigger] = ()) -> RetentionClock:
    """When the initiative's statements must be gone, and which limit or hold decides it."""
    recorded = list(triggers)
    submitted = _latest(recorded, SUBMITTED) or initiative.submitted_to_commission
    withdrawn = _latest(recorded, WITHDRAWN)
    limits: list[tuple[date, str]] = []  # in order of precedence when two fall on the same day
    if submitted is not None:
        limits.append((add_months(submitted, MONTHS_AFTER_SUBMISSION),
                       f"one month after submission to the Commission on {submitted}"))
    if withdrawn is not None:
        limits.append((add_months(withdrawn, MONTHS_AFTER_WITHDRAWAL),
                       f"one month after the withdrawal of the initiative on {withdrawn}"))
    limits.append((add_months(initiative.collection_start, MONTHS_AFTER_COLLECTION_START),
                   f"21 months after the start of collection on {initiative.collection_start}"))
    due_on, reason = min(limits, key=lambda limit: limit[0])
    held_by = []
    for reference in sorted({trigger.reference for trigger in recorded if trigger.kind == HOLD_STARTED}):
        decided = _latest(recorded, HOLD_ENDED, reference)
        if decided is None:
            held_by.append(reference)
            continue
        released = decided + timedelta(days=DAYS_AFTER_FINAL_DECISION)
        if released > due_on:
            due_on, reason = released, (f"one week after the final decision of {decided} in the proceedings "
                                        f"{reference!r}, which held the statements")
    if held_by:
        reason += f"; held by proceedings {', '.join(repr(name) for name in held_by)} until one week after " \
                  "their final decision"
    return RetentionClock(due_on, reason, tuple(held_by))


def trigger_problem(initiative: Initiative, recorded: Iterable[RetentionTrigger], new: RetentionTrigger,
                    today: date) -> str | None:
    """Why `new` cannot be recorded (a plain sentence), or None if it can."""
    if new.kind not in TRIGGER_KINDS:
        return f"unknown kind of record {new.kind!r}"
    if new.day > today:
        return f"{new.day} is in the future: record it on or after the day it happens"
    if new.kind == SUBMITTED and new.day <= initiative.collection_end:
        return f"the submission must be after the end of collection ({initiative.collection_end})"
    if new.kind == WITHDRAWN and new.day < initiative.registration_date:
        return f"the withdrawal must be on or after the registration ({initiative.registration_date})"
    if new.kind in (HOLD_STARTED, HOLD_ENDED) and not new.reference.strip():
        return "a hold needs the reference of its proceedings"
    if new.kind == HOLD_ENDED:
        started = _latest(recorded, HOLD_STARTED, new.reference)
        if started is None:
            return f"no hold for the proceedings {new.reference!r} was recorded"
        if new.day < started:
            return f"the final decision cannot be before the hold began ({started})"
    return None


class TriggerRefusedError(ValueError):
    """A record that cannot be true or comes too late; the message says why, in a sentence."""


class RetentionOverError(RuntimeError):
    """The retention period has ended: there is nothing to export any more, and nothing may be."""


def retention_over_message(initiative_id: str, clock: RetentionClock) -> str:
    return (f"the retention period of {initiative_id} ended on {clock.due_on} ({clock.reason}): "
            "its statements are destroyed, nothing is exported")


@dataclass(frozen=True)
class DeletedPage:
    """One page of the purge: statements per Member State and duplicate markers, and their keys.

    Statements made in a test phase (kept under ``{id}~test``, chalicelib/console/records.py) are counted
    apart: a test phase that never went live (withdrawn, or never opened) leaves them, and they go too.
    The counts are recorded in the audit record before the keys are deleted (see purge_if_due).
    """

    statements: Mapping[str, int] = field(default_factory=dict)
    markers: int = 0
    keys: tuple[object, ...] = field(default=(), compare=False, repr=False)
    test_statements: Mapping[str, int] = field(default_factory=dict)
    test_markers: int = 0


class StatementPurger(Protocol):
    def find_pages(self, initiative_id: str) -> Iterator[DeletedPage]:
        """The initiative's statement and marker keys, page by page; nothing is deleted by finding it."""
        ...

    def delete(self, page: DeletedPage) -> None:
        """Delete the page's keys (deleting what is already gone is no error)."""
        ...


class ExportPurger(Protocol):
    def delete_prefix(self, prefix: str, before_delete: Callable[[int], None]) -> int:
        """Delete every object (every version) and unfinished upload under the prefix; returns how many.

        Each batch's size is handed to before_delete first, so the audit record is written before it goes.
        """
        ...


@dataclass(frozen=True)
class RestorableCopies:
    destroyed: tuple[str, ...] = ()  # e.g. "point-in-time recovery", "backup NAME"
    left: tuple[str, ...] = ()  # what the purge may not destroy itself (AWS Backup's recovery points)


class BackupPurger(Protocol):
    def destroy_restorable_before(self, moment: datetime) -> RestorableCopies:
        """Leave nothing from which the statements table could be restored as it was before `moment`."""
        ...


class RetentionRecords(Protocol):
    def triggers(self, initiative_id: str) -> list[RetentionTrigger]:
        """The recorded submission, withdrawal and holds (the operator's audited records)."""
        ...

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        """Record that the counts are final: nothing (no recount, no stream event) may change them."""
        ...

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        """Open the audit record unless there is one; returns whether the purge was already complete."""
        ...

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None: ...

    def add_export_objects(self, initiative_id: str, number: int) -> None: ...

    def purge_completed(self, initiative_id: str, backups: RestorableCopies, at: datetime) -> None: ...

    def claim_sweep(self, initiative_id: str, today: date) -> datetime | None:
        """When the completed purge finished, if no sweep ran today (this call claims today's); else None."""
        ...

    def sweep_found(self, initiative_id: str, found: Mapping[str, int], at: datetime) -> None:
        """Add what a sweep found (and destroyed) after the purge had completed."""
        ...


@dataclass(frozen=True)
class PurgeOutcome:
    due_on: date
    # "not-due", "held" (due but for proceedings), "done" (this call finished it), "already-done",
    # "stopped" (resumes next time), "swept" (a later day's look for copies made after the purge)
    state: str
    statements: Mapping[str, int] = field(default_factory=dict)
    markers: int = 0
    export_objects: int = 0
    backups: RestorableCopies = RestorableCopies()
    test_statements: Mapping[str, int] = field(default_factory=dict)  # of a test phase (never exported)
    test_markers: int = 0

    @property
    def found_anything(self) -> bool:
        return bool(sum(self.statements.values()) or self.markers or self.export_objects
                    or self.backups.destroyed or self.backups.left
                    or sum(self.test_statements.values()) or self.test_markers)


class _Tally:
    """What the pages of one purge (or sweep) held, added up for its outcome."""

    def __init__(self) -> None:
        self.statements: dict[str, int] = {}
        self.markers = 0
        self.test_statements: dict[str, int] = {}
        self.test_markers = 0

    def add(self, page: DeletedPage) -> None:
        for code, number in page.statements.items():
            self.statements[code] = self.statements.get(code, 0) + number
        for code, number in page.test_statements.items():
            self.test_statements[code] = self.test_statements.get(code, 0) + number
        self.markers += page.markers
        self.test_markers += page.test_markers

    def outcome(self, due_on: date, state: str, export_objects: int = 0,
                backups: RestorableCopies = RestorableCopies()) -> PurgeOutcome:
        return PurgeOutcome(due_on, state, self.statements, self.markers, export_objects, backups,
                            self.test_statements, self.test_markers)


def purge_if_due(
    initiative: Initiative,
    *,
    today: date,
    now: Callable[[], datetime],
    statements: StatementPurger,
    exports: ExportPurger,
    backups: BackupPurger,
    records: RetentionRecords,
    should_stop: Callable[[], bool] = lambda: False,
) -> PurgeOutcome:
    """Destroy the initiative's statements, markers, export files and backups if the clock has run out:
    those of a test phase too (``{id}~test``: a test phase that never went live still holds them).

    Idempotent and resumable: a purge stopped half-way (time, a failure) continues where it was on
    the next call, because what was deleted is no longer found. Each page is added to the audit record
    before it is deleted, so a purge killed between the two overstates what went, never understates it.
    Once complete, it sweeps again once a day: whatever it finds (a late export, a re-enabled backup) is
    destroyed and recorded. It touches only keys and objects that carry this initiative's id.
    """
    clock = retention_clock(initiative, records.triggers(initiative.id))
    if not clock.due(today):
        return PurgeOutcome(clock.due_on, "held" if clock.held_by and today >= clock.due_on else "not-due")
    # Final first: from here on the counts are what stays, whatever the deletions below do.
    records.mark_counts_final(initiative.id, now())
    if records.purge_started(initiative.id, clock, now()):
        return _sweep(initiative, clock, today, now, statements, exports, backups, records, should_stop)
    tally = _Tally()
    for page in statements.find_pages(initiative.id):
        records.add_deleted(initiative.id, page)
        statements.delete(page)
        tally.add(page)
        if should_stop():
            return tally.outcome(clock.due_on, "stopped")
    objects = exports.delete_prefix(initiative_prefix(initiative.id),
                                    lambda number: records.add_export_objects(initiative.id, number))
    # After the deletions: a backup or a restore point taken up to now holds them.
    restorable = backups.destroy_restorable_before(now())
    records.purge_completed(initiative.id, restorable, now())
    return tally.outcome(clock.due_on, "done", objects, restorable)


def _sweep(
    initiative: Initiative,
    clock: RetentionClock,
    today: date,
    now: Callable[[], datetime],
    statements: StatementPurger,
    exports: ExportPurger,
    backups: BackupPurger,
    records: RetentionRecords,
    should_stop: Callable[[], bool],
) -> PurgeOutcome:
    """Look again, once a day after the purge, for copies made or restored since; destroy and record them.

    A sweep that runs out of time stops cleanly; the next day's sweep starts again from the beginning.
    """
    completed_at = records.claim_sweep(initiative.id, today)
    if completed_at is None:
        return PurgeOutcome(clock.due_on, "already-done")
    tally = _Tally()
    for page in statements.find_pages(initiative.id):
        records.sweep_found(initiative.id, _page_found(page), now())
        statements.delete(page)
        tally.add(page)
        if should_stop():
            return tally.outcome(clock.due_on, "stopped")
    objects = exports.delete_prefix(
        initiative_prefix(initiative.id),
        lambda number: records.sweep_found(initiative.id, {"export_objects": number}, now()))
    # A restore point from before the purge completed holds what it destroyed; one taken since does not.
    restorable = backups.destroy_restorable_before(completed_at)
    records.sweep_found(initiative.id, {"backups": len(restorable.destroyed),
                                        "backups_left": len(restorable.left)}, now())
    return tally.outcome(clock.due_on, "swept", objects, restorable)


def _page_found(page: DeletedPage) -> dict[str, int]:
    found = {"statements": sum(page.statements.values()), "markers": page.markers,
             "test_statements": sum(page.test_statements.values()), "test_markers": page.test_markers}
    return {name: number for name, number in found.items() if number}
