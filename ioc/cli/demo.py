"""`ioc demo`: the whole system on one machine, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from ioc.broker import free_port
from ioc.cli.common import CommandError, say, settings_from, start_embedded

HELP = "run the whole system on this machine (embedded broker, worker); Ctrl-C stops it"
DESCRIPTION = """\
Start the embedded broker, create ioc's topics, start a worker and show where to look.
Ctrl-C stops everything cleanly: the worker first (it commits its offsets), then the broker.
"""
READY_TIMEOUT = 90.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--web-port", type=int, metavar="P", help="the worker's web port (default: free)"
    )
    p.set_defaults(run=run)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandError(f"the worker exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)  # polling another process's HTTP endpoint; there is no event to await
    raise CommandError(f"the worker did not become healthy within {timeout:g} s ({url})")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if settings.broker is not None:
        say(f"ioc demo: using the broker at {settings.broker_url}")
    web_port = args.web_port or free_port(settings.web_host)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a job started in the background by a script inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    conn = start_embedded(settings) if settings.broker is None else None
    servers = conn.servers if conn is not None else settings.broker or ()
    env = {
        **os.environ,
        "IOC_BROKER": ";".join(f"kafka://{s}" for s in servers),
        "IOC_WEB_PORT": str(web_port),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        say(f"broker   {';'.join(servers)}" + (" (embedded, in memory)" if conn else ""))
        worker = subprocess.Popen([sys.executable, "-m", "ioc", "worker"], env=env)
        procs.append(worker)
        base = f"http://{settings.web_host}:{web_port}"
        _wait_healthy(worker, f"{base}/health/live", READY_TIMEOUT)
        say(f"worker   pid {worker.pid}: {base}/metrics  {base}/health")
        say("running; Ctrl-C stops everything")
        code = worker.wait()
        raise CommandError(f"the worker exited on its own with code {code}")
    except KeyboardInterrupt:
        say("stopping…")
        return 0
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if conn is not None:
            conn.close()
