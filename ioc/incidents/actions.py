"""An operator's action on one incident, checked before it is sent: the same lifecycle rules
the worker applies (`lifecycle.apply_command`), so a refusal is known at once, with its
reason, to the terminal (`ioc incidents ack`) and to the console's API alike."""

from __future__ import annotations

from datetime import datetime

from ioc.incidents.lifecycle import CommandRefused, apply_command
from ioc.schemas.commands import Command
from ioc.schemas.incidents import Incident, IncidentStatus

ACTIONS: dict[str, IncidentStatus] = {"acknowledge": "acknowledged", "resolve": "resolved"}


class ActionRefused(Exception):
    """The action cannot apply; `already` when the incident is in that state already."""

    def __init__(self, reason: str, *, already: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.already = already


def command_for(
    incident: Incident, action: str, actor: str, note: str | None, now: datetime
) -> Command:
    """The command to send; ActionRefused when the worker would refuse it or ignore it."""
    if action not in ACTIONS:
        raise ActionRefused(f"{action} is not an action on an incident", already=False)
    command = Command(
        action=action,
        incident_id=incident.incident_id,
        actor=actor,
        note=note,
        at=now,
    )
    try:
        changed = apply_command(incident, command, now)
    except CommandRefused as exc:
        raise ActionRefused(str(exc), already=False) from None
    if changed is None:
        raise ActionRefused(f"{incident.incident_id} is already {incident.status}", already=True)
    return command


def applied(before: Incident, after: Incident, action: str) -> bool:
    """Whether `after` is the version that carries the action on `before`."""
    wanted = ACTIONS[action]
    return after.version > before.version and (
        after.status == wanted or (wanted == "resolved" and after.status == "auto_resolved")
    )
