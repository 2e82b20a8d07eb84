"""Export run ids: the on-demand run is named after its moment in UTC, wherever the operator's machine is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.exporting.layout import (
    RunIdError,
    check_run_id,
    manifest_key,
    on_demand_run_id,
    plan_key,
    progress_key,
    signature_key,
)


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


def test_every_file_of_a_run_lies_under_its_initiative_and_run() -> None:
    # The purge deletes an initiative's prefix, and the export policies grant it: nothing may fall outside.
    keys = [plan_key("demo-2026", "2026-11-27"), manifest_key("demo-2026", "2026-11-27"),
            signature_key("demo-2026", "2026-11-27"), progress_key("demo-2026", "2026-11-27", "PL")]

    assert all(key.startswith("demo-2026/2026-11-27/") for key in keys)
    assert progress_key("demo-2026", "2026-11-27", "PL").endswith("/PL.json")


def test_a_wrong_run_id_is_refused_saying_what_a_run_id_is() -> None:
    with pytest.raises(RunIdError) as raised:
        check_run_id("../other")

    assert str(raised.value) == "a run id is 1 to 64 letters, digits, '.', '_' or '-', not '../other'"
