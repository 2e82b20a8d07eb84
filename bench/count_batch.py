"""The count function: CPU, DynamoDB calls and write units per 1,000-record batch, and the write rate the
hottest partition key takes at the design peak of 1,000 statements a second.

* CPU: the pure part alone (parse, plan, sum; the in-memory ledger's own work is a few dict updates), and
  the handler body with the real DynamoDB writer against the moto server (another process, so its CPU is
  not counted: what remains is this process's own cost, botocore's included).
* Calls are counted with a botocore 'before-call' hook (as bench/aws_calls.py does).
* Write units are computed from the items each TransactWriteItems carries, by DynamoDB's rule for
  transactions: 2 write units per item per started KB (a ConditionCheck costs as a write). moto does
  not report consumed capacity, so this is the rule applied to our real requests, not a measurement of AWS.
* Peak per partition key: one second at 1,000 statements a second, spread over the Member States in
  proportion to their Annex I minimums, arriving on 4 stream shards that Lambda polls 4 times a second
  (so batches of about 60 records); the real DynamoDBCountLedger builds the requests (against a
  recording client, no AWS), and the write units are summed per partition key; and how many of that
  second's transactions hold the item most of them share (a counted record is in one only).
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import Any

from bench import BenchError, Figure, progress
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.counting.exactly_once import apply_delivery, count_stream_event
from chalicelib.counting.stream_records import records_of_event
from chalicelib.local.stream_events import lambda_stream_event
from chalicelib.rules.member_states import all_member_states
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.counter_writer import COUNTER_SHARDS, DynamoDBCountLedger
from tests.fakes import InMemoryCountLedger
from tests.unit.stream_specimens import STREAM_ARN, MiniatureTable

BATCH = 1_000
PURE_RUNS = 30
MOTO_RUNS = 5
REMOVALS_IN_EVERY = 20  # one record in twenty is an organiser's removal of an earlier statement
PEAK_STATEMENTS_PER_SECOND = 1_000
PEAK_STREAM_SHARDS = 4
POLLS_PER_SECOND = 4
TODAY = date(2026, 11, 30)


def _today() -> date:
    return TODAY


def batch_event(initiative_id: str, earlier: list[str], table: MiniatureTable) -> dict[str, Any]:
    """A fresh batch of Lambda records: signatures over the 27 States, and removals of earlier statements."""
    codes = [state.code for state in all_member_states()]
    records = []
    for index in range(BATCH):
        if index % REMOVALS_IN_EVERY == REMOVALS_IN_EVERY - 1 and earlier:
            records.append(table.remove(earlier.pop(0)))  # the oldest: counted in an earlier batch
        else:
            statement, insert = table.sign(codes[index % len(codes)], initiative_id)
            records.append(insert)
            earlier.append(statement)
    return lambda_stream_event(records, STREAM_ARN)


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (strings and numbers by their length)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode("utf-8"))
        [(kind, content)] = value.items()
        size += len(content) if kind == "B" else len(str(content).encode("utf-8"))
    return size


def write_units(request: Mapping[str, Any]) -> dict[str, int]:
    """Write units of one TransactWriteItems, per partition key."""
    units: Counter[str] = Counter()
    for entry in request["TransactItems"]:
        [(_, body)] = entry.items()
        item = body.get("Item") or body["Key"]
        # An update's item after the write: its key and the attributes it adds (an upper bound for ADD).
        extra = sum(len(name) + 8 for name in body.get("ExpressionAttributeNames", {}).values())
        kilobytes = -(-(item_size(item) + extra) // 1024)
        units[item["pk"]["S"]] += 2 * max(kilobytes, 1)
    return dict(units)


class RecordingClient:
    """A DynamoDB client stand-in that accepts every transaction and keeps its request (no AWS, no moto)."""

    class exceptions:  # noqa: N801 - the shape of a botocore client's attribute
        class TransactionCanceledException(Exception):  # noqa: N818
            """Never raised: every transaction is accepted."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {}

    def batch_get_item(self, **request: Any) -> dict[str, Any]:
        return {"Responses": {}}


def pure_cpu_ms(initiative_id: str) -> tuple[float, float]:
    """Median CPU time of parsing a batch and planning its transactions, with no AWS at all; transactions."""
    times, transactions = [], []
    for _ in range(PURE_RUNS):
        table, earlier = MiniatureTable(), list[str]()
        ledger = InMemoryCountLedger()
        apply_delivery(records_of_event(batch_event(initiative_id, earlier, table)), ledger, _today)
        event = batch_event(initiative_id, earlier, table)
        start = time.process_time_ns()
        outcome = apply_delivery(records_of_event(event), ledger, _today)
        times.append(time.process_time_ns() - start)
        transactions.append(outcome.transactions)
        if outcome.counted + outcome.uncounted != BATCH:
            raise BenchError(f"applied {outcome.counted + outcome.uncounted} of {BATCH} records")
    return statistics.median(times) / 1e6, statistics.mean(transactions)


def on_moto(settings: Settings, initiative_id: str) -> tuple[float, Counter[str], int, int]:
    """Median CPU time of the handler's body on moto; DynamoDB calls, transactions and write units in all."""
    clients = AwsClients(settings)
    operations: Counter[str] = Counter()
    units = 0

    def count(**event: Any) -> None:
        operations[str(event["event_name"]).rsplit(".", 1)[1]] += 1  # before-call.dynamodb.<Operation>

    def weigh(**event: Any) -> None:  # before-parameter-build: the request's parameters, as the client got them
        nonlocal units
        units += sum(write_units(event["params"]).values())

    clients.botocore_session.register("before-call.dynamodb", count)
    clients.botocore_session.register("before-parameter-build.dynamodb.TransactWriteItems", weigh)
    ledger = DynamoDBCountLedger(clients.dynamodb, settings.counters_table)
    table: MiniatureTable = MiniatureTable()
    earlier: list[str] = []
    count_stream_event(batch_event(initiative_id, earlier, table), ledger, _today)  # warm-up, and earlier ones
    operations.clear()
    units = 0
    times = []
    transactions = 0
    for _ in range(MOTO_RUNS):
        event = batch_event(initiative_id, earlier, table)
        start = time.process_time_ns()
        outcome = count_stream_event(event, ledger, _today)
        times.append(time.process_time_ns() - start)
        transactions += outcome.transactions
        if outcome.counted + outcome.uncounted != BATCH or outcome.refusals:
            raise BenchError(f"applied {outcome.counted + outcome.uncounted} of {BATCH}, {outcome.refusals} refused")
    return statistics.median(times) / 1e6, operations, transactions, units


def peak_write_units_per_partition_key(initiative_id: str) -> tuple[int, str, int, int, int]:
    """One second at the design peak: the hottest partition key's write units, which key, and in all; the
    transactions, and how many of them hold the item most of them share (DynamoDB cancels a transaction
    when one of its items is part of another in flight, so that is how many can contend on one item)."""
    states = all_member_states()
    registered = services.check_initiative_file().registration_date
    weights = [state.threshold_for(registered) for state in states]  # Annex I: by population
    rng = random.Random(7)
    table = MiniatureTable()
    shards: list[list[dict[str, Any]]] = [[] for _ in range(PEAK_STREAM_SHARDS)]
    for _ in range(PEAK_STATEMENTS_PER_SECOND):
        state = rng.choices(states, weights)[0].code
        _, record = table.sign(state, initiative_id)
        shards[rng.randrange(PEAK_STREAM_SHARDS)].append(record)
    client = RecordingClient()
    shard_rng = random.Random(11)  # the ledger picks a counter shard at random: the same picks every run
    ledger = DynamoDBCountLedger(client, "eci-bench-counters", clock=lambda: 1_800_000_000.0,  # type: ignore[arg-type]
                                 shard=lambda: shard_rng.randrange(COUNTER_SHARDS))
    for shard in shards:
        size = -(-len(shard) // POLLS_PER_SECOND)
        for start in range(0, len(shard), size):
            apply_delivery(records_of_event(lambda_stream_event(shard[start:start + size], STREAM_ARN)), ledger,
                           _today)
    per_key: Counter[str] = Counter()
    for request in client.requests:
        per_key.update(write_units(request))
    counters = {key: units for key, units in per_key.items() if not key.startswith("C#")}
    hottest = max(counters, key=lambda key: counters[key])
    per_item: Counter[tuple[str, str]] = Counter()
    for request in client.requests:
        per_item.update({(key["pk"]["S"], key["sk"]["S"]) for key in transaction_keys(request)})
    return (counters[hottest], hottest.replace(initiative_id, "{initiative}"), sum(per_key.values()),
            len(client.requests), max(per_item.values()))


def transaction_keys(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The key of every item one TransactWriteItems writes or checks."""
    keys = []
    for entry in request["TransactItems"]:
        [(_, body)] = entry.items()
        item = body.get("Key") or body["Item"]
        keys.append({"pk": item["pk"], "sk": item["sk"]})
    return keys


def figures(settings: Settings) -> list[Figure]:
    initiative_id = services.check_initiative_file().id
    progress(f"count batch: {PURE_RUNS} batches of {BATCH} records, in memory")
    pure, _ = pure_cpu_ms(initiative_id)
    progress(f"count batch: {MOTO_RUNS} batches of {BATCH} records through the DynamoDB writer on moto")
    cpu, calls, transactions, units = on_moto(settings, initiative_id)
    progress(f"count batch: DynamoDB calls in {MOTO_RUNS} batches: "
             + ", ".join(f"{name} x{number}" for name, number in sorted(calls.items())))
    peak, hottest, peak_total, peak_transactions, hottest_item = peak_write_units_per_partition_key(initiative_id)
    progress(f"count peak: hottest counter partition key {hottest}; all keys together {peak_total} write units/s")
    statements = MOTO_RUNS * BATCH
    return [
        Figure("count_batch_1000_pure_cpu_ms", f"{pure:.2f}", "ms"),
        Figure("count_batch_1000_cpu_ms", f"{cpu:.2f}", "ms"),
        Figure("count_batch_transactions", f"{transactions / MOTO_RUNS:.2f}", "transactions/batch"),
        Figure("count_batch_dynamodb_calls", f"{sum(calls.values()) / MOTO_RUNS:.2f}", "calls/batch"),
        Figure("count_dynamodb_calls_per_statement", f"{sum(calls.values()) / statements:.4f}", "calls"),
        Figure("count_write_units_per_statement", f"{units / statements:.2f}", "WCU"),
        Figure("count_peak_counter_key_write_units_per_s", f"{peak}", f"WCU/s at {PEAK_STATEMENTS_PER_SECOND}/s"),
        Figure("count_peak_transactions_per_s", f"{peak_transactions}",
               f"transactions/s at {PEAK_STATEMENTS_PER_SECOND}/s"),
        Figure("count_peak_hottest_item_transactions_per_s", f"{hottest_item}",
               f"transactions/s at {PEAK_STATEMENTS_PER_SECOND}/s"),
    ]

