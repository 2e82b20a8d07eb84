"""Export run ids: the on-demand run is named after its moment in UTC, wherever the operator's machine is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.exporting.layout import on_demand_run_id


@pytest.fixture
def operator_in_brussels(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Brussels")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_operator_in_brussels_gets_a_run_named_by_its_utc_time(operator_in_brussels: None) -> None:
    # The id ends in Z: it must be UTC, not the clock of the machine that started the run.
    assert on_demand_run_id(datetime(2026, 11, 27, 2, 30, 5, tzinfo=UTC)) == "2026-11-27T02-30-05Z"
    assert on_demand_run_id(datetime(2026, 11, 27, 3, 30, 5, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-11-27T02-30-05Z")
