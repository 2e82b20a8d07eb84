"""Changes of the collection's state racing with what else is going on: stale caches, double clicks.

Going live while other instances still hold "test phase" in their cached state (up to the cache period).

The public function reads the collection's state once per cache period, so for that long after going live
began an instance may still store a statement under the test id. Going live must not declare itself done
before that window has closed and been swept, or such a statement stays behind: never deleted, never live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.console import records
from chalicelib.console.actions import ConsoleContext, perform
from chalicelib.console.records import CollectionState
from chalicelib.console.tokens import Organiser
from tests.unit.test_dashboard import InMemoryConsoleStore, TokenAcceptingOne

ORGANISER = Organiser("sub-organiser-1", frozenset({"organiser"}), 2_000_000_000, "session-1")
TEST_ID = records.initiative_id_in_test_phase("demo-2026")


@dataclass(frozen=True)
class Statement:
    pk: str
    member_state: str = "PL"


@dataclass
class Clock:
    at: datetime = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


@dataclass
class StatementsWithAStaleInstance:
    """Test statements; right after going live's first sweep, an instance whose cache still says "test
    phase" stores one more."""

    stored: list[Statement] = field(default_factory=lambda: [Statement(f"S#{TEST_ID}#PL#0#a")])
    sweeps: int = 0
    stale_instance: bool = True

    def statements_of(self, initiative_id: str, limit: int) -> list[Any]:
        found = [statement for statement in self.stored if statement.pk.startswith(f"S#{initiative_id}#")][:limit]
        self.sweeps += 1
        if self.sweeps == 1 and self.stale_instance:
            self.stored.append(Statement(f"S#{TEST_ID}#PL#3#late"))
        return found

    def delete(self, found: Any, audit_put: dict[str, Any] | None) -> bool:
        if found not in self.stored:
            return False
        self.stored.remove(found)
        return True

    def find(self, initiative_id: str, statement_id: str) -> Any:
        return None


def test_going_live_waits_out_the_cache_period_and_deletes_a_test_statement_stored_meanwhile() -> None:
    clock = Clock()
    store = InMemoryConsoleStore()
    store.current = CollectionState(phase=records.PHASE_TEST, version=1)
    statements = StatementsWithAStaleInstance()
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store, clock=clock.now,  # type: ignore[arg-type]
                             deleter=statements, state_settles_seconds=5.0, sleep=clock.sleep)

    answer = perform(context, {"action": "go_live", "token": "good-token"})

    assert answer == {"ok": True, "done": True, "deleted": 2}
    assert statements.stored == [], "the statement stored by the stale instance is deleted too"
    assert store.current.phase == records.PHASE_LIVE
    assert sum(clock.slept) == 5.0, "it waits exactly until every cache has seen 'going live'"


def test_going_live_that_took_longer_than_the_cache_period_does_not_wait() -> None:
    clock = Clock()
    store = InMemoryConsoleStore()
    started = clock.at - timedelta(seconds=60)
    store.current = CollectionState(phase=records.PHASE_GOING_LIVE, version=2, changed_at=started.isoformat())
    statements = StatementsWithAStaleInstance(stored=[], stale_instance=False)
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store, clock=clock.now,  # type: ignore[arg-type]
                             deleter=statements, state_settles_seconds=5.0, sleep=clock.sleep)

    assert perform(context, {"action": "go_live", "token": "good-token"})["done"] is True
    assert clock.slept == []


class StoreWhereAnotherRequestGoesLiveFirst(InMemoryConsoleStore):
    """Two "Go live" presses (a double click): the other request sets "live" a moment before this one."""

    def replace_state(self, initiative_id: str, state: CollectionState, entry: records.AuditEntry) -> bool:
        if state.phase == records.PHASE_LIVE:
            super().replace_state(initiative_id, state, entry)
            return False
        return super().replace_state(initiative_id, state, entry)


def test_a_second_go_live_press_that_loses_the_race_to_the_first_says_collection_is_live() -> None:
    clock = Clock()
    store = StoreWhereAnotherRequestGoesLiveFirst()
    store.current = CollectionState(phase=records.PHASE_TEST, version=1)
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store, clock=clock.now,  # type: ignore[arg-type]
                             deleter=StatementsWithAStaleInstance(stale_instance=False), state_settles_seconds=5.0,
                             sleep=clock.sleep)

    assert perform(context, {"action": "go_live", "token": "good-token"}) == {"ok": True, "done": True, "deleted": 1}


class StoreWhereAnotherRequestBeginsGoingLiveFirst(InMemoryConsoleStore):
    def replace_state(self, initiative_id: str, state: CollectionState, entry: records.AuditEntry) -> bool:
        if state.phase == records.PHASE_GOING_LIVE and self.current.phase == records.PHASE_TEST:
            super().replace_state(initiative_id, state, entry)
            return False
        return super().replace_state(initiative_id, state, entry)


def test_a_second_go_live_press_while_the_first_is_under_way_goes_on_with_it() -> None:
    clock = Clock()
    store = StoreWhereAnotherRequestBeginsGoingLiveFirst()
    store.current = CollectionState(phase=records.PHASE_TEST, version=1)
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store, clock=clock.now,  # type: ignore[arg-type]
                             deleter=StatementsWithAStaleInstance(stale_instance=False), state_settles_seconds=5.0,
                             sleep=clock.sleep)

    assert perform(context, {"action": "go_live", "token": "good-token"}) == {"ok": True, "done": True, "deleted": 1}
    assert store.current.phase == records.PHASE_LIVE


class StoreWhereAnotherRequestPausesFirst(InMemoryConsoleStore):
    def replace_state(self, initiative_id: str, state: CollectionState, entry: records.AuditEntry) -> bool:
        if state.paused and not self.current.paused:
            super().replace_state(initiative_id, state, entry)
            return False
        return super().replace_state(initiative_id, state, entry)


def test_a_double_clicked_pause_says_collection_is_paused() -> None:
    store = StoreWhereAnotherRequestPausesFirst()
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store)  # type: ignore[arg-type]

    assert perform(context, {"action": "pause", "token": "good-token"}) == {"ok": True, "paused": True}
    assert [entry.action for entry in store.audit] == ["pause"], "one pause, recorded once"


@dataclass
class SlowSweeps(StatementsWithAStaleInstance):
    """A sweep that takes long (every Member State's partitions, one Query each)."""

    clock: Clock = field(default_factory=Clock)
    sweep_seconds: float = 5.5

    def statements_of(self, initiative_id: str, limit: int) -> list[Any]:
        self.clock.at += timedelta(seconds=self.sweep_seconds)
        return super().statements_of(initiative_id, limit)


def test_going_live_asks_to_continue_rather_than_wait_past_the_page_functions_time() -> None:
    clock = Clock()
    store = InMemoryConsoleStore()
    store.current = CollectionState(phase=records.PHASE_TEST, version=1)
    statements = SlowSweeps(stale_instance=False, clock=clock)
    context = ConsoleContext("demo-2026", TokenAcceptingOne(ORGANISER), store, clock=clock.now,  # type: ignore[arg-type]
                             deleter=statements, state_settles_seconds=8.0, sleep=clock.sleep)

    first = perform(context, {"action": "go_live", "token": "good-token"})
    assert first == {"ok": True, "done": False, "deleted": 1} and clock.slept == []
    assert store.current.phase == records.PHASE_GOING_LIVE
    clock.at += timedelta(seconds=3)  # the organiser presses "Continue going live"
    assert perform(context, {"action": "go_live", "token": "good-token"}) == {"ok": True, "done": True, "deleted": 0}
    assert clock.slept == [] and store.current.phase == records.PHASE_LIVE
