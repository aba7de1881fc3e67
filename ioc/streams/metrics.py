"""The pipeline's Prometheus metrics, on the worker's own registry (served at /metrics)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

RULESET_LOAD_RESULTS = ("accepted", "rejected")


@dataclass(frozen=True, slots=True)
class Metrics:
    messages: Counter
    readings: Counter
    deadletters: Counter
    redelivered: Counter
    alerts: Counter
    engine_events: Counter
    ruleset_loads: Counter
    ruleset: Info
    ruleset_loaded_at: Gauge
    incidents: Counter
    commands: Counter
    latency: Histogram
    sink_writes: Counter
    sink_failures: Counter
    sensor_statuses: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        metrics = cls(
            messages=Counter(
                "ioc_messages",
                "Sensor-topic messages read, by topic",
                ["topic"],
                registry=registry,
            ),
            readings=Counter(
                "ioc_readings",
                "Valid readings placed on the map and evaluated, by kind",
                ["kind"],
                registry=registry,
            ),
            deadletters=Counter(
                "ioc_deadletters",
                "Messages or readings refused and sent to the dead-letter topic, by reason",
                ["reason"],
                registry=registry,
            ),
            sensor_statuses=Counter(
                "ioc_sensor_statuses",
                "Messages of sources' sensor statuses published (the console's map)",
                registry=registry,
            ),
            redelivered=Counter(
                "ioc_redelivered_messages",
                "Messages read again after a restart that the rule state had already applied",
                registry=registry,
            ),
            alerts=Counter(
                "ioc_alerts",
                "Alerts published to the alerts topic, by rule and status",
                ["rule", "status"],
                registry=registry,
            ),
            engine_events=Counter(
                "ioc_rule_engine_events",
                "What the rule engine counted: late readings beyond grace, implausible values, "
                "stale readings that downgraded an alert, …",
                ["event"],
                registry=registry,
            ),
            ruleset_loads=Counter(
                "ioc_ruleset_loads",
                "Rule sets read from the rules topic, accepted or rejected",
                ["result"],
                registry=registry,
            ),
            ruleset=Info("ioc_ruleset", "The rule set in use", registry=registry),
            ruleset_loaded_at=Gauge(
                "ioc_ruleset_loaded_at_seconds",
                "When the rule set in use was loaded (Unix time)",
                registry=registry,
            ),
            incidents=Counter(
                "ioc_incident_changes",
                "Incident versions published, by district (province: none), severity and action",
                ["district", "severity", "action"],
                registry=registry,
            ),
            commands=Counter(
                "ioc_commands",
                "Operator commands applied, ignored (already so) or refused",
                ["action", "result"],
                registry=registry,
            ),
            latency=Histogram(
                "ioc_event_to_incident_seconds",
                "From the event time of an alert's evidence to its incident being published",
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600),
                registry=registry,
            ),
            sink_writes=Counter(
                "ioc_sink_writes",
                "Incident versions handed to each sink (idempotent: repeats are ignored there)",
                ["sink"],
                registry=registry,
            ),
            sink_failures=Counter(
                "ioc_sink_failures",
                "Failed sink writes, each retried with backoff",
                ["sink"],
                registry=registry,
            ),
        )
        # Both outcomes exported from the start, at 0: a counter series that first appears at
        # 1 has no increase to alert on (deploy/prometheus/alerts.yml, IocRuleSetRejected).
        for result in RULESET_LOAD_RESULTS:
            metrics.ruleset_loads.labels(result)
        return metrics
