"""geofence: an `object` (track_id | plate) that enters, exits, is inside or dwells in a zone
(`when.zone_kind` or `when.zones`). Objects move between a source's cameras, so a source's
state is kept whole for it; an object not seen for `expire` is forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, model_validator

from ioc.durations import Duration, format_duration
from ioc.rules.context import Context, evidence_of, observe, once, sooner, zones_matching
from ioc.rules.filters import predicate
from ioc.rules.kinds.base import Kind, OnReading, filtered
from ioc.rules.model import RuleBase
from ioc.rules.status import Status
from ioc.rules.values import Placed


class GeofenceRule(RuleBase):
    type: Literal["geofence"] = "geofence"
    object: Literal["track_id", "plate"] = "track_id"
    event: Literal["enter", "exit", "inside", "dwell"]
    dwell: Duration | None = None
    expire: Duration = Field(
        default=timedelta(minutes=30),
        description="an object not seen this long is forgotten (no exit is inferred)",
    )

    @model_validator(mode="after")
    def _dwell(self) -> GeofenceRule:
        if self.event == "dwell" and (self.dwell is None or self.dwell <= timedelta(0)):
            raise ValueError("a dwell rule needs dwell: a positive duration (e.g. 5m)")
        if self.event != "dwell" and self.dwell is not None:
            raise ValueError("dwell is only for event: dwell")
        if self.when.zone_kind is None and self.when.zones is None:
            raise ValueError("a geofence rule needs when.zone_kind or when.zones")
        return self

    @property
    def subject_kind(self) -> str:
        return self.object


def _object_of(rule: GeofenceRule, placed: Placed) -> str | None:
    value = getattr(placed.reading, rule.object, None)
    return value if isinstance(value, str) else None


def _geofence(ctx: Context, rule: GeofenceRule, placed: Placed, t: float) -> None:
    obj = _object_of(rule, placed)
    if obj is None:
        return
    states = ctx.rule_state(rule)
    entry = states.setdefault(f"{rule.object}:{obj}", {"in": {}, "seen": t})
    if t < entry["seen"]:
        ctx.count("late_geofence")  # positions out of order would invent enters and exits
        return
    entry["seen"] = t
    ctx.wake_at(t + rule.expire.total_seconds())
    now_in = set(zones_matching(rule.when, placed))
    before: dict[str, float] = entry["in"]
    entered = sorted(now_in - set(before))
    left = sorted(set(before) - now_in)
    evidence = [evidence_of(placed, rule.object, obj)]
    for zone in entered:
        before[zone] = t
    for zone in left:
        del before[zone]
    subject = f"{rule.object}:{obj}"
    if rule.event in ("enter", "exit"):
        for zone in entered if rule.event == "enter" else left:
            once(ctx, rule, f"{subject}@{zone}", t, placed, evidence)
        return
    hold = rule.hold.total_seconds()
    if rule.event == "dwell" and rule.dwell is not None:
        hold = max(hold, rule.dwell.total_seconds())
    for zone in sorted(now_in):
        observe(ctx, rule, f"{subject}@{zone}", True, t, placed, evidence, hold_s=hold)
    for zone in left:
        observe(ctx, rule, f"{subject}@{zone}", False, t, placed, evidence, hold_s=hold)


def _forget(ctx: Context, rule: GeofenceRule, watermark: float) -> float | None:
    states = ctx.rule_state(rule)
    expire = rule.expire.total_seconds()
    gone = []
    wake = None
    for key, entry in states.items():
        if "in" not in entry:
            continue
        if watermark - entry["seen"] > expire:
            gone.append(key)
        else:
            wake = sooner(wake, entry["seen"] + expire)
    for key in gone:
        entry = states.pop(key)
        for zone in entry["in"]:
            inside = states.get(f"{key}@{zone}")
            if inside is None:
                continue
            status = Status.from_record(inside.get("status"))
            if status.firing:
                ctx.raise_alert(
                    rule,
                    f"{key}@{zone}",
                    "resolve",
                    watermark,
                    status.episode,
                    None,
                    [],
                    note="object not seen any more",
                )
            states.pop(f"{key}@{zone}", None)
    return wake


def _describe(rule: GeofenceRule) -> str:
    if rule.event == "dwell" and rule.dwell is not None:
        event = f"stays {format_duration(rule.dwell)} in"
    else:
        event = {"enter": "enters", "exit": "leaves", "inside": "is inside"}[rule.event]
    return f"a {rule.object} {event} a zone"


def _on_reading(rule: GeofenceRule, decided: frozenset[str]) -> OnReading:
    # Zone filters decide what is inside, not whether the reading counts.
    return filtered(predicate(rule.when, zone_filters=False, decided=decided), _geofence)


KIND = Kind(
    name="geofence",
    model=GeofenceRule,
    describe=_describe,
    on_reading=_on_reading,
    on_watermark=lambda rule: _forget,
    follows_objects=True,
)
