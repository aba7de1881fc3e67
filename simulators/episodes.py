"""Episodes: what a scenario injects, resolved to sensors, places and times.

Each episode becomes two things: changes to the periodic readings of the sensors it touches
(a storm raises a gauge's water level, a pollution episode a district's PM2.5) and discrete
readings at given times (an accident event with its plate, an intruder's track). The resolved
plan — where, when, which sensors — is also what a test or an operator's exercise checks the
pipeline's alerts against (`ioc simulate --episodes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import shapely

from ioc.geo.zones import Zone
from simulators.inventory import Inventory, Sensor, area_of, zone_spot
from simulators.physics import rise_hold_fall, smooth_step
from simulators.places import distance_m, road
from simulators.scenario import (
    Accident,
    AirPollution,
    Congestion,
    Detection,
    Fire,
    Intrusion,
    PlateMatch,
    Scenario,
    Silence,
    Storm,
    WrongWay,
)

# A change to one periodic reading: (sensor, epoch seconds, fields) -> None, in place.
Modifier = Callable[[Sensor, float, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Event:
    """A discrete reading an episode injects."""

    ts: float  # epoch seconds
    sensor: Sensor
    fields: dict[str, Any]
    lat: float | None = None  # the object's position, when not the sensor's own
    lon: float | None = None


@dataclass(slots=True)
class EpisodePlan:
    type: str
    start: datetime
    end: datetime
    area: str
    where: str  # zone id, road id or district
    lat: float
    lon: float
    sensors: list[str]
    summary: str
    events: list[Event] = field(default_factory=list, repr=False)
    modifiers: dict[str, list[Modifier]] = field(default_factory=dict, repr=False)
    silences: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def manifest(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "area": self.area,
            "where": self.where,
            "lat": self.lat,
            "lon": self.lon,
            "sensors": self.sensors,
            "events": len(self.events),
            "summary": self.summary,
        }

    def modify(self, sensor: Sensor, fn: Modifier) -> None:
        self.modifiers.setdefault(sensor.id, []).append(fn)


class EpisodeError(Exception):
    pass


def _zone(inventory: Inventory, zone_id: str, episode: str) -> Zone:
    try:
        return inventory.zone_set.get(zone_id)
    except KeyError:
        specials = [
            z.id for z in inventory.zone_set.zones if z.kind not in ("province", "district", "ward")
        ]
        raise EpisodeError(
            f"{episode}: no zone {zone_id!r} in {inventory.zone_set.name}; "
            f"special zones: {', '.join(specials)}"
        ) from None


def _window(start: datetime, duration: timedelta) -> tuple[float, float, float]:
    t0 = start.timestamp()
    return t0, t0 + duration.total_seconds(), duration.total_seconds()


def resolve(scenario: Scenario, inventory: Inventory) -> list[EpisodePlan]:
    plans = []
    for number, episode in enumerate(scenario.episodes):
        start = scenario.episode_start(episode)
        label = f"episode {number} ({episode.type})"
        match episode:
            case Storm():
                plans.append(_storm(episode, start, inventory, label))
            case Accident():
                plans.append(_accident(episode, start, inventory, number))
            case WrongWay():
                plans.append(_wrong_way(episode, start, inventory))
            case Congestion():
                plans.append(_congestion(episode, start, inventory, label))
            case Intrusion():
                plans.append(_intrusion(episode, start, inventory, label))
            case AirPollution():
                plans.append(_air_pollution(episode, start, inventory, label))
            case Fire():
                plans.append(_fire(episode, start, inventory, label, number))
            case Silence():
                plans.append(_silence(episode, start, inventory, label))
            case PlateMatch():
                plans.append(_plate_match(episode, start, inventory, number))
            case Detection():
                plans.append(_detection(episode, start, inventory, label, number))
    return plans


def _storm(episode: Storm, start: datetime, inv: Inventory, label: str) -> EpisodePlan:
    zone = _zone(inv, episode.zone, label)
    gauge = inv.deploy_zone(zone) if zone.kind == "flood" else None
    if gauge is None or gauge.role != "hydro":
        raise EpisodeError(f"{label}: zone {zone.id} is a {zone.kind} zone, not a flood zone")
    t0, _, length = _window(start, episode.duration)
    centre = gauge.point
    plan = EpisodePlan(
        "storm",
        start,
        start + episode.duration,
        gauge.area,
        zone.id,
        *centre,
        [gauge.id],
        f"storm over {zone.name}: rain to {episode.peak_rain_mm_h:g} mm/h, "
        f"water to {episode.peak_water_level_cm:g} cm",
    )

    def rain_at(t: float) -> float:
        return episode.peak_rain_mm_h * rise_hold_fall((t - t0) / length, 0.25, 0.35)

    def water(sensor: Sensor, t: float, fields: dict[str, Any]) -> None:
        # The water lags the rain and recedes over as long again after it stops.
        u = (t - t0) / length
        if u <= 0:
            return
        level = smooth_step(u / 0.6) if u < 1 else 1.0 - smooth_step(u - 1.0)
        if level <= 0:
            return
        base = fields["water_level_cm"]
        fields["water_level_cm"] = round(base + (episode.peak_water_level_cm - base) * level, 1)
        fields["rain_mm_h"] = round(rain_at(t), 1)

    plan.modify(gauge, water)
    # Air stations within 8 km get the rain too, fading with distance.
    for station in list(inv.sensors.values()):
        d = distance_m(station.point, centre)
        if station.role == "air" and d <= 8000:
            share = 1 - d / 8000

            def wet(sensor: Sensor, t: float, fields: dict[str, Any], share: float = share) -> None:
                rain = rain_at(t) * share
                if rain > 0:
                    fields["rain_mm_h"] = round(rain, 1)
                    fields["humidity_pct"] = round(min(100.0, fields["humidity_pct"] + 25), 0)
                    fields["temperature_c"] = round(fields["temperature_c"] - 3 * share, 1)

            plan.modify(station, wet)
            plan.sensors.append(station.id)
    return plan


def _accident(episode: Accident, start: datetime, inv: Inventory, number: int) -> EpisodePlan:
    the_road = road(episode.road)
    counter = inv.counter_near(the_road, episode.position)
    t0, _, length = _window(start, episode.duration)
    plan = EpisodePlan(
        "accident",
        start,
        start + episode.duration,
        counter.area,
        the_road.id,
        counter.lat,
        counter.lon,
        [counter.id],
        f"accident on {the_road.name}, plate {episode.plate}; traffic stalls for "
        f"{int(length // 60)} min",
    )
    plan.events.append(Event(t0, counter, {"event": "accident", "plate": episode.plate}))
    plan.events.append(
        Event(t0 + 120, counter, {"event": "stalled_vehicle", "plate": episode.plate})
    )
    _slow_down(plan, [counter], t0, length, severity=0.9)
    return plan


def _slow_down(
    plan: EpisodePlan, sensors: list[Sensor], t0: float, length: float, severity: float
) -> None:
    def jam(sensor: Sensor, t: float, fields: dict[str, Any]) -> None:
        c = severity * rise_hold_fall((t - t0) / length, 0.1, 0.7)
        if c <= 0 or "avg_speed_kmh" not in fields:
            return
        fields["avg_speed_kmh"] = round(fields["avg_speed_kmh"] * (1 - c) + 9.0 * c, 1)
        fields["occupancy_pct"] = round(fields["occupancy_pct"] * (1 - c) + 82.0 * c, 1)
        fields["vehicle_count"] = round(fields["vehicle_count"] * (1 - 0.6 * c))

    for sensor in sensors:
        plan.modify(sensor, jam)


def _wrong_way(episode: WrongWay, start: datetime, inv: Inventory) -> EpisodePlan:
    the_road = road(episode.road)
    counter = inv.counter_near(the_road, episode.position)
    plan = EpisodePlan(
        "wrong_way",
        start,
        start + timedelta(minutes=2),
        counter.area,
        the_road.id,
        counter.lat,
        counter.lon,
        [counter.id],
        f"vehicle {episode.plate} driving the wrong way on {the_road.name}",
    )
    plan.events.append(
        Event(start.timestamp(), counter, {"event": "wrong_way", "plate": episode.plate})
    )
    return plan


def _congestion(episode: Congestion, start: datetime, inv: Inventory, label: str) -> EpisodePlan:
    the_road = road(episode.road)
    counters = [
        s
        for s in inv.sensors.values()
        if s.road is the_road and (episode.district is None or s.area == episode.district)
    ]
    if not counters:
        # A section of the road in that district gets a station.
        fractions = [i / 40 for i in range(41)]
        inside = [f for f in fractions if inv.area_at(the_road.at(f)) == episode.district]
        if not inside:
            raise EpisodeError(f"{label}: {the_road.name} does not run through {episode.district}")
        counters = [inv.counter_near(the_road, inside[len(inside) // 2])]
    t0, _, length = _window(start, episode.duration)
    plan = EpisodePlan(
        "congestion",
        start,
        start + episode.duration,
        counters[0].area,
        the_road.id,
        counters[0].lat,
        counters[0].lon,
        [s.id for s in counters],
        f"congestion on {the_road.name} ({len(counters)} stations)",
    )
    _slow_down(plan, counters, t0, length, severity=0.8)
    return plan


def _intrusion(episode: Intrusion, start: datetime, inv: Inventory, label: str) -> EpisodePlan:
    zone = _zone(inv, episode.zone, label)
    camera = inv.deploy_zone(zone)
    if camera.role != "camera":
        raise EpisodeError(f"{label}: zone {zone.id} has no camera (it is a {zone.kind} zone)")
    t0, _, length = _window(start, episode.duration)
    inside = (camera.lat, camera.lon)
    # Start ~150 m outside the zone's edge, walk in, stay, walk back out.
    southern_edge = zone.geometry.bounds[1]
    outside = (southern_edge - 0.00135, inside[1])  # ~150 m south of the zone's southern edge
    plan = EpisodePlan(
        "intrusion",
        start,
        start + episode.duration,
        camera.area,
        zone.id,
        *inside,
        [camera.id],
        f"person {episode.track_id} enters {zone.name} and stays {int(length // 60)} min",
    )
    steps = max(4, int(length // 20))
    for i in range(steps + 1):
        u = i / steps
        # Approach over the first fifth, leave over the last fifth.
        along = smooth_step(u / 0.2) if u < 0.8 else 1 - smooth_step((u - 0.8) / 0.2)
        lat = outside[0] + (inside[0] - outside[0]) * along
        lon = outside[1] + (inside[1] - outside[1]) * along
        in_zone = bool(shapely.intersects_xy(zone.geometry, lon, lat))
        plan.events.append(
            Event(
                t0 + u * length,
                camera,
                {
                    "analytic": "intrusion" if in_zone else "loitering",
                    "confidence": 0.91 if in_zone else 0.62,
                    "track_id": episode.track_id,
                },
                round(lat, 6),
                round(lon, 6),
            )
        )
    return plan


def _air_pollution(
    episode: AirPollution, start: datetime, inv: Inventory, label: str
) -> EpisodePlan:
    stations = inv.stations_in(episode.district)
    if not stations:
        raise EpisodeError(
            f"{label}: no air-quality station in {episode.district}; give the area "
            "environment sensors in the scenario"
        )
    t0, _, length = _window(start, episode.duration)
    plan = EpisodePlan(
        "air_pollution",
        start,
        start + episode.duration,
        episode.district,
        episode.district,
        stations[0].lat,
        stations[0].lon,
        [s.id for s in stations],
        f"PM2.5 rises to ~{episode.peak_pm25:g} µg/m³ over {episode.district}",
    )

    def smog(sensor: Sensor, t: float, fields: dict[str, Any]) -> None:
        c = rise_hold_fall((t - t0) / length, 0.25, 0.5)
        if c > 0 and "pm25" in fields:
            extra = (episode.peak_pm25 - fields["pm25"]) * c
            fields["pm25"] = round(fields["pm25"] + max(extra, 0), 1)
            fields["pm10"] = round(fields["pm10"] + max(extra, 0) * 1.4, 1)

    for station in stations:
        plan.modify(station, smog)
    return plan


def _fire(episode: Fire, start: datetime, inv: Inventory, label: str, number: int) -> EpisodePlan:
    zone = _zone(inv, episode.zone, label)
    spot = zone_spot(zone)
    area = area_of(zone)
    camera = inv.add_camera(area, spot, f"cam-fire-{zone.id}", zone.id, busy=False)
    station = inv.station_near(spot, 250, f"aq-fire-{zone.id}")
    t0, _, length = _window(start, episode.duration)
    plan = EpisodePlan(
        "fire",
        start,
        start + episode.duration,
        area,
        zone.id,
        *spot,
        [camera.id, station.id],
        f"fire at {zone.name}: smoke on {camera.id}, heat and smoke at {station.id} "
        f"{distance_m(spot, station.point):.0f} m away",
    )
    for i in range(max(1, int(length // 60))):
        plan.events.append(
            Event(
                t0 + 60 + i * 60,
                camera,
                {"analytic": "fire_smoke", "confidence": 0.88, "track_id": f"fire-{number}"},
            )
        )

    def heat(sensor: Sensor, t: float, fields: dict[str, Any]) -> None:
        c = rise_hold_fall((t - t0) / length, 0.2, 0.5)
        if c > 0 and "temperature_c" in fields:
            fields["temperature_c"] = round(fields["temperature_c"] + 22 * c, 1)
            fields["pm25"] = round(fields["pm25"] + 180 * c, 1)
            fields["pm10"] = round(fields["pm10"] + 240 * c, 1)

    plan.modify(station, heat)
    return plan


def _silence(episode: Silence, start: datetime, inv: Inventory, label: str) -> EpisodePlan:
    stations = inv.stations_in(episode.district)
    if episode.station >= len(stations):
        raise EpisodeError(
            f"{label}: {episode.district} has {len(stations)} air-quality station(s); "
            f"station {episode.station} does not exist"
        )
    station = stations[episode.station]
    t0, t1, _ = _window(start, episode.duration)
    plan = EpisodePlan(
        "silence",
        start,
        start + episode.duration,
        station.area,
        episode.district,
        station.lat,
        station.lon,
        [station.id],
        f"{station.id} goes silent for {int(episode.duration.total_seconds() // 60)} min",
    )
    plan.silences[station.id] = (t0, t1)
    return plan


def _plate_match(episode: PlateMatch, start: datetime, inv: Inventory, number: int) -> EpisodePlan:
    camera = inv.camera_in(episode.district, f"cam-{episode.district}-watch")
    plan = EpisodePlan(
        "plate_match",
        start,
        start + timedelta(minutes=1),
        camera.area,
        episode.district,
        camera.lat,
        camera.lon,
        [camera.id],
        f"watch-listed plate {episode.plate} seen by {camera.id}",
    )
    plan.events.append(
        Event(
            start.timestamp(),
            camera,
            {"analytic": "plate_match", "confidence": 0.96, "plate": episode.plate},
        )
    )
    return plan


def _detection(
    episode: Detection, start: datetime, inv: Inventory, label: str, number: int
) -> EpisodePlan:
    zone = _zone(inv, episode.zone, label)
    camera = inv.deploy_zone(zone)
    if camera.role != "camera":
        camera = inv.add_camera(
            area_of(zone), zone_spot(zone), f"cam-{zone.id}", zone.id, busy=False
        )
    t0, _, length = _window(start, episode.duration)
    plan = EpisodePlan(
        "detection",
        start,
        start + episode.duration,
        camera.area,
        zone.id,
        camera.lat,
        camera.lon,
        [camera.id],
        f"{episode.analytic} at {zone.name}",
    )
    for i in range(max(1, math.ceil(length / 60))):
        fields: dict[str, Any] = {
            "analytic": episode.analytic,
            "confidence": 0.87,
            "track_id": f"det-{number}",
        }
        if episode.analytic == "crowd":
            fields = {"analytic": "crowd", "confidence": 0.9, "count": episode.count}
        plan.events.append(Event(t0 + i * 60, camera, fields))
    return plan
