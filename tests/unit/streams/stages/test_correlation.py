"""The correlation stage on in-memory topics and tables: alerts of two rules near each other
make one composite where the completing alert lives, only count elsewhere, and a record of a
rule that is gone, or a broken one, changes nothing."""

from __future__ import annotations

import asyncio

import orjson

from ioc.geo import default_zones
from ioc.rules.loader import default_rules
from ioc.schemas.alerts import Alert, Evidence
from ioc.schemas.common import utcnow
from ioc.streams.rulebook import Rulebook
from ioc.streams.stages.correlation import CorrelationStage
from tests.harness.incidents import alert, now
from tests.harness.memory import Harness, MemoryTable, Message

CELLS = "correlation-cells"
KEY = b"fire-confirmed:1:2"


def stage(h: Harness, table: MemoryTable) -> CorrelationStage:
    rulebook = Rulebook(default_rules(), default_zones().version, h.metrics, clock=utcnow)
    return CorrelationStage(rulebook, table, h.outputs, h.metrics)


def seen(rule_id: str, minute: float, sensor: str, metres_east: float = 0.0) -> Alert:
    base = alert(minute)
    return base.model_copy(
        update={
            "alert_id": f"{rule_id}:{sensor}{minute}",
            "rule_id": rule_id,
            "subject": sensor,
            "lon": base.lon + metres_east / 109_000,  # about 109 km a degree at 11.9° N
            "evidence": [Evidence(sensor_id=sensor, field="x", value=1, ts=now(minute))],
        }
    )


def record(a: Alert, *, home: bool, rule: str = "fire-confirmed", offset: int = 0) -> Message:
    body = {"rule": rule, "home": home, "alert": a.model_dump(mode="json")}
    return Message(CELLS, 0, offset, KEY, orjson.dumps(body))


def composites(h: Harness) -> list[Alert]:
    return [Alert.model_validate_json(v) for _, v in h.alerts.sent]


def test_smoke_and_heat_close_together_make_one_fire_where_the_second_one_lives() -> None:
    h, table = Harness(), MemoryTable()
    correlation = stage(h, table)
    asyncio.run(correlation.handle(record(seen("fire-smoke", 0, "cam-1"), home=True)))
    assert composites(h) == []
    asyncio.run(
        correlation.handle(record(seen("heat-spike", 3, "env-1", 120), home=True, offset=1))
    )
    [fire] = composites(h)
    assert (fire.rule_id, fire.status, fire.severity) == ("fire-confirmed", "firing", "extreme")
    assert {e.sensor_id for e in fire.evidence} >= {"cam-1", "env-1"}
    assert KEY.decode() in table


def test_in_a_neighbouring_cell_the_second_alert_only_counts() -> None:
    h, table = Harness(), MemoryTable()
    correlation = stage(h, table)
    asyncio.run(correlation.handle(record(seen("fire-smoke", 0, "cam-1"), home=True)))
    asyncio.run(correlation.handle(record(seen("heat-spike", 3, "env-1", 120), home=False)))
    assert composites(h) == []


def test_far_apart_or_too_late_they_make_nothing() -> None:
    for second in (seen("heat-spike", 3, "env-1", 2_000), seen("heat-spike", 30, "env-1")):
        h, table = Harness(), MemoryTable()
        correlation = stage(h, table)
        asyncio.run(correlation.handle(record(seen("fire-smoke", 0, "cam-1"), home=True)))
        asyncio.run(correlation.handle(record(second, home=True)))
        assert composites(h) == [], second


def test_a_rule_that_is_gone_is_counted_and_a_broken_record_dead_lettered() -> None:
    h, table = Harness(), MemoryTable()
    correlation = stage(h, table)
    asyncio.run(correlation.handle(record(seen("fire-smoke", 0, "cam-1"), home=True, rule="old")))
    assert h.metric("ioc_rule_engine_events_total", event="correlation_rule_gone") == 1
    asyncio.run(correlation.handle(Message(CELLS, 0, 5, KEY, b'{"rule": "fire-confirmed"}')))
    [dead] = h.dead_letters()
    assert (dead.category, dead.offset) == ("bad_internal_record", 5)
    assert dict(table) == {}
