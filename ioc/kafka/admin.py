"""Talking to the cluster as an administrator: readiness, topic creation and description.

aiokafka's admin client is used rather than kafka-python's: kafka-python 2.3 fails to parse the
authorized-operations field in Tansu's metadata responses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.conn import create_conn
from aiokafka.errors import AuthenticationFailedError, KafkaError, SaslAuthenticationFailed
from aiokafka.structs import OffsetAndMetadata

from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import TopicSpec
from ioc.ports import none_accept


class BrokerUnavailable(Exception):
    """The broker did not answer a metadata request in time."""


# TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED: the user may not create topics.
NOT_AUTHORISED = (29, 31)


class TopicsNotAuthorised(Exception):
    """The user may not create these topics (or may not see that they exist)."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"not authorised to create {', '.join(names)}")
        self.names = list(names)


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: int
    action: str  # "created" | "exists" | "partitions differ"
    wanted: int


def _client(cluster: Cluster, timeout_ms: int = 5000) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        client_id="ioc-admin", request_timeout_ms=timeout_ms, **cluster.aiokafka()
    )


async def list_topics(cluster: Cluster) -> list[str]:
    admin = _client(cluster)
    try:
        await admin.start()
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


class AuthenticationFailed(BrokerUnavailable):
    """The broker refused this user's credentials: trying again will not help."""


async def _refused_credentials(cluster: Cluster) -> str | None:
    """Why the broker refuses our SASL credentials, or None. aiokafka's clients only say that
    they could not bootstrap; one bare connection tells an authentication failure apart."""
    security = cluster.security
    if not security.sasl:
        return None
    for server in cluster.servers:
        host, _, port = server.rpartition(":")
        try:
            options = security.aiokafka()
            conn = await create_conn(host, int(port), request_timeout_ms=5000, **options)
        except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
            return (
                f"the broker {server} refused user {security.username}: {exc} "
                "(a wrong password, or no such user)"
            )
        except (KafkaError, OSError):
            continue
        conn.close()
        return None
    return None


async def wait_until_ready(cluster: Cluster, within: float) -> None:
    """Return once the broker answers a metadata request; BrokerUnavailable after `within` s,
    AuthenticationFailed at once when it refuses our credentials."""
    deadline = time.monotonic() + within
    last: Exception | None = None
    delay = 0.05
    while True:
        try:
            # A TCP probe first keeps aiokafka from logging every refused connection.
            if none_accept(cluster.servers) is None:
                await list_topics(cluster)
                return
            last = ConnectionRefusedError(f"nothing listens on {cluster.bootstrap}")
        except (KafkaError, OSError) as exc:
            last = exc
            refused = await _refused_credentials(cluster)
            if refused is not None:
                raise AuthenticationFailed(refused) from None
        if time.monotonic() + delay > deadline:
            raise BrokerUnavailable(
                f"broker {cluster.bootstrap} did not answer a metadata request within "
                f"{within:g} s (last error: {last})"
            )
        await asyncio.sleep(delay)  # back off between connection attempts, not a synchronisation
        delay = min(delay * 2, 1.0)


async def may_describe(cluster: Cluster, topic: str) -> bool:
    """False when the broker refuses this user the topic (an ACL), rather than not having it:
    both look alike in a client's metadata, which lists only what the user may see."""
    admin = _client(cluster)
    try:
        await admin.start()
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return int(described.get("error_code", 0)) not in NOT_AUTHORISED


async def partition_counts(cluster: Cluster, names: Sequence[str]) -> dict[str, int]:
    admin = _client(cluster)
    try:
        await admin.start()
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return {
        t["topic"]: len(t["partitions"])
        for t in described
        if t.get("error_code", 0) == 0 and t.get("partitions")
    }


async def ensure_topics(cluster: Cluster, specs: Sequence[TopicSpec]) -> list[TopicState]:
    """Create the topics that do not exist; never touch those that do. Idempotent.

    On a cluster with ACLs a user sees only the topics it may describe, and may not create
    any: TopicsNotAuthorised names those it was refused, once every other was handled."""
    # Listing first matters: a metadata request naming a missing topic may auto-create it with
    # the broker's default partition count (Tansu does).
    present = set(await list_topics(cluster))
    missing = [s for s in specs if s.name not in present]
    existing = await partition_counts(cluster, [s.name for s in specs if s.name in present])
    if missing:
        admin = _client(cluster)
        try:
            await admin.start()
            response = await admin.create_topics(
                [
                    NewTopic(s.name, s.partitions, s.replication, topic_configs=s.kafka_configs())
                    for s in missing
                ]
            )
        finally:
            await admin.close()
        refused = []
        for name, code, message in _topic_errors(response):
            if code in NOT_AUTHORISED:
                refused.append(name)
            elif code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS, a concurrent creator won
                raise KafkaError(f"could not create topic {name}: error {code} {message or ''}")
        if refused:
            raise TopicsNotAuthorised(refused)
        existing.update(await partition_counts(cluster, [s.name for s in missing]))
    states = []
    for spec in specs:
        have = existing.get(spec.name, 0)
        if spec in missing:
            action = "created"
        elif have != spec.partitions:
            action = "partitions differ"
        else:
            action = "exists"
        states.append(TopicState(spec.name, have, action, spec.partitions))
    return states


@dataclass(frozen=True, slots=True)
class TopicDescription:
    spec: TopicSpec
    partitions: int | None  # None: the topic does not exist
    cleanup_policy: str | None  # None: the broker did not say

    @property
    def problems(self) -> list[str]:
        if self.partitions is None:
            return ["missing"]
        out = []
        if self.partitions != self.spec.partitions:
            out.append(f"{self.partitions} partitions, want {self.spec.partitions}")
        want = self.spec.kafka_configs()["cleanup.policy"]
        if self.cleanup_policy is not None and self.cleanup_policy != want:
            out.append(f"cleanup.policy {self.cleanup_policy}, want {want}")
        return out


async def describe_topics(cluster: Cluster, specs: Sequence[TopicSpec]) -> list[TopicDescription]:
    """What the cluster holds of each topic ioc wants. Reads only: a missing topic is reported,
    not created (the topic list is read first, for the reason given in ensure_topics)."""
    present = set(await list_topics(cluster))
    names = [s.name for s in specs if s.name in present]
    counts = await partition_counts(cluster, names)
    policies: dict[str, str] = {}
    if names:
        admin = _client(cluster)
        try:
            await admin.start()
            resources = [ConfigResource(ConfigResourceType.TOPIC, n, None) for n in names]
            for response in await admin.describe_configs(resources):
                for resource in getattr(response, "resources", []):
                    name, entries = resource[3], resource[4]
                    for entry in entries:
                        if entry[0] == "cleanup.policy" and entry[1] is not None:
                            policies[str(name)] = str(entry[1])
        except KafkaError:
            pass  # a broker without DescribeConfigs: policies are reported as unknown
        finally:
            await admin.close()
    return [
        TopicDescription(
            spec, counts.get(spec.name) if spec.name in present else None, policies.get(spec.name)
        )
        for spec in specs
    ]


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    errors = getattr(response, "topic_errors", [])
    out = []
    for entry in errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((str(name), int(code), message))
    return out


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, in order, for a consumer assigned them by hand; empty when the
    topic does not exist. Metadata is refreshed once when the consumer does not know it yet."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()  # the consumer has no public refresh
        found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def at_fetched_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    """Whether the consumer has read `tp` up to the high watermark of its last fetch. Not
    ListOffsets: Tansu 0.6 answers it with the first offset of the last batch + 1."""
    end = consumer.highwater(tp)
    return end is not None and await consumer.position(tp) >= end


async def seed_offsets(cluster: Cluster, group: str, topics: Sequence[str]) -> int:
    """Commit the earliest offset for each partition the group has never committed on.

    Faust drops records that a fetch returns while its flow is suspended (a rebalance) and
    seeks back to the committed offsets; where the group has none, the seek does nothing and
    the records are skipped for good. A starting group therefore gets a commit at the start of
    every partition, which is where it would begin anyway. Returns how many were seeded. A
    group whose members are running refuses a commit from outside; it has its own commits.
    """
    consumer = AIOKafkaConsumer(
        group_id=group, client_id="ioc-seed", enable_auto_commit=False, **cluster.aiokafka()
    )
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        missing = [tp for tp in tps if await consumer.committed(tp) is None]
        if not missing:
            return 0
        earliest = await consumer.beginning_offsets(missing)
        consumer.assign(missing)
        try:
            await consumer.commit({tp: OffsetAndMetadata(earliest[tp], "") for tp in missing})
        except KafkaError:
            return 0
        return len(missing)
    finally:
        await consumer.stop()
