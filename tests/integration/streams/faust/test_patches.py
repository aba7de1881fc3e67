"""Faust's consumer as patched (ioc/streams/faust/patches.py): it fetches with a copy of its
active partitions, lets the broker hold a fetch only as long as the settings say, and hands a
message on without a task when the streams have room for it."""

from __future__ import annotations

import asyncio
import warnings
from types import SimpleNamespace
from typing import Any

import pytest
from faust.exceptions import PartitionsMismatch
from faust.tables.base import Collection as Table
from faust.transport.consumer import Consumer
from mode import Service

from ioc.kafka.cluster import Cluster
from ioc.kafka.embedded import EmbeddedBroker
from ioc.settings import Settings
from ioc.streams.app import create_app
from ioc.streams.faust import patches as faust_patches


class _Event:
    def set(self) -> None:
        return None


class _Consumer:
    """What `_wait_next_records` uses of Faust's consumer. Its `_getmany` plays the event loop
    clearing the active set while the fetch is in the consumer thread."""

    flow_active = True
    app = SimpleNamespace(client_only=False)
    not_waiting_next_records = _Event()

    def __init__(self) -> None:
        self.active = {("ioc.alerts", 0), ("ioc.alerts", 1)}
        self.fetched_with: Any = None

    def _get_active_partitions(self) -> set[Any]:
        return self.active

    async def _getmany(
        self,
        active_partitions: Any,
        timeout: float,  # noqa: ASYNC109 (Faust's signature)
    ) -> dict[Any, list[str]]:
        self.active.clear()  # _set_active_tps: clear, then refill
        self.fetched_with = active_partitions
        return {("ioc.alerts", 0): ["record"]}


def test_a_fetch_and_its_delivery_check_see_the_partitions_as_they_were_asked_for() -> None:
    faust_patches.apply(Settings().fetch_max_wait_ms, Cluster.at("127.0.0.1:9"))
    consumer = _Consumer()
    records, active = asyncio.run(Consumer._wait_next_records(consumer, 1.0))  # type: ignore[arg-type]
    assert consumer.fetched_with == {("ioc.alerts", 0), ("ioc.alerts", 1)}
    # getmany delivers a record only if its partition is in `active`: still there.
    assert ("ioc.alerts", 0) in active
    assert records == {("ioc.alerts", 0): ["record"]}


def test_the_workers_fetches_wait_as_long_as_the_settings_say(
    broker: EmbeddedBroker, settings: Settings
) -> None:
    """Faust hard-codes 1500 ms; on Tansu that was up to 1.5 s of latency per stage."""
    runtime = create_app(
        settings.model_copy(update={"fetch_max_wait_ms": 37}), Cluster.at(broker.bootstrap)
    )
    thread: Any = runtime.app.consumer._thread  # type: ignore[attr-defined]

    async def fetcher_wait() -> int:
        consumer = thread._create_consumer(asyncio.get_running_loop())
        await consumer.start()
        try:
            return int(consumer._fetcher._fetch_max_wait_ms)
        finally:
            await consumer.stop()

    assert asyncio.run(fetcher_wait()) == 37


class _Delivering(Service):
    """What the patched `wait_first` uses of Faust's consumer: a service with `suspend_flow`,
    set while a rebalance is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = asyncio.Event()


def _patched() -> Any:
    faust_patches.apply(Settings().fetch_max_wait_ms, Cluster.at("127.0.0.1:9"))
    return Consumer.wait_first


def test_a_delivery_that_does_not_wait_is_done_in_one_turn_of_the_loop() -> None:
    wait_first = _patched()
    turns = 0

    async def main() -> tuple[Any, int]:
        nonlocal turns
        consumer = _Delivering()
        delivered: list[str] = []

        async def callback(message: str) -> str:
            delivered.append(message)
            return "put"

        async def count_turns() -> None:
            nonlocal turns
            while True:
                turns += 1
                await asyncio.sleep(0)

        counter = asyncio.ensure_future(count_turns())
        await asyncio.sleep(0)
        before = turns
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the suspension's coroutine is closed, not leaked
            result = await wait_first(consumer, callback("m1"), consumer.suspend_flow.wait())
        counter.cancel()
        assert delivered == ["m1"]
        return result, turns - before

    result, spent = asyncio.run(main())
    assert result.results == ["put"]
    assert not result.stopped
    assert spent == 1


def test_a_delivery_that_waits_is_finished_in_its_own_task() -> None:
    wait_first = _patched()

    async def main() -> tuple[Any, list[str]]:
        consumer = _Delivering()
        room = asyncio.get_running_loop().create_future()
        steps: list[str] = []

        async def callback(message: str) -> str:
            steps.append("before")
            steps.append(await room)  # a full stream buffer
            return message

        asyncio.get_running_loop().call_later(0.01, room.set_result, "after")
        result = await wait_first(consumer, callback("m1"), consumer.suspend_flow.wait())
        return result, steps

    result, steps = asyncio.run(main())
    assert steps == ["before", "after"]
    assert result.results == ["m1"]


def test_a_rebalance_still_abandons_a_delivery_that_waits() -> None:
    wait_first = _patched()

    async def main() -> tuple[bool, bool]:
        consumer = _Delivering()
        cancelled = False

        async def callback(message: str) -> None:
            nonlocal cancelled
            try:
                await asyncio.get_running_loop().create_future()  # never any room
            except asyncio.CancelledError:
                cancelled = True
                raise

        asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
        suspension = consumer.suspend_flow.wait()
        result = await wait_first(consumer, callback("m1"), suspension)
        await asyncio.sleep(0)  # the abandoned delivery's cancellation is delivered
        return result.done == [suspension], cancelled

    suspension_won, cancelled = asyncio.run(main())
    assert suspension_won
    assert cancelled


def test_a_delivery_that_fails_raises_in_the_consumer() -> None:
    wait_first = _patched()

    async def main() -> None:
        consumer = _Delivering()

        async def callback(message: str) -> None:
            raise ValueError(message)

        await wait_first(consumer, callback("bad"), consumer.suspend_flow.wait())

    with pytest.raises(ValueError, match="bad"):
        asyncio.run(main())


def test_while_the_flow_is_suspended_a_delivery_races_the_suspension_as_faust_does() -> None:
    wait_first = _patched()

    async def main() -> tuple[Any, bool]:
        consumer = _Delivering()
        consumer.suspend_flow.set()
        started = False

        async def callback(message: str) -> None:
            nonlocal started
            started = True

        result = await wait_first(consumer, callback("m1"), consumer.suspend_flow.wait())
        return result, started

    result, started = asyncio.run(main())
    # Faust's own path: both were started as tasks, both finished in the same turn.
    assert started
    assert len(result.done) == 2


class _Table:
    """What a table's partition check uses: the consumer's partition counts by topic."""

    changelog_topic_name = "ioc.incidents-changelog"

    def __init__(self, counts: dict[str, int | None]) -> None:
        self.counts = counts
        self.app = SimpleNamespace(consumer=SimpleNamespace(topic_partitions=counts.get))
        self.name = "incidents"
        self._verified_source_topics_for_partitions: set[str] = set()


def test_a_changelog_the_metadata_lists_with_no_partitions_yet_is_checked_again_later() -> None:
    faust_patches.apply(500, Cluster.at("127.0.0.1:9"))
    table = _Table({"ioc.alerts": 4, "ioc.incidents-changelog": 0})
    verify = Table._verify_source_topic_partitions
    verify(table, "ioc.alerts")  # 0 partitions: not known yet, so no mismatch
    assert table._verified_source_topics_for_partitions == set()
    table.counts["ioc.incidents-changelog"] = 4
    verify(table, "ioc.alerts")
    assert table._verified_source_topics_for_partitions == {"ioc.alerts"}


def test_a_changelog_with_other_partitions_than_its_source_is_still_refused() -> None:
    faust_patches.apply(500, Cluster.at("127.0.0.1:9"))
    table = _Table({"ioc.alerts": 4, "ioc.incidents-changelog": 2})
    with pytest.raises(PartitionsMismatch):
        Table._verify_source_topic_partitions(table, "ioc.alerts")
