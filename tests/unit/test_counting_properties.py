"""A model of Lambda's event source mapping for DynamoDB streams, driving the real count handler and ledger.

The failure model, as AWS documents the mapping (Lambda developer guide, "Using Lambda with DynamoDB";
the mapping's BisectBatchOnFunctionError, MaximumRetryAttempts, MaximumRecordAgeInSeconds,
FunctionResponseTypes and DestinationConfig settings) and as our settings make it
(chalicelib/counting/mapping_settings.py):

* Each shard's records are delivered in order, in batches of any size; shards run concurrently, and an
  item's records stay in one shard (its key decides the shard).
* The handler's answer: success (the shard moves past the batch); a partial batch response naming a
  record (everything before it is done; the retry starts there); or a function error (the process died:
  a timeout, a crash, before or after its write reached the table; or with its write still in flight, to
  land later). On a function error the batch is split in two (bisection) and each half retried.
* Each retry counts; past MAXIMUM_RETRY_ATTEMPTS the (part of the) batch is discarded: its records go to
  the on-failure destination and are never delivered again. Records older than the record age limit are
  discarded before delivery, whatever their batch.
* At least once: a batch that succeeded may be delivered again; a second invocation may process the same
  records at the same time; transactions may be refused for contention.

Checked after every schedule: every counted record agrees with the counters (totals and days); a stored
statement is COUNTED unless its insert was discarded; a removed one is not COUNTED unless its removal was
discarded; no statement is ever counted twice. Then the scheduled repair runs (its wait elapsed), and the
counts equal the statements stored, per Member State and per signing day, exactly.

Two broken variants show the model catches what it must (test_the_model_catches_...): a ledger whose
"counted" put has no condition, and a handler that forgets a removal it sees before its insert.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chalicelib.counting import exactly_once
from chalicelib.counting.exactly_once import count_stream_batch
from chalicelib.counting.mapping_settings import MAXIMUM_RETRY_ATTEMPTS
from chalicelib.counting.ports import CountedState, CountTransaction, StatementRef
from chalicelib.counting.recount import recount
from chalicelib.local.stream_events import lambda_stream_event
from tests.fakes import FaultyLedger, InMemoryCountLedger, InMemoryRecountStore, ProcessDied
from tests.unit.stream_specimens import INITIATIVE, OTHER_INITIATIVE, STREAM_ARN, MiniatureTable

STATES = ("PL", "DE", "FR", "MT", "SI")
INITIATIVES = (INITIATIVE, OTHER_INITIATIVE)
DAYS = (date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 29))
TODAY = date(2026, 11, 30)
MAX_AGE_TICKS = 40  # the record age limit, in the model's clock
WRITES = st.tuples(
    st.sampled_from(["sign", "sign", "sign", "remove", "remove", "marker", "poison"]),
    st.sampled_from(STATES),
    st.sampled_from(INITIATIVES),
    st.sampled_from(DAYS),
    st.integers(0, 10_000),
)
FATES = ("ok", "ok", "ok", "crash_before", "crash_after", "in_flight", "busy", "unavailable", "again", "race")
CALM_AFTER = 150  # invocations; after that every invocation succeeds, so each schedule ends


def _today() -> date:
    return TODAY


@dataclass
class Shard:
    records: list[dict[str, Any]]
    born: list[int]  # the model clock when each record was written
    position: int = 0  # the checkpoint: records before it are done or discarded
    # The current batch as Lambda holds it: pieces (start, end, retries) still to deliver, in order.
    pieces: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.records) and not self.pieces


@dataclass
class Mapping:
    """One event source mapping over the shards of one stream."""

    shards: list[Shard]
    ledger: FaultyLedger
    max_items: int
    clock: int = 0
    discarded: set[str] = field(default_factory=set)  # eventIDs sent to the on-failure destination
    invocations: int = 0

    def invoke(self, records: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
        self.invocations += 1
        return count_stream_batch(lambda_stream_event(records, STREAM_ARN), self.ledger, True, _today,
                                  self.max_items)

    def step(self, data: st.DataObject) -> None:
        live = [shard for shard in self.shards if not shard.finished]
        shard = live[data.draw(st.integers(0, len(live) - 1), label="shard")]
        self.clock += data.draw(st.integers(0, 12), label="ticks")
        if not shard.pieces:
            size = data.draw(st.integers(1, 8), label="batch size")
            end = min(shard.position + size, len(shard.records))
            shard.pieces = [(shard.position, end, 0)]
        start, end, retries = shard.pieces[0]
        # Records past the age limit are discarded before delivery.
        while start < end and self.clock - shard.born[start] > MAX_AGE_TICKS:
            self.discarded.add(shard.records[start]["eventID"])
            start += 1
        if start == end:
            self._done(shard)
            return
        shard.pieces[0] = (start, end, retries)
        batch = shard.records[start:end]
        fate = "ok" if self.invocations >= CALM_AFTER else data.draw(st.sampled_from(FATES), label="fate")
        nth = data.draw(st.integers(1, 3), label="which transaction")
        self.ledger.calm()
        if fate == "crash_before":
            self.ledger.crash_at(nth, after_write=False)
        elif fate == "crash_after":
            self.ledger.crash_at(nth, after_write=True)
        elif fate == "in_flight":
            self.ledger.hold_next()
        elif fate == "busy":
            self.ledger.busy_next(data.draw(st.integers(1, 8), label="refusals"))
        elif fate == "unavailable":
            self.ledger.fail_at(nth)
        elif fate == "race":
            overlap = shard.records[start:data.draw(st.integers(start + 1, end), label="race end")]
            self.ledger.before_next_apply = lambda: self._quietly(overlap)
        try:
            response = self.invoke(batch)
        except ProcessDied:
            self._function_error(shard, start, end, retries)
        else:
            failures = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
            if not failures:
                self._done(shard)
                if fate == "again":  # at least once: the same batch delivered once more
                    self._quietly(batch)
            else:
                sequences = [record["dynamodb"]["SequenceNumber"] for record in batch]
                resume = start + sequences.index(failures[0])
                shard.pieces[0] = (resume, end, retries + 1)
                self._retry_or_discard(shard)
        self.ledger.calm()
        if self.ledger.held and data.draw(st.integers(0, 3), label="in-flight write lands now") == 0:
            self.ledger.land_held()

    def _quietly(self, records: list[dict[str, Any]]) -> None:
        """Another invocation on the same records, whose answer nobody reads."""
        saved = self.ledger.before_next_apply
        self.ledger.before_next_apply = None
        try:
            self.invoke(records)
        finally:
            self.ledger.before_next_apply = saved

    def _function_error(self, shard: Shard, start: int, end: int, retries: int) -> None:
        if end - start > 1:  # BisectBatchOnFunctionError
            middle = start + (end - start) // 2
            shard.pieces[0:1] = [(start, middle, retries + 1), (middle, end, retries + 1)]
        else:
            shard.pieces[0] = (start, end, retries + 1)
        self._retry_or_discard(shard)

    def _retry_or_discard(self, shard: Shard) -> None:
        start, end, retries = shard.pieces[0]
        if retries > MAXIMUM_RETRY_ATTEMPTS:
            self.discarded.update(record["eventID"] for record in shard.records[start:end])
            self._done(shard)

    def _done(self, shard: Shard) -> None:
        _, end, _ = shard.pieces.pop(0)
        if not shard.pieces:
            shard.position = end


def _history(data: st.DataObject, shards: int) -> tuple[MiniatureTable, list[Shard], dict[str, tuple[str, str]]]:
    """The statements table's writes, as each shard's stream records; which records wrote which statement."""
    table = MiniatureTable()
    streams: list[Shard] = [Shard([], []) for _ in range(shards)]
    shard_of: dict[str, int] = {}
    written_by: dict[str, tuple[str, str]] = {}  # eventID -> (statement id, INSERT or REMOVE)
    live: list[str] = []
    writes = data.draw(st.lists(WRITES, min_size=1, max_size=30), label="writes")
    for born, (kind, state, initiative, day, pick) in enumerate(writes):
        if kind == "sign":
            statement, record = table.sign(state, initiative, day)
            shard_of[statement] = pick % shards
            written_by[record["eventID"]] = (statement, "INSERT")
            live.append(statement)
        elif kind == "remove":
            if not live:
                continue
            statement = live.pop(pick % len(live))
            record = table.remove(statement)
            written_by[record["eventID"]] = (statement, "REMOVE")
        elif kind == "marker":
            record, statement = table.duplicate_marker(initiative), ""
        else:
            record, statement = table.raw("INSERT", f"S#{initiative}#{state}#99"), ""
        target = streams[shard_of[statement] if statement else pick % shards]
        target.records.append(record)
        target.born.append(born)
    return table, streams, written_by


def run_schedule(data: st.DataObject, ledger_of: Callable[[int], Any]) -> None:
    shards = data.draw(st.integers(1, 3), label="shards")
    table, streams, written_by = _history(data, shards)
    max_items = data.draw(st.sampled_from([5, 7, 100]), label="transaction items")
    inner = ledger_of(max_items)
    mapping = Mapping(streams, FaultyLedger(inner), max_items)
    for _ in range(2_000):
        if all(shard.finished for shard in mapping.shards):
            break
        mapping.step(data)
    assert all(shard.finished for shard in mapping.shards), "the mapping never finished: a shard is stuck"
    mapping.ledger.land_held()  # whatever was in flight lands in the end

    # Before the repair: the counters agree with the counted records, and nothing counts twice.
    counted = {ref: record for ref, record in inner.records.items() if record.state is CountedState.COUNTED}
    for initiative in INITIATIVES:
        by_state: dict[str, int] = {}
        for ref in counted:
            if ref.initiative_id == initiative:
                by_state[ref.member_state] = by_state.get(ref.member_state, 0) + 1
        assert inner.counts(initiative) == by_state
    live = {ref.statement_id for ref in table.live()}
    discarded = {written_by[event_id] for event_id in mapping.discarded if event_id in written_by}
    for statement, _ in written_by.values():
        state = next((record.state for ref, record in inner.records.items() if ref.statement_id == statement),
                     CountedState.ABSENT)
        if statement in live and (statement, "INSERT") not in discarded:
            assert state is CountedState.COUNTED, f"a stored statement is {state.value}"
        if statement not in live and (statement, "REMOVE") not in discarded:
            assert state is not CountedState.COUNTED, "a removed statement still counts"

    # The repair, its wait elapsed, makes the counts exact.
    store = InMemoryRecountStore(inner)
    for ref in table.live():
        store.store(ref, table.day_of(ref.statement_id), stored_at=0.0)
    for initiative in INITIATIVES:
        recount(initiative, store, inner, now=lambda: 10_000.0, today=_today, member_states=STATES,
                max_items=max_items)
        assert inner.counts(initiative) == table.counts(initiative)
        assert inner.daily_counts(initiative) == table.daily_counts(initiative)
    # A second repair finds nothing to do.
    assert all(recount(initiative, store, inner, now=lambda: 10_000.0, today=_today, member_states=STATES,
                       max_items=max_items).repaired == 0 for initiative in INITIATIVES)


# 300 schedules per run; make mutate runs fewer (HYPOTHESIS_COUNTING_EXAMPLES), once for each mutant.
SCHEDULES = int(os.environ.get("HYPOTHESIS_COUNTING_EXAMPLES", "300"))


@settings(max_examples=SCHEDULES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_whatever_the_stream_mapping_does_each_statement_counts_exactly_once(data: st.DataObject) -> None:
    run_schedule(data, InMemoryCountLedger)


# --- the model catches broken variants -----------------------------------------------------------------


class LedgerWithoutCountedCondition(InMemoryCountLedger):
    """Broken: the "counted" put is not conditional (it overwrites whatever record is there)."""

    def apply(self, transaction: CountTransaction) -> None:
        for ref, _ in transaction.count:
            self.records.pop(ref, None)
        super().apply(transaction)


def _expect_the_model_to_fail(ledger_of: Callable[[int], Any]) -> None:
    # Generation only: finding a failing schedule is the point here, not shrinking it. Derandomised, so
    # the same schedules run every time: whether the model catches the variant does not depend on luck.
    @settings(max_examples=1000, deadline=None, database=None, phases=[Phase.generate], derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def broken(data: st.DataObject) -> None:
        run_schedule(data, ledger_of)

    with pytest.raises((AssertionError, ExceptionGroup)):
        broken()


def test_the_model_catches_a_ledger_that_counts_without_its_condition() -> None:
    _expect_the_model_to_fail(LedgerWithoutCountedCondition)


def test_the_model_catches_a_handler_that_forgets_a_removal_seen_before_its_insert(
        monkeypatch: pytest.MonkeyPatch) -> None:
    planned = exactly_once._Planner.transaction

    def without_burial(self: Any, pending: Any) -> Any:
        transaction, *rest = planned(self, pending)
        return (replace(transaction, bury=()), *rest)

    monkeypatch.setattr(exactly_once._Planner, "transaction", without_burial)
    _expect_the_model_to_fail(InMemoryCountLedger)


def test_statement_refs_in_the_model_are_the_keys_the_stream_names() -> None:
    table = MiniatureTable()
    statement, record = table.sign("PL")
    ref = table.live()[0]
    assert isinstance(ref, StatementRef) and ref.statement_id == statement
    assert record["dynamodb"]["Keys"]["pk"]["S"].endswith(f"#{ref.bucket:02d}")
