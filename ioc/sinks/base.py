"""The sink interface: where incidents go, chosen by URL, any number at once.

Every sink is idempotent on (incident_id, version): writing a version twice, or an older
version after a newer one, leaves the same result as writing it once in order. The delivery
stage calls `write` and acknowledges the incidents' messages only after every sink returned;
a sink that fails raises SinkError and the stage retries with backoff, holding its position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ioc.schemas.incidents import Incident


class SinkError(Exception):
    """A write that failed and may succeed later (a database down, a full disk)."""


class Sink(Protocol):
    name: str

    async def start(self) -> None: ...

    async def write(self, incidents: Sequence[Incident]) -> None: ...

    async def stop(self) -> None: ...
