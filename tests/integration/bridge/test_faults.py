"""The bridges when what they stand between goes away: Mosquitto restarted mid-stream, Kafka
stopped mid-stream (nothing is acknowledged until it is back; HTTP answers 429 while the
producer is backed up), and a registry entry removed by `ioc devices load`."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness.bridges import CAMERA_READING, BridgeProcess
from tests.harness.kafka import Kafka
from tests.harness.paths import DEVICES
from tests.harness.servers import serve
from tests.services.kafka import KafkaCluster
from tests.services.mosquitto import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.mqtt]
IOC = [sys.executable, "-m", "ioc"]
REGISTRY = DEVICES
TOPIC = "lamdong/da-lat/environment/st-1"


def reading(n: int) -> bytes:
    """The n-th of a station's readings, one a second: each message is its own."""
    minute, second = divmod(n, 60)
    return orjson.dumps(
        {
            "kind": "environment",
            "sensor_id": "env-1",
            "source_id": "st-1",
            "ts": f"2026-12-02T{7 + minute // 60:02d}:{minute % 60:02d}:{second:02d}Z",
            "lat": 11.9,
            "lon": 108.4,
            "pm25": n % 500,
        }
    )


def numbers(out: list[tuple[Any, bytes]]) -> set[int]:
    return {int(orjson.loads(v)["pm25"]) + 500 * _block(v) for _, v in out}


def _block(value: bytes) -> int:
    ts = orjson.loads(value)["ts"]
    hour, minute, second = int(ts[11:13]), int(ts[14:16]), int(ts[17:19])
    return ((hour - 7) * 3600 + minute * 60 + second) // 500


def _ranges(numbers: list[int]) -> str:
    spans: list[list[int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}–{b}" if a != b else str(a) for a, b in spans)


class Station:
    """A device on paho: QoS 1, a persistent session, reconnecting on its own; what it has
    not had acknowledged it sends again after a reconnect (paho keeps it meanwhile)."""

    def __init__(self, broker: MosquittoBroker, client_id: str) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.acked = 0
        self.changed = threading.Condition()
        self.client.on_publish = self._on_publish
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_publish(self, *_: Any) -> None:
        with self.changed:
            self.acked += 1
            self.changed.notify_all()

    def send(self, messages: list[bytes], gap: threading.Event | None = None) -> None:
        """Publish them all and return once the broker has acknowledged them (paho's own
        wait refuses while it is disconnected, though it sends them after reconnecting)."""
        with self.changed:
            wanted = self.acked + len(messages)
        for n, payload in enumerate(messages):
            self.client.publish(TOPIC, payload, qos=1)
            if gap is not None and n == len(messages) // 2:
                gap.wait(60)  # the second half once the test has done its harm
        with self.changed:
            if not self.changed.wait_for(lambda: self.acked >= wanted, timeout=120):
                raise AssertionError(f"the broker acknowledged {self.acked} of {wanted}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def env_for(base: dict[str, str], bootstrap: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    tag = time.monotonic_ns()
    return {
        **base,
        "IOC_BROKER": ";".join(f"kafka://{s}" for s in bootstrap.split(",")),
        "IOC_TOPIC_PREFIX": f"bf{tag}.",
        "IOC_MQTT_GROUP": f"test{tag}",
        "IOC_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }


@pytest.fixture
def own_kafka(kafka_home: Path) -> Iterator[KafkaCluster]:
    """Apache Kafka of this test alone: it is stopped and started again."""
    yield from serve(KafkaCluster(kafka_home, nodes=1))


@pytest.fixture
def own_mosquitto() -> Iterator[MosquittoBroker]:
    """Mosquitto of this test alone: it is restarted."""
    yield from serve(MosquittoBroker())


@pytest.mark.kafka
def test_a_mosquitto_restart_mid_stream_loses_nothing(
    ioc_env: dict[str, str],
    apache_kafka: KafkaCluster,
    own_mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    # A plain subscription: Mosquitto does not keep a shared one across its restart, and
    # routes what devices send before the bridges subscribe again to nobody (docs/devices.md).
    env = env_for(ioc_env, apache_kafka.bootstrap, tmp_path, IOC_MQTT_GROUP="")
    kafka = Kafka(apache_kafka.bootstrap)
    total = 4000
    bridge = BridgeProcess(env, tmp_path / "bridge.log", own_mosquitto.url, "t-restart").start()
    station = Station(own_mosquitto, "station-st-1")
    restarted = threading.Event()
    sender = threading.Thread(
        target=station.send, args=([reading(n) for n in range(total)], restarted)
    )
    try:
        sender.start()
        bridge.wait_metric("ioc_bridge_acknowledged_total", 500, 60, transport="mqtt")
        own_mosquitto.restart()  # SIGTERM: Mosquitto saves its sessions, and finds them again
        restarted.set()
        bridge.wait_metric("ioc_bridge_reconnects_total", 1, 60, peer="mqtt")
        sender.join(timeout=180)
        assert not sender.is_alive()
        out = kafka.consume_until(
            f"{env['IOC_TOPIC_PREFIX']}sensors.environment",
            lambda got: len(numbers(got)) == total,
            120,
            fail=False,
        )
        missing = sorted(set(range(total)) - numbers(out))
        assert not missing, f"{len(missing)} never reached Kafka: {_ranges(missing)}"
        assert bridge.metric("ioc_bridge_mqtt_connected") == 1
        assert bridge.healthy()
    finally:
        station.close()
        assert bridge.stop() == 0, bridge.log()


@pytest.mark.kafka
def test_while_kafka_is_down_nothing_is_acknowledged_and_http_answers_429(
    ioc_env: dict[str, str],
    own_kafka: KafkaCluster,
    mosquitto: MosquittoBroker,
    tmp_path: Path,
) -> None:
    env = env_for(ioc_env, own_kafka.bootstrap, tmp_path, IOC_INGEST_MAX_IN_FLIGHT="1")
    kafka = Kafka(own_kafka.bootstrap)
    subprocess.run([*IOC, "devices", "load", str(REGISTRY)], env=env, check=True, timeout=60)
    mqtt = BridgeProcess(env, tmp_path / "mqtt.log", mosquitto.url, "t-down").start()
    http = BridgeProcess(env, tmp_path / "http.log", None).start()
    station = Station(mosquitto, "station-down")
    (node,) = own_kafka.nodes
    assert node.server is not None
    try:
        station.send([reading(n) for n in range(100)])
        mqtt.wait_metric("ioc_bridge_acknowledged_total", 100, 60, transport="mqtt")
        node.server.stop()
        down = threading.Thread(target=station.send, args=([reading(n) for n in range(100, 200)],))
        down.start()
        # Every one of them reached the bridge; none is acknowledged, none forgotten.
        mqtt.wait_metric("ioc_bridge_received_total", 200, 60, transport="mqtt")
        assert mqtt.metric("ioc_bridge_acknowledged_total", transport="mqtt") == 100
        assert mqtt.metric("ioc_bridge_in_flight") > 0

        # HTTP: the first request waits for Kafka; with it in flight, the next is told to
        # come back later.
        answers: list[httpx.Response] = []
        camera = CAMERA_READING

        def post() -> None:
            answers.append(
                httpx.post(
                    f"{http.url}/ingest/camera",
                    content=orjson.dumps(camera),
                    headers={"X-API-Key": "vms-key"},
                    timeout=120,
                )
            )

        waiting = threading.Thread(target=post)
        waiting.start()
        http.wait_metric("ioc_bridge_in_flight", 1, 30)
        busy = httpx.post(
            f"{http.url}/ingest/camera",
            content=orjson.dumps(camera),
            headers={"X-API-Key": "vms-key"},
            timeout=30,
        )
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "1"
        assert busy.headers["content-type"] == "application/problem+json"
        assert http.metric("ioc_bridge_refused_total", status="429") == 1

        own_kafka.start_node(node)
        waiting.join(timeout=120)
        assert [a.status_code for a in answers] == [202]
        down.join(timeout=120)
        assert not down.is_alive()
        out = kafka.consume_until(
            f"{env['IOC_TOPIC_PREFIX']}sensors.environment",
            lambda got: len(numbers(got)) == 200,
            120,
            what="all 200 readings",
        )
        assert numbers(out) == set(range(200))
        mqtt.wait_metric("ioc_bridge_acknowledged_total", 200, 60, transport="mqtt")
    finally:
        station.close()
        assert mqtt.stop() == 0, mqtt.log()
        assert http.stop() == 0, http.log()


def test_devices_load_removes_what_the_file_no_longer_has(
    ioc_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**ioc_env, "IOC_TOPIC_PREFIX": f"dv{time.monotonic_ns()}."}

    def ioc(*args: str, stream: str = "stdout") -> str:
        done = subprocess.run(
            [*IOC, "devices", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return str(getattr(done, stream))

    ioc("load", str(REGISTRY))
    before = [orjson.loads(line) for line in ioc("list", "--json").splitlines()]
    assert len(before) == 3  # two devices and a source
    kept = next(e for e in before if e.get("device_id") == "aq-0042")
    smaller = tmp_path / "devices.yaml"
    # The same device as the registry lists it, with its key: unchanged.
    smaller.write_text(yaml.safe_dump({"devices": [{**kept, "apikey": "group-key"}]}))
    said = ioc("load", str(smaller), stream="stderr")
    assert "(0 new or changed, 2 removed)" in said
    after = [orjson.loads(line) for line in ioc("list", "--json").splitlines()]
    assert after == [kept]
