"""A rule in one plain sentence, for `ioc rules check`: what an analyst meant, read back."""

from __future__ import annotations

from datetime import timedelta

from ioc.durations import format_duration
from ioc.rules.model import (
    AbsenceRule,
    AnyRule,
    CorrelationRule,
    GeofenceRule,
    RateOfChangeRule,
    ThresholdRule,
    When,
    WindowRule,
)


def explain(rule: AnyRule) -> tuple[str, str]:
    """(what the rule watches, what it raises and how that alert lives)."""
    watch = [_what(rule)]
    scope = _scope(rule.when)
    if scope:
        watch.append(scope)
    if rule.hold > timedelta(0):
        watch.append(f"held for {format_duration(rule.hold)}")
    outcome = [f"→ {rule.severity} {rule.category}"]
    if rule.cooldown > timedelta(0):
        outcome.append(f"at most once per {format_duration(rule.cooldown)} per {rule.subject_kind}")
    clear = _clear(rule)
    if clear:
        outcome.append(clear)
    if not rule.enabled:
        outcome.append("disabled")
    return ", ".join(watch), "; ".join(outcome)


def _what(rule: AnyRule) -> str:
    if isinstance(rule, ThresholdRule):
        if rule.field in ("event", "analytic"):
            return f"each {rule.field} reported"
        return f"{rule.field} {rule.condition}"
    if isinstance(rule, WindowRule):
        w = rule.window
        shape = f"{w.type} {format_duration(w.size)}"
        if w.hop is not None:
            shape += f" every {format_duration(w.hop)}"
        return (
            f"{w.agg} of {w.field} over a {shape} window {rule.condition} "
            f"(late readings count for {format_duration(w.grace)})"
        )
    if isinstance(rule, GeofenceRule):
        if rule.event == "dwell" and rule.dwell is not None:
            event = f"stays {format_duration(rule.dwell)} in"
        else:
            event = {"enter": "enters", "exit": "leaves", "inside": "is inside"}[rule.event]
        return f"a {rule.object} {event} a zone"
    if isinstance(rule, AbsenceRule):
        return f"a sensor silent for more than {format_duration(rule.after)} (offline)"
    if isinstance(rule, RateOfChangeRule):
        return f"{rule.field} changes {rule.change} within {format_duration(rule.over)}"
    if isinstance(rule, CorrelationRule):
        which = " and ".join(rule.rules) if rule.distinct_rules else " or ".join(rule.rules)
        return (
            f"{rule.count} alerts of {which} within {rule.radius_m:g} m "
            f"and {format_duration(rule.within)}"
        )
    raise TypeError(type(rule))


def _scope(when: When) -> str:
    bits = []
    if when.kind:
        bits.append("/".join(when.kind) + " readings")
    if when.analytic:
        bits.append("analytic " + "/".join(when.analytic))
    if when.event:
        bits.append("event " + "/".join(when.event))
    if when.min_confidence is not None:
        bits.append(f"confidence ≥ {when.min_confidence:g}")
    if when.zone_kind:
        bits.append("in " + "/".join(when.zone_kind) + " zones")
    if when.zones:
        bits.append("in zones " + ", ".join(when.zones))
    if (when.zone_kind or when.zones) and not when.respect_schedule:
        bits.append("at any hour")
    if when.districts:
        bits.append("in " + ", ".join(when.districts))
    if when.sensors:
        bits.append("from " + ", ".join(when.sensors))
    return ("on " + ", ".join(bits)) if bits else ""


def _clear(rule: AnyRule) -> str:
    after, condition = rule.clear.after, rule.clear.condition
    if after <= timedelta(0) and condition is None:
        return ""
    text = "resolves"
    if condition is not None:
        text += f" when {condition}"
    if after > timedelta(0):
        text += f" after {format_duration(after)}"
    return text
