"""The rule set a worker runs, hot-reloaded from the `ioc.rules` topic.

Every worker reads the whole topic (it is reference data, not work to share), with its own
consumer outside the group. The stages wait until the topic has been read to its end once, so
a starting worker never evaluates with a rule set it is about to replace. A set that does not
validate is rejected, counted and dead-lettered, and the running one is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from ioc.kafka.admin import at_fetched_end
from ioc.kafka.cluster import Cluster
from ioc.rules.engine import Engine
from ioc.rules.loader import RuleError, RuleSet
from ioc.rules.published import decode_rules
from ioc.streams.metrics import Metrics

log = logging.getLogger("ioc.rules")

FETCH_WAIT_MS = 500

# Called with (reason, problems, offset, value) for a rejected set.
Reject = Callable[[str, list[str], int, bytes | None], Awaitable[None]]


class Rulebook:
    """The engine in use. Stages read `engine` per message, so a reload takes effect between
    two messages, never inside one."""

    def __init__(
        self,
        ruleset: RuleSet,
        zoneset_version: str,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self.zoneset_version = zoneset_version
        self.metrics = metrics
        self.clock = clock
        self.engine = self._engine(ruleset)
        self.source = "default"
        self._ready: asyncio.Event | None = None
        self._show(ruleset, "default")

    @property
    def ready(self) -> asyncio.Event:
        # Created on first use, inside the worker's event loop.
        if self._ready is None:
            self._ready = asyncio.Event()
        return self._ready

    def new_epoch(self) -> None:
        """Partitions were assigned: their states may have been evaluated by another worker
        since this one last saw them (Engine.new_epoch)."""
        self.engine.new_epoch()

    def _engine(self, ruleset: RuleSet) -> Engine:
        return Engine(ruleset, self.zoneset_version, self.clock, correlation=False)

    def _show(self, ruleset: RuleSet, source: str) -> None:
        self.metrics.ruleset.info(
            {"name": ruleset.name, "version": ruleset.version, "source": source}
        )
        self.metrics.ruleset_loaded_at.set(time.time())

    def offer(self, value: bytes | None, where: str) -> list[str]:
        """Adopt the rule set in `value`; return its problems (empty when adopted)."""
        try:
            ruleset, message = decode_rules(value, where)
        except RuleError as exc:
            self.metrics.ruleset_loads.labels("rejected").inc()
            log.error(
                "rule set at %s rejected; keeping %s (version %s):\n  %s",
                where,
                self.engine.ruleset.name,
                self.engine.ruleset.version,
                "\n  ".join(exc.problems),
            )
            return exc.problems
        self.metrics.ruleset_loads.labels("accepted").inc()
        if ruleset.version != self.engine.ruleset.version:
            self.engine = self._engine(ruleset)
            log.info(
                "rule set %s (version %s, %d rules) loaded by %s at %s",
                ruleset.name,
                ruleset.version,
                len(ruleset.rules),
                message.loaded_by,
                message.loaded_at.isoformat(),
            )
        self.source = where
        self._show(ruleset, where)
        return []


async def follow_rules(rulebook: Rulebook, cluster: Cluster, topic: str, reject: Reject) -> None:
    """Read `topic` from its beginning, then follow it until cancelled (the worker stops)."""
    consumer = AIOKafkaConsumer(
        client_id="ioc-rules",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
        **cluster.aiokafka(),
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while True:
            batches = await consumer.getmany(tp, timeout_ms=FETCH_WAIT_MS)
            for record in batches.get(tp, []):
                where = f"{topic}@{record.offset}"
                problems = rulebook.offer(record.value, where)
                if problems:
                    await reject("rule set rejected", problems, record.offset, record.value)
            if not rulebook.ready.is_set() and await at_fetched_end(consumer, tp):
                log.info("rules: %s read to its end; stages start", topic)
                rulebook.ready.set()
    finally:
        await consumer.stop()
