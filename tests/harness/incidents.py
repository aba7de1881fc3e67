"""Alerts and incidents to test with: one water-level rule's alerts on a fixed clock, the
incident they open, its versions, and operators' commands on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ioc.incidents.lifecycle import Policy, apply_alert
from ioc.schemas.alerts import Alert, Evidence, Severity
from ioc.schemas.commands import Command
from ioc.schemas.common import Text
from ioc.schemas.incidents import Incident

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)
POLICY = Policy(
    ack_sla={"severe": timedelta(minutes=15), "extreme": timedelta(minutes=5)},
    reopen_within=timedelta(hours=1),
)


def alert(
    minute: float,
    status: str = "firing",
    *,
    episode: int = 0,
    severity: Severity = "severe",
    district: str | None = "da-lat",
    value: float = 130.0,
) -> Alert:
    at = T0 + timedelta(minutes=minute)
    return Alert(
        alert_id=f"water-above-alarm:{episode:016x}",
        status=status,  # type: ignore[arg-type]
        rule_id="water-above-alarm",
        ruleset_version="v1",
        zoneset_version="z1",
        subject="wl-1",
        severity=severity,
        category="Met",
        title=Text(vi="Mực nước vượt mức báo động", en="Water level above alarm level"),
        district=district,
        lat=11.94,
        lon=108.44,
        event_time=at,
        raised_at=at,
        evidence=[Evidence(sensor_id="wl-1", field="water_level_cm", value=value, ts=at)],
    )


def now(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def opened() -> Incident:
    incident = apply_alert(None, alert(0), POLICY, now(0))
    assert incident is not None
    return incident


def command(action: str, incident: Incident, actor: str = "op.nguyen") -> Command:
    return Command(
        action=action,  # type: ignore[arg-type]
        incident_id=incident.incident_id,
        actor=actor,
        note="đã cử đội ứng cứu",
        at=now(1),
    )


def versions() -> list[Incident]:
    v1 = opened()
    v2 = apply_alert(v1, alert(5), POLICY, now(5))
    v3 = apply_alert(v2, alert(20, "resolved"), POLICY, now(20))
    assert v2 is not None
    assert v3 is not None
    return [v1, v2, v3]
