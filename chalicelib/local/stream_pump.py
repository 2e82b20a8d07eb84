"""What Lambda's event source mapping does on AWS, done locally: moto's DynamoDB stream into the count handler.

Per shard, in order, a batch at a time (at most the handler's batch size): the batch becomes the event
Lambda would build (chalicelib/local/stream_events.py) and goes to the app's handler. When the handler
raises, the same batch is delivered again after a pause, as Lambda does; when it answers with a partial
batch response naming records (ReportBatchItemFailures, as the deployed stream mapping has it), the
batch is delivered again from the lowest one named; otherwise the shard moves on to the record after
the batch. A child shard waits until its parent is read to the end.

Each read takes a fresh shard iterator at the last record delivered (AT_SEQUENCE_NUMBER) instead of
following NextShardIterator. moto's own rollback of a cancelled transaction swaps a copy of the whole
table in, stream shard included, and an iterator taken before the swap reads the discarded shard for ever
(chalicelib/local/moto_rollback.py removes the swap on the local system; the pump does not rely on it).
Reading from the last delivered record also checks that record is still there: the one read first must
be the one delivered last (same sequence number and eventID); if the shard now holds another record at
that number, it is delivered too, not skipped, so nothing is lost. Every read goes through one client.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.local.stream_events import lambda_stream_event, stream_region

if TYPE_CHECKING:
    from chalice.app import Chalice

logger = logging.getLogger(__name__)

# Lambda polls a shard about four times a second; so does the pump, so a signature counts within a second.
POLL_SECONDS = 0.25
RETRY_SECONDS = 1.0  # after the handler failed: Lambda also backs off before it delivers the batch again
_SHARDS_REFRESH_SECONDS = 10.0
# GetRecords returns at most 1,000 records; one more than a batch is read, the last delivered record.
_MOST_RECORDS_PER_READ = 1000

Deliver = Callable[[dict[str, Any]], object]


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    start: str | None = None  # before anything was delivered: an iterator at the starting position (LATEST)
    last_sequence: str | None = None  # of the last record delivered
    last_event_id: str | None = None
    pending: list[dict[str, Any]] = field(default_factory=list)  # the batch being delivered, until it succeeds
    closed_after_pending: bool = False
    finished: bool = False


class StreamPump:
    """Feeds one DynamoDB stream to one handler, shard by shard, a batch at a time."""

    def __init__(
        self,
        streams_client: Any,  # boto3's "dynamodbstreams" client
        stream_arn: str,
        deliver: Deliver,
        *,
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self._client = streams_client
        self._stream_arn = stream_arn
        self._deliver = deliver
        self._batch_size = batch_size
        self._starting_position = starting_position
        self._clock = clock or time.monotonic
        self._shards: dict[str, _Shard] = {}
        self._shards_read_at: float | None = None
        self.failures = 0  # deliveries that raised, each followed by a redelivery

    def pump_once(self) -> int:
        """Deliver at most one batch per shard; return how many records the handler accepted."""
        self._refresh_shards()
        accepted = 0
        for shard in list(self._shards.values()):
            parent = self._shards.get(shard.parent_id or "")
            if shard.finished or (parent is not None and not parent.finished):
                continue
            if not shard.pending and not self._fetch(shard):
                continue
            try:
                response = self._deliver(lambda_stream_event(shard.pending, self._stream_arn))
            except Exception as error:  # Lambda catches everything; so does its stand-in
                self.failures += 1
                # The type only: a message could repeat what the handler was given.
                logger.warning("stream handler failed (%s); its batch of %d records will be delivered again",
                               type(error).__name__, len(shard.pending))
                continue
            retry_from = first_failed_record(response, shard.pending)
            if retry_from is not None:
                self.failures += 1
                logger.warning("stream handler reported failures; %d of its %d records will be delivered again",
                               len(shard.pending) - retry_from, len(shard.pending))
                accepted += retry_from
                shard.pending = shard.pending[retry_from:]
                continue
            accepted += len(shard.pending)
            self._delivered(shard)
        return accepted

    @property
    def stream_arn(self) -> str:
        return self._stream_arn

    def positions(self) -> dict[str, tuple[str, str | None]]:
        """Per shard, the sequence number and eventID of the last record delivered (to resume after a restart)."""
        return {shard.shard_id: (shard.last_sequence, shard.last_event_id)
                for shard in self._shards.values() if shard.last_sequence is not None}

    def resume(self, positions: dict[str, tuple[str, str | None]]) -> None:
        """Go on after these records (before the first pump_once): nothing delivered before a restart comes again."""
        for shard_id, (sequence, event_id) in positions.items():
            shard = self._shards.setdefault(shard_id, _Shard(shard_id, None))
            shard.last_sequence, shard.last_event_id = sequence, event_id

    def run(self, stop: threading.Event) -> None:
        """Pump until stop is set."""
        while not stop.is_set():
            failures = self.failures
            try:
                self.pump_once()
            except Exception as error:  # moto stopping under us, a network hiccup: poll again
                logger.warning("stream pump could not read the stream (%s)", type(error).__name__)
                failures = -1
            stop.wait(RETRY_SECONDS if self.failures != failures else POLL_SECONDS)

    def _refresh_shards(self) -> None:
        now = self._clock()
        if self._shards_read_at is not None and now - self._shards_read_at < _SHARDS_REFRESH_SECONDS:
            return
        first_read = self._shards_read_at is None
        self._shards_read_at = now
        request: dict[str, Any] = {"StreamArn": self._stream_arn}
        listed: set[str] = set()
        while True:
            description = self._client.describe_stream(**request)["StreamDescription"]
            for shard in description.get("Shards", []):
                listed.add(shard["ShardId"])
                known = self._shards.get(shard["ShardId"])
                if known is not None:
                    known.parent_id = shard.get("ParentShardId")  # a shard resumed after a restart
                else:
                    self._shards[shard["ShardId"]] = _Shard(shard["ShardId"], shard.get("ParentShardId"))
                    if first_read and self._starting_position != "TRIM_HORIZON":
                        # LATEST names a place in the shard only when asked: ask now, keep it until a delivery.
                        self._shards[shard["ShardId"]].start = self._iterator(shard["ShardId"],
                                                                              self._starting_position)
            last = description.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        if first_read:  # a position resumed for a shard the stream no longer has is of no use
            for shard_id in set(self._shards) - listed:
                del self._shards[shard_id]

    def _iterator(self, shard_id: str, position: str, sequence_number: str | None = None) -> str:
        request: dict[str, Any] = {"StreamArn": self._stream_arn, "ShardId": shard_id, "ShardIteratorType": position}
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        iterator: str = self._client.get_shard_iterator(**request)["ShardIterator"]
        return iterator

    def _fetch(self, shard: _Shard) -> bool:
        """Read the records after the last one delivered into shard.pending; False if there are none."""
        if shard.last_sequence is None:
            # Shards that appear later (splits) are read from their beginning, as Lambda reads them.
            iterator = shard.start or self._iterator(shard.shard_id, "TRIM_HORIZON")
            response = self._client.get_records(ShardIterator=iterator, Limit=self._batch_size)
            records: list[dict[str, Any]] = response.get("Records", [])
            if shard.start is not None:
                shard.start = response.get("NextShardIterator") if not records else None
        else:
            iterator = self._iterator(shard.shard_id, "AT_SEQUENCE_NUMBER", shard.last_sequence)
            limit = max(2, min(self._batch_size + 1, _MOST_RECORDS_PER_READ))
            response = self._client.get_records(ShardIterator=iterator, Limit=limit)
            records = response.get("Records", [])
            if records and (records[0]["dynamodb"]["SequenceNumber"], records[0].get("eventID")) == (
                    shard.last_sequence, shard.last_event_id):
                records = records[1:]  # the one delivered last
        closed = response.get("NextShardIterator") is None  # a closed shard read to its end
        if not records:
            shard.finished = closed
            return False
        shard.pending = records[: self._batch_size]
        shard.closed_after_pending = closed and len(records) < self._batch_size
        return True

    @staticmethod
    def _delivered(shard: _Shard) -> None:
        last = shard.pending[-1]
        shard.last_sequence, shard.last_event_id = last["dynamodb"]["SequenceNumber"], last.get("eventID")
        shard.pending = []
        shard.finished = shard.closed_after_pending


def first_failed_record(response: object, records: list[dict[str, Any]]) -> int | None:
    """Where Lambda resumes after a partial batch response: the index of the lowest sequence number named.

    None when the response names nothing (success). An identifier that is empty, not a string or not in
    the batch makes the whole batch fail, as Lambda treats it.
    """
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not isinstance(failures, list) or not failures:
        return None
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(records)}
    named = [failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures]
    if not all(isinstance(identifier, str) and identifier in positions for identifier in named):
        return 0
    return min(positions[identifier] for identifier in named if isinstance(identifier, str))


def streams_client(region: str) -> Any:
    """A DynamoDB Streams client; AWS_ENDPOINT_URL (set by the local runner) points it at moto."""
    import boto3.session

    return boto3.session.Session(region_name=region).client("dynamodbstreams")


def stream_pumps(
    app: Chalice, client: Any | None = None, starting_position: str | None = None, stream_arn: str | None = None
) -> list[StreamPump]:
    """One pump per stream handler the app declares, each delivering to its handler as Lambda would.

    Tests may start at the stream's end (LATEST) and name the stream (app.py imported before moto ran).
    """
    from chalice.app import DynamoDBEventConfig
    from chalice.local import LambdaContext

    pumps: list[StreamPump] = []
    for source in app.event_sources:
        if not isinstance(source, DynamoDBEventConfig):
            continue
        handler = app.handler_map[source.name]

        def deliver(event: dict[str, Any], handler: Callable[..., object] = handler, name: str = source.name) -> object:
            return handler(event, LambdaContext(name, memory_size=512))

        arn = stream_arn or source.stream_arn
        pumps.append(StreamPump(
            client or streams_client(stream_region(arn)),
            arn,
            deliver,
            batch_size=source.batch_size,
            starting_position=starting_position or source.starting_position,
        ))
    return pumps


def start_stream_pumps(pumps: list[StreamPump], stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for pump in pumps:
        thread = threading.Thread(target=pump.run, args=(stop,), name="stream-pump", daemon=True)
        thread.start()
        threads.append(thread)
    return threads
