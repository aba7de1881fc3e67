"""Rules over recorded or simulated readings, without a broker: `ioc rules test`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from ioc.geo import ZoneIndex, ZoneSet
from ioc.rules.engine import Engine, EngineState
from ioc.rules.loader import RuleSet
from ioc.rules.values import Placed
from ioc.schemas import Decoder
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import AnyReading

BATCH = 2000


def place(
    index: ZoneIndex, readings: list[tuple[AnyReading, str | None, int | None, int | None]]
) -> list[Placed]:
    places = index.places([(r[0].lat, r[0].lon) for r in readings])
    return [
        Placed(reading, district, zones, topic, partition, offset)
        for (reading, topic, partition, offset), (district, zones) in zip(
            readings, places, strict=True
        )
    ]


def run(
    ruleset: RuleSet,
    zone_set: ZoneSet,
    messages: Iterable[tuple[bytes, str | None, int | None, int | None]],
    decoder: Decoder,
    rejected: Counter[str] | None = None,
) -> Iterator[Alert]:
    """Alerts as they are raised, for messages (value, topic, partition, offset) in order.
    Refused messages and readings are counted by reason in `rejected`."""
    index = ZoneIndex(zone_set)
    engine = Engine(ruleset, zone_set.version)
    state: EngineState | None = None
    pending: list[tuple[AnyReading, str | None, int | None, int | None]] = []

    def flush() -> Iterator[Alert]:
        nonlocal state
        state, alerts = engine.evaluate(state, place(index, pending))
        pending.clear()
        yield from alerts

    for value, topic, partition, offset in messages:
        decoded = decoder.decode(value)
        if rejected is not None:
            rejected.update(r.category for r in decoded.rejections)
        pending.extend((r, topic, partition, offset) for r in decoded.readings)
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()
