"""The rule engine, pure: every rule kind, window edges, lateness, hold, cooldown, schedules,
geofence tracks across zones, correlation in metres, and the shipped pack over scenarios."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ioc.geo import ZoneIndex, default_zones, parse_zones
from ioc.geo.distance import offset_m
from ioc.rules.duplicates import DEPTH, entry_of, repeated
from ioc.rules.engine import Engine, EngineState
from ioc.rules.loader import RuleError, default_rules, parse_rules
from ioc.rules.offline import run
from ioc.rules.values import Placed
from ioc.schemas import Decoder
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import CameraReading, EnvironmentReading, TrafficReading
from simulators.generate import Simulation
from simulators.scenario import load_scenario
from tests.harness.scenario import PRIMARY
from tests.harness.zones import box, collection, feature

T0 = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # 07:00 in Đà Lạt
TITLE = "title: {vi: t, en: t}\n  severity: moderate\n  category: Env\n"


def rules(body: str) -> Engine:
    return Engine(parse_rules(body, "test.yaml"))


def env(minute: float, sensor: str = "aq-1", **values: float) -> Placed:
    reading = EnvironmentReading(
        kind="environment",
        sensor_id=sensor,
        source_id="st-1",
        ts=T0 + timedelta(minutes=minute),
        lat=11.94,
        lon=108.44,
        **values,
    )
    return Placed(reading, "da-lat")


def feed(engine: Engine, *batches: list[Placed]) -> tuple[EngineState | None, list[Alert]]:
    state: EngineState | None = None
    alerts: list[Alert] = []
    for batch in batches:
        state, raised = engine.evaluate(state, batch)
        alerts.extend(raised)
    return state, alerts


def fired(alerts: list[Alert]) -> list[tuple[str, float]]:
    return [(a.status, (a.event_time - T0).total_seconds() / 60) for a in alerts]


# --- threshold, hold, cooldown, clear ---------------------------------------------------------


def test_threshold_fires_and_resolves() -> None:
    engine = rules(f"- id: r\n  field: pm25\n  condition: '> 50'\n  {TITLE}")
    _, alerts = feed(engine, [env(0, pm25=10), env(1, pm25=60), env(2, pm25=70), env(3, pm25=20)])
    assert fired(alerts) == [("firing", 1), ("resolved", 3)]
    assert alerts[0].alert_id == alerts[1].alert_id  # the same alert, resolved
    assert alerts[0].evidence[0].value == 60


def test_for_holds_before_firing() -> None:
    engine = rules(f"- id: r\n  field: pm25\n  condition: '> 50'\n  for: 5m\n  {TITLE}")
    readings = [env(m, pm25=60) for m in range(0, 7)]
    _, alerts = feed(engine, readings)
    assert fired(alerts) == [("firing", 5)]
    # A dip resets the hold.
    _, alerts = feed(engine, [env(0, pm25=60), env(3, pm25=10), env(4, pm25=60), env(8, pm25=60)])
    assert fired(alerts) == []


def test_cooldown_suppresses_a_repeat_for_the_same_subject() -> None:
    engine = rules(f"- id: r\n  field: pm25\n  condition: '> 50'\n  cooldown: 30m\n  {TITLE}")
    seq = [env(0, pm25=60), env(1, pm25=10), env(10, pm25=60), env(11, pm25=10), env(40, pm25=60)]
    _, alerts = feed(engine, seq)
    assert fired(alerts) == [("firing", 0), ("resolved", 1), ("firing", 40)]
    # Another sensor is another subject: not held back by the first one's cooldown.
    _, alerts = feed(engine, [env(0, pm25=60), env(1, "aq-2", pm25=60)])
    assert len(alerts) == 2


def test_clear_condition_is_hysteresis() -> None:
    engine = rules(
        f"- id: r\n  field: pm25\n  condition: '> 50'\n  clear: {{condition: '< 40', after: 2m}}\n"
        f"  {TITLE}"
    )
    seq = [
        env(0, pm25=60),
        env(1, pm25=45),
        env(2, pm25=45),
        env(3, pm25=30),
        env(4, pm25=30),
        env(5, pm25=30),
    ]
    _, alerts = feed(engine, seq)
    assert fired(alerts) == [("firing", 0), ("resolved", 5)]


def test_an_event_resolves_where_it_was_raised_after_a_quiet_period() -> None:
    engine = rules(
        "- id: acc\n  when: {kind: traffic, event: accident}\n  field: event\n"
        "  condition: '== 1'\n  clear: {after: 30m}\n  " + TITLE
    )
    crash = TrafficReading(
        kind="traffic",
        sensor_id="trf-1",
        source_id="gw-1",
        ts=T0,
        lat=11.51,
        lon=107.75,
        road="QL20",
        event="accident",
        plate="49A-123.45",
    )
    before = crash.model_copy(update={"ts": T0 - timedelta(minutes=5), "event": None})
    # The state has been looked at once before (and had nothing due): the accident makes its
    # resolution due.
    _, alerts = feed(
        engine, [Placed(before, "bao-loc")], [Placed(crash, "bao-loc")], [env(40, pm25=1)]
    )
    assert fired(alerts) == [("firing", 0), ("resolved", 40)]
    assert {(a.lat, a.lon, a.district) for a in alerts} == {(11.51, 107.75, "bao-loc")}


def test_an_implausible_value_is_not_used_and_is_counted() -> None:
    engine = rules(f"- id: r\n  field: temperature_c\n  condition: '> 40'\n  {TITLE}")
    state, alerts = feed(engine, [env(0, temperature_c=75)])
    assert alerts == []
    assert state is not None
    assert state["counters"]["implausible"] == 1


def test_a_stale_reading_downgrades_its_alert_and_says_so() -> None:
    engine = rules(f"- id: r\n  field: pm25\n  condition: '> 50'\n  {TITLE}")
    _, alerts = feed(engine, [env(30, "aq-2", pm25=10), env(0, pm25=60)])
    (alert,) = alerts
    assert alert.severity == "minor"
    assert alert.health is not None
    assert "30 min behind" in alert.health


# --- windows ----------------------------------------------------------------------------------

TUMBLING = (
    "- id: w\n  window: {{type: tumbling, size: 10m, agg: {agg}, field: pm25, grace: {grace}}}\n"
    "  condition: '{cond}'\n  "
)


def test_a_reading_on_a_boundary_belongs_to_the_next_window() -> None:
    engine = rules(TUMBLING.format(agg="count", grace="0s", cond=">= 2") + TITLE)
    # 00:00 and 00:09:59 in [0, 10); 00:10 exactly opens [10, 20).
    _, alerts = feed(engine, [env(0, pm25=1), env(9.99, pm25=1), env(10, pm25=1), env(25, pm25=1)])
    assert fired(alerts) == [("firing", 10), ("resolved", 20)]


def test_tumbling_mean_closes_after_the_grace() -> None:
    engine = rules(TUMBLING.format(agg="mean", grace="2m", cond="> 50") + TITLE)
    _, alerts = feed(engine, [env(1, pm25=60), env(5, pm25=50), env(11, pm25=10)])
    assert alerts == []  # the window [0, 10) waits for its grace until 12:00
    _, alerts = feed(engine, [env(1, pm25=60), env(5, pm25=50), env(11, pm25=10), env(12, pm25=1)])
    assert fired(alerts) == [("firing", 10)]
    assert alerts[0].evidence[0].value == 55


def test_late_within_grace_counts_and_beyond_grace_is_counted_not_applied() -> None:
    engine = rules(TUMBLING.format(agg="max", grace="2m", cond="> 50") + TITLE)
    # 00:09 arrives after 00:11 (within grace): it still counts in [0, 10).
    _, alerts = feed(engine, [env(1, pm25=10), env(11, pm25=10), env(9, pm25=90), env(13, pm25=1)])
    assert fired(alerts) == [("firing", 10)]
    # 00:09 arriving after 00:13 is beyond the grace: not applied, counted.
    state, alerts = feed(
        engine, [env(1, pm25=10), env(11, pm25=10), env(13, pm25=1), env(9, pm25=90)]
    )
    assert alerts == []
    assert state is not None
    assert state["counters"]["late_readings"] == 1


def test_hopping_windows_overlap() -> None:
    engine = rules(
        "- id: h\n  window: {type: hopping, size: 10m, hop: 5m, agg: sum, field: rain_mm_h,"
        " grace: 0s}\n  condition: '>= 10'\n  " + TITLE
    )
    # 6 mm at 00:07 is in [0, 10) and [5, 15); 4 mm at 00:12 only in [5, 15) and [10, 20).
    _, alerts = feed(engine, [env(7, rain_mm_h=6), env(12, rain_mm_h=4), env(30, rain_mm_h=0)])
    assert fired(alerts) == [("firing", 15), ("resolved", 20)]


def test_sliding_window_evaluates_at_each_reading() -> None:
    engine = rules(
        "- id: s\n  window: {type: sliding, size: 3m, agg: mean, field: pm25}\n"
        "  condition: '> 50'\n  " + TITLE
    )
    seq = [env(0, pm25=40), env(1, pm25=70), env(2, pm25=60), env(5, pm25=10)]
    _, alerts = feed(engine, seq)
    assert fired(alerts) == [("firing", 1), ("resolved", 5)]


def test_a_window_survives_a_restart_through_its_plain_state() -> None:
    import orjson

    engine = rules(TUMBLING.format(agg="count", grace="0s", cond=">= 3") + TITLE)
    state, alerts = engine.evaluate(None, [env(0, pm25=1), env(3, pm25=1)])
    restored = orjson.loads(orjson.dumps(state))  # what a changelog gives back
    state, alerts = Engine(engine.ruleset).evaluate(restored, [env(6, pm25=1), env(10, pm25=1)])
    assert fired(alerts) == [("firing", 10)]


def sliding(rule_id: str, size: str, agg: str, cond: str, hold: str, clear: str) -> str:
    return (
        f"- id: {rule_id}\n  window: {{type: sliding, size: {size}, agg: {agg}, field: pm25,"
        f" grace: 2m}}\n  condition: '{cond}'\n  for: {hold}\n  clear: {{condition: '{clear}'}}"
        f"\n  {TITLE}"
    )


SHARED_PAIR = sliding("poor", "10m", "mean", "> 100", "2m", "<= 90") + sliding(
    "bad", "10m", "max", "> 150", "0s", "<= 140"
)


def _jumbled(seed: int) -> list[list[Placed]]:
    """Two hours of three stations in batches, some readings out of order, some late."""
    rng = random.Random(seed)
    readings = [
        env(m / 2 + rng.uniform(-1.5, 0.2), f"aq-{n}", pm25=rng.choice([20, 95, 120, 160, 210]))
        for m in range(240)
        for n in range(3)
        if rng.random() < 0.9
    ]
    cuts = sorted(rng.sample(range(1, len(readings)), 40))
    return [readings[a:b] for a, b in zip([0, *cuts], [*cuts, len(readings)], strict=True)]


@pytest.mark.parametrize("seed", range(5))
def test_sliding_windows_over_the_same_readings_share_rows_and_decide_as_if_alone(
    seed: int,
) -> None:
    batches = _jumbled(seed)
    state, together = feed(rules(SHARED_PAIR), *batches)
    alone = [
        alert
        for body in SHARED_PAIR.split("- id: ")[1:]
        for alert in feed(rules("- id: " + body), *batches)[1]
    ]
    assert together  # the data is meant to raise alerts of both rules
    assert {a.rule_id for a in together} == {"poor", "bad"}

    def key(a: Alert) -> tuple[object, ...]:
        return (a.rule_id, a.subject, a.status, a.event_time, [e.value for e in a.evidence])

    assert sorted(map(key, together)) == sorted(map(key, alone))
    assert state is not None
    assert len(state["rows"]) == 1  # one set of rows for both rules
    (rows,) = state["rows"].values()
    assert set(rows) == {"aq-0", "aq-1", "aq-2"}
    assert all("b" not in entry for r in state["rules"].values() for entry in r.values())


def test_sliding_windows_over_other_readings_keep_their_own_rows() -> None:
    body = sliding("short", "5m", "mean", "> 100", "0s", "<= 90") + sliding(
        "long", "10m", "mean", "> 100", "0s", "<= 90"
    )
    state, _ = feed(rules(body), [env(m, pm25=120) for m in range(12)])
    assert state is not None
    assert len(state["rows"]) == 2
    short, long_ = (rows["aq-1"] for rows in state["rows"].values())
    assert sorted([len(short), len(long_)]) == [7, 12]  # rows newer than size plus grace


def test_rows_no_rule_uses_any_more_are_dropped() -> None:
    state, _ = feed(rules(SHARED_PAIR), [env(m, pm25=120) for m in range(5)])
    changed = SHARED_PAIR.replace("size: 10m", "size: 20m")
    state, _ = feed_from(rules(changed), state, [env(6, pm25=120)])
    assert len(state["rows"]) == 1
    (rows,) = state["rows"].values()
    assert [row[1] for row in rows["aq-1"]] == [120]  # a new window: its rows start afresh


def test_a_state_of_the_previous_layout_starts_afresh_even_under_the_same_rules() -> None:
    engine = rules(SHARED_PAIR)
    state, _ = feed(engine, [env(m, pm25=120) for m in range(5)])
    assert state is not None
    old = {**state, "format": 2}
    del old["rows"]
    old["rules"] = {"poor": {"aq-1": {"b": [[0.0, 120.0, 0]], "status": {}}}}
    state, _ = feed_from(engine, old, [env(6, pm25=120)])
    assert "b" not in state["rules"]["poor"]["aq-1"]
    (rows,) = state["rows"].values()
    assert len(rows["aq-1"]) == 1


def feed_from(
    engine: Engine, state: EngineState | None, *batches: list[Placed]
) -> tuple[EngineState, list[Alert]]:
    alerts: list[Alert] = []
    for batch in batches:
        state, raised = engine.evaluate(state, batch)
        alerts.extend(raised)
    assert state is not None
    return state, alerts


# --- absence and rate of change -----------------------------------------------------------


def test_a_silent_sensor_goes_offline_and_comes_back() -> None:
    engine = rules(f"- id: a\n  type: absence\n  after: 10m\n  {TITLE}")
    _, alerts = feed(
        engine,
        [env(0, pm25=1), env(1, "aq-2", pm25=1)],
        [env(9, "aq-2", pm25=1), env(18, "aq-2", pm25=1)],
        [env(25, pm25=1)],
    )
    assert [(a.status, a.subject) for a in alerts] == [
        ("firing", "aq-1"),
        ("resolved", "aq-1"),
    ]
    assert (alerts[0].event_time - T0) == timedelta(minutes=10)
    # Also when the whole gap falls inside one batch.
    _, alerts = feed(engine, [env(0, pm25=1), env(25, pm25=1)])
    assert fired(alerts) == [("firing", 10), ("resolved", 25)]


def test_water_rising_20_cm_in_10_minutes() -> None:
    engine = rules(
        "- id: rise\n  type: rate_of_change\n  field: water_level_cm\n  change: '> 20'\n"
        "  over: 10m\n  " + TITLE
    )
    slow = [env(m, water_level_cm=50 + m) for m in range(0, 30, 2)]
    assert feed(engine, slow)[1] == []
    fast = [env(m, water_level_cm=50 + 3 * m) for m in range(0, 12, 2)]
    assert fired(feed(engine, fast)[1]) == [("firing", 8)]


# --- geofence ---------------------------------------------------------------------------------


def two_zones(schedule: str = "") -> ZoneIndex:
    sched = {"start": "22:00", "end": "05:00"} if schedule else None
    return ZoneIndex(
        parse_zones(
            collection(
                feature(
                    "zone-a",
                    kind="restricted",
                    geometry=box(108.40, 11.90, 108.41, 11.91),
                    schedule=sched,
                ),
                feature("zone-b", kind="restricted", geometry=box(108.41, 11.90, 108.42, 11.91)),
            )
        )
    )


def cam(index: ZoneIndex, when: datetime, lon: float, track: str = "trk-1") -> Placed:
    reading = CameraReading(
        kind="camera",
        sensor_id="cam-1",
        source_id="nvr-1",
        ts=when,
        lat=11.905,
        lon=lon,
        analytic="intrusion",
        confidence=0.9,
        track_id=track,
    )
    district, zones = index.locate_one(reading.lat, reading.lon)
    return Placed(reading, district, tuple(zones))


GEOFENCE = "- id: g\n  type: geofence\n  event: {event}\n  when: {{zone_kind: restricted}}\n  "


def test_a_track_crossing_two_zones_enters_and_exits_each() -> None:
    index = two_zones()
    path = [108.395, 108.405, 108.415, 108.425]  # outside → a → b → outside
    track = [cam(index, T0 + timedelta(minutes=i), lon) for i, lon in enumerate(path)]
    _, entered = feed(rules(GEOFENCE.format(event="enter") + TITLE), track)
    _, left = feed(rules(GEOFENCE.format(event="exit") + TITLE), track)
    assert [(a.subject, a.event_time) for a in entered] == [
        ("track_id:trk-1@zone-a", track[1].ts),
        ("track_id:trk-1@zone-b", track[2].ts),
    ]
    assert [a.subject for a in left] == ["track_id:trk-1@zone-a", "track_id:trk-1@zone-b"]


def test_dwell_needs_the_time_inside() -> None:
    index = two_zones()
    engine = rules(GEOFENCE.format(event="dwell") + TITLE + "  dwell: 5m\n")
    stay = [cam(index, T0 + timedelta(minutes=m), 108.405) for m in (0, 2, 4, 6, 8)]
    _, alerts = feed(engine, [*stay, cam(index, T0 + timedelta(minutes=9), 108.395)])
    assert [a.status for a in alerts] == ["firing", "resolved"]
    assert alerts[0].event_time == T0 + timedelta(minutes=6)


@pytest.mark.parametrize(
    ("local", "active"), [("21:59", False), ("23:30", True), ("04:59", True), ("05:00", False)]
)
def test_a_scheduled_zone_counts_only_in_its_hours_across_midnight(
    local: str, active: bool
) -> None:
    index = two_zones(schedule="night")
    hh, mm = map(int, local.split(":"))
    # Local time Asia/Ho_Chi_Minh is UTC+7.
    when = datetime(2026, 11, 16, hh, mm, tzinfo=UTC) - timedelta(hours=7)
    outside, inside = cam(index, when - timedelta(seconds=10), 108.395), cam(index, when, 108.405)
    _, alerts = feed(rules(GEOFENCE.format(event="enter") + TITLE), [outside, inside])
    assert bool(alerts) is active


# --- correlation ------------------------------------------------------------------------------

CORRELATION = """
- id: smoke
  when: {kind: camera, analytic: fire_smoke}
  field: analytic
  condition: "== 1"
  title: {vi: k, en: smoke}
  severity: severe
  category: Fire
- id: heat
  field: temperature_c
  condition: "> 35"
  title: {vi: n, en: heat}
  severity: moderate
  category: Fire
- id: fire
  type: correlation
  rules: [smoke, heat]
  within: 5m
  radius_m: 300
  title: {vi: c, en: fire}
  severity: extreme
  category: Fire
"""


def smoke_and_heat(distance_m: float, minutes_apart: float) -> list[Placed]:
    here = (11.94, 108.44)
    there = offset_m(here, 0, distance_m)  # due east: longitude degrees shrink with latitude
    smoke = CameraReading(
        kind="camera",
        sensor_id="cam-1",
        source_id="nvr-1",
        ts=T0,
        lat=here[0],
        lon=here[1],
        analytic="fire_smoke",
        confidence=0.9,
    )
    heat = EnvironmentReading(
        kind="environment",
        sensor_id="aq-9",
        source_id="st-9",
        ts=T0 + timedelta(minutes=minutes_apart),
        lat=there[0],
        lon=there[1],
        temperature_c=45.0,
    )
    return [Placed(smoke, "da-lat"), Placed(heat, "da-lat")]


@pytest.mark.parametrize(
    ("distance", "apart", "expected"),
    [(250, 2, True), (350, 2, False), (250, 6, False), (290, 4.9, True)],
)
def test_correlation_radius_is_in_metres(distance: float, apart: float, expected: bool) -> None:
    _, alerts = feed(rules(CORRELATION), smoke_and_heat(distance, apart))
    composite = [a for a in alerts if a.rule_id == "fire"]
    assert bool(composite) is expected
    if composite:
        assert composite[0].severity == "extreme"
        assert {e.field for e in composite[0].evidence} == {"alert:smoke", "alert:heat"}


# --- rule files -------------------------------------------------------------------------------


def test_errors_name_file_line_rule_and_field() -> None:
    text = (
        "- id: ok\n  field: pm25\n  condition: '> 1'\n  "
        + TITLE
        + "- id: broken\n  window: {type: hopping, size: 10m, agg: mean, field: pm2.5}\n"
        "  condition: 55\n  " + TITLE
    )
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "pack.yaml")
    problems = caught.value.problems
    assert any(
        p.startswith("pack.yaml:8: rule broken: window.field: unknown field") for p in problems
    )
    assert any(
        p.startswith("pack.yaml:9: rule broken: condition:") and "write the operator" in p
        for p in problems
    )


def test_a_rule_of_no_kind_names_the_key_that_was_probably_misspelt() -> None:
    text = (
        "- id: too-loud\n  treshold: {field: noise_db}\n  "
        + TITLE
        + "- id: w\n  windw: {type: tumbling, size: 10m, agg: count, field: pm25}\n"
        "  condition: '> 3'\n  " + TITLE
    )
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "pack.yaml")
    first, second = caught.value.problems
    assert "rule too-loud" in first
    assert "no kind of rule has the key 'treshold' (did you mean 'type: threshold'?)" in first
    assert "rule w" in second
    assert "'windw' (did you mean 'window'?)" in second


def test_the_shipped_pack_is_valid() -> None:
    pack = default_rules()
    kinds = Counter(r.type for r in pack.rules)
    assert set(kinds) == {
        "threshold",
        "window",
        "geofence",
        "absence",
        "rate_of_change",
        "correlation",
    }


# --- the shipped pack over the shipped scenarios -------------------------------------------


def alerts_for(name: str) -> list[Alert]:
    records = Simulation(load_scenario(name)).records()
    decoder = Decoder(clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))
    return list(
        run(
            default_rules(),
            default_zones(),
            ((r.value, r.topic, None, None) for r in records),
            decoder,
        )
    )


def test_a_quiet_day_raises_nothing() -> None:
    assert alerts_for("quiet-day") == []


def test_the_demo_raises_what_it_injects_and_nothing_else() -> None:
    sim = Simulation(load_scenario("demo"))
    alerts = [a for a in alerts_for("demo") if a.status == "firing"]
    for episode in sim.episodes:
        rule = PRIMARY[episode.type]
        found = [
            a
            for a in alerts
            if a.rule_id == rule
            and episode.start <= a.event_time <= episode.end + timedelta(minutes=30)
            and any(e.sensor_id in episode.sensors for e in a.evidence)
        ]
        assert found, f"{episode.type}: no {rule} alert from {episode.sensors}"
    # Nothing fires away from the episodes, in time or in place.
    for alert in alerts:
        assert any(
            e.start <= alert.event_time <= e.end + timedelta(hours=1)
            and {ev.sensor_id for ev in alert.evidence} & set(e.sensors)
            for e in sim.episodes
        ), (alert.rule_id, alert.subject)


# --- the watermark pass skips states with nothing due -----------------------------------------


def _demo_placed() -> list[Placed]:
    records = Simulation(load_scenario("demo")).records()
    decoder = Decoder(clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))
    index = ZoneIndex(default_zones())
    readings = [r for record in records for r in decoder.decode(record.value).readings]
    placement = index.locate([r.lat for r in readings], [r.lon for r in readings])
    return [
        Placed(r, placement.district[i], tuple(placement.zones_of(i)), "t", 0, i)
        for i, r in enumerate(readings)
    ]


@pytest.mark.parametrize("seed", range(3))
def test_skipping_quiet_states_raises_what_looking_at_every_state_raises(seed: int) -> None:
    """Per source, in random batches, some readings out of order, the watermark pushed forward
    between batches as the worker's sweep does: the same alerts and states as the reference
    engine that runs the watermark pass over every rule of every state every time."""
    rng = random.Random(seed)
    placed = _demo_placed()
    # Sources falling silent for a while, some more than once: windows all closed, silences
    # raised, events left to resolve alone, then readings again.
    start, end = placed[0].reading.ts.timestamp(), placed[-1].reading.ts.timestamp()
    gaps: dict[str, list[tuple[float, float]]] = {}
    for source in sorted({p.reading.source_id for p in placed}):
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                t = rng.uniform(start, end)
                gaps.setdefault(source, []).append((t, t + rng.uniform(900, 5400)))
    placed = [
        p
        for p in placed
        if not any(a <= p.reading.ts.timestamp() < b for a, b in gaps.get(p.reading.source_id, ()))
    ]
    cuts = sorted(rng.sample(range(1, len(placed)), len(placed) // 400))
    batches = [placed[a:b] for a, b in zip([0, *cuts], [*cuts, len(placed)], strict=True)]
    for batch in batches:
        for _ in range(len(batch) // 20):
            i, j = rng.randrange(len(batch)), rng.randrange(len(batch))
            batch[i], batch[j] = batch[j], batch[i]
    skipping = Engine(default_rules(), "z")
    reference = Engine(default_rules(), "z", skip_quiet=False)
    results = []
    for engine in (skipping, reference):
        states: dict[str, EngineState] = {}
        alerts: list[dict[str, object]] = []
        pushes = random.Random(seed)
        for batch in batches:
            by_source: dict[str, list[Placed]] = {}
            for one in batch:
                by_source.setdefault(one.reading.source_id, []).append(one)
            for source, readings in by_source.items():
                states[source], raised = engine.evaluate(states.get(source), readings)
                alerts.extend(a.model_dump() for a in raised)
            if pushes.random() < 0.3:  # quiet sources pushed to the latest watermark
                latest = max(s["watermark"] for s in states.values())
                for source, state in states.items():
                    until = datetime.fromtimestamp(latest + pushes.uniform(-600, 0), UTC)
                    states[source], raised = engine.advance(state, until)
                    alerts.extend(a.model_dump() for a in raised)
        kept = {k: _strip_wake(s) for k, s in states.items()}
        results.append((alerts, kept))
    (alerts, states), (reference_alerts, reference_states) = results
    assert len({a["rule_id"] for a in alerts}) >= 5
    assert alerts == reference_alerts
    assert states == reference_states


def _fuzz_rules(rng: random.Random) -> str:
    def pick(*choices: str) -> str:
        return rng.choice(choices)

    geofence = pick("event: enter", "event: exit", "event: inside", "event: dwell\n  dwell: 4m")
    return f"""
- id: thr
  field: pm25
  condition: '> 50'
  for: {pick("0s", "3m")}
  cooldown: {pick("0s", "5m")}
  clear: {{after: {pick("0s", "4m")}}}
  {TITLE}- id: ab
  type: absence
  after: {pick("5m", "10m")}
  for: {pick("0s", "0s", "3m")}
  cooldown: {pick("0s", "0s", "20m")}
  clear: {{after: {pick("0s", "0s", "2m")}}}
  {TITLE}- id: tw
  window: {{type: tumbling, size: {pick("5m", "10m")}, field: pm25, agg: mean,
            grace: {pick("0s", "1m", "2m")}}}
  condition: '> 40'
  {TITLE}- id: hw
  window: {{type: hopping, size: 10m, hop: {pick("3m", "4m", "7m", "10m")}, field: pm10,
            agg: max}}
  condition: '> 60'
  for: {pick("0s", "5m")}
  {TITLE}- id: sw
  window: {{type: sliding, size: 6m, field: pm25, agg: mean}}
  condition: '> 45'
  {TITLE}- id: acc
  field: event
  condition: '== 1'
  when: {{kind: traffic, event: [accident, wrong_way]}}
  cooldown: {pick("0s", "3m")}
  clear: {{after: {pick("0s", "5m", "10m")}}}
  {TITLE}- id: gf
  type: geofence
  {geofence}
  expire: {pick("5m", "12m")}
  when: {{kind: camera, zone_kind: restricted, analytic: [intrusion, loitering]}}
  {TITLE}- id: ab2
  type: absence
  after: 7m
  when: {{kind: camera}}
  {TITLE}"""


def _fuzz_readings(rng: random.Random, index: ZoneIndex) -> list[tuple[str, Placed]]:
    """Four hours of two stations, a traffic camera and two security cameras of one source:
    gaps, equal times, readings out of order and sent twice. (state key, reading) pairs."""

    def reading(t: float, sensor: str) -> tuple[str, Placed]:
        ts = T0 + timedelta(seconds=t)
        common = {"sensor_id": sensor, "ts": ts, "lat": 11.905}
        one: EnvironmentReading | TrafficReading | CameraReading
        if sensor.startswith("aq"):
            one = EnvironmentReading(
                kind="environment",
                source_id="st",
                lon=108.44,
                pm25=rng.uniform(0, 100),
                pm10=rng.uniform(0, 120),
                **common,
            )
        elif sensor.startswith("trf"):
            event = rng.choice([None, "accident", "wrong_way", "red_light"])
            one = TrafficReading(
                kind="traffic",
                source_id="gw",
                lon=108.44,
                road="QL20",
                event=event,
                vehicle_count=3,
                **common,
            )
        else:
            analytic = rng.choice(["intrusion", "loitering", "crowd"])
            one = CameraReading(
                kind="camera",
                source_id="cams",
                lon=rng.choice([108.405, 108.415, 108.43]),
                analytic=analytic,
                confidence=0.9,
                track_id=rng.choice(["t1", "t2", "t3"]),
                **common,
            )
        district, zones = index.locate_one(one.lat, one.lon)
        return ("cams" if one.kind == "camera" else sensor), Placed(one, district, tuple(zones))

    times: list[tuple[float, str]] = []
    for sensor in ("aq-1", "aq-2", "trf-1", "cam-1", "cam-2"):
        t = rng.uniform(0, 60)
        while t < 4 * 3600:
            times.append((t, sensor))
            t += rng.choice([30, 60, 60, 90, 120, 900, 1500]) * rng.uniform(0.5, 1.5)
            if rng.random() < 0.05:
                t = round(t)
    times.sort()
    for _ in range(len(times) // 15):
        a = rng.randrange(len(times))
        b = min(len(times) - 1, a + rng.randint(1, 5))
        times[a], times[b] = times[b], times[a]
    for _ in range(len(times) // 30):
        a = rng.randrange(len(times))
        times.insert(min(len(times), a + rng.randint(1, 8)), times[a])
    return [reading(t, sensor) for t, sensor in times]


def _strip_wake(state: EngineState) -> EngineState:
    return {k: v for k, v in state.items() if k not in ("wake", "wake_of")}


@pytest.mark.parametrize("seed", range(30))
def test_skipping_quiet_states_agrees_with_the_reference_on_random_rules_and_streams(
    seed: int,
) -> None:
    """Every kind of timer, with holds, cooldowns, clear periods, late and repeated readings
    and sweeps: the same alerts, in the same calls, and the same states as the reference."""
    index = ZoneIndex(
        parse_zones(
            collection(
                feature("zone-a", kind="restricted", geometry=box(108.40, 11.90, 108.41, 11.91)),
                feature("zone-b", kind="restricted", geometry=box(108.41, 11.90, 108.42, 11.91)),
            )
        )
    )
    rng = random.Random(seed)
    ruleset = parse_rules(_fuzz_rules(rng), "fuzz.yaml")
    stream = _fuzz_readings(rng, index)
    cuts = [rng.randint(1, 6) for _ in stream]
    pushes = [(rng.random() < 0.4, rng.random()) for _ in stream]
    results = []
    for engine in (Engine(ruleset), Engine(ruleset, skip_quiet=False)):
        states: dict[str, EngineState] = {}
        alerts: list[tuple[int, dict[str, object]]] = []
        i = call = 0
        while i < len(stream):
            chunk, i = stream[i : i + cuts[call]], i + cuts[call]
            groups: dict[str, list[Placed]] = {}
            for key, one in chunk:
                groups.setdefault(key, []).append(one)
            for key, readings in groups.items():
                states[key], raised = engine.evaluate(states.get(key), readings)
                alerts += [(call, a.model_dump(exclude={"raised_at"})) for a in raised]
            push, behind = pushes[call]
            if push:  # the sweep: quiet states pushed behind the latest watermark
                latest = max(s["watermark"] for s in states.values())
                until = latest - behind * 900
                for key, state in states.items():
                    if state["watermark"] < until:
                        states[key], raised = engine.advance(
                            state, datetime.fromtimestamp(until, UTC)
                        )
                        alerts += [(call, a.model_dump(exclude={"raised_at"})) for a in raised]
            call += 1
        results.append((alerts, {k: _strip_wake(s) for k, s in states.items()}))
    (alerts, states), (reference_alerts, reference_states) = results
    assert alerts == reference_alerts
    assert states == reference_states


@pytest.mark.parametrize("extra", ["", "  cooldown: 1h\n", "  for: 5m\n"])
def test_an_old_reading_that_ends_a_silence_makes_the_next_one_due(extra: str) -> None:
    """A silent sensor's alert is resolved by a reading no newer than its last (sent again,
    or late): the sensor is as silent as before, and the next pass must see it."""
    ruleset = parse_rules(f"- id: a\n  type: absence\n  after: 10m\n{extra}  {TITLE}", "t.yaml")
    results = []
    for engine in (Engine(ruleset), Engine(ruleset, skip_quiet=False)):
        state, alerts = engine.evaluate(None, [env(0, pm25=1)])
        for step in (15, 16, None, 30):  # minutes the watermark is pushed to, or the reading
            if step is None:  # the last reading again
                state, raised = engine.evaluate(state, [env(0, pm25=1)])
            else:  # silent: fires at 10; then nothing is due any more
                state, raised = engine.advance(state, T0 + timedelta(minutes=step))
            alerts += raised
        results.append((fired(alerts), _strip_wake(state)))
    assert results[0] == results[1]


def test_a_state_evaluated_elsewhere_meanwhile_is_looked_at_again() -> None:
    """A rolling upgrade: a partition's states go to a worker of an older version, which keeps
    a state's wake time without maintaining it, then come back. The engine's new epoch (the
    worker starts one when partitions are assigned) stops it trusting that wake time."""
    ruleset = parse_rules(
        "- id: w\n  window: {type: tumbling, size: 10m, field: pm25, agg: mean}\n"
        f"  condition: '> 50'\n  {TITLE}",
        "t.yaml",
    )
    engine = Engine(ruleset)
    state, _ = engine.evaluate(None, [env(1, pm25=80)])
    state, closed = engine.advance(state, T0 + timedelta(minutes=13))
    assert fired(closed) == [("firing", 10)]
    assert state["wake"] is None  # no window open
    # The older version: opens [10, 20) and leaves the wake time as it found it.
    kept = {k: state[k] for k in ("wake", "wake_of")}
    state, _ = Engine(ruleset, skip_quiet=False).evaluate(state, [env(14, pm25=10)])
    state.update(kept)
    engine.new_epoch()  # the partition is assigned back
    _, alerts = engine.advance(state, T0 + timedelta(minutes=40))
    assert fired(alerts) == [("resolved", 20)]


# --- a reading applied once -------------------------------------------------------------------


def test_a_reading_sent_again_is_applied_once_in_the_same_batch_and_after_a_restart() -> None:
    import orjson

    engine = rules(TUMBLING.format(agg="count", grace="0s", cond=">= 3") + TITLE)
    state, alerts = engine.evaluate(None, [env(1, pm25=5), env(1, pm25=5), env(2, pm25=7)])
    assert state is not None
    assert state["counters"]["duplicates"] == 1
    restored = orjson.loads(orjson.dumps(state))  # the copy comes after the state moved
    state, alerts = Engine(engine.ruleset).evaluate(
        restored, [env(2, pm25=7), env(1, pm25=5), env(10, pm25=1)]
    )
    assert alerts == []  # [0, 10) counted two readings, not five
    assert state["counters"]["duplicates"] == 1 + 2  # the stage moves them to metrics


def test_a_reading_of_the_same_time_with_other_values_is_a_correction_and_applied() -> None:
    engine = rules(TUMBLING.format(agg="count", grace="0s", cond=">= 3") + TITLE)
    three = [env(1, pm25=5), env(1, pm25=6), env(1, pm25=5, pm10=9)]
    _, alerts = feed(engine, [*three, env(10, pm25=1)])
    assert fired(alerts) == [("firing", 10)]
    # Another sensor's reading of the same time and values is its own.
    _, alerts = feed(engine, [env(1, pm25=5), env(1, "aq-2", pm25=5), env(1, "aq-3", pm25=5)])
    assert alerts == []  # per sensor: three windows of one reading each
    state, _ = feed(engine, [env(1, pm25=5), env(1, "aq-2", pm25=5)])
    assert state is not None
    assert "duplicates" not in state["counters"]


def test_a_redelivered_block_oldest_first_does_not_push_the_recent_readings_out() -> None:
    """A killed bridge gets back, oldest first, every message it had not acknowledged: for a
    sensor, many readings. The old copies (late for the windows) must not evict the recent
    ones, whose copies a window would take again."""
    engine = rules(TUMBLING.format(agg="count", grace="0s", cond=">= 11") + TITLE)
    sent = [env(minute, pm25=minute) for minute in range(40)]  # ten in each window
    state, _ = engine.evaluate(None, sent)
    state, alerts = engine.evaluate(state, sent)  # all of them again, oldest first
    assert state["counters"]["duplicates"] >= DEPTH
    # [0, 10) … [30, 40): the copies the windows still take were recognised, none counted.
    state, alerts = engine.evaluate(state, [env(50, pm25=1)])
    assert alerts == []
    # And the newest DEPTH readings are what is kept, in time order.
    kept = state["recent"][sent[0].reading.sensor_id]
    assert kept == "".join(entry_of(r.reading) for r in sent[-DEPTH + 1 :]) + entry_of(
        env(50, pm25=1).reading
    )


def test_a_late_reading_is_remembered_in_its_place_in_time() -> None:
    seen: dict[str, str] = {}
    readings = [env(m, pm25=m).reading for m in (1, 3, 2, 5, 4)]
    assert [repeated(seen, r) for r in readings] == [False] * 5
    assert seen[readings[0].sensor_id] == "".join(
        entry_of(r) for r in sorted(readings, key=lambda r: r.ts)
    )
    assert all(repeated(seen, r) for r in readings)


@pytest.mark.parametrize("seed", range(2))
def test_the_demo_with_copies_resent_raises_what_the_demo_raises(seed: int) -> None:
    """A fifth of the demo's messages arrive twice, the copy up to 30 messages later (an
    at-least-once bridge that redelivers what it had in flight): the same alerts, in each
    subject's order."""
    rng = random.Random(seed)
    records = Simulation(load_scenario("demo")).records()
    clean = [(r.value, r.topic, None, None) for r in records]
    resent: list[tuple[bytes, str | None, None, None]] = []
    later: list[tuple[int, tuple[bytes, str | None, None, None]]] = []
    for n, message in enumerate(clean):
        resent.append(message)
        if rng.random() < 0.2:
            later.append((n + rng.randint(0, 30), message))
        resent.extend(m for due, m in later if due == n)
        later = [(due, m) for due, m in later if due > n]
    resent.extend(m for _, m in later)
    assert len(resent) > len(clean) * 1.15

    def alerts(messages: list[tuple[bytes, str | None, None, None]]) -> list[Alert]:
        decoder = Decoder(clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))
        return list(run(default_rules(), default_zones(), messages, decoder))

    def by_subject(raised: list[Alert]) -> dict[tuple[str, str], list[Alert]]:
        # Alerts of different subjects may come in another order: copies move where the
        # offline run's batches end, and a batch's window closings come at its end.
        out: dict[tuple[str, str], list[Alert]] = {}
        for alert in raised:
            out.setdefault((alert.rule_id, alert.subject), []).append(alert)
        return out

    want = alerts(clean)
    assert len(want) > 20
    assert by_subject(alerts(resent)) == by_subject(want)
