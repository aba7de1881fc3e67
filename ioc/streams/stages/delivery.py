"""The delivery stage: `ioc.incidents` → every configured sink.

A message is acknowledged (its offset may be committed) only once every sink has it. A sink
that fails is retried with exponential backoff, for as long as it takes: the stage holds its
position rather than skip an incident, and the lag shows on /health and in the metrics.
Sinks are idempotent on (incident_id, version), so what a crash makes the stage deliver
again is absorbed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from ioc.schemas.incidents import Incident
from ioc.sinks.base import Sink, SinkError
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs

log = logging.getLogger("ioc.sinks")

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 30.0


class DeliveryStage:
    def __init__(self, sinks: Sequence[Sink], outputs: Outputs, metrics: Metrics) -> None:
        self.sinks = list(sinks)
        self.outputs = outputs
        self.metrics = metrics
        self._started = False
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Open every sink, retrying those that cannot open yet (a database still starting)."""
        async with self._start_lock:
            if self._started:
                return
            for sink in self.sinks:
                await self._retrying(sink, sink.start, "open")
                log.info("sink %s open", sink.name)
            self._started = True

    async def stop(self) -> None:
        for sink in self.sinks:
            try:
                await sink.stop()
            except Exception:  # closing must not hide the reason the worker stops
                log.exception("%s: failed to close", sink.name)

    async def handle(self, message: Any) -> None:
        try:
            incident = Incident.model_validate_json(message.value or b"")
        except ValidationError as exc:
            await self.outputs.refuse(message, "bad_internal_record", f"incident: {exc}")
            return
        if not self._started:
            await self.start()
        for sink in self.sinks:
            await self._retrying(sink, lambda s=sink: s.write([incident]), "write")
            self.metrics.sink_writes.labels(sink.name).inc()

    async def _retrying(self, sink: Sink, attempt: Any, what: str) -> None:
        delay = FIRST_RETRY_S
        while True:
            try:
                await attempt()
                return
            except SinkError as exc:
                self.metrics.sink_failures.labels(sink.name).inc()
                log.warning("%s: %s failed (%s); retrying in %.1f s", sink.name, what, exc, delay)
            await asyncio.sleep(delay)  # backoff: the sink is down, there is nothing to await
            delay = min(delay * 2, MAX_RETRY_S)
