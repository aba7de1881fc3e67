"""The device registry as the compacted `ioc.devices` topic holds it, followed by every bridge
replica without a consumer group (each reads it all), so that `ioc devices load` reaches a
running bridge within a second."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from ioc import kafka_security
from ioc.bridge.registry import Registry, decode
from ioc.settings import Settings
from ioc.topics import DEVICES

log = logging.getLogger("ioc.bridge.devices")


class RegistryFollower:
    def __init__(self, settings: Settings, servers: Sequence[str], registry: Registry) -> None:
        self.registry = registry
        self.topic = settings.topic(DEVICES)
        self.ready = threading.Event()  # the topic read up to where it ended at the start
        self.refused = 0  # entries on the topic that are not valid (written by hand?)
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=list(servers),
            client_id="ioc-bridge-devices",
            group_id=None,
            enable_auto_commit=False,
            **kafka_security.KafkaSecurity.from_settings(settings).kafka_python(),
        )
        self._thread = threading.Thread(target=self._run, name="devices", daemon=True)

    def start(self) -> None:
        partitions = self._consumer.partitions_for_topic(self.topic) or {0}
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_beginning(*assigned)
        self._ends: dict[TopicPartition, int] = self._consumer.end_offsets(assigned)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            batches: dict[Any, list[Any]] = self._consumer.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self._apply(record.key, record.value)
            if not self.ready.is_set() and all(
                self._consumer.position(tp) >= end for tp, end in self._ends.items()
            ):
                log.info(
                    "device registry: %d devices, %d sources",
                    len(self.registry.devices),
                    len(self.registry.sources),
                )
                self.ready.set()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            self.refused += 1
            return
        if value is None:
            self.registry.remove(key.decode())
            return
        try:
            self.registry.put(decode(value))
        except ValidationError as exc:
            self.refused += 1
            log.warning("device registry: entry %s refused: %s", key.decode(errors="replace"), exc)
