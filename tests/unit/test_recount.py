"""The scheduled recount: what an operator reads in the logs, and when it corrects a counter."""

from __future__ import annotations

import logging

import pytest

from chalicelib.counting.ports import CounterReading, DeadLetter
from chalicelib.counting.recount import recount
from tests.fakes import InMemoryRecountStore

INITIATIVE = "clean-rivers"


def _store(statements: dict[str, int], counted: dict[str, int]) -> InMemoryRecountStore:
    store = InMemoryRecountStore()
    store.statements = {(INITIATIVE, state): number for state, number in statements.items()}
    store.readings = {(INITIATIVE, state): CounterReading(number, 7) for state, number in counted.items()}
    return store


def test_no_drift_logs_no_drift_and_changes_nothing(caplog: pytest.LogCaptureFixture) -> None:
    store = _store({"PL": 3, "DE": 1}, {"PL": 3, "DE": 1})

    with caplog.at_level(logging.INFO):
        report = recount(INITIATIVE, store, ["PL", "DE", "FR"])

    assert report.drifts == ()
    assert "count drift" not in caplog.text
    assert "recount initiative=clean-rivers: states=3 drifts=0 corrected=0 dead_letters=0" in caplog.text


def test_a_drift_is_logged_as_a_figure_and_corrected_when_the_next_recount_sees_it_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _store({"PL": 5, "DE": 2}, {"PL": 4, "DE": 2})

    with caplog.at_level(logging.INFO):
        first = recount(INITIATIVE, store, ["PL", "DE"])
        second = recount(INITIATIVE, store, ["PL", "DE"])

    assert caplog.text.count("count drift initiative=clean-rivers state=PL counted=4 recounted=5") == 2
    assert (first.corrected, second.corrected) == ((), ("PL",))
    assert store.readings[(INITIATIVE, "PL")] == CounterReading(5, 8)
    assert recount(INITIATIVE, store, ["PL", "DE"]).drifts == ()


def test_a_drift_that_is_only_the_stream_catching_up_is_never_corrected() -> None:
    store = _store({"PL": 5}, {"PL": 4})
    recount(INITIATIVE, store, ["PL"])
    store.add_to_counter(INITIATIVE, "PL", +1)  # the pending record arrives between two recounts

    report = recount(INITIATIVE, store, ["PL"])

    assert report.drifts == ()
    assert store.readings[(INITIATIVE, "PL")].signatories == 5


def test_no_correction_when_a_batch_lands_while_the_statements_are_counted() -> None:
    store = _store({"PL": 6}, {"PL": 4})
    recount(INITIATIVE, store, ["PL"])
    store.while_counting = lambda: store.add_to_counter(INITIATIVE, "PL", +1)

    report = recount(INITIATIVE, store, ["PL"])

    assert [drift.corrected for drift in report.drifts] == [False]
    assert store.readings[(INITIATIVE, "PL")].signatories == 5  # as the stream left it


def test_a_missing_counter_is_corrected_from_nothing() -> None:
    store = _store({"EE": 2}, {})

    recount(INITIATIVE, store, ["EE"])
    recount(INITIATIVE, store, ["EE"])

    assert store.readings[(INITIATIVE, "EE")] == CounterReading(2, 1)


def test_final_counts_are_reported_never_corrected(caplog: pytest.LogCaptureFixture) -> None:
    store = _store({"PL": 0}, {"PL": 9})  # the purge destroyed the statements after publication
    store.final.add(INITIATIVE)

    with caplog.at_level(logging.INFO):
        recount(INITIATIVE, store, ["PL"])
        report = recount(INITIATIVE, store, ["PL"])

    assert report.final and report.drifts == ()
    assert store.readings[(INITIATIVE, "PL")].signatories == 9
    assert "counts are final" in caplog.text


def test_dead_letters_are_listed_with_their_sequence_numbers(caplog: pytest.LogCaptureFixture) -> None:
    store = _store({}, {})
    store.letters = [DeadLetter(INITIATIVE, "1200", "e1", "malformed statement key"),
                     DeadLetter("unknown", "1300", "e2", "no partition key"),
                     DeadLetter("other", "1400", "e3", "no partition key")]

    with caplog.at_level(logging.INFO):
        report = recount(INITIATIVE, store, ["PL"])

    assert [letter.sequence_number for letter in report.dead_letters] == ["1200", "1300"]
    assert "dead letter initiative=clean-rivers sequence=1200 event=e1 reason=malformed statement key" in caplog.text
    assert "dead letters initiative=clean-rivers total=2" in caplog.text


def test_all_27_member_states_are_recounted_by_default() -> None:
    asked: list[str] = []

    class Recording(InMemoryRecountStore):
        def count_statements(self, initiative_id: str, member_state: str) -> int:
            asked.append(member_state)
            return super().count_statements(initiative_id, member_state)

    recount(INITIATIVE, Recording())

    assert len(set(asked)) == len(asked) == 27 and asked[:2] == ["BE", "BG"]
