"""The count function on a batch of 1,000 stream records: CPU time and DynamoDB calls per batch.

Two CPU figures: the pure part alone (parse the records, plan against the marker, sum the increments;
the in-memory ledger's own work is a few dict updates), and the whole handler body with the real
DynamoDB writer against the moto server, which runs in another process so its CPU is not counted:
what remains is this process's own cost, botocore's serialising and parsing included.

Calls are counted with a botocore 'before-call' hook (as bench/aws_calls.py does). The goal is one
transaction per batch per shard: a batch of one shard is one read and one TransactWriteItems while it
touches fewer than 100 items (27 Member States of one initiative: 28).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

from bench import BenchError, Figure, progress
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.counting.exactly_once import apply_delivery, count_stream_event
from chalicelib.counting.stream_records import records_of_event
from chalicelib.local.stream_events import lambda_stream_event
from chalicelib.rules.member_states import all_member_states
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.counter_writer import DynamoDBCountLedger
from tests.fakes import InMemoryCountLedger
from tests.unit.stream_specimens import STREAM_ARN, MiniatureTable

BATCH = 1_000
PURE_RUNS = 30
MOTO_RUNS = 10
REMOVALS_IN_EVERY = 20  # one record in twenty is an organiser's removal


def batch_event(initiative_id: str) -> dict[str, Any]:
    """A fresh batch (new event ids) of Lambda records: signatures over the 27 States, a few removals."""
    table = MiniatureTable()
    codes = [state.code for state in all_member_states()]
    records = []
    for index in range(BATCH):
        statement, insert = table.sign(codes[index % len(codes)], initiative_id)
        records.append(table.remove(statement) if index % REMOVALS_IN_EVERY == REMOVALS_IN_EVERY - 1 else insert)
    return lambda_stream_event(records, STREAM_ARN)


def pure_cpu_ms(initiative_id: str) -> float:
    """Median CPU time of parsing a batch and turning it into increments, with no AWS at all."""
    times = []
    for _ in range(PURE_RUNS):
        event = batch_event(initiative_id)
        start = time.process_time_ns()
        outcome = apply_delivery(records_of_event(event), InMemoryCountLedger())
        times.append(time.process_time_ns() - start)
        if outcome.applied != BATCH:
            raise BenchError(f"applied {outcome.applied} of {BATCH} records")
    return statistics.median(times) / 1e6


def on_moto(settings: Settings, initiative_id: str) -> tuple[float, Counter[str], int]:
    """Median CPU time of the handler's body on moto; DynamoDB operations and transactions over all runs."""
    clients = AwsClients(settings)
    operations: Counter[str] = Counter()

    def count(**event: Any) -> None:
        operations[str(event["event_name"]).rsplit(".", 1)[1]] += 1  # before-call.dynamodb.<Operation>

    clients.botocore_session.register("before-call.dynamodb", count)
    ledger = DynamoDBCountLedger(clients.dynamodb, settings.counters_table)
    count_stream_event(batch_event(initiative_id), ledger)  # warm-up: client, endpoint, service model
    operations.clear()
    times = []
    transactions = 0
    for _ in range(MOTO_RUNS):
        event = batch_event(initiative_id)
        start = time.process_time_ns()
        outcome = count_stream_event(event, ledger)
        times.append(time.process_time_ns() - start)
        transactions += outcome.transactions
        if outcome.applied != BATCH or outcome.conflicts:
            raise BenchError(f"applied {outcome.applied} of {BATCH} records, {outcome.conflicts} conflicts")
    return statistics.median(times) / 1e6, operations, transactions


def figures(settings: Settings) -> list[Figure]:
    initiative_id = services.check_initiative_file().id
    progress(f"count batch: {PURE_RUNS} batches of {BATCH} records, in memory")
    pure = pure_cpu_ms(initiative_id)
    progress(f"count batch: {MOTO_RUNS} batches of {BATCH} records through the DynamoDB writer on moto")
    cpu, calls, transactions = on_moto(settings, initiative_id)
    progress(f"count batch: DynamoDB calls in {MOTO_RUNS} batches: "
             + ", ".join(f"{name} x{number}" for name, number in sorted(calls.items())))
    return [
        Figure("count_batch_1000_pure_cpu_ms", f"{pure:.2f}", "ms"),
        Figure("count_batch_1000_cpu_ms", f"{cpu:.2f}", "ms"),
        Figure("count_batch_dynamodb_calls", f"{sum(calls.values()) / MOTO_RUNS:.2f}", "calls/batch"),
        Figure("count_batch_transactions", f"{transactions / MOTO_RUNS:.2f}", "transactions/batch"),
    ]
