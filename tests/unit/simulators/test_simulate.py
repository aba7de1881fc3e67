"""The sensor simulator: determinism, realistic quiet days, episodes at their time and place,
batching, broken input on purpose, and the `ioc simulate` command."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from ioc.geo import ZoneIndex, default_zones
from ioc.schemas import Decoder
from ioc.schemas.readings import AnyReading, CameraReading, EnvironmentReading, TrafficReading
from simulators.episodes import EpisodeError
from simulators.generate import Simulation, start_for
from simulators.places import ROADS, distance_m
from simulators.records import Record
from simulators.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from tests.harness.scenario import FAR_FUTURE, TINY_SCENARIO, readings_of

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def digest(records: Iterable[Record]) -> str:
    h = hashlib.sha256()
    for record in records:
        h.update(record.to_line())
    return h.hexdigest()


def local(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=LOCAL)


@pytest.fixture(scope="module")
def province_day() -> tuple[Simulation, list[AnyReading]]:
    sim = Simulation(load_scenario("province-day"))
    return sim, readings_of(sim.records())


@pytest.fixture(scope="module")
def quiet_day() -> list[AnyReading]:
    return readings_of(Simulation(load_scenario("quiet-day")).records())


@pytest.fixture(scope="module")
def index() -> ZoneIndex:
    return ZoneIndex(default_zones())


def episode(sim: Simulation, kind: str) -> Any:
    (found,) = [e for e in sim.episodes if e.type == kind]
    return found


# --- determinism ------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes() -> None:
    scenario = load_scenario("province-day").model_copy(update={"malformed": 0.03})
    first = digest(Simulation(scenario).records())
    assert digest(Simulation(scenario).records()) == first


def test_another_seed_or_start_gives_other_bytes() -> None:
    scenario = load_scenario("storm-da-lat")
    base = digest(Simulation(scenario).records())
    assert digest(Simulation(scenario.model_copy(update={"seed": 2})).records()) != base
    later = scenario.with_start(scenario.start + timedelta(days=1))
    assert digest(Simulation(later).records()) != base


# --- a quiet day is quiet, and looks like a day ------------------------------------------------


def test_a_quiet_day_stays_inside_normal_ranges(quiet_day: list[AnyReading]) -> None:
    readings = quiet_day
    env = [r for r in readings if isinstance(r, EnvironmentReading)]
    pm25 = [r.pm25 for r in env if r.pm25 is not None]
    assert max(pm25) < 35  # VN_AQI stays below 100 all day
    assert max(r.water_level_cm for r in env if r.water_level_cm is not None) < 100
    assert max(r.rain_mm_h or 0 for r in env) == 0
    traffic = [r for r in readings if isinstance(r, TrafficReading)]
    assert {r.event for r in traffic} <= {None, "red_light"}
    assert min(r.avg_speed_kmh for r in traffic if r.avg_speed_kmh is not None) > 15
    cameras = [r for r in readings if isinstance(r, CameraReading)]
    assert {r.analytic for r in cameras} <= {"crowd", "loitering"}
    assert all(r.confidence < 0.6 for r in cameras if r.analytic == "loitering")
    assert max(r.count or 0 for r in cameras) < 100


def test_traffic_peaks_in_the_morning_and_evening(quiet_day: list[AnyReading]) -> None:
    readings = quiet_day
    per_hour = [0] * 24
    for r in readings:
        if isinstance(r, TrafficReading) and r.vehicle_count is not None:
            per_hour[r.ts.astimezone(LOCAL).hour] += r.vehicle_count
    assert per_hour[7] > 4 * per_hour[3]
    assert per_hour[17] > 4 * per_hour[3]
    assert per_hour[7] > per_hour[10]


def test_the_highlands_are_cooler_than_the_lowlands(quiet_day: list[AnyReading]) -> None:
    readings = quiet_day
    noon = [
        r
        for r in readings
        if isinstance(r, EnvironmentReading)
        and r.temperature_c is not None
        and r.ts.astimezone(LOCAL).hour == 14
    ]
    da_lat = [r.temperature_c for r in noon if r.sensor_id.startswith("aq-da-lat")]
    da_teh = [r.temperature_c for r in noon if r.sensor_id.startswith("aq-da-teh")]
    assert da_lat
    assert da_teh
    assert max(t for t in da_lat if t is not None) + 5 < min(t for t in da_teh if t is not None)


def test_counted_sensors_lie_in_their_area(index: ZoneIndex) -> None:
    sim = Simulation(load_scenario("province-day"))
    counted = [s for s in sim.sensors if s.zone is None and s.id.split("-")[1] != "fire"]
    placement = index.locate([s.lat for s in counted], [s.lon for s in counted])
    for sensor, district in zip(counted, placement.district, strict=True):
        assert (district or "rest") == sensor.area, sensor.id


# --- episodes happen at their time and place -------------------------------------------------


def test_the_storm_floods_xuan_huong_at_14(index: ZoneIndex) -> None:
    sim = Simulation(load_scenario("storm-da-lat"))
    readings = readings_of(sim.records())
    gauge = [
        r
        for r in readings
        if isinstance(r, EnvironmentReading) and r.sensor_id == "wl-flood-ho-xuan-huong"
    ]
    placement = index.locate([gauge[0].lat], [gauge[0].lon])
    assert "flood-ho-xuan-huong" in placement.zone_ids(0)
    assert placement.district[0] == "da-lat"
    day = "2026-11-16"
    before = [r for r in gauge if r.ts < local(day, "14:00")]
    during = [r for r in gauge if local(day, "14:30") <= r.ts < local(day, "15:30")]
    assert before
    assert during
    assert max(r.water_level_cm or 0 for r in before) < 100
    assert max(r.rain_mm_h or 0 for r in before) == 0
    assert max(r.water_level_cm or 0 for r in during) > 150
    assert max(r.rain_mm_h or 0 for r in during) > 50
    # Rain and water rise together: the wettest hour is also the highest water.
    first_high = min(r.ts for r in gauge if (r.water_level_cm or 0) > 120)
    first_rain = min(r.ts for r in gauge if (r.rain_mm_h or 0) > 10)
    assert first_rain <= first_high <= first_rain + timedelta(minutes=45)


def test_the_accident_is_on_the_bao_loc_pass_in_the_morning_rush(
    province_day: tuple[Simulation, list[AnyReading]], index: ZoneIndex
) -> None:
    sim, readings = province_day
    plan = episode(sim, "accident")
    events = [r for r in readings if isinstance(r, TrafficReading) and r.event == "accident"]
    assert len(events) == 1
    (accident,) = events
    assert accident.ts == local("2026-11-16", "07:40")
    assert accident.plate == "49C-246.81"
    assert "đèo Bảo Lộc" in accident.road
    assert index.locate([accident.lat], [accident.lon]).district[0] == "bao-loc"
    assert accident.sensor_id in plan.sensors
    stalled = [
        r
        for r in readings
        if isinstance(r, TrafficReading)
        and r.sensor_id == accident.sensor_id
        and r.avg_speed_kmh is not None
        and local("2026-11-16", "07:50") <= r.ts < local("2026-11-16", "08:10")
    ]
    assert stalled
    assert max(r.avg_speed_kmh or 0 for r in stalled) < 20


def test_the_night_intruder_crosses_into_the_dam_site(
    province_day: tuple[Simulation, list[AnyReading]], index: ZoneIndex
) -> None:
    _, readings = province_day
    track = sorted(
        (r for r in readings if isinstance(r, CameraReading) and r.track_id == "trk-intruder-1"),
        key=lambda r: r.ts,
    )
    assert track[0].ts == local("2026-11-16", "23:40")
    placement = index.locate([r.lat for r in track], [r.lon for r in track])
    inside = ["restricted-dai-ninh-dam" in placement.zone_ids(i) for i in range(len(track))]
    # Outside, then inside for a while, then outside again: an enter and an exit.
    assert not inside[0]
    assert not inside[-1]
    assert sum(inside) >= len(track) // 2
    assert all(r.analytic == "intrusion" for r, i in zip(track, inside, strict=True) if i)
    zone = default_zones().get("restricted-dai-ninh-dam")
    first_in = track[inside.index(True)]
    assert zone.active_at(first_in.ts)  # inside the 22:00–05:00 watch


def test_pm25_rises_over_bao_loc_in_the_evening_only(
    province_day: tuple[Simulation, list[AnyReading]],
) -> None:
    sim, readings = province_day
    stations = set(episode(sim, "air_pollution").sensors)
    assert stations
    pm = [
        (r.ts, r.pm25)
        for r in readings
        if isinstance(r, EnvironmentReading) and r.sensor_id in stations and r.pm25 is not None
    ]
    day = "2026-11-16"
    assert max(v for t, v in pm if t < local(day, "18:00")) < 35
    assert min(v for t, v in pm if local(day, "19:00") <= t < local(day, "20:00")) > 100
    others = [
        r.pm25
        for r in readings
        if isinstance(r, EnvironmentReading)
        and r.pm25 is not None
        and r.sensor_id not in stations
        and not r.sensor_id.startswith("aq-fire")
    ]
    assert max(v for v in others if v is not None) < 35


def test_the_silent_station_sends_nothing_for_two_hours(
    province_day: tuple[Simulation, list[AnyReading]],
) -> None:
    sim, readings = province_day
    (station,) = episode(sim, "silence").sensors
    times = sorted(r.ts for r in readings if r.sensor_id == station)
    gaps = [(b - a) for a, b in itertools.pairwise(times)]
    assert max(gaps) == timedelta(hours=2, minutes=1)
    assert all(g == timedelta(minutes=1) for g in gaps if g != max(gaps))
    assert not [
        t for t in times if local("2026-11-16", "10:00") <= t < local("2026-11-16", "12:00")
    ]


def test_fire_smoke_on_camera_and_heat_within_300_m(
    province_day: tuple[Simulation, list[AnyReading]],
) -> None:
    sim, readings = province_day
    camera_id, station_id = episode(sim, "fire").sensors
    smoke = [r for r in readings if isinstance(r, CameraReading) and r.analytic == "fire_smoke"]
    assert smoke
    assert {r.sensor_id for r in smoke} == {camera_id}
    heat = [r for r in readings if isinstance(r, EnvironmentReading) and r.sensor_id == station_id]
    assert distance_m((smoke[0].lat, smoke[0].lon), (heat[0].lat, heat[0].lon)) <= 300
    hot = [r for r in heat if (r.temperature_c or 0) > 35]
    assert hot
    assert all(local("2026-11-16", "13:00") <= r.ts < local("2026-11-16", "13:40") for r in hot)
    assert min(r.ts for r in smoke) - min(r.ts for r in hot) < timedelta(minutes=10)


def test_every_episode_leaves_its_trace(province_day: tuple[Simulation, list[AnyReading]]) -> None:
    sim, readings = province_day
    by_kind = {
        "plate_match": [r for r in readings if isinstance(r, CameraReading) and r.plate],
        "wrong_way": [
            r for r in readings if isinstance(r, TrafficReading) and r.event == "wrong_way"
        ],
        "detection": [
            r for r in readings if isinstance(r, CameraReading) and r.analytic == "abandoned_object"
        ],
    }
    for kind, found in by_kind.items():
        plan = episode(sim, kind)
        assert found, kind
        assert {r.sensor_id for r in found} <= set(plan.sensors)
        assert min(r.ts for r in found) == plan.start
    congested = [
        r
        for r in readings
        if isinstance(r, TrafficReading)
        and r.sensor_id in episode(sim, "congestion").sensors
        and r.avg_speed_kmh is not None
        and local("2026-11-16", "17:20") <= r.ts < local("2026-11-16", "17:50")
    ]
    assert congested
    assert max(r.avg_speed_kmh or 0 for r in congested) < 20


def test_a_scenario_moved_in_time_moves_its_episodes() -> None:
    scenario = load_scenario("demo")
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    moved = scenario.with_start(now)
    offsets = [scenario.episode_start(e) - scenario.start for e in scenario.episodes]
    assert [moved.episode_start(e) - now for e in moved.episodes] == offsets
    assert start_for(True, scenario, now) + scenario.duration == now
    assert start_for(False, scenario, now) == now


# --- batching and broken input ---------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 50])
def test_sources_batch_like_gateways(size: int) -> None:
    scenario = load_scenario("storm-da-lat")
    scenario = Scenario.model_validate(
        {**scenario.model_dump(), "batch": {"size": size, "linger": "10s"}}
    )
    records = list(Simulation(scenario).records())
    assert [r.ts for r in records] == sorted(r.ts for r in records)
    for record in records:
        value = orjson.loads(record.value)
        if size == 1:
            assert "readings" not in value
            assert value["source_id"] == record.key.decode()
            continue
        assert value["source_id"] == record.key.decode()
        assert 1 <= len(value["readings"]) <= size
        first = datetime.fromisoformat(value["readings"][0]["ts"])
        assert record.ts - first.timestamp() * 1000 <= 10_000
        assert {r["source_id"] for r in value["readings"]} == {value["source_id"]}
        assert record.topic == f"sensors.{value['readings'][0]['kind']}"


def test_broken_messages_each_make_one_dead_letter() -> None:
    scenario = load_scenario("demo").model_copy(update={"malformed": 0.05})
    sim = Simulation(scenario)
    decoder = Decoder(clock=lambda: FAR_FUTURE)
    rejections, categories = 0, set()
    for record in sim.records():
        decoded = decoder.decode(record.value)
        rejections += len(decoded.rejections)
        categories |= {r.category for r in decoded.rejections}
    assert sim.stats.malformed > 100
    assert rejections == sim.stats.malformed
    assert {"json_invalid", "missing", "unknown_kind", "timezone_aware"} <= categories


def test_without_malformed_share_nothing_is_broken() -> None:
    sim = Simulation(load_scenario("demo").model_copy(update={"malformed": 0.0}))
    assert readings_of(sim.records())
    assert sim.stats.malformed == 0


# --- scenario files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("episodes: [{type: accident, road: ql99, at: '07:00'}]", "unknown road 'ql99'"),
        ("episodes: [{type: silence, district: hanoi, at: '07:00'}]", "unknown district"),
        ("episodes: [{type: tsunami, at: '07:00'}]", "episodes.0"),
        ("malformed: 1.5", "malformed"),
        ("interval: 2d", "interval"),
        ("colour: red", "colour"),
    ],
)
def test_bad_scenarios_are_explained(extra: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as caught:
        parse_scenario(TINY_SCENARIO + extra, "my.yaml")
    assert str(caught.value).startswith("my.yaml: invalid scenario")


def test_a_start_without_zone_is_refused() -> None:
    with pytest.raises(ScenarioError, match="start needs a zone"):
        parse_scenario(TINY_SCENARIO.replace("+07:00", ""), "my.yaml")


def test_an_episode_in_an_unknown_zone_is_explained() -> None:
    scenario = parse_scenario(
        TINY_SCENARIO + "episodes: [{type: storm, zone: nowhere, at: '07:00'}]", "s"
    )
    with pytest.raises(EpisodeError, match=r"no zone 'nowhere'.*flood-ho-xuan-huong"):
        Simulation(scenario)


def test_every_road_runs_through_the_province(index: ZoneIndex) -> None:
    for road in ROADS:
        placement = index.locate([p[0] for p in road.points], [p[1] for p in road.points])
        assert all("lam-dong" in placement.zone_ids(i) for i in range(len(road.points))), road.id
