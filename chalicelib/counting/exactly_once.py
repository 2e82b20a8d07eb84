"""Count each statement exactly once, however Lambda delivers, splits, retries, discards or repeats records.

What we run on (AWS Lambda's event source mapping for DynamoDB streams, as documented): records of a
shard arrive in order, in batches, at least once. A batch may be delivered again after a timeout or
error, possibly with other boundaries (BisectBatchOnFunctionError splits it; a partial batch response
restarts it at the record it names); after the retry limit or the record age limit the mapping
discards a batch and moves on (to its on-failure destination); an invocation that timed out may still
have a write in flight that lands later ("zombie" writes); batches of different shards run at once; and
an event never names its shard. So no per-batch or per-shard bookkeeping can be trusted.

The scheme: a statement is counted if and only if its **counted record** says so (ports.CountedState).
The record is written in the same TransactWriteItems as the counter increments, under a condition on
its previous state, and it only ever moves forward:

* INSERT of a statement: put COUNTED (with the signing day), only if there is no record; add one.
* REMOVE: if COUNTED, move it to REMOVED and take one off (on the day it was counted under); if there is
  no record yet (the insert was discarded, or is still to come), put REMOVED, which keeps the insert
  from ever counting; if REMOVED already, nothing.

Any redelivery, split, zombie write or concurrent delivery then repeats a refused no-op: the condition
fails, the whole transaction is refused (nothing written), and the retry leaves those statements out.
What a discarded batch did not count, the scheduled repair (counting/recount.py) counts later through
this same path, exactly once too.

Counter changes are summed per transaction (one totals item, one item per signing day), so the cost per
statement is one small conditional put, and a transaction takes up to 100 items (DynamoDB's limit).
Counts that are final (the purge's FINAL flag) never change: every transaction that changes an
initiative's counters checks the flag, and a refusal says so. Calls per delivery: one TransactWriteItems
per 100 items, plus one read (BatchGetItem) when it holds removals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.counting.ports import (
    TRANSACTION_ITEM_LIMIT,
    CountedRecord,
    CountedState,
    CountLedger,
    CountTransaction,
    LedgerRefusedError,
    StatementRef,
    transaction_items,
)
from chalicelib.counting.stream_records import (
    CountedChange,
    IgnoredRecord,
    PoisonRecord,
    StreamRecord,
    records_of_event,
)

logger = logging.getLogger(__name__)

# Refusals for contention alone (other transactions on the same counter items) before giving up; the
# delivery is then answered as failed and Lambda delivers it again.
MAX_BUSY_REFUSALS = 6
_BUSY_PAUSE_SECONDS = 0.02


@dataclass(frozen=True)
class Step:
    """What a delivery asks for one statement: any removal among its records makes it a removal (the
    state machine ends in REMOVED whatever the order), else an insert."""

    ref: StatementRef
    removal: bool
    day: date | None  # from the records: the id's day, else the stream record's
    first_record: str  # sequence number of the statement's first record in this delivery


@dataclass
class BatchOutcome:
    """What applying one delivery did; numbers only, nothing personal."""

    records: int = 0
    counted: int = 0
    uncounted: int = 0
    buried: int = 0
    already: int = 0  # statements whose counted record already said what this delivery says
    ignored: int = 0
    kept_final: int = 0  # statements of initiatives whose counts are final: nothing changed
    dead_letters: list[PoisonRecord] = field(default_factory=list)
    increments: dict[tuple[str, str], int] = field(default_factory=dict)
    transactions: int = 0
    refusals: int = 0


class DeliveryNotAppliedError(Exception):
    """Part of the delivery is not applied (AWS failed, or contention outlasted the retries); everything
    before `first_unapplied` (a sequence number) is."""

    def __init__(self, first_unapplied: str, cause: BaseException) -> None:
        super().__init__(f"not applied from sequence {first_unapplied}: {type(cause).__name__}")
        self.first_unapplied = first_unapplied
        self.cause = cause


def steps_of(records: Sequence[StreamRecord]) -> tuple[list[Step | PoisonRecord], int]:
    """The delivery as steps in order of first appearance, and how many records change no count."""
    steps: dict[StatementRef, Step] = {}
    order: list[StatementRef | PoisonRecord] = []
    ignored = 0
    for record in records:
        if isinstance(record, IgnoredRecord):
            ignored += 1
        elif isinstance(record, PoisonRecord):
            order.append(record)
        else:
            ref = _ref(record)
            known = steps.get(ref)
            if known is None:
                steps[ref] = Step(ref, record.is_removal, record.day, record.sequence_number)
                order.append(ref)
            elif record.is_removal and not known.removal:
                steps[ref] = Step(ref, True, known.day or record.day, known.first_record)
    return [steps[item] if isinstance(item, StatementRef) else item for item in order], ignored


def _ref(change: CountedChange) -> StatementRef:
    return StatementRef(change.initiative_id, change.member_state, change.bucket, change.statement_id)


class _Planner:
    """Turns steps into transactions of at most max_items, given what the ledger said."""

    def __init__(self, max_items: int, today: Callable[[], date]) -> None:
        if max_items < 4:
            raise ValueError("a transaction must hold at least 4 items: statement, totals, day, final check")
        self.max_items = max_items
        self.today = today
        self.final: set[str] = set()
        self.known: dict[StatementRef, CountedRecord] = {}  # counted records read (removals only)
        self.done: set[StatementRef] = set()  # inserts whose counted record exists (a refusal said so)

    def transaction(self, pending: Sequence[Step | PoisonRecord]) -> tuple[CountTransaction, int, int, int]:
        """The transaction for the longest prefix of pending that fits; that prefix's length; statements
        left out because their counts are final or their record already says it; of those, how many final."""
        count: list[tuple[StatementRef, date]] = []
        uncount: list[tuple[StatementRef, date]] = []
        bury: list[tuple[StatementRef, date | None]] = []
        dead: list[PoisonRecord] = []
        taken = skipped = final = 0
        for item in pending:
            trial_count, trial_uncount, trial_bury, trial_dead = list(count), list(uncount), list(bury), list(dead)
            if isinstance(item, PoisonRecord):
                trial_dead.append(item)
            elif item.ref.initiative_id in self.final:
                skipped += 1
                final += 1
                taken += 1
                continue
            elif not item.removal and item.ref in self.done:
                skipped += 1
                taken += 1
                continue
            elif not item.removal:
                trial_count.append((item.ref, item.day or self.today()))
            else:
                record = self.known.get(item.ref, CountedRecord(CountedState.ABSENT))
                if record.state is CountedState.COUNTED:
                    trial_uncount.append((item.ref, record.day or item.day or self.today()))
                elif record.state is CountedState.ABSENT:
                    trial_bury.append((item.ref, item.day))
                else:
                    skipped += 1
                    taken += 1
                    continue
            trial = _transaction(trial_count, trial_uncount, trial_bury, trial_dead)
            if transaction_items(trial) > self.max_items:
                break
            count, uncount, bury, dead = trial_count, trial_uncount, trial_bury, trial_dead
            taken += 1
        return _transaction(count, uncount, bury, dead), taken, skipped, final


def _transaction(count: list[tuple[StatementRef, date]], uncount: list[tuple[StatementRef, date]],
                 bury: list[tuple[StatementRef, date | None]], dead: list[PoisonRecord]) -> CountTransaction:
    changing = {ref.initiative_id for ref, _ in count} | {ref.initiative_id for ref, _ in uncount}
    return CountTransaction(tuple(count), tuple(uncount), tuple(bury), tuple(dead), frozenset(changing))


def apply_delivery(
    records: Sequence[StreamRecord],
    ledger: CountLedger,
    today: Callable[[], date],
    max_items: int = TRANSACTION_ITEM_LIMIT,
    pause: Callable[[float], None] = time.sleep,
) -> BatchOutcome:
    """Apply one delivery (see the module's docstring). Raises DeliveryNotAppliedError naming the first
    record not applied when the ledger fails; everything before it is applied, and nothing is half done."""
    outcome = BatchOutcome(records=len(records))
    pending, outcome.ignored = steps_of(records)
    if not pending:
        return outcome
    planner = _Planner(max_items, today)
    steps = [item for item in pending if isinstance(item, Step)]
    removals = [step.ref for step in steps if step.removal]
    try:
        # Only removals need their record's state (and the day to take one off). Final flags are not
        # read: a transaction on a final initiative is refused, and says so.
        planner.known = ledger.counted(removals) if removals else {}
    except Exception as error:
        raise DeliveryNotAppliedError(_first_record(pending[0]), error) from error
    busy = 0
    while pending:
        transaction, taken, skipped, final = planner.transaction(pending)
        try:
            if transaction_items(transaction):
                ledger.apply(transaction)
        except LedgerRefusedError as refusal:
            outcome.refusals += 1
            # Nothing learnt (contention only): count it, pause, and try again; else plan again at once.
            busy = 0 if refusal.moved or refusal.became_final else busy + 1
            if busy >= MAX_BUSY_REFUSALS:
                raise DeliveryNotAppliedError(_first_record(pending[0]), refusal) from refusal
            if busy:
                pause(_BUSY_PAUSE_SECONDS * busy)
            try:
                _learn(refusal, transaction, planner, ledger)
            except Exception as error:
                raise DeliveryNotAppliedError(_first_record(pending[0]), error) from error
            continue
        except Exception as error:
            raise DeliveryNotAppliedError(_first_record(pending[0]), error) from error
        _record(outcome, transaction, skipped, final)
        pending = pending[taken:]
    return outcome


def _learn(refusal: LedgerRefusedError, transaction: CountTransaction, planner: _Planner,
           ledger: CountLedger) -> None:
    """After a refusal: what moved is known again, so the next plan leaves out what is done already."""
    planner.final |= refusal.became_final
    moved_inserts = {ref for ref, _ in transaction.count} & refusal.moved
    # An insert whose record exists is done, whatever the record says (COUNTED or REMOVED).
    planner.done |= moved_inserts
    moved_removals = [ref for ref in refusal.moved if ref not in moved_inserts]
    if moved_removals:
        planner.known.update(ledger.counted(moved_removals))


def _record(outcome: BatchOutcome, transaction: CountTransaction, skipped: int, final: int) -> None:
    if transaction_items(transaction):
        outcome.transactions += 1
    outcome.counted += len(transaction.count)
    outcome.uncounted += len(transaction.uncount)
    outcome.buried += len(transaction.bury)
    outcome.kept_final += final
    outcome.already += skipped - final
    outcome.dead_letters.extend(transaction.dead_letters)
    for pair, delta in transaction.totals.items():
        outcome.increments[pair] = outcome.increments.get(pair, 0) + delta


def _first_record(item: Step | PoisonRecord) -> str:
    return item.first_record if isinstance(item, Step) else item.sequence_number


def count_stream_event(event: dict[str, Any], ledger: CountLedger, today: Callable[[], date]) -> BatchOutcome:
    """A Lambda DynamoDB stream event in, counters changed exactly once, one log line."""
    return _count_records(records_of_event(event), ledger, today)


def _count_records(records: Sequence[StreamRecord], ledger: CountLedger, today: Callable[[], date],
                   max_items: int = TRANSACTION_ITEM_LIMIT) -> BatchOutcome:
    outcome = apply_delivery(records, ledger, today, max_items)
    for poison in outcome.dead_letters:
        # Sequence number, event id and a fixed reason: the stream is KEYS_ONLY, nothing personal.
        logger.warning("dead letter: sequence=%s event=%s reason=%s", poison.sequence_number or "-",
                       poison.record_id, poison.reason)
    logger.info(
        "stream batch: records=%d counted=%d uncounted=%d buried=%d already=%d ignored=%d kept_final=%d "
        "dead_letters=%d transactions=%d refusals=%d",
        outcome.records, outcome.counted, outcome.uncounted, outcome.buried, outcome.already, outcome.ignored,
        outcome.kept_final, len(outcome.dead_letters), outcome.transactions, outcome.refusals,
    )
    return outcome


BatchResponse = dict[str, list[dict[str, str]]]


def count_stream_batch(
    event: dict[str, Any],
    ledger: CountLedger,
    report_item_failures: bool,
    today: Callable[[], date],
    max_items: int = TRANSACTION_ITEM_LIMIT,
) -> BatchResponse:
    """The count function: count_stream_event, answered as Lambda's partial batch response expects.

    When part of the delivery is not applied, the answer names its first unapplied record, so Lambda
    delivers again from there (everything before it is applied; anything after it that was applied too
    is a no-op when it comes again). Only where the mapping has ReportBatchItemFailures
    (`report_item_failures`, the setting COUNT_REPORTS_ITEM_FAILURES): a mapping without it takes any
    answer for success and would drop the batch, so there the failure is raised instead.
    """
    records = records_of_event(event)
    try:
        _count_records(records, ledger, today, max_items)
    except DeliveryNotAppliedError as failure:
        if not failure.first_unapplied or not report_item_failures:
            raise
        # The type only: a message could repeat what the records hold.
        logger.warning("stream batch partly applied (%s): Lambda delivers it again from sequence=%s",
                       type(failure.cause).__name__, failure.first_unapplied)
        return {"batchItemFailures": [{"itemIdentifier": failure.first_unapplied}]}
    return {"batchItemFailures": []}
