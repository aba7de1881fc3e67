"""The CAP 1.2 feed (`cap:///DIR`): one XML file per incident version, named
`<incident_id>-v<version>.xml`, for warning systems that read CAP. Idempotent: a version's
file is written once, atomically (a temporary file renamed into place)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from ioc.cap import ZoneNames, identifier, to_cap
from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError, absolute_path


def path_from_url(url: str) -> Path:
    return absolute_path(url, "cap", "DIRECTORY")


class CapFeedSink:
    def __init__(self, directory: Path, names: ZoneNames | None = None) -> None:
        self.directory = directory
        self.names = names or {}
        self.name = f"cap://{directory}"

    async def start(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{self.name}: {exc.strerror}") from None

    def _write(self, incidents: Sequence[Incident]) -> None:
        for incident in incidents:
            final = self.directory / f"{identifier(incident.incident_id, incident.version)}.xml"
            if final.exists():
                continue
            temporary = final.with_suffix(".xml.tmp")
            with temporary.open("wb") as fh:
                fh.write(to_cap(incident, names=self.names))
                fh.flush()
                os.fsync(fh.fileno())
            temporary.replace(final)

    async def write(self, incidents: Sequence[Incident]) -> None:
        try:
            await asyncio.to_thread(self._write, incidents)
        except OSError as exc:
            raise SinkError(f"{self.name}: {exc.strerror or exc}") from None

    async def stop(self) -> None:
        return None
