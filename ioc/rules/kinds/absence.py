"""absence: `after`; a sensor silent for longer raises "sensor offline", and speaking again
resolves it. Found by the watermark (the stream's event time), not the wall clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import field_validator

from ioc.durations import Duration, format_duration
from ioc.rules.context import (
    Context,
    evidence_of,
    last_place,
    remember_place,
    sooner,
    utc,
)
from ioc.rules.filters import predicate
from ioc.rules.kinds.base import Kind, OnReading, filtered
from ioc.rules.model import RuleBase
from ioc.rules.status import Status
from ioc.rules.values import Placed
from ioc.schemas.alerts import Evidence


class AbsenceRule(RuleBase):
    type: Literal["absence"] = "absence"
    after: Duration

    @field_validator("after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("after must be positive")
        return value


def _seen(ctx: Context, rule: AbsenceRule, placed: Placed, t: float) -> None:
    entry = ctx.rule_state(rule).setdefault(placed.sensor_id, {})
    seen = entry.get("seen")
    if seen is not None and t - seen > rule.after.total_seconds():
        # A gap inside one batch: the silence is found when the sensor speaks again, and
        # raised (then cleared) just as the watermark check would have between batches.
        _silent(ctx, rule, t, only=placed.sensor_id)
    if seen is None or t > seen:
        entry["seen"] = t
    remember_place(entry, placed)
    status = Status.from_record(entry.get("status"))
    if status.firing:
        episode = status.episode
        transition = status.observe(
            False, t, hold_s=0, cooldown_s=0, clear_s=rule.clear.after.total_seconds()
        )
        if transition == "resolve":
            ctx.raise_alert(
                rule,
                placed.sensor_id,
                "resolve",
                t,
                episode,
                placed,
                [evidence_of(placed, "last_seen", placed.ts.isoformat())],
            )
        entry["status"] = status.to_record()
    # Due again `after` the latest reading, also when this one was older or resolved a silence.
    ctx.wake_at(entry["seen"] + rule.after.total_seconds())


def _silent(
    ctx: Context, rule: AbsenceRule, watermark: float, only: str | None = None
) -> float | None:
    after = rule.after.total_seconds()
    wake = None
    for sensor_id, entry in ctx.rule_state(rule).items():
        if only is not None and sensor_id != only:
            continue
        seen = entry.get("seen")
        if seen is None:
            continue
        status = Status.from_record(entry.get("status"))
        if status.firing:
            continue  # until the sensor speaks again
        wake = sooner(wake, seen + after)  # due again while it has not fired (a hold may wait)
        if watermark - seen <= after:
            continue
        # The sensor went silent at seen + after: that is the alert's event time.
        t = seen + after
        transition = status.observe(
            True,
            t,
            hold_s=rule.hold.total_seconds(),
            cooldown_s=rule.cooldown.total_seconds(),
            clear_s=0,
        )
        if transition == "fire":
            ctx.raise_alert(
                rule,
                sensor_id,
                "fire",
                t,
                t,
                None,
                [
                    Evidence(
                        sensor_id=sensor_id,
                        field="last_seen",
                        value=utc(seen).isoformat(),
                        ts=utc(seen),
                    )
                ],
                note=f"silent since {utc(seen).isoformat()}",
                **last_place(entry),
            )
        entry["status"] = status.to_record()
    return wake


def _on_reading(rule: AbsenceRule, decided: frozenset[str]) -> OnReading:
    return filtered(predicate(rule.when, decided=decided), _seen)


KIND = Kind(
    name="absence",
    model=AbsenceRule,
    describe=lambda rule: f"a sensor silent for more than {format_duration(rule.after)} (offline)",
    on_reading=_on_reading,
    on_watermark=lambda rule: _silent,
    marks_offline=True,
)
