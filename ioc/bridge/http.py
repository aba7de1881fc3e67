"""HTTP ingest: `POST /ingest/{kind}` (a reading or a gateway batch) and FIWARE's IoT Agent
form `POST /iot/json?k=APIKEY&i=DEVICE` (a device's values), answered 202 only once Kafka
has the message.

Refusals say why, as JSON problem details: 401 for a key the registry does not know (or not
the device's), 403 for a key that may not send for the body's source, 404 for an unknown
device, 400 for a body that is not what the form needs, 413 above the size limit, 429 with
`Retry-After` while the producer is backed up, 503 when Kafka did not take the message.
Each refusal is counted by status. The API key travels in `X-API-Key` (or `?k=`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ioc.bridge.forward import Forwarder, Origin, now
from ioc.bridge.metrics import BridgeMetrics
from ioc.bridge.routing import Refused, Routed, Router

PROBLEM = "application/problem+json"
_STATUS = {
    "unknown-kind": 404,
    "unknown-device": 404,
    "not-json": 400,
    "not-an-object": 400,
    "no-source": 400,
}
_TITLES = {
    400: "Bad request",
    401: "Unknown API key",
    403: "Not allowed",
    404: "Not found",
    413: "Body too large",
    429: "Backed up",
    503: "Kafka unavailable",
}


@dataclass
class Ingest:
    router: Router
    forwarder: Forwarder
    metrics: BridgeMetrics
    max_bytes: int
    max_in_flight: int


def problem(metrics: BridgeMetrics, status: int, detail: str, **headers: str) -> JSONResponse:
    metrics.refused.labels(str(status)).inc()
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, or None past `limit` bytes (read no further than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def ingest_router(ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["ingest"])
    metrics = ingest.metrics

    async def deliver(routed: Routed, origin: Origin) -> Response:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[BaseException | None] = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, outcome, error)

        ingest.forwarder.forward(routed, origin, done)
        error = await outcome
        if error is not None:
            return problem(
                metrics, 503, f"Kafka did not take the message: {error}", **{"Retry-After": "5"}
            )
        metrics.forwarded.labels("http").inc()
        metrics.acknowledged.labels("http").inc()
        return JSONResponse({"accepted": True, "topic": routed.topic}, status_code=202)

    async def admit(request: Request) -> bytes | Response:
        metrics.received.labels("http").inc()
        if ingest.forwarder.in_flight >= ingest.max_in_flight:
            return problem(
                metrics,
                429,
                "the bridge has too many messages on their way to Kafka",
                **{"Retry-After": "1"},
            )
        body = await _body(request, ingest.max_bytes)
        if body is None:
            return problem(metrics, 413, f"the body is over {ingest.max_bytes} bytes")
        return body

    def refusal(refused: Refused, apikey: str | None) -> Response:
        if refused.category == "wrong-apikey":
            known = apikey is not None and ingest.router.registry.knows_key(apikey)
            return problem(metrics, 403 if known else 401, refused.reason)
        return problem(metrics, _STATUS.get(refused.category, 400), refused.reason)

    @router.post("/ingest/{kind}", status_code=202, summary="A reading or a gateway batch")
    async def ingest_readings(
        kind: str,
        request: Request,
        x_api_key: Annotated[str | None, Header()] = None,
        k: Annotated[str | None, Query(description="The API key, if not in X-API-Key.")] = None,
    ) -> Response:
        admitted = await admit(request)
        if isinstance(admitted, Response):
            return admitted
        apikey = x_api_key or k
        if apikey is None or not ingest.router.registry.knows_key(apikey):
            return problem(metrics, 401, "send the source's API key in X-API-Key")
        routed = ingest.router.route_readings(kind, apikey, admitted)
        if isinstance(routed, Refused):
            return refusal(routed, apikey)
        return await deliver(routed, _origin(request))

    @router.post("/iot/json", status_code=202, summary="A device's values (FIWARE IoT Agent JSON)")
    async def ingest_values(
        request: Request,
        k: Annotated[str, Query(description="The device group's API key.")],
        i: Annotated[str, Query(description="The device id.")],
    ) -> Response:
        admitted = await admit(request)
        if isinstance(admitted, Response):
            return admitted
        if not ingest.router.registry.knows_key(k):
            return problem(metrics, 401, "unknown API key")
        origin = _origin(request)
        routed = ingest.router.route_values(i, k, admitted, origin.received_at)
        if isinstance(routed, Refused):
            return refusal(routed, k)
        return await deliver(routed, origin)

    return router


def _settle(outcome: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not outcome.done():
        outcome.set_result(error)


def _origin(request: Request) -> Origin:
    client = request.client.host if request.client else "unknown"
    return Origin(f"http://{client}{request.url.path}", now())


def bridge_app(ingest: Ingest | None, health: Any) -> FastAPI:
    """The bridge's own service: ingest (for `ioc bridge http`), /health and /metrics."""
    app = FastAPI(title="ioc bridge", docs_url=None, redoc_url=None)
    if ingest is not None:
        app.include_router(ingest_router(ingest))
    metrics_registry = (ingest.metrics if ingest else health.metrics).registry

    @app.get("/health")
    def healthz() -> JSONResponse:
        state: dict[str, Any] = health.health()
        return JSONResponse(state, status_code=200 if state["ok"] else 503)

    @app.get("/metrics")
    def metrics_page() -> Response:
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    return app
