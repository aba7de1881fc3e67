"""The servers a test runs against: which broker (the embedded one or Apache Kafka), and a
fixture body that starts a server and closes it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pytest

from ioc.kafka.cluster import Cluster

ServerT = TypeVar("ServerT", bound="Server")


class Server(Protocol):
    def start(self) -> Any: ...
    def close(self) -> None: ...


def serve(server: ServerT) -> Iterator[ServerT]:
    """A fixture's body: the server started, then closed when the fixture ends."""
    server.start()
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True, slots=True)
class BrokerUnderTest:
    """The broker a test runs on: the embedded one, or Apache Kafka."""

    kind: str  # "tansu" | "kafka"
    servers: list[str]

    @property
    def bootstrap(self) -> str:
        return ",".join(self.servers)

    @property
    def cluster(self) -> Cluster:
        return Cluster(tuple(self.servers))

    @property
    def url(self) -> str:
        """As IOC_BROKER takes it."""
        return ";".join(f"kafka://{server}" for server in self.servers)


# A test that runs on both brokers: `@on_both_brokers` and the fixture `any_broker` (which the
# fixtures `ioc_env` and `kafka` follow). `pytest -m kafka` selects the Apache Kafka runs.
on_both_brokers = pytest.mark.parametrize(
    "any_broker", ["tansu", pytest.param("kafka", marks=pytest.mark.kafka)], indirect=True
)
