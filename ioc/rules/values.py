"""What a rule reads from a reading: its own fields, and values derived from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from ioc.aqi import round_half_up, sub_index
from ioc.geo.zones import Zone
from ioc.schemas.readings import AnyReading, CameraReading, TrafficReading

# Speed limits the counting stations do not send: by road name prefix, else urban 50 km/h.
SPEED_LIMITS = {"QL": 60.0, "ĐT": 50.0}


class Placed(NamedTuple):
    """A valid reading, placed on the map, with where it was read from (provenance).

    A named tuple, immutable: a batch makes one per reading, and a tuple is made several
    times faster than a frozen dataclass."""

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
    derive = _DERIVED.get(name)
    if derive is not None:
        return derive(reading)
    value = getattr(reading, name, None)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _aqi_of(reading: AnyReading) -> float | None:
    indices = [i for i in (_aqi(reading, "pm25"), _aqi(reading, "pm10")) if i is not None]
    return float(max(indices)) if indices else None


def _sub_index_of(pollutant: str) -> Callable[[AnyReading], float | None]:
    def derive(reading: AnyReading) -> float | None:
        index = _aqi(reading, pollutant)
        return float(index) if index is not None else None

    return derive


def _over_limit(reading: AnyReading) -> float | None:
    if isinstance(reading, TrafficReading) and reading.avg_speed_kmh is not None:
        return reading.avg_speed_kmh - _limit(reading.road)
    return None


def _event(reading: AnyReading) -> float | None:
    return 1.0 if isinstance(reading, TrafficReading) and reading.event else None


def _analytic(reading: AnyReading) -> float | None:
    return 1.0 if isinstance(reading, CameraReading) else None


# Values a reading does not carry but a rule may name (model.DERIVED_FIELDS), and the event
# fields, which count as 1 when present.
_DERIVED: dict[str, Callable[[AnyReading], float | None]] = {
    "aqi": _aqi_of,
    "aqi_pm25": _sub_index_of("pm25"),
    "aqi_pm10": _sub_index_of("pm10"),
    "speed_over_limit_kmh": _over_limit,
    "event": _event,
    "analytic": _analytic,
}


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
