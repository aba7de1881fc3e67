"""A throwaway Mosquitto broker: a generated configuration in a temporary directory, one
listener on a free loopback port, anonymous clients, persistence in that directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ioc.bridge.mosquitto import mosquitto_binary, mosquitto_config
from ioc.ports import free_port
from tests.services.process import ServerProcess, TemporaryServer


class MosquittoBroker(TemporaryServer):
    def __init__(self) -> None:
        program = mosquitto_binary()
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
            *mosquitto_config(self.host, self.port, self.base),
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> MosquittoBroker:
        self._server = ServerProcess(
            "Mosquitto", [str(self.binary), "-c", str(self._config())], self.base / "mosquitto.log"
        )
        self._server.start()
        self._server.wait_listening(self.host, self.port, 30)
        return self
