"""Sensor statuses, as a worker publishes them: one message per source, at most once per
interval, at once on a change of status; offline from an absence rule, implausible values,
the VN_AQI band with its official colour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ioc.geo import ZoneIndex, default_zones
from ioc.rules.offline import place
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert
from ioc.schemas.common import Text
from ioc.schemas.readings import EnvironmentReading, TrafficReading
from ioc.schemas.sensors import SourceStatuses
from ioc.streams.stages.sensor_status import SensorStatusTracker

T0 = datetime(2026, 11, 16, 3, 0, tzinfo=UTC)
INDEX = ZoneIndex(default_zones())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def traffic(sensor: str, minute: float, speed: float = 40.0, source: str = "gw-1") -> Placed:
    reading = TrafficReading(
        kind="traffic",
        sensor_id=sensor,
        source_id=source,
        ts=T0 + timedelta(minutes=minute),
        lat=11.94,
        lon=108.44,
        road="QL20",
        vehicle_count=3,
        avg_speed_kmh=speed,
    )
    return place(INDEX, [(reading, "sensors.traffic", 0, 1)])[0]


def air(sensor: str, pm25: float) -> Placed:
    reading = EnvironmentReading(
        kind="environment",
        sensor_id=sensor,
        source_id="st-1",
        ts=T0,
        lat=11.94,
        lon=108.44,
        pm25=pm25,
    )
    return place(INDEX, [(reading, "sensors.environment", 0, 1)])[0]


def absence(sensor: str, status: str) -> Alert:
    return Alert(
        alert_id=f"station-silent:{sensor}",
        status=status,  # type: ignore[arg-type]
        rule_id="station-silent",
        ruleset_version="v1",
        zoneset_version="z1",
        subject=sensor,
        severity="minor",
        category="Infra",
        title=Text(vi="Trạm mất tín hiệu", en="Station silent"),
        lat=11.94,
        lon=108.44,
        event_time=T0,
        raised_at=T0,
    )


def published(tracker: SensorStatusTracker) -> dict[str, dict[str, Any]]:
    """sensor id → its status, from the messages due now (each checked against the schema)."""
    out = {}
    for key, value in tracker.due():
        message = SourceStatuses.model_validate_json(value)
        assert key == message.source_id.encode()
        for status in message.statuses():
            out[status.sensor_id] = status.model_dump(mode="json")
    return out


def test_a_source_is_published_once_per_interval_with_all_its_sensors() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    tracker.observe(traffic("t-1", 0))
    tracker.observe(traffic("t-2", 0))
    clock.now += 30  # the first publication waits at most one interval
    first = published(tracker)
    assert set(first) == {"t-1", "t-2"}
    assert first["t-1"]["status"] == "ok"
    assert first["t-1"]["district"] == "da-lat"
    assert first["t-1"]["values"]["avg_speed_kmh"] == 40.0
    tracker.observe(traffic("t-1", 1))
    clock.now += 10
    assert published(tracker) == {}  # within the interval: nothing
    clock.now += 20
    again = published(tracker)
    assert set(again) == {"t-1", "t-2"}  # the whole source, for the compacted topic
    assert again["t-1"]["last_seen"].startswith("2026-11-16T03:01")
    clock.now += 60
    assert published(tracker) == {}  # no news: nothing


def test_a_change_of_status_is_published_at_once() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    tracker.observe(traffic("t-1", 0))
    clock.now += 30
    assert published(tracker)["t-1"]["status"] == "ok"
    clock.now += 1
    tracker.observe(traffic("t-1", 1, speed=250.0))
    status = published(tracker)["t-1"]
    assert status["status"] == "implausible"
    assert "avg_speed_kmh=250" in status["reason"]
    clock.now += 1
    tracker.alerts([absence("t-1", "firing")], {"station-silent"})
    status = published(tracker)["t-1"]
    assert status["status"] == "offline"
    assert "station-silent" in status["reason"]
    clock.now += 1
    tracker.alerts([absence("t-1", "resolved")], {"station-silent"})
    assert published(tracker)["t-1"]["status"] == "implausible"  # its latest reading still is
    clock.now += 1
    tracker.observe(traffic("t-1", 5))
    assert published(tracker)["t-1"]["status"] == "ok"


def test_alerts_of_other_rules_change_nothing() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    tracker.observe(traffic("t-1", 0))
    clock.now += 30
    published(tracker)
    tracker.alerts([absence("t-1", "firing")], {"another-rule"})
    assert published(tracker) == {}


def test_a_late_reading_does_not_replace_a_newer_one() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    tracker.observe(traffic("t-1", 5))
    tracker.observe(traffic("t-1", 2, speed=10.0))
    clock.now += 30
    assert published(tracker)["t-1"]["values"]["avg_speed_kmh"] == 40.0


def test_first_publications_are_spread_over_the_interval() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    for n in range(200):
        tracker.observe(traffic(f"t-{n}", 0, source=f"gw-{n}"))
    clock.now += 10
    early = len(tracker.due())
    clock.now += 20
    late = len(tracker.due())
    assert early + late == 200
    assert 30 < early < 110  # about a third within the first third of the interval


def test_an_air_station_carries_its_vn_aqi_band() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    tracker.observe(air("a-1", 60.0))  # PM2.5 60 µg/m³: the 101-150 band, orange
    clock.now += 30
    aqi = published(tracker)["a-1"]["aqi"]
    assert 101 <= aqi["aqi"] <= 150
    assert aqi["colour"] == "orange"
    assert aqi["rgb"] == [255, 126, 0]
    assert aqi["name_vi"] == "Kém"


def test_a_large_source_is_split_into_parts_under_the_message_limit() -> None:
    clock = Clock()
    tracker = SensorStatusTracker(30, clock=clock)
    for n in range(100):
        tracker.observe(traffic(f"t-{n}", 0, source="gw-big"))
    clock.now += 30
    assert [key for key, _ in tracker.due()] == [b"gw-big"]
    for n in range(100, 600):
        tracker.observe(traffic(f"t-{n}", 1, source="gw-big"))
    clock.now += 30
    messages = tracker.due()
    keys = [key for key, _ in messages]
    # The old key is emptied; 600 sensors need four parts of at most 250.
    assert keys == [b"gw-big", b"gw-big/0", b"gw-big/1", b"gw-big/2", b"gw-big/3"]
    bodies = [SourceStatuses.model_validate_json(value) for _, value in messages]
    assert bodies[0].sensors == []
    assert all(len(b.sensors) <= 250 for b in bodies)
    assert sum(len(b.sensors) for b in bodies[1:]) == 600
    assert len({s.sensor_id for b in bodies for s in b.sensors}) == 600
    assert max(len(value) for _, value in messages) < 200_000
