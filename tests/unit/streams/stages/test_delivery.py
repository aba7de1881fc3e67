"""The delivery stage with in-memory sinks: every version reaches every sink in order; a
sink that cannot open yet, or fails a write, is retried until it takes it; a broken record
is dead-lettered and reaches no sink."""

from __future__ import annotations

import asyncio

import pytest

from ioc.streams.stages import delivery
from ioc.streams.stages.delivery import DeliveryStage
from tests.harness.incidents import versions
from tests.harness.memory import Harness, MemorySink, Message, messages


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_RETRY_S", 0.001)
    monkeypatch.setattr(delivery, "MAX_RETRY_S", 0.002)


def incident_messages() -> list[Message]:
    return messages(
        "ioc.incidents",
        [(i.incident_id.encode(), i.model_dump_json().encode()) for i in versions()],
    )


def deliver(stage: DeliveryStage, items: list[Message]) -> None:
    async def run() -> None:
        for message in items:
            await stage.handle(message)
        await stage.stop()

    asyncio.run(run())


def test_every_version_reaches_every_sink_in_order() -> None:
    h = Harness()
    store, feed = MemorySink("store://"), MemorySink("feed://")
    deliver(DeliveryStage([store, feed], h.outputs, h.metrics), incident_messages())
    for sink in (store, feed):
        assert [i.version for i in sink.written] == [1, 2, 3]
        assert sink.opened
        assert sink.stopped
    assert h.metric("ioc_sink_writes_total", sink="feed://") == 3


def test_a_sink_that_is_down_is_retried_until_it_takes_every_version() -> None:
    h = Harness()
    archive = MemorySink("archive://", refuse_open=2, refuse_writes=3)
    deliver(DeliveryStage([archive], h.outputs, h.metrics), incident_messages())
    assert [i.version for i in archive.written] == [1, 2, 3]
    assert archive.attempts == 6
    assert h.metric("ioc_sink_failures_total", sink="archive://") == 5


def test_a_broken_record_is_dead_lettered_and_reaches_no_sink() -> None:
    h = Harness()
    sink = MemorySink()
    deliver(
        DeliveryStage([sink], h.outputs, h.metrics), [Message("ioc.incidents", 2, 9, b"k", b"[]")]
    )
    assert sink.written == []
    [dead] = h.dead_letters()
    assert (dead.category, dead.source_topic, dead.offset) == (
        "bad_internal_record",
        "ioc.incidents",
        9,
    )
