"""A real `ioc console` process for tests, and a Server-Sent Events reader for its stream."""

from __future__ import annotations

import asyncio
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from ioc.console.access import Role
from ioc.console.database import SqliteDatabase
from ioc.console.tokens import TokenStore
from ioc.schemas.incidents import Incident
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC, pump_log

ANNOUNCED = re.compile(r"console: (http://\S+?)/ ")


class ConsoleProcess:
    """`ioc console` (on any free port unless given one); its URL is the one it announces
    once it serves."""

    def __init__(
        self, env: dict[str, str], log: Path, port: int = 0, args: tuple[str, ...] = ()
    ) -> None:
        self.env = env
        self.args = args
        self.log_path = log
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._lines: list[str] = []

    def start(self, timeout: float = 60) -> ConsoleProcess:
        self.proc = subprocess.Popen(
            [*IOC, "console", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        announced = pump_log(self.proc, self.log_path, ANNOUNCED, self._lines)
        try:
            self.url = announced.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"the console did not start:\n{self.output()}") from None
        if not self.url:
            raise AssertionError(f"the console exited:\n{self.output()}")
        return self

    def output(self) -> str:
        return "".join(self._lines[-40:])

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@dataclass
class Event:
    kind: str
    id: str | None
    data: Any


@dataclass
class EventStream:
    """Reads a console's /api/events in a thread; tests wait for the events they expect."""

    url: str
    token: str
    last_event_id: str | None = None
    events: queue.Queue[Event] = field(default_factory=queue.Queue)
    seen: list[Event] = field(default_factory=list)
    status: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _opened: threading.Event = field(default_factory=threading.Event)

    def start(self) -> EventStream:
        threading.Thread(target=self._read, daemon=True).start()
        if not self._opened.wait(30):
            raise AssertionError("the event stream did not open")
        return self

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30, read=None)) as client,
                client.stream("GET", f"{self.url}/api/events", headers=headers) as response,
            ):
                self.status = response.status_code
                self._opened.set()
                kind, event_id, data = "message", None, []
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        if data:
                            event = Event(kind, event_id, orjson.loads("\n".join(data)))
                            self.seen.append(event)
                            self.events.put(event)
                        kind, event_id, data = "message", None, []
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()
            self.events.put(Event("closed", None, None))

    def wait(self, predicate: Callable[[Event], bool], timeout: float = 30) -> Event:
        """The first event from now on that satisfies `predicate` (earlier ones are skipped)."""
        while True:
            try:
                event = self.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no such event within {timeout} s; seen: {[e.kind for e in self.seen]}"
                ) from None
            if event.kind == "closed":
                raise AssertionError(f"the stream closed; seen: {[e.kind for e in self.seen]}")
            if predicate(event):
                return event

    def close(self) -> None:
        self._stop.set()


def incident_event(incident_id: str, **fields: Any) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return (
            event.kind == "incident"
            and event.data.get("incident_id") == incident_id
            and all(event.data.get(k) == v for k, v in fields.items())
        )

    return match


def make_tokens(path: Path, roles: tuple[str, ...]) -> dict[str, str]:
    async def run() -> dict[str, str]:
        db = SqliteDatabase(path)
        await db.open()
        tokens = TokenStore(db)
        return {role: await tokens.create(f"test {role}", Role.parse(role)) for role in roles}

    return asyncio.run(run())


# The roles the console tests hold a token of.
ROLES = ("operator", "viewer", "district:da-lat")


@dataclass
class Setup:
    """A console the tests of a module share, and what it was given."""

    console: ConsoleProcess
    tokens: dict[str, str]
    incidents: dict[str, Incident]
    prefix: str
    kafka: Kafka
    store_path: Path

    def get(self, path: str, role: str | None = "operator", **params: Any) -> httpx.Response:
        with self.console.client(self.tokens.get(role or "")) as client:
            return client.get(path, params=params)

    def post(self, path: str, role: str = "operator", body: Any = None) -> httpx.Response:
        with self.console.client(self.tokens[role]) as client:
            return client.post(path, json=body)
