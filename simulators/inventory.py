"""The simulated province's sensors and the sources (gateways, camera servers, stations) that
own them, placed deterministically from a scenario and the zone set.

What is deployed:
- fixed infrastructure in every special zone of a simulated area: a water-level gauge in each
  flood zone, a camera at each restricted site and school, an air-quality station in the
  low-emission zone;
- the scenario's counts per area: traffic counting stations along the area's roads (a
  gateway per road and area), security cameras near its towns (one camera server per area),
  air-quality stations near its towns (each station its own source);
- whatever an episode needs and the counts did not provide (a camera at the intruded site, a
  station within 300 m of a fire, a counting station at the accident).

Placement uses `random.Random(f"{seed}:…")` streams, never the global generator, and checks
each position against the zone index so a sensor counted for Bảo Lộc really lies there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from ioc.geo import ZoneIndex, ZoneSet
from ioc.geo.zones import Zone
from simulators.places import ROADS, TOWNS, Road, Town, distance_m, nearest_town, offset_m

SensorKind = Literal["traffic", "camera", "environment"]
Role = Literal["counter", "camera", "air", "hydro"]

# Mean PM2.5 (µg/m³) by area: highland towns are clean, the bauxite country and the lowland
# valleys less so. The daily cycle multiplies it by at most ~1.6.
PM25_BASE = {
    "da-lat": 13.0,
    "bao-loc": 17.0,
    "duc-trong": 15.0,
    "lac-duong": 9.0,
    "da-teh": 16.0,
    "bao-lam": 18.0,
    "dam-rong": 10.0,
    "rest": 14.0,
}


@dataclass(slots=True)
class Sensor:
    id: str
    source_id: str
    kind: SensorKind
    role: Role
    area: str
    lat: float
    lon: float
    altitude_m: float
    phase_s: float  # when, within each reporting interval, it reports
    road: Road | None = None
    road_fraction: float = 0.0
    zone: str | None = None  # the special zone it watches, if any
    busy: bool = False  # a camera over a market or square
    pm25_base: float = 14.0
    water_base_cm: float = 50.0
    lanes: int = 2

    @property
    def topic(self) -> str:
        return f"sensors.{self.kind}"

    @property
    def point(self) -> tuple[float, float]:
        return (self.lat, self.lon)


@dataclass(slots=True)
class Source:
    id: str
    kind: SensorKind
    area: str
    sensors: list[Sensor] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return f"sensors.{self.kind}"


class InventoryError(Exception):
    pass


def zone_spot(zone: Zone) -> tuple[float, float]:
    """A point surely inside the zone, as (lat, lon) to 6 decimals: where its sensors stand."""
    inside = zone.geometry.representative_point()
    return (round(inside.y, 6), round(inside.x, 6))


def area_of(zone: Zone) -> str:
    return zone.district or "rest"


class Inventory:
    """Sensors by id and sources by id, in the deterministic order they were placed."""

    def __init__(self, zone_set: ZoneSet, seed: int) -> None:
        self.zone_set = zone_set
        self.index = ZoneIndex(zone_set)
        self.seed = seed
        self.sensors: dict[str, Sensor] = {}
        self.sources: dict[str, Source] = {}

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def area_at(self, point: tuple[float, float]) -> str:
        district, _ = self.index.locate_one(*point)
        return district or "rest"

    def add(self, sensor: Sensor, source_kind_area: tuple[str, SensorKind, str]) -> Sensor:
        if sensor.id in self.sensors:
            return self.sensors[sensor.id]
        source_id, kind, area = source_kind_area
        source = self.sources.setdefault(source_id, Source(source_id, kind, area))
        sensor.source_id = source_id
        source.sensors.append(sensor)
        self.sensors[sensor.id] = sensor
        return sensor

    def _phase(self, sensor_id: str) -> float:
        return self.rng("phase", sensor_id).uniform(0, 1)

    # --- placement helpers ------------------------------------------------------------------

    def _near(
        self, anchor: tuple[float, float], radius_m: float, area: str, rng: random.Random
    ) -> tuple[float, float]:
        """A point within radius_m of anchor and in area (the anchor itself if none is found)."""
        for _ in range(50):
            point = offset_m(
                anchor, rng.uniform(-radius_m, radius_m), rng.uniform(-radius_m, radius_m)
            )
            if self.area_at(point) == area:
                return (round(point[0], 6), round(point[1], 6))
        return anchor

    def _towns(self, area: str) -> list[Town]:
        towns = [t for t in TOWNS if t.area == area]
        if not towns:
            raise InventoryError(f"no towns known in area {area}")
        return towns

    def _road_slots(self, area: str) -> list[tuple[Road, float]]:
        """Positions along roads (every ~500 m) that lie in area."""
        slots: list[tuple[Road, float]] = []
        for road in ROADS:
            steps = max(2, int(road.length_m // 500))
            for i in range(steps + 1):
                fraction = i / steps
                if self.area_at(road.at(fraction)) == area:
                    slots.append((road, fraction))
        return slots

    # --- what gets deployed -----------------------------------------------------------------

    def add_counter(
        self, road: Road, fraction: float, area: str, name: str | None = None
    ) -> Sensor:
        lat, lon = road.at(fraction)
        sensor_id = name or f"trf-{road.id}-{round(fraction * 1000):03d}"
        town = nearest_town((lat, lon))
        return self.add(
            Sensor(
                id=sensor_id,
                source_id="",
                kind="traffic",
                role="counter",
                area=area,
                lat=round(lat, 6),
                lon=round(lon, 6),
                altitude_m=town.altitude_m,
                phase_s=self._phase(sensor_id),
                road=road,
                road_fraction=fraction,
                lanes=road.lanes,
            ),
            (f"gw-{road.id}-{area}", "traffic", area),
        )

    def add_camera(
        self, area: str, point: tuple[float, float], sensor_id: str, zone: str | None, busy: bool
    ) -> Sensor:
        return self.add(
            Sensor(
                id=sensor_id,
                source_id="",
                kind="camera",
                role="camera",
                area=area,
                lat=point[0],
                lon=point[1],
                altitude_m=nearest_town(point).altitude_m,
                phase_s=self._phase(sensor_id),
                zone=zone,
                busy=busy,
            ),
            (f"nvr-{area}", "camera", area),
        )

    def add_station(
        self, area: str, point: tuple[float, float], sensor_id: str, role: Role, zone: str | None
    ) -> Sensor:
        rng = self.rng("station", sensor_id)
        station = "st-" + sensor_id.split("-", 1)[1]
        return self.add(
            Sensor(
                id=sensor_id,
                source_id="",
                kind="environment",
                role=role,
                area=area,
                lat=point[0],
                lon=point[1],
                altitude_m=nearest_town(point).altitude_m,
                phase_s=self._phase(sensor_id),
                zone=zone,
                pm25_base=PM25_BASE.get(area, 14.0) * rng.uniform(0.85, 1.15),
                water_base_cm=round(rng.uniform(35, 70), 1),
            ),
            (station, "environment", area),
        )

    def deploy_fixed(self, areas: set[str]) -> None:
        for zone in self.zone_set.zones:
            if zone.kind in ("province", "district", "ward") or area_of(zone) not in areas:
                continue
            self.deploy_zone(zone)

    def deploy_zone(self, zone: Zone) -> Sensor:
        """The sensor a special zone is watched with (placed once)."""
        area = area_of(zone)
        point = zone_spot(zone)
        if zone.kind == "flood":
            return self.add_station(area, point, f"wl-{zone.id}", "hydro", zone.id)
        if zone.kind == "low_emission":
            return self.add_station(area, point, f"aq-{zone.id}", "air", zone.id)
        return self.add_camera(area, point, f"cam-{zone.id}", zone.id, busy=zone.kind == "school")

    def deploy_counts(self, area: str, traffic: int, camera: int, environment: int) -> None:
        towns = self._towns(area)
        for i in range(environment):
            town = towns[i % len(towns)]
            rng = self.rng("air", area, i)
            point = self._near((town.lat, town.lon), 1500, area, rng)
            self.add_station(area, point, f"aq-{area}-{i + 1:02d}", "air", None)
        for i in range(camera):
            town = towns[i % len(towns)]
            rng = self.rng("camera", area, i)
            point = self._near((town.lat, town.lon), 800, area, rng)
            self.add_camera(area, point, f"cam-{area}-{i + 1:02d}", None, busy=town.busy)
        if traffic:
            slots = self._road_slots(area)
            if not slots:
                raise InventoryError(f"no road of the simulator runs through {area}")
            rng = self.rng("traffic", area)
            # Spread over the slots, evenly, then shuffled deterministically for variety.
            order = list(range(len(slots)))
            rng.shuffle(order)
            for i in range(traffic):
                road, fraction = slots[order[i % len(slots)]]
                if i >= len(slots):  # more stations than slots: lanes of the same section
                    fraction = min(1.0, fraction + 0.0005 * (i // len(slots)))
                self.add_counter(road, fraction, area, f"trf-{area}-{i + 1:03d}")

    # --- what episodes need -----------------------------------------------------------------

    def counter_near(self, road: Road, fraction: float) -> Sensor:
        """The counting station nearest that point of the road; one is installed if the
        road has none within 3 km."""
        target = road.at(fraction)
        on_road = [s for s in self.sensors.values() if s.road is road]
        if on_road:
            best = min(on_road, key=lambda s: distance_m(s.point, target))
            if distance_m(best.point, target) <= 3000:
                return best
        return self.add_counter(road, fraction, self.area_at(target))

    def stations_in(self, area: str, role: Role = "air") -> list[Sensor]:
        return [s for s in self.sensors.values() if s.area == area and s.role == role]

    def station_near(self, point: tuple[float, float], within_m: float, sensor_id: str) -> Sensor:
        for s in self.sensors.values():
            if s.role == "air" and distance_m(s.point, point) <= within_m:
                return s
        spot = offset_m(point, within_m * 0.4, within_m * 0.3)
        spot = (round(spot[0], 6), round(spot[1], 6))
        return self.add_station(self.area_at(spot), spot, sensor_id, "air", None)

    def camera_in(self, area: str, sensor_id: str) -> Sensor:
        cameras = [s for s in self.sensors.values() if s.area == area and s.role == "camera"]
        if cameras:
            return cameras[0]
        town = self._towns(area)[0]
        return self.add_camera(area, (town.lat, town.lon), sensor_id, None, busy=town.busy)
