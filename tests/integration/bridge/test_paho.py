"""The bridge's paho client reads its socket in chunks (ioc.bridge.paho_reads): against the
suite's Mosquitto it must receive what paho's own client receives, in the same order, with
packets cut across chunks and none left waiting in its buffer."""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.bridge.paho_reads import CHUNK, BufferedClient
from tests.harness.bridges import paho_publish
from tests.services.mosquitto import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.mqtt]


def payloads() -> list[bytes]:
    # Small ones, many to a chunk; one larger than a chunk; sizes whose remaining length
    # takes one, two and three bytes, so that a packet's header is cut at every place.
    sizes = [10, 100, 127, 128, 300, 16_383, 16_384, 2 * CHUNK + 17, 5, 70_000]
    sizes += [(n * 7919) % 3000 for n in range(1500)]
    return [bytes([n % 251]) * size + str(n).encode() for n, size in enumerate(sizes)]


class Subscriber:
    def __init__(self, client: paho.Client, broker: MosquittoBroker, topic: str) -> None:
        self.client = client
        self.got: list[bytes] = []
        self.changed = threading.Condition()
        self.subscribed = threading.Event()
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        # A long keepalive: a packet left in the buffer would wait for the next PINGRESP.
        client.connect(broker.host, broker.port, keepalive=120)
        client.loop_start()
        assert self.subscribed.wait(30)

    def _on_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        with self.changed:
            self.got.append(bytes(message.payload))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[bytes]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.got) >= count, timeout)
            return list(self.got)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5])
def test_the_buffered_client_receives_what_paho_receives(
    mosquitto: MosquittoBroker, protocol: int
) -> None:
    topic = f"paho-reads/{time.monotonic_ns()}"
    sent = payloads()
    ours = Subscriber(
        BufferedClient(CallbackAPIVersion.VERSION2, protocol=protocol), mosquitto, topic
    )
    theirs = Subscriber(
        paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol), mosquitto, topic
    )
    try:
        paho_publish(mosquitto, [(topic, p) for p in sent])
        assert theirs.wait_for(len(sent), 60) == sent
        assert ours.wait_for(len(sent), 60) == sent
    finally:
        ours.close()
        theirs.close()


def test_a_burst_read_in_one_chunk_is_parsed_without_more_data(mosquitto: MosquittoBroker) -> None:
    """Many small messages arrive in one read; nothing more comes after them. Each must be
    delivered from the buffer, not when the socket next has data."""
    topic = f"paho-reads/{time.monotonic_ns()}"
    sent = [f"m{n}".encode() for n in range(400)]
    ours = Subscriber(BufferedClient(CallbackAPIVersion.VERSION2), mosquitto, topic)
    try:
        paho_publish(mosquitto, [(topic, p) for p in sent])
        assert ours.wait_for(len(sent), 30) == sent
        assert ours.client.buffered() == 0  # type: ignore[attr-defined]
    finally:
        ours.close()
