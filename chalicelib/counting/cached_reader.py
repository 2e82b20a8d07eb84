"""Counts read at most once per cache period, however many views arrive at once.

A burst of page views (the largest petition peak on record came from about 100,000 people
refreshing a counter at once) then costs one DynamoDB read per period in each Lambda instance or
local server, behind CloudFront, which keeps the page for the same period (s-maxage).

Pure: the upstream reader and the clock are given.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chalicelib.signing.ports import CounterReader


@dataclass(frozen=True)
class CountsSnapshot:
    counts: Mapping[str, int]  # read-only: every caller shares it
    read_at: float  # clock time (seconds since the epoch with time.time) when the read began


class CachedCounterReader:
    """A CounterReader that asks its upstream once per period per initiative.

    When the counts expire, the first thread to ask reads them again; threads that ask meanwhile
    get the previous counts rather than waiting (or, before the first read, wait for it), so many
    threads missing at once still make one upstream read.
    """

    def __init__(self, upstream: CounterReader, period_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        if period_seconds <= 0:
            raise ValueError(f"the cache period must be positive, got {period_seconds}")
        self._upstream = upstream
        self._period = period_seconds
        self._clock = clock
        self._lock = threading.Lock()  # guards the two dicts below, never held during a read
        self._snapshots: dict[str, CountsSnapshot] = {}
        self._reading: dict[str, threading.Lock] = {}  # one per initiative: held by the thread reading

    def counts(self, initiative_id: str) -> dict[str, int]:
        return dict(self.snapshot(initiative_id).counts)

    def snapshot(self, initiative_id: str) -> CountsSnapshot:
        with self._lock:
            cached = self._snapshots.get(initiative_id)
            reading = self._reading.setdefault(initiative_id, threading.Lock())
        if cached is not None and self._fresh(cached):
            return cached
        if cached is None:
            reading.acquire()
        elif not reading.acquire(blocking=False):
            return cached  # another thread is reading: its counts arrive in a moment
        try:
            with self._lock:
                cached = self._snapshots.get(initiative_id)
            if cached is not None and self._fresh(cached):
                return cached  # read by the thread this one waited for
            read_at = self._clock()
            fresh = CountsSnapshot(MappingProxyType(dict(self._upstream.counts(initiative_id))), read_at)
            with self._lock:
                self._snapshots[initiative_id] = fresh
            return fresh
        finally:
            reading.release()

    def _fresh(self, snapshot: CountsSnapshot) -> bool:
        age = self._clock() - snapshot.read_at
        return 0 <= age < self._period  # a clock set back makes the counts stale, not fresh for ever


def read_snapshot(reader: CounterReader, initiative_id: str, clock: Callable[[], float]) -> CountsSnapshot:
    """The counts with the time they were read, from a cached reader or, read now, from any other."""
    if isinstance(reader, CachedCounterReader):
        return reader.snapshot(initiative_id)
    read_at = clock()
    return CountsSnapshot(MappingProxyType(dict(reader.counts(initiative_id))), read_at)
