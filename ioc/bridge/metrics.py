"""What every bridge counts (docs/devices.md), on its own registry so that a
process serving both bridges, or a test running several, never registers a name twice."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True, slots=True)
class BridgeMetrics:
    registry: CollectorRegistry
    received: Counter
    forwarded: Counter
    acknowledged: Counter
    deadletters: Counter
    refused: Counter
    in_flight: Gauge
    reconnects: Counter
    produce_latency: Histogram
    connected: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> BridgeMetrics:
        registry = registry or CollectorRegistry()
        return cls(
            registry,
            Counter(
                "ioc_bridge_received",
                "Messages received from devices.",
                ["transport"],
                registry=registry,
            ),
            Counter(
                "ioc_bridge_forwarded",
                "Messages Kafka acknowledged on a sensor topic.",
                ["transport"],
                registry=registry,
            ),
            Counter(
                "ioc_bridge_acknowledged",
                "Messages acknowledged to their sender (PUBACK, HTTP 202) once Kafka had them.",
                ["transport"],
                registry=registry,
            ),
            Counter(
                "ioc_bridge_deadletters",
                "Messages the bridge could not route, written to the dead-letter topic.",
                ["reason"],
                registry=registry,
            ),
            Counter(
                "ioc_bridge_refused",
                "HTTP requests refused before Kafka (401, 413, 429…), by status.",
                ["status"],
                registry=registry,
            ),
            Gauge(
                "ioc_bridge_in_flight",
                "Messages sent to Kafka and not yet acknowledged by it.",
                registry=registry,
            ),
            Counter(
                "ioc_bridge_reconnects",
                "Connections re-established after a loss, by peer (mqtt).",
                ["peer"],
                registry=registry,
            ),
            Histogram(
                "ioc_bridge_produce_latency_seconds",
                "From the send to Kafka to its acknowledgement.",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                registry=registry,
            ),
            Gauge(
                "ioc_bridge_mqtt_connected",
                "1 while connected to the MQTT broker.",
                registry=registry,
            ),
        )
