"""Sinks: idempotent on (incident_id, version), whatever order and however often."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ioc.kafka.admin import ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import TopicSpec
from ioc.schemas.incidents import Incident
from ioc.sinks.jsonl import JsonlSink
from ioc.sinks.kafka import DistrictTopicsSink
from ioc.sinks.sqlite import IncidentStore, SqliteSink
from tests.harness.incidents import versions
from tests.harness.kafka import Kafka


def test_sqlite_keeps_the_latest_version_and_every_version_once(tmp_path: Path) -> None:
    v1, v2, v3 = versions()
    sink = SqliteSink(tmp_path / "store" / "incidents.db")

    async def run() -> None:
        await sink.start()
        await sink.write([v1, v2])
        await sink.write([v1, v3, v2])  # repeated and out of order: a redelivery
        await sink.stop()

    asyncio.run(run())
    store = IncidentStore(tmp_path / "store" / "incidents.db")
    assert store.get(v1.incident_id) == v3
    assert [i.version for i in store.versions(v1.incident_id)] == [1, 2, 3]
    first, last = store.stored_at(v1.incident_id, 1), store.stored_at(v1.incident_id, 3)
    assert first is not None
    assert last is not None
    assert first <= last <= datetime.now(UTC)
    assert store.stored_at(v1.incident_id, 4) is None
    assert store.latest(district="da-lat", status=["auto_resolved"]) == [v3]
    assert store.latest(district="bao-loc") == []


def test_jsonl_writes_each_version_once_even_across_restarts(tmp_path: Path) -> None:
    v1, v2, v3 = versions()
    path = tmp_path / "incidents.jsonl"

    async def run(*batches: list[Incident]) -> None:
        sink = JsonlSink(path)
        await sink.start()
        for batch in batches:
            await sink.write(batch)
        await sink.stop()

    asyncio.run(run([v1, v2], [v2]))
    # A crash cut the last line short: the next start rewrites that version, on its own line.
    with path.open("ab") as fh:
        fh.write(v3.model_dump_json().encode()[:40])
    asyncio.run(run([v1, v2, v3]))
    lines = path.read_bytes().splitlines()
    good = [orjson.loads(line) for line in lines if line.endswith(b"}")]
    assert [(d["incident_id"], d["version"]) for d in good] == [
        (v1.incident_id, 1),
        (v1.incident_id, 2),
        (v1.incident_id, 3),
    ]


@pytest.mark.integration
def test_district_topics_get_each_version_once_across_sink_instances(kafka: Kafka) -> None:
    v1, v2, v3 = versions()
    prefix = f"sink{uuid.uuid4().hex[:8]}."
    topic = f"{prefix}ioc.incidents.da-lat"
    asyncio.run(ensure_topics(Cluster.at(kafka.bootstrap), [TopicSpec(topic, 1, compacted=True)]))

    async def run(*batches: list[Incident]) -> None:
        sink = DistrictTopicsSink(
            Cluster.at(kafka.bootstrap), ["da-lat"], lambda d: f"{prefix}ioc.incidents.{d}"
        )
        await sink.start()
        for batch in batches:
            await sink.write(batch)
        await sink.stop()

    asyncio.run(run([v1, v2]))
    # Another worker, after a rebalance, is handed v2 again, then v3.
    asyncio.run(run([v2], [v1, v3]))
    messages = kafka.consume_until(topic, lambda m: len(m) >= 3, 20)
    assert [orjson.loads(v)["version"] for _, v in messages] == [1, 2, 3]
    assert {k for k, _ in messages} == {v1.incident_id.encode()}


def test_a_store_made_before_stored_at_gains_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE incident_versions (incident_id TEXT NOT NULL, version INTEGER NOT NULL,"
            " body TEXT NOT NULL, PRIMARY KEY (incident_id, version))"
        )
    v1 = versions()[0]
    sink = SqliteSink(path)

    async def run() -> None:
        await sink.start()
        await sink.write([v1])
        await sink.stop()

    asyncio.run(run())
    assert IncidentStore(path).stored_at(v1.incident_id, 1) is not None


def test_a_listed_incident_shows_the_time_the_list_is_sorted_by() -> None:
    from ioc.cli.lines import LOCAL, incident_line
    from ioc.incidents.lifecycle import apply_command
    from ioc.schemas.commands import Command

    v2 = versions()[1]
    # Acknowledged an hour after its latest alert: a tail shows the act, a list the alert.
    at = v2.last_seen + timedelta(hours=1)
    acked = apply_command(
        v2, Command(action="acknowledge", incident_id=v2.incident_id, actor="B", at=at), at
    )
    assert acked is not None
    alert_time = f"{v2.last_seen.astimezone(LOCAL):%H:%M:%S}"
    act_time = f"{at.astimezone(LOCAL):%H:%M:%S}"
    assert incident_line(acked, "en").startswith(act_time)
    assert incident_line(acked, "en", latest_alert=True).startswith(alert_time)
    assert "(acknowledged by B)" in incident_line(acked, "en")
    assert "(nhận: B)" in incident_line(acked, "vi")
