"""The retention clock of Art. 19 Reg. 2019/788 and the purge it triggers, over in-memory fakes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.exporting.retention import (
    HOLD_ENDED,
    HOLD_STARTED,
    SUBMITTED,
    WITHDRAWN,
    DeletedPage,
    RestorableCopies,
    RetentionClock,
    RetentionTrigger,
    purge_if_due,
    retention_clock,
    retention_over_message,
    trigger_problem,
)
from chalicelib.initiative import InitiativeFileError, add_months, parse_initiative
from tests.unit.export_specimens import DEMO_FILE, demo_initiative

DEMO: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))  # collection 2026-09-01 .. 2027-08-31
NOW = datetime(2028, 7, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("submitted", "due", "which"), [
    (None, date(2028, 6, 1), "21 months after the start of collection on 2026-09-01"),
    (date(2027, 12, 10), date(2028, 1, 10), "one month after submission to the Commission on 2027-12-10"),
    (date(2028, 5, 15), date(2028, 6, 1), "21 months after the start of collection on 2026-09-01"),
    (date(2028, 5, 1), date(2028, 6, 1), "one month after submission to the Commission on 2028-05-01"),
])
def test_statements_are_due_for_destruction_at_the_earlier_of_the_two_limits(
    submitted: date | None, due: date, which: str
) -> None:
    initiative = replace(demo_initiative(), submitted_to_commission=submitted)

    assert retention_clock(initiative) == RetentionClock(due, which)


def test_one_month_after_the_31st_is_the_end_of_the_shorter_month() -> None:
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2026, 9, 1), 21) == date(2028, 6, 1)


def test_clock_runs_out_on_its_due_day_not_before() -> None:
    clock = RetentionClock(date(2028, 6, 1), "")

    assert not clock.due(date(2028, 5, 31))
    assert clock.due(date(2028, 6, 1))


def test_organiser_records_the_submission_date_in_the_initiative_file() -> None:
    data = copy.deepcopy(DEMO)
    data["submitted_to_commission"] = "2027-12-10"

    assert parse_initiative(data, Path("i.json")).submitted_to_commission == date(2027, 12, 10)
    assert parse_initiative(DEMO, Path("i.json")).submitted_to_commission is None


@pytest.mark.parametrize(("value", "problem"), [
    ("10/12/2027", "submitted_to_commission: '10/12/2027' is not a date (YYYY-MM-DD)"),
    ("2027-08-31", "submitted_to_commission: must be after collection.end"),
    ("", "submitted_to_commission: required text is missing"),
])
def test_wrong_submission_date_is_reported_by_its_name(value: str, problem: str) -> None:
    data = copy.deepcopy(DEMO)
    data["submitted_to_commission"] = value

    with pytest.raises(InitiativeFileError) as raised:
        parse_initiative(data, Path("i.json"))
    assert any(found.startswith(problem) for found in raised.value.problems), raised.value.problems


def _recorded(kind: str, day: date, reference: str = "", at: int = 0) -> RetentionTrigger:
    return RetentionTrigger(kind, day, datetime(2027, 1, 1, tzinfo=UTC).replace(second=at), reference, "operator")


@pytest.mark.parametrize(("triggers", "due", "held"), [
    # Withdrawn after collection started: one month after the withdrawal.
    ([_recorded(WITHDRAWN, date(2027, 3, 15))], date(2027, 4, 15), ()),
    # A submission recorded by the operator counts as the file's would, without a redeploy.
    ([_recorded(SUBMITTED, date(2027, 12, 10))], date(2028, 1, 10), ()),
    # A later record corrects an earlier one.
    ([_recorded(SUBMITTED, date(2027, 12, 10)), _recorded(SUBMITTED, date(2027, 12, 1), at=5)], date(2028, 1, 1), ()),
    # Proceedings with no final decision hold everything, whatever the limits.
    ([_recorded(HOLD_STARTED, date(2028, 5, 1), "C-1/28")], date(2028, 6, 1), ("C-1/28",)),
    # Kept until one week after the final decision.
    ([_recorded(HOLD_STARTED, date(2028, 5, 1), "C-1/28"), _recorded(HOLD_ENDED, date(2028, 7, 1), "C-1/28")],
     date(2028, 7, 8), ()),
    # A decision that comes before the limit does not move it.
    ([_recorded(HOLD_STARTED, date(2027, 10, 1), "C-1/28"), _recorded(HOLD_ENDED, date(2027, 11, 1), "C-1/28")],
     date(2028, 6, 1), ()),
    # One proceedings decided, another still open: still held.
    ([_recorded(HOLD_STARTED, date(2028, 5, 1), "A"), _recorded(HOLD_ENDED, date(2028, 7, 1), "A"),
      _recorded(HOLD_STARTED, date(2028, 5, 2), "B")], date(2028, 7, 8), ("B",)),
    # The open one first: the decided one still moves the date.
    ([_recorded(HOLD_STARTED, date(2028, 5, 1), "A"), _recorded(HOLD_STARTED, date(2028, 5, 2), "B"),
      _recorded(HOLD_ENDED, date(2028, 7, 1), "B")], date(2028, 7, 8), ("A",)),
])
def test_the_operators_records_move_the_clock(
    triggers: list[RetentionTrigger], due: date, held: tuple[str, ...]
) -> None:
    clock = retention_clock(demo_initiative(), triggers)

    assert (clock.due_on, clock.held_by) == (due, held)


@pytest.mark.parametrize(("triggers", "last_day_kept"), [
    ([_recorded(WITHDRAWN, date(2027, 3, 15))], date(2027, 4, 14)),
    ([_recorded(SUBMITTED, date(2027, 12, 10))], date(2028, 1, 9)),
    ([_recorded(HOLD_STARTED, date(2028, 5, 1), "C-1/28"), _recorded(HOLD_ENDED, date(2028, 7, 1), "C-1/28")],
     date(2028, 7, 7)),
])
def test_each_record_runs_out_on_its_boundary_day_not_before(
    triggers: list[RetentionTrigger], last_day_kept: date
) -> None:
    clock = retention_clock(demo_initiative(), triggers)

    assert not clock.due(last_day_kept)
    assert clock.due(last_day_kept + timedelta(days=1))


def test_an_open_hold_keeps_everything_long_past_every_limit() -> None:
    clock = retention_clock(demo_initiative(), [_recorded(HOLD_STARTED, date(2028, 5, 1), "C-1/28"),
                                                _recorded(HOLD_STARTED, date(2028, 5, 2), "D-2/28")])

    assert not clock.due(date(2031, 1, 1))
    # The limit it would have had, then the holds: an operator sees both.
    assert clock.reason == (f"21 months after the start of collection on {demo_initiative().collection_start}; "
                            "held by proceedings 'C-1/28', 'D-2/28' until one week after their final decision")


def test_an_export_after_the_retention_period_is_refused_saying_when_and_why() -> None:
    clock = retention_clock(demo_initiative(), [_recorded(WITHDRAWN, date(2027, 3, 15))])

    assert retention_over_message("demo-2026", clock) == (
        "the retention period of demo-2026 ended on 2027-04-15 (one month after the withdrawal of the initiative "
        "on 2027-03-15): its statements are destroyed, nothing is exported")


@pytest.mark.parametrize(("new", "problem"), [
    (_recorded(SUBMITTED, date(2027, 8, 31)), "the submission must be after the end of collection (2027-08-31)"),
    (_recorded(SUBMITTED, date(2028, 3, 2)), "2028-03-02 is in the future: record it on or after the day it happens"),
    (_recorded(WITHDRAWN, date(2026, 1, 1)), "the withdrawal must be on or after the registration (2026-07-01)"),
    (_recorded(HOLD_STARTED, date(2028, 1, 1)), "a hold needs the reference of its proceedings"),
    (_recorded(HOLD_ENDED, date(2028, 1, 1), "X"), "no hold for the proceedings 'X' was recorded"),
    (_recorded(HOLD_ENDED, date(2027, 12, 1), "C-1/28"),
     "the final decision cannot be before the hold began (2028-01-01)"),
    (_recorded(HOLD_ENDED, date(2028, 1, 2), "C-1/28"), None),
    # The boundary days are accepted: recorded the day it happens, withdrawn the day of registration,
    # decided the day the hold began.
    (_recorded(SUBMITTED, date(2028, 3, 1)), None),
    (_recorded(WITHDRAWN, date(2026, 7, 1)), None),
    (_recorded(HOLD_ENDED, date(2028, 1, 1), "C-1/28"), None),
])
def test_an_operator_record_that_cannot_be_true_is_refused_with_its_reason(
    new: RetentionTrigger, problem: str | None
) -> None:
    recorded = [_recorded(HOLD_STARTED, date(2028, 1, 1), "C-1/28")]

    assert trigger_problem(demo_initiative(), recorded, new, today=date(2028, 3, 1)) == problem


class FakePurger:
    """Pages of keys; a page is gone once delete() is called for it, as on DynamoDB."""

    def __init__(self, pages: list[DeletedPage], fail_on_delete: int | None = None) -> None:
        self.pages = list(pages)
        self.asked: list[str] = []
        self.destroyed = {"statements": 0, "markers": 0}
        self._deletes = 0
        self._fail_on_delete = fail_on_delete

    def find_pages(self, initiative_id: str) -> Iterator[DeletedPage]:
        _is_demo(initiative_id)
        self.asked.append(initiative_id)
        yield from list(self.pages)

    def delete(self, page: DeletedPage) -> None:
        self._deletes += 1
        if self._deletes == self._fail_on_delete:
            # Killed half-way through the page: some of its keys are gone, the rest are not.
            self.destroyed["statements"] += 1
            raise RuntimeError("killed")
        self.pages.remove(page)
        self.destroyed["statements"] += sum(page.statements.values())
        self.destroyed["markers"] += page.markers


class FakeExports:
    def __init__(self, found: list[int] | None = None) -> None:
        self.prefixes: list[str] = []
        self.found = list(found) if found is not None else [7]

    def delete_prefix(self, prefix: str, before_delete: Callable[[int], None]) -> int:
        self.prefixes.append(prefix)
        number = self.found.pop(0) if self.found else 0
        if number:
            before_delete(number)
        return number


class FakeBackups:
    def __init__(self) -> None:
        self.moments: list[datetime] = []
        self.recovery_enabled = True

    def destroy_restorable_before(self, moment: datetime) -> RestorableCopies:
        self.moments.append(moment)
        if self.recovery_enabled:
            self.recovery_enabled = False
            return RestorableCopies(("point-in-time recovery",))
        return RestorableCopies()


def _is_demo(initiative_id: str) -> None:
    assert initiative_id == demo_initiative().id, initiative_id


class FakeRecords:
    """The purge's records of the demo initiative: a call naming another initiative, or no moment, fails."""

    def __init__(self, triggers: list[RetentionTrigger] | None = None) -> None:
        self.events: list[str] = []
        self.statements: dict[str, int] = {}
        self.markers = 0
        self.completed_at: datetime | None = None
        self.swept_on: date | None = None
        self.found_later: dict[str, int] = {}
        self.recorded = list(triggers or [])

    def triggers(self, initiative_id: str) -> list[RetentionTrigger]:
        _is_demo(initiative_id)
        return list(self.recorded)

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        _is_demo(initiative_id)
        assert isinstance(at, datetime), at
        self.events.append("final")

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        _is_demo(initiative_id)
        assert isinstance(at, datetime), at
        self.events.append("started")
        return self.completed_at is not None

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None:
        _is_demo(initiative_id)
        self.events.append("deleted")
        for code, number in page.statements.items():
            self.statements[code] = self.statements.get(code, 0) + number
        self.markers += page.markers

    def add_export_objects(self, initiative_id: str, number: int) -> None:
        _is_demo(initiative_id)
        self.events.append("export objects")

    def purge_completed(self, initiative_id: str, backups: RestorableCopies, at: datetime) -> None:
        _is_demo(initiative_id)
        assert isinstance(at, datetime), at
        assert isinstance(backups, RestorableCopies), backups
        self.events.append("completed")
        self.completed_at, self.swept_on = at, at.date()

    def claim_sweep(self, initiative_id: str, today: date) -> datetime | None:
        _is_demo(initiative_id)
        if self.completed_at is None or (self.swept_on is not None and self.swept_on >= today):
            return None
        self.swept_on = today
        return self.completed_at

    def sweep_found(self, initiative_id: str, found: Mapping[str, int], at: datetime) -> None:
        _is_demo(initiative_id)
        assert isinstance(at, datetime), at
        for name, number in found.items():
            self.found_later[name] = self.found_later.get(name, 0) + number


def _pages() -> list[DeletedPage]:
    return [DeletedPage({"DE": 3, "PL": 2}, 4, ("k1",)), DeletedPage({"DE": 1}, 2, ("k2",))]


def _purge(purger: FakePurger, exports: FakeExports, records: FakeRecords, day: date,
           backups: FakeBackups | None = None, **options: Any) -> Any:
    moment = datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)
    return purge_if_due(demo_initiative(), today=day, now=lambda: moment, statements=purger, exports=exports,
                        backups=backups or FakeBackups(), records=records, **options)


def test_nothing_is_purged_before_the_clock_runs_out() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports(), FakeRecords()

    outcome = _purge(purger, exports, records, date(2028, 5, 31))

    assert outcome.state == "not-due"
    assert purger.asked == [] and exports.prefixes == [] and records.events == []


def test_nothing_is_purged_while_proceedings_hold_the_statements() -> None:
    purger, exports = FakePurger(_pages()), FakeExports()
    records = FakeRecords([_recorded(HOLD_STARTED, date(2028, 5, 1), "C-1/28")])

    outcome = _purge(purger, exports, records, date(2028, 6, 1))
    before_the_limit = _purge(purger, exports, records, date(2028, 5, 31))

    assert (outcome.state, outcome.due_on) == ("held", date(2028, 6, 1))
    assert before_the_limit.state == "not-due"  # held, but the limit has not come yet either
    assert purger.asked == [] and records.events == []


def test_purge_marks_counts_final_first_then_destroys_and_records_what_went() -> None:
    purger, exports, records, backups = FakePurger(_pages()), FakeExports(), FakeRecords(), FakeBackups()

    outcome = _purge(purger, exports, records, date(2028, 6, 1), backups)

    assert outcome.state == "done"
    assert records.events == ["final", "started", "deleted", "deleted", "export objects", "completed"]
    assert records.statements == {"DE": 4, "PL": 2} and records.markers == 6
    assert purger.asked == ["demo-2026"]
    assert exports.prefixes == ["demo-2026/"]  # this initiative's exports only
    assert outcome.export_objects == 7
    assert outcome.backups.destroyed == ("point-in-time recovery",) and not backups.recovery_enabled


def test_purge_killed_mid_page_has_recorded_at_least_what_it_destroyed() -> None:
    purger, exports, records = FakePurger(_pages(), fail_on_delete=2), FakeExports(), FakeRecords()

    with pytest.raises(RuntimeError):
        _purge(purger, exports, records, date(2028, 6, 1))

    assert records.completed_at is None  # "in progress"
    assert sum(records.statements.values()) >= purger.destroyed["statements"]
    assert records.markers >= purger.destroyed["markers"]
    assert (sum(records.statements.values()), records.markers) == (6, 6)


def test_purge_stopped_half_way_goes_on_next_time_and_adds_up() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports(), FakeRecords()

    first = _purge(purger, exports, records, date(2028, 6, 1), should_stop=lambda: True)
    second = _purge(purger, exports, records, date(2028, 6, 1))
    third = _purge(purger, exports, records, date(2028, 6, 1))

    assert (first.state, second.state, third.state) == ("stopped", "done", "already-done")
    assert records.statements == {"DE": 4, "PL": 2}
    assert exports.prefixes == ["demo-2026/"]


def test_the_day_after_the_purge_a_sweep_destroys_and_reports_what_was_written_since() -> None:
    purger, exports, records, backups = FakePurger(_pages()), FakeExports([7, 2, 0]), FakeRecords(), FakeBackups()
    assert _purge(purger, exports, records, date(2028, 6, 1), backups).state == "done"
    backups.recovery_enabled = True  # a deploy turned recovery back on: its window may reach before the purge

    same_day = _purge(purger, exports, records, date(2028, 6, 1), backups)
    next_day = _purge(purger, exports, records, date(2028, 6, 2), backups)
    again_that_day = _purge(purger, exports, records, date(2028, 6, 2), backups)
    day_after = _purge(purger, exports, records, date(2028, 6, 3), backups)

    assert same_day.state == "already-done"
    assert next_day.state == "swept" and next_day.export_objects == 2 and next_day.found_anything
    assert backups.moments[-2] == records.completed_at  # restorable from before completion: destroyed
    assert again_that_day.state == "already-done"
    assert day_after.state == "swept" and not day_after.found_anything
    assert records.found_later == {"export_objects": 2, "backups": 1, "backups_left": 0}


def test_a_test_phase_that_never_went_live_is_purged_and_swept_and_counted_apart() -> None:
    test_pages = [DeletedPage({"DE": 1}, 1, ("t1",), {"DE": 2, "PL": 1}, 3),
                  DeletedPage({}, 0, ("t2",), {"DE": 1}, 1)]
    purger, exports, records, backups = FakePurger(test_pages), FakeExports([0, 0]), FakeRecords(), FakeBackups()

    purge = _purge(purger, exports, records, date(2028, 6, 1), backups)
    purger.pages = [DeletedPage({}, 0, ("t3",), {"PL": 2}, 1)]  # written after the purge: the sweep finds it
    backups.recovery_enabled = True
    sweep = _purge(purger, exports, records, date(2028, 6, 2), backups)

    assert (purge.statements, purge.markers, purge.test_statements, purge.test_markers) == (
        {"DE": 1}, 1, {"DE": 3, "PL": 1}, 4)
    assert (purge.export_objects, sweep.export_objects) == (0, 0)
    assert (sweep.due_on, sweep.test_statements, sweep.test_markers) == (date(2028, 6, 1), {"PL": 2}, 1)
    assert sweep.backups == RestorableCopies(("point-in-time recovery",))
    assert exports.prefixes == ["demo-2026/", "demo-2026/"]  # the purge's and the sweep's: this initiative's
    assert records.found_later == {"test_statements": 2, "test_markers": 1, "backups": 1, "backups_left": 0}


def test_a_sweep_that_runs_out_of_time_stops_cleanly_having_recorded_what_it_destroyed() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports([7, 0]), FakeRecords()
    assert _purge(purger, exports, records, date(2028, 6, 1)).state == "done"
    purger.pages = [DeletedPage({"DE": 1}, 1, ("late",)), DeletedPage({"PL": 1}, 1, ("later",))]

    outcome = _purge(purger, exports, records, date(2028, 6, 2), should_stop=lambda: True)

    assert outcome.state == "stopped" and outcome.statements == {"DE": 1}
    assert (outcome.due_on, outcome.export_objects) == (date(2028, 6, 1), 0)
    assert records.found_later == {"statements": 1, "markers": 1}
    assert len(purger.pages) == 1  # the rest waits for the next day's sweep
