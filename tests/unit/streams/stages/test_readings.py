"""The readings stage without a broker: batches of any size give the offline engine's alerts,
a batch read again applies nothing twice, the sweep waits for every topic, and a worker trusts
no state's wake time after partitions are assigned to it."""

from __future__ import annotations

import asyncio
import zlib
from collections import Counter
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from ioc.geo import ZoneIndex, default_zones
from ioc.kafka.cluster import Cluster
from ioc.rules.loader import default_rules
from ioc.rules.offline import run as run_offline
from ioc.schemas import Decoder
from ioc.schemas.common import utcnow
from ioc.settings import Settings
from ioc.streams.app import create_app
from ioc.streams.metrics import Metrics
from ioc.streams.rulebook import Rulebook
from ioc.streams.stages import readings as readings_stage
from ioc.streams.stages.readings import IDLE_TOPIC_S, ReadingsStage
from simulators.generate import Simulation
from simulators.scenario import load_scenario
from tests.harness.memory import MemoryTable as Table

PARTITIONS = 4


class Outputs:
    def __init__(self) -> None:
        self.alerts: list[Any] = []
        self.dead: list[Any] = []

    async def publish(self, engine: Any, alerts: list[Any]) -> None:
        self.alerts += alerts

    async def dead_letter(self, rejections: list[Any], **where: Any) -> None:
        self.dead.append((rejections, where))


def messages(records: list[Any]) -> list[SimpleNamespace]:
    offsets: Counter[tuple[str, int]] = Counter()
    out = []
    for r in records:
        partition = zlib.crc32(r.key or b"") % PARTITIONS
        offset = offsets[(r.topic, partition)]
        offsets[(r.topic, partition)] += 1
        out.append(
            SimpleNamespace(
                topic=r.topic, partition=partition, offset=offset, key=r.key, value=r.value
            )
        )
    return out


def stage(table: Table, outputs: Outputs, topics: tuple[str, ...] = ()) -> ReadingsStage:
    metrics = Metrics.create(CollectorRegistry())
    rulebook = Rulebook(default_rules(), default_zones().version, metrics, clock=utcnow)
    return ReadingsStage(
        rulebook,
        ZoneIndex(default_zones()),
        table,
        outputs,
        metrics,
        topics=topics,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def demo() -> list[Any]:
    return list(Simulation(load_scenario("demo")).records())


def alert_keys(alerts: list[Any]) -> Counter[tuple[str, str, str, Any]]:
    # Correlation rules run in the correlation stage, not here.
    return Counter(
        (a.rule_id, a.subject, a.status, a.event_time)
        for a in alerts
        if a.rule_id != "fire-confirmed"
    )


@pytest.mark.parametrize("batch", [1, 37, 500])
def test_any_batch_size_gives_the_offline_engines_alerts(demo: list[Any], batch: int) -> None:
    offline = run_offline(
        default_rules(), default_zones(), ((r.value, r.topic, None, None) for r in demo), Decoder()
    )
    want = alert_keys(list(offline))
    assert want, "the demo scenario raises alerts"
    table, outputs = Table(), Outputs()
    readings = stage(table, outputs)
    msgs = messages(demo)

    async def feed() -> None:
        for i in range(0, len(msgs), batch):
            await readings.handle_batch(msgs[i : i + batch])

    asyncio.run(feed())
    assert alert_keys(outputs.alerts) == want
    assert outputs.dead, "the demo's malformed messages are dead-lettered"


def in_halves(
    demo: list[Any],
) -> tuple[Table, Outputs, ReadingsStage, list[SimpleNamespace], list[SimpleNamespace]]:
    """A stage with its table and outputs, and the demo's messages in two halves."""
    table, outputs = Table(), Outputs()
    msgs = messages(demo)
    half = len(msgs) // 2
    return table, outputs, stage(table, outputs), msgs[:half], msgs[half:]


def test_a_batch_read_again_applies_and_dead_letters_nothing_twice(demo: list[Any]) -> None:
    _, outputs, readings, first, second = in_halves(demo)

    async def feed() -> None:
        await readings.handle_batch(first)
        alerts, dead = len(outputs.alerts), len(outputs.dead)
        await readings.handle_batch(first)  # redelivered after a crash
        assert (len(outputs.alerts), len(outputs.dead)) == (alerts, dead)
        await readings.handle_batch(second)

    asyncio.run(feed())
    once = Outputs()
    single = stage(Table(), once)
    asyncio.run(single.handle_batch(first + second))
    assert alert_keys(outputs.alerts) == alert_keys(once.alerts)


@pytest.mark.parametrize("again", [1, 10_000])
def test_a_state_ahead_of_its_partitions_mark_skips_what_it_has_applied(
    demo: list[Any], again: int
) -> None:
    """The changelog may hold a state with the next batch's readings in it while the mark of
    that batch's offsets did not make it (ioc/streams/write_behind.py): read again, the batch
    changes nothing the states have applied."""
    table, outputs, readings, first, second = in_halves(demo)

    async def feed() -> None:
        await readings.handle_batch(first)
        marks = {k: v for k, v in table.items() if k.startswith("\x00applied:")}
        await readings.handle_batch(second)
        alerts = len(outputs.alerts)
        states = orjson.dumps(without_wake(table), option=orjson.OPT_SORT_KEYS)
        table.update(marks)  # the marks as the first batch left them
        for i in range(0, len(second), again):  # read again, in batches of `again`
            await readings.handle_batch(second[i : i + again])
        assert len(outputs.alerts) == alerts
        assert orjson.dumps(without_wake(table), option=orjson.OPT_SORT_KEYS) == states

    asyncio.run(feed())


def test_states_are_written_to_the_partition_their_messages_came_from(demo: list[Any]) -> None:
    table, outputs = Table(), Outputs()
    asyncio.run(stage(table, outputs).handle_batch(messages(demo)))
    assert table.partitions, "the batch wrote states"
    assert not table.unflushed, "a batch returns (and is acknowledged) only once its writes are"
    for key, state in table.items():
        if isinstance(state, dict):
            assert table.partitions[key] == state["partition"]


def test_the_sweep_waits_for_a_topic_not_yet_read() -> None:
    readings = stage(Table(), Outputs(), topics=("sensors.traffic", "sensors.environment"))
    readings.topic_progress[("sensors.traffic", 0)] = (5000.0, 100.0)
    assert readings.partition_watermark(0, now=100.0) is None
    # After IDLE_TOPIC_S without a message, a silent topic no longer holds the partition back.
    assert readings.partition_watermark(0, now=100.0 + IDLE_TOPIC_S + 1) == 5000.0
    readings.topic_progress[("sensors.environment", 1)] = (4000.0, 100.0)
    readings.topic_progress[("sensors.traffic", 1)] = (4500.0, 100.0)
    assert readings.partition_watermark(1, now=110.0) == 4000.0


def _gateway(template: dict[str, Any], sensors_and_minutes: list[tuple[str, int]]) -> bytes:
    t0 = datetime.fromisoformat(template["ts"])
    readings = [
        {**template, "sensor_id": sensor, "ts": (t0 + timedelta(minutes=m)).isoformat()}
        for sensor, m in sensors_and_minutes
    ]
    return orjson.dumps({"source_id": template["source_id"], "readings": readings})


def without_wake(states: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in state.items() if k not in ("wake", "wake_of")}
        if isinstance(state, dict)
        else state
        for key, state in states.items()
    }


@pytest.mark.parametrize("every", [1, 2, 7])
def test_a_batch_evaluated_in_parts_leaves_what_it_leaves_whole(
    demo: list[Any], monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    template = next(r for r in orjson.loads(demo[0].value)["readings"] if r["kind"] == "traffic")
    gateway = [
        SimpleNamespace(topic=demo[0].topic, key=None, value=_gateway(template, readings))
        for readings in (
            [("trf-a", 0), ("trf-a", 1), ("trf-b", 1)],  # two readings of one sensor, one offset
            [("trf-a", 2), ("trf-b", 2), ("trf-a", 3)],
            [("trf-b", 4)],
        )
    ]
    records = [*demo[:300], *gateway, *demo[300:600]]

    def run(evaluate_every: int) -> tuple[dict[str, Any], Counter[Any]]:
        monkeypatch.setattr(readings_stage, "EVALUATE_EVERY", evaluate_every)
        table, outputs = Table(), Outputs()
        asyncio.run(stage(table, outputs).handle_batch(messages(records)))
        return dict(table), alert_keys(outputs.alerts)

    whole_states, whole_alerts = run(10_000)
    states, alerts = run(every)
    # Less a state's "wake", a lower bound of when its next timer is due that the watermark
    # pass tightens when it runs (parts run it more often), and the epoch of the engine that
    # computed it (each run has its own).
    assert without_wake(states) == without_wake(whole_states)
    assert alerts == whole_alerts
    window = whole_states["trf-a"]["rules"]["congestion"]["trf-a"]["w"]
    assert sum(record[0] for record in window.values()) == 4  # every reading of trf-a counted


def test_partitions_assigned_start_a_new_epoch_of_the_engine(settings: Settings) -> None:
    """States of partitions just assigned may have been evaluated by another worker: their
    wake times are not trusted (ioc.rules.engine.Engine.new_epoch)."""
    runtime = create_app(settings, Cluster.at("127.0.0.1:9"))
    before = runtime.rulebook.engine.epoch

    async def assign() -> None:
        await runtime.app.on_partitions_assigned.send(set())

    asyncio.run(assign())
    assert runtime.rulebook.engine.epoch != before
