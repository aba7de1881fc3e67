"""Scale-out on one machine: three workers share the partitions of one consumer group; one is
SIGKILLed while incidents flow; the other two take over its partitions and its state, and
every incident is stored exactly once, with every version once on its district's topic."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from ioc.ports import free_port
from tests.harness.kafka import Kafka
from tests.harness.processes import http_get, worker
from tests.harness.scenario import (
    check_district_topics,
    expected,
    recording,
    start_flow,
    stored,
    summary,
)
from tests.harness.servers import on_both_brokers
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration
WORKERS = 3


def health(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    status, _, body = http_get(f"http://127.0.0.1:{env['IOC_WEB_PORT']}/health")
    try:
        return status, orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, {}


def sensor_partitions(env: dict[str, str]) -> set[str]:
    _, payload = health(env)  # a stalled worker (503) still names its partitions
    return {p for p in payload.get("partitions", {}) if ".sensors." in p}


@on_both_brokers
@pytest.mark.slow
def test_workers_share_partitions_and_survivors_take_over_a_killed_one(
    ioc_env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    shared_db = tmp_path / "incidents.db"
    base = {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"fo{time.monotonic_ns()}.",
        # One store for the group: "exactly once" is a property of what the group stores.
        "IOC_SINKS": f"sqlite://{shared_db};kafka://",
        "IOC_ACK_SLA": "",
    }
    envs = [
        {**base, "IOC_WEB_PORT": str(free_port()), "IOC_DATA_DIR": str(tmp_path / f"w{n}")}
        for n in range(WORKERS)
    ]
    records = recording()
    want, _, _ = expected(records)
    cut = len(records) * 6 // 10
    with contextlib.ExitStack() as stack:
        procs = [stack.enter_context(worker(e, tmp_path / f"w{n}.log")) for n, e in enumerate(envs)]

        def shared() -> bool:
            owned = [sensor_partitions(e) for e in envs]
            return all(owned) and sum(map(len, owned)) == len(set().union(*owned)) == 12

        wait_for(shared, 180, "three workers to share the 12 sensor partitions")
        victim = 0
        taken = sensor_partitions(envs[victim])
        start_flow(base, kafka, records[:cut])
        wait_for(lambda: len(stored(shared_db)) >= 1, 120, "the first incidents", procs[victim])
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(30)
        start_flow(base, kafka, records[cut:])

        survivors = envs[1:]

        def taken_over() -> bool:
            owned = [sensor_partitions(e) for e in survivors]
            return all(owned) and taken <= set().union(*owned)

        try:
            wait_for(taken_over, 120, "the survivors to take the killed worker's partitions")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {[health(e) for e in survivors]}") from None
        try:
            wait_for(lambda: summary(stored(shared_db)) == want, 180, "the expected incidents")
        except AssertionError as exc:
            got = summary(stored(shared_db))
            differ = {
                k: (got.get(k), want.get(k))
                for k in set(got) | set(want)
                if got.get(k) != want.get(k)
            }
            raise AssertionError(f"{exc}; stored vs expected: {differ}") from None
        check_district_topics(base, kafka, shared_db)
