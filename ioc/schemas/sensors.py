"""Sensors' latest statuses, as workers publish them on the compacted `ioc.sensors` topic for
the console's map: where each is, when it was last heard, whether it is trusted, its latest
values and, for an air station, its VN_AQI with the band's official colour. One message per
source (key: source_id) holds every sensor of that source with its latest reading as the
worker read it (ioc/streams/stages/sensor_status.py); `SensorStatus` is what the console shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ioc.aqi import MissingPMError, hourly_aqi
from ioc.schemas.common import Id, Latitude, Longitude, Slug, UtcDatetime
from ioc.schemas.readings import AnyReading, EnvironmentReading

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


class PublishedSensor(BaseModel):
    """One sensor in an `ioc.sensors` message: its status and its latest reading, as read."""

    model_config = ConfigDict(frozen=True)

    sensor_id: Id
    status: SensorState
    reason: Annotated[str, Field(max_length=200)] | None = None
    district: Slug | None = None
    zones: list[Id] = Field(default_factory=list, max_length=64)
    reading: AnyReading


class SourceStatuses(BaseModel):
    """One `ioc.sensors` message: every sensor of one source (or of one part of a large one).
    Workers publish the readings as they are; the console derives values and VN_AQI."""

    model_config = ConfigDict(frozen=True)

    source_id: Id
    sensors: list[PublishedSensor] = Field(max_length=10_000)
    published_at: UtcDatetime

    def statuses(self) -> list[SensorStatus]:
        return [status_of(one, self.published_at) for one in self.sensors]


# What a status shows of a reading: its measurements, not its identity, place or time.
NOT_VALUES = frozenset({"kind", "sensor_id", "source_id", "ts", "lat", "lon"})


def status_of(one: PublishedSensor, published_at: datetime) -> SensorStatus:
    reading = one.reading
    values = {
        name: value
        for name, value in reading.__dict__.items()
        if name not in NOT_VALUES and isinstance(value, bool | int | float | str)
    }
    return SensorStatus(
        sensor_id=one.sensor_id,
        kind=reading.kind,
        source_id=reading.source_id,
        district=one.district,
        zones=one.zones,
        lat=reading.lat,
        lon=reading.lon,
        status=one.status,
        reason=one.reason,
        last_seen=reading.ts,
        values=values,
        aqi=aqi_band(reading),
        published_at=published_at,
    )


def aqi_band(reading: AnyReading) -> AqiBand | None:
    """The VN_AQI of a reading's PM2.5 and PM10 alone, on the hourly breakpoints: the figure
    the rules' `aqi` field uses (not an hourly NowCast)."""
    if not isinstance(reading, EnvironmentReading) or (
        reading.pm25 is None and reading.pm10 is None
    ):
        return None
    try:
        result = hourly_aqi(pm25=reading.pm25, pm10=reading.pm10)
    except (MissingPMError, ValueError):
        return None  # a concentration beyond the table: the values say it
    level = result.level
    return AqiBand(
        aqi=result.aqi,
        kind="hourly",
        dominant=result.dominant,
        name_vi=level.vi,
        name_en=level.en,
        colour=level.colour,
        rgb=level.rgb,
    )
