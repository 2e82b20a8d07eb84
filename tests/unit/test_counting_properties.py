"""Property: whatever Lambda does (batches of any size, interleaved shards, replays, crashes before or after
the write, a second delivery racing the first, late duplicates), the counts end equal to the statements stored."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.counting.exactly_once import apply_delivery
from chalicelib.counting.stream_records import PoisonRecord, StreamRecord
from tests.fakes import InMemoryCountLedger, SimulatedCrash
from tests.unit.stream_specimens import INITIATIVE, OTHER_INITIATIVE, MiniatureTable, parsed

STATES = ("PL", "DE", "FR", "MT", "SI")
INITIATIVES = (INITIATIVE, OTHER_INITIATIVE)
WRITES = st.tuples(
    st.sampled_from(["sign", "sign", "sign", "remove", "remove", "marker", "poison"]),
    st.sampled_from(STATES),
    st.sampled_from(INITIATIVES),
    st.integers(0, 10_000),
)
FATES = ["ok", "ok", "replay", "crash_before", "crash_after", "race", "late_duplicate"]
MAX_DELIVERIES = 120  # then every delivery succeeds, so each example ends


def _history(writes: list[tuple[str, str, str, int]], shards: int) -> tuple[MiniatureTable, list[list[StreamRecord]]]:
    """The statements table's writes and, per shard, their stream records (an item's records stay in one shard)."""
    table = MiniatureTable()
    streams: list[list[dict[str, object]]] = [[] for _ in range(shards)]
    shard_of: dict[str, int] = {}
    live: list[str] = []
    for kind, state, initiative, pick in writes:
        if kind == "sign":
            statement, record = table.sign(state, initiative)
            shard_of[statement] = pick % shards  # from the drawn data: hypothesis replays it exactly
            streams[shard_of[statement]].append(record)
            live.append(statement)
        elif kind == "remove" and live:
            statement = live.pop(pick % len(live))
            streams[shard_of[statement]].append(table.remove(statement))
        elif kind == "marker":
            streams[pick % shards].append(table.duplicate_marker(initiative))
        elif kind == "poison":
            streams[pick % shards].append(table.raw("INSERT", f"S#{initiative}#{state}#99"))
    return table, [parsed(stream) for stream in streams]  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_deliveries_replays_and_crashes_count_each_stored_statement_once(data: st.DataObject) -> None:
    shards = data.draw(st.integers(2, 3), label="shards")
    table, streams = _history(data.draw(st.lists(WRITES, min_size=1, max_size=40), label="writes"), shards)
    max_items = data.draw(st.sampled_from([4, 6, 100]), label="transaction items")
    ledger = InMemoryCountLedger(max_items=max_items)
    positions = [0] * shards
    succeeded: list[list[StreamRecord]] = []
    deliveries = 0

    def deliver(batch: list[StreamRecord]) -> None:
        apply_delivery(batch, ledger, max_items=max_items)

    while any(position < len(stream) for position, stream in zip(positions, streams, strict=True)):
        deliveries += 1
        shard = data.draw(st.sampled_from([index for index in range(shards) if positions[index] < len(streams[index])]))
        size = data.draw(st.integers(1, 8))
        batch = streams[shard][positions[shard] : positions[shard] + size]
        fate = "ok" if deliveries > MAX_DELIVERIES else data.draw(st.sampled_from(FATES))
        if fate in ("crash_before", "crash_after"):
            ledger.crash_at(data.draw(st.integers(1, 3)), after_write=fate == "crash_after")
            try:
                deliver(batch)
            except SimulatedCrash:
                continue  # Lambda delivers again from this batch's first record
            finally:
                ledger.no_crash()
        elif fate == "race":
            ledger.before_next_apply = lambda batch=batch: deliver(batch)  # type: ignore[misc]
            deliver(batch)
            ledger.before_next_apply = None
        elif fate == "late_duplicate" and succeeded:
            deliver(data.draw(st.sampled_from(succeeded)))
            continue
        else:
            deliver(batch)
            if fate == "replay":
                deliver(batch)
        succeeded.append(batch)
        positions[shard] += len(batch)

    for initiative in INITIATIVES:
        assert {state: count for state, count in ledger.counts(initiative).items() if count} == table.counts(initiative)
    poison = Counter(record.record_id for stream in streams for record in stream if isinstance(record, PoisonRecord))
    assert Counter(letter.record_id for letter in ledger.dead_letters.values()) == poison
