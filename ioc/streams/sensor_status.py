"""Sensor statuses for the console's map: what each sensor last said, where, and whether it is
trusted — published on the compacted `ioc.sensors` topic (key: sensor_id) at most once per
interval per sensor, and at once when its status changes.

- `offline`: an absence rule fired for it (it has been silent too long); until it is resolved;
- `implausible`: its latest reading had a value outside the plausible range (rules/health.py);
- `ok`: otherwise.

The VN_AQI of an air station is that of its latest reading's PM2.5 and PM10 alone, on the
hourly breakpoints: the figure the `aqi` rule field uses (not an hourly NowCast).

The tracker is plain, in-memory and per worker: a worker that takes a partition over starts
publishing its sensors at their next reading, and the topic keeps the last status meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ioc.aqi import MissingPMError, hourly_aqi
from ioc.rules.health import PLAUSIBLE, plausible
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import AnyReading, CameraReading, EnvironmentReading, TrafficReading
from ioc.schemas.sensors import AqiBand, SensorState, SensorStatus, Value

# What a status carries of a reading: its measurements, not its identity or place.
NOT_VALUES = frozenset({"kind", "sensor_id", "source_id", "ts", "lat", "lon"})


@dataclass(slots=True)
class _Sensor:
    reading: AnyReading | None  # the latest, until it is published
    district: str | None
    zones: tuple[str, ...]
    status: SensorState = "ok"
    reason: str | None = None
    offline_by: str | None = None  # the absence rule holding it offline
    published_status: SensorState | None = None
    published_at: float | None = None  # processing time
    last: SensorStatus | None = None


def _values(reading: AnyReading) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, value in reading:
        if name in NOT_VALUES or value is None:
            continue
        if isinstance(value, bool | int | float | str):
            out[name] = value
    return out


# Per kind, the fields with a plausible range: judging a reading reads only those (it runs
# for every reading a worker takes).
CHECKED: dict[str, tuple[str, ...]] = {
    cls.model_fields["kind"].annotation.__args__[0]: tuple(  # type: ignore[union-attr]
        name for name in cls.model_fields if name in PLAUSIBLE
    )
    for cls in (TrafficReading, CameraReading, EnvironmentReading)
}


def _implausible(reading: AnyReading) -> str | None:
    for name in CHECKED[reading.kind]:
        value = getattr(reading, name)
        if value is not None and not plausible(name, value):
            low, high = PLAUSIBLE[name]
            return f"{name}={value:g} is outside the plausible {low:g}–{high:g}"
    return None


def _aqi(reading: AnyReading) -> AqiBand | None:
    if not isinstance(reading, EnvironmentReading) or (
        reading.pm25 is None and reading.pm10 is None
    ):
        return None
    try:
        result = hourly_aqi(pm25=reading.pm25, pm10=reading.pm10)
    except (MissingPMError, ValueError):
        return None  # a concentration beyond the table: the reading's values say it
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


class SensorStatusTracker:
    def __init__(
        self,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.wall = wall
        self.sensors: dict[str, _Sensor] = {}
        self._changed: set[str] = set()

    def observe(self, placed: Placed) -> None:
        """A reading placed on the map (the latest of a batch wins)."""
        reading = placed.reading
        sensor = self.sensors.get(reading.sensor_id)
        zones = tuple(z.id for z in placed.zones)
        if sensor is None:
            sensor = self.sensors[reading.sensor_id] = _Sensor(reading, placed.district, zones)
        elif sensor.reading is None or reading.ts >= sensor.reading.ts:
            sensor.reading, sensor.district, sensor.zones = reading, placed.district, zones
        else:
            return  # a late reading: the map shows the newest
        self._changed.add(reading.sensor_id)

    def alert(self, alert: Alert) -> None:
        """An alert of an absence rule takes its sensor offline, or brings it back."""
        sensor = self.sensors.get(alert.subject)
        if sensor is None:
            # Offline since before this worker started: known by the alert alone.
            sensor = self.sensors[alert.subject] = _Sensor(None, alert.district, tuple(alert.zones))
        if alert.status == "firing":
            sensor.offline_by = alert.rule_id
        elif sensor.offline_by == alert.rule_id:
            sensor.offline_by = None
        self._changed.add(alert.subject)

    def alerts(self, alerts: Iterable[Alert], absence_rules: Container[str]) -> None:
        """Of these alerts, those of the (current) absence rules."""
        for alert in alerts:
            if alert.rule_id in absence_rules:
                self.alert(alert)

    def due(self) -> list[SensorStatus]:
        """The statuses to publish now: every sensor whose status changed, and those with a
        newer reading whose interval has passed."""
        now = self.clock()
        out: list[SensorStatus] = []
        for sensor_id in list(self._changed):
            sensor = self.sensors[sensor_id]
            status, reason = self._judge(sensor)
            interval_passed = (
                sensor.published_at is None or now - sensor.published_at >= self.interval_s
            )
            if status == sensor.published_status and not interval_passed:
                continue  # kept in _changed: published when its interval has passed
            made = self._status(sensor_id, sensor, status, reason)
            self._changed.discard(sensor_id)
            if made is None:
                continue
            sensor.status, sensor.reason = status, reason
            sensor.published_status, sensor.published_at = status, now
            sensor.last, sensor.reading = made, None
            out.append(made)
        return out

    def _judge(self, sensor: _Sensor) -> tuple[SensorState, str | None]:
        if sensor.offline_by is not None:
            return "offline", f"silent too long ({sensor.offline_by})"
        if sensor.reading is not None:
            why = _implausible(sensor.reading)
            return ("implausible", why) if why else ("ok", None)
        return sensor.status if sensor.status != "offline" else "ok", sensor.reason

    def _status(
        self, sensor_id: str, sensor: _Sensor, status: SensorState, reason: str | None
    ) -> SensorStatus | None:
        reading = sensor.reading
        if reading is None:
            last = sensor.last
            if last is None:
                return None  # an alert about a sensor never read here: its topic has it
            return last.model_copy(
                update={"status": status, "reason": reason, "published_at": self.wall()}
            )
        return SensorStatus(
            sensor_id=sensor_id,
            kind=reading.kind,
            source_id=reading.source_id,
            district=sensor.district,
            zones=list(sensor.zones),
            lat=reading.lat,
            lon=reading.lon,
            status=status,
            reason=reason,
            last_seen=reading.ts,
            values=_values(reading),
            aqi=_aqi(reading),
            published_at=self.wall(),
        )
