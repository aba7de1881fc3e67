"""Sensor health: is a reading plausible, and is it fresh? Rules must not page anybody on
the word of a broken or lagging sensor.

- A value outside the plausible range for Lâm Đồng (the schema only refuses the physically
  impossible) is not used by any rule; it is counted as `implausible`.
- A reading far behind the stream (a gateway flushing its buffer after an outage) still
  counts, but an alert it raises is downgraded one severity level and says why.
- A sensor that an absence rule holds offline raises nothing until it is back.
"""

from __future__ import annotations

from ioc.schemas.alerts import Severity

# Plausible, not possible: a 55 °C reading in the highlands is a sensor in the sun.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "pm25": (0, 1000),
    "pm10": (0, 2000),
    "o3": (0, 1200),
    "no2": (0, 2000),
    "so2": (0, 2600),
    "co": (0, 60_000),
    "noise_db": (20, 140),
    "water_level_cm": (-200, 3000),
    "rain_mm_h": (0, 300),
    "temperature_c": (-10, 60),
    "humidity_pct": (1, 100),
    "avg_speed_kmh": (0, 200),
    "occupancy_pct": (0, 100),
}
STALE_AFTER_S = 600.0
_DOWNGRADE: dict[str, Severity] = {
    "extreme": "severe",
    "severe": "moderate",
    "moderate": "minor",
    "minor": "minor",
}


def plausible(field: str, value: float) -> bool:
    bounds = PLAUSIBLE.get(field)
    return bounds is None or bounds[0] <= value <= bounds[1]


def downgrade(severity: Severity) -> Severity:
    return _DOWNGRADE[severity]
