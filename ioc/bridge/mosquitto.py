"""Mosquitto for one machine: `ioc demo` runs the environment stations through it, and the test
suite and the benchmarks start their own with the same configuration."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def mosquitto_binary() -> Path | None:
    # Debian installs the broker in /usr/sbin, outside a user's PATH.
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def mosquitto_config(host: str, port: int, base: Path) -> list[str]:
    """One listener, anonymous clients, sessions kept in `base` across a restart."""
    lines = [
        f"listener {port} {host}",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {base}/",
        # A bridge that was away finds every message sent meanwhile (by default Mosquitto
        # keeps 1000 per offline session and drops the rest, silently).
        "max_queued_messages 0",
        "max_inflight_messages 1000",
    ]
    if os.geteuid() == 0:
        # Started as root, Mosquitto switches to a user of its own, and a change of user
        # clears the kernel's order to stop it when its parent dies.
        lines.append("user root")
    return lines
