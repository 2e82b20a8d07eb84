"""A burst of views reads the counts once per cache period, however many arrive at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.counting.cached_reader import CachedCounterReader, read_snapshot
from tests.fakes import InMemoryCounterReader

PERIOD = 10.0


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SlowCounterReader(InMemoryCounterReader):
    """Counts every read; each read waits for the gate, as a DynamoDB Query takes its milliseconds."""

    def __init__(self, counts: dict[str, int]) -> None:
        super().__init__(counts)
        self.reads = 0
        self.gate = threading.Event()
        self.gate.set()
        self._lock = threading.Lock()

    def counts(self, initiative_id: str) -> dict[str, int]:
        with self._lock:
            self.reads += 1
        self.gate.wait(timeout=5)
        return super().counts(initiative_id)


def _burst(reader: CachedCounterReader, views: int) -> list[dict[str, int]]:
    start = threading.Barrier(views)

    def view(_: int) -> dict[str, int]:
        start.wait()
        return reader.counts("demo-2026")

    with ThreadPoolExecutor(max_workers=views) as pool:
        return list(pool.map(view, range(views)))


def test_fifty_concurrent_first_views_make_one_read_and_all_see_the_counts() -> None:
    upstream = SlowCounterReader({"DE": 176_812})
    upstream.gate.clear()  # the first read is still under way while the other views arrive
    reader = CachedCounterReader(upstream, PERIOD, clock=Clock())
    threading.Timer(0.2, upstream.gate.set).start()

    seen = _burst(reader, 50)

    assert upstream.reads == 1
    assert seen == [{"DE": 176_812}] * 50


def test_views_within_the_period_read_once_and_the_next_period_reads_again() -> None:
    upstream = SlowCounterReader({"DE": 1})
    clock = Clock()
    reader = CachedCounterReader(upstream, PERIOD, clock=clock)

    for _ in range(100):
        reader.counts("demo-2026")
    clock.now += PERIOD - 0.001
    reader.counts("demo-2026")
    assert upstream.reads == 1

    upstream.values["DE"] = 2
    clock.now += 0.001
    assert reader.counts("demo-2026") == {"DE": 2}
    assert upstream.reads == 2


def test_a_burst_after_the_period_makes_one_read_while_the_others_see_the_previous_counts() -> None:
    upstream = SlowCounterReader({"DE": 1})
    clock = Clock()
    reader = CachedCounterReader(upstream, PERIOD, clock=clock)
    reader.counts("demo-2026")
    clock.now += PERIOD
    upstream.values["DE"] = 2
    upstream.gate.clear()
    threading.Timer(0.2, upstream.gate.set).start()

    seen = _burst(reader, 50)

    assert upstream.reads == 2
    assert {"DE": 2} in seen
    assert all(counts in ({"DE": 1}, {"DE": 2}) for counts in seen)
    assert reader.counts("demo-2026") == {"DE": 2}


class PerInitiativeReader(SlowCounterReader):
    """Each initiative's own counts; only reads of `gated` wait for the gate."""

    def __init__(self, counts: dict[str, dict[str, int]], gated: str = "") -> None:
        super().__init__({})
        self.by_initiative = counts
        self.gated = gated
        self.gated_read_done = False

    def counts(self, initiative_id: str) -> dict[str, int]:
        with self._lock:
            self.reads += 1
        if initiative_id == self.gated:
            self.gate.wait(timeout=5)
            self.gated_read_done = True
        return dict(self.by_initiative[initiative_id])


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def test_each_initiative_has_its_own_counts() -> None:
    upstream = PerInitiativeReader({"demo-2026": {"DE": 1}, "other-2026": {"DE": 7}})
    reader = CachedCounterReader(upstream, PERIOD, clock=Clock())

    assert reader.counts("demo-2026") == {"DE": 1}
    assert reader.counts("other-2026") == {"DE": 7}
    assert reader.counts("demo-2026") == {"DE": 1}
    assert read_snapshot(upstream, "other-2026", Clock()).counts == {"DE": 7}
    assert upstream.reads == 3


def test_a_view_during_a_slow_read_gets_the_previous_counts_at_once() -> None:
    upstream = SlowCounterReader({"DE": 1})
    clock = Clock()
    reader = CachedCounterReader(upstream, PERIOD, clock=clock)
    reader.counts("demo-2026")
    clock.now += PERIOD
    upstream.values["DE"] = 2
    upstream.gate.clear()
    reading = threading.Thread(target=reader.counts, args=("demo-2026",))
    reading.start()
    _wait_for(lambda: upstream.reads == 2)

    seen = reader.counts("demo-2026")  # the read above is still waiting for DynamoDB
    still_reading = not upstream.gate.is_set()
    upstream.gate.set()
    reading.join()

    assert seen == {"DE": 1} and still_reading


def test_a_slow_read_of_one_initiative_does_not_hold_up_another_initiatives_first_view() -> None:
    upstream = PerInitiativeReader({"demo-2026": {"DE": 1}, "other-2026": {"DE": 7}}, gated="demo-2026")
    reader = CachedCounterReader(upstream, PERIOD, clock=Clock())
    upstream.gate.clear()
    reading = threading.Thread(target=reader.counts, args=("demo-2026",))
    reading.start()
    _wait_for(lambda: upstream.reads == 1)

    seen = reader.counts("other-2026")
    still_reading = not upstream.gated_read_done
    upstream.gate.set()
    reading.join()

    assert seen == {"DE": 7} and still_reading


def test_a_clock_set_back_does_not_keep_old_counts_for_ever() -> None:
    upstream = SlowCounterReader({"DE": 1})
    clock = Clock()
    reader = CachedCounterReader(upstream, PERIOD, clock=clock)
    reader.counts("demo-2026")

    clock.now -= 3600
    reader.counts("demo-2026")

    assert upstream.reads == 2


def test_a_failed_read_is_not_kept_and_the_next_view_reads_again() -> None:
    class FailingOnce(SlowCounterReader):
        def counts(self, initiative_id: str) -> dict[str, int]:
            if self.reads == 0:
                self.reads += 1
                raise TimeoutError("DynamoDB did not answer")
            return super().counts(initiative_id)

    upstream = FailingOnce({"DE": 5})
    reader = CachedCounterReader(upstream, PERIOD, clock=Clock())

    with pytest.raises(TimeoutError):
        reader.counts("demo-2026")
    assert reader.counts("demo-2026") == {"DE": 5}


def test_changing_what_a_view_got_does_not_change_what_the_next_view_sees() -> None:
    reader = CachedCounterReader(InMemoryCounterReader({"DE": 5}), PERIOD, clock=Clock())

    reader.counts("demo-2026")["DE"] = 999_999

    assert reader.counts("demo-2026") == {"DE": 5}


def test_the_snapshot_carries_the_time_of_the_read() -> None:
    clock = Clock()
    reader = CachedCounterReader(InMemoryCounterReader({"DE": 5}), PERIOD, clock=clock)
    read_at = clock.now

    clock.now += 3
    assert reader.snapshot("demo-2026").read_at == read_at + 3
    clock.now += 3
    assert read_snapshot(reader, "demo-2026", clock).read_at == read_at + 3
    assert read_snapshot(InMemoryCounterReader({"DE": 5}), "demo-2026", clock).read_at == read_at + 6


def test_a_period_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        CachedCounterReader(InMemoryCounterReader(), 0)


def test_a_period_of_one_second_is_accepted() -> None:
    assert CachedCounterReader(InMemoryCounterReader({"DE": 5}), 1).counts("demo-2026") == {"DE": 5}


def test_the_default_clock_is_wall_time() -> None:
    before = time.time()
    snapshot = CachedCounterReader(InMemoryCounterReader(), PERIOD).snapshot("demo-2026")
    assert before <= snapshot.read_at <= time.time()
