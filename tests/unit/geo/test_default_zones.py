"""The zone set shipped with ioc: approximate, but real places fall in the right district."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely

from ioc.districts import DISTRICT_SLUGS
from ioc.geo import ZoneIndex, default_zones, load_zones
from tests.harness.processes import IOC

GRID_STEP = 0.02  # degrees, about 2.2 km: ~2 500 points over the province


@pytest.fixture(scope="module")
def shipped() -> ZoneIndex:
    return ZoneIndex(default_zones())


def test_it_describes_the_province_and_its_seven_district_iocs(shipped: ZoneIndex) -> None:
    zones = shipped.zone_set.zones
    assert [z.id for z in zones if z.kind == "province"] == ["lam-dong"]
    districts = {z.district for z in zones if z.kind == "district"}
    assert districts == set(DISTRICT_SLUGS)
    special = [z for z in zones if z.kind in ("restricted", "flood", "school", "low_emission")]
    assert len(special) >= 12
    assert {z.kind for z in special} == {"restricted", "flood", "school", "low_emission"}
    assert all(z.properties.get("approximate") is True for z in zones)
    assert shipped.zone_set.warnings == ()


def test_names_keep_their_diacritics(shipped: ZoneIndex) -> None:
    names = {z.district: z.name for z in shipped.zone_set.zones if z.kind == "district"}
    assert names["da-lat"] == "Đà Lạt"
    assert names["duc-trong"] == "Đức Trọng"
    assert names["da-teh"] == "Đạ Tẻh"


def test_it_agrees_with_the_official_boundaries_on_a_grid(
    shipped: ZoneIndex, official_districts: Path
) -> None:
    official = ZoneIndex(load_zones(official_districts))
    minx, miny, maxx, maxy = shapely.total_bounds([z.geometry for z in official.zones])
    lons, lats = np.meshgrid(np.arange(minx, maxx, GRID_STEP), np.arange(miny, maxy, GRID_STEP))
    lats, lons = lats.ravel(), lons.ravel()
    truth = official.locate(lats, lons).district
    inside = truth != None  # noqa: E711 (element-wise on an object array)
    # The five districts without an IOC of their own belong to the provincial IOC: None.
    expected = np.array([d if d in DISTRICT_SLUGS else None for d in truth[inside]], dtype=object)
    got = shipped.locate(lats[inside], lons[inside]).district
    agreement = float(np.mean(got == expected))
    assert inside.sum() > 2000
    assert agreement >= 0.95, f"only {agreement:.1%} of grid points in the same district"


def test_every_special_zone_lies_in_the_district_it_names(
    shipped: ZoneIndex, official_districts: Path
) -> None:
    official = ZoneIndex(load_zones(official_districts))
    for zone in shipped.zone_set.zones:
        if zone.kind in ("province", "district"):
            continue
        point = zone.geometry.representative_point()
        owner = official.locate([point.y], [point.x]).district[0]
        expected = zone.district if zone.district is not None else "not an IOC district"
        assert (owner if owner in DISTRICT_SLUGS else "not an IOC district") == expected, zone.id


def test_a_restricted_site_in_duc_trong_is_closed_at_night(shipped: ZoneIndex) -> None:
    night = [
        z
        for z in shipped.zone_set.zones
        if z.kind == "restricted" and z.district == "duc-trong" and z.schedules
    ]
    assert night
    from datetime import datetime

    assert night[0].active_at(datetime.fromisoformat("2026-11-23T23:30:00+07:00"))
    assert not night[0].active_at(datetime.fromisoformat("2026-11-23T14:00:00+07:00"))


@pytest.mark.parametrize(
    ("lat", "lon", "district"),
    [
        (11.9404, 108.4583, "da-lat"),
        (11.5475, 107.8073, "bao-loc"),
        (11.750, 108.367, "duc-trong"),
        (11.51, 107.49, "da-teh"),
    ],
)
def test_ioc_zones_locate_names_the_district(lat: float, lon: float, district: str) -> None:
    out = subprocess.run(
        [*IOC, "zones", "locate", str(lat), str(lon), "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "IOC_DATA_DIR": "/nonexistent"},
    )
    assert json.loads(out.stdout)["district"] == district


def test_ioc_zones_locate_in_words() -> None:
    out = subprocess.run(
        [*IOC, "zones", "locate", "11.9404", "108.4583"], capture_output=True, text=True, check=True
    )
    assert "district: da-lat (Đà Lạt)" in out.stdout


def test_ioc_zones_show_and_check(tmp_path: Path) -> None:
    shown = subprocess.run([*IOC, "zones", "show"], capture_output=True, text=True, check=True)
    assert "lam-dong" in shown.stdout
    assert "Đức Trọng" in shown.stdout
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    checked = subprocess.run([*IOC, "zones", "check", str(bad)], capture_output=True, text=True)
    assert checked.returncode == 1
    assert "feature 0: properties.kind: Field required" in checked.stdout
