"""District isolation on Apache Kafka as the deployment secures it: the broker of
`deploy/kafka/start.sh` (SASL/SCRAM users, the standard authorizer) with the ACLs of
`deploy/kafka/acls.sh`, both run as they are. A worker signed in as `worker` turns a scenario
that `simulator` published into incidents; each district user reads its own feed and gets an
authorisation error everywhere else."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from ioc.ports import free_port
from ioc.schemas.incidents import Incident
from tests.harness.bridges import CAMERA_READING, BridgeProcess
from tests.harness.paths import DEVICES
from tests.harness.processes import IOC, ready, worker
from tests.harness.scenario import expected, recording, stored, summary
from tests.harness.waiting import wait_for
from tests.services.kafka import DeployedKafka

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@dataclass
class Province:
    kafka: DeployedKafka
    env: dict[str, str]  # an ioc command's environment, less the user
    incidents: dict[str, tuple[str, int, int]]  # what the worker stored: status, alerts, version


def as_user(province: Province, user: str, *, public: bool = False, **extra: str) -> dict[str, str]:
    kafka = province.kafka
    return {
        **province.env,
        "IOC_BROKER": f"kafka://{kafka.public_bootstrap if public else kafka.bootstrap}",
        "IOC_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "IOC_SASL_USERNAME": user,
        "IOC_SASL_PASSWORD": kafka.passwords[user],
        **extra,
    }


def ioc(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOC, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def province(kafka_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Province]:
    """The deployment's broker and ACLs; the topics made by `admin` (the topic-init job); the
    demo scenario replayed by `simulator` and processed by a worker signed in as `worker`."""
    tmp = tmp_path_factory.mktemp("acls")
    kafka = DeployedKafka(kafka_home).start()
    try:
        assert "ACLs in place" in kafka.grant()
        base = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        base.update(
            IOC_DATA_DIR=str(tmp / "data"),
            IOC_APP_ID="ioc",  # as in the compose file: the ACLs grant its topics and group
            IOC_PARTITIONS="4",
            IOC_SINKS="sqlite://;kafka://",
            IOC_ACK_SLA="",
            IOC_SESSION_TIMEOUT="6",
            IOC_HEARTBEAT_INTERVAL="0.5",
            IOC_FETCH_MAX_WAIT_MS="500",
            PYTHONUNBUFFERED="1",
        )
        province = Province(kafka, base, {})
        created = ioc(as_user(province, "admin"), "topics", "create")
        assert created.returncode == 0, created.stderr

        records = recording()
        want, _, _ = expected(records)
        replay_file = tmp / "demo.jsonl"
        replay_file.write_bytes(b"".join(r.to_line() for r in records))
        db = tmp / "data" / "incidents.db"
        worker_env = as_user(province, "worker", IOC_WEB_PORT=str(free_port()))
        with worker(worker_env, tmp / "worker.log") as proc:
            ready(worker_env, proc)
            replayed = ioc(as_user(province, "simulator"), "replay", str(replay_file), "--max")
            assert replayed.returncode == 0, replayed.stderr
            wait_for(lambda: summary(stored(db)) == want, 180, "the expected incidents", proc)
        province.incidents = stored(db)
        yield province
    finally:
        kafka.close()


def incidents_of(province: Province, district: str) -> int:
    """Versions the district's feed must hold: every version of each of its incidents."""
    db = Path(province.env["IOC_DATA_DIR"]) / "incidents.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT version, body FROM incidents").fetchall()
    return sum(v for v, body in rows if orjson.loads(body)["district"] == district)


def test_a_district_reads_its_own_feed(province: Province) -> None:
    want = incidents_of(province, "da-lat")
    assert want >= 1, "the demo scenario has incidents in Đà Lạt"
    env = as_user(province, "district-da-lat", public=True)
    done = ioc(env, "subscribe", "--district", "da-lat", "--from-beginning", "--no-follow")
    assert done.returncode == 0, done.stderr
    got = [Incident.model_validate_json(line) for line in done.stdout.splitlines()]
    assert len(got) == want
    assert {i.district for i in got} == {"da-lat"}


def test_a_district_cannot_read_another_districts_feed(province: Province) -> None:
    assert incidents_of(province, "bao-loc") >= 1, "there is something to steal"
    env = as_user(province, "district-da-lat", public=True)
    done = ioc(env, "subscribe", "--district", "bao-loc", "--from-beginning", "--no-follow")
    assert done.returncode == 1
    assert "not authorised to read ioc.incidents.bao-loc" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_district_keeps_its_position_only_under_its_own_group(province: Province) -> None:
    env = as_user(province, "district-da-lat", public=True)
    done = ioc(env, "subscribe", "--district", "da-lat", "--group", "ioc-subscribe-bao-loc",
               "--from-beginning", "--no-follow")  # fmt: skip
    assert done.returncode == 1
    assert "not authorised" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


async def read_one(province: Province, user: str, topic: str) -> None:
    """Subscribe to the topic as the user (no consumer group) and fetch once."""
    kafka = province.kafka
    public = user.startswith("district-")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.public_bootstrap if public else kafka.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kafka.client_options(user),
    )
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        ("district-da-lat", "ioc.incidents"),
        ("district-da-lat", "ioc.incidents.bao-loc"),
        ("district-da-lat", "sensors.traffic"),
        ("district-da-lat", "ioc.alerts"),
        ("simulator", "ioc.incidents"),
        ("simulator", "ioc.incidents.da-lat"),
        ("simulator", "sensors.environment"),
        ("bridge", "ioc.incidents"),
        ("bridge", "sensors.environment"),
    ],
)
def test_reading_what_the_user_was_not_granted_is_an_authorisation_error(
    province: Province, user: str, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(read_one(province, user, topic))


async def write_one(province: Province, user: str, topic: str) -> None:
    kafka = province.kafka
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap,
        acks="all",
        request_timeout_ms=10000,
        **kafka.client_options(user),
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"test")
    finally:
        await producer.stop()


def test_the_simulator_writes_sensor_topics_and_nothing_else(province: Province) -> None:
    asyncio.run(write_one(province, "simulator", "sensors.camera"))
    for topic in ("ioc.incidents", "ioc.incidents.da-lat", "ioc.rules", "ioc.commands"):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(write_one(province, "simulator", topic))


def test_a_district_cannot_write_even_its_own_feed(province: Province) -> None:
    with pytest.raises(KafkaError):
        asyncio.run(write_one(province, "district-da-lat", "ioc.incidents.da-lat"))


def test_a_wrong_password_is_refused_clearly(province: Province) -> None:
    env = {
        **as_user(province, "district-da-lat", public=True),
        "IOC_SASL_PASSWORD": "not-the-password",
    }
    done = ioc(env, "subscribe", "--district", "da-lat", "--no-follow", timeout=60)
    assert done.returncode == 1
    assert "authentication failed" in done.stderr.lower(), done.stderr
    assert "district-da-lat" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_bridge_forwards_under_its_own_user_and_writes_nothing_else(
    province: Province, tmp_path: Path
) -> None:
    """The operator loads the device registry; `ioc bridge http`, signed in as `bridge`,
    follows it and forwards a camera platform's reading into its sensor topic."""
    registry = DEVICES
    loaded = ioc(as_user(province, "operator"), "devices", "load", str(registry))
    assert loaded.returncode == 0, loaded.stderr
    bridge = BridgeProcess(as_user(province, "bridge"), tmp_path / "bridge.log", None).start()
    reading = CAMERA_READING
    try:
        answer = httpx.post(
            f"{bridge.url}/ingest/camera",
            content=orjson.dumps(reading),
            headers={"X-API-Key": "vms-key"},
            timeout=60,
        )
        assert answer.status_code == 202, answer.text
    finally:
        assert bridge.stop() == 0, bridge.log()
    for topic in ("ioc.incidents", "ioc.commands", "ioc.devices", "ioc.rules"):
        with pytest.raises(TopicAuthorizationFailedError):
            asyncio.run(write_one(province, "bridge", topic))
