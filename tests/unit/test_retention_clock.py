"""The retention clock of Art. 19 Reg. 2019/788 and the purge it triggers, over in-memory fakes."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.exporting.retention import DeletedPage, RetentionClock, purge_if_due, retention_clock
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


class FakePurger:
    def __init__(self, pages: list[DeletedPage]) -> None:
        self.pages = list(pages)
        self.asked: list[str] = []

    def delete_initiative(self, initiative_id: str) -> Iterator[DeletedPage]:
        self.asked.append(initiative_id)
        while self.pages:
            yield self.pages.pop(0)  # gone once yielded, as on DynamoDB


class FakeExports:
    def __init__(self) -> None:
        self.prefixes: list[str] = []

    def delete_prefix(self, prefix: str) -> int:
        self.prefixes.append(prefix)
        return 7


class FakeRecords:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.statements: dict[str, int] = {}
        self.markers = 0
        self.completed = False
        self.started = False

    def mark_counts_final(self, initiative_id: str, at: datetime) -> None:
        self.events.append("final")

    def purge_started(self, initiative_id: str, clock: RetentionClock, at: datetime) -> bool:
        self.events.append("started")
        self.started = True
        return self.completed

    def add_deleted(self, initiative_id: str, page: DeletedPage) -> None:
        self.events.append("deleted")
        for code, number in page.statements.items():
            self.statements[code] = self.statements.get(code, 0) + number
        self.markers += page.markers

    def purge_completed(self, initiative_id: str, export_objects: int, at: datetime) -> None:
        self.events.append("completed")
        self.completed = True


def _pages() -> list[DeletedPage]:
    return [DeletedPage({"DE": 3, "PL": 2}, 4), DeletedPage({"DE": 1}, 2)]


def test_nothing_is_purged_before_the_clock_runs_out() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports(), FakeRecords()

    outcome = purge_if_due(demo_initiative(), today=date(2028, 5, 31), now=lambda: NOW, statements=purger,
                           exports=exports, records=records)

    assert outcome.state == "not-due"
    assert purger.asked == [] and exports.prefixes == [] and records.events == []


def test_purge_marks_counts_final_first_then_destroys_and_records_what_went() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports(), FakeRecords()

    outcome = purge_if_due(demo_initiative(), today=date(2028, 6, 1), now=lambda: NOW, statements=purger,
                           exports=exports, records=records)

    assert outcome.state == "done"
    assert records.events == ["final", "started", "deleted", "deleted", "completed"]
    assert records.statements == {"DE": 4, "PL": 2} and records.markers == 6
    assert purger.asked == ["demo-2026"]
    assert exports.prefixes == ["demo-2026/"]  # this initiative's exports only
    assert outcome.export_objects == 7


def test_purge_stopped_half_way_goes_on_next_time_and_adds_up() -> None:
    purger, exports, records = FakePurger(_pages()), FakeExports(), FakeRecords()
    common: dict[str, Any] = {"today": date(2028, 6, 1), "now": lambda: NOW, "statements": purger,
                              "exports": exports, "records": records}

    first = purge_if_due(demo_initiative(), should_stop=lambda: True, **common)
    second = purge_if_due(demo_initiative(), **common)
    third = purge_if_due(demo_initiative(), **common)

    assert (first.state, second.state, third.state) == ("stopped", "done", "already-done")
    assert records.statements == {"DE": 4, "PL": 2}
    assert exports.prefixes == ["demo-2026/"]
