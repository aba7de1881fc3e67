"""Faust's consumer as patched (ioc/streams/faust_patches.py): it fetches with a copy of its
active partitions, and lets the broker hold a fetch only as long as the settings say."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.transport.consumer import Consumer

from ioc.broker import EmbeddedBroker
from ioc.settings import Settings
from ioc.streams import faust_patches
from ioc.streams.app import create_app


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
    faust_patches.apply(Settings().fetch_max_wait_ms)
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
    runtime = create_app(settings.model_copy(update={"fetch_max_wait_ms": 37}), [broker.bootstrap])
    thread: Any = runtime.app.consumer._thread  # type: ignore[attr-defined]

    async def fetcher_wait() -> int:
        consumer = thread._create_consumer(asyncio.get_running_loop())
        await consumer.start()
        try:
            return int(consumer._fetcher._fetch_max_wait_ms)
        finally:
            await consumer.stop()

    assert asyncio.run(fetcher_wait()) == 37
