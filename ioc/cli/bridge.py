"""`ioc bridge mqtt|http`: sensor fleets that speak MQTT or HTTP, into the Kafka sensor topics."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ioc.cli.common import CommandError, connect, create_topics, say, settings_from, setup_logging
from ioc.kafka.cluster import Cluster
from ioc.settings import Settings

HELP = "bridge MQTT or HTTP devices into the Kafka sensor topics"
DESCRIPTION = """\
Bridge devices that do not speak Kafka. Every message is produced to its sensor topic with
acks=all by an idempotent producer, and acknowledged to the device only once Kafka has it:
an MQTT PUBACK (QoS 1), an HTTP 202. A message that cannot be routed (a topic that fits no
template, an unknown device, a wrong API key, values that are not JSON) goes to
ioc.deadletter with the reason; nothing is dropped. The bridge does not validate readings:
the workers do, and their dead letters name the bridge's origin (MQTT topic, HTTP client).

  mqtt  subscribe (QoS 1, persistent session, shared by the replicas) to IOC_MQTT_URL
  http  serve POST /ingest/{kind} and POST /iot/json?k=APIKEY&i=DEVICE

Devices that send only values are completed from the device registry (`ioc devices load`).
Each bridge serves /health and /metrics on IOC_BRIDGE_PORT (default 8090).
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "bridge",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="transport", metavar="TRANSPORT", required=True)
    mqtt = kinds.add_parser(
        "mqtt",
        help="MQTT broker → Kafka",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  ioc bridge mqtt --mqtt mqtt://127.0.0.1:1883\n"
            "  IOC_MQTT_URL=mqtts://mqtt.lamdong.gov.vn:8883 IOC_MQTT_CAFILE=ca.pem \\\n"
            "    IOC_MQTT_USERNAME=bridge IOC_MQTT_PASSWORD=… ioc bridge mqtt --host 0.0.0.0"
        ),
    )
    mqtt.add_argument("--mqtt", metavar="URL", help="the MQTT broker (overrides IOC_MQTT_URL)")
    mqtt.add_argument("--client-id", metavar="ID", help="MQTT client id (one per replica)")
    mqtt.set_defaults(run=run_mqtt)
    http = kinds.add_parser(
        "http",
        help="HTTP ingest → Kafka",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  ioc bridge http --port 8091\n"
            "  curl -H 'X-API-Key: KEY' -d @reading.json localhost:8091/ingest/environment"
        ),
    )
    http.set_defaults(run=run_http)
    for each in (mqtt, http):
        each.add_argument("--port", type=int, metavar="P", help="port of /health, /metrics, ingest")
        each.add_argument("--host", metavar="ADDR", help="address to bind (default 127.0.0.1)")
        each.add_argument(
            "--log-level", choices=["debug", "info", "warning", "error"], help="log level"
        )


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return settings_from(
        args, bridge_port=args.port, bridge_host=args.host, log_level=args.log_level, **extra
    )


def _forwarder(settings: Settings, cluster: Cluster, metrics: Any, client_id: str) -> Any:
    """The producer, once Kafka answers: a bridge takes no message it could not forward."""
    from ioc.bridge.forward import Forwarder

    # The embedded broker is Tansu, which refuses idempotent producers.
    idempotent = settings.bridge_idempotent and settings.broker is not None
    forwarder = Forwarder(settings, cluster, metrics, client_id=client_id, idempotent=idempotent)
    deadline = time.monotonic() + settings.broker_ready_timeout
    while not forwarder.reachable():
        if time.monotonic() > deadline:
            forwarder.close(timeout=0)
            raise CommandError(f"cannot reach Kafka at {cluster.urls}")
        logging.getLogger("ioc.bridge").warning("waiting for Kafka at %s", cluster.urls)
    return forwarder


def _registry(settings: Settings, cluster: Cluster) -> tuple[Any, Any]:
    from ioc.bridge.follow import RegistryFollower
    from ioc.bridge.registry import Registry

    registry = Registry()
    follower = RegistryFollower(settings, cluster, registry)
    follower.start()
    if not follower.ready.wait(timeout=settings.broker_ready_timeout):
        follower.stop()
        raise CommandError(f"could not read the device registry ({follower.topic})")
    return registry, follower


def _serve(settings: Settings, app: Any, what: str) -> None:
    import uvicorn

    from ioc.cli.console import bind

    sock = bind(settings.bridge_host, settings.bridge_port)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host

    def terminated(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)  # through the callers' cleanup: in-flight messages flushed

    # uvicorn handles SIGTERM while it serves, then raises it again for this handler.
    signal.signal(signal.SIGTERM, terminated)
    say(f"{what}; health at http://{shown}:{port}/health")
    try:
        asyncio.run(server.serve(sockets=[sock]))
    finally:
        sock.close()


@dataclass(frozen=True, slots=True)
class _Parts:
    servers: tuple[str, ...]
    metrics: Any  # BridgeMetrics
    registry: Any  # Registry, followed
    forwarder: Any  # Forwarder


@contextlib.contextmanager
def bridge_parts(settings: Settings, client_id: str) -> Iterator[_Parts]:
    """What both bridges stand on: the broker, the device registry followed, the producer;
    closed in the reverse order, also when one of them cannot be had."""
    from ioc.bridge.metrics import BridgeMetrics

    conn = connect(settings, may_start=False)
    with contextlib.ExitStack() as opened:
        opened.callback(conn.close)
        create_topics(settings, conn.cluster, administrator=False)
        metrics = BridgeMetrics.create()
        registry, follower = _registry(settings, conn.cluster)
        opened.callback(follower.stop)
        forwarder = _forwarder(settings, conn.cluster, metrics, client_id)
        opened.callback(forwarder.close)
        yield _Parts(conn.servers, metrics, registry, forwarder)


def run_mqtt(args: argparse.Namespace) -> int:
    from ioc.bridge.http import bridge_app
    from ioc.bridge.mqtt import MqttBridge, MqttOptions, MqttUrl, MqttUrlError
    from ioc.bridge.routing import Router, TemplateError, parse_templates

    extra: dict[str, Any] = {}
    if args.mqtt:
        extra["mqtt_url"] = args.mqtt
    if args.client_id:
        extra["mqtt_client_id"] = args.client_id
    settings = _settings(args, **extra)
    setup_logging(settings.log_level)
    try:
        url = MqttUrl.parse(settings.mqtt_url)
        templates = parse_templates(settings.mqtt_topics)
    except (MqttUrlError, TemplateError) as exc:
        raise CommandError(str(exc)) from None
    options = MqttOptions(
        url=url,
        client_id=settings.mqtt_client_id,
        group=settings.mqtt_group or None,
        receive_maximum=settings.mqtt_receive_maximum,
        protocol=settings.mqtt_protocol,
        username=settings.mqtt_username,
        password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        cafile=settings.mqtt_cafile,
    )
    with bridge_parts(settings, "ioc-bridge-mqtt") as parts:
        router = Router(templates, parts.registry, settings.ingest_max_bytes)
        bridge = MqttBridge(options, templates, router, parts.forwarder, parts.metrics)
        stop = threading.Event()
        supervisor = threading.Thread(
            target=bridge.supervise,
            args=(stop, parts.forwarder.reachable),
            name="supervise",
            daemon=True,
        )
        bridge.start()
        supervisor.start()
        subscriptions = ", ".join(bridge.subscriptions())
        try:
            _serve(
                settings,
                bridge_app(None, bridge),
                f"bridge: {url} [{subscriptions}] → kafka://{parts.servers[0]}",
            )
        finally:
            stop.set()
            bridge.stop()
    logging.getLogger("ioc.bridge").info("MQTT bridge stopped")
    return 0


class _KafkaHealth:
    def __init__(self, forwarder: Any, metrics: Any) -> None:
        self.forwarder = forwarder
        self.metrics = metrics

    def health(self) -> dict[str, Any]:
        connected = bool(self.forwarder.reachable(timeout=1.0))
        return {
            "kafka": "connected" if connected else "unreachable",
            "in_flight": self.forwarder.in_flight,
            "kafka_failures": self.forwarder.failures,
            "ok": connected,
        }


def http_ingest(settings: Settings, parts: _Parts) -> Any:
    """HTTP ingest (ioc.bridge.http.Ingest) on the parts: `ioc bridge http`'s, or mounted
    in the console (`ioc console --ingest`)."""
    from ioc.bridge.http import Ingest
    from ioc.bridge.routing import Router, parse_templates

    router = Router(parse_templates(settings.mqtt_topics), parts.registry)
    return Ingest(
        router,
        parts.forwarder,
        parts.metrics,
        settings.ingest_max_bytes,
        settings.ingest_max_in_flight,
    )


def run_http(args: argparse.Namespace) -> int:
    from ioc.bridge.http import bridge_app

    settings = _settings(args)
    setup_logging(settings.log_level)
    with bridge_parts(settings, "ioc-bridge-http") as parts:
        ingest = http_ingest(settings, parts)
        _serve(
            settings,
            bridge_app(ingest, _KafkaHealth(parts.forwarder, parts.metrics)),
            f"bridge: HTTP ingest → kafka://{parts.servers[0]}",
        )
    return 0
