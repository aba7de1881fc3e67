"""How Kafka clients authenticate: one set of options, read from the settings, given in the
form each client library takes (Faust, aiokafka, kafka-python, librdkafka). A client gets it
with the servers, as a `Cluster` (ioc.kafka.cluster), never from process-wide state."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ioc.settings import Settings


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
        return cls(
            protocol=settings.security_protocol,
            mechanism=settings.sasl_mechanism,
            username=settings.sasl_username,
            password=password,
            cafile=settings.ssl_cafile,
        )

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL")

    @property
    def tls(self) -> bool:
        return self.protocol.endswith("SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's consumers, producers and admin client."""
        tls = {"ssl_context": self.ssl_context()} if self.tls else {}
        return self._options(tls)

    def kafka_python(self) -> dict[str, Any]:
        """Keyword arguments of kafka-python's KafkaConsumer and KafkaProducer."""
        tls = {"ssl_cafile": str(self.cafile)} if self.tls and self.cafile else {}
        return self._options(tls)

    def librdkafka(self) -> dict[str, Any]:
        """Configuration of librdkafka's clients (confluent-kafka: the bridges' producer)."""
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security.protocol": self.protocol.lower()}
        if self.tls and self.cafile:
            options["ssl.ca.location"] = str(self.cafile)
        if self.sasl:
            options.update(
                {
                    "sasl.mechanism": self.mechanism,
                    "sasl.username": self.username,
                    "sasl.password": self.password,
                }
            )
        return options

    def _options(self, tls: dict[str, Any]) -> dict[str, Any]:
        # Both libraries name the SASL options alike; they differ in how TLS is given.
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {"security_protocol": self.protocol, **tls}
        if self.sasl:
            options.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options

    def faust(self) -> Any:
        """Faust's `broker_credentials`, or None."""
        if self.protocol == "PLAINTEXT":
            return None
        import faust

        if self.sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.mechanism,
                ssl_context=self.ssl_context(),
            )
        return faust.SSLCredentials(self.ssl_context())
