"""The webhook sink against a local HTTP server that fails the first attempts; deliveries that
keep failing are parked, retried when due, and dead-lettered in the end."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from ioc.schemas.deadletter import DeadLetter
from ioc.sinks.webhook.retry import WebhookRetryStage
from ioc.sinks.webhook.sink import IMMEDIATE_ATTEMPTS, MAX_ATTEMPTS, Parked, WebhookSink
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs
from tests.harness.incidents import versions


@dataclass
class Endpoint:
    """A partner's endpoint: answers 503 to the first `failures` requests, then 204."""

    failures: int
    received: list[tuple[str, bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((request.headers["Idempotency-Key"], body))
        if len(self.received) <= self.failures:
            return web.Response(status=503, text="busy")
        return web.Response(status=204)


async def serve(endpoint: Endpoint) -> AsyncIterator[Endpoint]:
    app = web.Application()
    app.router.add_post("/hook", endpoint.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    endpoint.url = f"http://127.0.0.1:{port}/hook?token=secret"
    try:
        yield endpoint
    finally:
        await runner.cleanup()


def run_with(failures: int, body: Callable[[Endpoint], Awaitable[None]]) -> Endpoint:
    async def main() -> Endpoint:
        endpoint = Endpoint(failures)
        async for live in serve(endpoint):
            await body(live)
        return endpoint

    return asyncio.run(main())


class FakeTopic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []

    async def send(self, *, key: bytes, value: bytes) -> Awaitable[None]:
        self.sent.append((key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_a_delivery_that_succeeds_on_a_later_attempt_is_not_parked() -> None:
    incident = versions()[0]
    parked: list[Parked] = []

    async def park(p: Parked) -> None:
        parked.append(p)

    async def body(endpoint: Endpoint) -> None:
        sink = WebhookSink(endpoint.url, park)
        await sink.start()
        await sink.write([incident])
        await sink.stop()

    endpoint = run_with(IMMEDIATE_ATTEMPTS - 1, body)
    assert parked == []
    assert len(endpoint.received) == IMMEDIATE_ATTEMPTS
    assert {key for key, _ in endpoint.received} == {f"{incident.incident_id}:1"}
    assert endpoint.received[-1][1] == incident.model_dump_json().encode()


def test_a_failing_endpoint_parks_the_delivery_and_the_retry_stage_delivers_it_later() -> None:
    incident = versions()[1]
    parked: list[Parked] = []
    waits: list[float] = []
    clock = datetime.now(UTC)

    async def park(p: Parked) -> None:
        parked.append(p)

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def body(endpoint: Endpoint) -> None:
        sink = WebhookSink(endpoint.url, park)
        assert "secret" not in sink.name
        await sink.start()
        await sink.write([incident])
        await sink.stop()
        assert len(parked) == 1
        assert (parked[0].attempts, parked[0].last_error) == (
            IMMEDIATE_ATTEMPTS,
            "HTTP 503 Service Unavailable",
        )
        # Later, the endpoint is back: the retry stage waits for the parked time, then delivers.
        metrics = Metrics.create(CollectorRegistry())
        outputs = Outputs(FakeTopic(), FakeTopic(), FakeTopic(), metrics)  # type: ignore[arg-type]
        stage = WebhookRetryStage(park, outputs, metrics, clock=lambda: clock, sleep=fake_sleep)
        await stage.handle(_message(parked[0]))
        await stage.stop()

    endpoint = run_with(IMMEDIATE_ATTEMPTS, body)
    assert len(parked) == 1  # not parked again
    assert waits
    assert waits[0] > 0
    assert len(endpoint.received) == IMMEDIATE_ATTEMPTS + 1


def test_a_delivery_that_never_succeeds_is_dead_lettered_with_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    incident = versions()[2]
    reparked: list[Parked] = []
    registry = CollectorRegistry()
    metrics = Metrics.create(registry)
    deadletter = FakeTopic()
    outputs = Outputs(FakeTopic(), deadletter, FakeTopic(), metrics)  # type: ignore[arg-type]

    async def park(p: Parked) -> None:
        reparked.append(p)

    async def no_wait(seconds: float) -> None:
        return None

    async def body(endpoint: Endpoint) -> None:
        stage = WebhookRetryStage(park, outputs, metrics, sleep=no_wait)
        late = Parked(
            # A partner's credentials in the URL, and a token in its query.
            url=endpoint.url.replace("http://", "http://partner:hunter2@"),
            incident=incident,
            attempts=MAX_ATTEMPTS - 2,
            last_error="HTTP 503",
            next_attempt_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        await stage.handle(_message(late))  # fails: parked again, one attempt more
        await stage.handle(_message(reparked[-1]))  # fails for the last time
        await stage.stop()

    run_with(10**6, body)
    assert [p.attempts for p in reparked] == [MAX_ATTEMPTS - 1]
    assert reparked[0].next_attempt_at > datetime.now(UTC)
    ((_, value),) = deadletter.sent
    letter = DeadLetter.model_validate_json(value)
    assert letter.category == "webhook_gave_up"
    assert f"{incident.incident_id} v3 failed {MAX_ATTEMPTS} times" in letter.reason
    # Neither the password nor the token in the reason, the payload, the logs or the labels.
    shown = [
        letter.reason,
        base64.b64decode(letter.payload).decode(),
        caplog.text,
        *(str(s.labels) for m in registry.collect() for s in m.samples),
    ]
    assert "127.0.0.1" in letter.reason  # the endpoint is still named
    assert not [text for text in shown if "hunter2" in text or "secret" in text]


@dataclass
class _Msg:
    value: bytes
    topic: str = "ioc.webhook.retry"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None


def _message(parked: Parked) -> Any:
    return _Msg(parked.model_dump_json().encode())


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
