"""`ioc worker` and `ioc demo` as a user runs them: real processes against a real broker."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ioc.kafka.embedded import discover
from ioc.ports import free_port
from tests.harness.processes import IOC, alive, descendants, http_get, stop
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def test_worker_serves_metrics_and_health_and_stops_on_ctrl_c(
    ioc_env: dict[str, str], tmp_path: Path
) -> None:
    # --web-port 0: a free port, which the worker says (Faust alone fails on 0).
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [*IOC, "worker", "--web-port", "0"], env=ioc_env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        said = wait_for(
            lambda: re.search(
                r"worker web server (http://\S+) ", (tmp_path / "worker.log").read_text()
            ),
            60,
            "the worker to say its web server's address",
            proc,
        )
        base = said[1]
        assert base != f"http://127.0.0.1:{ioc_env['IOC_WEB_PORT']}"
        wait_for(lambda: http_get(f"{base}/health/live")[0] == 200, 60, "the web server", proc)
        status, _, body = wait_for(
            lambda: (r := http_get(f"{base}/health"))[0] == 200 and r, 60, "readiness", proc
        )
        assert json.loads(body)["status"] == "ok"

        status, content_type, metrics = http_get(f"{base}/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        assert "# TYPE ioc_faust_messages_received_total counter" in metrics
        assert 'ioc_build_info{app_id="' in metrics

        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "worker.log").read_text(errors="replace")


def test_worker_refuses_a_taken_web_port(ioc_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        env = {**ioc_env, "IOC_WEB_PORT": str(sock.getsockname()[1])}
        out = subprocess.run([*IOC, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "is in use (another worker?)" in out.stderr


def test_worker_with_an_unusable_data_dir_fails_clearly(
    ioc_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    env = {**ioc_env, "IOC_DATA_DIR": str(tmp_path / "file" / "data")}
    out = subprocess.run([*IOC, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "cannot be used (Not a directory); set IOC_DATA_DIR" in out.stderr


def test_worker_with_an_unreachable_broker_fails_clearly(ioc_env: dict[str, str]) -> None:
    env = {
        **ioc_env,
        "IOC_BROKER": f"kafka://127.0.0.1:{free_port()}",
        "IOC_BROKER_READY_TIMEOUT": "2",
    }
    out = subprocess.run([*IOC, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "did not answer a metadata request within 2 s" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_starts_everything_and_ctrl_c_stops_everything(
    ioc_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in ioc_env.items() if k != "IOC_BROKER"}
    # A demo ran here before: its incidents are set aside, not shown as open in this one.
    data = Path(env["IOC_DATA_DIR"])
    data.mkdir(parents=True)
    (data / "incidents.jsonl").write_text('{"incident_id": "INC-OF-THE-LAST-DEMO"}\n')
    proc = subprocess.Popen(
        [*IOC, "demo", "--speed", "600", "--lang", "en"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # Its own process group, so that the test can press Ctrl-C on it as a terminal would.
        start_new_session=True,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("running;"):
                break
        text = "".join(lines)
        assert "(embedded, in memory)" in text, text
        assert "previous demo's incidents moved to" in text
        (aside,) = (data / "previous-demos").glob("*/incidents.jsonl")
        assert "INC-OF-THE-LAST-DEMO" in aside.read_text()
        metrics_url = next(w for w in text.split() if w.endswith("/metrics"))
        # The configured web port, as `ioc config` shows it, when it is free.
        assert metrics_url == f"http://127.0.0.1:{env['IOC_WEB_PORT']}/metrics"
        assert http_get(metrics_url)[0] == 200
        assert discover(Path(env["IOC_DATA_DIR"])) is not None
        # The console answers at the printed URL, with the operator's token in it.
        link = next(w for w in text.split() if "/#token=" in w)
        base, token = link.split("/#token=")
        request = urllib.request.Request(
            f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["role"] == "operator"
        family = descendants(proc.pid)
        assert family, "the demo runs its broker and worker as child processes"
        # The simulated province raises incidents, and `ioc tail` shows them.
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 90)
        assert ready, "no incident on the demo's screen within 90 s"
        first = proc.stdout.readline()
        assert " OPEN " in first, first
        assert "INC-" in first, first
        # The environment stations came over MQTT, through the bridge (CI has Mosquitto).
        if "no Mosquitto on this machine" not in text:
            bridge = next(w for w in text.split() if w.endswith("/metrics") and w != metrics_url)
            forwarded = [
                line
                for line in http_get(bridge)[2].splitlines()
                if line.startswith('ioc_bridge_forwarded_total{transport="mqtt"}')
            ]
            assert forwarded, "the bridge forwarded nothing"
            assert float(forwarded[0].rsplit(" ", 1)[1]) > 0

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wait_for(lambda: not any(alive(pid) for pid in family), 30, "the demo's children to exit")
    assert discover(Path(env["IOC_DATA_DIR"])) is None
