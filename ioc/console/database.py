"""The console's connection to the incident store: the SQLite file or the PostgreSQL database
the workers' sinks write (`sqlite:///PATH`, `postgresql://…`), and nothing of its own.

The console reads incidents and keeps its API tokens there, so that any number of console
replicas share them. Queries are written once with `?` placeholders; each dialect adapts
them, and the times they compare (ISO text in SQLite, timestamptz in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import psycopg
from psycopg_pool import AsyncConnectionPool

from ioc.sinks import postgres as pg_store
from ioc.sinks import sqlite as sqlite_store
from ioc.sinks.postgres import redacted

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]


class StoreUnavailable(Exception):
    """The store cannot be reached (a database down, a file not readable)."""


class Database(Protocol):
    dialect: Dialect
    name: str

    async def open(self) -> None: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def time(self, moment: datetime) -> Any: ...

    async def close(self) -> None: ...


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"sqlite://{path}"

    async def open(self) -> None:
        # The workers create the store on their first delivery; a console started before
        # them creates it, so that it can serve (an empty list) and keep tokens at once.
        def create() -> None:
            sqlite_store.connect(self.path).close()

        try:
            await asyncio.to_thread(create)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"{self.name}: {exc}") from None

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        uri = f"file:{self.path}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
            return conn.execute(sql, params).fetchall()

    def _execute(self, sql: str, params: Sequence[Any]) -> int:
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            return conn.execute(sql, params).rowcount

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return await asyncio.to_thread(self._fetch, sql, params)
        except (sqlite3.OperationalError, OSError) as exc:
            raise StoreUnavailable(f"{self.name}: {exc}") from None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return await asyncio.to_thread(self._execute, sql, params)
        except (sqlite3.OperationalError, OSError) as exc:
            raise StoreUnavailable(f"{self.name}: {exc}") from None

    def time(self, moment: datetime) -> Any:
        # The sinks store UTC ISO text, which then sorts as time does.
        return moment.astimezone(UTC).isoformat()

    async def close(self) -> None:
        return None


class PostgresDatabase:
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, max_size: int = 8) -> None:
        self.url = url
        self.name = redacted(url)
        self._pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False)

    async def open(self) -> None:
        def migrate() -> None:
            with psycopg.connect(self.url) as conn:
                pg_store.migrate(conn)

        try:
            await asyncio.to_thread(migrate)
            await self._pool.open(wait=True, timeout=30)
        except (psycopg.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"{self.name}: {exc}".strip()) from None

    @staticmethod
    def _sql(sql: str) -> bytes:
        return sql.replace("?", "%s").encode()

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(self._sql(sql), list(params))
                return list(await cursor.fetchall())
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.name}: {exc}".strip()) from None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(self._sql(sql), list(params))
                return cursor.rowcount
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"{self.name}: {exc}".strip()) from None

    def time(self, moment: datetime) -> Any:
        return moment

    async def close(self) -> None:
        await self._pool.close()


def database_for(url: str, data_dir: Path) -> Database:
    """The store a URL names, as the sinks read it (`sqlite://` alone: under the data dir)."""
    scheme = url.partition("://")[0]
    if scheme == "sqlite":
        return SqliteDatabase(sqlite_store.path_from_url(url, data_dir))
    if scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url)
    raise ValueError(f"store {url!r}: the console reads sqlite:// or postgresql:// stores")


@asynccontextmanager
async def opened(url: str, data_dir: Path) -> AsyncIterator[Database]:
    """The store a URL names, open (created or migrated if need be) for the block."""
    db = database_for(url, data_dir)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


def store_url(sinks: Sequence[str], explicit: str | None) -> str:
    """The store the console reads: an explicit URL, else the first store among the sinks."""
    if explicit:
        return explicit
    for url in sinks:
        if url.partition("://")[0] in ("sqlite", "postgresql", "postgres"):
            return url
    return "sqlite://"
