"""The district feeds (`kafka://`): each incident of a district on `ioc.incidents.<district>`,
a compacted topic that district's IOC reads, and nobody else's (ACLs in deploy/).

Idempotent on (incident_id, version): the sink follows its own topics, so it knows the latest
version each holds, even one written by another worker before a rebalance, and never writes a
version that is not newer. Provincial incidents (no district) are on `ioc.incidents` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from ioc.kafka.admin import at_fetched_end, topic_partitions
from ioc.kafka.cluster import Cluster
from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError

log = logging.getLogger("ioc.sinks")
FETCH_WAIT_MS = 200
CATCH_UP_S = 20.0


class DistrictTopicsSink:
    def __init__(
        self, cluster: Cluster, districts: Sequence[str], topic_for: Callable[[str], str]
    ) -> None:
        self.cluster = cluster
        self.topics = {d: topic_for(d) for d in districts}
        self.name = "kafka://" + topic_for("*")
        self.delivered: dict[str, int] = {}
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._follow: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            client_id="ioc-sink-districts", acks="all", **self.cluster.aiokafka()
        )
        self._consumer = AIOKafkaConsumer(
            client_id="ioc-sink-districts",
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_WAIT_MS,
            **self.cluster.aiokafka(),
        )
        try:
            await self._producer.start()
            await self._consumer.start()
            tps = [
                tp
                for t in self.topics.values()
                for tp in await topic_partitions(self._consumer, t) or [TopicPartition(t, 0)]
            ]
            self._consumer.assign(tps)
            await self._consumer.seek_to_beginning(*tps)
            await self._read_to_end(tps)
        except KafkaError as exc:
            await self.stop()
            raise SinkError(f"{self.name}: {exc}") from None
        self._follow = asyncio.create_task(self._following())

    def _learn(self, key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return
        try:
            version = int(orjson.loads(value)["version"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        incident_id = key.decode("utf-8", "replace")
        if version > self.delivered.get(incident_id, 0):
            self.delivered[incident_id] = version

    async def _read_to_end(self, tps: list[TopicPartition]) -> None:
        """Learn what the topics hold, up to their ends as of now. Bounded: a broker whose end
        offsets the fetches never reach must not hold the delivery stage (and with it every
        stage) for ever; the follower goes on learning, at the price of a possible repeat."""
        assert self._consumer is not None
        pending = set(tps)
        deadline = asyncio.get_running_loop().time() + CATCH_UP_S
        while pending:
            if asyncio.get_running_loop().time() > deadline:
                state = {
                    f"{tp.topic}:{tp.partition}": (
                        await self._consumer.position(tp),
                        self._consumer.highwater(tp),
                    )
                    for tp in sorted(pending)
                }
                log.warning(
                    "%s: not at the end after %.0f s (position, high watermark): %s; going on",
                    self.name,
                    CATCH_UP_S,
                    state,
                )
                return
            batches = await self._consumer.getmany(*pending, timeout_ms=FETCH_WAIT_MS)
            for records in batches.values():
                for record in records:
                    self._learn(record.key, record.value)
            for tp in list(pending):
                if await at_fetched_end(self._consumer, tp):
                    pending.discard(tp)

    async def _following(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000)
            except KafkaError as exc:
                log.warning(
                    "%s: following the district topics failed (%s); retrying", self.name, exc
                )
                await asyncio.sleep(1.0)  # backoff before the next fetch
                continue
            for records in batches.values():
                for record in records:
                    self._learn(record.key, record.value)

    async def write(self, incidents: Sequence[Incident]) -> None:
        assert self._producer is not None, "start() the sink first"
        sends = []
        fresh = [
            i
            for i in incidents
            if i.district in self.topics and i.version > self.delivered.get(i.incident_id, 0)
        ]
        try:
            for incident in fresh:
                topic = self.topics[incident.district or ""]
                sends.append(
                    await self._producer.send(
                        topic,
                        key=incident.incident_id.encode(),
                        value=incident.model_dump_json().encode(),
                    )
                )
            await asyncio.gather(*sends)
        except KafkaError as exc:
            raise SinkError(f"{self.name}: {exc}") from None
        for incident in fresh:
            self.delivered[incident.incident_id] = max(
                incident.version, self.delivered.get(incident.incident_id, 0)
            )

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()
