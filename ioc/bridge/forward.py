"""The bridges' Kafka side: each message produced with `acks=all` by an idempotent producer,
its outcome reported to a callback once Kafka has it (or has refused it for good).

A bridge acknowledges a message to its sender only in that callback: to MQTT with a PUBACK,
to HTTP with a 202. Messages the bridge cannot route are dead-lettered through the same
producer, with the reason, and are acknowledged only once the dead letter is written.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ioc.bridge.metrics import BridgeMetrics
from ioc.bridge.routing import Refused, Routed, sensor_topic
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import DEADLETTER
from ioc.schemas.deadletter import DeadLetter, DeadLetterError
from ioc.settings import Settings

log = logging.getLogger("ioc.bridge")
Done = Callable[[BaseException | None], None]
ORIGIN_HEADER = "ioc-origin"
KEPT_OF_LARGE = 65_536
RECEIVED_HEADER = "ioc-received-at"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a message came from, for the Kafka headers and any dead letter."""

    url: str  # mqtt://broker:1883/lamdong/da-lat/traffic/gw-1, http://10.0.0.5/ingest/traffic
    received_at: datetime

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        return [
            (ORIGIN_HEADER, self.url.encode()),
            (RECEIVED_HEADER, self.received_at.isoformat().encode()),
        ]


class Forwarder:
    """librdkafka's producer (confluent-kafka), not kafka-python's: a bridge produces every
    message a device sends, kafka-python spends many times librdkafka's CPU on each (see
    bench/HISTORY.md), and the bridge's MQTT side already takes most of a core. Delivery
    reports are served by a thread of the forwarder's own."""

    def __init__(
        self,
        settings: Settings,
        cluster: Cluster,
        metrics: BridgeMetrics,
        *,
        client_id: str,
        delivery_timeout_s: float = 120.0,
        idempotent: bool = True,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._lock = threading.Lock()
        self.in_flight = 0
        self.failures = 0  # sends Kafka refused or timed out, since the start
        self.idempotent = idempotent
        self.producer = Producer(
            {
                "client.id": client_id,
                "acks": "all",
                # Idempotent: a batch retried after a lost response is written once, in order.
                "enable.idempotence": idempotent,
                # Without idempotence, one request in flight still keeps a retry in order.
                "max.in.flight.requests.per.connection": 5 if idempotent else 1,
                "linger.ms": 5,
                # The Java client's partitioner, which kafka-python, Faust and the simulators
                # use too: a source's messages land in one partition whichever way they came
                # (librdkafka's default, CRC32, would split a source across two).
                "partitioner": "murmur2_random",
                "delivery.timeout.ms": int(delivery_timeout_s * 1000),
                # Room for what the bridge lets be in flight, many times over: a send
                # never fails for want of it.
                "queue.buffering.max.messages": 1_000_000,
                "error_cb": self._error,
                **cluster.librdkafka(),
            }
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-reports", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.1)  # delivery reports call back here

    def _error(self, error: KafkaError) -> None:
        if error.fatal():
            log.error("Kafka producer: %s", error)
            if self.idempotent and error.code() == KafkaError._FATAL:
                log.error(
                    "a broker that refuses idempotent producers (Tansu does) needs "
                    "IOC_BRIDGE_IDEMPOTENT=false"
                )
        else:
            log.warning("Kafka: %s", error.str())

    def reachable(self, timeout: float = 2.0) -> bool:
        """Whether a broker answers a metadata request now."""
        try:
            self.producer.list_topics(timeout=timeout)
        except KafkaException:
            return False
        return True

    def forward(self, routed: Routed, origin: Origin, done: Done) -> None:
        self._send(self.settings.topic(routed.topic), routed.key, routed.value, origin, done)

    def dead_letter(self, refused: Refused, raw: bytes, origin: Origin, done: Done) -> None:
        self.metrics.deadletters.labels(refused.category).inc()
        where = sensor_topic(refused.kind) if refused.kind else None
        size = len(raw)
        # A dead letter must fit in a Kafka message: past the limit, the beginning is kept.
        raw = raw[:KEPT_OF_LARGE] if size > KEPT_OF_LARGE else raw
        record = DeadLetter(
            reason=refused.reason,
            category=refused.category,
            errors=[DeadLetterError(loc="", type=refused.category, msg=refused.reason)],
            source_topic=self.settings.topic(where) if where else origin.url,
            origin=origin.url,
            payload=base64.b64encode(raw).decode(),
            payload_size=size,
            received_at=origin.received_at,
        )
        key = (where or "bridge").encode()
        value = record.model_dump_json().encode()
        self._send(self.settings.topic(DEADLETTER), key, value, origin, done)

    def _send(self, topic: str, key: bytes, value: bytes, origin: Origin, done: Done) -> None:
        started = time.monotonic()
        with self._lock:
            self.in_flight += 1
        self.metrics.in_flight.inc()

        def report(error: KafkaError | None, _message: Any) -> None:
            with self._lock:
                self.in_flight -= 1
                if error is not None:
                    self.failures += 1
            self.metrics.in_flight.dec()
            if error is None:
                self.metrics.produce_latency.observe(time.monotonic() - started)
                done(None)
            else:
                done(KafkaException(error))

        while True:
            try:
                self.producer.produce(
                    topic, value=value, key=key, headers=origin.headers(), on_delivery=report
                )
                return
            except BufferError:
                self.producer.poll(0.1)  # the queue is full: wait for reports to make room
            except KafkaException as exc:
                report(exc.args[0], None)
                return

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for Kafka's answers; the number of messages still without one."""
        left: int = self.producer.flush(timeout)
        return left

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._poller.join(timeout=2)


def now() -> datetime:
    return datetime.now(UTC)
