"""Incidents and sensor statuses for the console's tests: made by the lifecycle itself, in
several districts, severities and places, stored by the real sinks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ioc.incidents.lifecycle import Policy, apply_alert, apply_command
from ioc.schemas.alerts import Alert, Evidence, Severity
from ioc.schemas.commands import Command
from ioc.schemas.common import Text
from ioc.schemas.incidents import Incident
from ioc.schemas.readings import EnvironmentReading
from ioc.schemas.sensors import PublishedSensor
from ioc.sinks.sqlite import SqliteSink

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)
POLICY = Policy(ack_sla={"severe": timedelta(minutes=15)}, reopen_within=timedelta(hours=1))
# (district, lon, lat): a point inside each, roughly.
PLACES = {
    "da-lat": (108.44, 11.94),
    "bao-loc": (107.80, 11.55),
    None: (108.10, 11.70),
}


def alert(
    n: int,
    *,
    district: str | None = "da-lat",
    severity: Severity = "severe",
    minute: float = 0,
    rule_id: str = "water-above-alarm",
    title: str = "Mực nước vượt mức báo động",
    lon: float | None = None,
    lat: float | None = None,
) -> Alert:
    at = T0 + timedelta(minutes=minute)
    x, y = PLACES[district]
    return Alert(
        alert_id=f"{rule_id}:{n:016x}",
        status="firing",
        rule_id=rule_id,
        ruleset_version="v1",
        zoneset_version="z1",
        subject=f"sensor-{n}",
        severity=severity,
        category="Met",
        title=Text(vi=title, en="Water level above alarm level"),
        district=district,
        lat=lat if lat is not None else y,
        lon=lon if lon is not None else x,
        event_time=at,
        raised_at=at,
        evidence=[Evidence(sensor_id=f"sensor-{n}", field="water_level_cm", value=130.0, ts=at)],
    )


def opened(n: int, **kwargs: object) -> Incident:
    made = apply_alert(None, alert(n, **kwargs), POLICY, T0 + timedelta(minutes=n))  # type: ignore[arg-type]
    assert made is not None
    return made


def acknowledged(incident: Incident, actor: str = "op.test") -> Incident:
    at = incident.last_seen + timedelta(minutes=1)
    command = Command(action="acknowledge", incident_id=incident.incident_id, actor=actor, at=at)
    made = apply_command(incident, command, at)
    assert made is not None
    return made


def store(path: Path, incidents: list[Incident]) -> None:
    sink = SqliteSink(path)

    async def run() -> None:
        await sink.start()
        await sink.write(incidents)
        await sink.stop()

    asyncio.run(run())


def sensor(sensor_id: str, district: str | None, status: str = "ok") -> PublishedSensor:
    """An air station as a worker publishes it, its latest reading with it."""
    x, y = PLACES[district]
    reading = EnvironmentReading(
        kind="environment", sensor_id=sensor_id, source_id="gw-test", ts=T0, lat=y, lon=x, pm25=42.0
    )
    return PublishedSensor(
        sensor_id=sensor_id,
        district=district,
        status=status,  # type: ignore[arg-type]
        reading=reading,
    )
