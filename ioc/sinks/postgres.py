"""The PostgreSQL incident store (`postgresql://USER@HOST:PORT/DB`), for a province that has
outgrown one machine: the same two tables as the SQLite store, created by numbered
migrations that every worker runs at start (under an advisory lock, so two workers starting
together do not race), and the same idempotent writes.

Pass a schema with the URL's options, e.g.
`postgresql://ioc@db/ioc?options=-csearch_path%3Dlamdong`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError, incident_columns

MIGRATIONS: tuple[str, ...] = (
    # 1: the latest version of each incident, and every version delivered
    """
    CREATE TABLE incidents (
        incident_id text PRIMARY KEY,
        version integer NOT NULL,
        status text NOT NULL,
        severity text NOT NULL,
        category text NOT NULL,
        rule_id text NOT NULL,
        subject text NOT NULL,
        district text,
        escalated boolean NOT NULL,
        title_vi text NOT NULL,
        title_en text NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        body jsonb NOT NULL
    );
    CREATE INDEX incidents_district ON incidents (district, status);
    CREATE INDEX incidents_last_seen ON incidents (last_seen DESC);
    CREATE TABLE incident_versions (
        incident_id text NOT NULL,
        version integer NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (incident_id, version)
    );
    """,
    # 2: when each version was stored (publish → stored latency, and for the audit)
    """
    ALTER TABLE incident_versions ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();
    """,
    # 3: where each incident is, for the console's bounding-box queries and the CAP feeds
    """
    ALTER TABLE incidents ADD COLUMN lon double precision, ADD COLUMN lat double precision;
    UPDATE incidents SET lon = (body #>> '{location,coordinates,0}')::double precision,
        lat = (body #>> '{location,coordinates,1}')::double precision
    WHERE body #>> '{location,type}' = 'Point';
    CREATE INDEX incidents_lon_lat ON incidents (lon, lat);
    CREATE INDEX incident_versions_stored_at ON incident_versions (stored_at DESC);
    """,
    # 4: the console's API tokens (`ioc tokens`): only a hash of each secret
    """
    CREATE TABLE console_tokens (
        token_id text PRIMARY KEY,
        name text NOT NULL,
        role text NOT NULL,
        secret_sha256 text NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
    );
    """,
    # 5: one district's incidents, newest first (the console's list for a district IOC)
    """
    CREATE INDEX incidents_district_last_seen ON incidents (district, last_seen DESC);
    """,
)

# Any number: one lock id that every ioc worker takes while migrating.
MIGRATION_LOCK = 0x10C1A57

UPSERT = """
INSERT INTO incidents (incident_id, version, status, severity, category, rule_id, subject,
    district, escalated, title_vi, title_en, first_seen, last_seen, lon, lat, body)
VALUES (%(incident_id)s, %(version)s, %(status)s, %(severity)s, %(category)s, %(rule_id)s,
    %(subject)s, %(district)s, %(escalated)s, %(title_vi)s, %(title_en)s, %(first_seen)s,
    %(last_seen)s, %(lon)s, %(lat)s, %(body)s)
ON CONFLICT (incident_id) DO UPDATE SET
    version = excluded.version, status = excluded.status, severity = excluded.severity,
    category = excluded.category, district = excluded.district,
    escalated = excluded.escalated, title_vi = excluded.title_vi,
    title_en = excluded.title_en, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen, lon = excluded.lon, lat = excluded.lat,
    body = excluded.body
WHERE excluded.version > incidents.version
"""
INSERT_VERSION = """
INSERT INTO incident_versions (incident_id, version, body)
VALUES (%(incident_id)s, %(version)s, %(body)s)
ON CONFLICT DO NOTHING
"""


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the migrations this database lacks; return their numbers."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ioc_schema_migrations "
            "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM ioc_schema_migrations").fetchone()
        done = int(row[0]) if row else 0
        for number, sql in enumerate(MIGRATIONS, start=1):
            if number <= done:
                continue
            conn.execute(sql.encode())
            conn.execute("INSERT INTO ioc_schema_migrations (version) VALUES (%s)", (number,))
            applied.append(number)
    return applied


def _row(incident: Incident) -> dict[str, Any]:
    return {**incident_columns(incident), "body": Jsonb(incident.model_dump(mode="json"))}


def redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


class PostgresSink:
    def __init__(self, url: str) -> None:
        self.url = url
        self.name = redacted(url)  # never a password in logs or metric labels
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=False)
        return self._conn

    async def start(self) -> None:
        try:
            with psycopg.connect(self.url) as conn:
                migrate(conn)
            await self._connect()
        except psycopg.Error as exc:
            raise SinkError(f"{self.name}: {exc}".strip()) from None

    async def write(self, incidents: Sequence[Incident]) -> None:
        rows = [_row(i) for i in incidents]
        try:
            conn = await self._connect()
            async with conn.transaction(), conn.cursor() as cur:
                await cur.executemany(UPSERT, rows)
                await cur.executemany(INSERT_VERSION, rows)
        except psycopg.Error as exc:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            raise SinkError(f"{self.name}: {exc}".strip()) from None

    async def stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
