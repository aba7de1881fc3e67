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

Each sensor is published with its latest reading as it is; the console derives the values it
shows and an air station's VN_AQI (ioc/schemas/sensors.py).

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

from ioc.rules.health import PLAUSIBLE
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import AnyReading, CameraReading, EnvironmentReading, TrafficReading
from ioc.schemas.sensors import SensorState

MAX_PER_MESSAGE = 250  # statuses in one message: about 100 kB, far under the 1 MB limit
# Per kind, the fields with a plausible range and the range: judging a reading reads only
# those, in one loop without a call per field (it runs for every reading a worker takes).
CHECKS: dict[str, tuple[tuple[str, float, float], ...]] = {
    cls.model_fields["kind"].annotation.__args__[0]: tuple(  # type: ignore[union-attr]
        (name, *PLAUSIBLE[name]) for name in cls.model_fields if name in PLAUSIBLE
    )
    for cls in (TrafficReading, CameraReading, EnvironmentReading)
}


def implausible(reading: AnyReading) -> str | None:
    """Why the reading is not plausible (as rules/health.py judges it); None when it is."""
    values = reading.__dict__
    for name, low, high in CHECKS[reading.kind]:
        value = values[name]
        if value is not None and not low <= value <= high:
            return f"{name}={value:g} is outside the plausible {low:g}–{high:g}"
    return None


@dataclass(slots=True)
class _Source:
    sensors: dict[str, _Sensor] = field(default_factory=dict)
    published_at: float | None = None
    due_at: float | None = None  # when its pending publication is due; None: none pending
    parts: int = 1  # messages its sensors are split into, as last published


@dataclass(slots=True)
class _Sensor:
    """A sensor as its source's next message will show it: `status` is that message's entry,
    kept up to date in place, so that publishing a source builds nothing per sensor. Its
    reading is the model's fields (`__dict__`), not the model: a dict of strings, numbers and
    datetimes is outside the garbage collector's sight, and 50 000 models kept alive from one
    batch to the next made every collection walk them (a fifth of the stage's time). The
    fields are serialised with the source's message, in one `orjson.dumps`: a call per
    reading at observe cost several times as much."""

    source_id: str
    source: _Source
    status: dict[str, Any]  # sensor_id, status, reason, district, zones, reading
    ts: datetime
    zones: tuple[Any, ...]  # the reading's zones (ioc.geo Zone), as placed
    crc: int  # of its id: which part of a split source it is in
    implausible: str | None = None  # why its latest reading is not plausible
    offline_by: str | None = None  # the absence rule holding it offline

    @property
    def state(self) -> SensorState:
        state: SensorState = self.status["status"]
        return state

    def set_state(self, state: SensorState, reason: str | None) -> None:
        self.status["status"], self.status["reason"] = state, reason


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
        self.sensors: dict[str, _Sensor] = {}
        self._urgent: set[str] = set()
        self._due: list[tuple[float, str]] = []  # (when, source id), a heap

    def observe(self, placed: Placed) -> None:
        """A reading placed on the map (the latest of a batch wins)."""
        reading = placed.reading
        ts = reading.ts
        sensor = self.sensors.get(reading.sensor_id)
        if sensor is None:
            source = self.sources.get(reading.source_id)
            if source is None:
                source = self.sources[reading.source_id] = _Source()
            status = {
                "sensor_id": reading.sensor_id,
                "status": "ok",
                "reason": None,
                "district": placed.district,
                "zones": tuple(z.id for z in placed.zones),
                "reading": reading.__dict__,
            }
            crc = zlib.crc32(reading.sensor_id.encode())
            sensor = _Sensor(reading.source_id, source, status, ts, placed.zones, crc)
            source.sensors[reading.sensor_id] = self.sensors[reading.sensor_id] = sensor
        elif ts < sensor.ts:
            return  # a late reading: the map shows the newest
        else:
            status = sensor.status
            status["reading"], status["district"] = reading.__dict__, placed.district
            sensor.ts = ts
            if placed.zones is not sensor.zones:
                sensor.zones = placed.zones
                status["zones"] = tuple(z.id for z in placed.zones)
        why = sensor.implausible = implausible(reading)
        if sensor.offline_by is None and (why is None) != (sensor.state == "ok"):
            sensor.set_state(*(("implausible", why) if why else ("ok", None)))
            self._urgent.add(sensor.source_id)
        if sensor.source.due_at is None:
            self._schedule(sensor.source_id, sensor.source)

    def _schedule(self, source_id: str, source: _Source) -> None:
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
        sensor = self.sensors.get(alert.subject)
        if sensor is None:
            return  # a sensor never read here since the start: its source's message has it
        if alert.status == "firing":
            sensor.offline_by = alert.rule_id
            sensor.set_state("offline", f"silent too long ({alert.rule_id})")
        elif sensor.offline_by == alert.rule_id:
            sensor.offline_by = None
            why = sensor.implausible
            sensor.set_state(*(("implausible", why) if why else ("ok", None)))
        self._urgent.add(sensor.source_id)

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
        if not ready:
            return out
        published = self.wall().isoformat()
        for source_id in sorted(ready):
            source = self.sources[source_id]
            source.published_at = now
            source.due_at = None
            self._messages(source_id, source, published, out)
        return out

    def _messages(
        self, source_id: str, source: _Source, published: str, out: list[tuple[bytes, bytes]]
    ) -> None:
        parts = 1
        while len(source.sensors) > parts * MAX_PER_MESSAGE:
            parts *= 2
        if parts != source.parts:
            empty = orjson.dumps({"source_id": source_id, "sensors": [], "published_at": published})
            out += [(_key(source_id, n, source.parts), empty) for n in range(source.parts)]
            source.parts = parts
        if parts == 1:
            statuses = [sensor.status for sensor in source.sensors.values()]
            value = {"source_id": source_id, "sensors": statuses, "published_at": published}
            out.append((source_id.encode(), orjson.dumps(value)))
            return
        split: list[list[dict[str, Any]]] = [[] for _ in range(parts)]
        for sensor in source.sensors.values():
            split[sensor.crc % parts].append(sensor.status)
        for n, part in enumerate(split):
            value = {"source_id": source_id, "sensors": part, "published_at": published}
            out.append((_key(source_id, n, parts), orjson.dumps(value)))


def _key(source_id: str, part: int, parts: int) -> bytes:
    return (source_id if parts == 1 else f"{source_id}/{part}").encode()
