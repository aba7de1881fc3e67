"""A throwaway Mosquitto broker: a generated configuration in a temporary directory, one
listener on a free loopback port, anonymous clients, persistence in that directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ioc.broker import free_port
from tests.services.process import ServerProcess, TemporaryServer


def binary() -> Path | None:
    # Debian installs the broker in /usr/sbin, outside a user's PATH.
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


class MosquittoBroker(TemporaryServer):
    def __init__(self) -> None:
        program = binary()
        if program is None:
            raise FileNotFoundError("the Mosquitto broker is not installed")
        self.binary = program
        self.base = Path(tempfile.mkdtemp(prefix="ioc-test-mqtt-"))
        self.host = "127.0.0.1"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _config(self) -> Path:
        path = self.base / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.base}/",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            # A bridge killed mid-stream finds on its return every message sent meanwhile
            # (the default keeps 1000 per offline session and drops the rest).
            "max_queued_messages 0",
            "max_inflight_messages 1000",
        ]
        if os.geteuid() == 0:
            # Started as root, Mosquitto switches to its own user, and a change of user
            # clears the kernel's order to stop it when the test run dies.
            lines.append("user root")
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> MosquittoBroker:
        self._server = ServerProcess(
            "Mosquitto", [str(self.binary), "-c", str(self._config())], self.base / "mosquitto.log"
        )
        self._server.start()
        self._server.wait_listening(self.host, self.port, 30)
        return self
