"""`ioc topics create|describe` against the real broker: idempotent creation, and a describe
that names what is missing or differs."""

from __future__ import annotations

import asyncio
import subprocess
import time

import orjson

from ioc.kafka.admin import ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import TopicSpec, topic_specs
from ioc.settings import Settings
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC
from tests.harness.servers import on_both_brokers


def ioc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOC, *args], env=env, capture_output=True, text=True, timeout=60)


@on_both_brokers
def test_create_is_idempotent_and_describe_reports_what_differs(
    ioc_env: dict[str, str], kafka: Kafka
) -> None:
    prefix = f"tp{time.monotonic_ns()}."
    env = {**ioc_env, "IOC_TOPIC_PREFIX": prefix, "IOC_PARTITIONS": "3"}
    specs = topic_specs(Settings(topic_prefix=prefix, partitions=3, app_id=env["IOC_APP_ID"]))
    # One topic made beforehand by someone else, with other partitions: reported, never changed.
    alerts = next(s for s in specs if s.name.endswith("ioc.alerts"))
    asyncio.run(ensure_topics(Cluster.at(kafka.bootstrap), [TopicSpec(alerts.name, 2)]))

    before = ioc(env, "topics", "describe", "--json")
    assert before.returncode == 1, before.stderr
    rows = {r["topic"]: r for r in map(orjson.loads, before.stdout.splitlines())}
    assert set(rows) == {s.name for s in specs}
    assert rows[specs[0].name]["problems"] == ["missing"]

    first = ioc(env, "topics", "create")
    assert first.returncode == 0, first.stderr
    assert f"{len(specs) - 1} created, 1 already there" in first.stderr
    again = ioc(env, "topics", "create")
    assert again.returncode == 0, again.stderr
    assert f"0 created, {len(specs)} already there" in again.stderr

    after = ioc(env, "topics", "describe", "--json")
    assert after.returncode == 1, "the alerts topic still has 2 partitions"
    rows = {r["topic"]: r for r in map(orjson.loads, after.stdout.splitlines())}
    assert rows[alerts.name]["problems"] == ["2 partitions, want 3"]
    for spec in specs:
        row = rows[spec.name]
        if spec.name != alerts.name:
            assert row["problems"] == [], row
            assert row["partitions"] == spec.partitions
            assert row["cleanup_policy"] in (row["wanted_cleanup_policy"], None)
    compacted = [rows[s.name]["cleanup_policy"] for s in specs if s.compacted]
    assert "compact" in compacted, "the broker reports the cleanup policy ioc asked for"
