"""The embedded incident store: SQLite under the data dir (`sqlite://`, or `sqlite:///PATH`).

Two tables of incidents: `incidents`, the latest version of each incident (what `ioc
incidents` lists), and `incident_versions`, every version ever delivered (the audit trail,
whole) with when it was stored; and the console's API tokens (`console_tokens`, hashes only).
Writes are idempotent: a version already stored is ignored, and the latest-version row only
moves forward. One transaction per batch; WAL mode so readers never block the worker.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError, incident_columns

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    district TEXT,
    escalated INTEGER NOT NULL,
    title_vi TEXT NOT NULL,
    title_en TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    lon REAL,
    lat REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_district ON incidents (district, status);
CREATE INDEX IF NOT EXISTS incidents_last_seen ON incidents (last_seen);
CREATE TABLE IF NOT EXISTS incident_versions (
    incident_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    stored_at TEXT,
    PRIMARY KEY (incident_id, version)
);
CREATE TABLE IF NOT EXISTS console_tokens (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""
# Stores made by earlier versions gain these in place (see `connect`).
LATER_COLUMNS = (
    ("incident_versions", "stored_at", "TEXT"),
    ("incidents", "lon", "REAL"),
    ("incidents", "lat", "REAL"),
)
LATER_INDEXES = """
CREATE INDEX IF NOT EXISTS incidents_lon_lat ON incidents (lon, lat);
CREATE INDEX IF NOT EXISTS incident_versions_stored_at ON incident_versions (stored_at);
CREATE INDEX IF NOT EXISTS incidents_district_last_seen ON incidents (district, last_seen);
"""
BACKFILL_POINTS = """
UPDATE incidents SET
    lon = json_extract(body, '$.location.coordinates[0]'),
    lat = json_extract(body, '$.location.coordinates[1]')
WHERE lon IS NULL AND json_extract(body, '$.location.type') = 'Point'
"""

UPSERT = """
INSERT INTO incidents (incident_id, version, status, severity, category, rule_id, subject,
    district, escalated, title_vi, title_en, first_seen, last_seen, lon, lat, body)
VALUES (:incident_id, :version, :status, :severity, :category, :rule_id, :subject,
    :district, :escalated, :title_vi, :title_en, :first_seen, :last_seen, :lon, :lat, :body)
ON CONFLICT (incident_id) DO UPDATE SET
    version = excluded.version, status = excluded.status, severity = excluded.severity,
    category = excluded.category, district = excluded.district,
    escalated = excluded.escalated, title_vi = excluded.title_vi,
    title_en = excluded.title_en, first_seen = excluded.first_seen,
    last_seen = excluded.last_seen, lon = excluded.lon, lat = excluded.lat,
    body = excluded.body
WHERE excluded.version > incidents.version
"""


def default_path(data_dir: Path) -> Path:
    return data_dir / "incidents.db"


def path_from_url(url: str, data_dir: Path) -> Path:
    rest = url.removeprefix("sqlite://")
    return Path(rest) if rest else default_path(data_dir)


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    for table, column, kind in LATER_COLUMNS:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if column == "lon":
                conn.execute(BACKFILL_POINTS)
    conn.executescript(LATER_INDEXES)
    return conn


def _row(incident: Incident) -> dict[str, Any]:
    return {
        **incident_columns(incident),
        "escalated": int(incident.escalated),
        "first_seen": incident.first_seen.isoformat(),
        "last_seen": incident.last_seen.isoformat(),
        "body": incident.model_dump_json(),
    }


class SqliteSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"sqlite://{path}"
        self._conn: sqlite3.Connection | None = None

    async def start(self) -> None:
        try:
            self._conn = await asyncio.to_thread(connect, self.path)
        except (sqlite3.Error, OSError) as exc:
            raise SinkError(f"{self.name}: cannot open ({exc})") from None

    def _write(self, incidents: Sequence[Incident]) -> None:
        if self._conn is None:
            self._conn = connect(self.path)
        rows = [_row(i) for i in incidents]
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(UPSERT, rows)
            stored_at = datetime.now(UTC).isoformat()
            conn.executemany(
                "INSERT OR IGNORE INTO incident_versions (incident_id, version, body, stored_at) "
                "VALUES (:incident_id, :version, :body, :stored_at)",
                [{**row, "stored_at": stored_at} for row in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def write(self, incidents: Sequence[Incident]) -> None:
        try:
            await asyncio.to_thread(self._write, incidents)
        except (sqlite3.Error, OSError) as exc:
            raise SinkError(f"{self.name}: {exc}") from None

    async def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class IncidentStore:
    """Reading the store: what `ioc incidents` shows."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise FileNotFoundError(path)
        self.path = path

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            yield from conn.execute(sql, params).fetchall()

    def latest(
        self,
        *,
        district: str | None = None,
        status: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        where, params = [], []
        if district is not None:
            where.append("district = ?")
            params.append(district)
        if status:
            where.append(f"status IN ({','.join('?' * len(status))})")
            params.extend(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT body FROM incidents {clause} ORDER BY last_seen DESC LIMIT ?"
        return [Incident.model_validate_json(r["body"]) for r in self._rows(sql, [*params, limit])]

    def get(self, incident_id: str) -> Incident | None:
        rows = list(self._rows("SELECT body FROM incidents WHERE incident_id = ?", [incident_id]))
        return Incident.model_validate_json(rows[0]["body"]) if rows else None

    def stored_at(self, incident_id: str, version: int) -> datetime | None:
        """When the store received a version (the end of the publish → stored latency)."""
        rows = list(
            self._rows(
                "SELECT stored_at FROM incident_versions WHERE incident_id = ? AND version = ?",
                [incident_id, version],
            )
        )
        value = rows[0]["stored_at"] if rows else None
        return datetime.fromisoformat(value) if value else None

    def versions(self, incident_id: str) -> list[Incident]:
        sql = "SELECT body FROM incident_versions WHERE incident_id = ? ORDER BY version"
        return [Incident.model_validate_json(r["body"]) for r in self._rows(sql, [incident_id])]
