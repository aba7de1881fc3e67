"""Replication on a three-broker Apache Kafka cluster (replication factor 3,
min.insync.replicas 2, producers acks=all): one broker is SIGKILLed while a scenario flows and
brought back; every incident is stored once in SQLite and every district feed holds each
version once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.harness.kafka import Kafka
from tests.harness.processes import ready, worker
from tests.harness.scenario import (
    check_district_topics,
    expected,
    recording,
    start_flow,
    stored,
    summary,
)
from tests.harness.servers import BrokerUnderTest
from tests.harness.waiting import wait_for
from tests.services.kafka import KafkaCluster

pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.slow]


def test_a_broker_killed_while_a_scenario_flows_loses_and_doubles_nothing(
    kafka_cluster: KafkaCluster, ioc_env: dict[str, str], tmp_path: Path
) -> None:
    brokers = BrokerUnderTest("kafka", kafka_cluster.bootstrap.split(","))
    kafka = Kafka(brokers.bootstrap)
    db = tmp_path / "incidents.db"
    env = {
        **ioc_env,
        "IOC_BROKER": brokers.url,
        "IOC_REPLICATION_FACTOR": "3",
        "IOC_TOPIC_PREFIX": f"rep{time.monotonic_ns()}.",
        "IOC_SINKS": f"sqlite://{db};kafka://",
        "IOC_ACK_SLA": "",
        "IOC_FETCH_MAX_WAIT_MS": "500",
    }
    records = recording()
    want, _, _ = expected(records)
    cut = len(records) * 6 // 10
    # Not the first node: the bootstrap list still has a live broker first.
    victim = kafka_cluster.nodes[1]
    with worker(env, tmp_path / "worker.log") as proc:
        ready(env, proc)
        start_flow(env, kafka, records[:cut])
        wait_for(lambda: len(stored(db)) >= 1, 120, "the first incidents", proc)
        kafka_cluster.kill(victim)
        try:
            start_flow(env, kafka, records[cut:])  # acks=all: two replicas in sync suffice
            wait_for(lambda: len(stored(db)) >= len(want) // 2, 180, "incidents", proc)
        finally:
            kafka_cluster.start_node(victim)  # back, whatever happened, for other tests
        wait_for(lambda: summary(stored(db)) == want, 180, "the expected incidents", proc)
    check_district_topics(env, kafka, db)
