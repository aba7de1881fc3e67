"""The simulation: a scenario's sensors reporting through time, as Kafka records.

`plan(scenario)` places the sensors and resolves the episodes; `Simulation.records()` yields
the messages the sources send, in the order they send them, with their Kafka timestamps in
virtual time. Nothing here reads the wall clock or a global random generator: the same
scenario, seed and start give the same bytes, on any machine.

Sources batch their readings like real gateways: with `batch.size` 1 every reading is its own
message; above 1 a source sends a `{"source_id", "readings"}` envelope when it holds `size`
readings or its oldest one has waited `linger`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ioc.geo import ZoneSet, default_zones
from simulators.episodes import EpisodePlan, Event, resolve
from simulators.inventory import Inventory, Sensor, Source
from simulators.malformed import Corruptor
from simulators.physics import (
    Ar1,
    pm_profile,
    poisson,
    temperature_c,
    traffic_profile,
)
from simulators.records import Record
from simulators.scenario import Scenario

# Vietnam keeps UTC+7 all year; sensors report local time with its offset.
ICT = timezone(timedelta(hours=7))
PLATE_SERIES = "ABCDEFGHKLMNPSTUVXZ"
PLATE_PROVINCES = ("49", "49", "49", "49", "51", "50", "30", "86", "48", "47")


@dataclass(slots=True)
class Stats:
    messages: int = 0
    readings: int = 0
    malformed: int = 0  # broken messages or readings sent on purpose; each is one dead letter
    by_topic: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    first_ts: int | None = None
    last_ts: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "readings": self.readings,
            "malformed": self.malformed,
            "by_topic": dict(sorted(self.by_topic.items())),
            "by_kind": dict(sorted(self.by_kind.items())),
        }


@dataclass(slots=True)
class _SensorState:
    rng: random.Random
    noise: dict[str, Ar1]


def _local_hour(t: float) -> float:
    return ((t + 7 * 3600) % 86400) / 3600


def _ts(t: float) -> str:
    return datetime.fromtimestamp(int(t), ICT).isoformat()


class Simulation:
    def __init__(self, scenario: Scenario, zone_set: ZoneSet | None = None) -> None:
        self.scenario = scenario
        self.zone_set = zone_set or default_zones()
        inventory = Inventory(self.zone_set, scenario.seed)
        areas = set(scenario.sensors)
        inventory.deploy_fixed(areas)
        for area, counts in scenario.sensors.items():
            inventory.deploy_counts(area, counts.traffic, counts.camera, counts.environment)
        self.episodes: list[EpisodePlan] = resolve(scenario, inventory)
        self.inventory = inventory
        self.sensors = list(inventory.sensors.values())
        self.sources = list(inventory.sources.values())
        self.stats = Stats()

    # --- what it will produce -----------------------------------------------------------

    @property
    def interval_s(self) -> float:
        return self.scenario.interval.total_seconds()

    @property
    def start(self) -> float:
        return self.scenario.start.timestamp()

    @property
    def end(self) -> float:
        return self.start + self.scenario.duration.total_seconds()

    def periodic(self) -> list[Sensor]:
        """Sensors that report every interval (cameras report only what they see)."""
        return [s for s in self.sensors if s.role != "camera"]

    def nominal_rate(self) -> float:
        """Readings per second of virtual time, on average."""
        return max(len(self.periodic()), 1) / self.interval_s

    def expected_readings(self) -> int:
        """Close to the number of readings: periodic ones exactly, events approximately."""
        ticks = math.ceil(self.scenario.duration.total_seconds() / self.interval_s)
        events = sum(len(e.events) for e in self.episodes)
        return len(self.periodic()) * ticks + events

    def manifest(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "start": self.scenario.start.isoformat(),
            "end": (self.scenario.start + self.scenario.duration).isoformat(),
            "zone_set": self.zone_set.version,
            "sensors": len(self.sensors),
            "sources": len(self.sources),
            "episodes": [e.manifest() for e in self.episodes],
        }

    # --- generation ---------------------------------------------------------------------

    def records(self) -> Iterator[Record]:
        """Every message, in send order. Generates lazily: a month-long scenario streams."""
        self.stats = Stats()
        seed = self.scenario.seed
        states = {
            s.id: _SensorState(random.Random(f"{seed}:values:{s.id}"), {}) for s in self.sensors
        }
        modifiers: dict[str, list[Any]] = {}
        silences: dict[str, list[tuple[float, float]]] = {}
        events: list[Event] = []
        for episode in self.episodes:
            for sensor_id, fns in episode.modifiers.items():
                modifiers.setdefault(sensor_id, []).extend(fns)
            for sensor_id, window in episode.silences.items():
                silences.setdefault(sensor_id, []).append(window)
            events.extend(episode.events)
        events.sort(key=lambda e: (e.ts, e.sensor.id))
        batcher = _Batcher(
            self.scenario.batch.size,
            self.scenario.batch.linger.total_seconds(),
            Corruptor(random.Random(f"{seed}:malformed"), self.scenario.malformed),
            self.stats,
        )
        periodic = self.periodic()
        cameras = [s for s in self.sensors if s.role == "camera"]
        event_i = 0
        tick = self.start
        while tick < self.end:
            due: list[tuple[float, str, Sensor, dict[str, Any], float | None, float | None]] = []
            for sensor in periodic:
                ts = tick + math.floor(sensor.phase_s * self.interval_s)
                if ts >= self.end or _silent(silences.get(sensor.id), ts):
                    continue
                fields = self._measure(sensor, ts, states[sensor.id])
                for fn in modifiers.get(sensor.id, ()):
                    fn(sensor, ts, fields)
                due.append((ts, sensor.id, sensor, fields, None, None))
            for sensor in cameras:
                for ts, fields in self._background_events(sensor, tick, states[sensor.id]):
                    if ts < self.end:
                        due.append((ts, sensor.id, sensor, fields, None, None))
            for sensor in periodic:
                if sensor.role == "counter" and sensor.road and sensor.road.id == "da-lat-centre":
                    for ts, fields in self._red_lights(sensor, tick, states[sensor.id]):
                        if ts < self.end:
                            due.append((ts, sensor.id, sensor, fields, None, None))
            next_tick = tick + self.interval_s
            while event_i < len(events) and events[event_i].ts < next_tick:
                e = events[event_i]
                event_i += 1
                if self.start <= e.ts < self.end:
                    due.append((e.ts, e.sensor.id, e.sensor, dict(e.fields), e.lat, e.lon))
            due.sort(key=lambda d: (d[0], d[1]))
            for ts, _, sensor, fields, lat, lon in due:
                reading = _reading(sensor, ts, fields, lat, lon)
                yield from batcher.add(self.inventory.sources[sensor.source_id], ts, reading)
            tick = next_tick
        yield from batcher.flush_all()

    # --- the physics of one reading -----------------------------------------------------

    def _measure(self, sensor: Sensor, t: float, state: _SensorState) -> dict[str, Any]:
        hour = _local_hour(t)
        rng = state.rng
        noise = state.noise
        if sensor.role == "counter":
            assert sensor.road is not None
            profile = traffic_profile(hour)
            wobble = noise.setdefault("flow", Ar1(0.8, 0.04)).step(rng)
            per_hour = sensor.road.peak_flow_vph * profile * (1 + wobble)
            count = poisson(rng, per_hour * self.interval_s / 3600)
            limit = sensor.road.speed_limit_kmh
            speed = limit * (0.97 - 0.3 * profile**2) + noise.setdefault(
                "speed", Ar1(0.7, 1.5)
            ).step(rng)
            occupancy = 3 + 30 * profile * (1 + wobble) + rng.uniform(-1.5, 1.5)
            return {
                "road": sensor.road.name[:64],
                "lane": None,
                "vehicle_count": count,
                "avg_speed_kmh": round(max(speed, 3.0), 1),
                "occupancy_pct": round(min(max(occupancy, 0.0), 95.0), 1),
            }
        if sensor.role == "hydro":
            level = sensor.water_base_cm + noise.setdefault("level", Ar1(0.95, 0.3)).step(rng)
            return {"water_level_cm": round(level, 1), "rain_mm_h": 0.0}
        # An air-quality station.
        pm25 = sensor.pm25_base * pm_profile(hour) + noise.setdefault("pm", Ar1(0.9, 0.8)).step(rng)
        pm25 = max(pm25, 1.0)
        profile = traffic_profile(hour)
        temp = temperature_c(sensor.altitude_m, hour) + noise.setdefault(
            "temp", Ar1(0.9, 0.15)
        ).step(rng)
        coolest = temperature_c(sensor.altitude_m, 2.0)
        o3 = 18 + 50 * max(0.0, math.sin(math.pi * (hour - 8) / 10)) if 8 < hour < 18 else 18.0
        return {
            "pm25": round(pm25, 1),
            "pm10": round(pm25 * 1.7 + rng.uniform(0, 3), 1),
            "o3": round(o3 + rng.uniform(-3, 3), 1),
            "no2": round(12 + 22 * profile + rng.uniform(-2, 2), 1),
            "so2": round(6 + rng.uniform(-1.5, 1.5), 1),
            "co": round(450 + 700 * profile + rng.uniform(-40, 40)),
            "noise_db": round(40 + 18 * profile + rng.uniform(-1.5, 1.5), 1),
            "temperature_c": round(temp, 1),
            "humidity_pct": round(min(100.0, max(40.0, 94 - 3.0 * (temp - coolest))), 0),
            "rain_mm_h": 0.0,
        }

    def _background_events(
        self, camera: Sensor, tick: float, state: _SensorState
    ) -> list[tuple[float, dict[str, Any]]]:
        """A quiet day on camera: crowds at markets by day, and the odd low-confidence
        loitering that video analytics always produces. Nothing at restricted sites."""
        hour = _local_hour(tick)
        if not 7 <= hour < 21 or (camera.zone or "").startswith("restricted"):
            return []
        rng = state.rng
        per_hour = 4.0 if camera.busy else 0.3
        out = []
        for _ in range(poisson(rng, per_hour * self.interval_s / 3600)):
            ts = tick + math.floor(rng.uniform(0, self.interval_s))
            if camera.busy:
                crowd = round(15 + 45 * traffic_profile(hour) * rng.uniform(0.6, 1.2))
                out.append((ts, {"analytic": "crowd", "confidence": 0.8, "count": crowd}))
            else:
                confidence = round(rng.uniform(0.25, 0.5), 2)
                out.append((ts, {"analytic": "loitering", "confidence": confidence}))
        return out

    def _red_lights(
        self, counter: Sensor, tick: float, state: _SensorState
    ) -> list[tuple[float, dict[str, Any]]]:
        hour = _local_hour(tick)
        rng = state.rng
        out = []
        for _ in range(poisson(rng, 1.5 * traffic_profile(hour) * self.interval_s / 3600)):
            ts = tick + math.floor(rng.uniform(0, self.interval_s))
            out.append((ts, {"event": "red_light", "plate": _plate(rng)}))
        return out


def _silent(windows: list[tuple[float, float]] | None, t: float) -> bool:
    return bool(windows) and any(a <= t < b for a, b in windows or ())


def _plate(rng: random.Random) -> str:
    province = rng.choice(PLATE_PROVINCES)
    series = rng.choice(PLATE_SERIES)
    return f"{province}{series}-{rng.randint(100, 999)}.{rng.randint(0, 99):02d}"


def _reading(
    sensor: Sensor, ts: float, fields: dict[str, Any], lat: float | None, lon: float | None
) -> dict[str, Any]:
    reading: dict[str, Any] = {
        "kind": sensor.kind,
        "sensor_id": sensor.id,
        "source_id": sensor.source_id,
        "ts": _ts(ts),
        "lat": sensor.lat if lat is None else lat,
        "lon": sensor.lon if lon is None else lon,
    }
    if sensor.kind == "traffic" and "road" not in fields:
        assert sensor.road is not None
        reading["road"] = sensor.road.name[:64]
    for name, value in fields.items():
        if value is not None:
            reading[name] = value
    return reading


class _Batcher:
    """Per-source batching in virtual time; yields records in send order."""

    def __init__(self, size: int, linger_s: float, corruptor: Corruptor, stats: Stats) -> None:
        self.size = size
        self.linger_s = linger_s
        self.corruptor = corruptor
        self.stats = stats
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.deadlines: list[tuple[float, str]] = []  # heap of (oldest + linger, source id)
        self.sources: dict[str, Source] = {}

    def add(self, source: Source, ts: float, reading: dict[str, Any]) -> Iterator[Record]:
        yield from self._expire(ts)
        if self.size == 1:
            yield self._send(source, ts, [reading])
            return
        held = self.pending.setdefault(source.id, [])
        if not held:
            heapq.heappush(self.deadlines, (ts + self.linger_s, source.id))
            self.sources[source.id] = source
        held.append(reading)
        if len(held) >= self.size:
            self.pending[source.id] = []
            yield self._send(source, ts, held)

    def _expire(self, now: float) -> Iterator[Record]:
        while self.deadlines and self.deadlines[0][0] <= now:
            deadline, source_id = heapq.heappop(self.deadlines)
            held = self.pending.get(source_id)
            if held:
                self.pending[source_id] = []
                yield self._send(self.sources[source_id], deadline, held)

    def flush_all(self) -> Iterator[Record]:
        yield from self._expire(math.inf)

    def _send(self, source: Source, ts: float, readings: list[dict[str, Any]]) -> Record:
        payload: dict[str, Any] = (
            readings[0] if self.size == 1 else {"source_id": source.id, "readings": readings}
        )
        value, broken = self.corruptor.maybe_break(payload, batched=self.size > 1)
        stats = self.stats
        ts_ms = int(ts * 1000)
        stats.messages += 1
        stats.readings += len(readings)
        stats.malformed += broken
        stats.by_topic[source.topic] += 1
        stats.by_kind[source.kind] += len(readings)
        stats.first_ts = ts_ms if stats.first_ts is None else stats.first_ts
        stats.last_ts = ts_ms
        return Record(source.topic, source.id.encode(), value, ts_ms)


def simulate(scenario: Scenario, zone_set: ZoneSet | None = None) -> Simulation:
    return Simulation(scenario, zone_set)


def start_for(mode_fast: bool, scenario: Scenario, now: datetime | None = None) -> datetime:
    """`--start now`: live, the scenario starts now; as fast as possible, it ends now (event
    times in the future would be refused by the pipeline)."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    return now - scenario.duration if mode_fast else now
