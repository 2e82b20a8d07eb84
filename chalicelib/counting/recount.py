"""The scheduled repair: statements stored but not counted get counted, counted statements that are gone
get taken off, each exactly once, through the same path as the stream (counting/exactly_once.py).

Why this is needed: the stream mapping discards a batch after its retries or when its records grow too
old (counting/mapping_settings.py); those statements would never be counted. Why it is safe: a repair is
the same conditional step as the stream's record, so whichever of the two comes second is a no-op. It
never overwrites a counter and never lowers one except for a statement that is gone (a removal).

Per statement partition it reads the counted records first, then the statement items (keys and storage
time only): a counted record always has its statement written before it, so a statement counted
between the two reads is still seen, and is never mistaken for one that is gone. A statement is
repaired only when it was stored longer ago than REPAIR_AFTER_SECONDS, so a record merely in flight is
not reported as a repair (it would be a harmless no-op anyway). Busy Member States are repaired like
quiet ones: nothing waits for the counters to stand still. Once the counts are final (the purge), the
repair stops.

Every repair is logged as a figure and as a CloudWatch metric (embedded metric format: a JSON log line
CloudWatch turns into the metric `CountRepairs`), counts only, nothing personal.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.counting.exactly_once import BatchOutcome, apply_delivery
from chalicelib.counting.mapping_settings import REPAIR_AFTER_SECONDS
from chalicelib.counting.ports import (
    TRANSACTION_ITEM_LIMIT,
    CountedState,
    CountLedger,
    DeadLetter,
    RecountStore,
    StatementItemKeys,
    StatementRef,
)
from chalicelib.counting.stream_records import CountedChange
from chalicelib.rules.member_states import all_member_states
from chalicelib.storage.statements import STATEMENT_BUCKETS

logger = logging.getLogger(__name__)

_LISTED_DEAD_LETTERS = 20  # one log line each; the total is always logged
METRIC_NAMESPACE = "ECI/Counting"


@dataclass(frozen=True)
class Repair:
    member_state: str
    counted: int  # statements stored but not counted, now counted
    uncounted: int  # statements gone but still counted, now taken off


@dataclass(frozen=True)
class RecountReport:
    initiative_id: str
    final: bool
    repairs: tuple[Repair, ...]
    dead_letters: tuple[DeadLetter, ...]
    waiting: int = 0  # uncounted statements too recent to repair yet (records may be in flight)

    @property
    def repaired(self) -> int:
        return sum(repair.counted + repair.uncounted for repair in self.repairs)


def recount(
    initiative_id: str,
    store: RecountStore,
    ledger: CountLedger,
    *,
    now: Callable[[], float] = time.time,
    today: Callable[[], date],
    member_states: Iterable[str] | None = None,
    repair_after_seconds: float = REPAIR_AFTER_SECONDS,
    max_items: int = TRANSACTION_ITEM_LIMIT,
) -> RecountReport:
    """Repair one initiative's counts (all 27 Member States unless told); log every repair and dead letter."""
    if member_states is None:
        member_states = [state.code for state in all_member_states()]
    dead_letters = tuple(store.dead_letters(initiative_id))
    _log_dead_letters(initiative_id, dead_letters)
    if store.is_final(initiative_id):
        logger.info("recount initiative=%s: counts are final, not repaired", initiative_id)
        return RecountReport(initiative_id, True, (), dead_letters)
    repairs: list[Repair] = []
    waiting = 0
    for state in member_states:
        changes: list[CountedChange] = []
        for bucket in range(STATEMENT_BUCKETS):
            found, recent = _differences(store, initiative_id, state, bucket, now() - repair_after_seconds, today)
            changes += found
            waiting += recent
        if not changes:
            continue
        outcome: BatchOutcome = apply_delivery(changes, ledger, today, max_items)
        if outcome.counted or outcome.uncounted:
            repairs.append(Repair(state, outcome.counted, outcome.uncounted))
            logger.warning("count repaired initiative=%s state=%s counted=%d uncounted=%d",
                           initiative_id, state, outcome.counted, outcome.uncounted)
    if repairs:
        _emit_metric(initiative_id, sum(r.counted + r.uncounted for r in repairs))
    logger.info("recount initiative=%s: states repaired=%d statements repaired=%d waiting=%d dead_letters=%d",
                initiative_id, len(repairs), sum(r.counted + r.uncounted for r in repairs), waiting,
                len(dead_letters))
    return RecountReport(initiative_id, False, tuple(repairs), dead_letters, waiting)


def _differences(store: RecountStore, initiative_id: str, state: str, bucket: int, settled_before: float,
                 today: Callable[[], date]) -> tuple[list[CountedChange], int]:
    counted = store.counted_records(initiative_id, state, bucket)  # first: see the module's docstring
    stored = store.stored_statements(initiative_id, state, bucket)
    stored_refs = {statement.ref for statement in stored}
    changes: list[CountedChange] = []
    waiting = 0
    for statement in stored:
        if statement.ref in counted:
            continue
        if _settled(statement, settled_before, today):
            changes.append(_change(statement.ref, +1, statement.day))
        else:
            waiting += 1
    for ref, record in counted.items():
        if record.state is CountedState.COUNTED and ref not in stored_refs:
            changes.append(_change(ref, -1, record.day))
    return changes, waiting


def _settled(statement: StatementItemKeys, settled_before: float, today: Callable[[], date]) -> bool:
    if statement.stored_at is not None:
        return statement.stored_at < settled_before
    # Written before items carried their storage time: the signing day says it is at least a day old.
    return statement.day is not None and statement.day < today() - timedelta(days=1)


def _change(ref: StatementRef, delta: int, day: date | None) -> CountedChange:
    # Not a stream record: "repair:" ids and no sequence number; the same step as the stream's.
    return CountedChange(f"repair:{ref.statement_id}", "", ref.initiative_id, ref.member_state, delta,
                         ref.statement_id, ref.bucket, day)


def _emit_metric(initiative_id: str, repaired: int) -> None:
    # CloudWatch's embedded metric format: a line of JSON alone on stdout (Lambda's log formatter would
    # prefix a logging call's line) becomes the metric, with no PutMetricData call.
    print(json.dumps({
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": METRIC_NAMESPACE, "Dimensions": [["Initiative"]],
                                   "Metrics": [{"Name": "CountRepairs", "Unit": "Count"}]}],
        },
        "Initiative": initiative_id,
        "CountRepairs": repaired,
    }), file=sys.stdout, flush=True)


def _log_dead_letters(initiative_id: str, dead_letters: tuple[DeadLetter, ...]) -> None:
    for letter in dead_letters[:_LISTED_DEAD_LETTERS]:
        logger.warning("dead letter initiative=%s sequence=%s event=%s reason=%s", letter.initiative,
                       letter.sequence_number or "-", letter.record_id, letter.reason)
    if dead_letters:
        logger.warning("dead letters initiative=%s total=%d", initiative_id, len(dead_letters))
