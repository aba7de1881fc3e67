"""Build the Faust application from settings. Nothing is created at import time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry, Info

from ioc import __version__
from ioc.settings import Settings
from ioc.streams.health import ProgressTracker

STALL_AFTER_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Runtime:
    """The app and what its agents share: settings and the Prometheus registry."""

    settings: Settings
    app: faust.App
    registry: CollectorRegistry


def create_app(settings: Settings, servers: Sequence[str]) -> Runtime:
    registry = CollectorRegistry(auto_describe=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in servers],
        # Table state is rebuilt from changelog topics; the broker is the source of truth.
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # At-least-once with idempotent sinks (DESIGN.md §8): every ack is a full commit.
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
    )
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="ioc_faust")
    Info("ioc_build", "Version of the ioc worker", registry=registry).info(
        {"version": __version__, "app_id": settings.app_id}
    )
    _add_health(app, settings)
    return Runtime(settings=settings, app=app, registry=registry)


def _add_health(app: faust.App, settings: Settings) -> None:
    tracker = ProgressTracker(stall_after=STALL_AFTER_SECONDS)

    @app.page("/health/live")
    async def live(self: Any, request: Any) -> Any:
        # The event loop answered: the process is alive.
        return self.json({"status": "alive"})

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        payload, ok = health_report(app, tracker)
        return self.json(payload, status=200 if ok else 503)


def health_report(app: faust.App, tracker: ProgressTracker) -> tuple[dict[str, Any], bool]:
    """Readiness: started, not rebalancing, and no assigned partition stalled with lag."""
    consumer: Any = app.consumer if app.started else None
    if consumer is None:
        return {"status": "starting"}, False
    if app.rebalancing:
        return {"status": "rebalancing"}, False
    positions: dict[str, tuple[int | None, int | None]] = {}
    for tp in consumer.assignment():
        if tp.topic.endswith("-changelog"):
            continue
        # Faust keeps no public accessor for these: the last offset read, else the committed one.
        read = consumer._read_offset.get(tp)
        position = read + 1 if read is not None else consumer._committed_offset.get(tp)
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # a partition being revoked has no highwater
            highwater = None
        positions[f"{tp.topic}:{tp.partition}"] = (position, highwater)
    stalled = tracker.observe(positions, time.monotonic())
    payload = {
        "status": "stalled" if stalled else "ok",
        "stalled": stalled,
        "partitions": tracker.report(),
    }
    return payload, not stalled
