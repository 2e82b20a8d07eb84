"""At the design peak several count transactions of one initiative are in flight at once (one per stream
shard). DynamoDB cancels a TransactWriteItems when any of its items, a ConditionCheck's included, is part
of another ongoing transaction (developer guide, "Transaction conflict handling"), and every refusal
burns a retry (issue #10, finding 5). Transactions whose counters fall on different shards must therefore
share no item at all; this looks at the requests the real DynamoDB ledger sends.
"""

from __future__ import annotations

from datetime import date
from itertools import combinations
from typing import Any

from chalicelib.counting.exactly_once import apply_delivery
from chalicelib.storage.counter_writer import COUNTER_SHARDS, DynamoDBCountLedger
from tests.unit.stream_specimens import MiniatureTable, parsed


class _RecordingClient:
    """A DynamoDB client stand-in that accepts every transaction and keeps its items' keys."""

    class exceptions:  # noqa: N801 - the shape of a botocore client's attribute
        class TransactionCanceledException(Exception):  # noqa: N818
            """Never raised: every transaction is accepted."""

    def __init__(self) -> None:
        self.items: set[tuple[str, str]] = set()

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        for entry in TransactItems:
            [(_, body)] = entry.items()
            key = body.get("Key") or body["Item"]
            self.items.add((key["pk"]["S"], key["sk"]["S"]))
        return {}


def _items_of_a_delivery_on(shard: int, table: MiniatureTable) -> set[tuple[str, str]]:
    client = _RecordingClient()
    ledger = DynamoDBCountLedger(client, "eci-test-counters", clock=lambda: 1_800_000_000.0,  # type: ignore[arg-type]
                                 shard=lambda: shard)
    # The same initiative, the same signing day, the same States: the most a peak second shares.
    apply_delivery(parsed([table.sign("PL")[1], table.sign("DE")[1]]), ledger, lambda: date(2026, 11, 28))
    return client.items


def test_count_transactions_whose_counters_fall_on_different_shards_share_no_item_dynamodb_could_cancel() -> None:
    table = MiniatureTable()
    items = [_items_of_a_delivery_on(shard, table) for shard in range(COUNTER_SHARDS)]

    for (first, a), (second, b) in combinations(enumerate(items), 2):
        assert not a & b, f"shards {first} and {second} both write or check {sorted(a & b)}"
