"""What the stages publish: alerts, dead letters, alerts on their way to correlation, and
sensor statuses.

Everything a stage publishes for a message is delivered (acknowledged by the broker) before
the stage records in its table that the message was applied. A crash in between makes the
message run again after the restart and publish the same deterministic ids again, which the
incident stage and the sinks absorb; the other order could lose an alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import orjson

from ioc.geo.cells import cells_near
from ioc.rules.engine import Engine
from ioc.schemas.alerts import Alert
from ioc.schemas.commands import routing_key
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.decode import FieldError, Rejection
from ioc.streams.metrics import Metrics

log = logging.getLogger("ioc.streams")


@dataclass(frozen=True, slots=True)
class Outputs:
    alerts: faust.TopicT
    deadletter: faust.TopicT
    cells: faust.TopicT
    metrics: Metrics
    sensors: faust.TopicT | None = None

    async def publish(self, engine: Engine, alerts: Sequence[Alert]) -> None:
        """Alerts to the alerts topic, and those that feed a correlation rule to the cells of
        that rule around them. Returns when the broker has them all."""
        pending: list[Any] = []
        for alert in alerts:
            pending.append(
                await self.alerts.send(
                    key=routing_key(alert.rule_id, alert.subject),
                    value=alert.model_dump_json().encode(),
                )
            )
            self.metrics.alerts.labels(alert.rule_id, alert.status).inc()
            if alert.status != "firing":
                continue
            for rule in engine.correlations:
                if alert.rule_id not in rule.rules:
                    continue
                home, around = cells_near(alert.lat, alert.lon, rule.radius_m)
                body = alert.model_dump(mode="json")
                for cell in around:
                    value = {"rule": rule.id, "home": cell == home, "alert": body}
                    pending.append(
                        await self.cells.send(
                            key=f"{rule.id}:{cell[0]}:{cell[1]}".encode(),
                            value=orjson.dumps(value),
                        )
                    )
        if pending:
            await asyncio.gather(*pending)

    async def sensor_statuses(self, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Sources' sensor statuses (key, value) to the compacted sensors topic."""
        if self.sensors is None:
            return
        pending = [await self.sensors.send(key=key, value=value) for key, value in messages]
        self.metrics.sensor_statuses.inc(len(pending))
        await asyncio.gather(*pending)

    async def dead_letter(
        self,
        rejections: Sequence[Rejection],
        *,
        raw: bytes,
        topic: str,
        partition: int | None,
        offset: int | None,
        key: bytes | None,
    ) -> None:
        pending = []
        now = datetime.now(UTC)
        for rejection in rejections:
            record = DeadLetter.from_rejection(
                rejection,
                raw=raw,
                topic=topic,
                partition=partition,
                offset=offset,
                key=key,
                received_at=now,
            )
            pending.append(
                await self.deadletter.send(
                    key=topic.encode(), value=record.model_dump_json().encode()
                )
            )
            self.metrics.deadletters.labels(record.category).inc()
        if pending:
            await asyncio.gather(*pending)

    async def refuse(self, message: Any, kind: str, reason: str, raw: bytes | None = None) -> None:
        """Dead-letter a message of our own pipeline (not a sensor's) that cannot be used;
        `raw` in place of its bytes (one with a secret taken out)."""
        await self.dead_letter(
            [internal_rejection(kind, reason)],
            raw=raw if raw is not None else (message.value or b""),
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
        )


def internal_rejection(kind: str, message: str) -> Rejection:
    """A refusal that is not the sender's fault (an engine defect, a rejected rule set)."""
    return Rejection((FieldError("", kind, message[:500]),))
