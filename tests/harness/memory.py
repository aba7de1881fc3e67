"""The worker's stages without a broker: in-memory topics, tables, sinks and the stages'
real `Outputs` on them, in the spirit of bytewax's TestingSource and TestingSink. A stage under
test gets messages as Faust gives them (topic, partition, offset, key, value) and writes to
these; the test reads what was sent, stored and delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError
from ioc.streams.metrics import Metrics
from ioc.streams.outputs import Outputs


@dataclass(frozen=True, slots=True)
class Message:
    """A consumed message, with the fields the stages read of Faust's."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class MemoryTopic:
    """A topic the stages send to, as to a Faust topic: `await send(...)` gives a future
    that is already delivered (or fails with `fail`, to play a broker that refuses)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[bytes | None, bytes]] = []
        self.fail: BaseException | None = None

    async def send(self, *, key: bytes | None = None, value: bytes) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            self.sent.append((key, value))
            future.set_result(None)
        return future

    def values(self) -> list[Any]:
        return [orjson.loads(value) for _, value in self.sent]


class MemoryTable(dict[str, Any]):
    """A changelogged table: a dict, and what `put` wrote to which partition."""

    def __init__(self) -> None:
        super().__init__()
        self.partitions: dict[str, int] = {}
        self.unflushed: set[str] = set()

    def put(self, key: str, value: Any, partition: int) -> None:
        self[key] = value
        self.partitions[key] = partition
        self.unflushed.add(key)

    async def flush(self) -> None:
        self.unflushed.clear()


@dataclass
class Harness:
    """The stages' outputs on memory topics, with the metrics on a registry of their own."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    alerts: MemoryTopic = field(default_factory=lambda: MemoryTopic("ioc.alerts"))
    deadletter: MemoryTopic = field(default_factory=lambda: MemoryTopic("ioc.deadletter"))
    cells: MemoryTopic = field(default_factory=lambda: MemoryTopic("correlation-cells"))
    sensors: MemoryTopic = field(default_factory=lambda: MemoryTopic("ioc.sensors"))
    incidents: MemoryTopic = field(default_factory=lambda: MemoryTopic("ioc.incidents"))

    def __post_init__(self) -> None:
        self.metrics = Metrics.create(self.registry)
        self.outputs = Outputs(
            self.alerts,  # type: ignore[arg-type]
            self.deadletter,  # type: ignore[arg-type]
            self.cells,  # type: ignore[arg-type]
            self.metrics,
            self.sensors,  # type: ignore[arg-type]
        )

    def dead_letters(self) -> list[DeadLetter]:
        return [DeadLetter.model_validate_json(value) for _, value in self.deadletter.sent]

    def published(self) -> list[Incident]:
        return [Incident.model_validate_json(value) for _, value in self.incidents.sent]

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return value if value is not None else 0.0


def messages(
    topic: str, items: Iterable[tuple[bytes | None, bytes]], partition: int = 0
) -> list[Message]:
    """Items as the consecutive messages of one topic-partition."""
    return [
        Message(topic, partition, offset, key, value) for offset, (key, value) in enumerate(items)
    ]


class MemorySink:
    """A sink that keeps what it is given; it refuses to open `refuse_open` times and to write
    `refuse_writes` times first (a database that is down, then back)."""

    def __init__(self, name: str = "memory://", *, refuse_open: int = 0, refuse_writes: int = 0):
        self.name = name
        self.refuse_open = refuse_open
        self.refuse_writes = refuse_writes
        self.opened = self.stopped = False
        self.written: list[Incident] = []
        self.attempts = 0

    async def start(self) -> None:
        if self.refuse_open > 0:
            self.refuse_open -= 1
            raise SinkError(f"{self.name}: not up yet")
        self.opened = True

    async def write(self, incidents: Sequence[Incident]) -> None:
        self.attempts += 1
        if self.refuse_writes > 0:
            self.refuse_writes -= 1
            raise SinkError(f"{self.name}: down")
        self.written.extend(incidents)

    async def stop(self) -> None:
        self.stopped = True
