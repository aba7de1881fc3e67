"""Produce and consume test messages on a broker the suite started."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


class Kafka:
    """Produce and consume test messages on the session broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def produce(self, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
        async def run() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await producer.start()
            try:
                for key, value in items:
                    await producer.send(topic, value, key=key)
                await producer.flush()
            finally:
                await producer.stop()

        asyncio.run(run())

    def consume(self, topic: str, count: int, timeout: float = 20.0) -> list[tuple[Any, bytes]]:
        """Read `count` messages from the beginning of every partition (no consumer group)."""
        return self.consume_until(topic, lambda out: len(out) >= count, timeout, fail=False)

    def consume_until(
        self,
        topic: str,
        done: Callable[[list[tuple[Any, bytes]]], Any],
        timeout: float = 20.0,
        *,
        fail: bool = True,
        what: str = "",
        records: bool = False,
    ) -> list[Any]:
        """Read the topic from its beginning until `done(messages so far)` holds; with `fail`,
        an AssertionError when it does not within `timeout` seconds. The messages are (key,
        value) pairs, or with `records` aiokafka's records (headers, timestamps)."""

        keep = records

        async def run() -> list[Any]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            try:
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await consumer._client.force_metadata_update()
                    parts = consumer.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                out: list[Any] = []
                deadline = time.monotonic() + timeout
                while not done(out):
                    if time.monotonic() > deadline:
                        if fail:
                            raise AssertionError(
                                f"timed out after {timeout:g} s reading {topic} for "
                                f"{what or 'the expected messages'}; read {len(out)}"
                            )
                        break
                    batch = await consumer.getmany(timeout_ms=200)
                    for records in batch.values():
                        out.extend(r if keep else (r.key, r.value) for r in records)
                    if not parts:
                        # The topic did not exist yet: look again, it may have been created.
                        await consumer._client.force_metadata_update()
                        parts = consumer.partitions_for_topic(topic) or set()
                        if parts:
                            tps = [TopicPartition(topic, p) for p in sorted(parts)]
                            consumer.assign(tps)
                            await consumer.seek_to_beginning(*tps)
                return out
            finally:
                await consumer.stop()

        return asyncio.run(run())

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        """The offsets a consumer group has committed on a topic, by partition."""

        async def run() -> dict[int, int | None]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                parts = consumer.partitions_for_topic(topic) or set()
                return {p: await consumer.committed(TopicPartition(topic, p)) for p in parts}
            finally:
                await consumer.stop()

        return asyncio.run(run())
