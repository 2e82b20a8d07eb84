"""An export run planned before the retention deadline decrypts nothing on or after it (Art. 19)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest

from chalicelib.exporting.retention import RetentionClock, RetentionOverError, RetentionTrigger, retention_clock
from chalicelib.exporting.run import ExportRun
from tests.fakes import (
    InMemoryCounterReader,
    InMemoryExportFileStore,
    InMemoryManifestSigner,
    InMemoryStatementSource,
    PlainOpener,
)
from tests.unit.export_specimens import demo_initiative, stored

RUN = "2028-05-31"
LAST_DAY = date(2028, 5, 31)  # the demo's statements are due for destruction on 2028-06-01
DUE_DAY = date(2028, 6, 1)


class Calendar:
    def __init__(self, day: date) -> None:
        self.day = day
        self.asked = 0

    def today(self) -> date:
        self.asked += 1
        return self.day


def _run(calendar: Calendar, statements: int = 200,
         clock: RetentionClock | None = None) -> tuple[ExportRun, PlainOpener]:
    initiative = demo_initiative()
    items = [stored(n, "DE", "en") for n in range(statements)]
    opener = PlainOpener()
    run = ExportRun(
        initiative, source=InMemoryStatementSource(initiative.id, items), opener=lambda: opener,
        files=InMemoryExportFileStore(), counts=InMemoryCounterReader(dict(Counter(i.member_state for i in items))),
        signer=InMemoryManifestSigner, max_statements_per_file=1000,
        now=lambda: datetime(2028, 5, 31, 23, 0, tzinfo=UTC), today=calendar.today,
        clock=(lambda: clock) if clock is not None else None,
    )
    return run, opener


def test_a_run_planned_the_day_before_decrypts_nothing_on_the_due_day() -> None:
    calendar = Calendar(LAST_DAY)
    run, opener = _run(calendar)
    assert run.start(RUN).pending == ("DE",)

    calendar.day = DUE_DAY
    with pytest.raises(RetentionOverError, match=r"^the retention period of demo-2026 ended on 2028-06-01"):
        run.export_unit(RUN, "DE")

    assert opener.opened == 0


def test_a_worker_in_flight_at_midnight_stops_at_the_deadline() -> None:
    calendar = Calendar(LAST_DAY)
    run, opener = _run(calendar)
    run.start(RUN)

    def midnight_after_some_statements() -> bool:
        if opener.opened >= 64:
            calendar.day = DUE_DAY
        return False

    with pytest.raises(RetentionOverError, match=r"^the retention period of demo-2026 ended on 2028-06-01"):
        run.export_unit(RUN, "DE", should_stop=midnight_after_some_statements)

    assert 64 <= opener.opened < 200  # it stopped at its next look at the clock, not at the end
    assert not run.progress(RUN, "DE").complete
    assert run.progress(RUN, "DE").lease_until is None  # given back: nothing holds the State


def test_the_day_before_the_deadline_the_unit_exports_everything() -> None:
    calendar = Calendar(LAST_DAY)
    run, opener = _run(calendar)
    run.start(RUN)

    assert run.export_unit(RUN, "DE") is True
    assert opener.opened == 200


def test_a_withdrawal_recorded_by_the_operator_stops_the_units_of_a_planned_run() -> None:
    initiative = demo_initiative()
    withdrawn = retention_clock(initiative, [RetentionTrigger("withdrawn", date(2027, 3, 15),
                                                              datetime(2027, 3, 15, tzinfo=UTC))])
    calendar = Calendar(date(2027, 4, 15))  # one month after the withdrawal
    run, opener = _run(calendar, clock=withdrawn)

    with pytest.raises(RetentionOverError, match="withdrawal"):
        run.start("2027-04-15")
    assert opener.opened == 0
