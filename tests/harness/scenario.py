"""The demo scenario as the integration tests feed it: its records, the incidents an offline
run makes of them, the incidents a store holds, and the district topics' contents."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from ioc.districts import DISTRICT_SLUGS
from ioc.geo import default_zones
from ioc.incidents.lifecycle import Policy, apply_alert
from ioc.rules.loader import default_rules
from ioc.rules.offline import run as run_offline
from ioc.schemas import AnyReading, Decoder
from ioc.schemas.incidents import Incident
from simulators.generate import Simulation
from simulators.records import Record
from simulators.scenario import load_scenario
from tests.harness.kafka import Kafka

# The rule each kind of episode of the demo is expected to raise first.
PRIMARY = {
    "accident": "accident",
    "storm": "water-above-alarm",
    "air_pollution": "aqi-bad",
    "intrusion": "night-intrusion",
    "silence": "sensor-offline",
    "fire": "fire-confirmed",
    "plate_match": "watchlist-plate",
}
# The smallest scenario: one environment station in Đà Lạt for two hours.
TINY_SCENARIO = """
name: t
start: 2026-11-16T06:00:00+07:00
duration: 2h
sensors: {da-lat: {environment: 1}}
"""
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

# The demo scenario (two hours, 1 % broken messages), ending ten minutes ago.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2, minutes=10)


def recording() -> list[Record]:
    return list(Simulation(load_scenario("demo").with_start(START)).records())


def final_incidents(records: list[Record]) -> dict[str, Incident]:
    """Each incident the records make, worked out offline, as it ends the scenario."""
    alerts = run_offline(
        default_rules(),
        default_zones(),
        ((r.value, r.topic, None, None) for r in records),
        Decoder(),
    )
    policy = Policy(ack_sla={})
    current: dict[str, Incident] = {}
    final: dict[str, Incident] = {}
    for alert in alerts:
        key = f"{alert.rule_id}|{alert.subject}"
        changed = apply_alert(current.get(key), alert, policy, datetime.now(UTC))
        if changed is not None:
            current[key] = final[changed.incident_id] = changed
    return final


def expected(records: list[Record]) -> tuple[dict[str, tuple[str, int]], int, int]:
    """What the pipeline must make of the records, worked out offline: the final (status,
    alert count) of each incident, the readings accepted and the dead letters."""
    decoder = Decoder()
    accepted = rejected = 0
    for record in records:
        decoded = decoder.decode(record.value)
        accepted += len(decoded.readings)
        rejected += len(decoded.rejections)
    final = final_incidents(records)
    return {i: (inc.status, inc.alert_count) for i, inc in final.items()}, accepted, rejected


def never_closed(records: list[Record], district: str) -> set[str]:
    """The district's incidents that open and stay open to the scenario's end: an operator
    can act on one of them however far the scenario has flowed."""
    return {
        incident_id
        for incident_id, incident in final_incidents(records).items()
        if incident.district == district
        and incident.status == "open"
        and all(change.status == "open" for change in incident.history)
    }


def stored(db: Path) -> dict[str, tuple[str, int, int]]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT incident_id, status, version, body FROM incidents")
            return {r[0]: (r[1], orjson.loads(r[3])["alert_count"], r[2]) for r in rows.fetchall()}
    except sqlite3.OperationalError:  # the worker has not created the tables yet
        return {}


def summary(rows: dict[str, tuple[str, int, int]]) -> dict[str, tuple[str, int]]:
    return {k: (status, count) for k, (status, count, _) in rows.items()}


def start_flow(env: dict[str, str], kafka: Kafka, records: list[Record]) -> None:
    prefix = env["IOC_TOPIC_PREFIX"]
    by_topic: dict[str, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    for record in records:
        by_topic[f"{prefix}{record.topic}"].append((record.key, record.value))
    for topic, items in by_topic.items():
        kafka.produce(topic, items)


def check_district_topics(env: dict[str, str], kafka: Kafka, db: Path) -> None:
    """Each district's topic holds every version of its incidents once, whichever worker
    wrote it."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT incident_id, version, body FROM incidents").fetchall()
    latest = {r[0]: r[1] for r in rows}
    mine: dict[str, set[str]] = defaultdict(set)
    for incident_id, _, body in rows:
        district = orjson.loads(body)["district"]
        if district:
            mine[district].add(incident_id)
    for slug in DISTRICT_SLUGS:
        total = sum(latest[i] for i in mine.get(slug, set()))
        messages = kafka.consume_until(
            f"{env['IOC_TOPIC_PREFIX']}ioc.incidents.{slug}", lambda m, n=total: len(m) >= n, 30
        )
        got = [Incident.model_validate_json(v) for _, v in messages]
        pairs = [(i.incident_id, i.version) for i in got]
        assert len(pairs) == len(set(pairs)) == total, slug
        assert {i for i, _ in pairs} == mine.get(slug, set())


def readings_of(records: Iterable[Record]) -> list[AnyReading]:
    """The readings of records that must all decode (a clock far ahead: none is stale)."""
    decoder = Decoder(clock=lambda: FAR_FUTURE)
    out: list[AnyReading] = []
    for record in records:
        decoded = decoder.decode(record.value)
        assert not decoded.rejections, decoded.rejections[0].reason
        out.extend(decoded.readings)
    return out
