"""Zones from GeoJSON (RFC 7946: WGS84, [lon, lat]), validated and repaired where safe.

A zone is an area with an `id`, a `kind`, a Vietnamese `name`, the `district` IOC that owns it
(None: the provincial IOC) and optionally daily schedules. Invalid polygons are repaired with
`shapely.make_valid` and a warning; anything that cannot be repaired safely is an error that
names the feature and the field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry.base import BaseGeometry

from ioc.digest import content_digest
from ioc.geo.schedule import Schedule
from ioc.schemas.common import Slug

ZoneKind = Literal[
    "province",
    "district",
    "ward",
    "restricted",
    "flood",
    "school",
    "low_emission",
    "hospital",
    "park",
    "other",
]
# Administrative kinds decide which district IOC owns a point; the most specific one wins.
ADMIN_RANK: dict[str, int] = {"province": 1, "district": 2, "ward": 3}
DEFAULT_ZONES = "lam-dong.geojson"
MAX_FEATURES = 100_000


class ZoneSetError(Exception):
    """A zone file that cannot be used; `problems` lists every fault found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = "\n  ".join(self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n  {shown}{more}")


class ZoneProperties(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    id: Slug | None = None
    kind: ZoneKind
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    district: Slug | None = None
    schedule: Schedule | list[Schedule] | None = None

    @field_validator("schedule")
    @classmethod
    def _non_empty(cls, value: Schedule | list[Schedule] | None) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("an empty schedule list: omit the schedule instead")
        return value


@dataclass(frozen=True, slots=True, eq=False)
class Zone:
    id: str
    kind: str
    name: str
    name_en: str | None
    district: str | None
    schedules: tuple[Schedule, ...]
    geometry: BaseGeometry
    properties: dict[str, Any] = field(repr=False)

    @property
    def admin_rank(self) -> int:
        return ADMIN_RANK.get(self.kind, 0)

    def active_at(self, when: datetime) -> bool:
        """A zone without a schedule is always active."""
        return not self.schedules or any(s.active_at(when) for s in self.schedules)

    @property
    def vertices(self) -> int:
        return int(shapely.get_num_coordinates(self.geometry))

    @property
    def area_km2(self) -> float:
        """Approximate: degrees² scaled at the zone's latitude (good to ~1 % at this size)."""
        lat = self.geometry.centroid.y
        return float(self.geometry.area) * 111.32**2 * math.cos(math.radians(lat))


@dataclass(frozen=True, slots=True)
class ZoneSet:
    zones: tuple[Zone, ...]
    version: str
    name: str
    source: str
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.zones)

    def get(self, zone_id: str) -> Zone:
        for zone in self.zones:
            if zone.id == zone_id:
                return zone
        raise KeyError(zone_id)


def _ring_problems(ring: Any, where: str) -> list[str]:
    if not isinstance(ring, list) or len(ring) < 4:
        return [f"{where}: a linear ring needs at least 4 positions"]
    problems = []
    for position in ring:
        if (
            not isinstance(position, list | tuple)
            or len(position) < 2
            or not all(isinstance(c, int | float) and math.isfinite(c) for c in position[:2])
        ):
            return [f"{where}: positions are [lon, lat] numbers, got {str(position)[:40]}"]
        lon, lat = position[0], position[1]
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            hint = " (is it [lat, lon]? GeoJSON is [lon, lat])" if abs(lat) > 90 else ""
            return [f"{where}: position {position[:2]} is out of range{hint}"]
    if list(ring[0][:2]) != list(ring[-1][:2]):
        problems.append(f"{where}: ring is not closed (first position must equal the last)")
    return problems


def _geometry(raw: Any, where: str) -> tuple[BaseGeometry | None, list[str], list[str]]:
    """The shapely geometry of a GeoJSON Polygon/MultiPolygon, problems, and warnings."""
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        return None, [f"{where}.geometry: a zone is a Polygon or MultiPolygon, not {kind}"], []
    coords = raw.get("coordinates")
    polygons = [coords] if raw["type"] == "Polygon" else coords
    if not isinstance(polygons, list) or not polygons:
        return None, [f"{where}.geometry: no coordinates"], []
    problems = []
    for p, rings in enumerate(polygons):
        if not isinstance(rings, list) or not rings:
            problems.append(f"{where}.geometry: polygon {p} has no rings")
            continue
        for r, ring in enumerate(rings):
            problems += _ring_problems(ring, f"{where}.geometry polygon {p} ring {r}")
    if problems:
        return None, problems, []
    geometry = shapely.geometry.shape(raw)
    warnings = []
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        repaired = shapely.make_valid(geometry)
        # make_valid may return lines or points beside the polygons: keep the area only.
        parts = [
            g for g in shapely.get_parts(repaired) if g.geom_type in ("Polygon", "MultiPolygon")
        ]
        geometry = shapely.union_all(parts) if parts else shapely.Polygon()
        warnings.append(f"{where}: invalid polygon ({reason}) repaired with make_valid")
    if geometry.is_empty or geometry.area == 0:
        return None, [f"{where}.geometry: the polygon has no area"], warnings
    return geometry, [], warnings


def parse_zones(data: bytes, source: str = "<zones>") -> ZoneSet:
    """Parse and validate a GeoJSON FeatureCollection of zones; ZoneSetError lists all faults."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ZoneSetError(source, [f"not valid JSON: {exc}"]) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ZoneSetError(source, ["a zone file is a GeoJSON FeatureCollection"])
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ZoneSetError(source, ["the FeatureCollection has no features"])
    if len(features) > MAX_FEATURES:
        raise ZoneSetError(source, [f"more than {MAX_FEATURES} features"])

    problems: list[str] = []
    warnings: list[str] = []
    zones: list[Zone] = []
    seen: dict[str, int] = {}
    for i, feature in enumerate(features):
        where = f"feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(f"{where}: not a GeoJSON Feature")
            continue
        raw_props = feature.get("properties") or {}
        prop_id = raw_props.get("id") if isinstance(raw_props, dict) else None
        zone_id = feature.get("id", prop_id)
        if prop_id is not None and feature.get("id") is not None and prop_id != feature["id"]:
            problems.append(f"{where}: id {feature['id']!r} and properties.id {prop_id!r} differ")
        if zone_id is not None:
            where = f"feature {i} ({zone_id})"
        try:
            props = ZoneProperties.model_validate(
                {**raw_props, "id": zone_id} if isinstance(raw_props, dict) else raw_props
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in err["loc"])
                problems.append(f"{where}: properties.{loc}: {err['msg']}")
            continue
        if props.id is None:
            problems.append(f"{where}: no id (Feature.id or properties.id)")
            continue
        if props.id in seen:
            problems.append(f"{where}: id {props.id!r} is already used by feature {seen[props.id]}")
            continue
        seen[props.id] = i
        geometry, geo_problems, geo_warnings = _geometry(feature.get("geometry"), where)
        problems += geo_problems
        warnings += geo_warnings
        if geometry is None:
            continue
        schedules = props.schedule if isinstance(props.schedule, list) else [props.schedule]
        zones.append(
            Zone(
                id=props.id,
                kind=props.kind,
                name=props.name,
                name_en=props.name_en,
                district=props.district,
                schedules=tuple(s for s in schedules if s is not None),
                geometry=geometry,
                properties=props.model_dump(mode="json", exclude_none=True),
            )
        )
    if problems:
        raise ZoneSetError(source, problems)
    version = content_digest(features)
    name = document.get("name")
    return ZoneSet(
        zones=tuple(zones),
        version=version,
        name=name if isinstance(name, str) else source,
        source=source,
        warnings=tuple(warnings),
    )


def load_zones(path: Path | None) -> ZoneSet:
    """The zone set in the file at `path`; without a path, the one shipped with the package."""
    if path is None:
        return default_zones()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ZoneSetError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse_zones(data, str(path))


def default_zones() -> ZoneSet:
    """The zone set shipped with the package: approximate, for demos and tests."""
    data = resources.files("ioc.geo").joinpath("data", DEFAULT_ZONES).read_bytes()
    return parse_zones(data, f"ioc default zones ({DEFAULT_ZONES})")
