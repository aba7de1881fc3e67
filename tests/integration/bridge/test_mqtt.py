"""`ioc bridge mqtt` against the suite's own Mosquitto and both Kafka brokers: real clients
(mosquitto_pub, paho) publish readings, device values and FIWARE messages; bad input is
dead-lettered with its reason; a bridge killed mid-stream loses nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka.partitioner.default import DefaultPartitioner

from ioc.cli import main
from ioc.ports import free_port
from simulators.records import read_records
from tests.harness.bridges import BridgeProcess, paho_publish
from tests.harness.kafka import Kafka
from tests.harness.paths import DEVICES
from tests.harness.servers import BrokerUnderTest, on_both_brokers
from tests.services.mosquitto import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.mqtt]
IOC = [sys.executable, "-m", "ioc"]

REGISTRY = DEVICES


def mosquitto_pub(
    broker: MosquittoBroker, topic: str, *args: str, stdin: bytes | None = None
) -> None:
    program = shutil.which("mosquitto_pub")
    if program is None:
        pytest.skip("mosquitto_pub is not installed (scripts/install-test-deps.sh)")
    subprocess.run(
        [program, "-h", broker.host, "-p", str(broker.port), "-q", "1", "-t", topic, *args],
        input=stdin,
        check=True,
        timeout=120,
    )


@pytest.fixture
def bridge_env(
    ioc_env: dict[str, str], any_broker: BrokerUnderTest, tmp_path: Path
) -> dict[str, str]:
    tag = time.monotonic_ns()
    env = {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"br{tag}.",
        # Each test's bridges are their own shared-subscription group: no test's messages
        # are queued for another's sessions.
        "IOC_MQTT_GROUP": f"test{tag}",
    }
    if any_broker.kind == "tansu":
        env["IOC_BRIDGE_IDEMPOTENT"] = "false"  # Tansu refuses idempotent producers
    subprocess.run([*IOC, "devices", "load", str(REGISTRY)], env=env, check=True, timeout=60)
    return env


def _headers(record: Any) -> dict[str, bytes]:
    return dict(record.headers or ())


@on_both_brokers
def test_readings_device_values_and_fiware_messages_reach_their_topics(
    bridge_env: dict[str, str], mosquitto: MosquittoBroker, kafka: Kafka, tmp_path: Path
) -> None:
    prefix = bridge_env["IOC_TOPIC_PREFIX"]
    bridge = BridgeProcess(bridge_env, tmp_path / "bridge.log", mosquitto.url, "t-route").start()
    try:
        reading = {
            "kind": "traffic",
            "sensor_id": "trf-1",
            "source_id": "gw-da-lat",
            "ts": "2026-12-02T07:00:00Z",
            "lat": 11.95,
            "lon": 108.44,
            "road": "QL20",
            "vehicle_count": 7,
        }
        mosquitto_pub(
            mosquitto, "lamdong/da-lat/traffic/gw-da-lat", "-m", orjson.dumps(reading).decode()
        )
        paho_publish(mosquitto, [("/json/group-key/aq-0042/attrs", b'{"pm2_5": 41.5, "t": 77}')])

        (traffic,) = kafka.consume_until(
            f"{prefix}sensors.traffic", lambda out: len(out) >= 1, 30, records=True
        )
        assert traffic.key == b"gw-da-lat"
        # The partition kafka-python (the simulators, `ioc replay`) gives the key: a source's
        # messages meet in one partition whether they came over MQTT or straight to Kafka.
        four = list(range(4))  # IOC_PARTITIONS' default
        assert traffic.partition == DefaultPartitioner()(traffic.key, four, four)
        assert orjson.loads(traffic.value) == reading  # byte for byte: the worker validates
        origin = _headers(traffic)["ioc-origin"].decode()
        assert origin == f"{mosquitto.url}/lamdong/da-lat/traffic/gw-da-lat"

        (env,) = kafka.consume_until(
            f"{prefix}sensors.environment", lambda out: len(out) >= 1, 30, records=True
        )
        assert env.key == b"envnet-da-lat"
        value = orjson.loads(env.value)
        assert (value["sensor_id"], value["kind"], value["lat"]) == (
            "env-da-lat-042",
            "environment",
            11.9404,
        )
        assert value["pm25"] == 41.5
        assert value["temperature_c"] == pytest.approx(25.0)
        assert _headers(env)["ioc-origin"].decode().endswith("/json/group-key/aq-0042/attrs")
        bridge.wait_metric("ioc_bridge_acknowledged_total", 2, 10, transport="mqtt")
        assert bridge.metric("ioc_bridge_forwarded_total", transport="mqtt") == 2
    finally:
        assert bridge.stop() == 0, bridge.log()


def test_bad_input_is_dead_lettered_with_its_reason_and_counted(
    bridge_env: dict[str, str], mosquitto: MosquittoBroker, kafka: Kafka, tmp_path: Path
) -> None:
    prefix = bridge_env["IOC_TOPIC_PREFIX"]
    big = b'{"pm2_5": 1, "pad": "' + b"x" * 1_100_000 + b'"}'
    bridge = BridgeProcess(bridge_env, tmp_path / "bridge.log", mosquitto.url, "t-bad").start()
    try:
        paho_publish(
            mosquitto,
            [
                ("/json/group-key/ghost/attrs", b'{"pm2_5": 1}'),  # unknown device
                ("/json/stolen-key/aq-0042/attrs", b'{"pm2_5": 1}'),  # wrong API key
                ("/json/group-key/aq-0042/attrs", b"\xff\xfe not json"),
                ("/json/group-key/aq-0042/attrs", big),
                ("lamdong/atlantis/traffic/gw-1", b"{}"),  # no such district: no template
            ],
        )
        letters = kafka.consume_until(
            f"{prefix}ioc.deadletter", lambda out: len(out) >= 5, 30, what="five dead letters"
        )
        by_category = {orjson.loads(v)["category"]: orjson.loads(v) for _, v in letters}
        assert set(by_category) == {
            "unknown-device",
            "wrong-apikey",
            "not-json",
            "too-large",
            "no-template",
        }
        assert "ghost" in by_category["unknown-device"]["reason"]
        assert by_category["too-large"]["payload_size"] == len(big)
        for letter in by_category.values():
            assert letter["origin"].startswith(mosquitto.url)
        for category in by_category:
            assert bridge.metric("ioc_bridge_deadletters_total", reason=category) == 1
        # Dead-lettered is acknowledged: the broker does not send them again.
        bridge.wait_metric("ioc_bridge_acknowledged_total", 5, 10, transport="mqtt")
        assert bridge.healthy()
    finally:
        assert bridge.stop() == 0, bridge.log()


@on_both_brokers
def test_nothing_is_lost_when_the_bridge_is_killed_mid_stream(
    bridge_env: dict[str, str], mosquitto: MosquittoBroker, kafka: Kafka, tmp_path: Path
) -> None:
    """20 000 QoS 1 messages; SIGKILL the bridge once it has acknowledged some, start it
    again with the same client id: every message reaches Kafka (some twice)."""
    prefix = bridge_env["IOC_TOPIC_PREFIX"]
    total = 20_000
    lines = b"".join(
        orjson.dumps(
            {
                "kind": "environment",
                "sensor_id": f"env-{i % 100}",
                "source_id": "st-1",
                "ts": "2026-12-02T07:00:00Z",
                "lat": 11.9,
                "lon": 108.4,
                "pm25": 1,
                "n": i,
            }
        )
        + b"\n"
        for i in range(total)
    )
    log = tmp_path / "bridge.log"
    first = BridgeProcess(bridge_env, log, mosquitto.url, "t-kill").start()
    publisher = subprocess.Popen(
        [
            shutil.which("mosquitto_pub") or "mosquitto_pub",
            "-h",
            mosquitto.host,
            "-p",
            str(mosquitto.port),
            "-q",
            "1",
            "-l",
            "-t",
            "lamdong/da-lat/environment/st-1",
        ],
        stdin=subprocess.PIPE,
    )
    assert publisher.stdin is not None
    publisher.stdin.write(lines)
    publisher.stdin.close()
    first.wait_metric("ioc_bridge_acknowledged_total", 2000, 60, transport="mqtt")
    first.kill()
    assert publisher.wait(timeout=120) == 0
    second = BridgeProcess(bridge_env, log, mosquitto.url, "t-kill").start()
    try:
        seen: set[int] = set()
        read = 0  # of the messages consumed so far, those already in `seen`

        def all_there(out: list[tuple[Any, bytes]]) -> bool:
            nonlocal read
            seen.update(orjson.loads(v)["n"] for _, v in out[read:])
            read = len(out)
            return len(seen) == total

        out = kafka.consume_until(
            f"{prefix}sensors.environment", all_there, 120, what=f"all {total} messages"
        )
        assert len(seen) == total
        assert len(out) >= total  # duplicates allowed: at least once
    finally:
        assert second.stop() == 0, second.log()


def test_simulate_sends_the_stations_over_mqtt_and_the_rest_to_kafka(
    bridge_env: dict[str, str], mosquitto: MosquittoBroker, kafka: Kafka, tmp_path: Path
) -> None:
    """`ioc simulate --mqtt … --mqtt-kinds environment`, through a running bridge: the
    stations' messages arrive in Kafka as `--out` writes them, the traffic and cameras'
    straight from the simulator."""
    prefix = bridge_env["IOC_TOPIC_PREFIX"]
    start = (datetime.now(UTC) - timedelta(hours=3)).replace(second=0, microsecond=0)
    scenario = [*IOC, "simulate", "--scenario", "demo", "--fast", "--start", start.isoformat()]
    recording = tmp_path / "demo.jsonl"
    subprocess.run([*scenario, "--out", str(recording), "-q"], env=bridge_env, check=True)
    records = list(read_records(recording))
    stations = {r.value for r in records if r.topic == "sensors.environment"}
    traffic = sum(r.topic == "sensors.traffic" for r in records)
    assert stations
    assert traffic

    bridge = BridgeProcess(bridge_env, tmp_path / "bridge.log", mosquitto.url, "t-sim").start()
    try:
        done = subprocess.run(
            [*scenario, "--mqtt", mosquitto.url, "--mqtt-kinds", "environment", "-q"],
            env=bridge_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        arrived = kafka.consume_until(
            f"{prefix}sensors.environment",
            lambda out: {v for _, v in out} >= stations,
            120,
            what="every station message",
        )
        assert {v for _, v in arrived} == stations
        assert len(kafka.consume(f"{prefix}sensors.traffic", traffic)) == traffic
    finally:
        assert bridge.stop() == 0, bridge.log()


def test_simulate_says_what_is_wrong_with_its_mqtt_options_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No Kafka at all: the MQTT options are checked, and the MQTT broker reached, first.
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IOC_BROKER", f"kafka://127.0.0.1:{free_port()}")
    base = ["simulate", "--scenario", "demo", "--fast", "--timeout", "2"]
    for args, said in [
        (["--mqtt", "http://x"], "mqtt://HOST:PORT"),
        (["--mqtt", "mqtt://127.0.0.1:1", "--mqtt-kinds", "weather"], "--mqtt-kinds: weather"),
        (["--mqtt", "mqtt://127.0.0.1:1"], "MQTT broker mqtt://127.0.0.1:1 unreachable"),
    ]:
        assert main([*base, *args]) != 0
        err = capsys.readouterr().err
        assert said in err
        assert "Kafka" not in err
