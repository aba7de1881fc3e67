"""What the subcommands share: settings from arguments, and finding (or starting) a broker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from ioc.kafka.admin import (
    BrokerUnavailable,
    TopicsNotAuthorised,
    TopicState,
    ensure_topics,
    seed_offsets,
    wait_until_ready,
)
from ioc.kafka.cluster import Cluster
from ioc.kafka.embedded import (
    BrokerError,
    EmbeddedBroker,
    discover,
    remove_discovery,
    write_discovery,
)
from ioc.kafka.topics import consumed_topics, topic_specs
from ioc.settings import Settings, load_settings


class CommandError(Exception):
    """A failure the user can act on; printed without a traceback."""


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    settings, _ = load_settings(getattr(args, "config", None), overrides)
    return settings


def ensure_data_dir(settings: Settings) -> None:
    try:
        (settings.data_dir / "faust").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(
            f"data dir {settings.data_dir} cannot be used ({exc.strerror}); set IOC_DATA_DIR"
        ) from None


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if level != "debug":
        # kafka-python tells of every connection it opens at INFO: ours say what matters.
        logging.getLogger("kafka").setLevel(
            max(logging.WARNING, logging.getLevelName(level.upper()))
        )


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Connection:
    """The cluster (its servers, as the settings say to authenticate), and the embedded broker
    when this process owns one."""

    cluster: Cluster
    embedded: EmbeddedBroker | None = None
    data_dir: Path | None = None

    @property
    def servers(self) -> tuple[str, ...]:
        return self.cluster.servers

    def close(self) -> None:
        if self.embedded is not None:
            if self.data_dir is not None:
                remove_discovery(self.data_dir, self.embedded)
            self.embedded.stop()


def start_embedded(settings: Settings, port: int | None = None) -> Connection:
    ensure_data_dir(settings)
    broker = EmbeddedBroker(
        port=settings.broker_port if port is None else port,
        binary=settings.broker_binary,
        ready_timeout=settings.broker_ready_timeout,
        log_dir=settings.data_dir / "logs",
    )
    try:
        broker.start()
    except BrokerError as exc:
        raise CommandError(str(exc)) from None
    conn = Connection(Cluster.of((broker.bootstrap,), settings), broker, settings.data_dir)
    write_discovery(settings.data_dir, broker)
    try:
        create_topics(settings, conn.cluster)
    except BaseException:
        conn.close()
        raise
    return conn


def connect(settings: Settings, *, may_start: bool) -> Connection:
    """IOC_BROKER if set; else an embedded broker already running for this data dir; else
    start one (commands that can own it) or explain how to get one."""
    if settings.broker is not None:
        return Connection(Cluster.of(settings.broker, settings))
    running = discover(settings.data_dir)
    if running is not None:
        return Connection(Cluster.of((running,), settings))
    if may_start:
        return start_embedded(settings)
    raise CommandError(
        "no broker: set IOC_BROKER=kafka://HOST:PORT, or start the embedded one with `ioc broker`"
    )


def create_topics(
    settings: Settings, cluster: Cluster, *, administrator: bool = True
) -> list[TopicState]:
    """Create ioc's topics that are missing. A command that only publishes (`administrator`
    False) goes on when its user may not create them: on a cluster with ACLs the
    administrator's `ioc topics create` has made them, and this user cannot even see some."""

    async def run() -> list[TopicState]:
        await wait_until_ready(cluster, settings.broker_ready_timeout)
        return await ensure_topics(cluster, topic_specs(settings))

    user = settings.sasl_username or "anonymous"
    try:
        states = asyncio.run(run())
    except BrokerUnavailable as exc:
        raise CommandError(str(exc)) from None
    except TopicsNotAuthorised as exc:
        if administrator:
            raise CommandError(
                f"user {user} is {exc}; create them as an administrator "
                "(`ioc topics create`), or grant this user Create"
            ) from None
        logging.getLogger("ioc").info("user %s is %s: left to the administrator", user, exc)
        return []
    except KafkaError as exc:
        raise CommandError(f"could not create the topics: {exc}") from None
    for state in states:
        if state.action == "partitions differ":
            logging.getLogger("ioc").warning(
                "topic %s has %d partitions, settings ask for %d (left as it is)",
                state.name,
                state.partitions,
                state.wanted,
            )
    return states


def send_one(cluster: Cluster, topic: str, key: bytes, value: bytes, timeout: float) -> None:
    """Publish one message and wait for the broker to have it; CommandError saying why not."""
    from simulators.publish import BrokerUnreachable, bootstrap, describe, kafka_producer

    try:
        producer = bootstrap(kafka_producer(cluster, timeout), cluster.servers, timeout)
    except BrokerUnreachable as exc:
        raise CommandError(str(exc)) from None
    try:
        producer.send(topic, value=value, key=key).get(timeout=timeout)
    except Exception as exc:
        raise CommandError(f"could not publish to {topic}: {describe(exc)}") from None
    finally:
        producer.close(timeout=5)


def seed_group_offsets(settings: Settings, cluster: Cluster) -> None:
    try:
        seeded = asyncio.run(seed_offsets(cluster, settings.app_id, consumed_topics(settings)))
    except KafkaError as exc:
        logging.getLogger("ioc").warning("could not check the group's offsets: %s", exc)
        return
    if seeded:
        logging.getLogger("ioc").info(
            "group %s starts at the beginning of %d partitions", settings.app_id, seeded
        )
