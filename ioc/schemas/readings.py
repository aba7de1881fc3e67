"""Sensor readings (docs/architecture.md): a union discriminated on `kind`, and gateway batches.

Field names follow FIWARE Smart Data Models where one exists (AirQualityObserved: pm25, pm10…).
Bounds are physical impossibility, not plausibility: a PM2.5 of 1 500 µg/m³ is possible in a
fire and passes; one of 50 000 is a broken sensor and is rejected here. Plausibility (a sensor
reporting outside its usual range) is the rule engine's business.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from ioc.schemas.common import Id, Latitude, Longitude, Plate, Strict, UtcDatetime

MAX_BATCH_READINGS = 1000

TrafficEvent = Literal["accident", "wrong_way", "stalled_vehicle", "red_light"]
CameraAnalytic = Literal[
    "intrusion",
    "loitering",
    "crowd",
    "fire_smoke",
    "abandoned_object",
    "plate_match",
    "face_match",
]


class ReadingBase(Strict):
    sensor_id: Id
    source_id: Id = Field(description="The gateway, camera server or station that sent it.")
    ts: UtcDatetime = Field(description="Event time, ISO-8601 with a zone; stored in UTC.")
    lat: Latitude
    lon: Longitude


class TrafficReading(ReadingBase):
    """A counting station's interval, or an event seen by a traffic camera."""

    kind: Literal["traffic"]
    road: Annotated[str, Field(min_length=1, max_length=64)]
    lane: Annotated[int, Field(ge=1, le=16)] | None = None
    vehicle_count: Annotated[int, Field(ge=0, le=100_000)] | None = None
    avg_speed_kmh: Annotated[float, Field(ge=0, le=300)] | None = None
    occupancy_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    event: TrafficEvent | None = None
    plate: Plate | None = None

    @model_validator(mode="after")
    def _says_something(self) -> TrafficReading:
        if (
            self.event is None
            and self.vehicle_count is None
            and self.avg_speed_kmh is None
            and self.occupancy_pct is None
        ):
            raise ValueError(
                "a traffic reading needs counts (vehicle_count, avg_speed_kmh, occupancy_pct) "
                "or an event"
            )
        return self


class CameraReading(ReadingBase):
    """A video-analytics detection from a security camera."""

    kind: Literal["camera"]
    analytic: CameraAnalytic
    confidence: Annotated[float, Field(ge=0, le=1)]
    count: Annotated[int, Field(ge=0, le=100_000)] | None = None
    plate: Plate | None = None
    track_id: Id | None = Field(default=None, description="Stable id of a moving object.")
    snapshot_url: Annotated[str, Field(max_length=512, pattern=r"^https?://\S+$")] | None = None


ENVIRONMENT_FIELDS = (
    "pm25",
    "pm10",
    "o3",
    "no2",
    "so2",
    "co",
    "noise_db",
    "water_level_cm",
    "rain_mm_h",
    "temperature_c",
    "humidity_pct",
)


class EnvironmentReading(ReadingBase):
    """An environment station's measurements; concentrations in µg/m³ (CO too)."""

    kind: Literal["environment"]
    pm25: Annotated[float, Field(ge=0, le=5_000)] | None = None
    pm10: Annotated[float, Field(ge=0, le=10_000)] | None = None
    o3: Annotated[float, Field(ge=0, le=10_000)] | None = None
    no2: Annotated[float, Field(ge=0, le=10_000)] | None = None
    so2: Annotated[float, Field(ge=0, le=10_000)] | None = None
    co: Annotated[float, Field(ge=0, le=500_000)] | None = None
    noise_db: Annotated[float, Field(ge=0, le=200)] | None = None
    water_level_cm: Annotated[float, Field(ge=-1_000, le=10_000)] | None = None
    rain_mm_h: Annotated[float, Field(ge=0, le=1_000)] | None = None
    temperature_c: Annotated[float, Field(ge=-60, le=80)] | None = None
    humidity_pct: Annotated[float, Field(ge=0, le=100)] | None = None

    @model_validator(mode="after")
    def _measures_something(self) -> EnvironmentReading:
        if all(getattr(self, name) is None for name in ENVIRONMENT_FIELDS):
            raise ValueError(f"an environment reading needs one of {', '.join(ENVIRONMENT_FIELDS)}")
        return self


READING_KINDS = ("traffic", "camera", "environment")
BATCH_TAG = "batch"


def _reading_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


Reading = Annotated[
    Annotated[TrafficReading, Tag("traffic")]
    | Annotated[CameraReading, Tag("camera")]
    | Annotated[EnvironmentReading, Tag("environment")],
    Discriminator(
        _reading_tag,
        custom_error_type="unknown_kind",
        custom_error_message=f"kind must be one of {', '.join(READING_KINDS)}",
    ),
]


class GatewayBatch(Strict):
    """Readings that one source sends together; one Kafka message, many readings.

    Every reading names the batch's source_id; the decoder rejects those that name another
    one individually, keeping the rest of the batch.
    """

    source_id: Id
    readings: Annotated[list[Reading], Field(min_length=1, max_length=MAX_BATCH_READINGS)]


def _message_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return BATCH_TAG if "readings" in value else _reading_tag(value)
    if isinstance(value, GatewayBatch):
        return BATCH_TAG
    return _reading_tag(value)


# What a sensor topic carries: one reading, or a gateway batch.
Message = Annotated[
    Annotated[TrafficReading, Tag("traffic")]
    | Annotated[CameraReading, Tag("camera")]
    | Annotated[EnvironmentReading, Tag("environment")]
    | Annotated[GatewayBatch, Tag(BATCH_TAG)],
    Discriminator(
        _message_tag,
        custom_error_type="unknown_kind",
        custom_error_message=(
            f"kind must be one of {', '.join(READING_KINDS)}, or the message a batch "
            "with source_id and readings"
        ),
    ),
]

AnyReading = TrafficReading | CameraReading | EnvironmentReading
