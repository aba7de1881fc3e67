"""The incident stage: alerts and operator commands → incident versions on `ioc.incidents`.

Alerts and commands are keyed by `rule_id|subject`, so one partition holds every event about
an incident, in order, and a changelogged table keyed the same way holds the incident. Each
entry remembers the alerts it has applied, so an alert delivered twice (at-least-once)
changes nothing the second time. A new version is delivered to the broker before the table
records it.

SLA deadlines run in processing time. Each worker puts an `sla_check` command on every
commands partition it owns every SLA_TICK_S; the stage escalates the overdue incidents of that
partition when the tick comes through, in the partition's own order of events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ioc.incidents.lifecycle import CommandRefused, Policy, apply_alert, apply_command, check_sla
from ioc.schemas.alerts import Alert
from ioc.schemas.commands import Command, routing_key
from ioc.schemas.common import utcnow
from ioc.schemas.incidents import Incident
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs

log = logging.getLogger("ioc.streams")

SLA_TICK_S = 5.0
SEEN_ALERTS = 200  # alert deliveries remembered per incident, for de-duplication


class IncidentStage:
    def __init__(
        self,
        policy: Policy,
        table: MutableMapping[str, Any],
        outputs: Outputs,
        incidents_topic: Any,
        metrics: Metrics,
        *,
        alerts_topic: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.policy = policy
        self.table = table
        self.outputs = outputs
        self.incidents_topic = incidents_topic
        self.metrics = metrics
        self.alerts_topic = alerts_topic
        self.clock = clock

    async def handle(self, message: Any) -> None:
        if message.topic == self.alerts_topic:
            await self._on_alert(message)
        else:
            await self._on_command(message)

    async def _on_alert(self, message: Any) -> None:
        try:
            alert = Alert.model_validate_json(message.value or b"")
        except ValidationError as exc:
            await self.outputs.refuse(message, "bad_internal_record", f"alert: {exc}")
            return
        key = routing_key(alert.rule_id, alert.subject).decode()
        entry = self.table.get(key) or {"incident": None, "seen": []}
        seen = f"{alert.alert_id}/{alert.status}"
        if seen in entry["seen"]:
            return
        now = self.clock()
        current = Incident.model_validate(entry["incident"]) if entry["incident"] else None
        changed = apply_alert(current, alert, self.policy, now)
        entry = {
            "incident": entry["incident"],
            "seen": [*entry["seen"], seen][-SEEN_ALERTS:],
            "partition": message.partition,
        }
        if changed is not None:
            await self._publish(changed)
            self.metrics.latency.observe(max((now - alert.event_time).total_seconds(), 0.0))
            entry["incident"] = changed.model_dump(mode="json")
        self.table[key] = entry

    async def _on_command(self, message: Any) -> None:
        try:
            command = Command.model_validate_json(message.value or b"")
        except ValidationError as exc:
            await self.outputs.refuse(message, "bad_command", f"command: {exc}")
            return
        if command.action == "sla_check":
            await self._sla(message.partition)
            return
        key = (message.key or b"").decode("utf-8", "replace")
        entry = self.table.get(key)
        current = (
            Incident.model_validate(entry["incident"]) if entry and entry["incident"] else None
        )
        try:
            changed = apply_command(current, command, self.clock())
        except CommandRefused as exc:
            self.metrics.commands.labels(command.action, "refused").inc()
            log.warning("%s by %s refused: %s", command.action, command.actor, exc)
            await self.outputs.refuse(message, "command_refused", str(exc))
            return
        if changed is None:
            self.metrics.commands.labels(command.action, "ignored").inc()
            return
        assert entry is not None
        await self._publish(changed)
        self.metrics.commands.labels(command.action, "applied").inc()
        self.table[key] = {**entry, "incident": changed.model_dump(mode="json")}

    async def _sla(self, partition: int) -> None:
        now = self.clock()
        due = [
            (key, entry)
            for key, entry in self.table.items()
            if entry
            and entry.get("partition") == partition
            and entry["incident"]
            and entry["incident"].get("ack_due")
        ]
        for key, entry in due:
            changed = check_sla(Incident.model_validate(entry["incident"]), now)
            if changed is not None:
                await self._publish(changed)
                self.table[key] = {**entry, "incident": changed.model_dump(mode="json")}

    async def _publish(self, incident: Incident) -> None:
        fut = await self.incidents_topic.send(
            key=incident.incident_id.encode(), value=incident.model_dump_json().encode()
        )
        await asyncio.gather(fut)
        action = incident.history[-1].action if incident.history else "open"
        self.metrics.incidents.labels(incident.district or "none", incident.severity, action).inc()
