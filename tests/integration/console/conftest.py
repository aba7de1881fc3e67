"""The console the API tests share, one per module: a real `ioc console` on a store of known
incidents and a broker holding known sensor statuses, with a token per role."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from ioc.kafka.admin import ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.embedded import EmbeddedBroker
from ioc.kafka.topics import SENSORS, topic_specs
from ioc.schemas.sensors import SourceStatuses
from ioc.settings import Settings
from tests.harness.console_data import T0, acknowledged, opened, sensor, store
from tests.harness.consoles import ROLES, ConsoleProcess, Setup, make_tokens
from tests.harness.kafka import Kafka


@pytest.fixture(scope="module")
def setup(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    data = tmp_path_factory.mktemp("console")
    prefix = f"con{time.monotonic_ns()}."
    asyncio.run(
        ensure_topics(Cluster.at(broker.bootstrap), topic_specs(Settings(topic_prefix=prefix)))
    )
    first_ack = opened(2, district="da-lat")
    incidents = {
        "da-lat": opened(1, district="da-lat", title="Ngập úng đường Trần Phú"),
        "da-lat-ack": acknowledged(first_ack),
        "bao-loc": opened(3, district="bao-loc", severity="moderate"),
        "province": opened(4, district=None, severity="extreme"),
    }
    store_path = data / "incidents.db"
    # Every version, as a worker's sink stores them.
    store(store_path, [first_ack, *incidents.values()])
    kafka = Kafka(broker.bootstrap)
    # One source whose sensors are in two districts and the province: each caller its share.
    statuses = SourceStatuses(
        source_id="gw-test",
        sensors=[
            sensor("s-da-lat", "da-lat"),
            sensor("s-bao-loc", "bao-loc"),
            sensor("s-province", None, "offline"),
        ],
        published_at=T0,
    )
    kafka.produce(prefix + SENSORS, [(b"gw-test", statuses.model_dump_json().encode())])
    tokens = make_tokens(store_path, (*ROLES, "district:bao-loc"))
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "IOC_BROKER": f"kafka://{broker.bootstrap}",
        "IOC_TOPIC_PREFIX": prefix,
        "IOC_DATA_DIR": str(data),
        "IOC_SINKS": f"sqlite://{store_path}",
        "IOC_CONSOLE_ACTION_TIMEOUT": "2",
    }
    console = ConsoleProcess(env, data / "console.log").start()
    try:
        yield Setup(console, tokens, incidents, prefix, kafka, store_path)
    finally:
        console.stop()
