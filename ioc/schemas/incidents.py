"""Incidents: alerts grouped into something an operator acts on (docs/sinks-and-feeds.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.schemas.alerts import Category, Evidence, Severity
from ioc.schemas.common import Id, Slug, Text, UtcDatetime

IncidentStatus = Literal["open", "acknowledged", "resolved", "auto_resolved"]


class PointGeometry(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float] = Field(description="[lon, lat], GeoJSON order.")


class PolygonGeometry(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: Literal["Polygon"] = "Polygon"
    coordinates: list[list[tuple[float, float]]]


class StatusChange(BaseModel):
    """One entry of the audit trail: every change of an incident, by whom and why."""

    model_config = ConfigDict(frozen=True)

    at: UtcDatetime
    version: int
    status: IncidentStatus
    actor: Annotated[str, Field(max_length=128)] = Field(
        description="'system' for the pipeline, else the operator's name or id."
    )
    action: Annotated[str, Field(max_length=32)] = Field(
        description="open, update, escalate, acknowledge, resolve, auto_resolve, reopen"
    )
    note: Annotated[str, Field(max_length=2000)] | None = None


class Incident(BaseModel):
    model_config = ConfigDict(frozen=True)

    incident_id: Annotated[str, Field(max_length=128)] = Field(
        description="Deterministic: a hash of rule, subject and first window."
    )
    version: Annotated[int, Field(ge=1)]
    status: IncidentStatus
    severity: Severity
    category: Category
    title: Text
    rule_id: Id
    subject: Annotated[str, Field(max_length=128)]
    district: Slug | None = Field(default=None, description="District IOC; None: the province.")
    escalated: bool = Field(default=False, description="Escalated to the provincial IOC.")
    ack_due: UtcDatetime | None = Field(
        default=None,
        description="When the district must have acknowledged it before it escalates; "
        "None: no deadline (acknowledged, closed, provincial, or no SLA for its severity).",
    )
    zones: list[Id] = Field(default_factory=list, max_length=64)
    location: PointGeometry | PolygonGeometry
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    alert_count: Annotated[int, Field(ge=1)]
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    history: list[StatusChange] = Field(default_factory=list)


def representative_point(location: PointGeometry | PolygonGeometry) -> tuple[float, float]:
    """(lon, lat) of where an incident is: its point, or the mean of its polygon's outer ring
    (what the stores index for bounding-box queries and the map draws)."""
    if isinstance(location, PointGeometry):
        return location.coordinates
    ring = location.coordinates[0]
    # A closed ring repeats its first vertex: count it once.
    vertices = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    return (
        sum(v[0] for v in vertices) / len(vertices),
        sum(v[1] for v in vertices) / len(vertices),
    )
