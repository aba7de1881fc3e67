"""`/api/events`: Server-Sent Events of incident versions and sensor statuses, as they arrive.

Events: `hello` first (its id is where the stream starts), then `incident` (a whole incident
version) and `sensors` (a list of sensor statuses, of one source), and `reset` when events
were missed that cannot be replayed (the client reloads the list). A client reconnects with
`Last-Event-ID`, from any console replica. The caller's token is checked again while the
stream is open: a revoked token ends it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse

from ioc.console.access import Principal
from ioc.console.deps import CallerDep, ConsoleDep
from ioc.console.problems import Problem, responses
from ioc.console.service import Console

router = APIRouter(prefix="/api", tags=["live"])
RECHECK_S = 30.0
PING_S = 15


async def _stream(
    console: Console, request: Request, principal: Principal, last_event_id: str | None
) -> AsyncIterator[dict[str, Any] | bytes]:
    feed = console.feed
    sub = feed.open(principal, last_event_id)
    authorization = request.headers.get("authorization")
    try:
        hello = {
            "role": str(principal.role),
            "position": feed.position,
            "connected": feed.connected,
        }
        yield {"event": "hello", "id": feed.position, "data": orjson.dumps(hello).decode()}
        while True:
            # Every event waiting is sent in one write, each encoded once for all clients:
            # what lets one console serve a hundred clients hundreds of events a second.
            events = await sub.batch(RECHECK_S)
            if not events:
                try:
                    await console.auth.principal(authorization)
                except Problem:
                    yield {"event": "revoked", "data": "{}"}
                    return
                continue
            yield b"".join(event.frame for event in events)
    finally:
        feed.close(sub)


@router.get(
    "/events",
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **responses(401, 422),
    },
    response_class=EventSourceResponse,
    summary="Live incident versions and sensor statuses (Server-Sent Events)",
)
async def events(
    console: ConsoleDep,
    principal: CallerDep,
    request: Request,
    last_event_id: Annotated[str | None, Header(max_length=4000)] = None,
) -> EventSourceResponse:
    return EventSourceResponse(
        _stream(console, request, principal, last_event_id),
        ping=PING_S,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
