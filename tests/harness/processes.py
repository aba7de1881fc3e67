"""The processes a test starts: `ioc` itself, a worker and its readiness, a process's log;
and process inspection through /proc, for tests that prove no process is left behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.harness.waiting import wait_for

IOC = [sys.executable, "-m", "ioc"]


def http_get(url: str) -> tuple[int, str, str]:
    """Status, content type and body; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, "", ""


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = 60) -> int:
    """Signal the process and wait for its exit code; kill it (and fail) if it does not end."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[Any]]:
    """`ioc worker` with `env`, its output appended to `log`; stopped with Ctrl-C at the end."""
    with log.open("ab") as out:
        proc = subprocess.Popen([*IOC, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def ready(env: dict[str, str], proc: subprocess.Popen[Any]) -> None:
    """Wait until the worker's /health answers 200."""
    base = f"http://127.0.0.1:{env['IOC_WEB_PORT']}"
    wait_for(lambda: http_get(f"{base}/health")[0] == 200, 90, "the worker to be ready", proc)


def pump_log(
    proc: subprocess.Popen[str], log_path: Path, announced: re.Pattern[str], lines: list[str]
) -> queue.Queue[str]:
    """Copy the process's standard error to `log_path` (and `lines`) on a thread of its own.
    The queue gets the first group of each line `announced` matches, and "" at its end."""
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        with log_path.open("a") as log:
            for line in proc.stderr:
                log.write(line)
                log.flush()
                lines.append(line)
                match = announced.search(line)
                if match:
                    found.put(match.group(1))
        found.put("")  # the process ended

    threading.Thread(target=pump, daemon=True).start()
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    rest = raw.rsplit(")", 1)[1].split()
    return rest[0], int(rest[1])


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[0] != "Z":
                parents[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def children_running_binary(name: str) -> list[int]:
    out = []
    for pid in descendants(os.getpid()):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if name in os.path.basename(exe):
            out.append(pid)
    return out
