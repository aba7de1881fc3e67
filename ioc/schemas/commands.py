"""Operator actions on incidents, as events on `ioc.commands` (docs/sinks-and-feeds.md).

Commands are keyed like alerts (`rule_id|subject`), so that they reach the partition, and the
worker, that holds the incident. `sla_check` is the worker's own clock tick: it asks the
incident stage to escalate what has waited too long, as an event in the partition's order.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.schemas.common import UtcDatetime

Action = Literal["acknowledge", "resolve", "sla_check"]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action
    incident_id: Annotated[str, Field(max_length=128)] | None = None
    actor: Annotated[str, Field(min_length=1, max_length=128)]
    note: Annotated[str, Field(max_length=2000)] | None = None
    at: UtcDatetime

    @model_validator(mode="after")
    def _target(self) -> Command:
        if self.action != "sla_check" and not self.incident_id:
            raise ValueError(f"{self.action} needs an incident_id")
        return self


def routing_key(rule_id: str, subject: str) -> bytes:
    """The key of an alert, and of a command about its incident: one partition per subject."""
    return f"{rule_id}|{subject}".encode()
