"""Two deliveries of one export unit at once: one worker holds the Member State, the other is refused.

Failure model (AWS Lambda, asynchronous invocation): an event can be delivered more than once, and two
deliveries can run at the same time in two sandboxes; the export worker's event is "export State X of
run R". Both read the State's progress document from S3 and see it free. Without an atomic lease both
go on, write the same parts with different ciphertexts (KMS data keys differ), and one's progress
overwrites the other's: the manifest then names hashes that the files in S3 no longer have, and the
authority's verification fails. The lease is taken and every save is made with S3's conditional writes
(If-Match on the version read or written last), so of two workers exactly one exports the State.

The test runs two real `ExportRun.export_unit` calls on threads and interleaves their calls to the file
store by a schedule hypothesis draws (every read, conditional write and file is one step); in memory
each part is written the same bytes twice, so a part written twice is what shows the race.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.exporting import layout
from chalicelib.exporting.progress import MemberStateProgress
from chalicelib.exporting.run import ExportRun, UnitBusyError
from tests.fakes import InMemoryExportFileStore, SimulatedCrash
from tests.unit.test_export_run import RUN, World

WORKERS = ("first", "second")


class InterleavedFiles(InMemoryExportFileStore):
    """The in-memory store, each call a step that waits for its worker's turn in the schedule."""

    def __init__(self, schedule: list[str]) -> None:
        super().__init__()
        self._schedule = list(schedule)
        self._turn = threading.Condition()
        self._busy = False
        self.done: set[str] = set()
        self.local = threading.local()

    def _may_go(self, me: str) -> bool:
        if self._busy:
            return False
        while self._schedule and self._schedule[0] in self.done:
            self._schedule.pop(0)
        return not self._schedule or self._schedule[0] == me

    def step(self, call: Callable[..., Any], *args: Any) -> Any:
        if getattr(self.local, "inside", False):  # a call the store makes to itself: part of this step
            return call(*args)
        me = self.local.name
        with self._turn:
            if not self._turn.wait_for(lambda: self._may_go(me), timeout=10):
                raise AssertionError("the schedule stalled")
            self._busy = True
            if self._schedule:
                self._schedule.pop(0)
        self.local.inside = True
        try:
            return call(*args)
        finally:
            self.local.inside = False
            with self._turn:
                self._busy = False
                self._turn.notify_all()

    def finished(self, me: str) -> None:
        with self._turn:
            self.done.add(me)
            self._turn.notify_all()

    def read_json(self, key: str) -> Any:
        return self.step(super().read_json, key)

    def write_json(self, key: str, document: Any) -> None:
        self.step(super().write_json, key, document)

    def read_json_version(self, key: str) -> Any:
        return self.step(super().read_json_version, key)

    def replace_json(self, key: str, document: Any, version: str | None) -> str:
        return self.step(super().replace_json, key, document, version)  # type: ignore[no-any-return]

    def create(self, key: str, context: Any, member_state: str) -> Any:
        return self.step(super().create, key, context, member_state)


def _two_deliveries_at_once(schedule: list[str]) -> tuple[World, InterleavedFiles, dict[str, object]]:
    world = World(max_per_file=4)
    files = InterleavedFiles(schedule)
    world.files = files
    world.run = ExportRun(
        world.initiative, source=world.source, opener=lambda: world.opener, files=files, counts=world.counts,
        signer=lambda: world.signer, max_statements_per_file=4, now=lambda: world.clock,
        today=world.run._today,
    )
    files.local.inside = True  # planning the run is not part of the race
    world.run.start(RUN)
    files.local.inside = False
    outcomes: dict[str, object] = {}

    def deliver(name: str) -> None:
        files.local.name = name
        try:
            outcomes[name] = world.run.export_unit(RUN, "DE")
        except UnitBusyError as refused:
            outcomes[name] = refused
        except BaseException as error:  # reported by the checks below
            outcomes[name] = error
        finally:
            files.finished(name)

    threads = [threading.Thread(target=deliver, args=(name,)) for name in WORKERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    files.local.inside = True  # what follows (the checks, the manifest) runs alone
    return world, files, outcomes


def _check_one_worker_exported(world: World, files: InterleavedFiles, outcomes: dict[str, object]) -> None:
    assert set(outcomes) == set(WORKERS)
    assert all(outcome is True or isinstance(outcome, UnitBusyError) for outcome in outcomes.values()), outcomes
    assert [outcome for outcome in outcomes.values() if outcome is True], "one of them exported the State"
    written_twice = {key: n for key, n in files.writes.items() if n > 1}
    assert not written_twice, f"two workers wrote the same parts: {written_twice}"
    manifest = world.run.finish(RUN)  # the other States, then the manifest, as the fan-out would
    assert manifest is None or all(file["member_state"] != "DE" or file["statements"] for file in manifest["files"])
    de = Counter(item for item in world.exported_ids() if item[0] == "DE")
    assert de and set(de.values()) == {1}, "each German statement exported once"


@settings(max_examples=60, deadline=None, database=None)
@given(schedule=st.lists(st.sampled_from(WORKERS), max_size=30))
def test_two_deliveries_of_one_unit_at_once_export_the_state_once(schedule: list[str]) -> None:
    _check_one_worker_exported(*_two_deliveries_at_once(schedule))


def test_a_worker_whose_state_was_taken_over_stops_at_its_next_save_and_leaves_the_lease() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)
    key = "progress"
    from chalicelib.exporting import layout

    key = layout.progress_key(world.initiative.id, RUN, "DE")
    saves = {"n": 0}
    original = world.files.replace_json

    def taken_over_after_the_lease(k: str, document: Any, version: str | None) -> str:
        written = original(k, document, version)
        saves["n"] += 1
        if saves["n"] == 1:  # another worker writes the document after this one took the lease
            world.files.write_json(k, {**document, "lease_until": "2099-01-01T00:00:00+00:00"})
        return written

    world.files.replace_json = taken_over_after_the_lease  # type: ignore[method-assign]
    with pytest.raises(UnitBusyError, match=f"^DE of run {RUN} was taken by another worker$"):
        world.run.export_unit(RUN, "DE")
    assert world.files.documents[key]["lease_until"] == "2099-01-01T00:00:00+00:00", "the other's lease stays"


def _taken_over_after_the_lease(world: World, then: Callable[[str], None]) -> None:
    """Another worker writes DE's progress right after this one took the lease; then `then(key)`."""
    original = world.files.replace_json
    saves = {"n": 0}

    def replace_json(k: str, document: Any, version: str | None) -> str:
        written = original(k, document, version)
        saves["n"] += 1
        if saves["n"] == 1:
            world.files.write_json(k, {**document, "lease_until": "2099-01-01T00:00:00+00:00"})
            then(k)
        return written

    world.files.replace_json = replace_json  # type: ignore[method-assign]


def test_a_worker_failing_after_its_state_was_taken_over_reports_its_own_failure() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)
    _taken_over_after_the_lease(world, lambda key: world.files.fail_on_file(1))

    with pytest.raises(SimulatedCrash):
        world.run.export_unit(RUN, "DE")
    key = layout.progress_key(world.initiative.id, RUN, "DE")
    assert world.files.documents[key]["lease_until"] == "2099-01-01T00:00:00+00:00", "the other's lease stays"


def test_a_worker_failing_after_its_progress_was_deleted_reports_its_own_failure() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)

    def deleted_and_failing(key: str) -> None:
        del world.files.documents[key]
        world.files.fail_on_file(1)

    _taken_over_after_the_lease(world, deleted_and_failing)

    with pytest.raises(SimulatedCrash):
        world.run.export_unit(RUN, "DE")


def test_a_worker_that_loses_the_race_for_the_lease_is_told_which_state_and_run() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)
    original = world.files.read_json_version

    def read_then_taken(key: str) -> tuple[Any, str | None]:
        read = original(key)
        world.files.write_json(key, {"member_state": "DE", "lease_until": "2099-01-01T00:00:00+00:00"})
        return read

    world.files.read_json_version = read_then_taken  # type: ignore[method-assign]
    with pytest.raises(UnitBusyError, match=f"^DE of run {RUN} was taken by another worker$"):
        world.run.export_unit(RUN, "DE")


def test_a_second_worker_is_told_until_when_the_state_is_held() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)
    key = layout.progress_key(world.initiative.id, RUN, "DE")
    world.files.write_json(key, MemberStateProgress("DE", lease_until=world.clock + timedelta(minutes=5)).to_json())

    with pytest.raises(UnitBusyError, match=f"^DE of run {RUN} is held by another worker until 2026-11-27T02:05:00"):
        world.run.export_unit(RUN, "DE")


def test_a_state_whose_lease_runs_out_now_is_taken_by_the_next_worker() -> None:
    world = World(max_per_file=4)
    world.run.start(RUN)
    key = layout.progress_key(world.initiative.id, RUN, "DE")
    world.files.write_json(key, MemberStateProgress("DE", lease_until=world.clock).to_json())

    assert world.run.export_unit(RUN, "DE") is True


def test_the_schedule_test_catches_a_lease_taken_by_a_plain_write(monkeypatch: pytest.MonkeyPatch) -> None:
    # The broken variant: the lease and saves written unconditionally, as before. Both deliveries read the
    # State free (the schedule lets each read before either writes) and both export it.
    def unconditional(self: ExportRun, key: str, progress: Any, version: Any, member_state: str, run_id: str) -> str:
        self._files.write_json(key, progress.to_json())
        return ""

    monkeypatch.setattr(ExportRun, "_take", unconditional)
    with pytest.raises(AssertionError, match="two workers wrote the same parts"):
        _check_one_worker_exported(*_two_deliveries_at_once(["first", "second", "first", "second"]))
