"""What operators and district IOCs run against a live worker: `ioc incidents`, `ioc tail`,
`ioc subscribe` (one district's feed only), and an unacknowledged incident escalating."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from lxml import etree

from ioc.schemas.incidents import Incident
from ioc.sinks.sqlite import IncidentStore
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC, ready, worker
from tests.harness.servers import on_both_brokers
from tests.harness.waiting import wait_for

pytestmark = pytest.mark.integration

RULES = """\
name: operators
rules:
  - id: wrong-way
    title: {vi: "Xe đi ngược chiều", en: "Wrong-way driver"}
    when: {kind: traffic, event: wrong_way}
    field: event
    condition: "== 1"
    severity: moderate
    category: Transport
  - id: accident
    title: {vi: "Tai nạn giao thông", en: "Traffic accident"}
    when: {kind: traffic, event: accident}
    field: event
    condition: "== 1"
    severity: severe
    category: Transport
"""
DA_LAT = (11.94, 108.44)
BAO_LOC = (11.548, 107.807)


def traffic(sensor: str, source: str, at: tuple[float, float], event: str) -> bytes:
    return orjson.dumps(
        {
            "kind": "traffic",
            "sensor_id": sensor,
            "source_id": source,
            "ts": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
            "lat": at[0],
            "lon": at[1],
            "road": "QL20",
            "event": event,
        }
    )


def ioc(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOC, *args], env=env, capture_output=True, text=True, timeout=timeout)


def latest(db: Path) -> dict[str, Incident]:
    try:
        return {i.district or "": i for i in IncidentStore(db).latest()}
    except Exception:  # not created yet
        return {}


@on_both_brokers
def test_operators_act_districts_read_their_own_feed_and_silence_escalates(
    ioc_env: dict[str, str], kafka: Kafka, tmp_path: Path
) -> None:
    env = {
        **ioc_env,
        "IOC_TOPIC_PREFIX": f"ops{time.monotonic_ns()}.",
        "IOC_ACK_SLA": "severe=2s",  # moderate: no deadline
    }
    prefix = env["IOC_TOPIC_PREFIX"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    assert ioc(env, "rules", "load", str(rules)).returncode == 0
    db = Path(env["IOC_DATA_DIR"]) / "incidents.db"
    with worker(env, tmp_path / "worker.log") as proc:
        ready(env, proc)
        kafka.produce(
            f"{prefix}sensors.traffic",
            [
                (b"gw-dl", traffic("cam-dl-1", "gw-dl", DA_LAT, "wrong_way")),
                (b"gw-bl", traffic("cam-bl-1", "gw-bl", BAO_LOC, "accident")),
            ],
        )
        # Bảo Lộc's severe accident goes unacknowledged: it escalates to the province.
        wait_for(
            lambda: (i := latest(db).get("bao-loc")) is not None and i.escalated,
            60,
            "the Bảo Lộc incident to escalate",
            proc,
        )
        da_lat = latest(db)["da-lat"]
        assert (da_lat.status, da_lat.escalated, da_lat.ack_due) == ("open", False, None)
        escalated = latest(db)["bao-loc"]
        assert escalated.history[-1].action == "escalate"
        assert "not acknowledged by bao-loc" in (escalated.history[-1].note or "")

        listing = ioc(env, "incidents", "list", "--district", "da-lat", "--lang", "en")
        assert listing.returncode == 0, listing.stderr
        assert da_lat.incident_id in listing.stdout
        assert escalated.incident_id not in listing.stdout

        acked = ioc(
            env,
            "incidents",
            "ack",
            da_lat.incident_id,
            "--actor",
            "Nguyễn Văn A",
            "--note",
            "đã cử CSGT",
        )
        assert acked.returncode == 0, acked.stderr
        # The answer in the operator's language (Vietnamese unless --lang en).
        assert "ĐÃ NHẬN" in acked.stdout
        assert "(nhận: Nguyễn Văn A)" in acked.stdout
        now = IncidentStore(db).get(da_lat.incident_id)
        assert now is not None
        assert (now.status, now.version) == ("acknowledged", 2)
        assert (now.history[-1].actor, now.history[-1].note) == ("Nguyễn Văn A", "đã cử CSGT")
        shown = ioc(env, "incidents", "show", da_lat.incident_id)
        assert "acknowledge → acknowledged by Nguyễn Văn A — đã cử CSGT" in shown.stdout
        again = ioc(env, "incidents", "ack", da_lat.incident_id)
        assert "already acknowledged" in again.stdout

        # Đà Lạt's IOC reads its feed: its incident in both versions, nothing of Bảo Lộc's.
        first = ioc(env, "subscribe", "--district", "da-lat", "--no-follow")
        assert first.returncode == 0, first.stderr
        got = [Incident.model_validate_json(line) for line in first.stdout.splitlines()]
        assert [(i.incident_id, i.version) for i in got] == [
            (da_lat.incident_id, 1),
            (da_lat.incident_id, 2),
        ]
        # The position was stored: nothing new the second time, everything again on request.
        assert ioc(env, "subscribe", "--district", "da-lat", "--no-follow").stdout == ""
        cap = ioc(
            env,
            "subscribe",
            "--district",
            "bao-loc",
            "--from-beginning",
            "--no-follow",
            "--format",
            "cap",
        )
        messages = [m for m in cap.stdout.split("<?xml") if m.strip()]
        assert len(messages) == 2
        last = etree.fromstring(("<?xml" + messages[-1]).encode())
        ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
        assert last.findtext("cap:msgType", namespaces=ns) == "Update"
        assert escalated.incident_id in last.findtext("cap:incidents", namespaces=ns)

        done = ioc(env, "incidents", "resolve", da_lat.incident_id, "--note", "đã thông xe")
        assert done.returncode == 0, done.stderr
        resolved = IncidentStore(db).get(da_lat.incident_id)
        assert resolved is not None
        assert (resolved.status, resolved.version) == ("resolved", 3)
        closed = ioc(env, "incidents", "list", "--status", "resolved", "--json")
        assert [
            Incident.model_validate_json(line).incident_id for line in closed.stdout.splitlines()
        ] == [da_lat.incident_id]

        tail = ioc(
            env, "tail", "--from-beginning", "--max", "2", "--district", "bao-loc", "--lang", "en"
        )
        assert tail.returncode == 0, tail.stderr
        lines: list[Any] = tail.stdout.splitlines()
        assert len(lines) == 2
        assert all("Bao Loc" in line and escalated.incident_id in line for line in lines)
        assert "⇧ province" in lines[1]

        # A store behind the worker: it still shows the resolved incident open. The command
        # goes; the worker refuses it, and \`ack\` says why at once rather than waiting.
        stale = resolved.model_copy(update={"status": "open"})
        with sqlite3.connect(db) as conn:
            conn.execute(
                "UPDATE incidents SET status = 'open', body = ? WHERE incident_id = ?",
                (stale.model_dump_json(), stale.incident_id),
            )
        refused = ioc(env, "incidents", "ack", stale.incident_id, "--wait", "50", timeout=40)
        assert refused.returncode == 1, refused.stdout
        assert "the worker refused it:" in refused.stderr
        assert "is resolved: nothing to acknowledge" in refused.stderr
