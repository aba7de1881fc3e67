"""A rule in one plain sentence, for `ioc rules check`: what an analyst meant, read back."""

from __future__ import annotations

from datetime import timedelta

from ioc.durations import format_duration
from ioc.rules.kinds import kind_of
from ioc.rules.model import RuleBase, When


def explain(rule: RuleBase) -> tuple[str, str]:
    """(what the rule watches, what it raises and how that alert lives)."""
    watch = [kind_of(rule).describe(rule)]
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


def _clear(rule: RuleBase) -> str:
    after, condition = rule.clear.after, rule.clear.condition
    if after <= timedelta(0) and condition is None:
        return ""
    text = "resolves"
    if condition is not None:
        text += f" when {condition}"
    if after > timedelta(0):
        text += f" after {format_duration(after)}"
    return text
