"""rate_of_change: `field` changes by `change` (e.g. "> 20") within `over` (e.g. 10m): a
river rising 20 cm in ten minutes."""

from __future__ import annotations

import bisect
from typing import Literal

from ioc.durations import Duration, format_duration
from ioc.rules.context import Context, evidence_of, observe, row_time, row_value, usable
from ioc.rules.filters import predicate
from ioc.rules.kinds.base import Kind, OnReading, filtered
from ioc.rules.model import ConditionText, FieldName, RuleBase
from ioc.rules.values import Placed


class RateOfChangeRule(RuleBase):
    type: Literal["rate_of_change"] = "rate_of_change"
    field: FieldName
    change: ConditionText
    over: Duration


def _rate_of_change(ctx: Context, rule: RateOfChangeRule, placed: Placed, t: float) -> None:
    value = usable(ctx, placed, rule.field)
    if value is None:
        return
    entry = ctx.rule_state(rule).setdefault(placed.sensor_id, {})
    history: list[list[float]] = entry.setdefault("h", [])
    history.append([t, value])
    if len(history) > 1 and t < history[-2][0]:
        history.sort(key=row_time)
    over = rule.over.total_seconds()
    latest = history[-1][0]
    if history[0][0] < latest - over:
        del history[: bisect.bisect_left(history, latest - over, key=row_time)]
    current = history[-1][1]
    if rule.change.op in (">", ">="):
        change = current - min(map(row_value, history))
    elif rule.change.op in ("<", "<="):
        change = current - max(map(row_value, history))
    else:
        change = current - history[0][1]
    observe(
        ctx,
        rule,
        placed.sensor_id,
        rule.change.holds(change),
        latest,
        placed,
        lambda: [evidence_of(placed, f"{rule.field} change over {int(over)}s", round(change, 3))],
    )


def _on_reading(rule: RateOfChangeRule, decided: frozenset[str]) -> OnReading:
    return filtered(predicate(rule.when, decided=decided), _rate_of_change)


KIND = Kind(
    name="rate_of_change",
    model=RateOfChangeRule,
    describe=lambda rule: f"{rule.field} changes {rule.change} within {format_duration(rule.over)}",
    on_reading=_on_reading,
)
