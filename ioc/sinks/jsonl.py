"""Incidents as JSON lines in a file (`file:///PATH.jsonl`): one line per incident version,
for scripts and for shipping to other systems. Idempotent: on start the file is read to learn
which (incident_id, version) pairs it holds, and a pair is never written twice. Each batch is
flushed and fsynced before the write returns."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import orjson

from ioc.schemas.incidents import Incident
from ioc.sinks.base import SinkError, absolute_path


def path_from_url(url: str) -> Path:
    return absolute_path(url, "file", "PATH.jsonl")


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file://{path}"
        self.written: set[tuple[str, int]] = set()

    def _load(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            return
        with self.path.open("rb") as fh:
            for line in fh:
                try:
                    data = orjson.loads(line)
                    self.written.add((data["incident_id"], int(data["version"])))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut short by a crash: its version is written again

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._load)
        except OSError as exc:
            raise SinkError(f"{self.name}: cannot read ({exc.strerror})") from None

    def _write(self, incidents: Sequence[Incident]) -> None:
        fresh = [i for i in incidents if (i.incident_id, i.version) not in self.written]
        if not fresh:
            return
        with self.path.open("ab") as fh:
            if fh.tell() > 0:
                # A crash may have left a partial last line: start ours on a line of its own.
                with self.path.open("rb") as check:
                    check.seek(-1, os.SEEK_END)
                    if check.read(1) != b"\n":
                        fh.write(b"\n")
            for incident in fresh:
                fh.write(incident.model_dump_json().encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.written.update((i.incident_id, i.version) for i in fresh)

    async def write(self, incidents: Sequence[Incident]) -> None:
        try:
            await asyncio.to_thread(self._write, incidents)
        except OSError as exc:
            raise SinkError(f"{self.name}: {exc.strerror or exc}") from None

    async def stop(self) -> None:
        return None
