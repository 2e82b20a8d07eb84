"""Each statement changes its count exactly once, however Lambda delivers, redelivers or splits the stream."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.counting.exactly_once import (
    MAX_CONFLICTS,
    apply_delivery,
    count_stream_batch,
    count_stream_event,
    plan_delivery,
)
from chalicelib.counting.ports import AppliedRun, LedgerConflictError
from chalicelib.counting.stream_records import StreamRecord
from chalicelib.local.stream_events import lambda_stream_event
from chalicelib.rules.member_states import member_state_codes
from tests.fakes import InMemoryCountLedger, SimulatedCrash
from tests.unit.stream_specimens import INITIATIVE, OTHER_INITIATIVE, STREAM_ARN, MiniatureTable, parsed


def _signatures(table: MiniatureTable, *states: str) -> list[StreamRecord]:
    return parsed([table.sign(state)[1] for state in states])


def test_a_replayed_batch_counts_nothing_twice() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    batch = _signatures(table, "PL", "PL", "DE")

    apply_delivery(batch, ledger)
    replay = apply_delivery(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 2, "DE": 1}
    assert (replay.applied, replay.already_applied, replay.transactions) == (0, 3, 0)


def test_a_crash_after_the_write_then_the_same_batch_again_counts_once() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    batch = _signatures(table, "FR", "FR", "IT")
    ledger.crash_at(1, after_write=True)

    with pytest.raises(SimulatedCrash):
        apply_delivery(batch, ledger)
    apply_delivery(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"FR": 2, "IT": 1}


def test_a_crash_before_the_write_leaves_nothing_and_the_redelivery_counts_all() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    batch = _signatures(table, "FR", "IT")
    ledger.crash_at(1, after_write=False)

    with pytest.raises(SimulatedCrash):
        apply_delivery(batch, ledger)
    assert ledger.counts(INITIATIVE) == {}
    apply_delivery(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"FR": 1, "IT": 1}


def test_a_redelivery_with_more_records_counts_only_the_new_ones() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    records = _signatures(table, "PL", "PL", "PL", "DE", "DE")
    ledger.crash_at(1, after_write=True)

    with pytest.raises(SimulatedCrash):
        apply_delivery(records[:3], ledger)
    outcome = apply_delivery(records, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 3, "DE": 2}
    assert (outcome.already_applied, outcome.applied) == (3, 2)


def test_a_shorter_redelivery_leaves_a_continuation_so_the_next_batch_skips_what_was_counted() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    records = _signatures(table, "PL", "DE", "FR", "IT", "ES", "PT")
    ledger.crash_at(1, after_write=True)

    with pytest.raises(SimulatedCrash):
        apply_delivery(records[:4], ledger)  # PL DE FR IT written, then the crash
    shorter = apply_delivery(records[:2], ledger)  # Lambda retries PL DE only, succeeds, moves on to FR
    apply_delivery(records[2:], ledger)

    assert shorter.continued
    assert ledger.counts(INITIATIVE) == dict.fromkeys(["PL", "DE", "FR", "IT", "ES", "PT"], 1)


def test_two_shards_interleaved_count_every_statement_once() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    shard_one = _signatures(table, "PL", "PL", "DE", "DE")
    shard_two = _signatures(table, "PL", "AT", "AT")

    apply_delivery(shard_one[:2], ledger)
    apply_delivery(shard_two[:1], ledger)
    apply_delivery(shard_one[2:], ledger)
    apply_delivery(shard_two[:1], ledger)  # shard two's first batch again
    apply_delivery(shard_two[1:], ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 3, "DE": 2, "AT": 2}


def test_of_two_concurrent_deliveries_of_one_batch_only_one_writes() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    batch = _signatures(table, "SE", "SE", "FI")
    ledger.before_next_apply = lambda: apply_delivery(batch, ledger)  # the other one writes first

    outcome = apply_delivery(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"SE": 2, "FI": 1}
    assert (ledger.transactions, ledger.refused, outcome.conflicts) == (1, 1, 1)


def test_organisers_removals_lower_the_count_in_the_same_batch_as_signatures() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    first, insert = table.sign("NL")
    _, second = table.sign("NL")
    apply_delivery(parsed([insert, second]), ledger)

    apply_delivery(parsed([table.remove(first), table.sign("BE")[1]]), ledger)

    assert ledger.counts(INITIATIVE) == {"NL": 1, "BE": 1}


def test_removals_after_the_counts_are_final_change_nothing_and_ttl_removals_never_do() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    signed = [table.sign("LU") for _ in range(3)]
    apply_delivery(parsed([insert for _, insert in signed]), ledger)

    apply_delivery(parsed([table.remove(signed[0][0], by_ttl=True)]), ledger)
    ledger.final.add(INITIATIVE)
    outcome = apply_delivery(parsed([table.remove(signed[1][0])]), ledger)

    assert ledger.counts(INITIATIVE) == {"LU": 3}
    assert outcome.kept_final == 1


def test_a_removal_meeting_counts_made_final_meanwhile_is_refused_and_changes_nothing() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    statement, insert = table.sign("MT")
    apply_delivery(parsed([insert]), ledger)
    ledger.before_next_apply = lambda: ledger.final.add(INITIATIVE)  # the purge publishes the final counts

    outcome = apply_delivery(parsed([table.remove(statement)]), ledger)

    assert ledger.counts(INITIATIVE) == {"MT": 1}
    assert (outcome.conflicts, outcome.kept_final) == (1, 1)


def test_a_poison_record_is_dead_lettered_once_and_the_rest_of_the_batch_counts() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    raw = [table.sign("CZ")[1], table.raw("INSERT", "S#clean-rivers#CZ#99"), table.sign("CZ")[1]]
    batch = parsed(raw)

    first = count_stream_event(lambda_stream_event(raw, STREAM_ARN), ledger)
    apply_delivery(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"CZ": 2}
    assert [poison.sequence_number for poison in ledger.dead_letters.values()] == [
        raw[1]["dynamodb"]["SequenceNumber"]
    ]
    assert len(first.dead_letters) == 1


def test_one_batch_of_a_thousand_records_is_one_read_and_one_transaction() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    states = sorted(member_state_codes())
    records = parsed([table.sign(states[index % 27], (INITIATIVE, OTHER_INITIATIVE)[index % 2])[1]
                      for index in range(1000)])

    outcome = apply_delivery(records, ledger)

    assert (ledger.reads, ledger.transactions, outcome.transactions) == (1, 1, 1)
    assert sum(ledger.counters.values()) == 1000


def test_a_batch_touching_more_counters_than_a_transaction_holds_is_split_and_survives_a_crash_between() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger(max_items=5)
    states = sorted(member_state_codes())
    records = parsed([table.sign(states[index % 10])[1] for index in range(30)])
    ledger.crash_at(2, after_write=True)  # the second piece is written, then the process dies

    with pytest.raises(SimulatedCrash):
        apply_delivery(records, ledger, max_items=5)
    apply_delivery(records[:7], ledger, max_items=5)  # a shorter redelivery
    apply_delivery(records[7:], ledger, max_items=5)

    assert ledger.counts(INITIATIVE) == table.counts()


def test_repeated_refusals_end_in_an_error_so_lambda_delivers_again() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    batch = _signatures(table, "HU")

    class AlwaysMoved(InMemoryCountLedger):
        def apply(self, transaction: object) -> None:
            raise LedgerConflictError("moved")

    with pytest.raises(LedgerConflictError):
        apply_delivery(batch, AlwaysMoved())
    assert MAX_CONFLICTS > 1 and ledger.counts(INITIATIVE) == {}


def test_a_delivery_inside_an_applied_run_plans_a_continuation_at_the_next_record() -> None:
    records = _signatures(MiniatureTable(), "PL", "PL", "PL")
    ids = tuple(record.record_id for record in records)

    plan = plan_delivery(records[:1], AppliedRun(ids, 1))

    assert plan.new == () and plan.continuation == (ids[1], ids[1:])
    assert plan_delivery(records, AppliedRun(ids, 1)).continuation is None


# --- what the count function answers Lambda (ReportBatchItemFailures on the stream mapping) -----------


def _redelivery_after(response: dict[str, list[dict[str, str]]], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Lambda delivers next: the records from the lowest sequence number the response names."""
    named = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    sequences = [record["dynamodb"]["SequenceNumber"] for record in raw]
    return raw[min(sequences.index(sequence) for sequence in named):]


def _thirty_signatures(table: MiniatureTable) -> list[dict[str, Any]]:
    states = sorted(member_state_codes())
    return [table.sign(states[index % 10])[1] for index in range(30)]


def test_a_batch_that_fully_counts_answers_lambda_with_no_failures() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger()
    raw = [table.sign("PL")[1], table.sign("DE")[1]]

    response = count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True)

    assert response == {"batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1}


@pytest.mark.parametrize("after_write", [True, False], ids=["response-lost", "nothing-written"])
def test_a_batch_failing_half_way_is_reported_from_its_first_record_and_the_retry_counts_each_once(
    after_write: bool,
) -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger(max_items=5)
    raw = _thirty_signatures(table)
    ledger.crash_at(2, after_write=after_write)  # the second piece fails: written or not, the caller can't tell

    response = count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, max_items=5)
    retry = _redelivery_after(response, raw)
    again = count_stream_batch(lambda_stream_event(retry, STREAM_ARN), ledger, True, max_items=5)

    # The first record, not the failed piece's: the retry then has the same key and finds the marker.
    assert response == {"batchItemFailures": [{"itemIdentifier": raw[0]["dynamodb"]["SequenceNumber"]}]}
    assert again == {"batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == table.counts()


def test_a_batch_bisected_after_a_timeout_counts_each_statement_once() -> None:
    table, ledger = MiniatureTable(), InMemoryCountLedger(max_items=5)
    raw = _thirty_signatures(table)
    ledger.crash_at(3, after_write=True)  # three pieces written, then the function times out

    with pytest.raises(SimulatedCrash):
        apply_delivery(parsed(raw), ledger, max_items=5)
    # BisectBatchOnFunctionError: the first half, itself split again, then the second half.
    responses = [count_stream_batch(lambda_stream_event(part, STREAM_ARN), ledger, True, max_items=5)
                 for part in (raw[:7], raw[7:15], raw[15:])]

    assert all(response == {"batchItemFailures": []} for response in responses)
    assert ledger.counts(INITIATIVE) == table.counts()


def test_where_the_mapping_takes_no_partial_batch_responses_a_failed_batch_raises() -> None:
    """A mapping without ReportBatchItemFailures (a plain `chalice deploy`) takes any answer for success."""
    table, ledger = MiniatureTable(), InMemoryCountLedger(max_items=5)
    raw = _thirty_signatures(table)
    ledger.crash_at(2, after_write=False)

    with pytest.raises(SimulatedCrash):
        count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, False, max_items=5)
    assert count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, False, max_items=5) == {
        "batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == table.counts()
