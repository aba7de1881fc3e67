"""Which Kafka clients a district IOC can read its feed with, on each broker: the table in
docs/development.md ("Kafka clients") comes from these tests. Each client reads, from the
beginning of a topic and without a consumer group, what aiokafka produced; where a client is
known not to work with a broker, the test asserts the failure it shows, so that a fix is
noticed."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from tests.harness.kafka import Kafka
from tests.harness.servers import BrokerUnderTest, on_both_brokers
from tests.services.availability import unavailable
from tests.services.kafka import tool_env

pytestmark = pytest.mark.integration
MESSAGES = [(f"k{i}".encode(), f'{{"n":{i}}}'.encode()) for i in range(20)]


@pytest.fixture
def topic(kafka: Kafka) -> str:
    name = f"compat{time.monotonic_ns()}"
    kafka.produce(name, MESSAGES)
    return name


def values(lines: list[str]) -> list[bytes]:
    return sorted(line.encode() for line in lines if line.strip())


WANT = sorted(value for _, value in MESSAGES)


@on_both_brokers
def test_aiokafka_reads_the_feed(kafka: Kafka, topic: str) -> None:
    got = kafka.consume(topic, len(MESSAGES))
    assert sorted(value for _, value in got) == WANT


@on_both_brokers
def test_kafka_python_reads_the_feed(any_broker: BrokerUnderTest, topic: str) -> None:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=any_broker.servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=30000,  # ends the loop below if the feed stops short
    )
    got: list[bytes] = []
    try:
        for record in consumer:
            got.append(record.value)
            if len(got) == len(MESSAGES):
                break
    finally:
        consumer.close()
    assert sorted(got) == WANT


@on_both_brokers
def test_confluent_kafka_reads_the_feed(any_broker: BrokerUnderTest, topic: str) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": any_broker.bootstrap,
            # librdkafka wants a group id even for a consumer that joins no group.
            "group.id": f"compat-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    got: list[bytes] = []
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in parts
            ]
        )
        deadline = time.monotonic() + 30
        while len(got) < len(MESSAGES) and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                got.append(message.value())
    finally:
        consumer.close()
    assert sorted(got) == WANT


def kcat(*args: str) -> subprocess.CompletedProcess[str]:
    program = shutil.which("kcat")
    if program is None:
        unavailable("kcat is not installed")
    return subprocess.run([program, *args], capture_output=True, text=True, timeout=60)


@on_both_brokers
def test_kcat_reads_the_feed_on_apache_kafka_only(any_broker: BrokerUnderTest, topic: str) -> None:
    done = kcat("-b", any_broker.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
    if any_broker.kind == "tansu":
        # librdkafka before 2.2.0 (Debian 12's kcat has 2.0.2) misreads the tagged fields at
        # the end of Tansu's ApiVersions v3 answer; see docs/development.md.
        assert done.returncode != 0
        assert "Failed to query metadata" in done.stderr, done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert values(done.stdout.splitlines()) == WANT


# Kafka 4.4's Java client sends ApiVersions v5, whose ClusterId and NodeId fields it fills in
# once it knows the cluster; Tansu (versions 0-4) parses them as v4 tagged fields, runs off the
# end and drops the connection to the coordinator. Without the cluster check the client leaves
# the fields empty, and a short session timeout gets past Tansu's slow first JoinGroup.
ON_TANSU = ("metadata.cluster.check.enable=false", "session.timeout.ms=6000")


def _java_console_consumer(
    kafka_home: Path, bootstrap: str, topic: str, timeout_ms: int, *properties: str
) -> subprocess.CompletedProcess[str]:
    extra = [arg for prop in properties for arg in ("--command-property", prop)]
    return subprocess.run(
        [
            str(kafka_home / "bin" / "kafka-console-consumer.sh"),
            "--bootstrap-server", bootstrap,
            "--topic", topic,
            "--from-beginning",
            "--max-messages", str(len(MESSAGES)),
            "--timeout-ms", str(timeout_ms),
            *extra,
        ],
        capture_output=True, text=True, env=tool_env(kafka_home), timeout=90, check=False,
    )  # fmt: skip


@on_both_brokers
def test_kafkas_java_console_consumer_reads_the_feed(
    any_broker: BrokerUnderTest, topic: str, kafka_home: Path
) -> None:
    tansu = any_broker.kind == "tansu"
    done = _java_console_consumer(
        kafka_home, any_broker.bootstrap, topic, 30000, *(ON_TANSU if tansu else ())
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert values(done.stdout.splitlines()) == WANT


def test_kafkas_java_console_consumer_needs_two_settings_on_the_embedded_broker(
    any_broker: BrokerUnderTest, topic: str, kafka_home: Path
) -> None:
    # The difference docs/development.md documents: with its defaults the client reads nothing.
    assert any_broker.kind == "tansu"
    done = _java_console_consumer(kafka_home, any_broker.bootstrap, topic, 8000)
    assert "Processed a total of 0 messages" in done.stderr, done.stderr[-2000:]
    assert done.stdout == ""
