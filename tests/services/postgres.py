"""A throwaway PostgreSQL server: a cluster made by `initdb` in a temporary directory and its
`postgres` server on a free loopback port, as `pytest-postgresql` does.

The server runs in the foreground as a child of the test run, rather than daemonised by
`pg_ctl start`, so that the kernel stops it when the run dies; it is stopped with SIGINT, the
signal of `pg_ctl stop -m fast`. PostgreSQL refuses to run as root: as root (CI), the cluster
belongs to the `postgres` user that Debian's package creates.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from ioc.ports import free_port
from tests.services.process import ServerProcess, ServiceError, TemporaryServer, run_as

SUPERUSER = "postgres"


def server_bindir() -> Path | None:
    """Debian keeps the server's programs out of PATH, one directory per major version."""
    explicit = os.environ.get("IOC_TEST_PG_BINDIR")
    if explicit:
        return Path(explicit)
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


class PostgresServer(TemporaryServer):
    """Stopped by a fast shutdown: clients are disconnected, the data is kept for a restart."""

    def __init__(self, base: Path | None = None) -> None:
        bindir = server_bindir()
        if bindir is None or not (bindir / "initdb").exists():
            raise FileNotFoundError("the PostgreSQL server (initdb, postgres) is not installed")
        self.bindir = bindir
        self.user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: that is private to root, and the server may not be.
        self.base = Path(tempfile.mkdtemp(prefix="ioc-test-pg-", dir=base))
        self.data = self.base / "data"
        self.port = free_port()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._initdb()
        self._server = ServerProcess(
            "PostgreSQL",
            [
                str(self.bindir / "postgres"),
                "-D", str(self.data),
                "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=",
                # A throwaway cluster: durability is not what these tests are about.
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
            ],
            self.base / "postgres.log",
            stop_signal=signal.SIGINT,
            user=self.user,
        )  # fmt: skip
        self._server.start()
        self._server.wait_until(self._answers, 60, "accept connections")
        return self

    def _initdb(self) -> None:
        if self.user is not None:
            shutil.chown(self.base, self.user, self.user)
        done = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D", str(self.data),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            **run_as(self.user),
        )  # fmt: skip
        if done.returncode != 0:
            raise ServiceError(f"initdb failed ({done.returncode}):\n{done.stderr[-2000:]}")

    def _answers(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False
