"""Process inspection through /proc, for tests that prove no process is left behind, and
the log of a process a test starts."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from pathlib import Path


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
