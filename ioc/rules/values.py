"""What a rule reads from a reading: its own fields, and values derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ioc.aqi import round_half_up, sub_index
from ioc.geo.zones import Zone
from ioc.schemas.readings import AnyReading, CameraReading, TrafficReading

# Speed limits the counting stations do not send: by road name prefix, else urban 50 km/h.
SPEED_LIMITS = {"QL": 60.0, "ĐT": 50.0}


@dataclass(frozen=True, slots=True)
class Placed:
    """A valid reading, placed on the map, with where it was read from (provenance)."""

    reading: AnyReading
    district: str | None
    zones: tuple[Zone, ...] = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @property
    def ts(self) -> datetime:
        return self.reading.ts

    @property
    def sensor_id(self) -> str:
        return self.reading.sensor_id

    def active_zones(self, respect_schedule: bool) -> tuple[Zone, ...]:
        if not respect_schedule:
            return self.zones
        return tuple(z for z in self.zones if z.active_at(self.reading.ts))


def value_of(reading: AnyReading, name: str) -> float | None:
    """A numeric field or a derived value; None when the reading does not have it."""
    if name == "aqi":
        indices = [i for i in (_aqi(reading, "pm25"), _aqi(reading, "pm10")) if i is not None]
        return float(max(indices)) if indices else None
    if name in ("aqi_pm25", "aqi_pm10"):
        index = _aqi(reading, name.removeprefix("aqi_"))
        return float(index) if index is not None else None
    if name == "speed_over_limit_kmh":
        if isinstance(reading, TrafficReading) and reading.avg_speed_kmh is not None:
            return reading.avg_speed_kmh - _limit(reading.road)
        return None
    if name == "event":
        return 1.0 if isinstance(reading, TrafficReading) and reading.event else None
    if name == "analytic":
        return 1.0 if isinstance(reading, CameraReading) else None
    value = getattr(reading, name, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _aqi(reading: AnyReading, pollutant: str) -> int | None:
    concentration = getattr(reading, pollutant, None)
    if concentration is None:
        return None
    index = sub_index("pm25" if pollutant == "pm25" else "pm10", concentration)
    return round_half_up(index) if index is not None else None


def _limit(road: str) -> float:
    for prefix, limit in SPEED_LIMITS.items():
        if road.startswith(prefix):
            return limit
    return 50.0
