"""The incident lifecycle, pure: open, update, auto-resolve, reopen, operator actions, SLA."""

from __future__ import annotations

import pytest

from ioc.incidents.lifecycle import (
    CommandRefused,
    apply_alert,
    apply_command,
    check_sla,
    incident_id_for,
)
from ioc.schemas.commands import Command
from tests.harness.incidents import POLICY, alert, command, now, opened


def test_a_firing_alert_opens_an_incident_with_a_deterministic_id_and_a_deadline() -> None:
    incident = opened()
    assert incident.incident_id == incident_id_for(alert(0))
    assert incident.incident_id == opened().incident_id
    assert (incident.version, incident.status, incident.alert_count) == (1, "open", 1)
    assert incident.location.coordinates == (108.44, 11.94)  # GeoJSON: lon, lat
    assert incident.ack_due == now(15)
    assert [h.action for h in incident.history] == ["open"]


def test_further_alerts_update_it_and_raise_its_severity() -> None:
    incident = apply_alert(opened(), alert(5, severity="extreme", value=150), POLICY, now(5))
    assert incident is not None
    assert (incident.version, incident.alert_count, incident.severity) == (2, 2, "extreme")
    assert incident.last_seen == now(5)
    assert [e.value for e in incident.evidence] == [130.0, 150.0]
    assert incident.history[-1].note == "severity raised from severe to extreme"
    # The extreme SLA (5 min from opening) is sooner than the severe one.
    assert incident.ack_due == now(5)


def test_a_resolved_alert_auto_resolves_and_a_second_one_changes_nothing() -> None:
    resolved = apply_alert(opened(), alert(20, "resolved"), POLICY, now(20))
    assert resolved is not None
    assert (resolved.status, resolved.version, resolved.ack_due) == ("auto_resolved", 2, None)
    assert apply_alert(resolved, alert(21, "resolved"), POLICY, now(21)) is None


def test_a_recurrence_within_the_window_reopens_and_a_later_one_is_a_new_incident() -> None:
    resolved = apply_alert(opened(), alert(20, "resolved"), POLICY, now(20))
    assert resolved is not None
    reopened = apply_alert(resolved, alert(50, episode=1), POLICY, now(50))
    assert reopened is not None
    assert (reopened.status, reopened.version, reopened.alert_count) == ("open", 3, 2)
    assert reopened.incident_id == resolved.incident_id
    assert reopened.history[-1].action == "reopen"
    assert reopened.ack_due == now(65)

    fresh = apply_alert(resolved, alert(200, episode=2), POLICY, now(200))
    assert fresh is not None
    assert fresh.incident_id != opened().incident_id
    assert (fresh.version, fresh.status) == (1, "open")


def test_operators_acknowledge_and_resolve_with_actor_and_note() -> None:
    incident = opened()
    acked = apply_command(incident, command("acknowledge", incident), now(2))
    assert acked is not None
    assert (acked.status, acked.ack_due) == ("acknowledged", None)
    assert (acked.history[-1].actor, acked.history[-1].note) == ("op.nguyen", "đã cử đội ứng cứu")
    assert apply_command(acked, command("acknowledge", acked), now(3)) is None  # already so
    done = apply_command(acked, command("resolve", acked), now(4))
    assert done is not None
    assert (done.status, done.version) == ("resolved", 3)
    # A resolved alert later does not touch what an operator closed.
    assert apply_alert(done, alert(30, "resolved"), POLICY, now(30)) is None


def test_commands_that_cannot_apply_are_refused_with_a_reason() -> None:
    incident = opened()
    resolved = apply_command(incident, command("resolve", incident), now(2))
    assert resolved is not None
    with pytest.raises(CommandRefused, match="nothing to acknowledge"):
        apply_command(resolved, command("acknowledge", resolved), now(3))
    other = Command(action="resolve", incident_id="INC-0", actor="x", at=now(1))
    with pytest.raises(CommandRefused, match="no open incident INC-0"):
        apply_command(incident, other, now(3))
    with pytest.raises(CommandRefused):
        apply_command(None, command("resolve", incident), now(3))


def test_an_unacknowledged_district_incident_escalates_once_and_says_so() -> None:
    incident = opened()
    assert check_sla(incident, now(14)) is None
    escalated = check_sla(incident, now(15))
    assert escalated is not None
    assert (escalated.escalated, escalated.status, escalated.ack_due) == (True, "open", None)
    assert escalated.history[-1].action == "escalate"
    assert "not acknowledged by da-lat" in (escalated.history[-1].note or "")
    assert check_sla(escalated, now(60)) is None
    acked = apply_command(incident, command("acknowledge", incident), now(10))
    assert acked is not None
    assert check_sla(acked, now(60)) is None


def test_provincial_incidents_and_severities_without_an_sla_never_escalate() -> None:
    provincial = apply_alert(None, alert(0, district=None), POLICY, now(0))
    assert provincial is not None
    assert provincial.ack_due is None
    assert check_sla(provincial, now(600)) is None
    minor = apply_alert(None, alert(0, severity="minor"), POLICY, now(0))
    assert minor is not None
    assert minor.ack_due is None
