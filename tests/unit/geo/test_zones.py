"""Zone files, schedules and the geofence index."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.geo import Schedule, ZoneIndex, ZoneSetError, load_zones, parse_zones
from ioc.geo import index as index_module
from tests.harness.zones import box, collection, feature


def test_a_valid_file_loads_with_a_stable_version() -> None:
    data = collection(
        feature("a"), feature("b", kind="flood", geometry=box(108.05, 11.05, 108.1, 11.1))
    )
    first, second = parse_zones(data), parse_zones(data)
    assert [z.id for z in first.zones] == ["a", "b"]
    assert first.version == second.version
    assert len(first.version) == 12
    other = parse_zones(collection(feature("a"), feature("b", kind="school")))
    assert other.version != first.version


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([feature("a"), feature("a")], "id 'a' is already used by feature 0"),
        ([feature("a", kind="volcano")], "properties.kind: Input should be 'province'"),
        ([feature("a", name="")], "properties.name: String should have at least 1 character"),
        ([feature("Bad Id")], "properties.id: String should match pattern"),
        ([{**feature("a"), "id": None}], "no id"),
        (
            [
                feature(
                    "a",
                    geometry={
                        "type": "Polygon",
                        "coordinates": [[[108, 11], [108.1, 11], [108.1, 11.1], [108, 11.1]]],
                    },
                )
            ],
            "ring is not closed",
        ),
        (
            [
                feature(
                    "a",
                    geometry={
                        "type": "Polygon",
                        "coordinates": [[[11, 108], [11.1, 108], [11.1, 108.1], [11, 108]]],
                    },
                )
            ],
            "is it [lat, lon]? GeoJSON is [lon, lat]",
        ),
        (
            [feature("a", geometry={"type": "Point", "coordinates": [108, 11]})],
            "Polygon or MultiPolygon, not Point",
        ),
        ([feature("a", schedule={"start": "25:00", "end": "05:00"})], "properties.schedule"),
        (
            [feature("a", schedule={"start": "22:00", "end": "05:00", "tz": "Mars/Olympus"})],
            "unknown time zone",
        ),
    ],
)
def test_problems_name_the_feature_and_field(features: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ZoneSetError) as exc:
        parse_zones(collection(*features), "zones.geojson")
    assert message in str(exc.value)
    assert str(exc.value).startswith("zones.geojson:")


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(ZoneSetError) as exc:
        parse_zones(collection(feature("a", kind="x"), feature("b", name=""), feature("c")))
    assert len(exc.value.problems) == 2


@pytest.mark.parametrize("payload", [b"{", b"[]", b'{"type": "FeatureCollection", "features": []}'])
def test_not_a_zone_file(payload: bytes) -> None:
    with pytest.raises(ZoneSetError):
        parse_zones(payload)


def test_a_self_intersecting_polygon_is_repaired_with_a_warning() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[108, 11], [108.2, 11.2], [108.2, 11], [108, 11.2], [108, 11]]],
    }
    zone_set = parse_zones(collection(feature("bow", geometry=bowtie)))
    [warning] = zone_set.warnings
    assert "feature 0 (bow): invalid polygon (Self-intersection" in warning
    [zone] = zone_set.zones
    assert zone.geometry.is_valid
    assert zone.geometry.area == pytest.approx(0.02)


def test_extra_properties_are_kept(official_districts: Path) -> None:
    zone_set = load_zones(official_districts)
    assert zone_set.get("da-lat").properties["code"] == "672"


def test_the_official_file_loads_unchanged(official_districts: Path) -> None:
    zone_set = load_zones(official_districts)
    assert len(zone_set) == 12
    assert {z.kind for z in zone_set.zones} == {"district"}
    assert zone_set.get("da-lat").name == "Thành phố Đà Lạt"


# --- schedules --------------------------------------------------------------------------------

NIGHT = Schedule(start=time(22), end=time(5))


@pytest.mark.parametrize(
    ("local", "active"),
    [
        ("2026-11-23T21:59:59+07:00", False),
        ("2026-11-23T22:00:00+07:00", True),
        ("2026-11-24T00:30:00+07:00", True),
        ("2026-11-24T04:59:59+07:00", True),
        ("2026-11-24T05:00:00+07:00", False),
        ("2026-11-23T12:00:00+07:00", False),
        ("2026-11-23T16:30:00+00:00", True),  # 23:30 in Đà Lạt
    ],
)
def test_a_night_window_crosses_midnight(local: str, active: bool) -> None:
    assert NIGHT.active_at(datetime.fromisoformat(local)) is active


def test_the_night_after_the_last_listed_day_belongs_to_that_day() -> None:
    friday_nights = Schedule(start=time(22), end=time(5), days=("fri",))
    assert friday_nights.active_at(datetime.fromisoformat("2026-11-27T23:00:00+07:00"))  # Fri
    assert friday_nights.active_at(datetime.fromisoformat("2026-11-28T03:00:00+07:00"))  # Sat
    assert not friday_nights.active_at(datetime.fromisoformat("2026-11-28T23:00:00+07:00"))
    assert not friday_nights.active_at(datetime.fromisoformat("2026-11-27T03:00:00+07:00"))


def test_a_weekday_school_window() -> None:
    school = Schedule(start=time(6, 30), end=time(17, 30), days=("mon", "tue", "wed", "thu", "fri"))
    assert school.active_at(datetime.fromisoformat("2026-11-23T07:00:00+07:00"))  # Monday
    assert not school.active_at(datetime.fromisoformat("2026-11-22T07:00:00+07:00"))  # Sunday
    assert not school.active_at(datetime.fromisoformat("2026-11-23T18:00:00+07:00"))


def test_a_zone_without_schedule_is_always_active() -> None:
    [zone] = parse_zones(collection(feature("a"))).zones
    assert zone.active_at(datetime.now(UTC))


# --- the index --------------------------------------------------------------------------------


def nested_set() -> bytes:
    return collection(
        feature("lam-dong", kind="province", district=None, geometry=box(107, 11, 109, 12.5)),
        feature("da-lat", geometry=box(108.3, 11.8, 108.6, 12.1)),
        feature(
            "ward-1", kind="ward", district="da-lat", geometry=box(108.40, 11.90, 108.46, 11.96)
        ),
        feature(
            "lake", kind="flood", district="da-lat", geometry=box(108.44, 11.93, 108.45, 11.95)
        ),
        feature("bao-loc", district="bao-loc", geometry=box(107.7, 11.4, 107.9, 11.7)),
        feature(
            "outpost",
            kind="restricted",
            district="duc-trong",
            geometry=box(108.9, 12.3, 108.95, 12.35),
        ),
    )


def test_points_get_their_zones_and_the_most_specific_district() -> None:
    index = ZoneIndex(parse_zones(nested_set()))
    placement = index.locate(
        [11.94, 11.5, 11.3, 13.0, 12.32], [108.445, 107.8, 107.2, 108.0, 108.92]
    )
    assert list(placement.district) == ["da-lat", "bao-loc", None, None, "duc-trong"]
    assert placement.zone_ids(0) == ["lam-dong", "da-lat", "ward-1", "lake"]
    assert placement.zone_ids(2) == ["lam-dong"]
    assert placement.zone_ids(3) == []
    assert placement.zone_ids(4) == ["lam-dong", "outpost"]


def test_a_point_on_a_shared_boundary_is_in_both_zones() -> None:
    index = ZoneIndex(
        parse_zones(
            collection(
                feature("w", geometry=box(108, 11, 108.1, 11.1)),
                feature("e", district="bao-loc", geometry=box(108.1, 11, 108.2, 11.1)),
            )
        )
    )
    placement = index.locate([11.05], [108.1])
    assert placement.zone_ids(0) == ["w", "e"]
    assert placement.district[0] in ("da-lat", "bao-loc")


def test_an_empty_batch() -> None:
    placement = ZoneIndex(parse_zones(nested_set())).locate([], [])
    assert len(placement) == 0


@given(st.lists(st.tuples(st.floats(10.8, 12.7), st.floats(106.8, 109.2)), max_size=60))
@settings(max_examples=100, deadline=None)
def test_the_vectorised_index_agrees_with_a_point_by_point_shapely_check(
    points: list[tuple[float, float]],
) -> None:
    zone_set = parse_zones(nested_set())
    index = ZoneIndex(zone_set)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    placement = index.locate(lats, lons)
    every = placement.all_zones()
    assert len(every) == len(points)
    for i, (lat, lon) in enumerate(points):
        expected = [z.id for z in zone_set.zones if shapely.intersects_xy(z.geometry, lon, lat)]
        assert placement.zone_ids(i) == expected
        assert [z.id for z in every[i]] == expected


# Coordinates of the nested set's edges, so that many points lie exactly on a boundary.
EDGE_LATS = [11, 11.4, 11.7, 11.8, 11.9, 11.93, 11.95, 11.96, 12.1, 12.3, 12.35, 12.5]
EDGE_LONS = [107, 107.7, 107.9, 108.3, 108.4, 108.44, 108.45, 108.46, 108.6, 108.9, 108.95, 109]


@given(
    st.lists(
        st.tuples(
            st.one_of(st.sampled_from(EDGE_LATS), st.floats(10.8, 12.7)),
            st.one_of(st.sampled_from(EDGE_LONS), st.floats(106.8, 109.2)),
        ),
        min_size=200,
        max_size=3000,
    )
)
@settings(max_examples=40, deadline=None)
def test_large_batches_agree_point_by_point_also_on_edges(
    points: list[tuple[float, float]],
) -> None:
    # Large enough that the lookup bins points on a grid with cells wholly inside zones.
    zone_set = parse_zones(nested_set())
    lats = np.array([p[0] for p in points])
    lons = np.array([p[1] for p in points])
    placement = ZoneIndex(zone_set).locate(lats, lons)
    for i in range(len(points)):
        expected = [
            z.id for z in zone_set.zones if shapely.intersects_xy(z.geometry, lons[i], lats[i])
        ]
        assert placement.zone_ids(i) == expected


def test_a_point_with_a_non_finite_coordinate_lies_nowhere() -> None:
    index = ZoneIndex(parse_zones(nested_set()))
    placement = index.locate(
        [11.94, float("nan"), 11.5, 11.5], [108.445, 108.4, float("inf"), 107.8]
    )
    assert [placement.zone_ids(i) for i in range(4)] == [
        ["lam-dong", "da-lat", "ward-1", "lake"],
        [],
        [],
        ["lam-dong", "bao-loc"],
    ]
    assert list(placement.district) == ["da-lat", None, None, "bao-loc"]


@given(
    st.lists(
        st.lists(
            st.tuples(
                st.sampled_from([*EDGE_LATS, 11.94, float("nan")]), st.sampled_from(EDGE_LONS)
            ),
            max_size=40,
        ),
        max_size=8,
    ),
    st.integers(5, 60),
)
@settings(max_examples=60, deadline=None)
def test_remembered_places_are_the_places_located(
    batches: list[list[tuple[float, float]]], bound: int
) -> None:
    """Calls that repeat points, in any number, and forget them past the bound."""
    index = ZoneIndex(parse_zones(nested_set()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(index_module, "KNOWN_POINTS", bound)
        for points in batches:
            found = index.places(points)
            placement = index.locate([p[0] for p in points], [p[1] for p in points])
            assert [district for district, _ in found] == list(placement.district)
            assert [[z.id for z in zones] for _, zones in found] == [
                placement.zone_ids(i) for i in range(len(points))
            ]
            assert len(index._known) <= max(bound, len(points))


def test_latitudes_and_longitudes_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 latitudes but 1 longitudes"):
        ZoneIndex(parse_zones(nested_set())).locate([11.0, 11.1], [108.0])


def test_official_districts_place_known_towns(official_districts: Path) -> None:
    index = ZoneIndex(load_zones(official_districts))
    towns = {
        "da-lat": (11.9404, 108.4583),
        "bao-loc": (11.5475, 107.8073),
        "duc-trong": (11.735, 108.373),
        "lac-duong": (12.0, 108.43),
        "di-linh": (11.58, 108.07),
    }
    placement = index.locate([t[0] for t in towns.values()], [t[1] for t in towns.values()])
    assert list(placement.district) == list(towns)


def test_large_batches_match_a_sample_checked_point_by_point(official_districts: Path) -> None:
    zone_set = load_zones(official_districts)
    index = ZoneIndex(zone_set)
    rng = np.random.default_rng(7)
    lats, lons = rng.uniform(11.2, 12.4, 20_000), rng.uniform(107.2, 108.8, 20_000)
    placement = index.locate(lats, lons)
    for i in rng.choice(20_000, 300, replace=False):
        inside = [
            z.district
            for z in zone_set.zones
            if shapely.intersects_xy(z.geometry, lons[i], lats[i])
        ]
        assert placement.district[i] == (inside[0] if inside else None)
