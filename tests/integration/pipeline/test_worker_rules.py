"""The rule engine inside real workers on the embedded broker: readings in, alerts out; a window
that outlives a crashed worker fires once; correlation across sources; rule sets reloaded
live, and a bad one refused while the running one keeps working."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ioc.geo import default_zones
from ioc.geo.distance import offset_m
from ioc.rules.loader import parse_rules
from ioc.rules.published import RULESET_KEY, encode_rules
from ioc.schemas.alerts import Alert
from ioc.schemas.deadletter import DeadLetter
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC, http_get, ready, worker
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration

# An hour ago, on a 10-minute boundary: the start of a tumbling window.
_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
T0 = _HOUR_AGO.replace(minute=_HOUR_AGO.minute // 10 * 10, second=0, microsecond=0)
DA_LAT = (11.94, 108.44)

RULES = """\
name: worker-test
rules:
  - id: pm25-window
    title: {vi: "Bụi mịn PM2.5 trung bình 10 phút cao", en: "10-minute mean PM2.5 high"}
    when: {kind: environment}
    window: {type: tumbling, size: 10m, agg: mean, field: pm25, grace: 1m}
    condition: "> 100"
    severity: severe
    category: Health
  - id: water-high
    title: {vi: "Mực nước cao", en: "Water high"}
    when: {kind: environment}
    field: water_level_cm
    condition: ">= 120"
    severity: severe
    category: Met
    cooldown: 1h
  - id: smoke
    title: {vi: "Khói", en: "Smoke"}
    when: {kind: camera, analytic: fire_smoke}
    field: analytic
    condition: "== 1"
    severity: moderate
    category: Fire
    cooldown: 15m
  - id: hot
    title: {vi: "Nhiệt độ cao", en: "Hot"}
    when: {kind: environment}
    field: temperature_c
    condition: ">= 40"
    severity: moderate
    category: Fire
    cooldown: 15m
  - id: fire
    title: {vi: "Cháy", en: "Fire"}
    type: correlation
    rules: [smoke, hot]
    within: 10m
    radius_m: 300
    severity: extreme
    category: Fire
"""

NOISE_RULES = """\
name: noise
rules:
  - id: too-loud
    title: {vi: "Tiếng ồn vượt ngưỡng", en: "Noise above limit"}
    field: noise_db
    condition: ">= 90"
    severity: moderate
    category: Env
"""


def env_reading(
    minute: float, sensor: str, source: str, at: tuple[float, float] = DA_LAT, **values: float
) -> bytes:
    reading = {
        "kind": "environment",
        "sensor_id": sensor,
        "source_id": source,
        "ts": (T0 + timedelta(minutes=minute)).isoformat(),
        "lat": at[0],
        "lon": at[1],
        **values,
    }
    return orjson.dumps(reading)


def accident(minute: float, sensor: str) -> bytes:
    return orjson.dumps(
        {
            "kind": "traffic",
            "sensor_id": sensor,
            "source_id": "gw-1",
            "ts": (T0 + timedelta(minutes=minute)).isoformat(),
            "lat": DA_LAT[0],
            "lon": DA_LAT[1],
            "road": "QL20",
            "event": "accident",
        }
    )


def smoke(minute: float, at: tuple[float, float]) -> bytes:
    return orjson.dumps(
        {
            "kind": "camera",
            "sensor_id": "cam-1",
            "source_id": "cams",
            "ts": (T0 + timedelta(minutes=minute)).isoformat(),
            "lat": at[0],
            "lon": at[1],
            "analytic": "fire_smoke",
            "confidence": 0.95,
        }
    )


def alerts(messages: list[tuple[Any, bytes]]) -> list[Alert]:
    return [Alert.model_validate_json(value) for _, value in messages]


def applied(value: bytes) -> dict[str, int]:
    """The per-topic offsets an engine state in the changelog has applied; the table also holds
    each topic-partition's applied offset (a bare number), which holds no per-topic offsets."""
    state = orjson.loads(value)
    return state.get("offsets", {}) if isinstance(state, dict) else {}


def having(rule_id: str, n: int = 1) -> Any:
    return lambda messages: sum(a.rule_id == rule_id for a in alerts(messages)) >= n


@pytest.fixture
def env(ioc_env: dict[str, str]) -> dict[str, str]:
    # Its own topics: the session broker is shared with other tests.
    return {**ioc_env, "IOC_TOPIC_PREFIX": f"t{time.monotonic_ns()}."}


def test_alerts_flow_and_a_window_fires_once_across_a_worker_crash(
    env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    prefix = env["IOC_TOPIC_PREFIX"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    # Loaded before any worker runs: the first worker must start with it.
    subprocess.run([*IOC, "rules", "load", str(rules)], env=env, check=True, timeout=60)
    version = parse_rules(RULES, "x").version
    topic = f"{prefix}sensors.environment"
    log = tmp_path / "worker.log"

    with worker(env, log) as first:
        ready(env, first)
        # The first half of a 10-minute window (mean 200), then a water level to alert on.
        kafka.produce(
            topic,
            [(b"st-1", env_reading(m, "aq-1", "st-1", pm25=200.0)) for m in range(5)]
            + [(b"st-1", env_reading(5, "wl-1", "st-1", water_level_cm=130.0))],
        )
        out = kafka.consume_until(f"{prefix}ioc.alerts", having("water-high"), 60, what="water")
        (water,) = [a for a in alerts(out) if a.rule_id == "water-high"]
        assert len(alerts(out)) == 1, [(a.rule_id, a.status) for a in alerts(out)]
        assert water.ruleset_version == version
        assert water.district == "da-lat"
        assert (water.evidence[0].topic, water.evidence[0].offset) == (topic, 5)
        # The state that holds the half window has reached its changelog: now crash.
        changelog = f"{env['IOC_APP_ID']}-engine-state-changelog"
        kafka.consume_until(
            changelog,
            lambda m: any(applied(v).get(topic) == 5 for _, v in m if v),
            30,
            what="the state of st-1 in the changelog",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)

    with worker(env, log) as second:
        ready(env, second)
        # The second half (mean 20), then a reading past the window's end and grace.
        kafka.produce(
            topic,
            [(b"st-1", env_reading(m, "aq-1", "st-1", pm25=20.0)) for m in range(5, 10)]
            + [(b"st-1", env_reading(12, "aq-1", "st-1", pm25=20.0))],
        )
        try:
            out = kafka.consume_until(
                f"{prefix}ioc.alerts", having("pm25-window"), 60, what="window"
            )
        except AssertionError as exc:
            base = f"http://127.0.0.1:{env['IOC_WEB_PORT']}"
            metrics = http_get(f"{base}/metrics")[2]
            ours = "\n".join(line for line in metrics.splitlines() if line.startswith("ioc_m"))
            health = http_get(f"{base}/health")[2]
            committed = kafka.committed(env["IOC_APP_ID"], topic)
            raise AssertionError(
                f"{exc}\nworker metrics:\n{ours}\nhealth: {health}\ncommitted: {committed}"
            ) from None
        # Both halves, each reading once: (5 × 200 + 5 × 20) / 10 = 110.
        (window,) = [a for a in alerts(out) if a.rule_id == "pm25-window"]
        assert window.evidence[0].value == pytest.approx(110.0)
        assert sorted(e.offset for e in window.evidence[1:]) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]

        # Correlation across two sources (two keys): smoke, and 150 m away a temperature spike.
        near = offset_m(DA_LAT, 150.0, 0.0)
        kafka.produce(f"{prefix}sensors.camera", [(b"cams", smoke(13, DA_LAT))])
        kafka.produce(topic, [(b"st-2", env_reading(14, "tmp-2", "st-2", near, temperature_c=45))])
        out = kafka.consume_until(f"{prefix}ioc.alerts", having("fire"), 60, what="fire")
        (fire,) = [a for a in alerts(out) if a.rule_id == "fire"]
        assert fire.severity == "extreme"
        assert {e.sensor_id for e in fire.evidence} == {"cam-1", "tmp-2"}

        # Nothing fired twice, whatever the crash made the second worker read again.
        firing = [a.alert_id for a in alerts(out) if a.status == "firing"]
        assert len(firing) == len(set(firing)) == 5  # water, window, smoke, hot, fire
    assert "Traceback" not in log.read_text(errors="replace")


def test_rule_sets_reload_live_and_a_bad_one_is_refused(
    env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    prefix = env["IOC_TOPIC_PREFIX"]
    topic = f"{prefix}sensors.environment"
    metrics_url = f"http://127.0.0.1:{env['IOC_WEB_PORT']}/metrics"
    log = tmp_path / "worker.log"
    with worker(env, log) as proc:
        ready(env, proc)
        # The shipped pack runs until a set is loaded: accidents are one of its rules.
        traffic = f"{prefix}sensors.traffic"
        kafka.produce(traffic, [(b"gw-1", accident(0, "trf-1"))])
        kafka.consume_until(f"{prefix}ioc.alerts", having("accident"), 60, what="accident")

        # A set that does not validate, put on the topic behind the CLI's back.
        broken = NOISE_RULES.replace('">= 90"', "90")
        good = parse_rules(NOISE_RULES, "x")
        value = encode_rules(good, [("broken.yaml", broken)], "test", datetime.now(UTC))
        kafka.produce(f"{prefix}ioc.rules", [(RULESET_KEY, value)])
        out = kafka.consume_until(f"{prefix}ioc.deadletter", lambda m: len(m) >= 1, 60)
        letter = DeadLetter.model_validate_json(out[0][1])
        assert letter.category == "rule_set_rejected"
        assert "broken.yaml:6: rule too-loud: condition" in letter.reason
        assert letter.original() == value
        wait_for(
            lambda: 'ioc_ruleset_loads_total{result="rejected"} 1.0' in http_get(metrics_url)[2],
            30,
            "the worker to count the rejection",
            proc,
        )
        # The running set still works.
        kafka.produce(traffic, [(b"gw-1", accident(1, "trf-2"))])
        kafka.consume_until(f"{prefix}ioc.alerts", having("accident", 2), 60, what="accident 2")

        # A good set, through the CLI: the worker switches to it.
        path = tmp_path / "noise.yaml"
        path.write_text(NOISE_RULES, encoding="utf-8")
        subprocess.run([*IOC, "rules", "load", str(path)], env=env, check=True, timeout=60)
        wait_for(
            lambda: f'version="{good.version}"' in http_get(metrics_url)[2],
            30,
            "the worker to adopt the new set",
            proc,
        )
        # A flood-zone water level the shipped pack alarms on, then noise, from one source on
        # one topic: one partition, read in that order.
        flood = next(z for z in default_zones().zones if z.kind == "flood")
        spot = flood.geometry.representative_point()
        kafka.produce(
            topic,
            [
                (b"st-5", env_reading(2, "wl-5", "st-5", (spot.y, spot.x), water_level_cm=150)),
                (b"st-5", env_reading(3, "noise-5", "st-5", noise_db=95.0)),
            ],
        )
        out = kafka.consume_until(f"{prefix}ioc.alerts", having("too-loud"), 60, what="noise")
        loud = [a for a in alerts(out) if a.rule_id == "too-loud"]
        assert [a.ruleset_version for a in loud] == [good.version]
        # The shipped pack is gone: the water level read just before raised nothing. (Alerts
        # of different rules and subjects are on different partitions: no order between them.)
        assert sorted(a.rule_id for a in alerts(out)) == ["accident", "accident", "too-loud"]
