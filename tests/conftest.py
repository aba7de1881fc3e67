"""Shared fixtures: the servers the suite starts for itself (the embedded broker, Apache
Kafka, PostgreSQL, Mosquitto; see `tests/services`), and helpers to use them."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.kafka.embedded import EmbeddedBroker
from ioc.ports import free_port
from ioc.settings import Settings
from tests.harness.kafka import Kafka
from tests.harness.processes import children_running_binary
from tests.harness.servers import BrokerUnderTest, serve
from tests.services import kafka as kafka_service
from tests.services.availability import in_ci, unavailable
from tests.services.kafka import KafkaCluster
from tests.services.mosquitto import MosquittoBroker
from tests.services.postgres import PostgresServer

# Short group timeouts: Tansu answers a group's first join after half the session timeout.
TEST_SESSION_TIMEOUT = "6"
TEST_HEARTBEAT = "0.5"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The embedded broker (Tansu), one for the whole session."""
    embedded = EmbeddedBroker(log_dir=tmp_path_factory.mktemp("broker-logs"))
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def kafka_home() -> Path:
    found = kafka_service.home()
    if found is None:
        unavailable(
            f"Apache Kafka {kafka_service.version()} is not in the cache "
            "(scripts/fetch-kafka.sh puts it there)"
        )
    return found


@pytest.fixture(scope="session")
def apache_kafka(kafka_home: Path) -> Iterator[KafkaCluster]:
    """A single-node Apache Kafka (KRaft), one for the whole session."""
    yield from serve(KafkaCluster(kafka_home, nodes=1))


@pytest.fixture(scope="session")
def kafka_cluster(kafka_home: Path) -> Iterator[KafkaCluster]:
    """Three Apache Kafka nodes: replication factor 3, min.insync.replicas 2. A test that
    stops a node starts it again before it ends."""
    yield from serve(KafkaCluster(kafka_home, nodes=3))


@pytest.fixture
def any_broker(request: pytest.FixtureRequest) -> BrokerUnderTest:
    kind = getattr(request, "param", "tansu")
    if kind == "tansu":
        embedded: EmbeddedBroker = request.getfixturevalue("broker")
        return BrokerUnderTest("tansu", [embedded.bootstrap])
    cluster: KafkaCluster = request.getfixturevalue("apache_kafka")
    return BrokerUnderTest("kafka", cluster.bootstrap.split(","))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """The suite's own PostgreSQL server, on a free port."""
    try:
        server = PostgresServer()
    except FileNotFoundError as exc:
        unavailable(str(exc))
    yield from serve(server)


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoBroker]:
    """The suite's own Mosquitto broker, on a free port."""
    try:
        server = MosquittoBroker()
    except FileNotFoundError as exc:
        unavailable(str(exc))
    yield from serve(server)


@pytest.fixture
def kafka(any_broker: BrokerUnderTest) -> Kafka:
    return Kafka(any_broker.bootstrap)


@pytest.fixture
def ioc_env(any_broker: BrokerUnderTest, tmp_path: Path) -> dict[str, str]:
    """Environment for an `ioc` subprocess on the test's broker, with its own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(
        IOC_BROKER=any_broker.url,
        IOC_DATA_DIR=str(tmp_path / "data"),
        IOC_WEB_PORT=str(free_port()),
        IOC_SESSION_TIMEOUT=TEST_SESSION_TIMEOUT,
        IOC_HEARTBEAT_INTERVAL=TEST_HEARTBEAT,
        # Each test's worker is its own consumer group: no test waits on another's members.
        IOC_APP_ID=f"ioc-test-{time.monotonic_ns()}",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def pipeline_env(ioc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A worker's environment for a whole scenario: its own topics, three sinks."""
    return {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"e2e{time.monotonic_ns()}.",
        "IOC_SINKS": f"sqlite://;kafka://;file://{tmp_path / 'out' / 'incidents.jsonl'}",
        "IOC_ACK_SLA": "",  # escalation runs on the wall clock: kept out of the count here
    }


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No IOC_* variable from the developer's shell leaks into a settings test."""
    for key in list(os.environ):
        if key.startswith("IOC_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IOC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def settings(clean_env: Path) -> Settings:
    return Settings()


# The programs of the servers the suite starts: none may outlive the test session.
SERVER_PROGRAMS = ("tansu", "java", "postgres", "mosquitto")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # After every fixture is torn down.
    leftovers = {name: children_running_binary(name) for name in SERVER_PROGRAMS}
    leftovers = {name: pids for name, pids in leftovers.items() if pids}
    if leftovers:
        print(f"\nserver processes left behind: {leftovers}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def shared_data(name: str) -> Path:
    """A reference file from ../shared/data (never shipped): skip without it, fail in CI."""
    base = Path(os.environ.get("IOC_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data"))
    path = base / name
    if not path.is_file():
        message = f"reference data {path} is missing"
        if in_ci():
            pytest.fail(f"{message}; CI runs with ../shared beside the clone")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def official_districts() -> Path:
    return shared_data("lam-dong-districts-2019.geojson")
