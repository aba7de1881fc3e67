"""Publishing recordings (simulated or recorded messages) to Kafka with kafka-python.

Messages go out in record order, each with its key and its recorded timestamp. Order per key
survives: the same key always lands on the same partition (kafka-python's default murmur2
partitioner, as Java clients use), and one request in flight per connection keeps a retried
batch from overtaking the next one.

Nothing here waits forever: connecting retries with backoff for `connect_timeout` seconds, a
send blocks at most as long, and the final flush is bounded by the delivery timeout.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kafka import KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NoBrokersAvailable

from ioc.kafka.cluster import Cluster
from ioc.ports import none_accept
from simulators.records import Record

if TYPE_CHECKING:
    # Only a type here: importing ioc.cli at run time would import every command, and with
    # them this module, while it is being imported.
    from ioc.cli.progress import Progress

T = TypeVar("T")

LINGER_MS = 10
REQUEST_TIMEOUT_MS = 10_000
# A paced replay checks the clock (and redraws its progress line) at least this often.
MAX_SLEEP = 1.0


class PublishError(Exception):
    """Messages could not be published; the message says what to do about it."""


class BrokerUnreachable(Exception):
    """No broker answered within the connect timeout."""


def broker_urls(servers: Sequence[str]) -> str:
    return ";".join(f"kafka://{server}" for server in servers)


def unreachable_message(servers: Sequence[str], timeout: float, cause: str) -> str:
    return (
        f"broker {broker_urls(servers)} unreachable after {timeout:g} s: {cause}; "
        "is it running? set IOC_BROKER or start `ioc broker`"
    )


def describe(exc: BaseException) -> str:
    """`Type: message`, once: kafka-python's errors already start with their class name."""
    text = str(exc)
    name = type(exc).__name__
    if name in text:
        return text
    return f"{name}: {text}" if text else name


def bootstrap(
    make: Callable[[float], T],
    servers: Sequence[str],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`make(seconds_left)` a kafka-python client, retrying with backoff until `timeout` s have
    passed; then BrokerUnreachable with the last cause."""
    deadline = clock() + timeout
    delay = 0.1
    while True:
        left = deadline - clock()
        try:
            return make(max(left, 0.1))
        except (NoBrokersAvailable, KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
            cause = none_accept(servers) or describe(exc)
        left = deadline - clock()
        if left <= 0:
            raise BrokerUnreachable(unreachable_message(servers, timeout, cause))
        sleep(min(delay, left))  # backoff between connection attempts
        delay = min(delay * 2, 2.0)


def wait_for_broker(
    servers: Sequence[str],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once some server accepts a TCP connection; BrokerUnreachable after `timeout` s.
    A cheap check before the admin client, whose own timeout is the broker's ready timeout."""

    def check(_: float) -> None:
        cause = none_accept(servers)
        if cause is not None:
            raise OSError(cause)

    bootstrap(check, servers, timeout, clock=clock, sleep=sleep)


class _Future(Protocol):
    def add_errback(self, f: Callable[..., Any], *args: Any) -> Any: ...

    def get(self, timeout: float | None = None) -> Any: ...


class Producer(Protocol):
    """The part of kafka-python's KafkaProducer that publishing uses."""

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> _Future: ...

    def partitions_for(self, topic: str) -> set[int]: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


def _timeouts_ms(connect_timeout: float) -> tuple[int, int]:
    """(request, delivery) timeouts: the broker silent for `connect_timeout` s is an error, but
    a request may take up to 10 s on a busy cluster before it is retried."""
    block_ms = max(1000, int(connect_timeout * 1000))
    request_ms = min(REQUEST_TIMEOUT_MS, block_ms)
    return request_ms, max(request_ms + LINGER_MS, block_ms)


def kafka_producer(cluster: Cluster, connect_timeout: float) -> Callable[[float], Producer]:
    """A factory for `bootstrap`: a KafkaProducer whose every wait is bounded."""
    request_ms, delivery_ms = _timeouts_ms(connect_timeout)

    def make(left: float) -> Producer:
        producer: Producer = KafkaProducer(
            client_id="ioc-publish",
            acks="all",
            linger_ms=LINGER_MS,
            # One request in flight: a retried batch cannot overtake the next (order per key).
            max_in_flight_requests_per_connection=1,
            max_block_ms=max(1000, int(connect_timeout * 1000)),
            request_timeout_ms=request_ms,
            delivery_timeout_ms=delivery_ms,
            api_version_auto_timeout_ms=int(min(left, 2.0) * 1000),
            **cluster.kafka_python(),
        )
        return producer

    return make


@dataclass(frozen=True, slots=True)
class PublishSummary:
    messages: dict[str, int]  # by topic as published (with the prefix)
    bytes: int  # keys and values
    elapsed: float  # wall seconds from connection to the last acknowledgement

    @property
    def total(self) -> int:
        return sum(self.messages.values())

    @property
    def rate(self) -> float:
        return self.total / self.elapsed if self.elapsed > 0 else 0.0


def pace(
    records: Iterable[Record],
    speed: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield each record when its time comes: the i-th at t0 + (ts_i - ts_0) / speed, t0 being
    when the first is yielded. `speed=None`: at once. A record whose time has passed (its ts
    is earlier than a previous one's, or the consumer was slow) is yielded at once."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive")
    t0: float | None = None
    ts0 = 0
    for record in records:
        if speed is not None:
            if t0 is None:
                t0, ts0 = clock(), record.ts
            due = t0 + (record.ts - ts0) / 1000 / speed
            while (wait := due - clock()) > 0:
                sleep(min(wait, MAX_SLEEP))  # waiting for wall time: this is pacing
                if tick is not None:
                    tick()
        yield record


@dataclass
class _Deliveries:
    """Failures reported by the producer's I/O thread through future callbacks."""

    failed: Counter[str] = field(default_factory=Counter)
    first_cause: dict[str, str] = field(default_factory=dict)
    timed_out: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def errback(self, topic: str, exc: BaseException) -> None:
        with self.lock:
            self.failed[topic] += 1
            self.first_cause.setdefault(topic, describe(exc))
            self.timed_out |= isinstance(exc, KafkaTimeoutError)

    def any(self) -> bool:
        with self.lock:
            return bool(self.failed)

    def error(self, servers: Sequence[str]) -> PublishError:
        with self.lock:
            parts = [
                f"{count:,} message(s) to {topic} not delivered ({self.first_cause[topic]})"
                for topic, count in sorted(self.failed.items())
            ]
            if self.timed_out:
                parts.append(f"is broker {broker_urls(servers)} still running?")
        return PublishError("; ".join(parts))


def publish(
    records: Iterable[Record],
    cluster: Cluster,
    *,
    topic_prefix: str = "",
    speed: float | None = None,
    progress: Progress | None = None,
    connect_timeout: float = 30.0,
    keep_partitions: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    producer_factory: Callable[[float], Producer] | None = None,
    elsewhere: Callable[[Record], str | None] | None = None,
) -> PublishSummary:
    """Produce `records` in order to `topic_prefix + record.topic`, paced by `speed` (None: as
    fast as possible, 1: as recorded); return what was delivered, or raise PublishError.

    `keep_partitions`: send each record to the partition it was recorded from (when it has
    one) rather than the key's partition; an error if the topic has fewer partitions.
    `producer_factory` replaces kafka-python's producer (tests). `elsewhere` may send a
    record another way (over MQTT), in its turn, and return what to count it as; None: it
    goes to Kafka.
    """
    servers = cluster.servers
    make = producer_factory or kafka_producer(cluster, connect_timeout)
    try:
        producer = bootstrap(make, servers, connect_timeout, clock=clock, sleep=sleep)
    except BrokerUnreachable as exc:
        raise PublishError(str(exc)) from None
    started = clock()
    sent: Counter[str] = Counter()
    size = 0
    deliveries = _Deliveries()
    partitions: dict[str, int] = {}
    tick = progress.refresh if progress is not None else None
    flushed = False
    try:
        for record in pace(records, speed, clock=clock, sleep=sleep, tick=tick):
            if elsewhere is not None and (counted := elsewhere(record)) is not None:
                sent[counted] += 1
                size += len(record.value)
                if progress is not None:
                    progress.advance()
                continue
            topic = topic_prefix + record.topic
            partition = None
            if keep_partitions and record.partition is not None:
                partition = record.partition
                if topic not in partitions:
                    partitions[topic] = len(producer.partitions_for(topic))
                if partition >= partitions[topic]:
                    raise PublishError(
                        f"the recording puts a message in partition {partition} of {topic}, "
                        f"which has {partitions[topic]}; give the topic more partitions or "
                        "replay without --keep-partitions"
                    )
            future = producer.send(
                topic, record.value, key=record.key, partition=partition, timestamp_ms=record.ts
            )
            future.add_errback(deliveries.errback, topic)
            sent[topic] += 1
            size += len(record.value) + len(record.key or b"")
            if progress is not None:
                progress.advance()
            # Stop at the first failure: sending on would reorder the failed key's messages.
            if deliveries.any():
                break
        producer.flush(timeout=_flush_timeout(connect_timeout))
        flushed = True
    except KafkaTimeoutError as exc:
        raise PublishError(
            f"broker {broker_urls(servers)} stopped answering "
            f"({sum(sent.values()):,} messages sent): {exc}"
        ) from None
    except KafkaError as exc:
        raise PublishError(
            f"publishing failed after {sum(sent.values()):,} messages: {describe(exc)}"
        ) from None
    finally:
        # After Ctrl-C or an error, give what is buffered a moment, not the full delivery timeout.
        _close(producer, 1.0 if flushed else 2.0)
    if deliveries.any():
        raise deliveries.error(servers)
    return PublishSummary(dict(sent), size, clock() - started)


def _close(producer: Producer, timeout: float) -> None:
    # close() flushes first. Only on the way out of an error can that time out, and then the
    # error already being raised says more than a second one would.
    with contextlib.suppress(KafkaError):
        producer.close(timeout=timeout)


def _flush_timeout(connect_timeout: float) -> float:
    # Past the delivery timeout every pending message has failed (and been counted) anyway.
    return _timeouts_ms(connect_timeout)[1] / 1000 + 5.0
