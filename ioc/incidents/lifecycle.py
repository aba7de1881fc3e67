"""The life of an incident (docs/sinks-and-feeds.md), pure: alerts and operator commands in,
new incident versions out. No Kafka and no clock of its own: the stage passes `now`, so tests
replay it.

One incident at a time per rule and subject (a sensor, a track, a place). A firing alert opens
it, or updates it while it is open; a resolved alert closes it (`auto_resolved`); a firing
within `reopen_within` of its close reopens it, a later one opens a new incident. Operators
acknowledge and resolve. A district incident that nobody acknowledges within its severity's
SLA escalates to the provincial IOC. Every change is a new version with an entry in `history`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ioc.schemas.alerts import SEVERITY_RANK, Alert, Evidence, Severity
from ioc.schemas.commands import Command
from ioc.schemas.incidents import Incident, IncidentStatus, PointGeometry, StatusChange

SYSTEM = "system"
MAX_EVIDENCE = 100
MAX_HISTORY = 200
OPEN: tuple[IncidentStatus, ...] = ("open", "acknowledged")


class CommandRefused(Exception):
    """An operator action that cannot apply; the message says why."""


@dataclass(frozen=True, slots=True)
class Policy:
    """How incidents live: acknowledgement deadlines by severity, and how soon a recurrence
    reopens the incident it follows instead of opening a new one."""

    ack_sla: dict[Severity, timedelta] = field(
        default_factory=lambda: {
            "extreme": timedelta(minutes=5),
            "severe": timedelta(minutes=15),
            "moderate": timedelta(hours=1),
        }
    )
    reopen_within: timedelta = timedelta(hours=1)

    def due(self, severity: Severity, since: datetime) -> datetime | None:
        sla = self.ack_sla.get(severity)
        return since + sla if sla is not None else None


def incident_id_for(alert: Alert) -> str:
    """Deterministic: the firing alert that opens an incident names it (its id is a hash of
    rule, subject and episode), so a retried alert finds the same incident."""
    return "INC-" + hashlib.sha256(alert.alert_id.encode()).hexdigest()[:16].upper()


def _change(
    incident: Incident,
    now: datetime,
    action: str,
    *,
    status: IncidentStatus | None = None,
    actor: str = SYSTEM,
    note: str | None = None,
    **updates: object,
) -> Incident:
    version = incident.version + 1
    new_status = status or incident.status
    entry = StatusChange(
        at=now, version=version, status=new_status, actor=actor, action=action, note=note
    )
    history = [*incident.history, entry][-MAX_HISTORY:]
    return incident.model_copy(
        update={"version": version, "status": new_status, "history": history, **updates}
    )


def _opened_at(incident: Incident) -> datetime:
    """When the incident was last opened or reopened: its SLA runs from then."""
    for change in reversed(incident.history):
        if change.action in ("open", "reopen"):
            return change.at
    return incident.history[0].at


def _merge(old: list[Evidence], new: list[Evidence]) -> list[Evidence]:
    seen = {(e.sensor_id, e.field, e.ts) for e in old}
    merged = old + [e for e in new if (e.sensor_id, e.field, e.ts) not in seen]
    return merged[-MAX_EVIDENCE:]


def open_incident(alert: Alert, policy: Policy, now: datetime) -> Incident:
    ack_due = policy.due(alert.severity, now) if alert.district is not None else None
    return Incident(
        incident_id=incident_id_for(alert),
        version=1,
        status="open",
        severity=alert.severity,
        category=alert.category,
        title=alert.title,
        rule_id=alert.rule_id,
        subject=alert.subject,
        district=alert.district,
        zones=alert.zones,
        location=PointGeometry(coordinates=(alert.lon, alert.lat)),
        first_seen=alert.event_time,
        last_seen=alert.event_time,
        alert_count=1,
        evidence=alert.evidence[-MAX_EVIDENCE:],
        ack_due=ack_due,
        history=[
            StatusChange(
                at=now,
                version=1,
                status="open",
                actor=SYSTEM,
                action="open",
                note=alert.health,
            )
        ],
    )


def apply_alert(
    current: Incident | None, alert: Alert, policy: Policy, now: datetime
) -> Incident | None:
    """The incident after `alert`, or None when the alert changes nothing."""
    if alert.status == "resolved":
        if current is None or current.status not in OPEN:
            return None
        return _change(
            current,
            now,
            "auto_resolve",
            status="auto_resolved",
            note="the condition cleared",
            ack_due=None,
            last_seen=max(current.last_seen, alert.event_time),
        )
    if current is None:
        return open_incident(alert, policy, now)
    if current.status in OPEN:
        severity = current.severity
        note = None
        if SEVERITY_RANK[alert.severity] > SEVERITY_RANK[severity]:
            note = f"severity raised from {severity} to {alert.severity}"
            severity = alert.severity
        ack_due = current.ack_due
        if current.status == "open" and not current.escalated and current.district is not None:
            sooner = policy.due(severity, _opened_at(current))
            if sooner is not None and (ack_due is None or sooner < ack_due):
                ack_due = sooner
        return _change(
            current,
            now,
            "update",
            note=note,
            severity=severity,
            last_seen=max(current.last_seen, alert.event_time),
            alert_count=current.alert_count + 1,
            evidence=_merge(current.evidence, alert.evidence),
            ack_due=ack_due,
        )
    if alert.event_time - current.last_seen <= policy.reopen_within:
        return _change(
            current,
            now,
            "reopen",
            status="open",
            note=f"fired again within {int(policy.reopen_within.total_seconds() // 60)} min",
            severity=alert.severity,
            last_seen=alert.event_time,
            alert_count=current.alert_count + 1,
            evidence=_merge(current.evidence, alert.evidence),
            escalated=False,
            ack_due=policy.due(alert.severity, now) if current.district is not None else None,
        )
    return open_incident(alert, policy, now)


def apply_command(current: Incident | None, command: Command, now: datetime) -> Incident | None:
    """The incident after an operator's action; None when it is already in that state.
    CommandRefused when the action cannot apply."""
    if current is None or current.incident_id != command.incident_id:
        raise CommandRefused(f"no open incident {command.incident_id} for this rule and subject")
    if command.action == "acknowledge":
        if current.status == "acknowledged":
            return None
        if current.status != "open":
            raise CommandRefused(
                f"{current.incident_id} is {current.status}: nothing to acknowledge"
            )
        return _change(
            current,
            now,
            "acknowledge",
            status="acknowledged",
            actor=command.actor,
            note=command.note,
            ack_due=None,
        )
    if command.action == "resolve":
        if current.status in ("resolved", "auto_resolved"):
            return None
        return _change(
            current,
            now,
            "resolve",
            status="resolved",
            actor=command.actor,
            note=command.note,
            ack_due=None,
        )
    raise CommandRefused(f"{command.action} is not an action on one incident")


def check_sla(current: Incident, now: datetime) -> Incident | None:
    """Escalate a district incident whose acknowledgement is overdue."""
    if current.status != "open" or current.escalated or current.ack_due is None:
        return None
    if now < current.ack_due:
        return None
    waited = int((now - _opened_at(current)).total_seconds() // 60)
    return _change(
        current,
        now,
        "escalate",
        note=(
            f"not acknowledged by {current.district} within the {current.severity} SLA "
            f"({waited} min): escalated to the provincial IOC"
        ),
        escalated=True,
        ack_due=None,
    )
