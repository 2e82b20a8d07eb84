"""Apply a stream batch's increments exactly once, however often and in whatever pieces it is delivered.

The problem. Lambda delivers a shard's records in order, in batches, at least once. A batch may be
delivered twice, retried after a crash part-way (starting again at its first record, possibly with
a different number of records), and batches of different shards run concurrently. A Lambda event
does not name its shard, and sequence numbers only increase within a shard, so "the last sequence
number applied for this shard" cannot be kept: the shard is unknown.

The scheme. Every delivery is keyed by its first record's eventID (unique in the stream, and the same
on every redelivery, because Lambda resumes a failed batch at its first record). Under that key a
progress marker holds the run of records applied from there: their eventIDs, in order, and a version.

* Nothing applied yet (no marker): apply the records and create the marker.
* The delivery extends the run (a replay, or a redelivery with more records): apply only the records
  not in the run, and extend the marker.
* The delivery is shorter than the run (a crash after the write, then a smaller batch): apply
  nothing; Lambda will next deliver from the record right after this one's last, which was applied
  already, so store a continuation marker keyed by that record holding the rest of the run. The next
  delivery finds it and applies only what follows.

Increments, dead letters and the marker are one TransactWriteItems, conditional on the marker's version
(or its absence). So a crash leaves either everything or nothing, and of two concurrent deliveries of
the same records only one can write; the other is refused, reads again and finds them applied. Batches
of different shards have different keys and only add to counters (additions commute). Counter items
are written once per transaction with the sum of the batch's changes, never once per statement.

A transaction holds at most 100 items (the marker, one per (initiative, Member State), one per dead
letter, one check per initiative whose removals it applies). A larger batch is applied in consecutive
pieces, each extending the marker by the records it applies: after a crash between pieces the marker
says exactly how far the batch got, as after any other crash.

Removals for an initiative whose counts are final (the purge's FINAL item) change nothing; the
transaction re-checks that flag, so a removal applied as the counts become final is refused and
planned again. This relies on Lambda's documented delivery (parallelization factor 1, the default),
and on markers outliving the stream's 24-hour retention (they expire after 48 hours).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.counting.ports import (
    TRANSACTION_ITEM_LIMIT,
    AppliedRun,
    CountLedger,
    CountTransaction,
    LedgerConflictError,
    LedgerState,
)
from chalicelib.counting.stream_records import (
    CountedChange,
    IgnoredRecord,
    PoisonRecord,
    StreamRecord,
    records_of_event,
)

logger = logging.getLogger(__name__)

# Rereads after a refused transaction. Each refusal means another delivery made progress, so a few suffice.
MAX_CONFLICTS = 8
_SMALLEST_TRANSACTION = 3  # the marker, one counter, one check or dead letter: a single record must fit


@dataclass(frozen=True)
class DeliveryPlan:
    """What a delivery has left to do, given the marker keyed by its first record."""

    new: tuple[StreamRecord, ...]  # records the run does not hold, in delivery order
    already_applied: int
    continuation: tuple[str, tuple[str, ...]] | None  # (key, run) to store when nothing is new


def plan_delivery(records: Sequence[StreamRecord], marker: AppliedRun) -> DeliveryPlan:
    """Which of the delivered records are new, and whether a continuation marker is needed."""
    applied = marker.record_ids
    seen = set(applied)
    new: list[StreamRecord] = []
    for record in records:
        if record.record_id not in seen:  # also drops a record delivered twice in one batch
            seen.add(record.record_id)
            new.append(record)
    already = len(records) - len(new)
    if new or not records:
        if applied and tuple(record.record_id for record in records[: len(applied)]) != applied:
            # Lambda never does this; counting each record once under this key is the best left to do.
            logger.warning("stream delivery does not extend its progress marker (%d applied)", len(applied))
        return DeliveryPlan(tuple(new), already, None)
    position = applied.index(records[-1].record_id)
    rest = applied[position + 1 :]
    return DeliveryPlan((), already, (rest[0], rest) if rest else None)


def next_transaction(
    new: Sequence[StreamRecord],
    marker_key: str,
    marker: AppliedRun,
    final_initiatives: frozenset[str],
    max_items: int = TRANSACTION_ITEM_LIMIT,
) -> tuple[CountTransaction, int]:
    """The transaction applying the longest prefix of `new` that fits max_items; and that prefix's length."""
    if max_items < _SMALLEST_TRANSACTION:
        raise ValueError(f"a transaction must hold at least {_SMALLEST_TRANSACTION} items")
    increments: dict[tuple[str, str], int] = {}
    dead_letters: list[PoisonRecord] = []
    not_final: set[str] = set()
    taken = 0
    for record in new:
        change: CountedChange | None = None
        if isinstance(record, CountedChange) and not (record.is_removal and record.initiative_id in final_initiatives):
            change = record
        pair = (change.initiative_id, change.member_state) if change is not None else None
        check = change.initiative_id if change is not None and change.is_removal else None
        poison = isinstance(record, PoisonRecord)
        items = 1 + len(increments) + len(dead_letters) + len(not_final) + poison
        items += (pair is not None and pair not in increments) + (check is not None and check not in not_final)
        if items > max_items:
            break
        if change is not None and pair is not None:
            increments[pair] = increments.get(pair, 0) + change.delta
        if check is not None:
            not_final.add(check)
        if isinstance(record, PoisonRecord):
            dead_letters.append(record)
        taken += 1
    applied = marker.record_ids + tuple(record.record_id for record in new[:taken])
    transaction = CountTransaction(
        marker_key=marker_key,
        expected_version=marker.version,
        applied=applied,
        # A pair whose changes cancel out keeps its item slot (an upper bound) but is not written.
        increments={pair: delta for pair, delta in increments.items() if delta},
        dead_letters=tuple(dead_letters),
        not_final=frozenset(not_final),
    )
    return transaction, taken


@dataclass
class BatchOutcome:
    """What applying one delivery did; numbers only, nothing personal."""

    records: int = 0
    applied: int = 0
    already_applied: int = 0
    ignored: int = 0
    kept_final: int = 0  # removals that did not count because the initiative's counts are final
    dead_letters: list[PoisonRecord] = field(default_factory=list)
    increments: dict[tuple[str, str], int] = field(default_factory=dict)
    transactions: int = 0
    conflicts: int = 0
    continued: bool = False


def apply_delivery(
    records: Sequence[StreamRecord], ledger: CountLedger, max_items: int = TRANSACTION_ITEM_LIMIT
) -> BatchOutcome:
    """Apply one delivery of a shard's records exactly once (see the module's docstring).

    Raises only when the ledger does (AWS unavailable) or after MAX_CONFLICTS refusals: then nothing
    half-done is left behind, and Lambda's redelivery resumes from the marker.
    """
    outcome = BatchOutcome(records=len(records))
    if not records:
        return outcome
    marker_key = records[0].record_id
    removals_of = {record.initiative_id for record in records if isinstance(record, CountedChange)
                   and record.is_removal}
    state = ledger.read(marker_key, removals_of)
    first = True
    while True:
        plan = plan_delivery(records, state.marker)
        if first:
            outcome.already_applied = plan.already_applied
            first = False
        if not plan.new:
            if plan.continuation is not None:
                ledger.continue_run(*plan.continuation)
                outcome.continued = True
            return outcome
        transaction, taken = next_transaction(plan.new, marker_key, state.marker, state.final_initiatives, max_items)
        try:
            ledger.apply(transaction)
        except LedgerConflictError:
            outcome.conflicts += 1
            if outcome.conflicts >= MAX_CONFLICTS:
                raise
            state = ledger.read(marker_key, removals_of)
            continue
        _record_applied(outcome, plan.new[:taken], transaction, state.final_initiatives)
        state = LedgerState(AppliedRun(transaction.applied, state.marker.version + 1), state.final_initiatives)


def _record_applied(
    outcome: BatchOutcome, records: Sequence[StreamRecord], transaction: CountTransaction, final: frozenset[str]
) -> None:
    outcome.transactions += 1
    outcome.applied += len(records)
    for record in records:
        if isinstance(record, IgnoredRecord):
            outcome.ignored += 1
        elif isinstance(record, CountedChange) and record.is_removal and record.initiative_id in final:
            outcome.kept_final += 1
    outcome.dead_letters.extend(transaction.dead_letters)
    for pair, delta in transaction.increments.items():
        outcome.increments[pair] = outcome.increments.get(pair, 0) + delta


def count_stream_event(event: dict[str, Any], ledger: CountLedger) -> BatchOutcome:
    """A Lambda DynamoDB stream event in, counters changed exactly once, one log line."""
    return _count_records(records_of_event(event), ledger)


def _count_records(
    records: Sequence[StreamRecord], ledger: CountLedger, max_items: int = TRANSACTION_ITEM_LIMIT
) -> BatchOutcome:
    outcome = apply_delivery(records, ledger, max_items)
    for poison in outcome.dead_letters:
        # Sequence number, event id and a fixed reason: the stream is KEYS_ONLY, nothing personal.
        logger.warning("dead letter: sequence=%s event=%s reason=%s", poison.sequence_number or "-",
                       poison.record_id, poison.reason)
    logger.info(
        "stream batch: records=%d applied=%d already_applied=%d ignored=%d kept_final=%d dead_letters=%d "
        "transactions=%d conflicts=%d continued=%s",
        outcome.records, outcome.applied, outcome.already_applied, outcome.ignored, outcome.kept_final,
        len(outcome.dead_letters), outcome.transactions, outcome.conflicts, outcome.continued,
    )
    return outcome


BatchResponse = dict[str, list[dict[str, str]]]


def count_stream_batch(
    event: dict[str, Any], ledger: CountLedger, report_item_failures: bool, max_items: int = TRANSACTION_ITEM_LIMIT
) -> BatchResponse:
    """The count function: count_stream_event, answered as Lambda's partial batch response expects.

    Only where the mapping has ReportBatchItemFailures (`report_item_failures`, the setting
    COUNT_REPORTS_ITEM_FAILURES): a mapping without it takes any answer for success and would drop the
    batch, so there a failure is raised and Lambda delivers the whole batch again.

    The stream mapping has ReportBatchItemFailures (infra/deploy.py, infra/stream-mapping.merge.json).
    When the ledger fails (AWS unavailable, too many refusals), the answer names the delivery's *first*
    record, never the record or piece that failed: Lambda then delivers again from that record, so the
    retry has the same first eventID and finds this delivery's marker, which says exactly what was
    applied. Naming a later record would key the retry by another record with no marker; if the
    failed transaction had in fact been written (its response lost), its records would count twice.

    Answering rather than raising also keeps a transient failure from bisecting the batch
    (BisectBatchOnFunctionError acts on function errors). Bisection after a real crash or timeout is
    safe as well: its first half starts at the same first record, finds the marker and, being shorter
    than the applied run, leaves the continuation marker that the second half finds.
    """
    records = records_of_event(event)
    try:
        _count_records(records, ledger, max_items)
    except Exception as error:  # the response is the function's way to say "deliver this again"
        first = records[0].sequence_number if records else ""
        if not first or not report_item_failures:
            raise  # no sequence number to name: fail the invocation, Lambda retries the whole batch
        # The type only: a message could repeat what the records hold.
        logger.warning("stream batch not applied (%s): Lambda delivers it again from its first record (sequence=%s)",
                       type(error).__name__, first)
        return {"batchItemFailures": [{"itemIdentifier": first}]}
    return {"batchItemFailures": []}
