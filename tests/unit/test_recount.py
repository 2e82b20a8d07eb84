"""The scheduled repair: what it repairs, when it waits, what an operator reads, and what it never does."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from datetime import date, timedelta

import pytest

from chalicelib.counting.exactly_once import apply_delivery
from chalicelib.counting.mapping_settings import REPAIR_AFTER_SECONDS
from chalicelib.counting.ports import CountedState, DeadLetter, StatementRef
from chalicelib.counting.recount import RecountReport, recount
from chalicelib.counting.stream_records import CountedChange
from chalicelib.rules.member_states import member_state_codes
from tests.fakes import InMemoryCountLedger, InMemoryRecountStore
from tests.unit.stream_specimens import INITIATIVE, MiniatureTable, parsed

NOW = 1_800_000_000.0
TODAY = date(2026, 11, 30)
LONG_AGO = NOW - REPAIR_AFTER_SECONDS - 1


def _today() -> date:
    return TODAY


def _system(signed: dict[str, int], counted_of: dict[str, int] | None = None,
            stored_at: float = LONG_AGO) -> tuple[MiniatureTable, InMemoryCountLedger, InMemoryRecountStore]:
    """Statements signed per State; of them, the first `counted_of[state]` went through the stream."""
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    delivered = []
    for state, number in signed.items():
        for index in range(number):
            _statement, record = table.sign(state)
            if counted_of is None or index < counted_of.get(state, 0):
                delivered.append(record)
    apply_delivery(parsed(delivered), ledger, _today)
    for ref in table.live():
        store.store(ref, table.day_of(ref.statement_id), stored_at)
    return table, ledger, store


def _repair(store: InMemoryRecountStore, ledger: InMemoryCountLedger, states: list[str] | None = None,
            now: float = NOW):  # type: ignore[no-untyped-def]
    return recount(INITIATIVE, store, ledger, now=lambda: now, today=_today,
                   member_states=states or ["PL", "DE", "FR"])


def test_when_every_statement_is_counted_the_repair_finds_nothing(caplog: pytest.LogCaptureFixture) -> None:
    _, ledger, store = _system({"PL": 3, "DE": 1})

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger)

    assert (report.repairs, ledger.transactions) == ((), 1)
    assert report == RecountReport(INITIATIVE, False, (), (), 0)
    assert "count repaired" not in caplog.text
    assert ("recount initiative=clean-rivers: states repaired=0 statements repaired=0 waiting=0 dead_letters=0"
            in caplog.messages)


def test_statements_whose_records_were_discarded_are_counted_once_and_logged_as_figures(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    table, ledger, store = _system({"PL": 5, "DE": 2}, counted_of={"PL": 3, "DE": 2})

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger)
    again = _repair(store, ledger)

    assert ledger.counts(INITIATIVE) == table.counts() == {"PL": 5, "DE": 2}
    assert ledger.daily_counts(INITIATIVE) == table.daily_counts()
    assert [(repair.member_state, repair.counted) for repair in report.repairs] == [("PL", 2)]
    assert again.repairs == ()
    assert "count repaired initiative=clean-rivers state=PL counted=2 uncounted=0" in caplog.messages
    metric = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (metric["CountRepairs"], metric["Initiative"]) == (2, INITIATIVE)
    assert metric["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "CountRepairs", "Unit": "Count"}]


class _RecordingStdout(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))
        super().flush()


def test_the_repair_metric_is_a_line_cloudwatch_turns_into_count_repairs_per_initiative(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, ledger, store = _system({"PL": 2}, counted_of={"PL": 1})
    stdout = _RecordingStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    before = int(time.time() * 1000)

    _repair(store, ledger, ["PL"])

    after = int(time.time() * 1000)
    line = stdout.getvalue()
    metric = json.loads(line)
    # The embedded metric format: its keys are case-sensitive, its Timestamp in milliseconds.
    assert metric["_aws"]["CloudWatchMetrics"] == [{"Namespace": "ECI/Counting", "Dimensions": [["Initiative"]],
                                                    "Metrics": [{"Name": "CountRepairs", "Unit": "Count"}]}]
    assert before <= metric["_aws"]["Timestamp"] <= after
    assert (metric["Initiative"], metric["CountRepairs"]) == (INITIATIVE, 1)
    # Flushed at once: a Lambda frozen after its run would otherwise keep the line in its buffer.
    assert stdout.flushed_at and stdout.flushed_at[-1] == len(line)


@pytest.mark.parametrize(("days_ago", "repaired"), [(0, 0), (1, 0), (2, 1), (30, 1)])
def test_an_old_item_without_its_storage_time_is_repaired_once_its_signing_day_is_two_days_past(
        days_ago: int, repaired: int) -> None:
    # Written before items carried their storage time: a statement of yesterday may still be in flight.
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    table.sign("PL", day=TODAY - timedelta(days=days_ago))
    [ref] = table.live()
    store.store(ref, table.day_of(ref.statement_id), None)

    report = _repair(store, ledger, ["PL"])

    assert (report.repaired, report.waiting) == (repaired, 1 - repaired)


def test_an_old_item_without_its_storage_time_or_a_signing_day_waits_and_the_repair_goes_on() -> None:
    table, ledger, store = _system({"DE": 2}, counted_of={"DE": 1})
    undated = StatementRef(INITIATIVE, "PL", 3, "1b4e28ba-2fa1-4d6b-a3ef-4b1d5c6e7f80")
    store.store(undated, None, None)

    report = _repair(store, ledger, ["PL", "DE"])

    assert (report.repaired, report.waiting) == (1, 1)
    assert ledger.counts(INITIATIVE) == table.counts()


def test_a_busy_member_state_is_repaired_while_its_stream_keeps_counting() -> None:
    """The earlier recount waited for a quiet hour; a busy State never had one."""
    table, ledger, store = _system({"PL": 4}, counted_of={"PL": 2})
    newer = [table.sign("PL") for _ in range(3)]
    for ref in table.live():
        if ref not in store.statements:
            store.store(ref, table.day_of(ref.statement_id), NOW)
    # The stream never stops: a batch lands while the repair reads.
    store.between_reads = lambda: apply_delivery(parsed([record for _, record in newer]), ledger, _today)

    _repair(store, ledger, ["PL"])

    assert ledger.counts(INITIATIVE) == table.counts() == {"PL": 7}


def test_statements_stored_too_recently_wait_for_their_records_then_are_repaired_once(
        caplog: pytest.LogCaptureFixture) -> None:
    table, ledger, store = _system({"PL": 3}, counted_of={"PL": 1}, stored_at=NOW - 60)

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger, ["PL"])

    assert (report.repairs, report.waiting, ledger.counts(INITIATIVE)) == ((), 2, {"PL": 1})
    # No record came for them within the wait: the next repair counts them, once.
    assert _repair(store, ledger, ["PL"], now=NOW + REPAIR_AFTER_SECONDS).repaired == 2
    assert ledger.counts(INITIATIVE) == table.counts()


def test_a_repair_and_a_late_record_of_the_same_statement_count_it_once() -> None:
    table, ledger, store = _system({"DE": 2}, counted_of={"DE": 1})
    _repair(store, ledger, ["DE"])
    assert all(ledger.records[ref].state is CountedState.COUNTED for ref in table.live())

    # The discarded record is delivered after all (a mapping recreated from TRIM_HORIZON, say): a no-op.
    replay = [table.raw("INSERT", f"S#{INITIATIVE}#DE#{ref.bucket:02d}", ref.statement_id) for ref in table.live()]
    apply_delivery(parsed(replay), ledger, _today)

    assert ledger.counts(INITIATIVE) == {"DE": 2}


def test_a_statement_gone_whose_removal_was_discarded_is_taken_off_once(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    table, ledger, store = _system({"FR": 3})
    gone = table.live()[0]
    table.remove(gone.statement_id)
    del store.statements[gone]  # removed from the table; its REMOVE record was discarded

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger, ["FR"])

    assert ledger.counts(INITIATIVE) == {"FR": 2}
    assert [(repair.member_state, repair.uncounted) for repair in report.repairs] == [("FR", 1)]
    # A removal is a repair too: the figures add up, they never cancel out.
    assert ("recount initiative=clean-rivers: states repaired=1 statements repaired=1 waiting=0 dead_letters=0"
            in caplog.messages)
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["CountRepairs"] == 1


def test_a_statement_whose_id_carries_no_day_is_repaired_on_todays_date() -> None:
    ledger = InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    store.store(StatementRef(INITIATIVE, "PL", 3, "1b4e28ba-2fa1-4d6b-a3ef-4b1d5c6e7f80"), None, LONG_AGO)

    assert _repair(store, ledger, ["PL"]).repaired == 1
    assert ledger.daily_counts(INITIATIVE) == {TODAY.isoformat(): {"PL": 1}}


def test_a_statement_counted_between_the_repairs_two_reads_is_not_mistaken_for_a_removal() -> None:
    """Counted records are read before statements: a statement counted in between is still a statement."""
    table, ledger, store = _system({"PL": 1})
    _statement, record = table.sign("PL")
    store.between_reads = lambda: apply_delivery(parsed([record]), ledger, _today)
    for ref in table.live():
        store.store(ref, table.day_of(ref.statement_id), LONG_AGO)

    _repair(store, ledger, ["PL"])

    assert ledger.counts(INITIATIVE) == {"PL": 2}


def test_final_counts_are_never_repaired(caplog: pytest.LogCaptureFixture) -> None:
    _, ledger, store = _system({"PL": 3}, counted_of={"PL": 1})
    ledger.final.add(INITIATIVE)

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger)

    assert (report.final, report.repairs, ledger.counts(INITIATIVE)) == (True, (), {"PL": 1})
    assert report == RecountReport(INITIATIVE, True, (), ())
    assert "recount initiative=clean-rivers: counts are final, not repaired" in caplog.messages


def _one_bucket(ledger: InMemoryCountLedger, store: InMemoryRecountStore, ids: dict[str, bool],
                stored_at: float) -> None:
    """Statements of one PL bucket, stored in the order of their ids; True: its record was counted."""
    for statement_id, counted in ids.items():
        ref = StatementRef(INITIATIVE, "PL", 3, statement_id)
        if counted:
            apply_delivery([CountedChange(f"event-{statement_id}", "1", INITIATIVE, "PL", 1, statement_id, 3,
                                          TODAY)], ledger, _today)
        store.store(ref, TODAY, stored_at)


def test_an_uncounted_statement_after_a_counted_one_in_the_same_bucket_is_repaired() -> None:
    ledger = InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    _one_bucket(ledger, store, {"2026-11-29-a": True, "2026-11-29-b": False}, LONG_AGO)

    report = _repair(store, ledger, ["PL"])

    assert report.repaired == 1 and ledger.counts(INITIATIVE) == {"PL": 2}


def test_every_statement_still_in_flight_is_reported_as_waiting(caplog: pytest.LogCaptureFixture) -> None:
    ledger = InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    _one_bucket(ledger, store, {"2026-11-29-a": False, "2026-11-29-b": False, "2026-11-29-c": False}, NOW - 60)

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger, ["PL"])

    assert (report.repaired, report.waiting) == (0, 3)
    assert "recount initiative=clean-rivers: states repaired=0 statements repaired=0 waiting=3" in caplog.text


def test_the_repair_never_lowers_a_count_except_for_a_statement_that_is_gone() -> None:
    _table, ledger, store = _system({"PL": 2, "DE": 2}, counted_of={"PL": 2, "DE": 1})
    before = ledger.counts(INITIATIVE)

    _repair(store, ledger)

    after = ledger.counts(INITIATIVE)
    assert all(after[state] >= number for state, number in before.items())


def test_dead_letters_are_listed_with_their_sequence_numbers(caplog: pytest.LogCaptureFixture) -> None:
    _, ledger, store = _system({"PL": 1})
    store.letters = [DeadLetter(INITIATIVE, "100000000000000000042", "event-1", "malformed statement key"),
                     DeadLetter("unknown", "", "sha256:0f1e", "no sequence number")]

    with caplog.at_level(logging.INFO):
        report = _repair(store, ledger)

    assert len(report.dead_letters) == 2
    assert caplog.messages[:3] == [
        "dead letter initiative=clean-rivers sequence=100000000000000000042 event=event-1 "
        "reason=malformed statement key",
        "dead letter initiative=unknown sequence=- event=sha256:0f1e reason=no sequence number",
        "dead letters initiative=clean-rivers total=2"]


def test_all_27_member_states_are_repaired_by_default() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    store = InMemoryRecountStore(ledger)
    for state in sorted(member_state_codes()):
        table.sign(state)
    for ref in table.live():
        store.store(ref, table.day_of(ref.statement_id), LONG_AGO)

    recount(INITIATIVE, store, ledger, now=lambda: NOW, today=_today)

    assert ledger.counts(INITIATIVE) == {state: 1 for state in member_state_codes()}
