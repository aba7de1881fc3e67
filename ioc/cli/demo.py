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
from datetime import UTC, datetime
from typing import Any

from ioc.bridge.mosquitto import mosquitto_binary, mosquitto_config
from ioc.cli.common import CommandError, ensure_data_dir, say, settings_from, start_embedded
from ioc.ports import accepts, free_port, port_is_free

HELP = "run the whole system on this machine: broker, worker, simulators, live incidents"
DESCRIPTION = """\
The whole system on one machine: the embedded broker, a worker with the shipped zones and
rules, the simulators playing a scenario (by default `demo`: two hours of the province in
four minutes, with an accident, a storm, a fire, an intrusion, a silent station and 1 %
broken messages) — the environment stations over MQTT, through Mosquitto (when this machine
has it) and `ioc bridge mqtt`, the rest straight to Kafka —, incidents delivered to SQLite, a
JSONL file and the district topics, the
console (the web map and its API: open the URL it prints, with an operator's token in it), and
`ioc tail` showing incidents as they open, update, escalate and close.

In another terminal, while it runs:
  ioc incidents list                      the store
  ioc incidents ack ID --note '…'         an operator's acknowledgement
  ioc tail --topic alerts --lang en       the alerts behind the incidents
  ioc subscribe --district da-lat         Đà Lạt's own feed

Ctrl-C stops everything cleanly: the simulator, the console, the worker (it commits its
offsets), then the broker. The incident store and the JSONL file stay in the data dir.
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
        "--web-port",
        type=int,
        metavar="P",
        help="the worker's web port (default: IOC_WEB_PORT, 6066, or a free one when taken)",
    )
    p.add_argument(
        "--console-port",
        type=int,
        metavar="P",
        help="the console's port (default: 8000, or a free one when 8000 is taken)",
    )
    p.add_argument("--scenario", default="demo", metavar="NAME|FILE", help="what to simulate")
    p.add_argument(
        "--speed", type=float, default=30.0, metavar="X", help="times real time (default 30)"
    )
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="language of the lines")
    p.set_defaults(run=run)


def _wait_healthy(
    proc: subprocess.Popen[bytes], url: str, timeout: float, what: str = "worker"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CommandError(f"the {what} exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)  # polling another process's HTTP endpoint; there is no event to await
    raise CommandError(f"the {what} did not become healthy within {timeout:g} s ({url})")


def _spawn(
    settings: Any,
    name: str,
    args: list[str],
    env: dict[str, str],
    procs: list[subprocess.Popen[bytes]],
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `args` with its output in the data dir's logs/demo-NAME.log; the process and the
    log's path. Every child joins `procs`, which the demo stops in reverse on the way out."""
    log = (settings.data_dir / "logs" / f"demo-{name}.log").open("ab")
    try:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()  # the child has its own descriptor
    procs.append(proc)
    return proc, log.name


def _set_aside(settings: Any, paths: list[Any]) -> None:
    """A demo starts fresh: the embedded broker kept nothing of the last one, and its
    incidents would show as open forever. The last demo's store and file are moved aside,
    not deleted."""
    found = [p for p in paths if p.exists()]
    if not found:
        return
    kept = settings.data_dir / "previous-demos" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    kept.mkdir(parents=True, exist_ok=True)
    for path in found:
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if part.exists():
                part.replace(kept / part.name)
    say(f"previous demo's incidents moved to {kept}")


def _operator_token(settings: Any) -> str:
    """A new operator token for this demo (the store keeps only its hash)."""
    import asyncio

    from ioc.console.access import Role
    from ioc.console.database import StoreUnavailable, opened, store_url
    from ioc.console.tokens import TokenStore

    async def make() -> str:
        url = store_url(settings.sinks, settings.console_store)
        async with opened(url, settings.data_dir) as db:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
            return await TokenStore(db).create(f"ioc demo {stamp}", Role("operator"))

    try:
        return asyncio.run(make())
    except StoreUnavailable as exc:
        raise CommandError(f"cannot keep the console's token: {exc}") from None


def _port(what: str, host: str, configured: int, wanted: int | None) -> int:
    """The port asked for on the command line, else the configured one (what `ioc config`
    shows) unless it is taken, else any free one, saying so."""
    if wanted:
        return wanted
    if configured and port_is_free(host, configured):
        return configured
    chosen = free_port(host)
    if configured:
        say(f"port {configured} is taken: the {what} listens on {chosen} instead")
    return chosen


def _past_start(scenario: str) -> str:
    """Start the scenario its own length ago: at any speed its event times stay in the past,
    where the pipeline accepts them (it refuses readings from the future)."""
    from simulators.scenario import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    length = loaded.duration
    return (datetime.now(UTC) - length).replace(microsecond=0).isoformat()


def _mqtt_stations(settings: Any, env: dict[str, str], procs: list[Any]) -> list[str]:
    """Start Mosquitto (when this machine has it) and `ioc bridge mqtt` on it; the simulator's
    options that send the environment stations through them, as a real fleet's would come.
    Without Mosquitto the stations go to Kafka as the rest do."""
    program = mosquitto_binary()
    if program is None:
        say("mqtt       no Mosquitto on this machine (apt install mosquitto): the stations")
        say("           send to Kafka directly")
        return []
    base = settings.data_dir / "mqtt"
    base.mkdir(parents=True, exist_ok=True)
    port = free_port("127.0.0.1")
    config = base / "mosquitto.conf"
    config.write_text("\n".join(mosquitto_config("127.0.0.1", port, base)) + "\n")
    broker, log = _spawn(settings, "mqtt", [str(program), "-c", str(config)], env, procs)
    url = f"mqtt://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT
    while not accepts("127.0.0.1", port):
        if broker.poll() is not None or time.monotonic() > deadline:
            raise CommandError(f"Mosquitto did not start; see {log}")
        time.sleep(0.1)  # another process's port: nothing to await but polling
    bridge_port = free_port(settings.web_host)
    bridge, bridge_log = _spawn(
        settings,
        "bridge",
        [sys.executable, "-m", "ioc", "bridge", "mqtt", "--mqtt", url, "--port", str(bridge_port)],
        {**env, "IOC_MQTT_CLIENT_ID": "ioc-demo-bridge"},
        procs,
    )
    shown = f"http://{settings.web_host}:{bridge_port}"
    _wait_healthy(bridge, f"{shown}/health", READY_TIMEOUT, "MQTT bridge")
    say(f"mqtt       Mosquitto {url}; bridge {shown}/metrics (log: {bridge_log})")
    say("           the environment stations publish over MQTT, through the bridge")
    return ["--mqtt", url, "--mqtt-kinds", "environment"]


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
    start = _past_start(args.scenario)  # a scenario that does not load fails before anything starts
    if settings.broker is not None:
        say(f"ioc demo: using the broker at {settings.broker_url}")
    web_port = _port("worker", settings.web_host, settings.web_port, args.web_port)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a job started in the background by a script inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ensure_data_dir(settings)
    jsonl = settings.data_dir / "incidents.jsonl"
    sqlite_path = settings.data_dir / "incidents.db"
    if settings.broker is None and "IOC_SINKS" not in os.environ:
        _set_aside(settings, [sqlite_path, jsonl])
    (settings.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    conn = start_embedded(settings) if settings.broker is None else None
    servers = conn.servers if conn is not None else settings.broker or ()
    env = {
        **os.environ,
        "IOC_BROKER": ";".join(f"kafka://{s}" for s in servers),
        "IOC_WEB_PORT": str(web_port),
    }
    if "IOC_SINKS" not in os.environ:
        env["IOC_SINKS"] = f"sqlite://;kafka://;file://{jsonl}"
    procs: list[subprocess.Popen[bytes]] = []
    ioc = [sys.executable, "-m", "ioc"]
    try:
        say(f"broker     {';'.join(servers)}" + (" (embedded, in memory)" if conn else ""))
        worker, worker_log = _spawn(settings, "worker", [*ioc, "worker"], env, procs)
        base = f"http://{settings.web_host}:{web_port}"
        _wait_healthy(worker, f"{base}/health", READY_TIMEOUT)
        say(f"worker     pid {worker.pid}: {base}/metrics  {base}/health  (log: {worker_log})")
        say(f"incidents  {sqlite_path} (ioc incidents list), {jsonl}")
        console_port = _port(
            "console", settings.console_host, settings.console_port, args.console_port
        )
        token = _operator_token(settings)
        console, _ = _spawn(
            settings, "console", [*ioc, "console", "--port", str(console_port)], env, procs
        )
        shown = f"http://{settings.console_host}:{console_port}"
        _wait_healthy(console, f"{shown}/healthz", READY_TIMEOUT, "console")
        say(f"console    {shown}/#token={token}")
        say(f"           the web map, as an operator; API docs {shown}/api/docs")
        over_mqtt = _mqtt_stations(settings, env, procs)
        tail = subprocess.Popen([*ioc, "tail", "--lang", args.lang], env=env)
        procs.append(tail)
        simulate, simulate_log = _spawn(
            settings,
            "simulate",
            [
                *ioc,
                "simulate",
                "--scenario",
                args.scenario,
                "--speed",
                f"{args.speed:g}",
                "--start",
                start,
                "-q",
                *over_mqtt,
            ],
            env,
            procs,
        )
        pace = f"{args.speed:g}× real time"
        say(f"simulator  scenario {args.scenario} at {pace} (log: {simulate_log})")
        say("running; Ctrl-C stops everything")
        say("")
        say("Incidents as they open (MỚI), update, are acknowledged (ĐÃ NHẬN), escalate (⇧ tỉnh)")
        say("and close (XONG, TỰ HẾT); time is when it happened here, in Asia/Ho_Chi_Minh:")
        while True:
            if worker.poll() is not None:
                raise CommandError(f"the worker exited on its own with code {worker.returncode}")
            if simulate.returncode is None and simulate.poll() is not None:
                if simulate.returncode == 0:
                    say("scenario finished; the worker keeps running (Ctrl-C stops everything)")
                else:
                    say(f"the simulator failed (code {simulate.returncode}); see {simulate_log}")
            time.sleep(0.5)  # watching child processes; there is no event to await
    except KeyboardInterrupt:
        say("stopping…")
        return 0
    finally:
        for proc in reversed(procs):
            _stop(proc)
        if conn is not None:
            conn.close()
