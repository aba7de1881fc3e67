"""End to end through the real broker and real workers: a scenario with good and broken
readings becomes exactly the expected incidents in SQLite, the district topics and a JSONL
file; every broken reading is dead-lettered with its reason; and a worker SIGKILLed while
incidents flow loses and doubles nothing."""

from __future__ import annotations

import signal
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from ioc.districts import DISTRICT_SLUGS
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident
from tests.harness.kafka import Kafka
from tests.harness.processes import http_get, ready, worker
from tests.harness.scenario import expected, recording, start_flow, stored, summary
from tests.harness.servers import on_both_brokers
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration


def metric(base: str, name: str) -> float:
    text = http_get(f"{base}/metrics")[2]
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"{name}{{") or line.startswith(f"{name} ")
    )


def check_sinks(
    env: dict[str, str], kafka: Kafka, db: Path, jsonl: Path, want: dict[str, tuple[str, int]]
) -> None:
    rows = stored(db)
    assert summary(rows) == want
    latest = {k: version for k, (_, _, version) in rows.items()}

    # JSONL: every version of every incident exactly once, up to the stored latest. The
    # stage writes the sinks in turn: the file may be a moment behind the store.
    def jsonl_lines() -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in jsonl.read_bytes().splitlines()]

    def newest() -> dict[str, int]:
        out: dict[str, int] = {}
        for d in jsonl_lines():
            out[d["incident_id"]] = max(d["version"], out.get(d["incident_id"], 0))
        return out

    wait_for(
        lambda: newest() == latest,
        30,
        "the JSONL file to catch up with the store",
    )
    lines = jsonl_lines()
    pairs = [(d["incident_id"], d["version"]) for d in lines]
    assert len(pairs) == len(set(pairs))
    seen: dict[str, set[int]] = defaultdict(set)
    for incident_id, version in pairs:
        seen[incident_id].add(version)
    assert {k: max(v) for k, v in seen.items()} == latest
    assert all(v == set(range(1, max(v) + 1)) for v in seen.values())

    # District topics: each district's own incidents, each version once, latest last.
    by_district: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        if line["district"]:
            by_district[line["district"]].add(line["incident_id"])
    prefix = env["IOC_TOPIC_PREFIX"]
    for slug in DISTRICT_SLUGS:
        mine = by_district.get(slug, set())
        total = sum(latest[i] for i in mine)
        messages = kafka.consume_until(
            f"{prefix}ioc.incidents.{slug}", lambda m, n=total: len(m) >= n, 30
        )
        got = [Incident.model_validate_json(v) for _, v in messages]
        assert len(got) == total, slug
        assert {i.incident_id for i in got} == mine
        assert all(i.district == slug for i in got)
        last: dict[str, int] = {}
        for incident in got:
            assert incident.version > last.get(incident.incident_id, 0)
            last[incident.incident_id] = incident.version
        assert last == {i: latest[i] for i in mine}


@on_both_brokers
def test_a_scenario_becomes_exactly_the_expected_incidents_everywhere(
    pipeline_env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    env = pipeline_env
    records = recording()
    want, accepted, rejected = expected(records)
    assert len(want) >= 15
    assert rejected >= 50
    db = Path(env["IOC_DATA_DIR"]) / "incidents.db"
    base = f"http://127.0.0.1:{env['IOC_WEB_PORT']}"
    with worker(env, tmp_path / "worker.log") as proc:
        ready(env, proc)
        start_flow(env, kafka, records)
        wait_for(lambda: summary(stored(db)) == want, 120, "the expected incidents", proc)
        # in = enriched + dead-lettered, counted by the worker
        wait_for(
            lambda: (
                metric(base, "ioc_readings_total") == accepted
                and metric(base, "ioc_deadletters_total") == rejected
            ),
            30,
            "the counts",
            proc,
        )
        check_sinks(env, kafka, db, tmp_path / "out" / "incidents.jsonl", want)
    letters = kafka.consume_until(
        f"{env['IOC_TOPIC_PREFIX']}ioc.deadletter", lambda m: len(m) >= rejected, 30
    )
    assert len(letters) == rejected
    for _, value in letters:
        letter = DeadLetter.model_validate_json(value)
        assert letter.reason
        assert letter.source_topic.startswith(env["IOC_TOPIC_PREFIX"] + "sensors.")
        assert letter.offset is not None


@on_both_brokers
def test_a_worker_killed_while_incidents_flow_loses_and_doubles_nothing(
    pipeline_env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    env = pipeline_env
    records = recording()
    want, _, _ = expected(records)
    db = Path(env["IOC_DATA_DIR"]) / "incidents.db"
    log = tmp_path / "worker.log"
    # The first 60 % of the scenario, a kill as soon as incidents appear, the rest afterwards:
    # the killed worker is caught mid-stream, and its successor has work left either way.
    cut = len(records) * 6 // 10
    with worker(env, log) as first:
        ready(env, first)
        start_flow(env, kafka, records[:cut])
        wait_for(lambda: len(stored(db)) >= 1, 120, "the first incidents", first)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    start_flow(env, kafka, records[cut:])
    with worker(env, log) as second:
        ready(env, second)
        try:
            wait_for(lambda: summary(stored(db)) == want, 180, "the expected incidents", second)
        except AssertionError as exc:
            health = http_get(f"http://127.0.0.1:{env['IOC_WEB_PORT']}/health")[2]
            got = summary(stored(db))
            differ = {
                k: (got.get(k), want.get(k))
                for k in sorted(set(got) | set(want))
                if got.get(k) != want.get(k)
            }
            raise AssertionError(
                f"{exc}; stored vs expected (status, alerts): {differ}; "
                f"the worker's /health: {health}"
            ) from None
        check_sinks(env, kafka, db, tmp_path / "out" / "incidents.jsonl", want)
