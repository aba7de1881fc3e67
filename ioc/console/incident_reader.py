"""Reading incidents for the console: filtered, newest first, a page at a time.

Pages are cut by a keyset cursor on (last_seen, incident_id), so a page costs the same deep in
the list as at its top and an incident that changes while someone pages is neither skipped
twice nor shown twice within one ordering. A caller's district scope is part of every query.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ioc.console.database import Database
from ioc.schemas.incidents import Incident

PROVINCE = "province"  # the district filter's name for incidents of the provincial IOC


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    last_seen: datetime
    incident_id: str

    def encode(self) -> str:
        raw = orjson.dumps([self.last_seen.isoformat(), self.incident_id])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            moment, incident_id = orjson.loads(raw)
            parsed = datetime.fromisoformat(moment)
        except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
            raise BadCursor("the cursor is not one this API gave") from None
        if parsed.tzinfo is None or not isinstance(incident_id, str):
            raise BadCursor("the cursor is not one this API gave")
        return cls(parsed, incident_id)


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    """What to list. `districts`: slugs, or PROVINCE for provincial incidents; empty: all."""

    districts: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    incidents: list[Incident]
    next_cursor: Cursor | None


@dataclass(slots=True)
class _Where:
    db: Database
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def any_of(self, column: str, values: Sequence[Any]) -> None:
        if values:
            self.clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            self.params.extend(values)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


class IncidentReader:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _where(self, scope: str | None, f: IncidentFilter) -> _Where:
        w = _Where(self.db)
        if scope is not None:
            w.add("district = ?", scope)
        named = [d for d in f.districts if d != PROVINCE]
        if f.districts:
            parts = []
            if named:
                parts.append(f"district IN ({','.join('?' * len(named))})")
                w.params.extend(named)
            if PROVINCE in f.districts:
                parts.append("district IS NULL")
            w.clauses.append(f"({' OR '.join(parts)})")
        w.any_of("status", f.statuses)
        w.any_of("severity", f.severities)
        w.any_of("rule_id", f.rules)
        w.any_of("category", f.categories)
        if f.since is not None:
            w.add("last_seen >= ?", self.db.time(f.since))
        if f.until is not None:
            w.add("first_seen <= ?", self.db.time(f.until))
        if f.bbox is not None:
            west, south, east, north = f.bbox
            w.add("lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?", west, east, south, north)
        if f.text:
            like = _like(f.text)
            w.add(
                "(lower(title_vi) LIKE ? ESCAPE '\\' OR lower(title_en) LIKE ? ESCAPE '\\' "
                "OR lower(subject) LIKE ? ESCAPE '\\' OR lower(incident_id) LIKE ? ESCAPE '\\')",
                like,
                like,
                like,
                like,
            )
        return w

    def _body(self) -> str:
        return "body::text" if self.db.dialect == "postgresql" else "body"

    async def page(
        self, scope: str | None, f: IncidentFilter, limit: int, after: Cursor | None = None
    ) -> Page:
        w = self._where(scope, f)
        if after is not None:
            at = self.db.time(after.last_seen)
            w.add(
                "(last_seen < ? OR (last_seen = ? AND incident_id < ?))", at, at, after.incident_id
            )
        sql = (
            f"SELECT {self._body()} FROM incidents{w.sql()} "
            "ORDER BY last_seen DESC, incident_id DESC LIMIT ?"
        )
        rows = await self.db.fetch(sql, [*w.params, limit + 1])
        incidents = [Incident.model_validate_json(r[0]) for r in rows[:limit]]
        more = len(rows) > limit and incidents
        last = incidents[-1] if more else None
        return Page(incidents, Cursor(last.last_seen, last.incident_id) if last else None)

    async def get(self, scope: str | None, incident_id: str) -> Incident | None:
        w = self._where(scope, IncidentFilter())
        w.add("incident_id = ?", incident_id)
        rows = await self.db.fetch(f"SELECT {self._body()} FROM incidents{w.sql()}", w.params)
        return Incident.model_validate_json(rows[0][0]) if rows else None

    async def versions(self, incident_id: str) -> list[Incident]:
        """Every stored version, oldest first (the caller has checked the incident's scope)."""
        rows = await self.db.fetch(
            f"SELECT {self._body()} FROM incident_versions WHERE incident_id = ? ORDER BY version",
            [incident_id],
        )
        return [Incident.model_validate_json(r[0]) for r in rows]

    async def version(self, incident_id: str, version: int) -> Incident | None:
        """One stored version (the caller has checked the incident's scope)."""
        rows = await self.db.fetch(
            f"SELECT {self._body()} FROM incident_versions WHERE incident_id = ? AND version = ?",
            [incident_id, version],
        )
        return Incident.model_validate_json(rows[0][0]) if rows else None

    async def counts(
        self, scope: str | None, f: IncidentFilter
    ) -> list[tuple[str | None, str, str, int]]:
        """(district, severity, status, count) of the incidents the filter selects."""
        w = self._where(scope, f)
        rows = await self.db.fetch(
            f"SELECT district, severity, status, count(*) FROM incidents{w.sql()} "
            "GROUP BY district, severity, status",
            w.params,
        )
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]

    async def recent_versions(self, district: str | None, limit: int) -> list[Incident]:
        """The latest versions stored, newest first: of one district's incidents, or (None)
        of every incident — what a CAP feed carries."""
        clause, params = ("WHERE i.district = ?", [district]) if district else ("", [])
        body = "v.body::text" if self.db.dialect == "postgresql" else "v.body"
        rows = await self.db.fetch(
            f"SELECT {body} FROM incident_versions v JOIN incidents i "
            f"ON i.incident_id = v.incident_id {clause} "
            "ORDER BY v.stored_at DESC, v.incident_id, v.version DESC LIMIT ?",
            [*params, limit],
        )
        return [Incident.model_validate_json(r[0]) for r in rows]
