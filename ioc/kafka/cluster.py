"""The cluster a client connects to: its bootstrap servers and how to authenticate, built
once from the settings and handed to whatever builds a Kafka client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ioc.kafka.security import KafkaSecurity
from ioc.settings import Settings


@dataclass(frozen=True, slots=True)
class Cluster:
    servers: tuple[str, ...]
    security: KafkaSecurity = field(default_factory=KafkaSecurity)

    @classmethod
    def at(cls, *bootstrap: str) -> Cluster:
        """Servers as "host:port" strings (or comma-separated lists of them), no security."""
        servers = tuple(s.strip() for part in bootstrap for s in part.split(",") if s.strip())
        return cls(servers)

    @classmethod
    def of(cls, servers: Sequence[str], settings: Settings) -> Cluster:
        """These servers, with the security the settings say."""
        return cls(tuple(servers), KafkaSecurity.from_settings(settings))

    @property
    def bootstrap(self) -> str:
        return ",".join(self.servers)

    @property
    def urls(self) -> str:
        """As IOC_BROKER takes them (and as messages name the broker)."""
        return ";".join(f"kafka://{server}" for server in self.servers)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's consumers, producers and admin client."""
        return {"bootstrap_servers": list(self.servers), **self.security.aiokafka()}

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments of kafka-python's KafkaConsumer and KafkaProducer."""
        return {"bootstrap_servers": list(self.servers), **self.security.kafka_python()}

    def librdkafka(self) -> dict[str, Any]:
        """Configuration of librdkafka's clients (confluent-kafka)."""
        return {"bootstrap.servers": self.bootstrap, **self.security.librdkafka()}
