"""The rule engine: `evaluate(state, readings) -> (state, alerts)`, pure and deterministic.

No Kafka, no clocks unless given one, no globals: the same rules and readings give the same
alerts in a Faust agent, in `ioc rules test` and in a unit test (and the same state, but for
"wake_of", the epoch of the engine that last computed the state's wake time: new_epoch). All
reasoning is in event time; the watermark is the latest event time seen, and it is what closes
windows, detects silent sensors and forgets departed objects. The state is plain JSON-able
data (dicts, lists, numbers, strings), so a Faust table can hold it and a restarted worker
resumes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ioc.digest import content_digest
from ioc.rules.context import (
    Context,
    EngineState,
    epoch,
    new_state,
    sooner,
)
from ioc.rules.duplicates import repeated
from ioc.rules.filters import Dispatch, takes
from ioc.rules.kinds import kind_of
from ioc.rules.kinds.base import OnReading, OnWatermark
from ioc.rules.kinds.correlation import CorrelationRule, correlate
from ioc.rules.loader import RuleSet
from ioc.rules.model import RuleBase
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert
from ioc.schemas.readings import READING_KINDS

__all__ = ["Engine", "EngineState", "new_state"]

# The layout of the state's records; a state of another layout is not read, it starts afresh.
# 3: a sliding window's rows are kept once for the rules that see the same readings.
STATE_FORMAT = 3
# A wake time is a sum (an event time plus a duration), a handler's own test a difference:
# float rounding may put the sum a hair after the moment the test passes.
WAKE_MARGIN_S = 0.001


class Engine:
    def __init__(
        self,
        ruleset: RuleSet,
        zoneset_version: str = "none",
        clock: Callable[[], datetime] | None = None,
        *,
        correlation: bool = True,
        skip_quiet: bool = True,
    ) -> None:
        """`correlation=False` leaves correlation rules to a later `correlate` call: a worker
        evaluates each source's readings alone, then meets neighbours' alerts in another
        stage."""
        self.ruleset = ruleset
        self.zoneset_version = zoneset_version
        self.clock = clock
        self.rules = ruleset.enabled
        # Correlations decide on other rules' alerts, not on readings.
        self.correlations: list[CorrelationRule] = [
            r for r in self.rules if isinstance(r, CorrelationRule)
        ]
        # Their alerts take a sensor offline, and bring it back, on the console's map.
        self.absence_rules = frozenset(r.id for r in self.rules if kind_of(r).marks_offline)
        self.inline_correlation = correlation
        # The watermark pass skips a state with nothing due; False: every pass looks at every
        # rule the state holds (the reference the skipping is tested against).
        self.skip_quiet = skip_quiet
        self.new_epoch()
        self.digests = {rule.id: rule_digest(rule) for rule in self.rules}
        self.by_id = {rule.id: rule for rule in self.rules}
        self.order = {rule.id: n for n, rule in enumerate(self.rules)}
        # A reading meets only the rules that can fire on its kind; the watermark visits only
        # the rules with something in the state (a counting station's state has no AQI rows).
        self.by_kind: dict[str, list[RuleBase]] = {
            kind: [
                r
                for r in self.rules
                if kind_of(r).on_reading is not None
                and (r.when.kind is None or kind in r.when.kind)
            ]
            for kind in READING_KINDS
        }
        # What each rule does with a reading and with the watermark, chosen once here rather
        # than by its type on every call; a reading meets only the rules whose filters on its
        # kind and selector (a traffic reading's event) take it (ioc/rules/filters.py).
        self.on_reading: Dispatch[tuple[OnReading, RuleBase]] = Dispatch(self._offer)
        self.on_watermark: dict[str, OnWatermark] = {
            r.id: handler for r in self.rules if (handler := _watermark_handler(r)) is not None
        }
        # Most rules reason about one sensor at a time, so the state of a reading kind whose
        # rules all do can be kept per sensor; a rule that follows objects across the cameras
        # of a source (a geofence) needs the source's state whole.
        self.per_sensor: dict[str, bool] = {
            kind: not any(kind_of(r).follows_objects for r in rules)
            for kind, rules in self.by_kind.items()
        }
        # Sliding windows over the same readings (the same filters, field, size and grace:
        # the two AQI rules of the default pack) keep one set of rows per sensor, added by
        # the first of them in the rules' order; each rule decides on them on its own.
        self.sliding_rows: dict[str, str] = {}  # rule id → its rows' key in state["rows"]
        self.adds_rows: dict[str, bool] = {}  # rule id → whether it adds the readings
        for rule in self.rules:
            shared_rows = kind_of(rule).shared_rows
            key = shared_rows(rule) if shared_rows is not None else None
            if key is not None:
                self.adds_rows[rule.id] = key not in self.sliding_rows.values()
                self.sliding_rows[rule.id] = key

    def new_epoch(self) -> None:
        """Trust no state's wake time computed before now: a state's wake is trusted only if
        this engine computed it in the current epoch. A worker starts one whenever partitions
        are assigned to it, since their states may have been evaluated elsewhere in between,
        by a version of ioc that keeps the wake time without maintaining it."""
        self.epoch = secrets.token_hex(6)

    def evaluate(
        self, state: EngineState | None, readings: Iterable[Placed]
    ) -> tuple[EngineState, list[Alert]]:
        """Feed readings (in any order; late ones within a window's grace still count) and
        advance the watermark. A reading equal to one applied before (its sensor, time and
        values) is skipped: ioc/rules/duplicates.py. Returns the new state and the alerts
        raised, in order."""
        ctx = Context(self, self.adopt(state) if state is not None else self.adopt(new_state()))
        current = ctx.state
        handlers = self.on_reading
        seen: dict[str, str] | None = current.get("recent")
        if seen is None:
            seen = current["recent"] = {}
            current.pop("seen", None)  # the earlier form, its entries without their time
        for placed in readings:
            reading = placed.reading
            t = reading.ts.timestamp()
            if repeated(seen, reading):
                ctx.count("duplicates")  # resent or redelivered: applied already
                continue
            watermark = current["watermark"]
            if watermark is None or t > watermark:
                current["watermark"] = t
            for handle, rule in handlers(reading):
                handle(ctx, rule, placed, t)
        self._on_watermark(ctx)
        if self.correlations and self.inline_correlation:
            correlate(ctx, self.correlations, list(ctx.alerts))
        return self._stamp(ctx.state), ctx.alerts

    def _offer(self, kind: str, selector: str | None, value: Any) -> list[tuple[OnReading, Any]]:
        """What each rule does with a reading of this kind and selector: the kind's handler
        for readings whose filters named in `decided` have been checked here."""
        decided = frozenset(("kind", selector or "kind"))
        offered: list[tuple[OnReading, Any]] = []
        for rule in self.by_kind[kind]:
            on_reading = kind_of(rule).on_reading
            if on_reading is not None and takes(rule.when, selector, value):
                offered.append((on_reading(rule, decided), rule))
        return offered

    def advance(self, state: EngineState, until: datetime) -> tuple[EngineState, list[Alert]]:
        """Move the watermark without readings (a quiet stream still closes its windows)."""
        ctx = Context(self, self.adopt(state))
        t = epoch(until)
        if ctx.watermark is None or t > ctx.watermark:
            ctx.state["watermark"] = t
        self._on_watermark(ctx)
        if self.correlations and self.inline_correlation:
            correlate(ctx, self.correlations, list(ctx.alerts))
        return self._stamp(ctx.state), ctx.alerts

    def correlate(
        self,
        state: EngineState | None,
        alerts: Iterable[Alert],
        *,
        rules: Iterable[CorrelationRule] | None = None,
        triggers: set[str] | None = None,
    ) -> tuple[EngineState, list[Alert]]:
        """Feed other rules' alerts to correlation rules (all of them, or `rules`). Only alerts
        whose ids are in `triggers` (default: all) may complete a composite; the others are
        neighbours that count towards it."""
        ctx = Context(self, self.adopt(state if state is not None else new_state()))
        chosen = self.correlations if rules is None else list(rules)
        correlate(ctx, chosen, list(alerts), triggers)
        return self._stamp(ctx.state), ctx.alerts

    def adopt(self, state: EngineState) -> EngineState:
        """Forget the state of rules that were removed or changed since the state was written:
        a changed window or hold period starts afresh rather than misreading old records.
        A state written in an older layout starts afresh whole."""
        if state.get("ruleset") == self.ruleset.version and state.get("format") == STATE_FORMAT:
            return state
        rules: dict[str, Any] = state.setdefault("rules", {})
        rows: dict[str, Any] = state.get("rows") or {}  # only a state with sliding windows
        if state.get("format") != STATE_FORMAT:
            rules.clear()
            rows.clear()
        defs: dict[str, str] = state.get("defs") or {}
        for rule_id in list(rules):
            if self.digests.get(rule_id) != defs.get(rule_id):
                del rules[rule_id]
        kept = set(self.sliding_rows.values())
        for key in list(rows):
            if key not in kept:
                del rows[key]
        state["format"] = STATE_FORMAT
        state["ruleset"] = self.ruleset.version
        return state

    def _stamp(self, state: EngineState) -> EngineState:
        """Record the definition of each rule the state holds something for (only those: a
        state is written on every change, and most states hold a few rules of many)."""
        rules: dict[str, Any] = state["rules"]
        defs: dict[str, str] = state.get("defs") or {}
        if len(defs) != len(rules) or state.get("defs_of") != self.ruleset.version:
            state["defs"] = {rid: self.digests[rid] for rid in rules if rid in self.digests}
            state["defs_of"] = self.ruleset.version
        return state

    # --- per reading ----------------------------------------------------------------------

    def _on_watermark(self, ctx: Context) -> None:
        state = ctx.state
        watermark = state["watermark"]
        if watermark is None:
            return
        wake = state.get("wake", 0.0)
        if (
            self.skip_quiet
            and state.get("wake_of") == self.epoch
            and (wake is None or watermark < wake - WAKE_MARGIN_S)
        ):
            return  # nothing of this state is due yet (Context.wake_at)
        held: dict[str, Any] = state["rules"]
        handlers = self.on_watermark
        # Only the rules this state holds something for (a few of many), in the rules' order.
        ids = [rule_id for rule_id, records in held.items() if records and rule_id in handlers]
        if len(ids) > 1:
            ids.sort(key=self.order.__getitem__)
        wake = None
        for rule_id in ids:
            wake = sooner(wake, handlers[rule_id](ctx, self.by_id[rule_id], float(watermark)))
        state["wake"] = wake
        state["wake_of"] = self.epoch


def _watermark_handler(rule: RuleBase) -> OnWatermark | None:
    on_watermark = kind_of(rule).on_watermark
    return on_watermark(rule) if on_watermark is not None else None


def rule_digest(rule: RuleBase) -> str:
    return content_digest(rule.model_dump(mode="json", by_alias=True))
