"""A real `ioc bridge mqtt` process for tests, and what its /metrics and /health say."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from ioc.ports import free_port
from tests.harness.processes import pump_log
from tests.harness.waiting import wait_for
from tests.services.mosquitto import MosquittoBroker

IOC = [sys.executable, "-m", "ioc"]
ANNOUNCED = re.compile(r"health at (http://\S+)/health")

# A camera platform's reading, as its video-management server POSTs it (source vms-da-lat,
# API key vms-key in tests/data/devices.yaml).
CAMERA_READING: dict[str, Any] = {
    "kind": "camera",
    "sensor_id": "cam-1",
    "source_id": "vms-da-lat",
    "ts": "2026-12-02T07:00:00Z",
    "lat": 11.94,
    "lon": 108.44,
    "analytic": "intrusion",
    "confidence": 0.9,
}


def paho_publish(broker: MosquittoBroker, messages: list[tuple[str, bytes]]) -> None:
    """Publish with QoS 1 over MQTT 5 and return once the broker acknowledged them all."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for info in [client.publish(t, p, qos=1) for t, p in messages]:
            info.wait_for_publish(timeout=60)
    finally:
        client.disconnect()
        client.loop_stop()


class BridgeProcess:
    def __init__(
        self, env: dict[str, str], log: Path, mqtt_url: str | None, client_id: str = "ioc-test"
    ) -> None:
        """`ioc bridge mqtt` on `mqtt_url`; None: `ioc bridge http`."""
        self.env = env
        self.log_path = log
        self.mqtt_url = mqtt_url
        self.client_id = client_id
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> BridgeProcess:
        if self.mqtt_url is None:
            command = [*IOC, "bridge", "http", "--port", str(self.port)]
        else:
            command = [*IOC, "bridge", "mqtt", "--mqtt", self.mqtt_url, "--port", str(self.port)]
            command += ["--client-id", self.client_id]
        self.proc = subprocess.Popen(
            command,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        announced = pump_log(self.proc, self.log_path, ANNOUNCED, [])
        try:
            url = announced.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"the bridge did not start:\n{self.log()}") from None
        if not url:
            raise AssertionError(f"the bridge exited:\n{self.log()}")
        wait_for(self.healthy, timeout, "the bridge to be healthy", self.proc)
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, name: str, **labels: str) -> float:
        """A sample of the bridge's /metrics (0 when it has none yet)."""
        shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        wanted = f"{name}{{{shown}}}" if labels else name
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        for line in text.splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == wanted:
                return float(value)
        return 0.0

    def wait_metric(self, name: str, at_least: float, timeout: float = 60, **labels: str) -> None:
        """Until a sample of /metrics reaches `at_least` (failing if the bridge exits)."""
        shown = ",".join(f"{k}={v}" for k, v in labels.items())
        wait_for(
            lambda: self.metric(name, **labels) >= at_least,
            timeout,
            f"{name}{{{shown}}} to reach {at_least:g}",
            self.proc,
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
