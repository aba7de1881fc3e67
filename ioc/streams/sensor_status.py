"""Sensor statuses for the console's map: what each sensor last said, where, and whether it is
trusted — published on the compacted `ioc.sensors` topic.

- `offline`: an absence rule fired for it (it has been silent too long); until it is resolved;
- `implausible`: its latest reading had a value outside the plausible range (rules/health.py);
- `ok`: otherwise.

One message per source (key: source_id, the key of the sensor topics) carries the status of
every sensor of that source this worker knows, at most once per interval, and at once when one
of them changes status. Per source, not per sensor: a sensor reports about as often as the
interval, so a message per sensor would cost a message per reading; a gateway's hundred
sensors in one message cost one. The topic stays compactable: a source's latest message holds
all its sensors. A source of more than MAX_PER_MESSAGE sensors is split by a hash of the
sensor id into 2, 4, 8… parts, keyed `source_id/part`; when the number of parts changes, the
old keys get a message with no sensor (compaction then keeps only that, a few bytes). A
source's first message waits a share of the interval that depends on its id, so that a
worker that has just taken partitions over does not publish them all at once.

The VN_AQI of an air station is that of its latest reading's PM2.5 and PM10 alone, on the
hourly breakpoints: the figure the `aqi` rule field uses (not an hourly NowCast).

The tracker is plain, in-memory and per worker: a worker that takes a partition over publishes
its sources after their next reading, and the topic keeps their last statuses meanwhile.
"""

from __future__ import annotations

import heapq
import time
import zlib
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ioc.aqi import MissingPMError, hourly_aqi
from ioc.rules.health import PLAUSIBLE, plausible
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import AnyReading, CameraReading, EnvironmentReading, TrafficReading
from ioc.schemas.sensors import SensorState

MAX_PER_MESSAGE = 250  # statuses in one message: about 100 kB, far under the 1 MB limit
# What a status carries of a reading: its measurements, not its identity or place.
NOT_VALUES = frozenset({"kind", "sensor_id", "source_id", "ts", "lat", "lon"})
# Per kind, the fields with a plausible range: judging a reading reads only those (it runs
# for every reading a worker takes).
CHECKED: dict[str, tuple[str, ...]] = {
    cls.model_fields["kind"].annotation.__args__[0]: tuple(  # type: ignore[union-attr]
        name for name in cls.model_fields if name in PLAUSIBLE
    )
    for cls in (TrafficReading, CameraReading, EnvironmentReading)
}


def implausible(reading: AnyReading) -> str | None:
    """Why the reading is not plausible; None when it is."""
    for name in CHECKED[reading.kind]:
        value = getattr(reading, name)
        if value is not None and not plausible(name, value):
            low, high = PLAUSIBLE[name]
            return f"{name}={value:g} is outside the plausible {low:g}–{high:g}"
    return None


def _values(reading: AnyReading) -> dict[str, Any]:
    return {
        name: value
        for name, value in reading
        if name not in NOT_VALUES and isinstance(value, bool | int | float | str)
    }


def _aqi(reading: AnyReading) -> dict[str, Any] | None:
    if not isinstance(reading, EnvironmentReading) or (
        reading.pm25 is None and reading.pm10 is None
    ):
        return None
    try:
        result = hourly_aqi(pm25=reading.pm25, pm10=reading.pm10)
    except (MissingPMError, ValueError):
        return None  # a concentration beyond the table: the reading's values say it
    level = result.level
    return {
        "aqi": result.aqi,
        "kind": "hourly",
        "dominant": result.dominant,
        "name_vi": level.vi,
        "name_en": level.en,
        "colour": level.colour,
        "rgb": list(level.rgb),
    }


@dataclass(slots=True)
class _Sensor:
    reading: AnyReading | None
    district: str | None
    zones: tuple[Any, ...]  # the reading's zones (ioc.geo Zone); their ids when published
    state: SensorState = "ok"
    reason: str | None = None
    offline_by: str | None = None  # the absence rule holding it offline


@dataclass(slots=True)
class _Source:
    sensors: dict[str, _Sensor] = field(default_factory=dict)
    published_at: float | None = None
    due_at: float | None = None  # when its pending publication is due; None: none pending
    parts: int = 1  # messages its sensors are split into, as last published


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
        self.sources: dict[str, _Source] = {}
        self.source_of: dict[str, str] = {}  # sensor id → source id
        self._urgent: set[str] = set()
        self._due: list[tuple[float, str]] = []  # (when, source id), a heap

    def observe(self, placed: Placed) -> None:
        """A reading placed on the map (the latest of a batch wins)."""
        reading = placed.reading
        source_id = reading.source_id
        source = self.sources.get(source_id)
        if source is None:
            source = self.sources[source_id] = _Source()
        sensor = source.sensors.get(reading.sensor_id)
        if sensor is None:
            sensor = source.sensors[reading.sensor_id] = _Sensor(
                reading, placed.district, placed.zones
            )
            self.source_of[reading.sensor_id] = source_id
        elif sensor.reading is not None and reading.ts < sensor.reading.ts:
            return  # a late reading: the map shows the newest
        else:
            sensor.reading, sensor.district, sensor.zones = reading, placed.district, placed.zones
        if sensor.offline_by is None:
            why = implausible(reading)
            state: SensorState = "implausible" if why else "ok"
            if state != sensor.state:
                sensor.state, sensor.reason = state, why
                self._urgent.add(source_id)
        self._schedule(source_id, source)

    def _schedule(self, source_id: str, source: _Source) -> None:
        if source.due_at is not None:
            return
        now = self.clock()
        if source.published_at is None:
            # Spread first publications over the interval, by the source's id.
            share = (zlib.crc32(source_id.encode()) % 1000) / 1000
            when = now + share * self.interval_s
        else:
            when = max(now, source.published_at + self.interval_s)
        source.due_at = when
        heapq.heappush(self._due, (when, source_id))

    def alert(self, alert: Alert) -> None:
        """An alert of an absence rule takes its sensor offline, or brings it back."""
        source_id = self.source_of.get(alert.subject)
        if source_id is None:
            return  # a sensor never read here since the start: its source's message has it
        sensor = self.sources[source_id].sensors[alert.subject]
        if alert.status == "firing":
            sensor.offline_by = alert.rule_id
            sensor.state, sensor.reason = "offline", f"silent too long ({alert.rule_id})"
        elif sensor.offline_by == alert.rule_id:
            sensor.offline_by = None
            why = implausible(sensor.reading) if sensor.reading is not None else None
            sensor.state, sensor.reason = ("implausible", why) if why else ("ok", None)
        self._urgent.add(source_id)

    def alerts(self, alerts: Iterable[Alert], absence_rules: Container[str]) -> None:
        """Of these alerts, those of the (current) absence rules."""
        for alert in alerts:
            if alert.rule_id in absence_rules:
                self.alert(alert)

    def due(self) -> list[tuple[bytes, bytes]]:
        """(key, value) of the source messages to publish now: sources with a sensor whose
        status changed, and sources with news whose interval has passed."""
        now = self.clock()
        ready = set(self._urgent)
        self._urgent.clear()
        while self._due and self._due[0][0] <= now:
            when, source_id = heapq.heappop(self._due)
            if self.sources[source_id].due_at == when:  # else published early, as urgent
                ready.add(source_id)
        out: list[tuple[bytes, bytes]] = []
        for source_id in sorted(ready):
            source = self.sources[source_id]
            source.published_at = now
            source.due_at = None
            out.extend(self._messages(source_id, source))
        return out

    def _messages(self, source_id: str, source: _Source) -> list[tuple[bytes, bytes]]:
        parts = 1
        while len(source.sensors) > parts * MAX_PER_MESSAGE:
            parts *= 2
        published = self.wall().isoformat()
        out: list[tuple[bytes, bytes]] = []
        if parts != source.parts:
            empty = orjson.dumps({"source_id": source_id, "sensors": [], "published_at": published})
            out += [(_key(source_id, n, source.parts), empty) for n in range(source.parts)]
            source.parts = parts
        split: list[list[dict[str, Any]]] = [[] for _ in range(parts)]
        for sensor_id, sensor in source.sensors.items():
            status = self._status(source_id, sensor_id, sensor, published)
            if status is not None:
                split[zlib.crc32(sensor_id.encode()) % parts if parts > 1 else 0].append(status)
        for n, statuses in enumerate(split):
            value = {"source_id": source_id, "sensors": statuses, "published_at": published}
            out.append((_key(source_id, n, parts), orjson.dumps(value)))
        return out

    def _status(
        self, source_id: str, sensor_id: str, sensor: _Sensor, published: str
    ) -> dict[str, Any] | None:
        reading = sensor.reading
        if reading is None:
            return None
        return {
            "sensor_id": sensor_id,
            "kind": reading.kind,
            "source_id": source_id,
            "district": sensor.district,
            "zones": [z.id for z in sensor.zones],
            "lat": reading.lat,
            "lon": reading.lon,
            "status": sensor.state,
            "reason": sensor.reason,
            "last_seen": reading.ts.isoformat(),
            "values": _values(reading),
            "aqi": _aqi(reading),
            "published_at": published,
        }


def _key(source_id: str, part: int, parts: int) -> bytes:
    return (source_id if parts == 1 else f"{source_id}/{part}").encode()
