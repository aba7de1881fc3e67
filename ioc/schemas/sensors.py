"""Sensors' latest statuses, as workers publish them on the compacted `ioc.sensors` topic for
the console's map: where each is, when it was last heard, whether it is trusted, its latest
values and, for an air station, its VN_AQI with the band's official colour. One message per
source (key: source_id) holds every sensor of that source (ioc/streams/sensor_status.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.schemas.common import Id, Latitude, Longitude, Slug, UtcDatetime

SensorState = Literal["ok", "offline", "implausible"]
SENSOR_STATES: tuple[SensorState, ...] = ("ok", "offline", "implausible")
Value = float | int | str | bool


class AqiBand(BaseModel):
    model_config = ConfigDict(frozen=True)

    aqi: Annotated[int, Field(ge=0, le=500)]
    kind: Literal["hourly", "daily"] = "hourly"
    dominant: str
    name_vi: str
    name_en: str
    colour: str = Field(description="The band's colour name (QĐ 1459/QĐ-TCMT), in English.")
    rgb: tuple[int, int, int]


class SensorStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    sensor_id: Id
    kind: Literal["traffic", "camera", "environment"]
    source_id: Id
    district: Slug | None = Field(default=None, description="District IOC; None: the province.")
    zones: list[Id] = Field(default_factory=list, max_length=64)
    lat: Latitude
    lon: Longitude
    status: SensorState
    reason: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Why it is not ok: the rule that found it offline, the check."
    )
    last_seen: UtcDatetime = Field(description="Event time of its latest reading.")
    values: dict[str, Value] = Field(default_factory=dict, max_length=32)
    aqi: AqiBand | None = None
    published_at: UtcDatetime = Field(description="When a worker published this status.")


class SourceStatuses(BaseModel):
    """One `ioc.sensors` message: the statuses of every sensor of one source."""

    model_config = ConfigDict(frozen=True)

    source_id: Id
    sensors: list[SensorStatus] = Field(max_length=10_000)
    published_at: UtcDatetime
