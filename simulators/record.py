"""Recording Kafka topics into Records, with kafka-python and no consumer group.

Every partition of the topics is assigned and read from its beginning (or from now) up to the
end it had when recording started, unless following. Records come out merged across
partitions by (timestamp, topic, partition, offset), taking each partition's messages in offset
order: the same topics give the same recording, and the order per key (per partition) is kept
even where timestamps go backwards.

The end of a partition is taken from the first fetch's high watermark, not from ListOffsets:
Tansu 0.6 answers ListOffsets(latest) with the first offset of the partition's last batch + 1,
which would cut the last batch short. On Apache Kafka the two agree (the first fetch may add
the few messages produced in the milliseconds between them).
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from ioc.kafka.cluster import Cluster
from simulators.publish import BrokerUnreachable, bootstrap, broker_urls, describe
from simulators.records import Record

if TYPE_CHECKING:
    # Only a type here: importing ioc.cli at run time would import every command, and with
    # them this module, while it is being imported.
    from ioc.cli.progress import Progress

POLL_MS = 200
# A partition with this many records waiting for the merge is paused until they are written,
# so that one busy partition cannot fill memory while a slow one is fetched.
BUFFER_PER_PARTITION = 20_000
REQUEST_TIMEOUT_MS = 10_000


class RecordError(Exception):
    """Recording failed; the message says why and what to do."""


@dataclass
class _Partition:
    tp: TopicPartition
    topic: str  # logical name, without the prefix
    end: int | None  # read up to (excluding) this offset; None: follow
    confirmed: bool = False  # end or floor taken from a fetch's high watermark
    floor: int | None = None  # --from-now: skip what was there before the first fetch
    done: bool = False
    buffer: deque[Any] = field(default_factory=deque)


def kafka_consumer(cluster: Cluster) -> Callable[[float], Any]:
    def make(left: float) -> Any:
        return KafkaConsumer(
            client_id="ioc-record",
            group_id=None,  # no group: assign() works at once, and commits nothing
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=POLL_MS,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            api_version_auto_timeout_ms=int(min(left, 2.0) * 1000),
            **cluster.kafka_python(),
        )

    return make


class Recorder:
    """Open (connect, check the topics, find where to stop), then iterate `records()`."""

    def __init__(
        self,
        cluster: Cluster,
        topics: Sequence[str],
        *,
        topic_prefix: str = "",
        from_now: bool = False,
        follow: bool = False,
        max_messages: int | None = None,
        timeout: float = 30.0,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
        consumer_factory: Callable[[float], Any] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("no topic to record")
        self.servers = cluster.servers
        self.topics = tuple(dict.fromkeys(topics))
        self.prefix = topic_prefix
        self.from_now = from_now
        # From now without following would record nothing at all.
        self.follow = follow or from_now
        self.max_messages = max_messages
        self.timeout = timeout
        self.progress = progress
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._make = consumer_factory or kafka_consumer(cluster)
        self._consumer: Any = None
        self._parts: dict[TopicPartition, _Partition] = {}
        self._start: dict[TopicPartition, int] = {}

    def __enter__(self) -> Recorder:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def total(self) -> int | None:
        """Messages to record as far as known (offsets, so compaction's gaps count): None
        when following."""
        if self.follow:
            return None
        total = sum(p.end - self._start[p.tp] for p in self._parts.values() if p.end is not None)
        return total if self.max_messages is None else min(total, self.max_messages)

    def open(self) -> None:
        try:
            self._consumer = bootstrap(self._make, self.servers, self.timeout, clock=self.clock)
        except BrokerUnreachable as exc:
            raise RecordError(str(exc)) from None
        try:
            self._assign()
            if self.from_now:
                self._find_floors()
        except KafkaError as exc:
            self.close()
            raise RecordError(f"broker {broker_urls(self.servers)}: {describe(exc)}") from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _assign(self) -> None:
        consumer = self._consumer
        # Listing every topic does not create any; asking for one by name would (Tansu
        # auto-creates a topic when its metadata is requested).
        existing = set(consumer.topics())
        missing = [t for t in self.topics if self.prefix + t not in existing]
        if missing:
            raise RecordError(_missing_message(missing, existing, self.prefix))
        tps = []
        for topic in self.topics:
            for partition in sorted(consumer.partitions_for_topic(self.prefix + topic)):
                tp = TopicPartition(self.prefix + topic, partition)
                tps.append(tp)
                self._parts[tp] = _Partition(tp, topic, end=None)
        consumer.assign(tps)
        if self.from_now:
            consumer.seek_to_end(*tps)
            self._start = {tp: 0 for tp in tps}
            return
        consumer.seek_to_beginning(*tps)
        self._start = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        for tp, part in self._parts.items():
            part.end = ends[tp]
            if part.end <= self._start[tp]:
                # Empty, and known to be: no fetch needs to confirm it.
                part.confirmed = part.done = True
                consumer.pause(tp)
        if self.progress is not None:
            self.progress.total = self.total

    def _find_floors(self) -> None:
        """--from-now: fetch once from every partition, so that "now" is when open() returns
        rather than whenever each partition's first fetch happens to come back."""
        deadline = self.clock() + self.timeout
        while not all(p.confirmed for p in self._parts.values()):
            if self.clock() > deadline:
                raise RecordError(self._stalled_message())
            self._take(self._consumer.poll(timeout_ms=POLL_MS))

    def records(self) -> Iterator[Record]:
        """The recorded messages in merge order; ends at the captured end offsets (or never
        when following, or at --max)."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("Recorder.records() before open()")
        written = 0
        live = self.from_now
        idle_since = self.clock()
        while self.max_messages is None or written < self.max_messages:
            parts = self._parts.values()
            if not live and all(p.done and not p.buffer for p in parts):
                if not self.follow:
                    return
                live = self._go_live()
            batch = consumer.poll(timeout_ms=POLL_MS)
            progressed = self._take(batch)
            progressed = self._update_done() or progressed
            if progressed:
                idle_since = self.clock()
            elif not live and self.clock() - idle_since > self.timeout:
                raise RecordError(self._stalled_message())
            for record in self._merge(live):
                yield record
                written += 1
                self.counts[record.topic] += 1
                if self.progress is not None:
                    self.progress.advance()
                if self.max_messages is not None and written >= self.max_messages:
                    return

    def _take(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Buffer polled messages, learning each partition's end (or floor) from the first
        fetch's high watermark; True if anything new was buffered."""
        consumer = self._consumer
        for part in self._parts.values():
            if part.confirmed:
                continue
            highwater = consumer.highwater(part.tp)
            if highwater is None:
                continue
            part.confirmed = True
            if self.from_now:
                part.floor = highwater
            elif part.end is not None and highwater > part.end:
                part.end = highwater
                if self.progress is not None:
                    self.progress.total = self.total
        took = False
        for tp, messages in batch.items():
            part = self._parts[tp]
            for message in messages:
                if part.end is not None and message.offset >= part.end:
                    continue
                if part.floor is not None and message.offset < part.floor:
                    continue
                part.buffer.append(message)
                took = True
            if len(part.buffer) >= BUFFER_PER_PARTITION:
                consumer.pause(tp)
        return took

    def _update_done(self) -> bool:
        consumer = self._consumer
        changed = False
        for part in self._parts.values():
            if part.done or part.end is None or not part.confirmed:
                continue
            if consumer.position(part.tp) >= part.end:
                part.done = changed = True
                consumer.pause(part.tp)
        return changed

    def _merge(self, live: bool) -> Iterator[Record]:
        """Write what can be written in merge order. Before the end, the smallest head may be
        taken only while every unfinished partition has one: a message still to come from an
        empty buffer could be smaller. Live, each poll's messages are written as they came."""
        consumer = self._consumer
        parts = list(self._parts.values())
        if live:
            queues = [p.buffer for p in parts if p.buffer]
            merged = heapq.merge(*(list(q) for q in queues), key=_order)
            for q in queues:
                q.clear()
            for message in merged:
                yield self._record(message)
            return
        while True:
            if any(not p.buffer and not p.done for p in parts):
                break
            heads = [p for p in parts if p.buffer]
            if not heads:
                break
            part = min(heads, key=lambda p: _order(p.buffer[0]))
            message = part.buffer.popleft()
            if len(part.buffer) == BUFFER_PER_PARTITION // 2 and not part.done:
                consumer.resume(part.tp)
            yield self._record(message)

    def _go_live(self) -> bool:
        """Caught up: from here on, follow every partition from where its end was."""
        consumer = self._consumer
        for part in self._parts.values():
            if part.end is not None:
                # Messages past the end were fetched and dropped during the catch-up.
                consumer.seek(part.tp, part.end)
            part.end = None
            part.done = False
        consumer.resume(*self._parts)
        if self.progress is not None:
            self.progress.total = None
        return True

    def _record(self, message: Any) -> Record:
        part = self._parts[TopicPartition(message.topic, message.partition)]
        record = Record(
            topic=part.topic,
            key=message.key,
            value=message.value if message.value is not None else b"",
            # -1: a message without a timestamp (pre-0.10 format); a recording needs one.
            ts=max(message.timestamp, 0),
            partition=message.partition,
            offset=message.offset,
        )
        if record.key is not None:
            try:
                record.key.decode("utf-8")
            except UnicodeDecodeError:
                raise RecordError(
                    f"{message.topic} partition {message.partition} offset {message.offset}: "
                    f"the key {record.key!r} is not UTF-8 text, which a recording cannot hold"
                ) from None
        return record

    def _stalled_message(self) -> str:
        short = [
            f"{p.tp.topic}[{p.tp.partition}]"
            + ("" if p.end is None else f" at {self._consumer.position(p.tp)} of {p.end}")
            for p in self._parts.values()
            if not (p.done if p.end is not None else p.confirmed)
        ]
        return (
            f"no answer for {self.timeout:g} s from broker {broker_urls(self.servers)} about "
            f"{', '.join(short)}; is the broker still running?"
        )


def _order(message: Any) -> tuple[int, str, int, int]:
    return (message.timestamp, message.topic, message.partition, message.offset)


def _missing_message(missing: Sequence[str], existing: set[str], prefix: str) -> str:
    visible = sorted(t for t in existing if not t.startswith("__"))  # not Kafka's internal ones
    if prefix:
        names = ", ".join(f"{t} ({prefix}{t})" for t in missing)
        mine = [t[len(prefix) :] for t in visible if t.startswith(prefix)]
        known = (
            f"topics with the prefix {prefix!r}: {', '.join(mine)}"
            if mine
            else f"no topic has the prefix {prefix!r}; the broker has: {', '.join(visible) or '-'}"
        )
    else:
        names = ", ".join(missing)
        known = f"the broker has: {', '.join(visible) or 'no topic at all'}"
    return f"no such topic: {names}; {known}"
