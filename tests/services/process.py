"""A server process of the test suite: started as a child that the kernel stops when the test
run dies (also by SIGKILL), with its output in a log file, waited for and stopped."""

from __future__ import annotations

import contextlib
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Self

from ioc.children import end, spawn
from ioc.ports import accepts


class ServiceError(Exception):
    """A test service could not start; the message says why and where its log is."""


def run_as(user: str | None) -> dict[str, Any]:
    """Popen's arguments that run a child as `user` (servers that refuse to run as root)."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


class ServerProcess:
    """One server process: its command, log, and the signal that stops it cleanly."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.env = env
        self.stop_signal = stop_signal
        self.user = user
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            raise ServiceError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._proc = spawn(
            self.command,
            self._log,
            env=self.env,
            on_parent_death=self.stop_signal,
            **run_as(self.user),
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `ready` (another process's state: no event crosses to us) until it holds;
        fail with the log's tail if the process exits or the time runs out."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while not ready():
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise ServiceError(
                    f"{self.name} exited with code {code} before {what}; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.name} did not get to {what} within {timeout:g} s; "
                    f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def wait_listening(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.wait_until(lambda: accepts(host, port), timeout, f"listen on {host}:{port}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop it with its clean-stop signal, then SIGKILL after `timeout`. Safe twice."""
        self._end(self.stop_signal, timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown."""
        self._end(signal.SIGKILL, 30.0)

    def _end(self, sig: int, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            end(proc, sig, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None


class TemporaryServer:
    """A server with its files in a temporary directory (`base`), run by one ServerProcess:
    stopped keeping its files (a restart finds them), closed removing them."""

    base: Path
    _server: ServerProcess | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Kill it and remove its files: what a clean shutdown would save is thrown away."""
        if self._server is not None:
            self._server.kill()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.base)

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None
