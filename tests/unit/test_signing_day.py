"""The day on a receipt and in the daily counts is the day in Brussels, whatever the clock of the machine."""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from chalicelib.signing.statement_id import signing_day, signing_day_at_epoch


@pytest.fixture
def machine_in_kiritimati(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose local clock is 14 hours ahead of UTC: its date differs from Brussels' half the day."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_statement_signed_at_half_past_eleven_utc_in_december_is_counted_on_the_next_day(
        machine_in_kiritimati: None) -> None:
    assert signing_day(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == date(2026, 12, 7)


def test_a_naive_time_is_read_as_utc_not_as_the_machines_clock(machine_in_kiritimati: None) -> None:
    # Noon UTC is 13:00 in Brussels; read as Kiritimati's noon it would be 23:00 the day before.
    assert signing_day(datetime(2026, 12, 6, 12, 0)) == date(2026, 12, 6)


def test_a_time_given_in_another_zone_keeps_its_instant(machine_in_kiritimati: None) -> None:
    # 22:30 in New York is 04:30 the next morning in Brussels; read as 22:30 UTC it would still be the 6th.
    assert signing_day(datetime(2026, 12, 6, 22, 30, tzinfo=timezone(timedelta(hours=-5)))) == date(2026, 12, 7)


def test_a_stream_records_epoch_time_is_dated_in_brussels_not_on_the_machines_clock(
        machine_in_kiritimati: None) -> None:
    # 10:30 UTC on 6 December is 11:30 in Brussels, but already 00:30 on the 7th in Kiritimati.
    seconds = datetime(2026, 12, 6, 10, 30, tzinfo=UTC).timestamp()

    assert signing_day_at_epoch(seconds) == date(2026, 12, 6)


def test_without_time_zone_data_the_day_is_utcs_not_the_machines(
        machine_in_kiritimati: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_data(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", no_data)

    # Kiritimati's date at 23:30 UTC is already the 7th; UTC's is the 6th.
    assert signing_day(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == date(2026, 12, 6)
