"""The kinds of rule, one module each (docs/rules.md says what each watches), registered by
their `type`. A new kind is a new module here that defines its model and a `KIND`
(ioc/rules/kinds/base.py), listed in KINDS below; the engine, the rule-file parser and
`ioc rules check` find it through the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Discriminator, Tag

from ioc.rules.kinds import absence, correlation, geofence, rate_of_change, threshold, window
from ioc.rules.kinds.base import Kind
from ioc.rules.model import RuleBase

KINDS: dict[str, Kind[Any]] = {
    kind.name: kind
    for kind in (
        threshold.KIND,
        window.KIND,
        geofence.KIND,
        absence.KIND,
        rate_of_change.KIND,
        correlation.KIND,
    )
}
RULE_TYPES = tuple(KINDS)
RULE_MODELS: tuple[type[RuleBase], ...] = tuple(kind.model for kind in KINDS.values())


def kind_of(rule: RuleBase) -> Kind[Any]:
    return KINDS[rule.type]


def _rule_type(value: Any) -> str | None:
    """The kind a rule file's entry is of: its `type`, or the one its keys imply."""
    if isinstance(value, BaseModel):
        return getattr(value, "type", None)
    if not isinstance(value, dict):
        return None
    if "type" in value:
        return value["type"] if isinstance(value["type"], str) else None
    for kind in KINDS.values():
        if kind.implied_by is not None and kind.implied_by(value):
            return kind.name
    return None


if TYPE_CHECKING:
    Rule = RuleBase
else:
    # A tagged union of every registered kind's model, told apart by _rule_type.
    Rule = Annotated[
        Union[tuple(Annotated[kind.model, Tag(kind.name)] for kind in KINDS.values())],  # noqa: UP007
        Discriminator(
            _rule_type,
            custom_error_type="rule_type",
            custom_error_message=f"type must be one of {', '.join(RULE_TYPES)}",
        ),
    ]
