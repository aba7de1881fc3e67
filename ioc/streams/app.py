"""Build the Faust application from settings. Nothing is created at import time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import faust
from prometheus_client import CollectorRegistry, Info

from ioc import __version__
from ioc.cap import ZoneNames, zone_names
from ioc.geo import ZoneIndex, load_zones
from ioc.incidents.lifecycle import Policy
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import (
    ALERTS,
    COMMANDS,
    DEADLETTER,
    INCIDENTS,
    RULES,
    SENSOR_TOPICS,
    SENSORS,
    WEBHOOK_RETRY,
    correlation_cells,
)
from ioc.rules.loader import default_rules
from ioc.schemas.alerts import Severity
from ioc.schemas.commands import Command
from ioc.schemas.common import utcnow
from ioc.settings import Settings
from ioc.sinks.registry import SinkContext, sinks_from_urls
from ioc.sinks.webhook.retry import WebhookRetryStage
from ioc.sinks.webhook.sink import Parked
from ioc.streams.faust import patches as faust_patches
from ioc.streams.faust.changelog import ChangelogTable
from ioc.streams.faust.monitor import setup_prometheus
from ioc.streams.faust.raw_topics import raw_topic
from ioc.streams.health import ProgressTracker, health_report
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs, internal_rejection
from ioc.streams.rulebook import Rulebook, follow_rules
from ioc.streams.stages.correlation import CorrelationStage
from ioc.streams.stages.delivery import DeliveryStage
from ioc.streams.stages.incidents import SLA_TICK_S, IncidentStage
from ioc.streams.stages.readings import ReadingsStage
from ioc.streams.stages.sensor_status import SensorStatusTracker
from ioc.streams.write_behind import WriteBehind

STALL_AFTER_SECONDS = 60.0
CHANGELOG_BATCH_BYTES = 512 * 1024  # under aiokafka's 1 MB request limit
READINGS_BATCH = 500  # messages the readings stage handles at once, at most
READINGS_WITHIN_S = 0.05  # ... and how long it waits to fill a batch: a bound on latency


@dataclass(frozen=True, slots=True)
class Runtime:
    """The app and what its agents share: settings, the Prometheus registry, the rules."""

    settings: Settings
    app: faust.App
    registry: CollectorRegistry
    metrics: Metrics
    rulebook: Rulebook


def create_app(settings: Settings, cluster: Cluster) -> Runtime:
    faust_patches.apply(settings.fetch_max_wait_ms, cluster)
    registry = CollectorRegistry(auto_describe=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in cluster.servers],
        # Table state is rebuilt from changelog topics; the broker is the source of truth.
        store="memory://",
        # No standby copies: in memory a standby costs a worker as much as the active state,
        # and its recovery compares with the broker's ListOffsets high watermark, which Tansu
        # answers low after a multi-record batch (a standby then crashes the worker on
        # ConsistencyError). A partition taken over is rebuilt from its changelog instead.
        table_standby_replicas=0,
        autodiscover=False,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # At-least-once with sinks idempotent on (incident_id, version): every ack is a full commit.
        producer_acks=-1,
        # The engine-state changelog is written in record batches of this size (changelog.py).
        producer_max_batch_size=CHANGELOG_BATCH_BYTES,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        broker_credentials=cluster.security.faust(),
    )
    setup_prometheus(app, registry, name_prefix="ioc_faust")
    Info("ioc_build", "Version of the ioc worker", registry=registry).info(
        {"version": __version__, "app_id": settings.app_id}
    )
    metrics = Metrics.create(registry)
    zone_set = load_zones(settings.zones)
    rulebook = Rulebook(default_rules(), zone_set.version, metrics, clock=utcnow)
    _add_health(app, settings, rulebook)
    _add_stages(app, settings, cluster, metrics, rulebook, ZoneIndex(zone_set))
    return Runtime(settings, app, registry, metrics, rulebook)


def _add_incidents(
    app: faust.App,
    settings: Settings,
    cluster: Cluster,
    metrics: Metrics,
    outputs: Outputs,
    names: ZoneNames,
) -> None:
    # Settings validated the keys as severities.
    ack_sla = cast(dict[Severity, timedelta], dict(settings.ack_sla))
    policy = Policy(ack_sla=ack_sla, reopen_within=settings.reopen_within)
    incidents_topic = raw_topic(app, settings.topic(INCIDENTS))
    commands_topic = raw_topic(app, settings.topic(COMMANDS))
    table = app.Table("incidents", default=None, partitions=settings.partitions)
    stage = IncidentStage(
        policy, table, outputs, incidents_topic, metrics, alerts_topic=settings.topic(ALERTS)
    )
    inputs = raw_topic(app, settings.topic(ALERTS), settings.topic(COMMANDS))

    async def incidents_agent(stream: Any) -> None:
        async for event in stream.events():
            await stage.handle(event.message)

    app.agent(inputs, name="incidents")(incidents_agent)

    async def sla_tick() -> None:
        consumer: Any = app.consumer
        name = settings.topic(COMMANDS)
        tick = Command(action="sla_check", actor="system", at=utcnow()).model_dump_json()
        for tp in sorted(consumer.assignment()):
            if tp.topic == name:
                await commands_topic.send(value=tick.encode(), partition=tp.partition)

    app.timer(SLA_TICK_S, name="sla-tick")(sla_tick)

    retry_topic = raw_topic(app, settings.topic(WEBHOOK_RETRY))

    async def park(parked: Parked) -> None:
        fut = await retry_topic.send(
            key=parked.incident.incident_id.encode(), value=parked.model_dump_json().encode()
        )
        await asyncio.gather(fut)

    sinks = sinks_from_urls(
        settings.sinks,
        SinkContext(settings.data_dir, cluster, settings.topic_prefix, park, names),
    )
    retry = WebhookRetryStage(park, outputs, metrics)

    async def retry_agent(stream: Any) -> None:
        async for event in stream.events():
            await retry.handle(event.message)

    app.agent(retry_topic, name="webhook-retry")(retry_agent)
    delivery = DeliveryStage(sinks, outputs, metrics)

    async def delivery_agent(stream: Any) -> None:
        async for event in stream.events():
            await delivery.handle(event.message)

    app.agent(incidents_topic, name="delivery")(delivery_agent)

    async def close_sinks(sender: Any, *args: Any, **kwargs: Any) -> None:
        await delivery.stop()
        await retry.stop()

    app.on_before_shutdown.connect(cast(Any, close_sinks))


def _add_stages(
    app: faust.App,
    settings: Settings,
    cluster: Cluster,
    metrics: Metrics,
    rulebook: Rulebook,
    index: ZoneIndex,
) -> None:
    outputs = Outputs(
        alerts=raw_topic(app, settings.topic(ALERTS)),
        deadletter=raw_topic(app, settings.topic(DEADLETTER)),
        cells=raw_topic(app, correlation_cells(settings), partitions=settings.partitions),
        metrics=metrics,
        sensors=raw_topic(app, settings.topic(SENSORS)),
    )
    # Keys and values are plain JSON (Faust's table default): anyone debugging can read them.
    engine_state = app.Table(
        "engine-state",
        default=None,
        partitions=settings.partitions,
    )
    correlation_state = app.Table(
        "correlation-state",
        default=None,
        partitions=settings.partitions,
    )
    state = ChangelogTable(engine_state)
    readings = ReadingsStage(
        rulebook,
        index,
        state,
        outputs,
        metrics,
        topics=[settings.topic(t) for t in SENSOR_TOPICS],
        statuses=(
            SensorStatusTracker(settings.sensor_status_interval.total_seconds())
            if settings.sensor_status_interval.total_seconds() > 0
            else None
        ),
    )
    correlation = CorrelationStage(rulebook, correlation_state, outputs, metrics)
    _add_incidents(app, settings, cluster, metrics, outputs, zone_names(index.zone_set))

    async def assigned(sender: Any, *args: Any, **kwargs: Any) -> None:
        rulebook.new_epoch()

    app.on_partitions_assigned.connect(cast(Any, assigned))

    def release(message: Any) -> None:
        """A held sensor message's acknowledgement, once its batch's state is written (what
        Faust's stream would do, had it not been held: the offset, then the sensors)."""
        if message.ack(app.consumer):
            app.sensors.on_message_out(message.tp, message.offset, message)

    async def reject(reason: str, problems: list[str], offset: int, value: bytes | None) -> None:
        await outputs.dead_letter(
            [internal_rejection("rule_set_rejected", "; ".join(problems))],
            raw=value or b"",
            topic=settings.topic(RULES),
            partition=0,
            offset=offset,
            key=None,
        )

    async def rules() -> None:
        await follow_rules(rulebook, cluster, settings.topic(RULES), reject)

    app.task(rules)

    sensor_topics = raw_topic(app, *(settings.topic(t) for t in SENSOR_TOPICS))

    @app.agent(sensor_topics, name="readings")
    async def readings_agent(stream: Any) -> None:
        await rulebook.ready.wait()
        # Batches: zones, rules and state writes cost far less per reading done together.
        # A batch's messages are acknowledged once its state is in the changelog, written
        # while the next batch is handled (at least once: ioc/streams/write_behind.py).
        writes = WriteBehind(state.flush, release)
        try:
            async for events in stream.take_events(READINGS_BATCH, within=READINGS_WITHIN_S):
                messages = [event.message for event in events]
                await readings.apply(messages)
                await writes.submit(messages)
        finally:
            # A worker stopping writes the last batch's states, so that its offsets are
            # committed on the way out rather than read again after the restart.
            await writes.wait()

    @app.agent(outputs.cells, name="correlation")
    async def correlation_agent(stream: Any) -> None:
        await rulebook.ready.wait()
        async for event in stream.events():
            await correlation.handle(event.message)


def _add_health(app: faust.App, settings: Settings, rulebook: Rulebook) -> None:
    tracker = ProgressTracker(stall_after=STALL_AFTER_SECONDS)
    waiting = frozenset({settings.topic(WEBHOOK_RETRY)})

    @app.page("/health/live")
    async def live(self: Any, request: Any) -> Any:
        # The event loop answered: the process is alive.
        return self.json({"status": "alive"})

    @app.page("/health")
    async def health(self: Any, request: Any) -> Any:
        payload, ok = health_report(
            app, tracker, waiting=waiting, rules_ready=rulebook.ready.is_set()
        )
        return self.json(payload, status=200 if ok else 503)
