"""The collection's state, read at most once per cache period per process: the counts' period.

So pausing takes effect everywhere within that period, and the POST path makes no DynamoDB call of its
own per statement in the steady state: one GetItem per period per Lambda instance, beside the counts'
read. Kept apart from the counting code on purpose, so either can change without the other.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.console.records import CollectionState


class CachedCollectionState:
    def __init__(self, read: Callable[[str], CollectionState], period_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        if period_seconds <= 0:
            raise ValueError(f"the cache period must be positive, got {period_seconds}")
        self._read = read
        self._period = period_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, CollectionState]] = {}

    def state(self, initiative_id: str) -> CollectionState:
        now = self._clock()
        with self._lock:
            kept = self._kept.get(initiative_id)
        if kept is not None and 0 <= now - kept[0] < self._period:
            return kept[1]
        try:
            fresh = self._read(initiative_id)
        except Exception:
            if kept is not None:  # the table did not answer: keep the last known state rather than fail
                return kept[1]
            raise
        with self._lock:
            self._kept[initiative_id] = (now, fresh)
        return fresh
