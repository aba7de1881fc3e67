"""The readings stage: sensor messages → dead letters, or readings placed on the map and run
through the rule engine → alerts.

State is one engine record per source (the message key), in a changelogged table that is
co-partitioned with the sensor topics, so a source's state lives where its messages arrive
and moves with them when partitions move. Each record remembers the last offset it applied
per topic: a message read again after a crash is not applied twice, so windows count each
reading once whatever happens to the worker.

Event time advances per source. A source that stops sending (a station that lost power)
would never see its own watermark move, so the partition's watermark pushes quiet sources
forward, IDLE_LAG behind, to close their windows and notice their silence. The partition's
watermark is the lowest of its topics' latest event times (Kafka orders messages within a
topic-partition only: during a fast replay one topic may be read hours ahead of another), and
a topic-partition that has delivered nothing for IDLE_TOPIC_S of processing time stops
holding it back, as Kafka Streams' max.task.idle.ms does.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import MutableMapping
from typing import Any

from ioc.geo import ZoneIndex
from ioc.rules.context import EngineState, utc
from ioc.rules.offline import place
from ioc.schemas.decode import Decoder
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs, internal_rejection
from ioc.streams.rulebook import Rulebook

log = logging.getLogger("ioc.streams")

SWEEP_EVERY_S = 2.0  # processing time between looks for quiet sources in a partition
IDLE_LAG_S = 300.0  # event time a quiet source is kept behind its partition's watermark
IDLE_TOPIC_S = 30.0  # processing time after which a silent topic-partition is not waited for


class ReadingsStage:
    def __init__(
        self,
        rulebook: Rulebook,
        index: ZoneIndex,
        table: MutableMapping[str, Any],
        outputs: Outputs,
        metrics: Metrics,
        decoder: Decoder | None = None,
    ) -> None:
        self.rulebook = rulebook
        self.index = index
        self.table = table
        self.outputs = outputs
        self.metrics = metrics
        self.decoder = decoder or Decoder()
        # (topic, partition) → (latest event time read, processing time of the last message)
        self.topic_progress: dict[tuple[str, int], tuple[float, float]] = {}
        self.last_sweep: dict[int, float] = {}

    async def handle(self, message: Any) -> None:
        """One Kafka message of a sensor topic (a faust Message: topic, partition, offset, key,
        value)."""
        topic, partition, offset = message.topic, message.partition, message.offset
        self.metrics.messages.labels(topic).inc()
        raw: bytes = message.value if message.value is not None else b""
        decoded = self.decoder.decode(raw)
        self._progress(topic, partition, decoded.readings)
        source = _source_of(message.key, decoded.source_id, decoded.readings)
        state: EngineState | None = self.table.get(source) if source is not None else None
        if state is not None and state.get("offsets", {}).get(topic, -1) >= offset:
            self.metrics.redelivered.inc()
            return
        if decoded.rejections:
            await self.outputs.dead_letter(
                decoded.rejections,
                raw=raw,
                topic=topic,
                partition=partition,
                offset=offset,
                key=message.key,
            )
        if not decoded.readings or source is None:
            return
        engine = self.rulebook.engine
        placed = place(self.index, [(r, topic, partition, offset) for r in decoded.readings])
        before = dict(state["counters"]) if state is not None else {}
        try:
            state, alerts = engine.evaluate(state, placed)
        except Exception as exc:
            # A defect of ours must not stop the province's stream: the message is kept, with
            # the traceback, where an engineer will find it.
            log.exception("rule engine failed on %s:%s@%s", topic, partition, offset)
            reason = f"rule engine failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            await self.outputs.dead_letter(
                [internal_rejection("engine_error", reason)],
                raw=raw,
                topic=topic,
                partition=partition,
                offset=offset,
                key=message.key,
            )
            return
        for reading in decoded.readings:
            self.metrics.readings.labels(reading.kind).inc()
        self._count(before, state["counters"])
        state.setdefault("offsets", {})[topic] = offset
        state["partition"] = partition
        await self.outputs.publish(engine, alerts)
        self.table[source] = state
        await self._sweep(partition)

    def _progress(self, topic: str, partition: int, readings: list[Any]) -> None:
        latest = max((r.ts.timestamp() for r in readings), default=None)
        previous = self.topic_progress.get((topic, partition))
        if previous is not None and (latest is None or latest < previous[0]):
            latest = previous[0]
        if latest is not None:
            self.topic_progress[(topic, partition)] = (latest, time.monotonic())

    def partition_watermark(self, partition: int, now: float) -> float | None:
        progress = [v for (_, p), v in self.topic_progress.items() if p == partition]
        active = [t for t, seen in progress if now - seen < IDLE_TOPIC_S]
        if active:
            return min(active)
        return max((t for t, _ in progress), default=None)

    async def _sweep(self, partition: int) -> None:
        now = time.monotonic()
        if now - self.last_sweep.get(partition, 0.0) < SWEEP_EVERY_S:
            return
        self.last_sweep[partition] = now
        watermark = self.partition_watermark(partition, now)
        if watermark is None:
            return
        until = watermark - IDLE_LAG_S
        quiet = [
            (source, state)
            for source, state in self.table.items()
            if state is not None
            and state.get("partition") == partition
            and state.get("watermark") is not None
            and state["watermark"] < until
        ]
        engine = self.rulebook.engine
        for source, state in quiet:
            before = dict(state["counters"])
            state, alerts = engine.advance(state, utc(until))
            self._count(before, state["counters"])
            await self.outputs.publish(engine, alerts)
            self.table[source] = state

    def _count(self, before: dict[str, int], after: dict[str, int]) -> None:
        for name, value in after.items():
            if name.startswith("alerts_") or name == "readings":
                continue  # counted where they are published
            delta = value - before.get(name, 0)
            if delta:
                self.metrics.engine_events.labels(name).inc(delta)


def _source_of(key: bytes | None, source_id: str | None, readings: list[Any]) -> str | None:
    """Messages are keyed by source; an unkeyed one is placed by the source it names."""
    if key:
        return key.decode("utf-8", "replace")[:128]
    if source_id:
        return source_id
    if readings:
        return str(readings[0].source_id)
    return None
