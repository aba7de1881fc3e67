"""JSON Schema of every model, by name: what `ioc schema KIND` prints."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from ioc.schemas.alerts import Alert
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident
from ioc.schemas.readings import (
    CameraReading,
    EnvironmentReading,
    GatewayBatch,
    Message,
    Reading,
    TrafficReading,
)

SCHEMAS: dict[str, tuple[Any, str]] = {
    "traffic": (TrafficReading, "a traffic reading (counting station or traffic camera)"),
    "camera": (CameraReading, "a security camera's video-analytics detection"),
    "environment": (EnvironmentReading, "an environment station's measurements"),
    "reading": (Reading, "any reading: the union discriminated on `kind`"),
    "batch": (GatewayBatch, "a gateway batch: source_id and readings"),
    "message": (Message, "what a sensor topic carries: one reading or a batch"),
    "alert": (Alert, "an alert on ioc.alerts"),
    "incident": (Incident, "an incident on ioc.incidents and the district feeds"),
    "deadletter": (DeadLetter, "a refused message on ioc.deadletter"),
}


def json_schema(kind: str) -> dict[str, Any]:
    model, description = SCHEMAS[kind]
    schema = TypeAdapter(model).json_schema()
    schema.setdefault("description", description)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:ioc:schema:{kind}"
    return schema
