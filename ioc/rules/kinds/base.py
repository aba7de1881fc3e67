"""What a kind of rule is: its model (the keys a rule file gives it), what it does with a
reading and with the watermark, and the sentence `ioc rules check` reads it back as."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ioc.rules.context import Context
from ioc.rules.filters import Predicate
from ioc.rules.model import RuleBase
from ioc.rules.values import Placed

R = TypeVar("R", bound=RuleBase)

# What a rule does with one reading its filters took: (context, rule, reading, event time).
OnReading = Callable[[Context, Any, Placed, float], None]
# What a rule does when the watermark moves: the earliest event time it has something to do
# again (None: nothing until a reading comes); the pass keeps the earliest as the state's wake.
OnWatermark = Callable[[Context, Any, float], float | None]


@dataclass(frozen=True)
class Kind(Generic[R]):
    name: str  # the rule's `type`
    model: type[R]
    describe: Callable[[R], str]
    # The reading handler of a rule, for readings whose filters named in the frozenset have
    # been checked already (ioc/rules/filters.py); None: the kind reads alerts, not readings.
    on_reading: Callable[[R, frozenset[str]], OnReading] | None = None
    # The watermark handler of a rule, or None when this rule has nothing to do on one.
    on_watermark: Callable[[R], OnWatermark | None] | None = None
    # A rule file may leave `type` out where the rule's keys say it (`window:` → window).
    implied_by: Callable[[dict[str, Any]], bool] | None = None
    # The ids of other rules this one needs in the same rule set.
    refers_to: Callable[[R], list[str]] | None = None
    # Follows objects across a source's sensors: the source's state must be kept whole.
    follows_objects: bool = False
    # Its alerts take a sensor offline, and bring it back, on the console's map.
    marks_offline: bool = False
    # A sliding window's rows, shared by the rules that would keep the same ones: their key.
    shared_rows: Callable[[R], str | None] | None = None


def filtered(when: Predicate | None, handle: OnReading) -> OnReading:
    """The handler, for the readings the rule's filters let through (None: all of them)."""
    if when is None:
        return handle

    def on_reading(ctx: Context, rule: Any, placed: Placed, t: float) -> None:
        if when(placed):
            handle(ctx, rule, placed, t)

    return on_reading
