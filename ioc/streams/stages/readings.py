"""The readings stage: sensor messages → dead letters, or readings placed on the map and run
through the rule engine → alerts.

State is one engine record per sensor (per source, the message key, for the kinds a geofence
rule watches: it follows objects across a source's cameras), in a changelogged table that is
co-partitioned with the sensor topics, so a state lives where its messages arrive and moves
with them when partitions move. The table also keeps, per topic-partition, the last offset a
batch applied, and each state the last offset it applied per topic: a message read again
after a crash is not applied (nor dead-lettered) twice, so windows count each reading once
whatever happens to the worker.

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
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import orjson

from ioc.geo import ZoneIndex
from ioc.rules.context import EngineState, utc
from ioc.rules.engine import Engine
from ioc.rules.offline import place
from ioc.rules.values import Placed
from ioc.schemas.decode import Decoder
from ioc.schemas.readings import AnyReading
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs, internal_rejection
from ioc.streams.rulebook import Rulebook
from ioc.streams.stages.sensor_status import SensorStatusTracker

log = logging.getLogger("ioc.streams")

SWEEP_EVERY_S = 2.0  # processing time between looks for quiet sources in a partition
SWEEP_SHARE = 0.05  # ... or longer: a look (a pass over every state) takes at most this share
IDLE_LAG_S = 300.0  # event time a quiet source is kept behind its partition's watermark
IDLE_TOPIC_S = 30.0  # processing time after which a silent topic-partition is not waited for
# Readings decoded before they are placed and evaluated: a batch of 500 gateway messages holds
# 50 000, tens of megabytes of models at once; a zone lookup of 5 000 points is as cheap per
# point as one of 50 000.
EVALUATE_EVERY = 5_000


class StateTable(Protocol):
    """Engine states by key. `put` names the changelog partition: a batch mixes partitions,
    and a state must be written where its messages are read, so that it moves with them."""

    def get(self, key: str) -> Any: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...

    def put(self, key: str, value: Any, partition: int) -> None: ...

    async def flush(self) -> None:
        """Make what was put durable; a batch is acknowledged only after."""


class ReadingsStage:
    def __init__(
        self,
        rulebook: Rulebook,
        index: ZoneIndex,
        table: StateTable,
        outputs: Outputs,
        metrics: Metrics,
        decoder: Decoder | None = None,
        topics: Sequence[str] = (),
        statuses: SensorStatusTracker | None = None,
    ) -> None:
        """`topics`: the sensor topics read; the sweep waits for each to be read (or to stay
        silent for IDLE_TOPIC_S) before it trusts a partition's watermark."""
        self.rulebook = rulebook
        self.index = index
        self.table = table
        self.outputs = outputs
        self.metrics = metrics
        self.decoder = decoder or Decoder()
        # (topic, partition) → (latest event time read, processing time of the last message)
        self.topic_progress: dict[tuple[str, int], tuple[float, float]] = {}
        self.last_sweep: dict[int, float] = {}
        self.sweep_cost = 0.0  # seconds the last pass over the states took
        self.topics = tuple(topics)
        self.started: float | None = None
        self.statuses = statuses

    async def handle_batch(self, messages: Sequence[Any]) -> None:
        """Messages of sensor topics, in the order read; returns once the state they made is
        durable (the worker overlaps that wait with the next batch: `apply` and
        ioc/streams/write_behind.py)."""
        await self.apply(messages)
        await self.table.flush()

    async def apply(self, messages: Sequence[Any]) -> None:
        """Handle messages of sensor topics, in the order read, and put the states they
        changed in the table, not yet flushed. The work is done for many readings at once
        (the whole batch, or EVALUATE_EVERY readings of it): one zone lookup for all of them,
        then one evaluation and one state write per key, however many readings it has."""
        engine = self.rulebook.engine
        by_topic: Counter[str] = Counter()
        pending: list[tuple[AnyReading, str | None, int | None, int | None]] = []
        keys: list[str] = []
        redelivered = 0
        now = time.monotonic()  # processing time, for the batch: its messages arrived together
        applied: dict[tuple[str, int], int] = {}
        last: dict[tuple[str, int], int] = {}  # the batch's last offset per topic-partition
        for message in messages:
            topic, partition, offset = message.topic, message.partition, message.offset
            by_topic[topic] += 1
            last[(topic, partition)] = max(offset, last.get((topic, partition), -1))
            raw: bytes = message.value if message.value is not None else b""
            decoded = self.decoder.decode(raw)
            self._progress(topic, partition, decoded.readings, now)
            last_applied = applied.get((topic, partition))
            if last_applied is None:
                last_applied = applied[(topic, partition)] = self._applied(topic, partition)
            if offset <= last_applied:
                redelivered += 1  # read again after a crash: applied, and dead-lettered, before
                continue
            if decoded.rejections:
                await self.outputs.dead_letter(
                    decoded.rejections,
                    raw=raw,
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    key=message.key,
                )
            source = _source_of(message.key, decoded.source_id, decoded.readings)
            for reading in decoded.readings:
                pending.append((reading, topic, partition, offset))
                per_sensor = engine.per_sensor[reading.kind] or source is None
                keys.append(reading.sensor_id if per_sensor else str(source))
            # Never within a message: its readings share an offset, by which a state knows
            # what it has applied.
            if len(pending) >= EVALUATE_EVERY:
                await self._evaluate(engine, place(self.index, pending), keys)
                pending, keys = [], []
        for topic, n in by_topic.items():
            self.metrics.messages.labels(topic).inc(n)
        if redelivered:
            self.metrics.redelivered.inc(redelivered)
        if pending:
            await self._evaluate(engine, place(self.index, pending), keys)
        for (topic, partition), offset in last.items():
            self.table.put(_applied_key(topic, partition), offset, partition)
        await self._sweep({partition for _, partition in last})
        if self.statuses is not None:
            due = self.statuses.due()
            if due:
                await self.outputs.sensor_statuses(due)

    async def _evaluate(self, engine: Engine, placed: list[Placed], keys: list[str]) -> None:
        grouped: dict[str, list[Placed]] = {}
        for key, one in zip(keys, placed, strict=True):
            group = grouped.get(key)
            if group is None:
                grouped[key] = [one]
            else:
                group.append(one)
        kinds: Counter[str] = Counter()
        get = self.table.get
        statuses = self.statuses
        observe = statuses.observe if statuses is not None else None
        for key, readings in grouped.items():
            state: EngineState | None = get(key)
            if state is not None and "offsets" in state:
                # A message read again after a crash: what this state has applied, it skips.
                applied = state["offsets"]
                readings = [r for r in readings if applied.get(r.topic, -1) < (r.offset or 0)]
                if not readings:
                    continue
            last = readings[-1]
            try:
                state, alerts = engine.evaluate(state, readings)
            except Exception as exc:
                # A defect of ours must not stop the province's stream: the reading is kept,
                # with the traceback, where an engineer will find it.
                log.exception("rule engine failed on %s", key)
                reason = (
                    f"rule engine failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                )
                await self.outputs.dead_letter(
                    [internal_rejection("engine_error", reason)],
                    raw=_raw_of(readings),
                    topic=last.topic or "",
                    partition=last.partition or 0,
                    offset=last.offset or 0,
                    key=key.encode(),
                )
                continue
            if "counters" in state:
                self._count(state)
            offsets = state.get("offsets")
            if offsets is None:
                offsets = state["offsets"] = {}
            for one in readings:
                offsets[one.topic] = one.offset
            kinds.update(one.reading.kind for one in readings)
            state["partition"] = last.partition
            if observe is not None:
                for one in readings:
                    observe(one)
                if alerts and statuses is not None:
                    statuses.alerts(alerts, engine.absence_rules)
            if alerts:
                await self.outputs.publish(engine, alerts)
            self.table.put(key, state, last.partition or 0)
        for kind, n in kinds.items():
            self.metrics.readings.labels(kind).inc(n)

    def _applied(self, topic: str, partition: int) -> int:
        value = self.table.get(_applied_key(topic, partition))
        return value if isinstance(value, int) else -1

    def _progress(self, topic: str, partition: int, readings: list[Any], now: float) -> None:
        previous = self.topic_progress.get((topic, partition))
        if not readings:
            if previous is not None:  # it delivered, if nothing valid: it is not silent
                self.topic_progress[(topic, partition)] = (previous[0], now)
            return
        if len(readings) == 1:
            latest = readings[0].ts.timestamp()
        else:
            latest = max(r.ts.timestamp() for r in readings)
        if previous is not None and latest < previous[0]:
            latest = previous[0]
        self.topic_progress[(topic, partition)] = (latest, now)

    def partition_watermark(self, partition: int, now: float) -> float | None:
        if self.started is None:
            self.started = now
        if now - self.started < IDLE_TOPIC_S and any(
            (topic, partition) not in self.topic_progress for topic in self.topics
        ):
            # A topic of this partition has not been read since the worker started (after a
            # restart, one topic may be caught up long before another): it is waited for, or
            # its quiet sources would look silent.
            return None
        progress = [v for (_, p), v in self.topic_progress.items() if p == partition]
        active = [t for t, seen in progress if now - seen < IDLE_TOPIC_S]
        if active:
            return min(active)
        return max((t for t, _ in progress), default=None)

    async def _sweep(self, partitions: set[int]) -> None:
        """Push the quiet sources of these partitions forward, those due a look: one pass over
        the states for all of them (a table of 50 000 sources takes tens of milliseconds)."""
        now = time.monotonic()
        every = max(SWEEP_EVERY_S, self.sweep_cost / SWEEP_SHARE)
        until: dict[int, float] = {}
        for partition in sorted(partitions):
            if now - self.last_sweep.get(partition, 0.0) < every:
                continue
            self.last_sweep[partition] = now
            watermark = self.partition_watermark(partition, now)
            if watermark is not None:
                until[partition] = watermark - IDLE_LAG_S
        if not until:
            return
        quiet = [
            (key, state, state["partition"])
            for key, state in self.table.items()
            if isinstance(state, dict)
            and state.get("partition") in until
            and state.get("watermark") is not None
            and state["watermark"] < until[state["partition"]]
        ]
        self.sweep_cost = time.monotonic() - now
        engine = self.rulebook.engine
        for key, state, partition in quiet:
            state, alerts = engine.advance(state, utc(until[partition]))
            self._count(state)
            if self.statuses is not None and alerts:
                self.statuses.alerts(alerts, engine.absence_rules)
            await self.outputs.publish(engine, alerts)
            self.table.put(key, state, partition)

    def _count(self, state: EngineState) -> None:
        """Move the engine's counters of this evaluation to the metrics: the state keeps none
        (not even an empty dict: 50 000 of them are 3 MB), so it stays small."""
        for name, value in state.pop("counters", {}).items():
            if name.startswith("alerts_"):
                continue  # counted where they are published
            if value:
                self.metrics.engine_events.labels(name).inc(value)


def _applied_key(topic: str, partition: int) -> str:
    """The table key of the last offset a batch applied of one topic-partition (a key no
    sensor or source can have: ids are printable)."""
    return f"\x00applied:{topic}:{partition}"


def _raw_of(readings: Sequence[Placed]) -> bytes:
    return orjson.dumps([r.reading.model_dump(mode="json") for r in readings])


def _source_of(key: bytes | None, source_id: str | None, readings: list[Any]) -> str | None:
    """Messages are keyed by source; an unkeyed one is placed by the source it names."""
    if key:
        return key.decode("utf-8", "replace")[:128]
    if source_id:
        return source_id
    if readings:
        return str(readings[0].source_id)
    return None
