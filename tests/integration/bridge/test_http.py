"""`ioc bridge http`, a real process on the embedded broker: 202 only once Kafka has the
message, and every refusal with its status and reason, counted."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.harness.bridges import CAMERA_READING, BridgeProcess
from tests.harness.consoles import ConsoleProcess
from tests.harness.kafka import Kafka
from tests.harness.paths import DEVICES

pytestmark = pytest.mark.integration
IOC = [sys.executable, "-m", "ioc"]

REGISTRY = DEVICES


@pytest.fixture
def http_bridge(ioc_env: dict[str, str], tmp_path: Path) -> BridgeProcess:
    env = {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"hb{time.monotonic_ns()}.",
        "IOC_BRIDGE_IDEMPOTENT": "false",  # the embedded broker: Tansu
        "IOC_INGEST_MAX_BYTES": "4096",
    }
    subprocess.run([*IOC, "devices", "load", str(REGISTRY)], env=env, check=True, timeout=60)
    return BridgeProcess(env, tmp_path / "bridge.log", None).start()


def test_http_ingest_answers_202_once_kafka_has_it_and_refuses_with_reasons(
    http_bridge: BridgeProcess, kafka: Kafka
) -> None:
    prefix = http_bridge.env["IOC_TOPIC_PREFIX"]
    url = http_bridge.url
    camera = CAMERA_READING
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            ok = client.post(
                "/ingest/camera", content=orjson.dumps(camera), headers={"X-API-Key": "vms-key"}
            )
            assert ok.status_code == 202, ok.text
            (record,) = kafka.consume(f"{prefix}sensors.camera", 1)
            assert record == (b"vms-da-lat", orjson.dumps(camera))

            fiware = client.post(
                "/iot/json", params={"k": "group-key", "i": "aq-0042"}, json={"pm2_5": 12}
            )
            assert fiware.status_code == 202, fiware.text
            ((key, value),) = kafka.consume(f"{prefix}sensors.environment", 1)
            assert key == b"envnet-da-lat"
            assert orjson.loads(value)["pm25"] == 12

            refusals = {
                401: client.post(
                    "/ingest/camera", content=orjson.dumps(camera), headers={"X-API-Key": "guess"}
                ),
                403: client.post(
                    "/ingest/camera",
                    content=orjson.dumps(camera),
                    headers={"X-API-Key": "group-key"},
                ),
                404: client.post(
                    "/iot/json", params={"k": "group-key", "i": "ghost"}, json={"pm2_5": 1}
                ),
                400: client.post(
                    "/ingest/camera", content=b"not json", headers={"X-API-Key": "vms-key"}
                ),
                413: client.post(
                    "/ingest/camera", content=b"x" * 5000, headers={"X-API-Key": "vms-key"}
                ),
            }
            for status, response in refusals.items():
                assert response.status_code == status, (status, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.json()["detail"]
                assert http_bridge.metric("ioc_bridge_refused_total", status=str(status)) == 1
            assert http_bridge.metric("ioc_bridge_acknowledged_total", transport="http") == 2
    finally:
        assert http_bridge.stop() == 0, http_bridge.log()


def test_the_console_serves_the_same_ingest_when_asked(
    ioc_env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    """`ioc console --ingest`: POST /ingest/{kind} on the console's port, with the device's
    API key (a console token is not one), and the console's own API beside it."""
    env = {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"ci{time.monotonic_ns()}.",
        "IOC_BRIDGE_IDEMPOTENT": "false",
    }
    subprocess.run([*IOC, "devices", "load", str(REGISTRY)], env=env, check=True, timeout=60)
    console = ConsoleProcess(env, tmp_path / "console.log", args=("--ingest",)).start()
    camera = CAMERA_READING
    try:
        with console.client() as client:
            ok = client.post(
                "/ingest/camera", content=orjson.dumps(camera), headers={"X-API-Key": "vms-key"}
            )
            assert ok.status_code == 202, ok.text
            (record,) = kafka.consume(f"{env['IOC_TOPIC_PREFIX']}sensors.camera", 1)
            assert record == (b"vms-da-lat", orjson.dumps(camera))
            refused = client.post("/ingest/camera", content=orjson.dumps(camera))
            assert refused.status_code == 401
            assert client.get("/api/incidents").status_code == 401  # still its own rules
    finally:
        console.stop()
