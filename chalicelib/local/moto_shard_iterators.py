"""Shard iterators on moto expire as on AWS, 15 minutes after they are handed out: for the local system only.

What moto 5.2 does (``moto/dynamodbstreams/models.py``): every GetShardIterator, and every GetRecords
(its NextShardIterator), adds an iterator to ``DynamoDBStreamsBackend.shard_iterators``, a dict that is
never emptied. A stream pump polling four times a second adds about eight a second, each holding a
random 630-character name: after a day of `make run` that is hundreds of megabytes.

What this patch changes: each new streams backend keeps its iterators in a dict that forgets those older
than ITERATOR_LIFETIME_SECONDS, as DynamoDB Streams documents ("a shard iterator expires 15 minutes after
it is returned to the requester"); an expired one is answered with DynamoDB Streams' own
ExpiredIteratorException instead of moto's KeyError (a 500). install() refuses, loudly, when moto no longer
keeps its iterators in that attribute.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

ITERATOR_LIFETIME_SECONDS = 15 * 60

_originals: dict[str, Any] = {}


class ExpiringIterators(dict[str, Any]):
    """A dict of shard iterators by name that forgets each one ITERATOR_LIFETIME_SECONDS after it was added."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._added: deque[tuple[float, str]] = deque()

    def __setitem__(self, name: str, iterator: Any) -> None:
        now = self._clock()
        while self._added and now - self._added[0][0] >= ITERATOR_LIFETIME_SECONDS:
            _, old = self._added.popleft()
            self.pop(old, None)
        super().__setitem__(name, iterator)
        self._added.append((now, name))

    def __getitem__(self, name: str) -> Any:
        added = self.get(name)
        if added is None:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("ExpiredIteratorException", "The shard iterator has expired or does not exist.")
        return added


def install() -> None:
    """Patch moto's DynamoDB Streams backend in this process (idempotent)."""
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    if _originals:
        return
    original_init = DynamoDBStreamsBackend.__init__
    probe = DynamoDBStreamsBackend("eu-central-1", "123456789012")
    if type(vars(probe).get("shard_iterators")) is not dict:
        raise RuntimeError("moto's DynamoDBStreamsBackend no longer keeps shard_iterators as a dict: re-read "
                           "moto/dynamodbstreams/models.py and update chalicelib/local/moto_shard_iterators.py")

    def init(self: DynamoDBStreamsBackend, region_name: str, account_id: str) -> None:
        original_init(self, region_name, account_id)
        self.shard_iterators = ExpiringIterators()

    _originals["__init__"] = original_init
    DynamoDBStreamsBackend.__init__ = init  # type: ignore[method-assign]
