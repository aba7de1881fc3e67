"""Engine state as the readings stage keeps it: a Faust table's in-memory data, written to the
table's changelog topic in bulk, once per batch.

Faust writes a changelog record through its producer buffer for every table assignment, at a
few tens of microseconds and a few kilobytes of pending objects each, and nothing bounds that
buffer. A batch of gateway messages touches tens of thousands of sensors at once: the buffer
then held gigabytes and cost more than the rules. Here a batch's writes are collected (a key
written twice keeps its last value), serialised with orjson as Faust's JSON codec does, handed
straight to the app's Kafka producer as record batches and awaited before the batch is
acknowledged: the state a batch made is durable before its offsets are committed, at most one
batch of records is ever in flight, and Faust's recovery reads the topic as if it had written
it.

The app's own producer, not a second one: a worker with a second producer, restarted after a
SIGKILL, was seen to leave some stream partitions unread (the crash test in test_pipeline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson


class ChangelogTable:
    """A Faust table written to a named changelog partition (Faust would take the partition of
    the event being processed, and a batch mixes partitions), flushed in bulk."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.pending: dict[str, tuple[Any, int]] = {}

    @property
    def topic(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    def get(self, key: str) -> Any:
        return self.table.data.get(key)

    def items(self) -> Iterable[tuple[str, Any]]:
        return self.table.data.items()  # type: ignore[no-any-return]

    def put(self, key: str, value: Any, partition: int) -> None:
        self.table.data[key] = value
        self.pending[key] = (value, partition)

    async def flush(self) -> None:
        """Write what was put since the last flush; returns once the broker has every record
        (the app's producer acks), or raises."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        try:
            await self._write(pending)
        except BaseException:
            # Kept for the next flush: the table already holds these states, and a later batch
            # must not be acknowledged while they are not in the changelog.
            self.pending = {**pending, **self.pending}
            raise

    async def _write(self, pending: dict[str, tuple[Any, int]]) -> None:
        by_partition: dict[int, list[tuple[str, Any]]] = {}
        for key, (value, partition) in pending.items():
            by_partition.setdefault(partition, []).append((key, value))
        # Faust's producer sends a record at a time (a future and a callback each); a batch
        # writes tens of thousands, so they go as record batches of the same aiokafka producer.
        producer = self.table.app.producer._ensure_producer()
        topic = self.topic
        futures: list[asyncio.Future[Any]] = []
        sent = await asyncio.gather(
            *(_send_all(producer, topic, p, states, futures) for p, states in by_partition.items()),
            return_exceptions=True,
        )
        # Everything handed over is waited for, even when a partition failed: a retried flush
        # must not race records of this one still in flight.
        delivered = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in (*sent, *delivered):
            if isinstance(outcome, BaseException):
                raise outcome


async def _send_all(
    producer: Any,
    topic: str,
    partition: int,
    states: list[tuple[str, Any]],
    futures: list[asyncio.Future[Any]],
) -> None:
    """States to one partition in as few record batches as the producer's batch size allows;
    each batch's delivery future is added to `futures` as it is handed over. A partition takes
    one batch at a time: the next is handed over once the previous one is on its way. Each
    state is serialised just before it is appended (the batch copies it): a flush never holds
    all its records as bytes at once."""
    limit = producer._max_request_size  # what producer.send would refuse
    batch = producer.create_batch()
    for name, state in states:
        key, value = orjson.dumps(name), orjson.dumps(state)
        if len(key) + len(value) > limit:
            # An empty batch takes a record of any size; the broker would refuse it whole.
            raise ValueError(
                f"the state of {name!r} is {len(value)} bytes, over the producer's request "
                f"size ({limit})"
            )
        if batch.append(key=key, value=value, timestamp=None) is None:
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    futures.append(await producer.send_batch(batch, topic, partition=partition))
