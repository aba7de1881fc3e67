"""What every rule has, whatever its kind: the data analysts write (docs/rules.md), validated
before anything runs. Each kind's own keys are in its module under ioc/rules/kinds.

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
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
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


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(StrictModel):
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


class Clear(StrictModel):
    """When a firing alert resolves itself."""

    after: Duration = Field(
        default=timedelta(0), description="the condition false this long (event time)"
    )
    condition: ConditionText | None = Field(
        default=None, description='hysteresis: resolve only when this holds (e.g. "< 100")'
    )


class RuleBase(StrictModel):
    type: str  # each kind's model narrows it to its name (ioc/rules/kinds)
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
