"""Compiled rule filters answer as `matches` does, and the engine offers a reading to exactly
the rules whose filters take it."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from ioc.geo import ZoneIndex, default_zones
from ioc.rules.context import matches
from ioc.rules.engine import Engine
from ioc.rules.filters import predicate
from ioc.rules.kinds.geofence import GeofenceRule
from ioc.rules.loader import default_rules
from ioc.rules.model import When
from ioc.rules.values import Placed
from ioc.schemas import Decoder
from simulators.generate import Simulation
from simulators.scenario import load_scenario


@pytest.fixture(scope="module")
def placed() -> list[Placed]:
    records = Simulation(load_scenario("demo")).records()
    decoder = Decoder(clock=lambda: datetime(2100, 1, 1, tzinfo=UTC))
    readings = [r for record in records for r in decoder.decode(record.value).readings]
    placement = ZoneIndex(default_zones()).locate(
        [r.lat for r in readings], [r.lon for r in readings]
    )
    return [
        Placed(r, placement.district[i], tuple(placement.zones_of(i)))
        for i, r in enumerate(readings)
    ]


def random_when(rng: random.Random, placed: list[Placed]) -> When:
    """Filters drawn from what the readings have, so that they sometimes match."""
    some = rng.sample(placed, 3)
    fields: dict[str, Any] = {}
    if rng.random() < 0.5:
        fields["kind"] = sorted({p.reading.kind for p in some})
    if rng.random() < 0.3:
        fields["districts"] = sorted({p.district for p in some if p.district})
    if rng.random() < 0.3:
        fields["sensors"] = [some[0].reading.sensor_id, some[1].reading.sensor_id[:6] + "*"]
    if rng.random() < 0.3:
        fields["analytic"] = rng.sample(["intrusion", "crowd", "plate_match", "fire_smoke"], 2)
    if rng.random() < 0.3:
        fields["event"] = rng.sample(["accident", "wrong_way", "red_light"], 2)
    if rng.random() < 0.3:
        fields["min_confidence"] = rng.choice([0.5, 0.8, 0.95])
    if rng.random() < 0.3:
        fields["zone_kind"] = rng.sample(["flood", "restricted", "school", "district"], 2)
    if rng.random() < 0.2:
        fields["zones"] = sorted({z.id for p in some for z in p.zones})[:2] or ["nowhere"]
    if rng.random() < 0.3:
        fields["respect_schedule"] = False
    return When.model_validate(fields)


def test_a_compiled_filter_answers_as_matches(placed: list[Placed]) -> None:
    rng = random.Random(7)
    whens = [r.when for r in default_rules().enabled] + [
        random_when(rng, placed) for _ in range(200)
    ]
    sample = rng.sample(placed, 400)
    passed = 0
    for when in whens:
        for zone_filters in (True, False):
            check = predicate(when, zone_filters=zone_filters)
            for p in sample:
                expected = matches(when, p, zone_filters=zone_filters)
                assert (check is None or check(p)) == expected, (when, p.reading)
                passed += expected
    assert 0 < passed < len(whens) * 2 * len(sample)  # both answers were given


def test_a_reading_is_offered_to_the_rules_whose_filters_take_it(placed: list[Placed]) -> None:
    engine = Engine(default_rules())
    for p in placed:
        offered = [
            rule.id
            for handle, rule in engine.on_reading(p.reading)
            # What the handler would go on with: its own predicate, checked by `matches` here.
            if matches(rule.when, p, zone_filters=not isinstance(rule, GeofenceRule))
        ]
        expected = [
            rule.id
            for rule in engine.by_kind[p.reading.kind]
            if matches(rule.when, p, zone_filters=not isinstance(rule, GeofenceRule))
        ]
        assert offered == expected
    # Counting stations' readings (no event) meet neither accident rule.
    counting = next(p for p in placed if p.reading.kind == "traffic" and p.reading.event is None)
    assert {r.id for _, r in engine.on_reading(counting.reading)} == {"congestion"}
