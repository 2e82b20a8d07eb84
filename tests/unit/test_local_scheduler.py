"""`make run` fires the app's scheduled handlers (the recount) at their rate, as EventBridge does."""

from __future__ import annotations

import threading

from chalice.app import Cron, Rate

import app as app_module
from chalicelib.local.scheduler import _Schedule, period_seconds, run_schedules


def test_rates_become_periods_and_cron_schedules_are_left_alone() -> None:
    assert period_seconds(Rate(1, unit=Rate.HOURS)) == 3600
    assert period_seconds(Rate(5, unit=Rate.MINUTES)) == 300
    assert period_seconds("rate(2 days)") == 172800
    assert period_seconds(Cron(0, 3, "*", "*", "?", "*")) is None


def test_the_recount_is_scheduled_every_hour() -> None:
    from chalice.app import ScheduledEventConfig

    [recount] = [source for source in app_module.app.event_sources
                 if isinstance(source, ScheduledEventConfig) and source.name == "recount_statements"]

    assert period_seconds(recount.schedule_expression) == 3600


def test_a_schedule_fires_each_period_and_a_failing_run_does_not_stop_the_next() -> None:
    stop = threading.Event()
    fired: list[int] = []

    def fire() -> None:
        fired.append(len(fired))
        if len(fired) == 1:
            raise RuntimeError("the first run fails")
        if len(fired) == 3:
            stop.set()

    run_schedules([_Schedule("recount", 0.01, fire, due=0.0)], stop)

    assert fired == [0, 1, 2]


def test_make_run_checks_the_counting_within_a_minute_and_leaves_the_other_schedules_a_period_away() -> None:
    """The dashboard's counting health needs a recount's record: locally the first comes a minute after start."""
    import time

    import pytest

    from chalicelib.local import scheduler

    made: list[list[_Schedule]] = []

    class Thread:
        def __init__(self, target: object, args: tuple[list[_Schedule], threading.Event], **_: object) -> None:
            made.append(args[0])

        def start(self) -> None:
            pass

    before = time.monotonic()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduler.threading, "Thread", Thread)
        scheduler.start_scheduler(app_module.app, "eu-central-1", threading.Event())

    [schedules] = made
    first = {schedule.name: schedule.due - before for schedule in schedules}
    assert 0 < first["recount_statements"] <= 61
    assert first["export_daily"] >= 86_399 and first["purge_statements"] >= 3599
