"""A narrow fix of moto's TransactWriteItems rollback, for the local system (``make run``) and its tests only.

What moto 5.2 does (``moto/dynamodb/models/__init__.py``, ``DynamoDBBackend.transact_write_items``): before
it applies anything it takes ``copy.deepcopy`` of the whole table once per item of the transaction (each
copy replacing the last), then applies the items one by one, writing each item and its stream record as it
goes, and collects a reason per item (ConditionalCheckFailed, ...). When any item failed it puts the copy in
place of the table (``self.tables[name] = copy``) and raises TransactionCanceledException with the reasons.
So:

* every transaction costs time and memory proportional to the whole table (on ``make run``: about 145 ms
  and 8 MB per statement once 800 were stored), and old copies stay alive while anything refers to them;
* a cancelled transaction replaces the table object, stream shard included: a shard iterator taken before
  it keeps reading the discarded shard and sees nothing more (the local stream pump stopped counting after
  the first duplicate signature);
* while a transaction runs, its stream records are already readable, also those of a transaction that is
  then cancelled (DynamoDB publishes stream records only for committed writes).

What this patch changes, and nothing else: the transaction still runs through moto's own code (same
validation, same order, same cancellation reasons, same exceptions), but

* the table is not copied: while a patched transaction runs, moto's ``copy.deepcopy`` of a Table returns
  the table itself, so moto's "swap the copy in" puts back the same object;
* before moto runs, the patch notes each item the transaction names (its table, key, and a deep copy of the
  item as it was, or that it was absent); when moto raises, the patch puts exactly those items back as they
  were (an undo log the size of the transaction, not of the table);
* the stream records that moto writes during the transaction are held back and added to the shard, in
  order, only when the transaction commits; a cancelled transaction leaves no stream record;
* patched transactions run one at a time (a lock), so that one's undo cannot overwrite another's write.

Left as moto has it: single writes (PutItem, UpdateItem, ...) do not take the lock, so a single write to
the very item a concurrent transaction is cancelling may be undone with it (moto's own swap undid every
concurrent write to the table); a cancelled transaction that had deleted an item puts it back at the end
of moto's insertion order, which only changes the order of an unordered Scan.

The patch is tied to the moto versions it was written against (MOTO_VERSIONS, the same range as
requirements-dev.txt) and to the lines of moto it relies on: ``install`` refuses, loudly, when either
changed, and tests/integration/test_moto_rollback.py checks both and the behaviour.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import StreamShard, Table

# The moto releases this patch was read against; requirements-dev.txt pins the same range (a test checks).
MOTO_VERSIONS = ">=5.2,<6"
_LOWEST, _BELOW = (5, 2), (6,)

# The lines of moto's transact_write_items the patch relies on: the table copy and the swap back.
_RELIED_ON = (
    "copy.deepcopy(\n                    self.tables[table_name]\n                )",
    "self.tables[table_name] = original_table_state[table_name]",
    "raise TransactionCanceledException(errors)",
)
_TABLE_LAYOUT = ("self.items[hash_value][range_value] = item", "self.items[hash_value] = item")


class MotoInternalsChangedError(RuntimeError):
    """moto is not a release this patch was written for, or its transaction code changed: re-read it."""


@dataclass
class _PriorItem:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    had_partition: bool  # moto's reads create empty partitions; an undo removes those it made
    item: Item | None  # a deep copy of the item before the transaction, None if there was none


@dataclass
class _Transaction:
    prior: list[_PriorItem] = field(default_factory=list)
    stream: list[tuple[StreamShard, Item | None, Item | None]] = field(default_factory=list)


_lock = threading.Lock()
_running = threading.local()  # .transaction: the patched transaction this thread is in, if any
_originals: dict[str, Any] = {}  # what the patch replaced: moto's two functions and its copy module


def installed_moto_version() -> tuple[int, ...]:
    return tuple(int(part) for part in version("moto").split(".")[:3] if part.isdigit())


def check_moto() -> None:
    """Raise MotoInternalsChangedError unless moto is a release, with the code, that this patch was written for."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table

    found = installed_moto_version()
    if not _LOWEST <= found < _BELOW:
        raise MotoInternalsChangedError(
            f"moto {'.'.join(map(str, found))} is installed; chalicelib/local/moto_rollback.py was written for "
            f"moto{MOTO_VERSIONS}: re-read moto's transact_write_items and update the patch and its range")
    source = inspect.getsource(_originals.get("transact_write_items", DynamoDBBackend.transact_write_items))
    missing = [line for line in _RELIED_ON if line not in source]
    # The undo puts items back where moto keeps them: table.items[hash][range], or table.items[hash].
    missing += [line for line in _TABLE_LAYOUT if line not in inspect.getsource(Table.put_item)]
    add_parameters = list(inspect.signature(_originals.get("add", StreamShard.add)).parameters)
    if missing or add_parameters != ["self", "old", "new"]:
        raise MotoInternalsChangedError(
            "moto's transact_write_items, Table.put_item or StreamShard.add no longer reads as "
            f"chalicelib/local/moto_rollback.py expects (missing: {missing or 'none'}; "
            f"StreamShard.add{tuple(add_parameters)}): re-read them and update the patch")


def install() -> None:
    """Patch moto in this process (idempotent). Raises MotoInternalsChangedError if moto is not what it expects."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import StreamShard

    with _lock:
        if _originals:
            return
        check_moto()
        _originals["transact_write_items"] = models.DynamoDBBackend.transact_write_items
        _originals["add"] = StreamShard.add
        _originals["copy"] = models.copy  # type: ignore[attr-defined]
        models.DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign,assignment]
        StreamShard.add = _add  # type: ignore[method-assign,assignment]
        models.copy = _TableSharingCopy()  # type: ignore[attr-defined,assignment]


def uninstall() -> None:
    """Give moto its own code back (for tests that show what the patch fixes)."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import StreamShard

    with _lock:
        if not _originals:
            return
        models.DynamoDBBackend.transact_write_items = _originals.pop("transact_write_items")  # type: ignore[method-assign]
        StreamShard.add = _originals.pop("add")  # type: ignore[method-assign]
        models.copy = _originals.pop("copy")  # type: ignore[attr-defined]


def is_installed() -> bool:
    return bool(_originals)


@contextmanager
def suspended() -> Iterator[None]:
    """moto's own rollback for the duration of the block, the patch again afterwards (if it was installed)."""
    was_installed = is_installed()
    uninstall()
    try:
        yield
    finally:
        if was_installed:
            install()


class _TableSharingCopy:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: a Table is not copied in a transaction."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table) and getattr(_running, "transaction", None) is not None:
            return value
        return copy.deepcopy(value, memo)


def _transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _lock:
        transaction = _Transaction(prior=_prior_items(backend, transact_items))
        _running.transaction = transaction
        try:
            _originals["transact_write_items"](backend, transact_items)
        except BaseException:
            _running.transaction = None
            for prior in reversed(transaction.prior):  # reversed: a key named twice ends as it first was
                _restore(prior)
            raise
        finally:
            _running.transaction = None
        for shard, old, new in transaction.stream:
            _originals["add"](shard, old, new)


def _add(shard: StreamShard, old: Item | None, new: Item | None) -> None:
    transaction: _Transaction | None = getattr(_running, "transaction", None)
    if transaction is None:
        _originals["add"](shard, old, new)
    else:
        # moto builds the record's images now; an update of a new item changes `new` after this call.
        transaction.stream.append((shard, old, copy.deepcopy(new)))


def _prior_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_PriorItem]:
    """Each item the transaction names, as it is now. Items moto will refuse to write are skipped."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    prior: list[_PriorItem] = []
    for request in transact_items:
        if not isinstance(request, dict) or len(request) != 1:
            continue
        operation, parameters = next(iter(request.items()))
        try:
            table = backend.get_table(parameters["TableName"])
            key = parameters["Item"] if operation == "Put" else parameters["Key"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except Exception:  # noqa: S112 - moto raises or records its own reason for this item; nothing written
            continue
        items: Any = table.items
        partition = items.get(hash_key)
        had_partition = partition is not None
        current = partition.get(range_key) if range_key is not None and partition is not None else (
            None if range_key is not None else partition)
        prior.append(_PriorItem(table, hash_key, range_key, had_partition, copy.deepcopy(current)))
    return prior


def _restore(prior: _PriorItem) -> None:
    items: Any = prior.table.items
    if prior.range_key is None:
        if prior.item is None:
            items.pop(prior.hash_key, None)
        else:
            items[prior.hash_key] = prior.item
        return
    partition = items.get(prior.hash_key)
    if prior.item is not None:
        items[prior.hash_key][prior.range_key] = prior.item
    elif partition is not None:
        partition.pop(prior.range_key, None)
        if not prior.had_partition and not partition:
            del items[prior.hash_key]
