"""Alerts: one per rule firing (docs/rules.md), with the provenance an operator needs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.schemas.common import Id, Latitude, Longitude, Slug, Text, UtcDatetime

# CAP 1.2 severities and categories, so that an alert maps onto a CAP <info> unchanged.
Severity = Literal["extreme", "severe", "moderate", "minor"]
SEVERITY_RANK: dict[str, int] = {"minor": 1, "moderate": 2, "severe": 3, "extreme": 4}
Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]


class Evidence(BaseModel):
    """One reading behind an alert, and where it was read from when known."""

    model_config = ConfigDict(frozen=True)

    sensor_id: Id
    field: Annotated[str, Field(max_length=64)]
    value: float | str | None
    ts: UtcDatetime
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class Alert(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert_id: Annotated[str, Field(max_length=128)] = Field(
        description="Deterministic: the same firing always has the same id (de-duplication)."
    )
    status: Literal["firing", "resolved"]
    rule_id: Id
    ruleset_version: Annotated[str, Field(max_length=64)]
    zoneset_version: Annotated[str, Field(max_length=64)]
    subject: Annotated[str, Field(max_length=128)] = Field(
        description="What the rule fired on: a sensor, a track, a plate or a zone."
    )
    severity: Severity
    category: Category
    title: Text
    description: Text | None = None
    district: Slug | None = Field(default=None, description="District IOC; None: the province.")
    zones: list[Id] = Field(default_factory=list, max_length=64)
    lat: Latitude
    lon: Longitude
    event_time: UtcDatetime = Field(description="Event time of the latest evidence.")
    raised_at: UtcDatetime = Field(description="Processing time at which the rule fired.")
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    health: Annotated[str, Field(max_length=200)] | None = Field(
        default=None,
        description="Set when sensor health downgraded the alert (offline, stale, out of range).",
    )
