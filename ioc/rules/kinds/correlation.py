"""correlation: `rules`, `count`, `within`, `radius_m`: k alerts of given rules within r
metres and t seconds → one alert.

Runs over alerts, not readings: in a worker it sees the alerts of the sources it owns, and
the pipeline repartitions alerts by place before this stage so that neighbours meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from ioc.durations import Duration, format_duration
from ioc.geo.distance import distance_m
from ioc.rules.context import Context, utc
from ioc.rules.kinds.base import Kind
from ioc.rules.model import RuleBase
from ioc.schemas.alerts import Alert, Evidence
from ioc.schemas.common import Slug


class CorrelationRule(RuleBase):
    type: Literal["correlation"] = "correlation"
    rules: list[Slug] = Field(min_length=1)
    count: int = Field(default=2, ge=2, le=100, description="alerts needed (k)")
    distinct_rules: bool = Field(default=True, description="the k alerts come from k rules")
    within: Duration
    radius_m: float = Field(gt=0, le=100_000)

    @property
    def subject_kind(self) -> str:
        return "place"


def correlate(
    ctx: Context,
    rules: Sequence[CorrelationRule],
    alerts: Sequence[Alert],
    triggers: set[str] | None = None,
) -> None:
    for alert in alerts:
        if alert.status != "firing":
            continue
        trigger = triggers is None or alert.alert_id in triggers
        for rule in rules:
            if alert.rule_id in rule.rules:
                _consider(ctx, rule, alert, trigger)


def _consider(ctx: Context, rule: CorrelationRule, alert: Alert, trigger: bool) -> None:
    state = ctx.rule_state(rule)
    recent: list[list[Any]] = state.setdefault("recent", [])
    t = alert.event_time.timestamp()
    within = rule.within.total_seconds()
    here = (alert.lat, alert.lon)
    sensor = alert.evidence[0].sensor_id if alert.evidence else alert.rule_id
    if any(r[4] == alert.alert_id for r in recent):
        return  # delivered twice (at-least-once): it counts once
    recent.append([t, alert.rule_id, alert.lat, alert.lon, alert.alert_id, sensor])
    # Pruned by the alerts' own times: alerts are correlated after their batch, when the
    # watermark may already be far ahead of them.
    horizon = max(r[0] for r in recent) - 2 * within
    recent[:] = [r for r in recent if r[0] >= horizon]
    if not trigger:
        return
    near = [
        r
        for r in recent
        if abs(r[0] - t) <= within and distance_m(here, (r[2], r[3])) <= rule.radius_m
    ]
    enough = len({r[1] for r in near}) if rule.distinct_rules else len(near)
    if enough < rule.count:
        return
    fired: list[list[float]] = state.setdefault("fired", [])
    quiet = max(rule.cooldown.total_seconds(), within)
    if any(
        0 <= t - f[0] < quiet and distance_m(here, (f[1], f[2])) <= rule.radius_m for f in fired
    ):
        return
    fired.append([t, alert.lat, alert.lon])
    fired[:] = [f for f in fired if f[0] >= t - quiet]
    first = min(near, key=lambda r: r[0])
    evidence = [
        Evidence(
            sensor_id=r[5],
            field=f"alert:{r[1]}",
            value=r[4],
            ts=utc(r[0]),
        )
        for r in sorted(near, key=lambda r: r[0])
    ]
    ctx.raise_alert(
        rule,
        f"near:{first[4]}",
        "fire",
        t,
        first[0],
        None,
        evidence,
        lat=alert.lat,
        lon=alert.lon,
        district=alert.district,
        zones=alert.zones,
        note=f"{len(near)} alerts within {rule.radius_m:g} m",
    )


def _describe(rule: CorrelationRule) -> str:
    which = " and ".join(rule.rules) if rule.distinct_rules else " or ".join(rule.rules)
    return (
        f"{rule.count} alerts of {which} within {rule.radius_m:g} m "
        f"and {format_duration(rule.within)}"
    )


# No reading handler: a correlation decides on other rules' alerts (Engine.correlate).
KIND = Kind(
    name="correlation",
    model=CorrelationRule,
    describe=_describe,
    refers_to=lambda rule: list(rule.rules),
)
