"""threshold: `field` and `condition`, on each reading. On an event field (a traffic event, a
camera analytic) it fires on presence, once per cooldown, and resolves after `clear.after`
without another one."""

from __future__ import annotations

from typing import Literal

from ioc.rules.context import (
    Context,
    evidence_of,
    last_place,
    observe,
    once,
    sooner,
    usable,
)
from ioc.rules.filters import predicate
from ioc.rules.kinds.base import Kind, OnReading, OnWatermark, filtered
from ioc.rules.model import EVENT_FIELDS, ConditionText, FieldName, RuleBase
from ioc.rules.status import Status
from ioc.rules.values import Placed


class ThresholdRule(RuleBase):
    type: Literal["threshold"] = "threshold"
    field: FieldName
    condition: ConditionText


def _threshold(ctx: Context, rule: ThresholdRule, placed: Placed, t: float) -> None:
    value = usable(ctx, placed, rule.field)
    if value is None:
        return
    if rule.field in EVENT_FIELDS:
        # An event (an accident, a detection) fires once per cooldown; it resolves only after
        # `clear.after` without another one (or by an operator, on the incident).
        if rule.condition.holds(value):
            what = getattr(placed.reading, rule.field)
            evidence = [evidence_of(placed, rule.field, what)]
            once(ctx, rule, placed.sensor_id, t, placed, evidence, resolvable=True)
        return
    cleared = rule.clear.condition.holds(value) if rule.clear.condition is not None else True
    observe(
        ctx,
        rule,
        placed.sensor_id,
        rule.condition.holds(value),
        t,
        placed,
        lambda: [evidence_of(placed, rule.field, value)],
        cleared=cleared,
    )


def _quiet_again(ctx: Context, rule: ThresholdRule, watermark: float) -> float | None:
    clear_s = rule.clear.after.total_seconds()
    if clear_s <= 0:
        return None
    wake = None
    for subject, entry in ctx.rule_state(rule).items():
        status = Status.from_record(entry.get("status"))
        if not status.firing or status.last_fired is None:
            continue
        if watermark - status.last_fired >= clear_s:
            episode = status.episode
            status.firing_since = None
            ctx.raise_alert(
                rule, subject, "resolve", watermark, episode, None, [], **last_place(entry)
            )
            entry["status"] = status.to_record()
        else:
            wake = sooner(wake, status.last_fired + clear_s)
    return wake


def _describe(rule: ThresholdRule) -> str:
    if rule.field in EVENT_FIELDS:
        return f"each {rule.field} reported"
    return f"{rule.field} {rule.condition}"


def _on_reading(rule: ThresholdRule, decided: frozenset[str]) -> OnReading:
    return filtered(predicate(rule.when, decided=decided), _threshold)


def _on_watermark(rule: ThresholdRule) -> OnWatermark | None:
    return _quiet_again if rule.field in EVENT_FIELDS else None


KIND = Kind(
    name="threshold",
    model=ThresholdRule,
    describe=_describe,
    on_reading=_on_reading,
    on_watermark=_on_watermark,
    implied_by=lambda keys: "field" in keys and "condition" in keys,
)
