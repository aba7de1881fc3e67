"""The device registry and the routing of bridged messages: templates, value-only devices,
FIWARE topics, API keys, and every refusal's reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ioc.bridge.registry import Device, Registry, RegistryError, key_digest, load_file
from ioc.bridge.routing import (
    DEFAULT_TEMPLATES,
    Refused,
    Routed,
    Router,
    Template,
    TemplateError,
    parse_templates,
)
from ioc.schemas import Decoder
from tests.harness.paths import DEVICES

WHEN = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)

REGISTRY = DEVICES


@pytest.fixture
def registry() -> Registry:
    return Registry(load_file(REGISTRY))


@pytest.fixture
def router(registry: Registry) -> Router:
    return Router(parse_templates(DEFAULT_TEMPLATES), registry)


def test_a_full_reading_goes_byte_for_byte_to_its_kind_keyed_by_source(router: Router) -> None:
    body = b'{"kind": "traffic", "anything": "the worker judges"}'
    routed = router.route_mqtt("lamdong/da-lat/traffic/gw-da-lat", body, WHEN)
    assert routed == Routed("sensors.traffic", b"gw-da-lat", body)
    # A source outside the district IOCs names the province.
    routed = router.route_mqtt("lamdong/province/traffic/gw-di-linh", body, WHEN)
    assert routed == Routed("sensors.traffic", b"gw-di-linh", body)


@pytest.mark.parametrize(
    "topic",
    [
        "lamdong/atlantis/traffic/gw-1",  # not a district
        "lamdong/da-lat/weather/gw-1",  # not a kind
        "lamdong/da-lat/traffic",  # a level short
        "other/da-lat/traffic/gw-1",
        "lamdong/da-lat/traffic/gw-1/extra",
    ],
)
def test_a_topic_that_fits_no_template_is_refused_with_the_templates(
    router: Router, topic: str
) -> None:
    refused = router.route_mqtt(topic, b"{}", WHEN)
    assert isinstance(refused, Refused)
    assert refused.category == "no-template"
    assert topic in refused.reason
    assert "lamdong/{district}/{kind}/{source_id}" in refused.reason


def test_a_devices_values_become_a_full_reading_the_worker_accepts(router: Router) -> None:
    payload = orjson.dumps({"pm2_5": 35.5, "t": 68.0, "wl": 1.25})
    routed = router.route_mqtt("/json/group-key/aq-0042/attrs", payload, WHEN)
    assert isinstance(routed, Routed)
    assert (routed.topic, routed.key) == ("sensors.environment", b"envnet-da-lat")
    reading = orjson.loads(routed.value)
    assert reading["pm25"] == 35.5
    assert reading["temperature_c"] == pytest.approx(20.0)  # 68 °F
    assert reading["water_level_cm"] == pytest.approx(125.0)  # 1.25 m
    assert reading["ts"] == WHEN.isoformat()  # the message's time: it sent none
    decoded = Decoder().decode(routed.value)
    assert not decoded.rejections
    (one,) = decoded.readings
    assert (one.sensor_id, one.source_id, one.lat) == ("env-da-lat-042", "envnet-da-lat", 11.9404)


def test_a_devices_own_time_and_static_fields_are_kept(router: Router) -> None:
    payload = orjson.dumps({"n": 12, "TimeInstant": "2026-12-02T06:59:30Z"})
    routed = router.route_mqtt("json/group-key/cnt-7/attrs", payload, WHEN)
    assert isinstance(routed, Routed)
    (one,) = Decoder().decode(routed.value).readings
    assert one.vehicle_count == 12
    assert one.road == "QL20"
    assert one.ts == datetime(2026, 12, 2, 6, 59, 30, tzinfo=UTC)


def test_several_measures_in_one_message_become_a_gateway_batch(router: Router) -> None:
    payload = orjson.dumps([{"pm2_5": 10, "ts": "2026-12-02T06:00:00Z"}, {"pm2_5": 12}])
    routed = router.route_mqtt("/json/group-key/aq-0042/attrs", payload, WHEN)
    assert isinstance(routed, Routed)
    decoded = Decoder().decode(routed.value)
    assert [r.pm25 for r in decoded.readings] == [10, 12]


@pytest.mark.parametrize(
    ("topic", "payload", "category"),
    [
        ("/json/group-key/nobody/attrs", b"{}", "unknown-device"),
        ("/json/wrong-key/aq-0042/attrs", b"{}", "wrong-apikey"),
        ("/json/group-key/aq-0042/attrs", b"\x00 not json", "not-json"),
        ("/json/group-key/aq-0042/attrs", b"[1, 2]", "not-an-object"),
        ("/json/group-key/aq-0042/attrs", b"42", "not-an-object"),
    ],
)
def test_what_cannot_become_a_reading_is_refused_with_a_reason(
    router: Router, topic: str, payload: bytes, category: str
) -> None:
    refused = router.route_mqtt(topic, payload, WHEN)
    assert isinstance(refused, Refused)
    assert refused.category == category
    assert refused.reason


def test_http_readings_need_a_key_that_may_send_for_the_bodys_source(router: Router) -> None:
    body = b'{"source_id": "vms-da-lat", "readings": []}'
    assert router.route_readings("camera", "vms-key", body) == Routed(
        "sensors.camera", b"vms-da-lat", body
    )
    # A device group's key may send for its devices' source, and no other.
    assert isinstance(
        router.route_readings("traffic", "group-key", b'{"source_id": "gw-da-lat"}'), Routed
    )
    refused = router.route_readings("camera", "group-key", body)
    assert isinstance(refused, Refused)
    assert refused.category == "wrong-apikey"
    for bad, category in [(b"nope", "not-json"), (b"{}", "no-source"), (b"[]", "no-source")]:
        refused = router.route_readings("camera", "vms-key", bad)
        assert isinstance(refused, Refused)
        assert refused.category == category
    refused = router.route_readings("weather", "vms-key", body)
    assert isinstance(refused, Refused)
    assert refused.category == "unknown-kind"


def test_the_registry_keeps_key_digests_only(registry: Registry) -> None:
    device = registry.devices["aq-0042"]
    assert device.apikey_sha256 == key_digest("group-key")
    assert "group-key" not in device.model_dump_json()
    assert registry.knows_key("vms-key")
    assert not registry.knows_key("guess")
    registry.remove("source:vms-da-lat")
    assert not registry.knows_key("vms-key")


def test_a_csv_registry_reads_like_the_yaml_one(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    path.write_text(
        "device_id,apikey,sensor_id,kind,source_id,lat,lon,attr:t,attr:pm2_5,static:road\n"
        "aq-1,k1,env-1,environment,envnet,11.9,108.4,temperature_c K,pm25,\n"
        "cnt-1,k1,trf-1,traffic,gw,11.9,108.4,,,QL20\n"
    )
    first, second = load_file(path)
    assert isinstance(first, Device)
    assert first.attributes["t"].unit == "K"
    assert first.reading({"t": 293.15}, WHEN.isoformat())["temperature_c"] == pytest.approx(20.0)
    assert isinstance(second, Device)
    assert second.static == {"road": "QL20"}


def test_a_registry_file_with_problems_says_every_one(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(
        "devices:\n"
        "  - {device_id: a, sensor_id: s, kind: environment, source_id: x, lat: 11, lon: 108,"
        " attributes: {t: {name: temperature_c, unit: furlongs}}}\n"
        "  - {device_id: b, sensor_id: s, kind: camera, source_id: x, lat: 11, lon: 108,"
        " attributes: {c: {name: pm25}}}\n"
        "  - {device_id: c, sensor_id: s, kind: submarine, source_id: x, lat: 11, lon: 108}\n"
        "  - {device_id: d, sensor_id: s, kind: traffic, source_id: x, lat: 91, lon: 108}\n"
    )
    with pytest.raises(RegistryError) as caught:
        load_file(path)
    lines = str(caught.value).splitlines()
    assert len(lines) >= 4
    text = str(caught.value)
    assert "furlongs" in text
    assert "degF" in text
    assert "no field 'pm25'" in text
    assert "devices c" in text
    assert "devices d" in text


def test_templates_are_checked_when_read() -> None:
    assert Template.parse("site/{district}/{kind}/{source_id}").subscription == "site/+/+/+"
    for bad in (
        "a/{kind}",
        "a/{nope}/{device_id}",
        "a/x{kind}/{source_id}",
        "a/{device_id}/{device_id}",
    ):
        with pytest.raises(TemplateError):
            Template.parse(bad)
