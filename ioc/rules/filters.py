"""A rule's filters (`When`) made once into a predicate, and the rules a reading can meet.

`ioc.rules.context.matches` reads a rule's filters on every call; the engine offers each
reading to every rule of its kind, so it asks the same questions of the same `When` hundreds of
thousands of times a minute. Here the questions are chosen once per rule: a predicate checks
only the filters the rule sets, and the engine's `Dispatch` offers a traffic reading only to
the rules whose `event` filter takes its event (a counting station's reading has none, so it
never meets the accident rules), a camera reading only to those whose `analytic` filter takes
its analytic. `matches` stays the reference, and the tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ioc.rules.context import zones_matching
from ioc.rules.model import When
from ioc.rules.values import Placed
from ioc.schemas.readings import CameraReading, TrafficReading

Predicate = Callable[[Placed], bool]
# The field that tells readings of a kind apart, which rules filter on most.
SELECTORS = {"traffic": "event", "camera": "analytic"}

T = TypeVar("T")


def predicate(
    when: When, *, zone_filters: bool = True, decided: frozenset[str] = frozenset()
) -> Predicate | None:
    """`matches(when, placed, zone_filters=...)` as one function; None when it would let every
    reading through. Filters named in `decided` are not checked: the caller has (the kind, the
    selector of Dispatch)."""
    checks: list[Predicate] = []
    if when.kind is not None and "kind" not in decided:
        kinds = frozenset(when.kind)
        checks.append(lambda p: p.reading.kind in kinds)
    if when.districts is not None:
        districts = frozenset(when.districts)
        checks.append(lambda p: p.district in districts)
    if when.sensors is not None:
        exact = frozenset(s for s in when.sensors if not s.endswith("*"))
        prefixes = tuple(s[:-1] for s in when.sensors if s.endswith("*"))
        checks.append(
            lambda p: p.reading.sensor_id in exact or p.reading.sensor_id.startswith(prefixes)
        )
    if when.analytic is not None and "analytic" not in decided:
        analytics = frozenset(when.analytic)
        checks.append(
            lambda p: isinstance(p.reading, CameraReading) and p.reading.analytic in analytics
        )
    if when.event is not None and "event" not in decided:
        events = frozenset(when.event)
        checks.append(lambda p: isinstance(p.reading, TrafficReading) and p.reading.event in events)
    if when.min_confidence is not None:
        least = when.min_confidence
        checks.append(
            lambda p: isinstance(p.reading, CameraReading) and p.reading.confidence >= least
        )
    if zone_filters and (when.zone_kind is not None or when.zones is not None):
        checks.append(lambda p: bool(zones_matching(when, p)))
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return _every(checks)


def _every(checks: Sequence[Predicate]) -> Predicate:
    def every(placed: Placed) -> bool:
        # A loop, not all(...): a generator per reading costs more than the checks.
        for check in checks:  # noqa: SIM110
            if not check(placed):
                return False
        return True

    return every


def takes(when: When, selector: str | None, value: Any) -> bool:
    """Whether the rule's filter on the selector field lets this value through."""
    if selector is None:
        return True
    allowed = getattr(when, selector)
    return allowed is None or value in allowed


class Dispatch(Generic[T]):
    """What to run for a reading, by its kind and the value of its kind's selector: the
    rules' handlers in the rules' order, those whose filters take that value. Made on first
    use of each (kind, value): a handful of lists."""

    def __init__(self, offer: Callable[[str, str | None, Any], list[T]]) -> None:
        """`offer(kind, selector, value)`: the handlers for readings of that kind and value."""
        self.offer = offer
        self.tables: dict[str, _Table[T]] = {}

    def __call__(self, reading: Any) -> list[T]:
        kind: str = reading.kind
        table = self.tables.get(kind)
        if table is None:
            table = self.tables[kind] = _Table(self.offer, kind, SELECTORS.get(kind))
        selector = table.selector
        return table[getattr(reading, selector) if selector is not None else None]


class _Table(dict[Any, list[T]]):
    def __init__(
        self, offer: Callable[[str, str | None, Any], list[T]], kind: str, selector: str | None
    ) -> None:
        super().__init__()
        self.offer = offer
        self.kind = kind
        self.selector = selector

    def __missing__(self, value: Any) -> list[T]:
        found = self[value] = self.offer(self.kind, self.selector, value)
        return found
