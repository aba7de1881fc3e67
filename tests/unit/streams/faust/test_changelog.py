"""The engine-state table's changelog writes (ioc/streams/faust/changelog.py), against a producer
that keeps what it is given: record batches per partition, in order, all delivered or the
flush kept for the next one."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from ioc.streams.faust.changelog import ChangelogTable


class _Batch:
    def __init__(self, size: int) -> None:
        self.size, self.used, self.records = size, 0, []

    def append(self, *, key: bytes, value: bytes, timestamp: None) -> object | None:
        if self.records and self.used + len(key) + len(value) > self.size:
            return None  # as aiokafka's builder: full, but an empty batch takes any record
        self.records.append((key, value))
        self.used += len(key) + len(value)
        return object()


class _Producer:
    def __init__(self, batch_size: int = 200, fail_partition: int | None = None) -> None:
        self.batch_size = batch_size
        self._max_request_size = 1000
        self.fail_partition = fail_partition
        self.sent: list[tuple[int, list[tuple[bytes, bytes]]]] = []
        self.delivered: list[int] = []

    def create_batch(self) -> _Batch:
        return _Batch(self.batch_size)

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        if partition == self.fail_partition and self.sent:
            raise RuntimeError("partition unavailable")
        self.sent.append((partition, batch.records))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def deliver() -> None:
            self.delivered.append(partition)
            future.set_result(None)

        asyncio.get_running_loop().call_later(0.001, deliver)
        return future


def _table(producer: _Producer) -> ChangelogTable:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    topic = SimpleNamespace(get_topic_name=lambda: "app-engine-state-changelog")
    return ChangelogTable(SimpleNamespace(data={}, app=app, changelog_topic=topic))


def _records(producer: _Producer, partition: int) -> list[tuple[Any, Any]]:
    return [
        (orjson.loads(k), orjson.loads(v))
        for p, records in producer.sent
        if p == partition
        for k, v in records
    ]


def test_every_state_goes_to_its_partition_in_order_once_the_last_value() -> None:
    producer = _Producer()
    table = _table(producer)
    for n in range(30):
        table.put(f"sensor-{n}", {"n": n}, n % 2)
    table.put("sensor-4", {"n": 400}, 0)  # written twice: the last value, once
    asyncio.run(table.flush())
    assert _records(producer, 0) == [
        (f"sensor-{n}", {"n": 400 if n == 4 else n}) for n in range(0, 30, 2)
    ]
    assert _records(producer, 1) == [(f"sensor-{n}", {"n": n}) for n in range(1, 30, 2)]
    assert len(producer.sent) > 2  # several record batches per partition
    assert len(producer.delivered) == len(producer.sent)  # flush returned once all delivered
    assert table.pending == {}
    assert table.get("sensor-4") == {"n": 400}


def test_a_failed_partition_keeps_the_whole_flush_for_the_next_and_waits_for_the_rest() -> None:
    producer = _Producer(fail_partition=1)
    table = _table(producer)
    for n in range(30):
        table.put(f"sensor-{n}", {"n": n}, n % 2)
    with pytest.raises(RuntimeError, match="partition unavailable"):
        asyncio.run(table.flush())
    assert set(table.pending) == {f"sensor-{n}" for n in range(30)}
    # What was handed over before the failure was delivered before flush raised.
    assert len(producer.delivered) == len(producer.sent)


def test_a_state_over_the_request_size_is_refused_not_sent() -> None:
    producer = _Producer()
    table = _table(producer)
    table.put("big", {"rows": "x" * 2000}, 0)
    with pytest.raises(ValueError, match="over the producer's request size"):
        asyncio.run(table.flush())
    assert "big" in table.pending
    assert producer.sent == []
