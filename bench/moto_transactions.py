"""A signature's transaction on moto as the table fills: moto's own rollback against the local system's fix.

In this process, on moto's DynamoDB backend directly (no HTTP): a statements-shaped table (pk, sk,
KEYS_ONLY stream) holding N items, then ROUNDS signatures, each a TransactWriteItems of a statement and
its duplicate marker, every other one a duplicate (cancelled). Prints the median milliseconds per
transaction with moto alone and with chalicelib/local/moto_rollback.py, at each size, and the ratio.

``make bench`` runs it at 1,000 and 10,000 items: ``python -m bench.moto_transactions``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench import Figure, progress
from chalicelib.local import moto_rollback

SIZES = (1_000, 10_000)
ROUNDS = 10
_TABLE = "statements"


def _filled_backend(items: int) -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("eu-central-1", "123456789012")
    backend.create_table(_TABLE, schema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                         {"AttributeName": "sk", "KeyType": "RANGE"}],
                         throughput=None, attr=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                         global_indexes=None, indexes=None,
                         streams={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                         billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
                         deletion_protection_enabled=False, warm_throughput=None)
    blob = {"B": b"x" * 1500}  # about the size of an encrypted statement
    for number in range(items):
        backend.put_item(_TABLE, {"pk": {"S": "S#demo#PL"}, "sk": {"S": f"S#{number}"}, "data": blob})
    backend.put_item(_TABLE, {"pk": {"S": "F#demo#someone-who-signed"}, "sk": {"S": "F"}})  # signs again later
    return backend


def _signature(number: int, duplicate: bool) -> list[dict[str, Any]]:
    person = "someone-who-signed" if duplicate else f"person-{number}"
    return [
        {"Put": {"TableName": _TABLE, "Item": {"pk": {"S": "S#demo#PL"}, "sk": {"S": f"S#new-{number}"}}}},
        {"Put": {"TableName": _TABLE, "Item": {"pk": {"S": f"F#demo#{person}"}, "sk": {"S": "F"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def _median_ms(backend: Any, first: int) -> float:
    took = []
    for number in range(first, first + ROUNDS):
        started = time.perf_counter()
        try:
            backend.transact_write_items(_signature(number, duplicate=number % 2 == 1))
        except Exception as error:
            if type(error).__name__ != "TransactionCanceledException":
                raise
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000


def figures() -> list[Figure]:
    was_installed = moto_rollback.is_installed()
    results = []
    try:
        for size in SIZES:
            progress(f"moto transactions: a table of {size} items")
            backend = _filled_backend(size)
            with moto_rollback.suspended():
                alone = _median_ms(backend, 0)
            moto_rollback.install()
            fixed = _median_ms(backend, 10 * ROUNDS)
            results += [
                Figure(f"moto_transaction_ms_at_{size}_moto_alone", f"{alone:.2f}", "ms"),
                Figure(f"moto_transaction_ms_at_{size}_local_fix", f"{fixed:.2f}", "ms"),
                Figure(f"moto_transaction_at_{size}_moto_alone_vs_local_fix", f"{alone / fixed:.0f}", "x"),
            ]
    finally:
        if not was_installed:
            moto_rollback.uninstall()
    return results


if __name__ == "__main__":
    for figure in figures():
        print(figure.line(), flush=True)
