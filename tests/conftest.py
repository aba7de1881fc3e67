"""Shared fixtures: one embedded broker for the whole session, and helpers to use it."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from ioc.broker import EmbeddedBroker, free_port
from ioc.settings import Settings
from tests.procs import children_running_binary


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Short group timeouts: Tansu answers a group's first join after half the session timeout.
TEST_SESSION_TIMEOUT = "6"
TEST_HEARTBEAT = "0.5"


def require_service(name: str, host: str, port: int) -> None:
    """Skip when a service is unreachable on a user's machine; fail in CI, where it must run."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        message = f"{name} is not reachable on {host}:{port} ({exc})"
        if in_ci():
            pytest.fail(f"{message}; CI must provide it")
        pytest.skip(message)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    proc: subprocess.Popen[Any] | None = None,
) -> Any:
    """Poll a condition of another process (no event crosses the process boundary); fail at
    once if `proc`, the process expected to bring the condition about, has exited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited with code {proc.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    embedded = EmbeddedBroker(log_dir=tmp_path_factory.mktemp("broker-logs"))
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.stop()


class Kafka:
    """Produce and consume test messages on the session broker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def produce(self, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
        async def run() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await producer.start()
            try:
                for key, value in items:
                    await producer.send(topic, value, key=key)
                await producer.flush()
            finally:
                await producer.stop()

        asyncio.run(run())

    def consume(self, topic: str, count: int, timeout: float = 20.0) -> list[tuple[Any, bytes]]:
        """Read `count` messages from the beginning of every partition (no consumer group)."""
        return self.consume_until(topic, lambda out: len(out) >= count, timeout, fail=False)

    def consume_until(
        self,
        topic: str,
        done: Callable[[list[tuple[Any, bytes]]], Any],
        timeout: float = 20.0,
        *,
        fail: bool = True,
        what: str = "",
    ) -> list[tuple[Any, bytes]]:
        """Read the topic from its beginning until `done(messages so far)` holds; with `fail`,
        an AssertionError when it does not within `timeout` seconds."""

        async def run() -> list[tuple[Any, bytes]]:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
            await consumer.start()
            try:
                parts = consumer.partitions_for_topic(topic) or set()
                if not parts:
                    await consumer._client.force_metadata_update()
                    parts = consumer.partitions_for_topic(topic) or set()
                tps = [TopicPartition(topic, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                out: list[tuple[Any, bytes]] = []
                deadline = time.monotonic() + timeout
                while not done(out):
                    if time.monotonic() > deadline:
                        if fail:
                            raise AssertionError(
                                f"timed out after {timeout:g} s reading {topic} for "
                                f"{what or 'the expected messages'}; read {len(out)}"
                            )
                        break
                    batch = await consumer.getmany(timeout_ms=200)
                    for records in batch.values():
                        out.extend((r.key, r.value) for r in records)
                    if not parts:
                        # The topic did not exist yet: look again, it may have been created.
                        await consumer._client.force_metadata_update()
                        parts = consumer.partitions_for_topic(topic) or set()
                        if parts:
                            tps = [TopicPartition(topic, p) for p in sorted(parts)]
                            consumer.assign(tps)
                            await consumer.seek_to_beginning(*tps)
                return out
            finally:
                await consumer.stop()

        return asyncio.run(run())

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        """The offsets a consumer group has committed on a topic, by partition."""

        async def run() -> dict[int, int | None]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
            )
            await consumer.start()
            try:
                parts = consumer.partitions_for_topic(topic) or set()
                return {p: await consumer.committed(TopicPartition(topic, p)) for p in parts}
            finally:
                await consumer.stop()

        return asyncio.run(run())


@pytest.fixture(scope="session")
def kafka(broker: EmbeddedBroker) -> Kafka:
    return Kafka(broker.bootstrap)


@pytest.fixture
def ioc_env(broker: EmbeddedBroker, tmp_path: Path) -> dict[str, str]:
    """Environment for an `ioc` subprocess on the session broker, with its own data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(
        IOC_BROKER=f"kafka://{broker.bootstrap}",
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


IOC = [sys.executable, "-m", "ioc"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # After every fixture is torn down: no broker may outlive the test session.
    leftovers = children_running_binary("tansu")
    if leftovers:
        print(f"\nbroker processes left behind: {leftovers}", file=sys.stderr)
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
