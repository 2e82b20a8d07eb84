"""The dashboard's record of each export run: written by the export as it plans, fails and finishes, with the
same numbers as the run's own documents (the manifest once there is one), and nothing personal."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.console.health import COMPLETE, FAILED, RUNNING, RunSummary, summary_of_run
from chalicelib.exporting.run import ExportRun
from tests.fakes import SimulatedCrash
from tests.unit.test_export_run import RUN, World


class RecordedSummaries:
    def __init__(self, fail: bool = False) -> None:
        self.written: list[RunSummary] = []
        self.initiatives: list[str] = []
        self.fail = fail

    def record_run(self, initiative_id: str, summary: RunSummary) -> None:
        if self.fail:
            raise ConnectionError("the console table did not answer")
        self.initiatives.append(initiative_id)
        self.written.append(RunSummary.from_json(json.loads(json.dumps(summary.to_json()))))


def _world(summaries: RecordedSummaries, counts: dict[str, int] | None = None) -> World:
    world = World(counts=counts)
    today = world.run._today
    world.run = ExportRun(
        world.initiative, source=world.source, opener=lambda: world.opener, files=world.files, counts=world.counts,
        signer=lambda: world.signer, max_statements_per_file=4, now=lambda: world.clock,
        today=today, summaries=summaries,
    )
    return world


def test_a_finished_run_is_summarised_with_the_manifests_totals_and_reconciliation() -> None:
    summaries = RecordedSummaries()
    world = _world(summaries, counts={"DE": 20, "PL": 12, "FR": 9})

    manifest = world.run.run_to_end(RUN)

    first, last = summaries.written[0], summaries.written[-1]
    assert first.status == RUNNING and sorted(first.member_states) == ["DE", "FR", "PL"]
    assert last.status == COMPLETE and last.completed_at == manifest["completed_at"]
    assert {code: (state.statements, state.counter, state.reconciled) for code, state in last.member_states.items()} \
        == {code: (state["statements"], state["counter"], state["reconciled"])
            for code, state in manifest["member_states"].items()}
    assert last.statements == manifest["totals"]["statements"] == 40
    assert last.counted == manifest["totals"]["counter"] == 41
    assert last.reconciled is False and last.mismatches == ["FR"]


def test_a_failed_state_is_summarised_as_failed_and_the_resumed_run_as_complete() -> None:
    summaries = RecordedSummaries()
    world = _world(summaries)
    world.run.start(RUN)
    world.files.fail_on_file(3)

    with pytest.raises(SimulatedCrash):
        world.run.export_unit(RUN, "DE")

    failed = summaries.written[-1]
    assert failed.status == FAILED and failed.failure == "DE: SimulatedCrash"
    assert failed.reconciled is None and 0 < failed.member_states["DE"].statements < 20

    world.run.run_to_end(RUN)
    assert summaries.written[-1].status == COMPLETE and summaries.written[-1].reconciled is True


def test_a_summary_that_cannot_be_written_never_stops_the_export() -> None:
    world = _world(RecordedSummaries(fail=True))

    assert world.run.run_to_end(RUN)["totals"]["statements"] == 40


def test_each_summary_is_on_the_dashboard_of_the_initiative_exported() -> None:
    summaries = RecordedSummaries()
    world = _world(summaries)

    world.run.run_to_end(RUN)

    assert summaries.initiatives and set(summaries.initiatives) == {world.initiative.id}


def test_a_summary_not_written_is_logged_for_the_operator_with_the_run_and_the_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = _world(RecordedSummaries(fail=True))

    with caplog.at_level(logging.WARNING, logger="chalicelib.exporting.run"):
        world.run.start(RUN)

    assert [record.getMessage() for record in caplog.records] == [
        f"export run={RUN}: summary for the dashboard not written (ConnectionError)"
    ]


def test_a_summary_names_no_statement_and_no_person() -> None:
    summaries = RecordedSummaries()
    world = _world(summaries)
    world.run.run_to_end(RUN)

    text = json.dumps([summary.to_json() for summary in summaries.written])
    assert all(item.statement_id not in text for item in world.statements)
    assert set(json.loads(text)[-1]) == {"run_id", "started_at", "status", "collection_open", "completed_at",
                                        "failure", "member_states"}


def test_a_run_still_going_has_its_counts_so_far_and_no_verdict() -> None:
    world = World()
    world.run.start(RUN)
    world.run.export_unit(RUN, "PL")
    plan = world.run.plan(RUN)
    assert plan is not None

    summary = summary_of_run(plan, [world.run.progress(RUN, code) for code in plan.member_states], None)

    assert summary.status == RUNNING and summary.reconciled is None
    assert summary.member_states["PL"].statements == 12 and summary.member_states["PL"].counter == 12
    assert summary.member_states["DE"].statements == 0 and summary.member_states["DE"].counter is None
