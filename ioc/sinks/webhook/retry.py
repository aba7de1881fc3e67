"""The webhook retry stage: deliveries parked on `ioc.webhook.retry` are tried again when due.

It waits for a parked delivery's time in the stage itself (a partition of parked deliveries is
a queue in time order), so the retry topic's partitions make no progress while they wait, by
design; /health does not count them as stalled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import ValidationError

from ioc.schemas.common import utcnow
from ioc.sinks.webhook.sink import (
    MAX_ATTEMPTS,
    REQUEST_TIMEOUT_S,
    Park,
    Parked,
    WebhookError,
    next_delay,
    post,
    redacted_url,
)
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs

log = logging.getLogger("ioc.sinks")


class WebhookRetryStage:
    def __init__(
        self,
        park: Park,
        outputs: Outputs,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.park = park
        self.outputs = outputs
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def handle(self, message: Any) -> None:
        try:
            parked = Parked.model_validate_json(message.value or b"")
        except ValidationError as exc:
            await self.outputs.refuse(message, "bad_internal_record", f"parked delivery: {exc}")
            return
        wait = (parked.next_attempt_at - self.clock()).total_seconds()
        if wait > 0:
            await self.sleep(wait)  # the delivery's retry time: a timer, not a synchronisation
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
            )
        incident = parked.incident
        name = redacted_url(parked.url)
        try:
            await post(self._session, parked.url, incident)
        except WebhookError as exc:
            attempts = parked.attempts + 1
            self.metrics.sink_failures.labels(name).inc()
            if attempts >= MAX_ATTEMPTS:
                log.error(
                    "%s: gave up on %s v%d after %d attempts: %s",
                    name,
                    incident.incident_id,
                    incident.version,
                    attempts,
                    exc,
                )
                await self.outputs.refuse(
                    message,
                    "webhook_gave_up",
                    f"{name}: {incident.incident_id} v{incident.version} failed {attempts} "
                    f"times; last: {exc}",
                    # The delivery as parked, but naming its endpoint as the logs do.
                    raw=parked.model_copy(update={"url": name}).model_dump_json().encode(),
                )
                return
            await self.park(
                parked.model_copy(
                    update={
                        "attempts": attempts,
                        "last_error": str(exc)[:500],
                        "next_attempt_at": self.clock() + next_delay(attempts),
                    }
                )
            )
            return
        self.metrics.sink_writes.labels(name).inc()
        log.info(
            "%s: delivered %s v%d on attempt %d",
            name,
            incident.incident_id,
            incident.version,
            parked.attempts + 1,
        )
