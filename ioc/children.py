"""Server processes that die with their parent: started in a session of their own (a Ctrl-C
at the terminal does not reach them) with the kernel told to signal them when the process
that started them dies (Linux: PR_SET_PDEATHSIG), so a killed `ioc`, or a killed test run,
never leaves an orphan listening on a port. The embedded broker runs this way, and so do the
servers the test suite starts."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import IO, Any

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Runs in the child between fork and exec: ask the kernel to send it `sig` when we die."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    # The parent may have died before prctl took effect.
    if os.getppid() != parent_pid:
        os._exit(1)


def spawn(
    command: Sequence[str],
    log: IO[bytes],
    *,
    env: dict[str, str] | None = None,
    on_parent_death: int = signal.SIGTERM,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """Start `command` with its output in `log`; `on_parent_death` is the signal the kernel
    sends it when this process dies (the server's clean-stop signal)."""
    parent = os.getpid()
    return subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        # Runs after any change of user that `popen` asks for: that change would clear it.
        preexec_fn=lambda: die_with_parent(parent, on_parent_death),
        **popen,
    )


def end(proc: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send `sig`, wait up to `timeout` s for the process to exit, then SIGKILL it."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
