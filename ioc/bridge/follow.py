"""The device registry as the compacted `ioc.devices` topic holds it, followed by every bridge
replica without a consumer group (each reads it all), so that `ioc devices load` reaches a
running bridge within a second."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from ioc.bridge.registry import Registry, decode
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import DEVICES
from ioc.settings import Settings

log = logging.getLogger("ioc.bridge.devices")


class RegistryFollower:
    """`ready` once the topic is read up to the high watermark of the fetch that reached it
    (not ListOffsets, which Tansu answers low after a batch of several records); then it
    goes on following. `keys` are the topic's live keys, refused entries' too."""

    def __init__(
        self,
        settings: Settings,
        cluster: Cluster,
        registry: Registry,
        client_id: str = "ioc-bridge-devices",
    ) -> None:
        self.registry = registry
        self.topic = settings.topic(DEVICES)
        self.ready = threading.Event()
        self.keys: set[str] = set()
        self.refused = 0  # entries on the topic that are not valid (written by hand?)
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            client_id=client_id,
            group_id=None,
            enable_auto_commit=False,
            **cluster.kafka_python(),
        )
        self._thread = threading.Thread(target=self._run, name="devices", daemon=True)

    def start(self) -> None:
        partitions = self._consumer.partitions_for_topic(self.topic) or {0}
        self._assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._assigned)
        self._consumer.seek_to_beginning(*self._assigned)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            batches: dict[Any, list[Any]] = self._consumer.poll(timeout_ms=500)
            changes = [
                change
                for records in batches.values()
                for record in records
                if (change := self._change(record.key, record.value)) is not None
            ]
            if changes:
                self.registry.update(changes)
            if not self.ready.is_set() and self._at_fetched_end():
                log.info(
                    "device registry: %d devices, %d sources",
                    len(self.registry.devices),
                    len(self.registry.sources),
                )
                self.ready.set()

    def _at_fetched_end(self) -> bool:
        for tp in self._assigned:
            end = self._consumer.highwater(tp)
            if end is None or self._consumer.position(tp) < end:
                return False
        return True

    def _change(self, key: bytes | None, value: bytes | None) -> tuple[str, Any] | None:
        if key is None:
            self.refused += 1
            return None
        name = key.decode(errors="replace")
        if value is None:
            self.keys.discard(name)
            return name, None
        self.keys.add(name)
        try:
            return name, decode(value)
        except ValidationError as exc:
            self.refused += 1
            log.warning("device registry: entry %s refused: %s", name, exc)
            return None
