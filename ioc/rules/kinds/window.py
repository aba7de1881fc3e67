"""window: `window: {type, size, hop, agg, field, grace}` and `condition`, in event time:
tumbling, hopping and sliding windows, with a grace period.

Windows are half-open, [start, start + size): a reading exactly on a boundary belongs to the
window that starts there. Tumbling and hopping windows are aligned to the epoch (a 15-minute
window starts at :00, :15, :30, :45 UTC) and close when the watermark passes their end plus
the grace; a reading for a window already closed is late: counted, never applied. A sliding
window is evaluated at each reading over (t − size, t].
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, model_validator

from ioc.digest import content_digest
from ioc.durations import Duration, format_duration
from ioc.rules.context import (
    Context,
    observe,
    remember_place,
    row_time,
    row_value,
    sooner,
    usable,
    utc,
)
from ioc.rules.filters import predicate
from ioc.rules.kinds.base import Kind, OnReading, filtered
from ioc.rules.model import EVENT_FIELDS, ConditionText, FieldName, RuleBase, StrictModel
from ioc.rules.values import Placed
from ioc.schemas.alerts import Evidence


class Window(StrictModel):
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


MAX_EVIDENCE = 20


def _aggregate(agg: str, values: list[float]) -> float:
    if agg == "mean":
        return math.fsum(values) / len(values)
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    if agg == "sum":
        return math.fsum(values)
    return float(len(values))


# An open tumbling or hopping window is kept as its running aggregate, not its readings:
# [count, sum, compensation, min, max, newest rows]. The sum is compensated (Neumaier), so a
# mean is as exact as math.fsum over the readings; only the newest MAX_EVIDENCE rows are kept,
# for the alert's evidence. A row is [t, value, offset]; the topic and partition it was read
# from are the entry's "src" (a sensor's readings arrive on one topic-partition).
_N, _SUM, _COMP, _MIN, _MAX, _ROWS = range(6)


def _add(record: list[Any], row: list[Any]) -> None:
    value = row[1]
    total = record[_SUM] + value
    if abs(record[_SUM]) >= abs(value):
        record[_COMP] += (record[_SUM] - total) + value
    else:
        record[_COMP] += (value - total) + record[_SUM]
    record[_SUM] = total
    record[_N] += 1
    record[_MIN] = min(record[_MIN], value)
    record[_MAX] = max(record[_MAX], value)
    rows: list[list[Any]] = record[_ROWS]
    rows.append(row)
    if len(rows) > MAX_EVIDENCE:
        del rows[0]


def _closed_aggregate(agg: str, record: list[Any]) -> float:
    total = record[_SUM] + record[_COMP]
    if agg == "mean":
        return float(total / record[_N])
    if agg == "min":
        return float(record[_MIN])
    if agg == "max":
        return float(record[_MAX])
    if agg == "sum":
        return float(total)
    return float(record[_N])


def _evidence(
    rule: WindowRule, sensor_id: str, rows: list[list[Any]], src: list[Any]
) -> list[Evidence]:
    topic, partition = src if src else (None, None)
    return [
        Evidence(
            sensor_id=sensor_id,
            field=rule.window.field,
            value=row[1],
            ts=utc(row[0]),
            topic=topic,
            partition=partition,
            offset=row[2],
        )
        for row in rows[-MAX_EVIDENCE:]
    ]


def reading_handler(rule: WindowRule) -> Callable[[Context, WindowRule, Placed, float], None]:
    """What the rule does with each reading it takes. The window's constants are read once
    here: this runs for every reading of every sensor the rule watches."""
    window = rule.window
    size, grace, hop = window.size_s, window.grace_s, window.hop_s
    field = window.field
    rule_id = rule.id

    if field in EVENT_FIELDS:

        def value_of(ctx: Context, placed: Placed) -> float | None:
            # An event (an accident, an analytic) counts 1.
            return 1.0 if getattr(placed.reading, field, None) else None

    else:

        def value_of(ctx: Context, placed: Placed) -> float | None:
            return usable(ctx, placed, field)

    sliding = window.type == "sliding"
    keys = _WindowKeys()

    def on_reading(ctx: Context, rule: WindowRule, placed: Placed, t: float) -> None:
        value = value_of(ctx, placed)
        if value is None:
            return
        watermark = ctx.state["watermark"]
        if watermark is None:
            watermark = t
        held = ctx.rule_state(rule)
        sensor_id = placed.reading.sensor_id
        entry = held.get(sensor_id)
        if entry is None:
            entry = held[sensor_id] = {}
        remember_place(entry, placed)
        src = entry.get("src")
        if src is None or src[0] != placed.topic or src[1] != placed.partition:
            entry["src"] = [placed.topic, placed.partition]
        row = [t, value, placed.offset]
        if sliding:
            _slide(ctx, rule, placed, entry, row, watermark)
            return
        open_windows: dict[str, list[Any]] = entry.get("w") or entry.setdefault("w", {})
        late = False
        # When the first open window closes, kept as windows open (the watermark pass
        # recomputes it).
        due = entry["due"] if "due" in entry else _due(open_windows, size, grace)
        first, last = math.floor((t - size) / hop) + 1, math.floor(t / hop)
        # A tumbling window's reading is in one window: the loop is for hopping ones.
        for k in (first,) if first == last else range(first, last + 1):
            start = k * hop
            closes = start + size + grace
            if closes <= watermark:
                late = True  # the watermark passed that window's end and grace: it has closed
                continue
            key = keys.of(start)
            record = open_windows.get(key)
            if record is None:
                record = open_windows[key] = [0, 0.0, 0.0, value, value, []]
                if due is None or closes < due:
                    due = closes
            _add(record, row)
        if late:
            _late(ctx, rule)
        entry["due"] = due
        if due is not None:
            ctx.wake_at(due)

    on_reading.__qualname__ = f"window:{rule_id}"
    return on_reading


class _WindowKeys:
    """A window's key in the state is its start as text, the same for every sensor: a
    reading's window is nearly always the previous reading's (readings arrive in time
    order), so the text is made once per window rather than per reading."""

    __slots__ = ("key", "start")

    def __init__(self) -> None:
        self.start: float | None = None
        self.key = ""

    def of(self, start: float) -> str:
        if start != self.start:
            self.start, self.key = start, str(start)
        return self.key


def _slide(
    ctx: Context,
    rule: WindowRule,
    placed: Placed,
    entry: dict[str, Any],
    row: list[Any],
    watermark: float,
) -> None:
    window = rule.window
    size, grace, t = window.size_s, window.grace_s, row[0]
    if t < watermark - grace:
        _late(ctx, rule)
        return
    # Shared with the rules over the same readings (Engine.sliding_rows); the first of
    # them has added this reading already when the others see it.
    engine = ctx.engine
    shared: dict[str, list[list[Any]]] = ctx.state.setdefault("rows", {}).setdefault(
        engine.sliding_rows[rule.id], {}
    )
    rows = shared.setdefault(placed.sensor_id, [])
    if engine.adds_rows[rule.id]:
        if rows and t < rows[-1][0]:
            rows.append(row)
            rows.sort(key=row_time)
        else:
            rows.append(row)
        keep_after = rows[-1][0] - size - grace
        if rows[0][0] <= keep_after:
            del rows[: bisect.bisect_right(rows, keep_after, key=row_time)]
    if not rows:
        return
    latest = rows[-1][0]
    # Rows are in time order: the window (latest - size, latest] is a tail of them.
    current = rows[bisect.bisect_right(rows, latest - size, key=row_time) :]
    aggregate = _aggregate(window.agg, list(map(row_value, current)))
    _decide(ctx, rule, placed.sensor_id, entry, aggregate, latest, current)


def on_watermark(ctx: Context, rule: WindowRule, watermark: float) -> float | None:
    """Close the windows the watermark has passed; returns when the next one closes."""
    window = rule.window
    size, grace = window.size_s, window.grace_s
    if window.type == "sliding":
        return None
    wake = None
    for sensor_id, entry in ctx.rule_state(rule).items():
        if entry.get("due") is not None and entry["due"] <= watermark:
            open_windows: dict[str, list[Any]] = entry.get("w", {})
            closed = sorted(
                (k for k in open_windows if float(k) + size + grace <= watermark), key=float
            )
            for key in closed:
                record = open_windows.pop(key)
                aggregate = _closed_aggregate(window.agg, record)
                _decide(ctx, rule, sensor_id, entry, aggregate, float(key) + size, record[_ROWS])
            entry["due"] = _due(open_windows, size, grace)
        wake = sooner(wake, entry.get("due"))
    return wake


def _due(open_windows: dict[str, list[Any]], size: float, grace: float) -> float | None:
    """When the first of a sensor's open windows closes: the watermark pass skips the sensor
    until then."""
    return min(map(float, open_windows)) + size + grace if open_windows else None


def _decide(
    ctx: Context,
    rule: WindowRule,
    sensor_id: str,
    entry: dict[str, Any],
    aggregate: float,
    t: float,
    rows: list[list[Any]],
) -> None:
    w = rule.window
    holds = rule.condition.holds(aggregate)
    cleared = rule.clear.condition.holds(aggregate) if rule.clear.condition is not None else True

    def evidence() -> list[Evidence]:
        return [
            Evidence(
                sensor_id=sensor_id,
                field=f"{w.agg}({w.field}) over {format_duration(w.size)}"[:64],
                value=round(aggregate, 3),
                ts=utc(rows[-1][0]),
            ),
            *_evidence(rule, sensor_id, rows, entry.get("src") or []),
        ]

    observe(
        ctx, rule, sensor_id, holds, t, None, evidence, cleared=cleared, place=entry.get("place")
    )


def _late(ctx: Context, rule: WindowRule) -> None:
    ctx.count("late_readings")
    ctx.count(f"late_readings:{rule.id}")


def _shared_rows(rule: WindowRule) -> str | None:
    """What a sliding window's rows depend on: the readings let through and what is kept;
    None for the other windows, which keep aggregates of their own."""
    if rule.window.type != "sliding":
        return None
    w = rule.window
    when = rule.when.model_dump(mode="json")
    return content_digest({"when": when, "field": w.field, "size": w.size_s, "grace": w.grace_s})


def _describe(rule: WindowRule) -> str:
    w = rule.window
    shape = f"{w.type} {format_duration(w.size)}"
    if w.hop is not None:
        shape += f" every {format_duration(w.hop)}"
    return (
        f"{w.agg} of {w.field} over a {shape} window {rule.condition} "
        f"(late readings count for {format_duration(w.grace)})"
    )


def _on_reading(rule: WindowRule, decided: frozenset[str]) -> OnReading:
    return filtered(predicate(rule.when, decided=decided), reading_handler(rule))


KIND = Kind(
    name="window",
    model=WindowRule,
    describe=_describe,
    on_reading=_on_reading,
    on_watermark=lambda rule: on_watermark,
    implied_by=lambda keys: "window" in keys,
    shared_rows=_shared_rows,
)
