"""The scheduled recount: count the statements themselves, report drift, correct it without racing the stream.

For each Member State it counts the statement items (every bucket of the State's partitions) and
compares them with the counter. Every difference is logged as a figure, ``count drift initiative=..
state=.. counted=.. recounted=..``, and dead letters are listed: they are the records the count could
not read, and usually explain a drift.

Why a drift is corrected only when it is seen twice. The statements table runs ahead of the counters by
the stream's lag: a statement stored a moment before the recount may not be counted yet, and
"correcting" the counter for it would count it twice once its record arrives. So a drift is corrected
only when (1) the counter did not change while the statements were counted (same version before and
after), and (2) the previous recount saw the same drift at that same counter version: for a whole
schedule period nothing reached this counter while the statements stayed as counted, so no record
can still be on its way unless the stream stalled longer than a period. The correction itself is
conditional on the counter's version, so a batch applied meanwhile wins and the correction waits
for the next runs. Were the stream ever to stall that long, the next recounts see the opposite drift
and correct it the same way: the counts converge.

Initiatives whose counts are final are reported and never corrected: the purge destroys statements
after the counts are published, and those must not change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.counting.ports import DeadLetter, RecountStore, SeenDrift
from chalicelib.rules.member_states import all_member_states

logger = logging.getLogger(__name__)

_LISTED_DEAD_LETTERS = 20  # one log line each; the total is always logged


@dataclass(frozen=True)
class Drift:
    member_state: str
    counted: int  # the counter
    recounted: int  # statement items stored
    corrected: bool


@dataclass(frozen=True)
class RecountReport:
    initiative_id: str
    final: bool
    drifts: tuple[Drift, ...]
    dead_letters: tuple[DeadLetter, ...]

    @property
    def corrected(self) -> tuple[str, ...]:
        return tuple(drift.member_state for drift in self.drifts if drift.corrected)


def recount(initiative_id: str, store: RecountStore, member_states: Iterable[str] | None = None) -> RecountReport:
    """Recount one initiative (all 27 Member States unless told); log each drift and dead letter; correct
    the drifts that have settled."""
    if member_states is None:
        member_states = [state.code for state in all_member_states()]
    dead_letters = tuple(store.dead_letters(initiative_id))
    _log_dead_letters(initiative_id, dead_letters)
    if store.is_final(initiative_id):
        logger.info("recount initiative=%s: counts are final, not recounted", initiative_id)
        return RecountReport(initiative_id, True, (), dead_letters)
    before = store.counters(initiative_id)
    recounted = {state: store.count_statements(initiative_id, state) for state in member_states}
    after = store.counters(initiative_id)
    previously = store.seen_drifts(initiative_id)
    drifts: list[Drift] = []
    seen: dict[str, SeenDrift] = {}
    for state, stored in recounted.items():
        counter = after.get(state)
        counted, version = (counter.signatories, counter.version) if counter is not None else (0, 0)
        if counted == stored:
            continue
        logger.warning("count drift initiative=%s state=%s counted=%d recounted=%d",
                       initiative_id, state, counted, stored)
        quiet = before.get(state) == counter
        now = SeenDrift(version, stored)
        corrected = False
        if quiet and previously.get(state) == now:
            corrected = store.correct(initiative_id, state, version, stored)
            if corrected:
                logger.warning("count corrected initiative=%s state=%s from=%d to=%d",
                               initiative_id, state, counted, stored)
        if quiet and not corrected:
            seen[state] = now
        drifts.append(Drift(state, counted, stored, corrected))
    if seen != previously:
        store.remember_drifts(initiative_id, seen)
    logger.info("recount initiative=%s: states=%d drifts=%d corrected=%d dead_letters=%d", initiative_id,
                len(recounted), len(drifts), sum(drift.corrected for drift in drifts), len(dead_letters))
    return RecountReport(initiative_id, False, tuple(drifts), dead_letters)


def _log_dead_letters(initiative_id: str, dead_letters: tuple[DeadLetter, ...]) -> None:
    for letter in dead_letters[:_LISTED_DEAD_LETTERS]:
        logger.warning("dead letter initiative=%s sequence=%s event=%s reason=%s", letter.initiative,
                       letter.sequence_number or "-", letter.record_id, letter.reason)
    if dead_letters:
        logger.warning("dead letters initiative=%s total=%d", initiative_id, len(dead_letters))
