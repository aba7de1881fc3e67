"""Webhooks (`https://…`, or `http://…` inside a trusted network): each incident version POSTed
as JSON to a district's or a partner's endpoint.

A delivery is tried a few times at once, with backoff. If the endpoint still fails, the
delivery is parked on the retry topic (`ioc.webhook.retry`) and the stage moves on: one
partner's outage must not hold every other sink back. The retry stage tries parked deliveries
again later, with growing delays, and dead-letters one that has failed for MAX_ATTEMPTS.

Receivers get `Idempotency-Key: <incident_id>:<version>` and should ignore a version older
than the one they hold: a parked version may arrive after a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from ioc.schemas.common import UtcDatetime
from ioc.schemas.incidents import Incident

IMMEDIATE_ATTEMPTS = 3
FIRST_DELAY_S = 0.5
REQUEST_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 20
MAX_PARK_DELAY = timedelta(minutes=10)


class Parked(BaseModel):
    """A delivery waiting on the retry topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: Annotated[str, Field(max_length=2000)]
    incident: Incident
    attempts: Annotated[int, Field(ge=1)]
    last_error: Annotated[str, Field(max_length=500)]
    next_attempt_at: UtcDatetime


Park = Callable[[Parked], Awaitable[None]]


def next_delay(attempts: int) -> timedelta:
    """After n failed attempts: 30 s, 1 min, 2 min … up to MAX_PARK_DELAY."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - IMMEDIATE_ATTEMPTS, 0)), MAX_PARK_DELAY)


class WebhookError(Exception):
    pass


async def post(session: aiohttp.ClientSession, url: str, incident: Incident) -> None:
    """One attempt; WebhookError unless the endpoint answers 2xx."""
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": f"{incident.incident_id}:{incident.version}",
        "User-Agent": "ioc-webhook",
    }
    try:
        async with session.post(
            url, data=incident.model_dump_json().encode(), headers=headers
        ) as response:
            if not 200 <= response.status < 300:
                raise WebhookError(f"HTTP {response.status} {response.reason or ''}".strip())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebhookError(f"{type(exc).__name__}: {exc}"[:500]) from None


def redacted_url(url: str) -> str:
    """The URL without its user, password and query: what logs, labels and dead letters show."""
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = host.rsplit("@", 1)[1]
    # Tokens often ride in query strings: keep the path, drop the query.
    return f"{scheme}://{host}{slash}{path.split('?', 1)[0]}"


class WebhookSink:
    def __init__(self, url: str, park: Park) -> None:
        self.url = url
        self.name = redacted_url(url)
        self.park = park
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        )

    async def write(self, incidents: Sequence[Incident]) -> None:
        assert self._session is not None, "start() the sink first"
        for incident in incidents:
            error = ""
            delay = FIRST_DELAY_S
            for attempt in range(1, IMMEDIATE_ATTEMPTS + 1):
                try:
                    await post(self._session, self.url, incident)
                    break
                except WebhookError as exc:
                    error = str(exc)
                if attempt < IMMEDIATE_ATTEMPTS:
                    await asyncio.sleep(delay)  # backoff before trying the endpoint again
                    delay *= 2
            else:
                await self.park(
                    Parked(
                        url=self.url,
                        incident=incident,
                        attempts=IMMEDIATE_ATTEMPTS,
                        last_error=error,
                        next_attempt_at=datetime.now(UTC) + next_delay(IMMEDIATE_ATTEMPTS),
                    )
                )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
