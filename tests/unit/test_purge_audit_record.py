"""The purge's audit record: what a data protection officer reads to show the statements were destroyed in time.

The retention clock's tests (test_retention_clock.py) check the order of the purge's steps; these check
what the record says: which initiative, when, why, and how many statements per State and markers went.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.exporting.retention import DeletedPage, RestorableCopies, RetentionClock, RetentionTrigger, purge_if_due
from tests.unit.export_specimens import demo_initiative

DUE = date(2028, 6, 1)  # 21 months after the demo's collection start
STARTED = datetime(2028, 6, 1, 3, 0, tzinfo=UTC)
FINISHED = datetime(2028, 6, 1, 3, 5, tzinfo=UTC)


class Pages:
    """Statements and markers of one initiative, deleted page by page (gone once yielded)."""

    def __init__(self, initiative_id: str, pages: list[DeletedPage]) -> None:
        self.initiative_id = initiative_id
        self.pages = list(pages)

    def find_pages(self, initiative_id: str) -> Iterator[DeletedPage]:
        while initiative_id == self.initiative_id and self.pages:
            yield self.pages[0]

    def delete(self, page: DeletedPage) -> None:
        self.pages.remove(page)


class Exports:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_prefix(self, prefix: str, before_delete: Any) -> int:
        before_delete(3)
        self.deleted.append(prefix)
        return 3


class Backups:
    def destroy_restorable_before(self, moment: datetime) -> RestorableCopies:
        return RestorableCopies(destroyed=("point-in-time recovery",))


class AuditRecords:
    """RetentionRecords kept per initiative, as the counters table keeps them."""

    def __init__(self) -> None:
        self.final: dict[str, datetime] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def triggers(self, initiative_id: str) -> list[RetentionTrigger]:
        return []

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        self.final.setdefault(initiative_id, at)

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        record = self.records.setdefault(initiative_id, {
            "due_on": clock.due_on, "reason": clock.reason, "started_at": at, "statements": {}, "markers": 0,
            "export_objects": 0})
        return "completed_at" in record

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None:
        record = self.records[initiative_id]
        for code, number in page.statements.items():
            record["statements"][code] = record["statements"].get(code, 0) + number
        record["markers"] += page.markers

    def add_export_objects(self, initiative_id: str, number: int) -> None:
        self.records[initiative_id]["export_objects"] += number

    def purge_completed(self, initiative_id: str, backups: RestorableCopies, at: datetime) -> None:
        self.records[initiative_id].update(completed_at=at)

    def claim_sweep(self, initiative_id: str, today: date) -> datetime | None:
        return None  # these tests are about the purge itself, not the later days' sweeps

    def sweep_found(self, initiative_id: str, found: Any, at: datetime) -> None:
        raise AssertionError("no sweep in these tests")


def _purge(pages: Pages, records: AuditRecords, today: date = DUE, stop: bool = False) -> Any:
    times = iter([STARTED, STARTED, STARTED, FINISHED])  # final, started, restorable copies, completed
    return purge_if_due(demo_initiative(), today=today, now=lambda: next(times), statements=pages,
                        exports=Exports(), backups=Backups(), records=records, should_stop=lambda: stop)


def test_the_audit_record_says_what_was_destroyed_per_state_when_and_why() -> None:
    pages = Pages("demo-2026", [DeletedPage({"DE": 3, "PL": 2}, 4), DeletedPage({"DE": 2, "MT": 1}, 4)])
    records = AuditRecords()

    outcome = _purge(pages, records)

    assert records.final == {"demo-2026": STARTED}
    assert records.records == {"demo-2026": {
        "due_on": DUE, "reason": "21 months after the start of collection on 2026-09-01", "started_at": STARTED,
        "statements": {"DE": 5, "PL": 2, "MT": 1}, "markers": 8, "export_objects": 3, "completed_at": FINISHED,
    }}
    assert (outcome.due_on, outcome.state, dict(outcome.statements), outcome.markers, outcome.export_objects) == (
        DUE, "done", {"DE": 5, "PL": 2, "MT": 1}, 8, 3)


def test_a_purge_stopped_half_way_reports_what_it_destroyed_so_far() -> None:
    pages = Pages("demo-2026", [DeletedPage({"DE": 3}, 3), DeletedPage({"DE": 2}, 2)])

    outcome = _purge(pages, AuditRecords(), stop=True)

    assert (outcome.due_on, outcome.state, dict(outcome.statements), outcome.markers) == (DUE, "stopped", {"DE": 3}, 3)


def test_a_second_purge_after_the_first_finished_reports_the_same_due_day_and_destroys_nothing() -> None:
    records = AuditRecords()
    _purge(Pages("demo-2026", [DeletedPage({"DE": 1}, 1)]), records)
    late = Pages("demo-2026", [DeletedPage({"DE": 9}, 9)])  # cannot be there; must not be touched if it were

    again = _purge(late, records, today=date(2028, 7, 1))

    assert (again.due_on, again.state) == (DUE, "already-done")
    assert late.pages and records.records["demo-2026"]["statements"] == {"DE": 1}
