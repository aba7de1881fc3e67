"""The PostgreSQL sink against the PostgreSQL server of this machine (CI provides it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ioc.sinks.postgres import MIGRATIONS, PostgresSink
from tests.conftest import require_service
from tests.test_sinks import versions

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def schema_url() -> Iterator[str]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"ioc_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[arg-type]
    try:
        yield f"{SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(SERVER, autocommit=True) as conn:
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


def test_a_server_that_refuses_is_a_retryable_error_without_the_password() -> None:
    from ioc.sinks.base import SinkError

    sink = PostgresSink("postgresql://ioc:s3cret@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(SinkError) as info:
        asyncio.run(sink.start())
    assert "s3cret" not in str(info.value)
    assert sink.name == "postgresql://ioc@127.0.0.1:1/none?connect_timeout=2"
