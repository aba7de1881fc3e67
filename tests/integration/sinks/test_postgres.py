"""The PostgreSQL sink against the suite's own PostgreSQL server (`tests/services`): its
migrations, idempotent writes, and a server restarted in the middle of a run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ioc.sinks.base import SinkError
from ioc.sinks.postgres import MIGRATIONS, PostgresSink
from tests.harness.incidents import versions
from tests.harness.kafka import Kafka
from tests.harness.processes import ready, worker
from tests.harness.scenario import expected, recording, start_flow, summary
from tests.harness.waiting import wait_for
from tests.services.postgres import PostgresServer


@pytest.fixture
def schema_url(postgres: PostgresServer) -> Iterator[str]:
    schema = f"ioc_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    try:
        yield f"{postgres.url()}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]


def test_migrations_create_the_tables_once_and_writes_are_idempotent(schema_url: str) -> None:
    v1, v2, v3 = versions()

    async def run(*batches: list) -> None:  # type: ignore[type-arg]
        sink = PostgresSink(schema_url)
        await sink.start()
        for batch in batches:
            await sink.write(batch)
        await sink.stop()

    asyncio.run(run([v1, v2]))
    asyncio.run(run([v1, v3, v2]))  # a second worker: migrations again, and a redelivery
    with psycopg.connect(schema_url) as conn:
        assert conn.execute("SELECT version FROM ioc_schema_migrations").fetchall() == [
            (n,) for n in range(1, len(MIGRATIONS) + 1)
        ]
        row = conn.execute("SELECT version, status, district, body FROM incidents").fetchall()
        assert len(row) == 1
        version, status, district, body = row[0]
        assert (version, status, district) == (3, "auto_resolved", "da-lat")
        assert body["incident_id"] == v1.incident_id
        kept = conn.execute("SELECT version FROM incident_versions ORDER BY version").fetchall()
        assert kept == [(1,), (2,), (3,)]
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'"
            ).fetchall()
        }
        assert {"incidents_district", "incidents_last_seen"} <= indexes


def test_a_write_across_a_server_restart_fails_once_then_goes_through(
    schema_url: str, postgres: PostgresServer
) -> None:
    v1, v2, _ = versions()

    async def run() -> None:
        sink = PostgresSink(schema_url)
        await sink.start()
        await sink.write([v1])
        postgres.restart()  # the sink's connection is cut under it
        with pytest.raises(SinkError):
            await sink.write([v2])
        await sink.write([v2])  # the delivery stage's retry: a new connection
        await sink.stop()

    asyncio.run(run())
    with psycopg.connect(schema_url) as conn:
        assert conn.execute("SELECT version FROM incidents").fetchall() == [(2,)]
        kept = conn.execute("SELECT version FROM incident_versions ORDER BY version").fetchall()
        assert kept == [(1,), (2,)]


def test_a_server_that_refuses_is_a_retryable_error_without_the_password() -> None:
    sink = PostgresSink("postgresql://ioc:s3cret@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(SinkError) as info:
        asyncio.run(sink.start())
    assert "s3cret" not in str(info.value)
    assert sink.name == "postgresql://ioc@127.0.0.1:1/none?connect_timeout=2"


def stored_in(url: str) -> dict[str, tuple[str, int, int]]:
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT incident_id, status, body->'alert_count', version FROM incidents"
            ).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
        return {}  # not created yet, or the server is restarting
    return {r[0]: (r[1], int(r[2]), int(r[3])) for r in rows}


def versions_in(url: str) -> list[tuple[str, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT incident_id, version FROM incident_versions").fetchall()


@pytest.mark.integration
def test_a_worker_loses_nothing_while_its_postgresql_restarts(
    pipeline_env: dict[str, str],
    schema_url: str,
    postgres: PostgresServer,
    kafka: Kafka,
    tmp_path: Path,
) -> None:
    env = {**pipeline_env, "IOC_SINKS": f"{schema_url};sqlite://"}
    records = recording()
    want, _, _ = expected(records)
    with worker(env, tmp_path / "worker.log") as proc:
        ready(env, proc)
        start_flow(env, kafka, records)
        wait_for(lambda: len(stored_in(schema_url)) >= 1, 120, "the first incidents", proc)
        postgres.restart()

        def everything() -> bool:
            return summary(stored_in(schema_url)) == want

        wait_for(everything, 180, "every incident in PostgreSQL", proc)
    rows = stored_in(schema_url)
    pairs = versions_in(schema_url)
    assert len(pairs) == len(set(pairs))
    assert sorted(pairs) == sorted(
        (incident, v) for incident, (_, _, latest) in rows.items() for v in range(1, latest + 1)
    )
