"""Apache Kafka in KRaft mode for the test suite, from the jars that `scripts/fetch-kafka.sh`
assembles (Maven Central) into a Kafka home outside the repository: one node, or a cluster of
combined broker-and-controller nodes, each with its own temporary directory and free ports.

`deploy/kafka/start.sh` runs from the same home (its `bin/` launchers are those of a release),
so the security tests start the deployment's own broker configuration.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from ioc.districts import DISTRICT_SLUGS
from ioc.kafka.security import KafkaSecurity
from ioc.ports import accepts, free_port
from tests.services.process import ServerProcess, ServiceError

ROOT = Path(__file__).resolve().parents[2]
POM = ROOT / "scripts" / "kafka" / "pom.xml"
FETCH = ROOT / "scripts" / "fetch-kafka.sh"


def version() -> str:
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text("utf-8"))
    assert found, f"{POM} names no kafka.version"
    return found.group(1)


def home() -> Path | None:
    """The Kafka home the fetch script assembles, when it is there."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = Path(os.environ.get("IOC_TEST_KAFKA_HOME") or cache / "ioc" / f"kafka-{version()}")
    if (path / ".assembled").is_file() and (path / "bin" / "kafka-server-start.sh").exists():
        return path
    return None


def cluster_id() -> str:
    """What `kafka-storage.sh random-uuid` prints, without a JVM start: like Kafka's own
    Uuid.randomUuid, never one that starts with "-", which a command line takes for an option."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def tool_env(kafka_home: Path) -> dict[str, str]:
    """The environment of Kafka's command-line tools: a short-lived JVM starts faster with the
    first compiler tier only."""
    return {
        **os.environ,
        "KAFKA_HOME": str(kafka_home),
        "KAFKA_JVM_PERFORMANCE_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }


class KafkaNode:
    def __init__(self, node_id: int, base: Path) -> None:
        self.node_id = node_id
        self.dir = base / f"node-{node_id}"
        self.port = free_port()
        self.controller_port = free_port()
        self.server: ServerProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class KafkaCluster:
    """`nodes` combined broker-and-controller nodes with PLAINTEXT listeners on loopback."""

    def __init__(self, kafka_home: Path, nodes: int = 1, **overrides: str) -> None:
        self.home = kafka_home
        self.base = Path(tempfile.mkdtemp(prefix="ioc-test-kafka-"))
        self.nodes = [KafkaNode(n + 1, self.base) for n in range(nodes)]
        self.overrides = overrides
        self.cluster_id = cluster_id()

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def properties(self, node: KafkaNode) -> dict[str, str]:
        size = len(self.nodes)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.dir / "data"),
            "offsets.topic.replication.factor": str(min(size, 3)),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(min(size, 3)),
            "transaction.state.log.min.isr": str(min(size, 2)),
            "default.replication.factor": str(min(size, 3)),
            "min.insync.replicas": str(min(size, 2)),
            # A test's consumer group starts at once rather than after 3 s.
            "group.initial.rebalance.delay.ms": "0",
            # Test machines are small: fewer threads, smaller segments.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        props.update(self.overrides)
        return props

    def _write_config(self, node: KafkaNode) -> Path:
        node.dir.mkdir(parents=True, exist_ok=True)
        path = node.dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in self.properties(node).items()))
        return path

    def _format(self, node: KafkaNode, config: Path) -> None:
        done = subprocess.run(
            [str(self.home / "bin" / "kafka-storage.sh"), "format", "--ignore-formatted",
             "-t", self.cluster_id, "-c", str(config)],
            capture_output=True, text=True, env=tool_env(self.home), check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise ServiceError(f"kafka-storage format failed:\n{done.stdout}{done.stderr}")

    def start(self) -> KafkaCluster:
        for node in self.nodes:
            config = self._write_config(node)
            self._format(node, config)
        for node in self.nodes:
            self.start_node(node, wait=False)
        for node in self.nodes:
            assert node.server is not None
            node.server.wait_listening("127.0.0.1", node.port, 90)
        self.wait_for_brokers(len(self.nodes))
        return self

    def start_node(self, node: KafkaNode, *, wait: bool = True) -> None:
        env = {
            **os.environ,
            "KAFKA_HEAP_OPTS": "-Xms128m -Xmx768m",
            "KAFKA_LOG_LEVEL": "INFO",
        }
        node.server = ServerProcess(
            f"Kafka node {node.node_id}",
            [str(self.home / "bin" / "kafka-server-start.sh"), str(node.dir / "server.properties")],
            node.dir / "server.log",
            env=env,
        )
        node.server.start()
        if wait:
            node.server.wait_listening("127.0.0.1", node.port, 90)
            self.wait_for_brokers(len(self.nodes))

    def wait_for_brokers(self, count: int, timeout: float = 90.0) -> None:
        """Until the cluster's metadata lists `count` brokers (a restarted node has rejoined)."""
        alive = next(n for n in self.nodes if n.server is not None and n.server.running)
        assert alive.server is not None
        alive.server.wait_until(
            lambda: self._brokers() >= count, timeout, f"{count} brokers in the metadata"
        )

    def _brokers(self) -> int:
        servers = [n.bootstrap for n in self.nodes if n.server and n.server.running]
        if not any(accepts("127.0.0.1", int(s.rsplit(":", 1)[1])) for s in servers):
            return 0

        async def ask() -> int:
            admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=3000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                return len(cluster["brokers"])
            finally:
                await admin.close()

        try:
            return asyncio.run(ask())
        except (KafkaError, OSError):
            return 0

    def kill(self, node: KafkaNode) -> None:
        assert node.server is not None
        node.server.kill()

    def stop(self) -> None:
        # A throwaway cluster: a node that cannot hand over to its stopped peers is killed
        # after a few seconds rather than after its controlled-shutdown retries.
        for node in self.nodes:
            if node.server is not None:
                node.server.stop(timeout=5)

    def close(self) -> None:
        """Kill the nodes and remove their files (a controlled shutdown takes seconds a node,
        for data about to be thrown away)."""
        for node in self.nodes:
            if node.server is not None:
                node.server.kill()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.base)

    @property
    def pids(self) -> list[int]:
        return [n.server.pid for n in self.nodes if n.server is not None and n.server.pid]


DEPLOY = ROOT / "deploy" / "kafka"


class DeployedKafka:
    """The deployment's own broker: `deploy/kafka/start.sh` (SASL/SCRAM users, the standard
    authorizer, no ACL yet) run from the test Kafka home on loopback ports, then
    `deploy/kafka/acls.sh` as the compose file's `kafka-acls` job runs it."""

    def __init__(self, kafka_home: Path) -> None:
        self.home = kafka_home
        self.base = Path(tempfile.mkdtemp(prefix="ioc-test-kafka-deployed-"))
        self.port = free_port()  # the CLIENT listener (workers, simulators, operators)
        self.public_port = free_port()  # the DISTRICTS listener
        self.controller_port = free_port()
        self.cluster_id = cluster_id()
        self.passwords = {
            user: f"{user}-{uuid.uuid4().hex[:12]}"
            for user in (
                "admin",
                "worker",
                "operator",
                "simulator",
                "bridge",
                *(f"district-{slug}" for slug in DISTRICT_SLUGS),
            )
        }
        self.server: ServerProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def public_bootstrap(self) -> str:
        return f"127.0.0.1:{self.public_port}"

    def client_options(self, user: str) -> dict[str, Any]:
        """aiokafka's options for signing in as `user`, as ioc builds them."""
        security = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", user, self.passwords[user])
        return security.aiokafka()

    def env(self) -> dict[str, str]:
        """What the compose file gives the kafka and kafka-acls services, for loopback."""
        env = {
            **tool_env(self.home),
            "KAFKA_CLUSTER_ID": self.cluster_id,
            "KAFKA_CONFIG_FILE": str(self.base / "server.properties"),
            "KAFKA_DATA_DIR": str(self.base / "data"),
            "KAFKA_LISTEN_HOST": "127.0.0.1",
            "KAFKA_INTERNAL_HOST": "127.0.0.1",
            "KAFKA_PUBLIC_HOST": "127.0.0.1",
            "KAFKA_CLIENT_PORT": str(self.port),
            "KAFKA_PUBLIC_PORT": str(self.public_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "KAFKA_ADMIN_PASSWORD": self.passwords["admin"],
            "IOC_WORKER_PASSWORD": self.passwords["worker"],
            "IOC_OPERATOR_PASSWORD": self.passwords["operator"],
            "IOC_SIMULATOR_PASSWORD": self.passwords["simulator"],
            "IOC_BRIDGE_PASSWORD": self.passwords["bridge"],
        }
        for district in DISTRICT_SLUGS:
            var = f"DISTRICT_{district.upper().replace('-', '_')}_PASSWORD"
            env[var] = self.passwords[f"district-{district}"]
        return env

    def start(self) -> DeployedKafka:
        env = self.env()
        self.server = ServerProcess(
            "Kafka (deploy/kafka/start.sh)",
            ["bash", str(DEPLOY / "start.sh")],
            self.base / "server.log",
            env={**env, "KAFKA_JVM_PERFORMANCE_OPTS": "", "KAFKA_LOG_LEVEL": "INFO"},
        )
        self.server.start()
        self.server.wait_listening("127.0.0.1", self.port, 90)
        return self

    def grant(self, script: Path = DEPLOY / "acls.sh") -> str:
        """Run the ACL script (the deployment's, or another) as the admin; its output."""
        done = subprocess.run(
            ["bash", str(script)], env=self.env(), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServiceError(f"{script} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def close(self) -> None:
        if self.server is not None:
            self.server.kill()  # its files go next
        with contextlib.suppress(OSError):
            shutil.rmtree(self.base)
