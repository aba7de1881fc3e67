"""The sink interface: where incidents go, chosen by URL, any number at once.

Every sink is idempotent on (incident_id, version): writing a version twice, or an older
version after a newer one, leaves the same result as writing it once in order. The delivery
stage calls `write` and acknowledges the incidents' messages only after every sink returned;
a sink that fails raises SinkError and the stage retries with backoff, holding its position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ioc.schemas.incidents import Incident, representative_point


class SinkError(Exception):
    """A write that failed and may succeed later (a database down, a full disk)."""


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def write(self, incidents: Sequence[Incident]) -> None: ...

    async def stop(self) -> None: ...


def absolute_path(url: str, scheme: str, what: str) -> Path:
    """The path of a `scheme:///ABSOLUTE/PATH` URL; ValueError saying how to write it."""
    rest = url.removeprefix(f"{scheme}://")
    if not rest.startswith("/"):
        raise ValueError(f"sink {url!r}: write {scheme}:///ABSOLUTE/{what}")
    return Path(rest)


def incident_columns(incident: Incident) -> dict[str, Any]:
    """The columns both incident stores index, as Python values (each store adapts them)."""
    lon, lat = representative_point(incident.location)
    return {
        "incident_id": incident.incident_id,
        "version": incident.version,
        "status": incident.status,
        "severity": incident.severity,
        "category": incident.category,
        "rule_id": incident.rule_id,
        "subject": incident.subject,
        "district": incident.district,
        "escalated": incident.escalated,
        "title_vi": incident.title.vi,
        "title_en": incident.title.en,
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "lon": lon,
        "lat": lat,
    }
