"""The typed core every part speaks: readings, batches, alerts, incidents, dead letters."""

from ioc.schemas.alerts import SEVERITY_RANK, Alert, Category, Evidence, Severity
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.decode import Decoded, Decoder, FieldError, Rejection
from ioc.schemas.incidents import Incident, IncidentStatus, StatusChange
from ioc.schemas.readings import (
    ENVIRONMENT_FIELDS,
    AnyReading,
    CameraReading,
    EnvironmentReading,
    GatewayBatch,
    Message,
    Reading,
    TrafficReading,
)

__all__ = [
    "ENVIRONMENT_FIELDS",
    "SEVERITY_RANK",
    "Alert",
    "AnyReading",
    "CameraReading",
    "Category",
    "DeadLetter",
    "Decoded",
    "Decoder",
    "EnvironmentReading",
    "Evidence",
    "FieldError",
    "GatewayBatch",
    "Incident",
    "IncidentStatus",
    "Message",
    "Reading",
    "Rejection",
    "Severity",
    "StatusChange",
    "TrafficReading",
]
