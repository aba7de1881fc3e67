"""What every rule kind shares during an evaluation: the state, the alerts raised, the
filters, and the status machine of each subject."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ioc.rules.health import STALE_AFTER_S, downgrade, plausible
from ioc.rules.model import RuleBase, When
from ioc.rules.status import Status, Transition
from ioc.rules.values import Placed, value_of
from ioc.schemas.alerts import Alert, Evidence
from ioc.schemas.common import Text
from ioc.schemas.readings import CameraReading, TrafficReading

if TYPE_CHECKING:
    from ioc.rules.engine import Engine

EngineState = dict[str, Any]
# Of a time-ordered row a rule keeps, [t, value, ...]: what it is sorted and bisected by.
row_time, row_value = itemgetter(0), itemgetter(1)
ADMIN_KINDS = ("province", "district", "ward")


def new_state() -> EngineState:
    return {"watermark": None, "rules": {}, "counters": {}}


def sooner(a: float | None, b: float | None) -> float | None:
    """The earlier of two times something is due; None is never."""
    if a is None:
        return b
    return a if b is None or a <= b else b


def epoch(ts: datetime) -> float:
    return ts.timestamp()


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(slots=True)
class Context:
    """One evaluation pass: the state being updated and the alerts being raised."""

    engine: Engine
    state: EngineState
    alerts: list[Alert] = field(default_factory=list)

    def rule_state(self, rule: RuleBase) -> dict[str, Any]:
        rules: dict[str, dict[str, Any]] = self.state["rules"]
        # get before setdefault: asked per reading, and setdefault builds a dict every time.
        held = rules.get(rule.id)
        if held is None:
            held = rules[rule.id] = {}
        return held

    def wake_at(self, t: float) -> None:
        """Something of this state is due at event time t (a window closes, a sensor is
        silent): the watermark pass may skip the state until its watermark reaches the earliest
        such time (state["wake"]; absent, or computed in another epoch (Engine.new_epoch): not
        known, the next pass looks)."""
        state = self.state
        wake = state.get("wake", 0.0)
        if wake is None or t < wake:
            state["wake"] = t

    def count(self, name: str, n: int = 1) -> None:
        counters: dict[str, int] = self.state.setdefault("counters", {})
        counters[name] = counters.get(name, 0) + n

    @property
    def watermark(self) -> float | None:
        value = self.state["watermark"]
        return float(value) if value is not None else None

    def raise_alert(
        self,
        rule: RuleBase,
        subject: str,
        status: Transition,
        t: float,
        episode: float | None,
        where: Placed | None,
        evidence: Sequence[Evidence],
        *,
        lat: float | None = None,
        lon: float | None = None,
        district: str | None = None,
        zones: Sequence[str] = (),
        note: str | None = None,
    ) -> Alert:
        severity = rule.severity
        health = None
        if where is not None:
            lat, lon = where.reading.lat, where.reading.lon
            district = where.district
            zones = [z.id for z in where.zones if z.kind not in ADMIN_KINDS]
            behind = (self.watermark or t) - epoch(where.ts)
            if status == "fire" and behind > STALE_AFTER_S:
                severity = downgrade(severity)
                health = f"stale reading: {int(behind // 60)} min behind the stream"
                self.count("downgraded_stale")
        identity = f"{rule.id}|{subject}|{episode if episode is not None else t}"
        alert = Alert(
            alert_id=f"{rule.id}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}",
            status="firing" if status == "fire" else "resolved",
            rule_id=rule.id,
            ruleset_version=self.engine.ruleset.version,
            zoneset_version=self.engine.zoneset_version,
            subject=subject[:128],
            severity=severity,
            category=rule.category,
            title=rule.title,
            description=_describe(rule.description, note),
            district=district,
            zones=list(zones)[:64],
            lat=lat if lat is not None else 0.0,
            lon=lon if lon is not None else 0.0,
            event_time=utc(t),
            raised_at=self.engine.clock() if self.engine.clock else utc(t),
            evidence=list(evidence)[-100:],
            health=health,
        )
        self.alerts.append(alert)
        self.count(f"alerts_{alert.status}")
        return alert


def _describe(base: Text | None, note: str | None) -> Text | None:
    if note is None:
        return base
    if base is None:
        return Text(vi=note, en=note)
    return Text(vi=f"{base.vi} ({note})"[:200], en=f"{base.en} ({note})"[:200])


def evidence_of(placed: Placed, name: str, value: float | str | None) -> Evidence:
    return Evidence(
        sensor_id=placed.sensor_id,
        field=name,
        value=value,
        ts=placed.ts,
        topic=placed.topic,
        partition=placed.partition,
        offset=placed.offset,
    )


def matches(when: When, placed: Placed, *, zone_filters: bool = True) -> bool:
    reading = placed.reading
    if when.kind is not None and reading.kind not in when.kind:
        return False
    if when.districts is not None and placed.district not in when.districts:
        return False
    if when.sensors is not None and not any(
        reading.sensor_id.startswith(s[:-1]) if s.endswith("*") else reading.sensor_id == s
        for s in when.sensors
    ):
        return False
    if when.analytic is not None and not (
        isinstance(reading, CameraReading) and reading.analytic in when.analytic
    ):
        return False
    if when.event is not None and not (
        isinstance(reading, TrafficReading) and reading.event in when.event
    ):
        return False
    if when.min_confidence is not None and (
        not isinstance(reading, CameraReading) or reading.confidence < when.min_confidence
    ):
        return False
    if zone_filters and (when.zone_kind is not None or when.zones is not None):
        return bool(zones_matching(when, placed))
    return True


def zones_matching(when: When, placed: Placed) -> list[str]:
    return [
        z.id
        for z in placed.active_zones(when.respect_schedule)
        if (when.zone_kind is None or z.kind in when.zone_kind)
        and (when.zones is None or z.id in when.zones)
    ]


def usable(ctx: Context, placed: Placed, name: str) -> float | None:
    """The value a rule may use: None when absent or implausible (counted)."""
    value = value_of(placed.reading, name)
    if value is not None and not plausible(name, value):
        ctx.count("implausible")
        return None
    return value


def observe(
    ctx: Context,
    rule: RuleBase,
    subject: str,
    holds: bool,
    t: float,
    placed: Placed | None,
    evidence: Sequence[Evidence] | Callable[[], Sequence[Evidence]],
    *,
    cleared: bool = True,
    hold_s: float | None = None,
    place: dict[str, Any] | None = None,
) -> None:
    """Feed the subject's status machine and raise what it says. Without a reading
    (a window closing), `place` is where the subject was last seen. `evidence` may be a
    function: most observations change nothing, and evidence is built only for an alert."""
    states = ctx.rule_state(rule)
    entry = states.setdefault(subject, {})
    status = Status.from_record(entry.get("status"))
    transition = status.observe(
        holds,
        t,
        hold_s=rule.hold.total_seconds() if hold_s is None else hold_s,
        cooldown_s=rule.cooldown.total_seconds(),
        clear_s=rule.clear.after.total_seconds(),
        cleared=cleared,
    )
    if transition is not None:
        episode = status.episode
        where = last_place({"place": place}) if placed is None else {}
        shown = evidence() if callable(evidence) else evidence
        ctx.raise_alert(rule, subject, transition, t, episode, placed, shown, **where)
    entry["status"] = status.to_record()


def last_place(entry: dict[str, Any]) -> dict[str, Any]:
    place = entry.get("place") or {}
    return {
        "lat": place.get("lat"),
        "lon": place.get("lon"),
        "district": place.get("district"),
        "zones": place.get("zones", ()),
    }


def remember_place(entry: dict[str, Any], placed: Placed) -> None:
    known = entry.get("place")
    if (
        known is not None
        and known["lat"] == placed.reading.lat
        and known["lon"] == placed.reading.lon
        and known["district"] == placed.district
    ):
        return  # a fixed sensor: the same place as last time (its zones follow from it)
    entry["place"] = {
        "lat": placed.reading.lat,
        "lon": placed.reading.lon,
        "district": placed.district,
        "zones": [z.id for z in placed.zones if z.kind not in ADMIN_KINDS],
    }


def once(
    ctx: Context,
    rule: RuleBase,
    subject: str,
    t: float,
    placed: Placed,
    evidence: list[Evidence],
    *,
    resolvable: bool = False,
) -> None:
    """A one-shot alert. `resolvable` ones stay firing until their rule's watermark handler
    resolves them (ioc/rules/kinds/threshold.py), at the place they were raised."""
    entry = ctx.rule_state(rule).setdefault(subject, {})
    status = Status.from_record(entry.get("status"))
    if status.once(t, rule.cooldown.total_seconds()):
        if resolvable:
            status.firing_since = t
            remember_place(entry, placed)
            ctx.wake_at(t + rule.clear.after.total_seconds())
        ctx.raise_alert(rule, subject, "fire", t, t, placed, evidence)
    entry["status"] = status.to_record()
