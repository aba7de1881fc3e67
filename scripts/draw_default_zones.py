#!/usr/bin/env python3
"""Draw the default zone set shipped in the package: ioc/geo/data/lam-dong.geojson.

Provenance
----------
The district outlines are *our own coarse drawing*, made with the official pre-2025 district
boundaries of Lâm Đồng (gis.chinhphu.vn via the dvhcvn project, GPL-3.0) only as a tracing
reference. The official file is never copied into the package: this script reads it from outside
the repository (default ../shared/data/lam-dong-districts-2019.geojson) and writes a deliberately
coarse redrawing:

1. the twelve official district polygons are simplified together as one polygonal coverage
   (`shapely.coverage_simplify`, Visvalingam-Whyatt), so neighbours keep sharing their edges
   and no gaps or overlaps appear between them. The tolerance is the smallest of a fixed ladder
   that brings every district we ship under the vertex budget (60);
2. every vertex is rounded to a 0.005° grid (≈ 550 m; pointwise, so a shared vertex lands on
   the same grid node in both neighbours), repeated vertices are dropped, anything made invalid
   is repaired with `shapely.make_valid`, and slivers and pin-holes smaller than one grid cell
   are dropped;
3. only the seven district IOC areas are written as `district` features; the province is the
   union of all twelve coarse districts, so the other five districts (Lâm Hà, Đơn Dương,
   Di Linh, Đạ Huoai, Cát Tiên) are "the rest of the province", served by the provincial IOC.

Why coarse: at ≤ 60 vertices on a 550 m grid the outlines are a sketch that is good enough to
put real places in the right IOC area (see the verification report) yet plainly not the official
geometry, so the shipped file is ours (Apache-2.0) and must not be mistaken for a legal boundary.
A deployment replaces it with official boundaries.

The special zones (flood-prone shores, restricted sites, schools, the Đà Lạt low-emission centre)
are hand-placed sample zones at real places, from public knowledge of their coordinates; they
are approximate too.

Output is deterministic: features in a fixed order, properties in a fixed order, coordinates
rounded to 3 decimals, one feature per line. After writing, the script reads the file back and
prints a verification report; it exits non-zero if a check fails. `--check` only verifies the
existing file.

Usage: .venv/bin/python scripts/draw_default_zones.py [OFFICIAL.geojson] [--check]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OFFICIAL = REPO_ROOT.parent / "shared" / "data" / "lam-dong-districts-2019.geojson"
OUTPUT = REPO_ROOT / "ioc" / "geo" / "data" / "lam-dong.geojson"

GRID = 0.005  # degrees; every district/province vertex is a multiple of this
DECIMALS = 3  # coordinates written with at most this many decimals
MAX_VERTICES = 60  # per shipped district polygon (closing vertex included)
SLIVER_AREA = GRID * GRID  # parts or holes smaller than one grid cell are dropped
# coverage_simplify tolerances tried in order; the first that meets the vertex budget wins.
TOLERANCES = tuple(round(0.008 + 0.0005 * i, 4) for i in range(45))

AGREEMENT_TARGET = 0.97  # share of grid points that must land in the same IOC area
GRID_STEP = 0.01  # degrees between verification grid points (≈ 1.1 km)
MAX_FILE_BYTES = 60_000
LON_RANGE = (107.0, 109.5)
LAT_RANGE = (11.0, 12.6)
REST = "rest"  # the part of the province no district IOC owns
OUTSIDE = "outside"

DISTRICT_SOURCE = (
    "Approximate outline drawn coarsely (≈0.005° grid) for the default zone set; "
    "not an official boundary. Replace with official boundaries in a deployment."
)
ZONE_SOURCE = "Approximate sample zone"


@dataclass(frozen=True, slots=True)
class DistrictInfo:
    slug: str
    name: str
    name_en: str


# The seven district IOC areas (ioc/districts.py); only these are written as districts.
IOC_DISTRICTS: tuple[DistrictInfo, ...] = (
    DistrictInfo("da-lat", "Đà Lạt", "Da Lat"),
    DistrictInfo("bao-loc", "Bảo Lộc", "Bao Loc"),
    DistrictInfo("lac-duong", "Lạc Dương", "Lac Duong"),
    DistrictInfo("da-teh", "Đạ Tẻh", "Da Teh"),
    DistrictInfo("bao-lam", "Bảo Lâm", "Bao Lam"),
    DistrictInfo("dam-rong", "Đam Rông", "Dam Rong"),
    DistrictInfo("duc-trong", "Đức Trọng", "Duc Trong"),
)
IOC_SLUGS: tuple[str, ...] = tuple(d.slug for d in IOC_DISTRICTS)
# The official file's other five districts: "the rest of the province".
REST_DISTRICTS: tuple[str, ...] = ("lam-ha", "don-duong", "di-linh", "da-huoai", "cat-tien")

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
NIGHT = {"start": "22:00", "end": "05:00", "days": ALL_DAYS, "tz": "Asia/Ho_Chi_Minh"}
SCHOOL_HOURS = {"start": "06:30", "end": "17:30", "days": WEEKDAYS}


@dataclass(frozen=True, slots=True)
class SpecialZone:
    """A hand-placed sample zone. Either `circle` = (lat, lon, radius in metres) or `ring` =
    [(lat, lon), ...] (an outline; it is closed automatically)."""

    id: str
    kind: str
    name: str
    name_en: str
    district: str | None
    circle: tuple[float, float, float] | None = None
    ring: tuple[tuple[float, float], ...] = ()
    schedule: dict[str, Any] | None = None
    vertices: int = 24


SPECIAL_ZONES: tuple[SpecialZone, ...] = (
    # --- flood-prone shores and river banks -------------------------------------------------
    SpecialZone(
        "flood-ho-xuan-huong",
        "flood",
        "Ven hồ Xuân Hương",
        "Xuan Huong lake shore",
        "da-lat",
        # the lake (≈ 11.938-11.946 N, 108.440-108.452 E) and ~150 m of shore around it
        ring=(
            (11.941, 108.439),
            (11.938, 108.441),
            (11.937, 108.445),
            (11.938, 108.449),
            (11.941, 108.452),
            (11.945, 108.454),
            (11.948, 108.453),
            (11.948, 108.450),
            (11.945, 108.447),
            (11.944, 108.443),
            (11.944, 108.440),
        ),
    ),
    SpecialZone(
        "flood-ho-tuyen-lam",
        "flood",
        "Hồ Tuyền Lâm – khu vực đập và bờ đông bắc",
        "Tuyen Lam lake – dam and north-east shore",
        "da-lat",
        circle=(11.899, 108.434, 600),
    ),
    SpecialZone(
        "flood-suoi-cam-ly",
        "flood",
        "Suối Cam Ly (cầu Ông Đạo – thác Cam Ly)",
        "Cam Ly stream (Ong Dao bridge to Cam Ly falls)",
        "da-lat",
        # a strip along the stream from the Xuân Hương dam west to the falls
        ring=(
            (11.946, 108.420),
            (11.945, 108.424),
            (11.943, 108.430),
            (11.941, 108.437),
            (11.943, 108.438),
            (11.945, 108.431),
            (11.948, 108.425),
            (11.949, 108.420),
        ),
    ),
    SpecialZone(
        "flood-ho-nam-phuong",
        "flood",
        "Hồ Nam Phương",
        "Nam Phuong lake",
        "bao-loc",
        circle=(11.551, 107.802, 500),
    ),
    SpecialZone(
        "flood-song-da-teh",
        "flood",
        "Sông Đạ Tẻh – thị trấn Đạ Tẻh",
        "Da Teh river at Da Teh town",
        "da-teh",
        circle=(11.520, 107.493, 1000),
    ),
    SpecialZone(
        "flood-song-dong-nai-cat-tien",
        "flood",
        "Bãi bồi sông Đồng Nai – Cát Tiên",
        "Dong Nai river floodplain, Cat Tien",
        None,
        circle=(11.565, 107.345, 600),
    ),
    # --- restricted sites ---------------------------------------------------------------------
    SpecialZone(
        "restricted-lien-khuong-airport",
        "restricted",
        "Cảng hàng không quốc tế Liên Khương",
        "Lien Khuong international airport",
        "duc-trong",
        # runway (≈ 3.25 km, east-west) and aprons around 11.7506 N 108.3736 E
        ring=((11.745, 108.352), (11.745, 108.393), (11.757, 108.393), (11.757, 108.352)),
    ),
    SpecialZone(
        "restricted-dai-ninh-dam",
        "restricted",
        "Hồ thủy điện Đại Ninh – khu vực đập",
        "Da Queyon dam – Dai Ninh hydropower reservoir",
        "duc-trong",
        circle=(11.641, 108.316, 600),
        schedule=NIGHT,
    ),
    SpecialZone(
        "restricted-da-nhim-headworks",
        "restricted",
        "Hồ Đơn Dương – đầu mối thủy điện Đa Nhim",
        "Don Duong reservoir – Da Nhim hydropower headworks",
        None,
        circle=(11.855, 108.606, 800),
    ),
    SpecialZone(
        "restricted-provincial-admin-centre",
        "restricted",
        "Trung tâm Hành chính tỉnh Lâm Đồng",
        "Lam Dong provincial administrative centre",
        "da-lat",
        ring=((11.934, 108.436), (11.934, 108.439), (11.937, 108.439), (11.937, 108.436)),
    ),
    SpecialZone(
        "restricted-dankia-suoi-vang",
        "restricted",
        "Hồ Đankia – Suối Vàng (nguồn nước sinh hoạt)",
        "Dankia – Suoi Vang reservoir (drinking-water source)",
        "lac-duong",
        circle=(12.011, 108.384, 800),
    ),
    SpecialZone(
        "restricted-tan-rai-alumina",
        "restricted",
        "Nhà máy Alumin Tân Rai",
        "Tan Rai alumina plant",
        "bao-lam",
        circle=(11.645, 107.845, 1200),
    ),
    # --- schools ------------------------------------------------------------------------------
    SpecialZone(
        "school-dalat-university",
        "school",
        "Trường Đại học Đà Lạt",
        "Da Lat University",
        "da-lat",
        ring=((11.952, 108.440), (11.952, 108.446), (11.957, 108.446), (11.957, 108.440)),
        schedule=SCHOOL_HOURS,
    ),
    SpecialZone(
        "school-bao-loc-high-school",
        "school",
        "Trường THPT Bảo Lộc",
        "Bao Loc high school",
        "bao-loc",
        ring=((11.552, 107.808), (11.552, 107.811), (11.555, 107.811), (11.555, 107.808)),
        schedule=SCHOOL_HOURS,
    ),
    SpecialZone(
        "school-duc-trong-high-school",
        "school",
        "Trường THPT Đức Trọng",
        "Duc Trong high school",
        "duc-trong",
        ring=((11.736, 108.378), (11.736, 108.381), (11.739, 108.381), (11.739, 108.378)),
        schedule=SCHOOL_HOURS,
    ),
    # --- low-emission zone --------------------------------------------------------------------
    SpecialZone(
        "low-emission-da-lat-centre",
        "low_emission",
        "Vùng phát thải thấp trung tâm Đà Lạt (chợ Đà Lạt – hồ Xuân Hương)",
        "Da Lat centre low-emission zone (market – Xuan Huong lake)",
        "da-lat",
        ring=(
            (11.936, 108.430),
            (11.933, 108.440),
            (11.934, 108.450),
            (11.939, 108.457),
            (11.948, 108.457),
            (11.951, 108.450),
            (11.950, 108.440),
            (11.946, 108.431),
        ),
    ),
)

# (lat, lon) -> the IOC area the shipped set must put it in
LOCATION_CHECKS: tuple[tuple[str, float, float, str], ...] = (
    ("Đà Lạt, east of Xuân Hương", 11.9404, 108.4583, "da-lat"),
    ("Bảo Lộc centre", 11.5475, 107.8073, "bao-loc"),
    ("Liên Khương airport", 11.750, 108.367, "duc-trong"),
    ("Lạc Dương", 12.02, 108.44, "lac-duong"),
    ("Đạ Tẻh", 11.51, 107.49, "da-teh"),
)


# --- geometry helpers ---------------------------------------------------------------------------


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of `geom`, without slivers or pin-holes below SLIVER_AREA."""
    polys: list[Polygon] = []
    for part in shapely.get_parts(geom):
        if isinstance(part, MultiPolygon):
            candidates: Iterable[Polygon] = part.geoms
        elif isinstance(part, Polygon):
            candidates = [part]
        else:  # lines or points left by make_valid
            continue
        for poly in candidates:
            holes = [h for h in poly.interiors if Polygon(h).area >= SLIVER_AREA]
            cleaned = Polygon(poly.exterior, holes)
            if cleaned.area >= SLIVER_AREA:
                polys.append(cleaned)
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def snap_coverage(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Round every vertex to the grid (pointwise: shared vertices stay shared), then repair."""
    snapped = shapely.remove_repeated_points(shapely.set_precision(geoms, GRID, mode="pointwise"))
    out = []
    for geom in snapped:
        fixed = geom if shapely.is_valid(geom) else shapely.make_valid(geom)
        out.append(polygonal(fixed))
    return np.array(out, dtype=object)


def num_vertices(geom: BaseGeometry) -> int:
    return int(shapely.get_num_coordinates(geom))


def draw_districts(
    official: dict[str, BaseGeometry], max_vertices: int
) -> tuple[float, dict[str, BaseGeometry]]:
    """The coarse coverage of all twelve districts, at the first tolerance within budget."""
    slugs = sorted(official)
    source = np.array([official[s] for s in slugs], dtype=object)
    for tolerance in TOLERANCES:
        coarse = snap_coverage(shapely.coverage_simplify(source, tolerance))
        drawn = dict(zip(slugs, coarse, strict=True))
        if any(g.is_empty for g in coarse) or not shapely.coverage_is_valid(coarse):
            continue
        if all(num_vertices(drawn[s]) <= max_vertices for s in IOC_SLUGS):
            return tolerance, drawn
    raise SystemExit(f"no tolerance in {TOLERANCES[0]}..{TOLERANCES[-1]} meets the budget")


def zone_geometry(zone: SpecialZone) -> Polygon:
    if zone.circle is not None:
        lat, lon, radius = zone.circle
        dlat = radius / 111_320.0
        dlon = radius / (111_320.0 * math.cos(math.radians(lat)))
        steps = [2 * math.pi * i / zone.vertices for i in range(zone.vertices)]
        points = [(lon + dlon * math.cos(a), lat + dlat * math.sin(a)) for a in steps]
    else:
        points = [(lon, lat) for lat, lon in zone.ring]
    rounded = [(round(x, DECIMALS), round(y, DECIMALS)) for x, y in points]
    poly = shapely.remove_repeated_points(Polygon(rounded))
    if not poly.is_valid or poly.area == 0:
        raise SystemExit(f"{zone.id}: the drawn outline is not a valid polygon")
    return poly


def oriented(geom: BaseGeometry) -> BaseGeometry:
    """RFC 7946 §3.1.6: exterior rings counterclockwise, holes clockwise."""
    return shapely.orient_polygons(geom, exterior_cw=False)


def rounded_coords(value: Any) -> Any:
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], int | float):
            return [round(float(c), DECIMALS) + 0.0 for c in value]
        return [rounded_coords(v) for v in value]
    return value


def geojson_geometry(geom: BaseGeometry) -> dict[str, Any]:
    raw = mapping(oriented(geom))
    return {"type": raw["type"], "coordinates": rounded_coords(raw["coordinates"])}


def feature(props: dict[str, Any], geom: BaseGeometry) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": props["id"],
        "properties": props,
        "geometry": geojson_geometry(geom),
    }


# --- building the collection --------------------------------------------------------------------


def load_official(path: Path) -> dict[str, BaseGeometry]:
    document = json.loads(path.read_text(encoding="utf-8"))
    official: dict[str, BaseGeometry] = {}
    for feat in document["features"]:
        slug = feat.get("id") or feat["properties"]["district"]
        geom = shape(feat["geometry"])
        if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
            geom = geom.geoms[0]
        official[slug] = geom
    expected = set(IOC_SLUGS) | set(REST_DISTRICTS)
    if set(official) != expected:
        raise SystemExit(f"{path}: expected districts {sorted(expected)}, got {sorted(official)}")
    return official


def build(official: dict[str, BaseGeometry]) -> tuple[dict[str, Any], float]:
    tolerance, drawn = draw_districts(official, MAX_VERTICES)
    province = polygonal(shapely.union_all(list(drawn.values())))
    features = [
        feature(
            {
                "id": "lam-dong",
                "kind": "province",
                "name": "Tỉnh Lâm Đồng",
                "name_en": "Lam Dong province",
                "district": None,
                "approximate": True,
                "source": DISTRICT_SOURCE,
            },
            province,
        )
    ]
    for info in IOC_DISTRICTS:
        props = {
            "id": info.slug,
            "kind": "district",
            "name": info.name,
            "name_en": info.name_en,
            "district": info.slug,
            "approximate": True,
            "source": DISTRICT_SOURCE,
        }
        features.append(feature(props, drawn[info.slug]))
    for zone in sorted(SPECIAL_ZONES, key=lambda z: z.id):
        props = {
            "id": zone.id,
            "kind": zone.kind,
            "name": zone.name,
            "name_en": zone.name_en,
            "district": zone.district,
        }
        if zone.schedule is not None:
            props["schedule"] = zone.schedule
        props |= {"approximate": True, "source": ZONE_SOURCE}
        features.append(feature(props, zone_geometry(zone)))
    collection = {
        "type": "FeatureCollection",
        "name": "Lâm Đồng — default zone set (approximate)",
        "properties": {
            "note": (
                "Default zone set for demos and tests: district outlines are a coarse drawing "
                "(≈0.005° grid), approximate, not official boundaries; special zones are "
                "approximate samples at real places. Replace with official data in a deployment."
            ),
            "licence": "Apache-2.0 (drawn for this project)",
            "generator": "scripts/draw_default_zones.py",
        },
        "features": features,
    }
    return collection, tolerance


def dumps(collection: dict[str, Any]) -> str:
    """Stable text: the collection's members in order, then one feature per line."""

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    head = ",\n".join(
        f"{compact(key)}:{compact(value)}" for key, value in collection.items() if key != "features"
    )
    body = ",\n".join(compact(f) for f in collection["features"])
    return "{" + head + ',\n"features":[\n' + body + "\n]}\n"


# --- verification -------------------------------------------------------------------------------


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {message}")
        if not ok:
            self.failures.append(message)


def iter_rings(geometry: dict[str, Any]) -> Iterable[list[list[float]]]:
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    for rings in polygons:
        yield from rings


def official_labels(
    official: dict[str, BaseGeometry], lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
) -> npt.NDArray[np.object_]:
    labels = np.full(len(lon), OUTSIDE, dtype=object)
    for slug, geom in official.items():
        labels[shapely.contains_xy(geom, lon, lat)] = slug if slug in IOC_SLUGS else REST
    return labels


def shipped_labels(
    features: Sequence[dict[str, Any]],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
) -> npt.NDArray[np.object_]:
    """The IOC area of each point as the zone index decides it: a district outline covering
    the point; else a special zone's district; else the rest of the province; else outside."""
    labels = np.full(len(lon), OUTSIDE, dtype=object)
    ordered = sorted(features, key=lambda f: {"province": 0, "district": 2}.get(f["kind"], 1))
    for feat in ordered:
        if feat["kind"] == "province":
            labels[shapely.intersects_xy(feat["geom"], lon, lat)] = REST
        elif feat["district"] is not None:
            covered = shapely.intersects_xy(feat["geom"], lon, lat)
            if feat["kind"] != "district":  # special zones only fill in where no outline is
                covered &= np.isin(labels, [REST, OUTSIDE])
            labels[covered] = feat["district"]
    return labels


def grid_points(
    bounds: tuple[float, float, float, float], anchor: float | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A GRID_STEP grid over `bounds`, from the box's corner (anchor None) or aligned to
    multiples of GRID_STEP plus `anchor`."""
    minx, miny, maxx, maxy = bounds
    if anchor is not None:
        minx = math.floor(minx / GRID_STEP) * GRID_STEP + anchor
        miny = math.floor(miny / GRID_STEP) * GRID_STEP + anchor
    n_x = int((maxx - minx) / GRID_STEP) + 1
    n_y = int((maxy - miny) / GRID_STEP) + 1
    xs = np.round(minx + GRID_STEP * np.arange(n_x), 6)
    ys = np.round(miny + GRID_STEP * np.arange(n_y), 6)
    lon, lat = np.meshgrid(xs, ys)
    return lon.ravel(), lat.ravel()


def verify(text: str, official: dict[str, BaseGeometry], tolerance: float | None) -> Report:
    report = Report()
    document = json.loads(text)
    feats = []
    for raw in document["features"]:
        props = raw["properties"]
        feats.append({**props, "geom": shape(raw["geometry"]), "raw": raw})
    by_id = {f["id"]: f for f in feats}
    kinds = [f["kind"] for f in feats]
    districts = [f for f in feats if f["kind"] == "district"]
    specials = [f for f in feats if f["kind"] not in ("province", "district")]
    province = by_id["lam-dong"]["geom"]
    official_province = shapely.union_all(list(official.values()))

    print("1. Structure and validity")
    report.check(
        kinds.count("province") == 1 and sorted(f["id"] for f in districts) == sorted(IOC_SLUGS),
        f"1 province, {len(districts)} districts ({', '.join(f['id'] for f in districts)}), "
        f"{len(specials)} special zones",
    )
    report.check(len(specials) >= 14, f"{len(specials)} special zones (≥ 14)")
    report.check(len(by_id) == len(feats), "ids unique")
    report.check(all(f["raw"]["id"] == f["id"] for f in feats), "Feature.id == properties.id")
    report.check(
        all(f.get("approximate") is True and f.get("source") for f in feats),
        "every feature approximate: true with a source",
    )
    report.check(all(f["geom"].is_valid for f in feats), "every polygon valid (shapely.is_valid)")
    rings = [ring for f in feats for ring in iter_rings(f["raw"]["geometry"])]
    report.check(all(r[0] == r[-1] and len(r) >= 4 for r in rings), f"{len(rings)} rings closed")
    coords = np.array([p for r in rings for p in r])
    in_range = (
        (coords[:, 0] >= LON_RANGE[0])
        & (coords[:, 0] <= LON_RANGE[1])
        & (coords[:, 1] >= LAT_RANGE[0])
        & (coords[:, 1] <= LAT_RANGE[1])
    )
    report.check(
        bool(in_range.all()),
        f"all {len(coords)} positions within lon {LON_RANGE}, lat {LAT_RANGE} ([lon, lat] order)",
    )
    outline = np.array(
        [
            p
            for f in feats
            if f["kind"] in ("province", "district")
            for r in iter_rings(f["raw"]["geometry"])
            for p in r
        ]
    )
    on_grid = np.abs(outline / GRID - np.round(outline / GRID)) < 1e-6
    report.check(bool(on_grid.all()), f"every outline vertex on the {GRID}° grid")
    outlines = np.array([f["geom"] for f in districts], dtype=object)
    report.check(bool(shapely.coverage_is_valid(outlines)), "district outlines do not overlap")
    report.check(
        all(province.covers(f["geom"]) for f in districts), "the province covers every district"
    )

    print("2. District agreement with the official boundaries")
    for title, anchor in (("grid from the bbox corner", None), ("grid aligned to 0.01°", 0.0)):
        lon, lat = grid_points(official_province.bounds, anchor)
        want = official_labels(official, lon, lat)
        got = shipped_labels(feats, lon, lat)
        inside = want != OUTSIDE
        agree = float(np.mean(want[inside] == got[inside]))
        lost = int(np.sum(inside & (got == OUTSIDE)))
        extra = int(np.sum(~inside & (got != OUTSIDE)))
        report.check(
            agree >= AGREEMENT_TARGET,
            f"{title}: {agree:.2%} of {int(inside.sum())} points agree "
            f"(target {AGREEMENT_TARGET:.0%}); inside official but outside shipped: {lost}; "
            f"inside shipped but outside official: {extra}",
        )
        if anchor is None:
            for slug in (*IOC_SLUGS, REST):
                mask = want == slug
                print(f"       {slug:10s} {np.mean(got[mask] == slug):7.2%} of {int(mask.sum())}")
    area_official = official_province.area
    print(
        f"       province area: shipped {province.area:.4f} deg², official {area_official:.4f}"
        f" deg², symmetric difference {province.symmetric_difference(official_province).area:.4f}"
    )

    print("3. Size")
    if tolerance is not None:
        print(f"       coverage_simplify tolerance {tolerance}, grid {GRID}°")
    for f in districts:
        report.check(
            num_vertices(f["geom"]) <= MAX_VERTICES,
            f"{f['id']:10s} {num_vertices(f['geom']):3d} vertices",
        )
    print(f"       province   {num_vertices(province):3d} vertices")
    size = len(text.encode("utf-8"))
    report.check(size < MAX_FILE_BYTES, f"file size {size} bytes (< {MAX_FILE_BYTES})")

    print("4. Places")
    for label, lat0, lon0, expected in LOCATION_CHECKS:
        got = shipped_labels(feats, np.array([lon0]), np.array([lat0]))[0]
        truth = official_labels(official, np.array([lon0]), np.array([lat0]))[0]
        report.check(
            got == expected,
            f"({lat0}, {lon0}) {label}: {got} (official: {truth}, expected {expected})",
        )
    for f in specials:
        geom = f["geom"]
        home = official[f["district"]] if f["district"] else None
        if home is not None:
            in_official = home.contains(geom)
        else:
            in_official = official_province.contains(geom) and not any(
                official[s].intersects(geom) for s in IOC_SLUGS
            )
        point = geom.representative_point()
        got = shipped_labels(feats, np.array([point.x]), np.array([point.y]))[0]
        wanted = f["district"] or REST
        outline = by_id[f["district"]]["geom"] if f["district"] else province
        share = geom.intersection(outline).area / geom.area
        centre = geom.centroid
        report.check(
            in_official and got == wanted,
            f"{f['id']:36s} ({centre.y:.4f}, {centre.x:.4f}) {wanted:9s} inside official: "
            f"{'yes' if in_official else 'NO'}; located: {got}; "
            f"{share:.0%} inside the shipped outline",
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "official",
        nargs="?",
        type=Path,
        default=DEFAULT_OFFICIAL,
        help=f"official district boundaries (default {DEFAULT_OFFICIAL})",
    )
    parser.add_argument("--check", action="store_true", help="only verify the existing output")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default {OUTPUT}")
    args = parser.parse_args(argv)

    official = load_official(args.official)
    tolerance: float | None = None
    if args.check:
        text = args.output.read_text(encoding="utf-8")
    else:
        collection, tolerance = build(official)
        text = dumps(collection)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.output}")
    report = verify(text, official, tolerance)
    if report.failures:
        print(f"{len(report.failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
