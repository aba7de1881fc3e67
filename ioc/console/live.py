"""What the console follows live: every incident version on `ioc.incidents` and every sensor
status on `ioc.sensors`, read by one consumer per console without a consumer group, so that
each replica sees everything and none owns a partition.

Sensor statuses arrive a source at a time; a district caller gets its district's share.
Each event's id is the position of the feed just after it: the next offset of every partition
of both topics. A browser that reconnects (to this replica or another, after a restart)
presents its last id, and gets what followed from the recent events kept in memory; when they
no longer reach back that far it gets a `reset` event and reloads the list. Sensor statuses are
kept, latest per sensor, from the beginning of their compacted topic: that is the sensor map.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from ioc.console.access import Principal
from ioc.kafka.admin import topic_partitions
from ioc.kafka.cluster import Cluster
from ioc.schemas.incidents import Incident
from ioc.schemas.sensors import SensorStatus, SourceStatuses

log = logging.getLogger("ioc.console")

EventKind = Literal["incident", "sensors", "reset"]
RECENT_EVENTS = 20_000
# Incident versions read back at start, per partition, so that a browser that was connected
# to a console that restarted can resume without a reset.
BACKLOG_PER_PARTITION = 500
SUBSCRIBER_QUEUE = 5_000
BATCH_EVENTS = 500  # events written to a client at once, at most


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """`incident`: one version (of `district`); `sensors`: a source's statuses, with `parts`
    holding each district's share of them for district callers."""

    kind: EventKind
    id: str
    data: bytes
    district: str | None = None
    key: str = ""
    topic: int = 0
    partition: int = 0
    offset: int = -1
    parts: dict[str | None, bytes] | None = None
    frame: bytes = b""  # the event as the stream sends it, encoded once for every client

    def __post_init__(self) -> None:
        if not self.frame:
            frame = b"event: %s\nid: %s\ndata: %s\n\n" % (
                self.kind.encode(),
                self.id.encode(),
                self.data,
            )
            object.__setattr__(self, "frame", frame)

    def seen_by(self, principal: Principal) -> LiveEvent | None:
        """This event as `principal` may see it: whole, its district's share, or nothing."""
        if self.parts is None:
            return self if principal.sees_district(self.district) else None
        if principal.district is None:
            return self
        part = self.parts.get(principal.district)
        return replace(self, data=part, parts=None, frame=b"") if part is not None else None


class Position:
    """Next offsets of every partition of the followed topics, as an event id."""

    def __init__(self, offsets: Sequence[list[int]]) -> None:
        self.offsets = [list(o) for o in offsets]

    def advance(self, topic: int, partition: int, offset: int) -> None:
        self.offsets[topic][partition] = offset + 1

    def encode(self) -> str:
        return "~".join(".".join(map(str, o)) for o in self.offsets)

    @classmethod
    def decode(cls, text: str, shape: Sequence[int]) -> Position | None:
        """None for an id this feed cannot have given (another topic layout, garbage)."""
        parts = text.split("~")
        if len(parts) != len(shape):
            return None
        try:
            offsets = [[int(x) for x in part.split(".")] for part in parts]
        except ValueError:
            return None
        if [len(o) for o in offsets] != list(shape) or any(x < 0 for o in offsets for x in o):
            return None
        return cls(offsets)


class Subscription:
    """One SSE client: the events it missed, then its queue. A client too slow to keep up
    gets a reset, not a backlog."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.pending: deque[LiveEvent] = deque()
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self.overflowed = False

    def offer(self, event: LiveEvent) -> None:
        if self.overflowed:
            return
        seen = event.seen_by(self.principal)
        if seen is None:
            return
        try:
            self.queue.put_nowait(seen)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(LiveEvent("reset", event.id, b"{}"))

    async def next(self, wait_s: float) -> LiveEvent | None:
        """The next event; None when none came within `wait_s` seconds."""
        if self.pending:
            return self.pending.popleft()
        try:
            event = await asyncio.wait_for(self.queue.get(), wait_s)
        except TimeoutError:
            return None
        if event.kind == "reset":
            self.overflowed = False
        return event

    async def batch(self, wait_s: float, most: int = BATCH_EVENTS) -> list[LiveEvent]:
        """The next event and those already waiting behind it (up to `most`): one write to
        the client for all of them. Empty when none came within `wait_s` seconds."""
        first = await self.next(wait_s)
        if first is None:
            return []
        events = [first]
        while len(events) < most:
            if self.pending:
                events.append(self.pending.popleft())
                continue
            try:
                event = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            if event.kind == "reset":
                self.overflowed = False
            events.append(event)
        return events


class LiveFeed:
    def __init__(
        self,
        cluster: Cluster,
        incidents_topic: str,
        sensors_topic: str,
        *,
        recent: int = RECENT_EVENTS,
    ) -> None:
        self.cluster = cluster
        self.topics = (incidents_topic, sensors_topic)
        self.recent: deque[LiveEvent] = deque(maxlen=recent)
        self.sensors: dict[str, SensorStatus] = {}
        self.ready = asyncio.Event()  # the sensor map has caught up with its topic
        self.connected = False
        self.rejected = 0
        self._subscribers: set[Subscription] = set()
        self._waiters: list[tuple[Callable[[Incident], bool], asyncio.Future[Incident]]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._position = Position([[], []])
        # Per partition, the first offset whose events are still kept in `recent`.
        self._kept_from: list[list[int]] = [[], []]
        # Sensor partitions not yet read to the end they had at start.
        self._catch_up: dict[TopicPartition, int] = {}

    @property
    def shape(self) -> list[int]:
        return [len(o) for o in self._position.offsets]

    @property
    def position(self) -> str:
        return self._position.encode()

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.cluster.aiokafka(),
        )
        await consumer.start()
        self._consumer = consumer
        try:
            partitions = [await self._partitions(consumer, topic) for topic in self.topics]
            consumer.assign([tp for tps in partitions for tp in tps])
            ends = await consumer.end_offsets([tp for tps in partitions for tp in tps])
            begins = await consumer.beginning_offsets([tp for tps in partitions for tp in tps])
            incidents, sensors = partitions
            # Incidents from a backlog before the end; sensors from the beginning: the map.
            first = [
                [max(begins[tp], ends[tp] - BACKLOG_PER_PARTITION) for tp in incidents],
                [begins[tp] for tp in sensors],
            ]
            for tps, offsets in zip(partitions, first, strict=True):
                for tp, offset in zip(tps, offsets, strict=True):
                    consumer.seek(tp, offset)
            self._position = Position([[ends[tp] for tp in tps] for tps in partitions])
            self._kept_from = first
            self._catch_up = {tp: ends[tp] for tp in sensors if ends[tp] > begins[tp]}
        except BaseException:
            await consumer.stop()
            raise
        if not self._catch_up:
            self.ready.set()
        self.connected = True
        self._task = asyncio.create_task(self._run(), name="ioc-console-live-feed")

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        found = await topic_partitions(consumer, topic)
        if not found:
            raise KafkaError(f"topic {topic} does not exist: create it with `ioc topics create`")
        return found

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batches = await self._consumer.getmany(timeout_ms=1000, max_records=2000)
                self.connected = True
            except KafkaError as exc:
                # aiokafka reconnects by itself; the console stays up and says so.
                self.connected = False
                log.warning("live feed: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for tp, records in batches.items():
                topic = self.topics.index(tp.topic)
                for record in records:
                    self._take(topic, tp, record.offset, record.key, record.value)

    def _take(
        self, topic: int, tp: TopicPartition, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        replay = offset < self._position.offsets[topic][tp.partition]
        if not replay:
            self._position.advance(topic, tp.partition, offset)
        if value is None:  # a tombstone: nothing to show
            self._caught_up(tp, offset)
            return
        try:
            if topic == 0:
                incident = Incident.model_validate_json(value)
                event = LiveEvent(
                    "incident",
                    self.position,
                    value,
                    incident.district,
                    incident.incident_id,
                    topic,
                    tp.partition,
                    offset,
                )
                if not replay:
                    self._resolve_waiters(incident)
            else:
                statuses = SourceStatuses.model_validate_json(value)
                parts: dict[str | None, list[bytes]] = {}
                for sensor in statuses.statuses():
                    known = self.sensors.get(sensor.sensor_id)
                    # Read from several partitions at start, a source's parts come in any order.
                    if known is not None and known.published_at > sensor.published_at:
                        continue
                    self.sensors[sensor.sensor_id] = sensor
                    parts.setdefault(sensor.district, []).append(sensor.model_dump_json().encode())
                event = LiveEvent(
                    "sensors",
                    self.position,
                    b"[" + b",".join(b for one in parts.values() for b in one) + b"]",
                    None,
                    statuses.source_id,
                    topic,
                    tp.partition,
                    offset,
                    parts={d: b"[" + b",".join(one) + b"]" for d, one in parts.items()},
                )
        except ValidationError:
            # Workers write these topics; a record the console cannot read is counted and
            # logged, never shown half-read.
            self.rejected += 1
            log.warning("live feed: unreadable record at %s[%d]@%d", tp.topic, tp.partition, offset)
            self._caught_up(tp, offset)
            return
        self._keep(event)
        if not replay:
            for subscriber in list(self._subscribers):
                subscriber.offer(event)
        self._caught_up(tp, offset)

    def _caught_up(self, tp: TopicPartition, offset: int) -> None:
        end = self._catch_up.get(tp)
        if end is not None and offset + 1 >= end:
            del self._catch_up[tp]
            if not self._catch_up:
                self.ready.set()

    def _resolve_waiters(self, incident: Incident) -> None:
        still: list[tuple[Callable[[Incident], bool], asyncio.Future[Incident]]] = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(incident):
                future.set_result(incident)
            else:
                still.append((predicate, future))
        self._waiters = still

    def expect(self, predicate: Callable[[Incident], bool]) -> asyncio.Future[Incident]:
        """A future of the first incident version from now on that satisfies `predicate`,
        registered at once: the version may arrive before the caller's next await ends."""
        future: asyncio.Future[Incident] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return future

    def _missed(self, since: Position, sub: Subscription) -> list[LiveEvent] | None:
        """The recent events after `since` that `sub` may see; None when some are gone."""
        for topic, offsets in enumerate(since.offsets):
            for partition, wanted in enumerate(offsets):
                if wanted > self._position.offsets[topic][partition]:
                    return None  # an id from the future: another feed's
                if wanted < self._kept_from[topic][partition]:
                    return None  # older than what is kept
        missed = []
        for e in self.recent:
            if e.offset >= since.offsets[e.topic][e.partition]:
                seen = e.seen_by(sub.principal)
                if seen is not None:
                    missed.append(seen)
        return missed

    def _keep(self, event: LiveEvent) -> None:
        if len(self.recent) == self.recent.maxlen:
            gone = self.recent[0]  # dropped by the append: events before it are no longer kept
            self._kept_from[gone.topic][gone.partition] = gone.offset + 1
        self.recent.append(event)

    def open(self, principal: Principal, last_event_id: str | None) -> Subscription:
        """A subscription to the events `principal` may see from now on, after those missed
        since `last_event_id` (or a reset when they cannot be replayed)."""
        sub = Subscription(principal)
        # No await between computing what was missed and joining: nothing falls between.
        if last_event_id:
            since = Position.decode(last_event_id, self.shape)
            missed = self._missed(since, sub) if since is not None else None
            if missed is None:
                sub.pending.append(LiveEvent("reset", self.position, b"{}"))
            else:
                sub.pending.extend(missed)
        self._subscribers.add(sub)
        return sub

    def close(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        for _, future in self._waiters:
            future.cancel()
