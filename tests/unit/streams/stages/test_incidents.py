"""The incident stage on in-memory topics and tables: an alert opens an incident once however
often it is delivered, operators' commands apply or are dead-lettered with the refusal, a
broken record is dead-lettered, and an SLA tick escalates only its own partition's
incidents."""

from __future__ import annotations

import asyncio
from datetime import datetime

from ioc.schemas.alerts import Alert
from ioc.schemas.commands import Command, routing_key
from ioc.streams.stages.incidents import IncidentStage
from tests.harness.incidents import POLICY, alert, command, now
from tests.harness.memory import Harness, MemoryTable, Message

ALERTS, COMMANDS = "ioc.alerts", "ioc.commands"


def stage(h: Harness, table: MemoryTable, clock: datetime) -> IncidentStage:
    return IncidentStage(
        POLICY, table, h.outputs, h.incidents, h.metrics, alerts_topic=ALERTS, clock=lambda: clock
    )


def of_alert(a: Alert, partition: int = 0, offset: int = 0) -> Message:
    key = routing_key(a.rule_id, a.subject)
    return Message(ALERTS, partition, offset, key, a.model_dump_json().encode())


def of_command(c: Command, key: bytes, partition: int = 0, offset: int = 0) -> Message:
    return Message(COMMANDS, partition, offset, key, c.model_dump_json().encode())


def test_an_alert_delivered_twice_opens_one_incident() -> None:
    h, table = Harness(), MemoryTable()
    incidents = stage(h, table, now(0))
    asyncio.run(incidents.handle(of_alert(alert(0))))
    asyncio.run(incidents.handle(of_alert(alert(0), offset=1)))  # at least once: again
    [opened] = h.published()
    assert (opened.status, opened.version, opened.alert_count) == ("open", 1, 1)
    assert table["water-above-alarm|wl-1"]["partition"] == 0
    asyncio.run(incidents.handle(of_alert(alert(5, episode=1, value=140), offset=2)))
    assert [i.version for i in h.published()] == [1, 2]
    assert (
        h.metric("ioc_incident_changes_total", district="da-lat", severity="severe", action="open")
        == 1
    )


def test_a_command_applies_and_one_that_cannot_is_dead_lettered_with_its_reason() -> None:
    h, table = Harness(), MemoryTable()
    incidents = stage(h, table, now(1))
    asyncio.run(incidents.handle(of_alert(alert(0))))
    [opened] = h.published()
    key = routing_key(opened.rule_id, opened.subject)
    asyncio.run(incidents.handle(of_command(command("acknowledge", opened), key)))
    acknowledged = h.published()[-1]
    assert (acknowledged.status, acknowledged.version) == ("acknowledged", 2)
    assert acknowledged.history[-1].note == "đã cử đội ứng cứu"
    asyncio.run(incidents.handle(of_command(command("acknowledge", opened), key, offset=1)))
    assert len(h.published()) == 2  # acknowledged already: nothing to do, nothing refused
    assert h.metric("ioc_commands_total", action="acknowledge", result="ignored") == 1
    asyncio.run(incidents.handle(of_command(command("resolve", opened), key, offset=2)))
    assert h.published()[-1].status == "resolved"
    asyncio.run(incidents.handle(of_command(command("acknowledge", opened), key, offset=3)))
    assert len(h.published()) == 3
    [refused] = h.dead_letters()
    assert refused.category == "command_refused"
    assert "resolved" in refused.reason
    assert (refused.source_topic, refused.offset) == (COMMANDS, 3)
    assert h.metric("ioc_commands_total", action="acknowledge", result="refused") == 1


def test_a_broken_alert_record_is_dead_lettered_and_changes_nothing() -> None:
    h, table = Harness(), MemoryTable()
    asyncio.run(stage(h, table, now(0)).handle(Message(ALERTS, 3, 7, b"k", b"{not json")))
    assert h.published() == []
    assert dict(table) == {}
    [dead] = h.dead_letters()
    assert (dead.category, dead.partition, dead.offset) == ("bad_internal_record", 3, 7)


def test_an_sla_tick_escalates_the_overdue_incidents_of_its_own_partition_only() -> None:
    h, table = Harness(), MemoryTable()
    incidents = stage(h, table, now(0))
    here, there = alert(0), alert(0).model_copy(update={"subject": "wl-2"})
    asyncio.run(incidents.handle(of_alert(here, partition=0)))
    asyncio.run(incidents.handle(of_alert(there, partition=1)))
    late = stage(h, table, now(30))  # the severe SLA is 15 minutes
    tick = Command(action="sla_check", incident_id="-", actor="worker", at=now(30))
    asyncio.run(late.handle(of_command(tick, b"tick", partition=0)))
    escalated = [i for i in h.published() if i.escalated]
    assert [i.subject for i in escalated] == ["wl-1"]
    asyncio.run(late.handle(of_command(tick, b"tick", partition=0, offset=1)))
    assert len([i for i in h.published() if i.escalated]) == 1  # once
