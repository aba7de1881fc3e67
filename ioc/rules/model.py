"""Rule files: the data analysts write (docs/rules.md), validated before anything runs.

A rule file is YAML: a list of rules, or `{name: …, rules: [...]}`. Every rule has an `id`,
a bilingual `title`, `when` filters, a `severity` and CAP `category`, and optionally `for`
(the condition must hold that long before the rule fires), `cooldown` (no repeat for the same
subject within it) and `clear` (how long the condition must be false before the alert
resolves itself). What a rule watches depends on its `type`:

- threshold       `field` and `condition`, on each reading
- window          `window: {type, size, hop, agg, field, grace}` and `condition`
- geofence        `object` (track_id | plate), `event` (enter | exit | inside | dwell), `dwell`
- absence         `after`: a sensor silent for longer raises "sensor offline"
- rate_of_change  `field`, `change` (e.g. "> 20") within `over` (e.g. 10m)
- correlation     `rules`, `count`, `within`, `radius_m`: alerts of other rules close together

`type` may be left out where the keys say it: `window` → window, `field` + `condition` →
threshold (docs/rules.md's examples are written that way).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ioc.durations import Duration
from ioc.schemas.alerts import Category, Severity
from ioc.schemas.common import Slug, Text
from ioc.schemas.readings import ENVIRONMENT_FIELDS, CameraAnalytic, TrafficEvent

ReadingKind = Literal["traffic", "camera", "environment"]

# Operators and other platforms say "critical/major/warning/info"; CAP says these four.
SEVERITY_ALIASES = {
    "critical": "extreme",
    "major": "severe",
    "warning": "moderate",
    "info": "minor",
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


class Condition(BaseModel):
    """A comparison with a number, written as in the rule file: "> 55.5", "<= 20"."""

    model_config = ConfigDict(frozen=True)

    op: Literal[">=", "<=", "==", "!=", ">", "<"]
    value: float

    def holds(self, x: float) -> bool:
        return _OPS[self.op](x, self.value)

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def _parse_condition(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f'a condition compares, e.g. "> {value}"; write the operator too')
    if isinstance(value, str):
        match = _CONDITION.match(value)
        if match is None:
            raise ValueError(f'{value!r} is not a condition like "> 55.5", ">= 120" or "< 20"')
        return {"op": match.group(1), "value": float(match.group(2))}
    return value


ConditionText = Annotated[Condition, BeforeValidator(_parse_condition)]


def _severity(value: Any) -> Any:
    return SEVERITY_ALIASES.get(value, value) if isinstance(value, str) else value


def _listed(value: Any) -> Any:
    """`kind: environment` and `kind: [environment]` mean the same."""
    return [value] if isinstance(value, str) else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Model):
    """Which readings a rule looks at; every filter given must match."""

    kind: Annotated[list[ReadingKind], BeforeValidator(_listed)] | None = None
    zone_kind: Annotated[list[str], BeforeValidator(_listed)] | None = Field(
        default=None, description="the reading lies in a zone of one of these kinds"
    )
    zones: Annotated[list[Slug], BeforeValidator(_listed)] | None = None
    districts: Annotated[list[Slug], BeforeValidator(_listed)] | None = None
    sensors: Annotated[list[str], BeforeValidator(_listed)] | None = Field(
        default=None, description="sensor ids; a trailing * matches a prefix (aq-da-lat-*)"
    )
    analytic: Annotated[list[CameraAnalytic], BeforeValidator(_listed)] | None = None
    event: Annotated[list[TrafficEvent], BeforeValidator(_listed)] | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    respect_schedule: bool = Field(
        default=True, description="a zone with a schedule counts only while it is active"
    )


class Clear(_Model):
    """When a firing alert resolves itself."""

    after: Duration = Field(
        default=timedelta(0), description="the condition false this long (event time)"
    )
    condition: ConditionText | None = Field(
        default=None, description='hysteresis: resolve only when this holds (e.g. "< 100")'
    )


class RuleBase(_Model):
    id: Slug
    title: Text
    description: Text | None = None
    when: When = When()
    severity: Annotated[Severity, BeforeValidator(_severity)]
    category: Category
    hold: Duration = Field(
        default=timedelta(0),
        alias="for",
        description="the condition must hold this long (event time) before the rule fires",
    )
    cooldown: Duration = timedelta(0)
    clear: Clear = Clear()
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def subject_kind(self) -> str:
        return "sensor"


# Derived values a rule may name as `field`, besides every numeric reading field.
DERIVED_FIELDS = {
    "aqi": "VN_AQI of the reading's PM2.5 and PM10 (hourly breakpoints, this reading alone)",
    "aqi_pm25": "VN_AQI sub-index of PM2.5",
    "aqi_pm10": "VN_AQI sub-index of PM10",
    "speed_over_limit_kmh": "average speed minus the road's limit (traffic)",
}
NUMERIC_FIELDS = {
    "vehicle_count",
    "avg_speed_kmh",
    "occupancy_pct",
    "confidence",
    "count",
    *ENVIRONMENT_FIELDS,
}
EVENT_FIELDS = {"event", "analytic"}  # a rule on these fires on presence, "== 1"


def _known_field(value: str) -> str:
    if value not in NUMERIC_FIELDS and value not in DERIVED_FIELDS and value not in EVENT_FIELDS:
        known = sorted(NUMERIC_FIELDS | set(DERIVED_FIELDS) | EVENT_FIELDS)
        raise ValueError(f"unknown field {value!r}; known: {', '.join(known)}")
    return value


FieldName = Annotated[str, BeforeValidator(lambda v: _known_field(v) if isinstance(v, str) else v)]


class ThresholdRule(RuleBase):
    type: Literal["threshold"] = "threshold"
    field: FieldName
    condition: ConditionText


class Window(_Model):
    type: Literal["tumbling", "hopping", "sliding"]
    size: Duration
    hop: Duration | None = None
    agg: Literal["mean", "min", "max", "sum", "count"]
    field: FieldName
    grace: Duration = Field(
        default=timedelta(minutes=2),
        description="how late a reading may come and still count; later ones are counted",
    )

    # In seconds, as the engine reasons (event times are epoch seconds): asked per reading.
    @cached_property
    def size_s(self) -> float:
        return self.size.total_seconds()

    @cached_property
    def hop_s(self) -> float:
        """The distance between window starts: the size, but for a hopping window."""
        return (self.hop or self.size).total_seconds()

    @cached_property
    def grace_s(self) -> float:
        return self.grace.total_seconds()

    @model_validator(mode="after")
    def _shape(self) -> Window:
        if self.size <= timedelta(0):
            raise ValueError("window size must be positive")
        if self.type == "hopping":
            if self.hop is None:
                raise ValueError("a hopping window needs hop (e.g. hop: 5m)")
            if not timedelta(0) < self.hop <= self.size:
                raise ValueError("hop must be positive and at most the window size")
        elif self.hop is not None:
            raise ValueError(f"hop is for hopping windows, not {self.type}")
        if self.size > timedelta(days=7):
            raise ValueError("window size is at most 7d")
        return self


class WindowRule(RuleBase):
    type: Literal["window"] = "window"
    window: Window
    condition: ConditionText


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


class AbsenceRule(RuleBase):
    type: Literal["absence"] = "absence"
    after: Duration

    @field_validator("after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("after must be positive")
        return value


class RateOfChangeRule(RuleBase):
    type: Literal["rate_of_change"] = "rate_of_change"
    field: FieldName
    change: ConditionText
    over: Duration


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


def _rule_type(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return getattr(value, "type", None)
    if not isinstance(value, dict):
        return None
    if "type" in value:
        return value["type"] if isinstance(value["type"], str) else None
    if "window" in value:
        return "window"
    if "field" in value and "condition" in value:
        return "threshold"
    return None


RULE_TYPES = ("threshold", "window", "geofence", "absence", "rate_of_change", "correlation")

Rule = Annotated[
    Annotated[ThresholdRule, Tag("threshold")]
    | Annotated[WindowRule, Tag("window")]
    | Annotated[GeofenceRule, Tag("geofence")]
    | Annotated[AbsenceRule, Tag("absence")]
    | Annotated[RateOfChangeRule, Tag("rate_of_change")]
    | Annotated[CorrelationRule, Tag("correlation")],
    Discriminator(
        _rule_type,
        custom_error_type="rule_type",
        custom_error_message=f"type must be one of {', '.join(RULE_TYPES)}",
    ),
]
AnyRule = (
    ThresholdRule | WindowRule | GeofenceRule | AbsenceRule | RateOfChangeRule | CorrelationRule
)
RULE_MODELS = (
    ThresholdRule,
    WindowRule,
    GeofenceRule,
    AbsenceRule,
    RateOfChangeRule,
    CorrelationRule,
)


class RuleFile(_Model):
    name: str = Field(default="rules", max_length=100)
    description: str | None = None
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RuleFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        for rule in self.rules:
            if isinstance(rule, CorrelationRule):
                missing = [r for r in rule.rules if r not in seen]
                if missing:
                    raise ValueError(
                        f"rule {rule.id}: correlates unknown rule(s) {', '.join(missing)}"
                    )
                if rule.id in rule.rules:
                    raise ValueError(f"rule {rule.id}: a correlation cannot include itself")
        return self
