"""Four corrections to Faust 0.15.3 and a cheaper path for each message its consumer hands
on, applied when the app is built.

Faust hands its live set of active partitions to the consumer thread, which reads it while the
event loop changes it: `_set_active_tps` clears the set and then refills it. A fetch that reads
the set in between sees it empty, and aiokafka takes an empty set to mean every partition: it
returns records of partitions that are paused or not yet resumed, which `Consumer.getmany` then
skips without seeking back — the fetch position has moved past them, so they are never read.
A worker restarted after a crash, under load, was seen to stop reading some partitions this
way. The fetch here works on a copy taken once, so what is fetched is what is delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.tables.base import Collection as Table
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from mode.services import WaitResults

from ioc.kafka.cluster import Cluster

TRUE_END_TIMEOUT_S = 10.0

_applied = False
# What apply() was given: the worker's setting and cluster (patches are process-wide, and a
# process runs one worker).
_fetch_max_wait_ms: int
_cluster: Cluster


async def _wait_next_records(self: Any, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109 (Faust's signature)
    if not self.flow_active:
        await self.wait(self.can_resume_flow)
    try:
        self.not_waiting_next_records.set()
        active: frozenset[Any] | None
        active = None if self.app.client_only else frozenset(self._get_active_partitions())
        records: dict[Any, Any] = {}
        if active is None or active:
            records = await self._getmany(active_partitions=active, timeout=timeout)
        else:
            await self.sleep(1)
        return records, active
    finally:
        self.not_waiting_next_records.set()


# The second: table recovery reads a changelog up to the end offsets ListOffsets reports. Tansu
# 0.6 reports the first offset of a partition's last record batch + 1, so after a batch of
# several records, recovery stopped short of the batch's other records: a worker that took over
# a killed worker's partitions started from older state than the changelog held (and a standby
# saw offsets past the "end" and crashed). The ends are confirmed with a fetch from there: its
# response carries the real high watermark. On Apache Kafka the two agree and nothing changes.
_original_highwaters = AIOKafkaConsumerThread._highwaters


async def _highwaters(self: Any, partitions: Any) -> Any:
    reported = dict(await _original_highwaters(self, partitions))
    if self.consumer.in_transaction:
        return reported
    to_confirm = [tp for tp, end in reported.items() if end]
    if not to_confirm:
        return reported
    confirmed = await _fetched_ends(_cluster, to_confirm, reported)
    return {tp: max(end, confirmed.get(tp, end)) for tp, end in reported.items()}


async def _fetched_ends(
    cluster: Cluster, tps: list[Any], reported: dict[Any, int]
) -> dict[Any, int]:
    consumer = AIOKafkaConsumer(
        client_id="ioc-recovery-ends", group_id=None, enable_auto_commit=False, **cluster.aiokafka()
    )
    await consumer.start()
    out: dict[Any, int] = {}
    try:
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, reported[tp] - 1)
        pending = set(tps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TRUE_END_TIMEOUT_S
        while pending and loop.time() < deadline:
            await consumer.getmany(*pending, timeout_ms=200)
            for tp in list(pending):
                end = consumer.highwater(tp)
                if end is not None:
                    out[tp] = end
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return out


# The third: Faust builds its consumer with fetch_max_wait_ms=1500, not a setting. Tansu holds
# a fetch of several partitions that long even when records arrive (one partition: answered at
# once), so each stage of the pipeline added 0–1.5 s of latency; the fetcher is built when the
# consumer starts, from the value set here.
_original_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _create_worker_consumer(self: Any, transport: Any) -> AIOKafkaConsumer:
    consumer = _original_create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms
    return consumer


# The cheaper path. The consumer hands each message to the streams through
# `wait_first(callback(message), suspend_flow.wait())`, so that a rebalance (which sets
# suspend_flow) can abandon a delivery stuck on a full stream buffer: four tasks, an
# `asyncio.wait` and three cancellations per message, a sixth of a busy worker's event loop.
# The callback almost never waits (it puts the message in the streams' buffers), so here it
# runs its first step at once; only one that waits goes on as before, in a task raced against
# the flow's suspension. The consumer makes no other call of two waitables.
_original_wait_first = Consumer.wait_first


async def _wait_first(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 (mode's signature)
    if (
        len(coros) != 2
        or timeout is not None
        or not asyncio.iscoroutine(coros[0])
        or not asyncio.iscoroutine(coros[1])
        or self.suspend_flow.is_set()
        or self.should_stop
        or self._crashed.is_set()
    ):
        return await _original_wait_first(self, *coros, timeout=timeout)
    callback, suspended = coros
    try:
        step = callback.send(None)
    except StopIteration as done:
        suspended.close()  # never started: nothing to cancel
        # One turn of the loop per message, as before: the streams take a message a turn, and
        # a consumer handing on a whole fetch at once would fill their buffers and pause its
        # partitions (flow control), over and over.
        await asyncio.sleep(0)
        return WaitResults([callback], [done.value], False)
    except BaseException:
        suspended.close()
        raise
    return await _original_wait_first(self, _Resumed(callback, step), suspended)


class _Resumed(Awaitable[Any]):
    """The rest of a coroutine whose first step has run and yielded `step`: awaiting this
    gives the task what the coroutine yielded, and the coroutine what the task sends back."""

    def __init__(self, coro: Coroutine[Any, Any, Any], step: Any) -> None:
        self.coro = coro
        self.step = step

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, step = self.coro, self.step
        while True:
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # the task's cancellation, or a future's error
                try:
                    step = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as done:
                    return done.value


# The fourth: a table checks, once, that its changelog has as many partitions as the topic it
# is keyed by, and an agent that fails the check crashes. Just after a changelog topic is
# created, the consumer's metadata may list it with 0 partitions (a three-broker cluster was
# seen to, before its partitions had leaders), and Faust took 0 for a mismatch: the incidents
# agent crashed twice at start-up. Here a count of 0 means "not known yet": nothing is
# decided or remembered until both counts are known, and then Faust's own check runs.
_original_verify = Table._verify_source_topic_partitions


def _verify_source_topic_partitions(self: Any, source_topic: str) -> None:
    if source_topic in self._verified_source_topics_for_partitions:
        return
    consumer = self.app.consumer
    if not consumer.topic_partitions(source_topic) or not consumer.topic_partitions(
        self.changelog_topic_name
    ):
        return
    _original_verify(self, source_topic)


def apply(fetch_max_wait_ms: int, cluster: Cluster) -> None:
    """Patch Faust (once per process); a worker's consumer then lets the broker hold a fetch
    `fetch_max_wait_ms` at most, and recovery confirms its ends on `cluster`, the worker's."""
    global _applied, _fetch_max_wait_ms, _cluster
    _fetch_max_wait_ms = fetch_max_wait_ms
    _cluster = cluster
    if _applied:
        return
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    Consumer._wait_next_records = _wait_next_records  # type: ignore[method-assign]
    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
    Consumer.wait_first = _wait_first  # type: ignore[method-assign]
    Table._verify_source_topic_partitions = _verify_source_topic_partitions  # type: ignore[method-assign]
    _applied = True
