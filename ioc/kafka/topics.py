"""The topics ioc owns, with their partition counts and cleanup policies (docs/architecture.md).

One list serves the embedded broker, `ioc topics`, the worker and the deployment's topic-init
job, so that they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioc.districts import DISTRICT_SLUGS
from ioc.settings import Settings

SENSOR_TOPICS = ("sensors.traffic", "sensors.camera", "sensors.environment")
DEADLETTER = "ioc.deadletter"
ALERTS = "ioc.alerts"
INCIDENTS = "ioc.incidents"
COMMANDS = "ioc.commands"
SENSORS = "ioc.sensors"
ZONES = "ioc.zones"
RULES = "ioc.rules"
DEVICES = "ioc.devices"
WEBHOOK_RETRY = "ioc.webhook.retry"


def district_incidents(slug: str) -> str:
    return f"{INCIDENTS}.{slug}"


def correlation_cells(settings: Settings) -> str:
    """Alerts on their way to correlation, keyed by rule and grid cell: the app's own topic,
    named after it like Faust's changelogs."""
    return settings.topic(f"{settings.app_id}-correlation-cells")


def consumed_topics(settings: Settings) -> list[str]:
    """The topics the worker's consumer group reads."""
    names = (*SENSOR_TOPICS, ALERTS, COMMANDS, INCIDENTS, WEBHOOK_RETRY)
    return [settings.topic(t) for t in names] + [correlation_cells(settings)]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    replication: int = 1
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact" if self.compacted else "delete"}
        configs.update(self.configs)
        return configs


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic ioc reads or writes, with the settings' prefix applied."""
    n, r = settings.partitions, settings.replication_factor
    specs = [TopicSpec(settings.topic(t), n, replication=r) for t in SENSOR_TOPICS]
    specs += [
        TopicSpec(settings.topic(DEADLETTER), n, replication=r),
        TopicSpec(settings.topic(ALERTS), n, replication=r),
        TopicSpec(settings.topic(INCIDENTS), n, compacted=True, replication=r),
        TopicSpec(settings.topic(COMMANDS), n, replication=r),
        TopicSpec(settings.topic(SENSORS), n, compacted=True, replication=r),
        TopicSpec(settings.topic(WEBHOOK_RETRY), n, replication=r),
        # Reference data: one partition keeps a total order of reloads.
        TopicSpec(settings.topic(ZONES), 1, compacted=True, replication=r),
        TopicSpec(settings.topic(RULES), 1, compacted=True, replication=r),
        TopicSpec(settings.topic(DEVICES), 1, compacted=True, replication=r),
        TopicSpec(correlation_cells(settings), n, replication=r),
    ]
    specs += [
        TopicSpec(settings.topic(district_incidents(slug)), 1, compacted=True, replication=r)
        for slug in DISTRICT_SLUGS
    ]
    return specs
