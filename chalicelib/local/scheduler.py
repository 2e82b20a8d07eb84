"""What EventBridge does on AWS, done locally: fire the app's scheduled handlers at their rate.

Rates only (``Rate(...)`` or ``rate(n unit)``); a cron schedule is reported and left alone locally. As on
AWS, the first run comes one period after the start (but see FIRST_RUN_SOONER), and a handler that raises
is logged, not retried.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.local.stream_events import scheduled_event

if TYPE_CHECKING:
    from chalice.app import Chalice

logger = logging.getLogger(__name__)

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
# Handlers whose first local run comes this soon after the start rather than a period later: the hourly
# recount, so that the organisers' dashboard shows a real check of the counting (lag, repairs, dead
# letters) within a minute of `make run`, not after an hour. It only reads and repairs: safe to run early.
FIRST_RUN_SOONER = {"recount_statements": 60.0}


def period_seconds(expression: object) -> float | None:
    """Seconds between runs of a rate expression; None for anything else (cron)."""
    from chalice.app import ScheduleExpression

    text = expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
    match = _RATE.fullmatch(text.strip().lower())
    if match is None:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass
class _Schedule:
    name: str
    period: float
    fire: Callable[[], object]
    due: float


def run_schedules(
    schedules: list[_Schedule], stop: threading.Event, clock: Callable[[], float] = time.monotonic
) -> None:
    while schedules and not stop.is_set():
        upcoming = min(schedules, key=lambda schedule: schedule.due)
        if stop.wait(max(0.0, upcoming.due - clock())):
            return
        upcoming.due += upcoming.period
        try:
            upcoming.fire()
        except Exception as error:  # like EventBridge: log it, wait for the next time
            logger.warning("scheduled %s failed (%s)", upcoming.name, type(error).__name__)


def start_scheduler(app: Chalice, region: str, stop: threading.Event) -> list[threading.Thread]:
    """A thread firing every rate-scheduled handler of the app; none if the app has none."""
    from chalice.app import ScheduledEventConfig
    from chalice.local import LambdaContext

    start = time.monotonic()
    schedules: list[_Schedule] = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        period = period_seconds(source.schedule_expression)
        if period is None:
            logger.info("schedule of %s is not a rate: not run locally", source.name)
            continue
        handler = app.handler_map[source.name]

        def fire(handler: Callable[..., object] = handler, name: str = source.name) -> Any:
            return handler(scheduled_event(name, region), LambdaContext(name, memory_size=512))

        schedules.append(_Schedule(source.name, period, fire,
                                   start + min(period, FIRST_RUN_SOONER.get(source.name, period))))
    if not schedules:
        return []
    thread = threading.Thread(target=run_schedules, args=(schedules, stop), name="scheduler", daemon=True)
    thread.start()
    return [thread]
