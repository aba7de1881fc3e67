"""The demo's environment stations through the MQTT bridge and a real worker: a bridge killed
mid-stream, and stations that resend, put readings into Kafka twice; the worker applies each
once, and the incidents are those of a clean run."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ioc.geo import ZoneIndex, default_zones
from ioc.schemas import Decoder
from simulators.records import Record
from tests.harness.bridges import BridgeProcess, paho_publish
from tests.harness.kafka import Kafka
from tests.harness.processes import http_get, ready, worker
from tests.harness.scenario import expected, recording, stored, summary
from tests.harness.servers import BrokerUnderTest, on_both_brokers
from tests.harness.waiting import wait_for
from tests.services.mosquitto import MosquittoBroker

pytestmark = [pytest.mark.integration, pytest.mark.mqtt]

STATIONS = "sensors.environment"
RESEND_EVERY, RESENT = 50, 10  # a station that resends its last 10 messages every 50


def mqtt_topics(records: list[Record]) -> dict[bytes, str]:
    """Each station's MQTT topic, lamdong/{district}/environment/{source}, its district found
    from where its readings are."""
    index = ZoneIndex(default_zones())
    where: dict[bytes, tuple[float, float]] = {}
    for record in records:
        if record.key in where:
            continue
        try:
            reading = orjson.loads(record.value)["readings"][0]
            where[record.key] = (float(reading["lat"]), float(reading["lon"]))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
            continue  # one of the scenario's broken messages
    keys = sorted(where)
    placement = index.locate([where[k][0] for k in keys], [where[k][1] for k in keys])
    return {
        key: f"lamdong/{placement.district[n] or 'da-lat'}/environment/{key.decode()}"
        for n, key in enumerate(keys)
    }


def with_resends(records: list[Record]) -> list[Record]:
    out: list[Record] = []
    for n, record in enumerate(records, 1):
        out.append(record)
        if n % RESEND_EVERY == 0:
            out.extend(records[n - RESENT : n])
    return out


def engine_events(base: str, event: str) -> float:
    text = http_get(f"{base}/metrics")[2]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "ioc_rule_engine_events_total"
                and sample.labels.get("event") == event
            ):
                return float(sample.value)
    return 0.0


@on_both_brokers
def test_readings_a_killed_bridge_and_resending_stations_doubled_make_a_clean_runs_incidents(
    pipeline_env: dict[str, str],
    any_broker: BrokerUnderTest,
    mosquitto: MosquittoBroker,
    kafka: Kafka,
    tmp_path: Path,
) -> None:
    tag = time.monotonic_ns()
    env = {
        **pipeline_env,
        "IOC_MQTT_GROUP": f"test{tag}",
        # A hundred in flight: the copies a kill makes are each station's last few messages,
        # as they are for a real fleet, where a station sends one message in a minute.
        "IOC_MQTT_RECEIVE_MAXIMUM": "100",
    }
    if any_broker.kind == "tansu":
        env["IOC_BRIDGE_IDEMPOTENT"] = "false"
    prefix = env["IOC_TOPIC_PREFIX"]
    records = recording()
    want, _, _ = expected(records)
    stations = [r for r in records if r.topic == STATIONS]
    topics = mqtt_topics(stations)
    sent = [(topics[r.key], r.value) for r in with_resends(stations) if r.key in topics]
    assert len(sent) > len(stations) * 1.15

    log = tmp_path / "bridge.log"
    first = BridgeProcess(env, log, mosquitto.url, "t-resend").start()
    publisher = threading.Thread(target=paho_publish, args=(mosquitto, sent))
    publisher.start()
    first.wait_metric("ioc_bridge_acknowledged_total", len(sent) // 3, 60, transport="mqtt")
    first.kill()
    publisher.join(timeout=120)  # Mosquitto queues the rest for the bridge's session
    assert not publisher.is_alive()
    second = BridgeProcess(env, log, mosquitto.url, "t-resend").start()
    try:
        # Every message as many times as it was sent (a resent copy is a message of its own),
        # perhaps more: a killed bridge's last messages come again.
        wanted = Counter(value for _, value in sent)
        kafka.consume_until(
            f"{prefix}{STATIONS}",
            lambda got: Counter(value for _, value in got) >= wanted,
            120,
            what="every station message",
        )
    finally:
        assert second.stop() == 0, second.log()

    # The rest of the scenario straight to Kafka, as the traffic and camera servers send it.
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    for record in records:
        if record.topic != STATIONS:
            by_topic[f"{prefix}{record.topic}"].append((record.key, record.value))
    for topic, items in by_topic.items():
        kafka.produce(topic, items)
    db = Path(env["IOC_DATA_DIR"]) / "incidents.db"
    base = f"http://127.0.0.1:{env['IOC_WEB_PORT']}"
    with worker(env, tmp_path / "worker.log") as proc:
        ready(env, proc)
        wait_for(lambda: summary(stored(db)) == want, 180, "a clean run's incidents", proc)
        # Every reading the stations resent is counted as a duplicate: each copy follows its
        # original closely. Of the bridge's redeliveries, those within the readings the
        # worker keeps per sensor are counted too (ioc/rules/duplicates.py): more, perhaps.
        decoder = Decoder()
        resent = Counter(value for _, value in sent) - Counter(r.value for r in stations)
        copies = sum(n * len(decoder.decode(value).readings) for value, n in resent.items())
        assert copies > 0
        wait_for(
            lambda: engine_events(base, "duplicates") >= copies,
            30,
            f"the worker to count {copies} duplicates",
            proc,
        )
