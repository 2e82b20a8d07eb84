"""Each statement changes its count exactly once, however Lambda delivers, splits, discards or repeats records.

The first two tests are the schedules that counted twice under the earlier per-batch markers (issue #10,
findings 1 and 2); the rest are the scheme's other paths. The property-based model of the whole event
source mapping is tests/unit/test_counting_properties.py.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from chalicelib.counting.exactly_once import (
    _BUSY_PAUSE_SECONDS,
    MAX_BUSY_REFUSALS,
    DeliveryNotAppliedError,
    apply_delivery,
    count_stream_batch,
    count_stream_event,
)
from chalicelib.counting.ports import CountedState, LedgerRefusedError, StatementRef, transaction_items
from chalicelib.counting.stream_records import CountedChange, StreamRecord
from chalicelib.local.stream_events import lambda_stream_event, lambda_stream_record
from chalicelib.rules.member_states import member_state_codes
from tests.fakes import FaultyLedger, InMemoryCountLedger, ProcessDied
from tests.unit.stream_specimens import (
    INITIATIVE,
    OTHER_INITIATIVE,
    SIGNING_DAY,
    STREAM_ARN,
    MiniatureTable,
    parsed,
)

TODAY = date(2026, 11, 28)


def _ledger(max_items: int = 100) -> Any:
    return FaultyLedger(InMemoryCountLedger(max_items))


def _today() -> date:
    return TODAY


def _signatures(table: MiniatureTable, *states: str) -> list[StreamRecord]:
    return parsed([table.sign(state)[1] for state in states])


def _apply(records: list[StreamRecord], ledger: InMemoryCountLedger, max_items: int = 100) -> Any:
    return apply_delivery(records, ledger, _today, max_items, pause=lambda _: None)


def test_a_half_discarded_after_a_split_does_not_make_the_other_half_count_twice() -> None:
    """Finding 1: r1..r4 written, then a timeout; Lambda splits; r1..r2 fails until discarded; r3..r4 alone."""
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "PL", "DE", "DE")
    ledger.crash_at(1, after_write=True)  # the transaction commits, then the function times out
    with pytest.raises(ProcessDied):
        _apply(batch, ledger)

    ledger.busy_next(1000)  # the half r1..r2 is refused until Lambda discards it
    for _ in range(11):
        with pytest.raises(DeliveryNotAppliedError):
            _apply(batch[:2], ledger)
    ledger.busy_next(0)
    _apply(batch[2:], ledger)  # the half r3..r4, delivered alone

    assert ledger.counts(INITIATIVE) == {"PL": 2, "DE": 2}


def test_a_write_that_lands_after_its_sandbox_died_counts_nothing_twice() -> None:
    """Finding 2: a delivery's write is still in flight when its sandbox dies; a retry with other
    boundaries counts the same records; then the old write lands."""
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "DE", "FR", "MT")
    ledger.hold_next()
    with pytest.raises(ProcessDied):
        _apply(batch, ledger)
    _apply(batch[2:], ledger)  # a split half keyed elsewhere
    _apply(batch[:2], ledger)

    assert ledger.land_held() == 0  # refused: its statements are counted already
    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1, "FR": 1, "MT": 1}


def test_a_replayed_batch_counts_nothing_twice() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "PL", "DE")

    first = _apply(batch, ledger)
    second = _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 2, "DE": 1}
    assert (first.counted, second.counted, second.already) == (3, 0, 3)


def test_a_crash_after_the_write_then_the_same_batch_again_counts_once() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "DE", "DE")
    ledger.crash_at(1, after_write=True)

    with pytest.raises(ProcessDied):
        _apply(batch, ledger)
    _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 2}


def test_a_crash_before_the_write_leaves_nothing_and_the_redelivery_counts_all() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "DE")
    ledger.crash_at(1, after_write=False)

    with pytest.raises(ProcessDied):
        _apply(batch, ledger)
    assert ledger.counts(INITIATIVE) == {}
    _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1}


def test_of_two_concurrent_deliveries_of_one_batch_only_one_counts_each_statement() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL", "DE", "FR")
    ledger.before_next_apply = lambda: _apply(batch[1:], ledger)  # the other delivery writes first

    outcome = _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1, "FR": 1}
    assert (outcome.counted, outcome.already, outcome.refusals) == (1, 2, 1)


def test_counts_are_kept_per_signing_day_from_the_statement_id() -> None:
    table, ledger = MiniatureTable(), _ledger()
    records = [table.sign("PL", day=date(2026, 11, 30))[1], table.sign("PL", day=date(2026, 12, 1))[1],
               table.sign("DE", day=date(2026, 12, 1))[1]]

    _apply(parsed(records), ledger)

    assert ledger.daily_counts(INITIATIVE) == {"2026-11-30": {"PL": 1}, "2026-12-01": {"PL": 1, "DE": 1}}
    assert ledger.daily_counts(INITIATIVE) == table.daily_counts()


def test_an_id_without_a_day_counts_on_the_brussels_day_its_record_was_made() -> None:
    table, ledger = MiniatureTable(), _ledger()
    raw = table.raw("INSERT", "S#clean-rivers#PL#03", "1b4e28ba-2fa1-4d6b-a3ef-4b1d5c6e7f80")
    raw["dynamodb"]["ApproximateCreationDateTime"] = 1796166000  # 2026-12-01 23:00 UTC: 2 December in Brussels

    _apply(parsed([raw]), ledger)

    assert ledger.daily_counts(INITIATIVE) == {"2026-12-02": {"PL": 1}}


def test_a_record_that_tells_no_day_at_all_counts_on_todays_brussels_day() -> None:
    table, ledger = MiniatureTable(), _ledger()
    raw = table.raw("INSERT", "S#clean-rivers#PL#03", "1b4e28ba-2fa1-4d6b-a3ef-4b1d5c6e7f80")
    raw["dynamodb"].pop("ApproximateCreationDateTime", None)

    count_stream_event(lambda_stream_event([raw], STREAM_ARN), ledger, _today)
    other = table.raw("INSERT", "S#clean-rivers#DE#04", "2c5f39cb-3fb2-4e7c-b4f0-5c2e6d7f8091")
    other["dynamodb"].pop("ApproximateCreationDateTime", None)
    count_stream_batch(lambda_stream_event([other], STREAM_ARN), ledger, True, _today)

    assert ledger.daily_counts(INITIATIVE) == {TODAY.isoformat(): {"PL": 1, "DE": 1}}


def test_an_organisers_removal_lowers_the_total_and_the_day_it_was_counted_under() -> None:
    table, ledger = MiniatureTable(), _ledger()
    first, insert = table.sign("PL", day=date(2026, 11, 30))
    _, other = table.sign("PL", day=date(2026, 12, 1))
    _apply(parsed([insert, other]), ledger)

    _apply(parsed([table.remove(first)]), ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1}
    assert ledger.daily_counts(INITIATIVE) == {"2026-12-01": {"PL": 1}}


def test_a_removal_seen_before_its_insert_keeps_the_insert_from_ever_counting() -> None:
    """The insert's batch was discarded (or is late); the removal comes first; then the insert again."""
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("DE")
    removal = table.remove(statement)

    buried = _apply(parsed([removal]), ledger)
    late = _apply(parsed([insert]), ledger)

    assert ledger.counts(INITIATIVE) == {}
    assert (buried.buried, late.counted, late.already) == (1, 0, 1)


def test_a_signature_and_its_removal_in_one_batch_change_nothing_and_cannot_count_later() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("FR")
    removal = table.remove(statement)

    _apply(parsed([insert, removal]), ledger)
    _apply(parsed([insert]), ledger)  # a zombie or a replay of the insert alone

    assert ledger.counts(INITIATIVE) == {}


def test_a_removal_replayed_takes_one_off_only_once() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    _, other = table.sign("PL")
    _apply(parsed([insert, other]), ledger)
    removal = parsed([table.remove(statement)])

    _apply(removal, ledger)
    _apply(removal, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1}


def test_two_concurrent_removals_of_one_statement_take_one_off() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    _apply(parsed([insert, table.sign("PL")[1]]), ledger)
    removal = parsed([table.remove(statement)])
    ledger.before_next_apply = lambda: _apply(removal, ledger)

    _apply(removal, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1}


def test_after_the_counts_are_final_nothing_changes_them_and_ttl_removals_never_do() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    other, second = table.sign("PL")
    _apply(parsed([insert, second]), ledger)
    ledger.final.add(INITIATIVE)

    outcome = _apply(parsed([table.remove(statement), table.remove(other, by_ttl=True),
                             table.sign("PL")[1]]), ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 2}
    assert (outcome.kept_final, outcome.ignored) == (2, 1)
    # The purge destroyed the statement: its counted record goes too, the count stays.
    assert [ref.statement_id for ref in ledger.records] == [other]


def test_counts_made_final_between_read_and_write_refuse_the_write_and_change_nothing() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    _apply(parsed([insert]), ledger)
    ledger.before_next_apply = lambda: ledger.final.add(INITIATIVE)

    outcome = _apply(parsed([table.remove(statement)]), ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1}
    assert (outcome.refusals, outcome.kept_final, outcome.uncounted) == (1, 1, 0)


def test_a_final_initiative_in_the_batch_leaves_the_other_initiatives_counting() -> None:
    table, ledger = MiniatureTable(), _ledger()
    ledger.final.add(OTHER_INITIATIVE)

    _apply(parsed([table.sign("PL", OTHER_INITIATIVE)[1], table.sign("PL")[1]]), ledger)

    assert (ledger.counts(INITIATIVE), ledger.counts(OTHER_INITIATIVE)) == ({"PL": 1}, {})


def test_two_initiatives_made_final_one_after_the_other_during_a_delivery_end_it_unchanged() -> None:
    """Each refusal names the initiative it found final; the delivery must remember both, not only the last."""
    table, ledger = MiniatureTable(), _ledger()
    ledger.final.add(OTHER_INITIATIVE)
    batch = parsed([table.sign("PL", OTHER_INITIATIVE)[1], table.sign("PL")[1]])
    # After the first refusal (OTHER is final), this initiative's counts become final too.
    ledger.before_next_apply = lambda: setattr(ledger, "before_next_apply",
                                               lambda: ledger.final.add(INITIATIVE))
    applied = ledger.apply
    attempts: list[object] = []

    def at_most_ten(transaction: object) -> None:
        attempts.append(transaction)
        assert len(attempts) <= 10, "the delivery keeps retrying"
        applied(transaction)

    ledger.apply = at_most_ten

    outcome = _apply(batch, ledger)

    assert (ledger.counts(INITIATIVE), ledger.counts(OTHER_INITIATIVE)) == ({}, {})
    assert (outcome.kept_final, outcome.counted) == (2, 0)


def test_an_operator_reads_each_dead_letters_sequence_event_and_reason(caplog: pytest.LogCaptureFixture) -> None:
    table = MiniatureTable()
    poison = lambda_stream_record(table.raw("INSERT", "S#clean-rivers#PL#99"), STREAM_ARN)
    no_sequence = {**poison, "eventID": "event-2", "dynamodb": {**poison["dynamodb"], "SequenceNumber": ""}}
    caplog.set_level("WARNING")

    count_stream_event(lambda_stream_event([poison, no_sequence], STREAM_ARN), _ledger(), _today)

    assert caplog.messages[:2] == [
        f"dead letter: sequence={poison['dynamodb']['SequenceNumber']} event={poison['eventID']} "
        "reason=malformed statement key",
        "dead letter: sequence=- event=event-2 reason=no sequence number"]


def test_a_refusal_says_why_in_its_fields_and_its_message() -> None:
    ref = StatementRef(INITIATIVE, "PL", 3, "statement-1")
    moved = LedgerRefusedError(moved=[ref])
    busy = LedgerRefusedError(busy=True)

    assert (moved.moved, moved.became_final, moved.busy) == ({ref}, frozenset(), False)
    assert str(moved) == "refused: 1 statements moved, 0 final, busy=False"
    assert busy.busy is True and str(busy) == "refused: 0 statements moved, 0 final, busy=True"


def test_a_poison_record_is_dead_lettered_once_and_the_rest_of_the_batch_counts() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = parsed([table.sign("PL")[1], table.raw("INSERT", "S#clean-rivers#PL#99"), table.sign("DE")[1]])

    _apply(batch, ledger)
    _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1}
    assert len(ledger.dead_letters) == 1


def test_a_burst_of_poison_records_is_dead_lettered_once_each_in_transactions_within_the_limit() -> None:
    table, ledger = MiniatureTable(), _ledger(5)
    poison = parsed([table.raw("INSERT", f"S#clean-rivers#PL#{90 + index}") for index in range(10)])

    outcome = apply_delivery(poison, ledger, _today, max_items=5)

    assert (outcome.transactions, len(outcome.dead_letters)) == (2, 10)
    assert len(ledger.dead_letters) == 10


def test_after_the_purge_each_removed_statements_record_goes_once_within_the_limit_and_inserts_write_nothing(
) -> None:
    table, ledger = MiniatureTable(), _ledger(5)
    signed = [table.sign("PL") for _ in range(10)]
    _apply(parsed([record for _, record in signed]), ledger, max_items=5)
    ledger.final.add(INITIATIVE)

    late_inserts = _apply(parsed([record for _, record in signed]), ledger, max_items=5)
    purge = _apply(parsed([table.remove(statement) for statement, _ in signed]), ledger, max_items=5)

    assert (late_inserts.transactions, late_inserts.kept_final) == (0, 10)
    assert (purge.transactions, purge.kept_final) == (2, 10)
    assert ledger.records == {} and ledger.counts(INITIATIVE) == {"PL": 10}


def test_a_transaction_of_four_items_is_enough_to_count_a_statement() -> None:
    """The statement's record, the totals, the day and the final check: the smallest limit that works."""
    table, ledger = MiniatureTable(), _ledger(4)

    apply_delivery(_signatures(table, "PL", "DE"), ledger, _today, max_items=4)

    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1}


def test_markers_and_modifications_change_no_count() -> None:
    table, ledger = MiniatureTable(), _ledger()
    outcome = _apply(parsed([table.duplicate_marker(), table.raw("MODIFY", "S#clean-rivers#PL#03", "a")]), ledger)

    assert (ledger.counts(INITIATIVE), outcome.ignored, ledger.transactions) == ({}, 2, 0)


def test_a_batch_of_a_thousand_records_is_eleven_transactions_and_no_read() -> None:
    table, ledger = MiniatureTable(), _ledger()
    states = sorted(member_state_codes())
    batch = _signatures(table, *(states[index % 27] for index in range(1000)))

    outcome = _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == table.counts()
    assert (ledger.reads, outcome.transactions) == (0, 11)


def test_removals_are_read_once_per_batch_to_learn_their_day() -> None:
    table, ledger = MiniatureTable(), _ledger()
    ids = [table.sign("PL") for _ in range(5)]
    _apply(parsed([record for _, record in ids]), ledger)

    _apply(parsed([table.remove(statement) for statement, _ in ids[:3]]), ledger)

    assert (ledger.reads, ledger.counts(INITIATIVE)) == (1, {"PL": 2})


def test_no_transaction_holds_more_items_than_dynamodb_allows() -> None:
    table, ledger = MiniatureTable(), _ledger(7)
    states = sorted(member_state_codes())
    batch = parsed([table.sign(states[i % 27], day=date(2026, 11, 1 + i % 5))[1] for i in range(60)])

    _apply(batch, ledger, max_items=7)  # the fake refuses a transaction over its limit

    assert ledger.counts(INITIATIVE) == table.counts()
    assert ledger.daily_counts(INITIATIVE) == table.daily_counts()


def test_contention_that_outlasts_the_retries_reports_the_batch_as_not_applied() -> None:
    table, ledger = MiniatureTable(), _ledger()
    batch = _signatures(table, "PL")
    ledger.busy_next(MAX_BUSY_REFUSALS)

    with pytest.raises(DeliveryNotAppliedError) as raised:
        _apply(batch, ledger)
    assert isinstance(raised.value.cause, LedgerRefusedError) and raised.value.cause.busy
    _apply(batch, ledger)

    assert ledger.counts(INITIATIVE) == {"PL": 1}


def test_transaction_items_count_statements_counters_dead_letters_and_final_checks() -> None:
    from chalicelib.counting.ports import CountTransaction

    refs = [StatementRef(INITIATIVE, "PL", 1, f"id{i}") for i in range(3)]
    transaction = CountTransaction(count=((refs[0], SIGNING_DAY), (refs[1], TODAY)), uncount=((refs[2], TODAY),),
                                   not_final=frozenset({INITIATIVE}))

    # 3 statements + the totals item + one day item (today's +1 and -1 cancel: no item) + the final check
    assert transaction_items(transaction) == 3 + 1 + 1 + 1
    assert transaction.totals == {(INITIATIVE, "PL"): 1}


def test_a_write_of_withdrawals_purged_records_and_dead_letters_only_is_made_with_one_item_each() -> None:
    """Nothing counted, yet each is a Put or Delete: none may be dropped as an empty transaction, and the
    100-item limit must see them all."""
    from chalicelib.counting.ports import CountTransaction
    from chalicelib.counting.stream_records import PoisonRecord

    refs = [StatementRef(INITIATIVE, "PL", 1, f"id{i}") for i in range(3)]
    poison = PoisonRecord("event-9", "9".zfill(40), None, "malformed statement key", "INSERT", "S#?")
    transaction = CountTransaction(bury=((refs[0], None),), forget=(refs[1], refs[2]), dead_letters=(poison,))

    assert transaction_items(transaction) == 1 + 2 + 1


# --- what the count function answers Lambda (ReportBatchItemFailures on the stream mapping) -----------


def _redelivery_after(response: dict[str, list[dict[str, str]]], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Lambda delivers next: the records from the sequence number the response names."""
    named = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    sequences = [record["dynamodb"]["SequenceNumber"] for record in raw]
    return raw[min(sequences.index(sequence) for sequence in named):]


def _thirty_signatures(table: MiniatureTable) -> list[dict[str, Any]]:
    states = sorted(member_state_codes())
    return [table.sign(states[index % 10])[1] for index in range(30)]


def test_a_batch_that_fully_counts_answers_lambda_with_no_failures() -> None:
    table, ledger = MiniatureTable(), _ledger()
    raw = [table.sign("PL")[1], table.sign("DE")[1]]

    response = count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, _today)

    assert response == {"batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == {"PL": 1, "DE": 1}


def test_a_batch_failing_half_way_is_reported_from_its_first_unapplied_record_and_the_retry_counts_each_once(
) -> None:
    table, ledger = MiniatureTable(), _ledger(5)
    raw = _thirty_signatures(table)
    ledger.fail_at(2)  # DynamoDB unreachable for the second piece

    response = count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, _today, max_items=5)
    retry = _redelivery_after(response, raw)
    again = count_stream_batch(lambda_stream_event(retry, STREAM_ARN), ledger, True, _today, max_items=5)

    # A piece holds 2 statements (with the totals item, the day's item and the final check: 5 items).
    first_piece = 2
    assert response == {"batchItemFailures": [{"itemIdentifier": raw[first_piece]["dynamodb"]["SequenceNumber"]}]}
    assert again == {"batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == table.counts()


def test_an_operator_reads_which_record_a_failed_batch_resumes_from_and_why_never_what_it_holds(
        caplog: pytest.LogCaptureFixture) -> None:
    table, ledger = MiniatureTable(), _ledger(5)
    raw = _thirty_signatures(table)
    resumes_from = raw[2]["dynamodb"]["SequenceNumber"]
    caplog.set_level("WARNING")

    ledger.fail_at(2)
    count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, _today, max_items=5)
    ledger.fail_at(1)
    with pytest.raises(DeliveryNotAppliedError) as raised:
        count_stream_batch(lambda_stream_event(raw[2:], STREAM_ARN), ledger, False, _today, max_items=5)

    assert (f"stream batch partly applied (ConnectionError): Lambda delivers it again from sequence={resumes_from}"
            in caplog.messages)
    assert str(raised.value) == f"not applied from sequence {resumes_from}: ConnectionError"
    assert isinstance(raised.value.cause, ConnectionError)


def test_where_the_mapping_takes_no_partial_batch_responses_a_failed_batch_raises() -> None:
    """A mapping without ReportBatchItemFailures (a plain `chalice deploy`) takes any answer for success."""
    table, ledger = MiniatureTable(), _ledger(5)
    raw = _thirty_signatures(table)
    ledger.fail_at(2)

    with pytest.raises(DeliveryNotAppliedError):
        count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, False, _today, max_items=5)
    assert count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, False, _today, max_items=5) == {
        "batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == table.counts()


def test_the_log_line_of_a_batch_holds_numbers_only(caplog: pytest.LogCaptureFixture) -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    caplog.set_level("INFO")

    count_stream_event(lambda_stream_event([insert], STREAM_ARN), ledger, _today)

    assert caplog.messages == ["stream batch: records=1 counted=1 uncounted=0 buried=0 already=0 ignored=0 "
                               "kept_final=0 dead_letters=0 transactions=1 refusals=0"]
    assert statement not in caplog.text
    assert ledger.records[next(iter(ledger.records))].state is CountedState.COUNTED


@pytest.mark.parametrize("after_write", [True, False], ids=["response-lost", "nothing-written"])
def test_a_function_that_dies_mid_batch_is_delivered_whole_again_and_counts_each_once(after_write: bool) -> None:
    """A process that dies answers nothing: Lambda sees a function error and delivers the batch again."""
    table, ledger = MiniatureTable(), _ledger(5)
    raw = _thirty_signatures(table)
    ledger.crash_at(2, after_write=after_write)

    with pytest.raises(ProcessDied):
        count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, _today, max_items=5)
    again = count_stream_batch(lambda_stream_event(raw, STREAM_ARN), ledger, True, _today, max_items=5)

    assert again == {"batchItemFailures": []}
    assert ledger.counts(INITIATIVE) == table.counts()


def test_the_operator_reads_late_statements_of_final_counts_as_kept_final_not_as_already_counted(
        caplog: pytest.LogCaptureFixture) -> None:
    table, ledger = MiniatureTable(), _ledger()
    signed = [table.sign("PL")[1] for _ in range(3)]
    _apply(parsed(signed), ledger)
    ledger.final.add(INITIATIVE)
    caplog.set_level("INFO")

    count_stream_event(lambda_stream_event(signed, STREAM_ARN), ledger, _today)

    assert caplog.messages == ["stream batch: records=3 counted=0 uncounted=0 buried=0 already=0 ignored=0 "
                               "kept_final=3 dead_letters=0 transactions=0 refusals=1"]  # the refusal says final


def test_a_redelivery_mixing_counted_and_new_statements_writes_the_new_ones_in_one_transaction() -> None:
    """Each transaction is a DynamoDB write billed on every item: statements already counted are left out,
    not a reason to start another transaction."""
    table, ledger = MiniatureTable(), _ledger()
    first, second, third, fourth = (table.sign("PL")[1] for _ in range(4))
    _apply(parsed([first, third]), ledger)

    outcome = _apply(parsed([first, second, third, fourth]), ledger)

    assert (outcome.refusals, outcome.transactions, outcome.counted, outcome.already) == (1, 1, 2, 2)
    assert ledger.counts(INITIATIVE) == {"PL": 4}


def test_removals_delivered_again_amid_new_statements_change_nothing_and_the_new_ones_count_in_one_write() -> None:
    table, ledger = MiniatureTable(), _ledger()
    (gone, first_insert), (also_gone, second_insert) = table.sign("PL"), table.sign("PL")
    _apply(parsed([first_insert, second_insert]), ledger)
    removals = [table.remove(gone), table.remove(also_gone)]
    _apply(parsed(removals), ledger)
    new, newer = table.sign("PL")[1], table.sign("PL")[1]

    outcome = _apply(parsed([new, *removals, newer]), ledger)  # the removals' batch, delivered again, and more

    assert (outcome.refusals, outcome.transactions, outcome.counted, outcome.uncounted, outcome.already) == (
        0, 1, 2, 0, 2)
    assert ledger.counts(INITIATIVE) == {"PL": 2}


def test_withdrawals_that_arrive_before_their_statements_were_counted_fill_each_write_to_the_limit() -> None:
    """The statement's insert record is still to come (another shard, a later batch): the removal leaves a
    record that keeps it from ever counting. Five fit a transaction of five items; a sixth takes another."""
    table, ledger = MiniatureTable(), _ledger(5)
    signed = [table.sign("PL") for _ in range(11)]
    five = parsed([table.remove(statement) for statement, _ in signed[:5]])
    six = parsed([table.remove(statement) for statement, _ in signed[5:]])

    assert _apply(five, ledger, max_items=5).transactions == 1
    sixth_taken_apart = _apply(six, ledger, max_items=5)
    assert (sixth_taken_apart.transactions, sixth_taken_apart.buried, sixth_taken_apart.refusals) == (2, 6, 0)
    outcome = _apply(parsed([insert for _, insert in signed]), ledger, max_items=5)

    assert (outcome.counted, outcome.already) == (0, 11)
    assert ledger.counts(INITIATIVE) == {}


def test_a_statement_without_a_day_in_its_id_is_taken_off_the_day_it_was_counted() -> None:
    """An older statement id carries no day: the insert's day is the day its record was made; the removal,
    made days later, must take it off that day, not off the removal's."""
    ledger = _ledger()
    counted_on, removed_on = date(2026, 11, 20), date(2026, 11, 27)
    change = CountedChange("e1", "1".zfill(40), INITIATIVE, "PL", 1, "old-id", 3, counted_on)
    _apply([change], ledger)

    _apply([dataclasses.replace(change, record_id="e2", sequence_number="2".zfill(40), delta=-1, day=removed_on)],
           ledger)

    assert ledger.daily_counts(INITIATIVE) == {}  # nothing left on either day, nothing below zero


def test_a_removal_delivered_again_before_a_full_write_leaves_no_statement_after_it_uncounted() -> None:
    table, ledger = MiniatureTable(), _ledger(5)
    gone, insert = table.sign("PL")
    _apply(parsed([insert]), ledger, max_items=5)
    removal = table.remove(gone)
    _apply(parsed([removal]), ledger, max_items=5)
    new = [table.sign("PL")[1] for _ in range(3)]

    # Statement, totals, day and final check: the removal's skip and two statements fill the first write.
    outcome = _apply(parsed([removal, *new]), ledger, max_items=5)

    assert (outcome.transactions, outcome.counted, outcome.already) == (2, 3, 1)
    assert ledger.counts(INITIATIVE) == {"PL": 3}


def test_the_figures_of_a_batch_written_in_several_transactions_add_up_every_write() -> None:
    """What the batch's log line reports (count_stream_event prints these figures)."""
    table, ledger = MiniatureTable(), _ledger(5)
    signed = [table.sign("PL") for _ in range(4)]
    _apply(parsed([insert for _, insert in signed]), ledger, max_items=5)
    removed = [table.remove(statement) for statement, _ in signed[:2]]
    _apply(parsed(removed), ledger, max_items=5)
    new = [table.sign("PL")[1] for _ in range(4)]
    withdrawn_early = [table.remove(table.sign("PL")[0]) for _ in range(6)]
    batch = [removed[0], *new[:3], removed[1], new[3], *(table.remove(statement) for statement, _ in signed[2:]),
             *withdrawn_early]

    outcome = _apply(parsed(batch), ledger, max_items=5)

    assert (outcome.counted, outcome.uncounted, outcome.buried, outcome.already) == (4, 2, 6, 2)
    assert outcome.transactions > 2 and ledger.counts(INITIATIVE) == {"PL": 4}


def test_a_statement_whose_insert_appears_twice_in_one_batch_counts_once() -> None:
    """Lambda does not repeat a record within a batch; a sender replaying one must not make it a removal."""
    table, ledger = MiniatureTable(), _ledger()
    insert = parsed([table.sign("PL")[1]])[0]

    outcome = _apply([insert, insert], ledger)

    assert (outcome.counted, outcome.buried) == (1, 0)
    assert ledger.counts(INITIATIVE) == {"PL": 1}


def test_a_batch_whose_first_read_fails_is_reported_from_its_first_record_with_the_cause() -> None:
    """Removals need their counted records first: when AWS fails that read, nothing is applied, and the
    operator reads the batch resumes from its first record, and why."""
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    _apply(parsed([insert]), ledger)
    batch = parsed([table.remove(statement)])

    def unavailable(_: object) -> None:
        raise ConnectionError("DynamoDB unavailable")

    ledger.counted = unavailable
    with pytest.raises(DeliveryNotAppliedError) as raised:
        _apply(batch, ledger)

    assert str(raised.value) == f"not applied from sequence {batch[0].sequence_number}: ConnectionError"
    assert isinstance(raised.value.cause, ConnectionError)
    assert raised.value.first_unapplied == batch[0].sequence_number


def test_contention_short_of_the_limit_is_waited_out_longer_each_time_and_the_batch_counts() -> None:
    table, ledger = MiniatureTable(), _ledger()
    ledger.busy_next(MAX_BUSY_REFUSALS - 1)
    pauses: list[float] = []

    outcome = apply_delivery(_signatures(table, "PL"), ledger, _today, pause=pauses.append)

    assert outcome.refusals == MAX_BUSY_REFUSALS - 1
    assert pauses == [_BUSY_PAUSE_SECONDS * attempt for attempt in range(1, MAX_BUSY_REFUSALS)]
    assert ledger.counts(INITIATIVE) == {"PL": 1}


def test_contention_counts_again_from_zero_after_a_refusal_that_taught_something() -> None:
    """A refusal saying a statement moved is progress, not contention: the patience starts again."""
    table, ledger = MiniatureTable(), _ledger()
    first, second = table.sign("PL")[1], table.sign("PL")[1]
    applied = ledger.apply
    attempts = 0

    def contended(transaction: object) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == MAX_BUSY_REFUSALS:
            _apply(parsed([first]), ledger.inner)  # another delivery counts it meanwhile: this one is refused
        elif attempts < 2 * MAX_BUSY_REFUSALS:
            raise LedgerRefusedError(busy=True)
        applied(transaction)

    ledger.apply = contended
    outcome = _apply(parsed([first, second]), ledger)

    assert (outcome.refusals, outcome.counted, outcome.already) == (2 * MAX_BUSY_REFUSALS - 1, 1, 1)
    assert ledger.counts(INITIATIVE) == {"PL": 2}


def test_a_batch_whose_read_after_a_refusal_fails_is_reported_from_its_first_record_with_the_cause() -> None:
    table, ledger = MiniatureTable(), _ledger()
    statement, insert = table.sign("PL")
    _apply(parsed([insert]), ledger)
    batch = parsed([table.remove(statement), table.sign("PL")[1]])
    reads = [ledger.counted]

    def first_read_only(refs: Any) -> Any:
        if len(reads) > 1:
            raise ConnectionError("DynamoDB unavailable")
        reads.append(refs)
        return reads[0](refs)

    ledger.counted = first_read_only
    ledger.before_next_apply = lambda: _apply(batch[:1], ledger.inner)  # another delivery removes it first

    with pytest.raises(DeliveryNotAppliedError) as raised:
        _apply(batch, ledger)

    assert str(raised.value) == f"not applied from sequence {batch[0].sequence_number}: ConnectionError"
    assert isinstance(raised.value.cause, ConnectionError)
    assert ledger.counts(INITIATIVE) == {}
