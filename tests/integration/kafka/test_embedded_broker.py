"""The embedded broker: lifecycle, errors, and real Kafka clients against it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer

from ioc.kafka.admin import ensure_topics, list_topics, partition_counts, seed_offsets
from ioc.kafka.cluster import Cluster
from ioc.kafka.embedded import (
    BinaryNotFound,
    BrokerError,
    BrokerNotReady,
    EmbeddedBroker,
    PortInUse,
    discover,
    free_port,
    port_is_free,
)
from ioc.kafka.topics import TopicSpec, topic_specs
from ioc.settings import Settings
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC, alive
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def _topic() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


def test_produce_and_consume_through_a_consumer_group_with_aiokafka(
    broker: EmbeddedBroker,
) -> None:
    topic = _topic()

    async def run() -> list[bytes]:
        await ensure_topics(Cluster.at(broker.bootstrap), [TopicSpec(topic, 3)])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            for i in range(30):
                await producer.send(topic, f"m{i}".encode(), key=f"k{i % 5}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=f"g-{topic}",
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        await consumer.start()
        got: list[bytes] = []
        try:
            while len(got) < 30:
                batch = await consumer.getmany(timeout_ms=1000)
                got += [r.value for records in batch.values() for r in records]
            await consumer.commit()
            assert len(consumer.assignment()) == 3
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(run())
    assert sorted(got) == sorted(f"m{i}".encode() for i in range(30))


def test_produce_and_consume_through_a_consumer_group_with_kafka_python(
    broker: EmbeddedBroker,
) -> None:
    topic = _topic()
    asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), [TopicSpec(topic, 2)]))
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    for i in range(20):
        producer.send(topic, f"v{i}".encode(), key=b"gateway-1")
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        consumer_timeout_ms=20000,
    )
    try:
        got = []
        for record in consumer:
            got.append(record.value)
            if len(got) == 20:
                break
        # One key: one partition, so the order is the order of production.
        assert got == [f"v{i}".encode() for i in range(20)]
        consumer.commit()
    finally:
        consumer.close()


def test_ensure_topics_is_idempotent_and_honours_partition_counts(
    broker: EmbeddedBroker, settings: Settings
) -> None:
    prefixed = settings.model_copy(update={"topic_prefix": f"{_topic()}.", "partitions": 3})
    specs = topic_specs(prefixed)
    first = asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), specs))
    assert {s.action for s in first} == {"created"}
    second = asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), specs))
    assert {s.action for s in second} == {"exists"}
    counts = asyncio.run(partition_counts(Cluster.at(broker.bootstrap), [s.name for s in specs]))
    assert counts == {s.name: s.partitions for s in specs}
    assert counts[prefixed.topic("sensors.traffic")] == 3
    assert counts[prefixed.topic("ioc.zones")] == 1


def test_a_new_group_is_seeded_at_the_start_of_each_partition_once(
    broker: EmbeddedBroker, kafka: Kafka
) -> None:
    name, group = _topic(), f"group-{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), [TopicSpec(name, 2)]))
    kafka.produce(name, [(b"k", b"v")])
    assert asyncio.run(seed_offsets(Cluster.at(broker.bootstrap), group, [name])) == 2
    assert kafka.committed(group, name) == {0: 0, 1: 0}
    # Seeded once: a group with commits keeps them.
    assert asyncio.run(seed_offsets(Cluster.at(broker.bootstrap), group, [name])) == 0


def test_a_differing_partition_count_is_reported_not_changed(broker: EmbeddedBroker) -> None:
    name = _topic()
    asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), [TopicSpec(name, 2)]))
    [state] = asyncio.run(ensure_topics(Cluster.at(broker.bootstrap), [TopicSpec(name, 5)]))
    assert (state.action, state.partitions, state.wanted) == ("partitions differ", 2, 5)


def test_start_and_stop_leave_nothing_behind(tmp_path: Path) -> None:
    embedded = EmbeddedBroker(log_dir=tmp_path)
    bootstrap = embedded.start()
    pid = embedded.pid
    assert pid is not None
    assert alive(pid)
    assert asyncio.run(list_topics(Cluster.at(bootstrap))) == []
    embedded.stop()
    assert not alive(pid)
    assert port_is_free("127.0.0.1", embedded.port)
    embedded.stop()  # a second stop is harmless


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use"):
            EmbeddedBroker(port=port).start()


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BinaryNotFound, match="missing or not executable"):
        EmbeddedBroker(binary=tmp_path / "tansu").start()


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return path


def test_a_broker_that_dies_at_start_up_shows_its_log(tmp_path: Path) -> None:
    binary = _script(
        tmp_path / "broken-broker",
        """
        import sys
        print("storage engine failed: disk full", flush=True)
        sys.exit(3)
        """,
    )
    with pytest.raises(BrokerError, match=r"exited with code 3(.|\n)*disk full"):
        EmbeddedBroker(binary=binary, log_dir=tmp_path).start()


def test_a_broker_that_never_answers_times_out(tmp_path: Path) -> None:
    binary = _script(tmp_path / "mute-broker", "import time\ntime.sleep(60)\n")
    embedded = EmbeddedBroker(binary=binary, ready_timeout=1.0, log_dir=tmp_path)
    with pytest.raises(BrokerNotReady, match="did not answer a metadata request within 1 s"):
        embedded.start()
    assert not embedded.running


def test_the_broker_dies_with_its_parent_even_on_sigkill(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from ioc.kafka.embedded import EmbeddedBroker\n"
            "b = EmbeddedBroker()\n"
            "b.start()\n"
            "print(b.pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    broker_pid = int(parent.stdout.readline())
    assert alive(broker_pid)
    parent.kill()
    parent.wait()
    wait_for(lambda: not alive(broker_pid), 10, "the orphaned broker to exit")


def test_ioc_broker_in_the_foreground_serves_both_clients(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env["IOC_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [*IOC, "broker", "--port", str(port), "--partitions", "2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert f"embedded broker ready on 127.0.0.1:{port}" in first, first
        bootstrap = f"127.0.0.1:{port}"
        assert discover(tmp_path / "data") == bootstrap
        topics = asyncio.run(list_topics(Cluster.at(bootstrap)))
        assert "sensors.environment" in topics
        assert "ioc.incidents.duc-trong" in topics
        # kafka-python, the simulators' client, against the same broker.
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        producer.send("sensors.environment", b"{}", key=b"station-1").get(timeout=10)
        producer.close()
        assert Kafka(bootstrap).consume("sensors.environment", 1) == [(b"station-1", b"{}")]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert discover(tmp_path / "data") is None
        assert port_is_free("127.0.0.1", port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ioc_broker_refuses_a_taken_port(tmp_path: Path, broker: EmbeddedBroker) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env["IOC_DATA_DIR"] = str(tmp_path)
    out = subprocess.run(
        [*IOC, "broker", "--port", str(broker.port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"port {broker.port} on 127.0.0.1 is already in use" in out.stderr
    assert "Traceback" not in out.stderr
