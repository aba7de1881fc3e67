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

import bisect
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ioc.digest import content_digest
from ioc.rules import windows
from ioc.rules.context import (
    Context,
    EngineState,
    epoch,
    evidence_of,
    last_place,
    new_state,
    observe,
    remember_place,
    row_time,
    row_value,
    sooner,
    usable,
    utc,
    zones_matching,
)
from ioc.rules.correlate import correlate
from ioc.rules.duplicates import repeated
from ioc.rules.filters import Dispatch, Predicate, predicate, takes
from ioc.rules.loader import RuleSet
from ioc.rules.model import (
    EVENT_FIELDS,
    AbsenceRule,
    AnyRule,
    CorrelationRule,
    GeofenceRule,
    RateOfChangeRule,
    ThresholdRule,
    WindowRule,
)
from ioc.rules.status import Status
from ioc.rules.values import Placed
from ioc.schemas.alerts import Alert, Evidence
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
        self.correlations = [r for r in self.rules if isinstance(r, CorrelationRule)]
        # Their alerts take a sensor offline, and bring it back, on the console's map.
        self.absence_rules = frozenset(r.id for r in self.rules if isinstance(r, AbsenceRule))
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
        self.by_kind: dict[str, list[AnyRule]] = {
            kind: [
                r
                for r in self.rules
                if not isinstance(r, CorrelationRule)
                and (r.when.kind is None or kind in r.when.kind)
            ]
            for kind in READING_KINDS
        }
        # What each rule does with a reading and with the watermark, chosen once here rather
        # than by its type on every call; a reading meets only the rules whose filters on its
        # kind and selector (a traffic reading's event) take it (ioc/rules/filters.py).
        self.on_reading: Dispatch[tuple[_OnReading, AnyRule]] = Dispatch(self._offer)
        self.on_watermark: dict[str, _OnWatermark] = {
            r.id: handler for r in self.rules if (handler := _watermark_handler(r)) is not None
        }
        # Every rule but a geofence reasons about one sensor at a time, so the state of a
        # kind without geofences can be kept per sensor; a geofence follows objects across
        # the cameras of a source, so it needs the source's state whole.
        self.per_sensor: dict[str, bool] = {
            kind: not any(isinstance(r, GeofenceRule) for r in rules)
            for kind, rules in self.by_kind.items()
        }
        # Sliding windows over the same readings (the same filters, field, size and grace:
        # the two AQI rules of the default pack) keep one set of rows per sensor, added by
        # the first of them in the rules' order; each rule decides on them on its own.
        self.sliding_rows: dict[str, str] = {}  # rule id → its rows' key in state["rows"]
        self.adds_rows: dict[str, bool] = {}  # rule id → whether it adds the readings
        for rule in self.rules:
            if isinstance(rule, WindowRule) and rule.window.type == "sliding":
                key = _rows_key(rule)
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

    def _offer(self, kind: str, selector: str | None, value: Any) -> list[tuple[_OnReading, Any]]:
        decided = frozenset(("kind", selector or "kind"))
        return [
            (_reading_handler(rule, decided), rule)
            for rule in self.by_kind[kind]
            if takes(rule.when, selector, value)
        ]

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


_OnReading = Callable[[Context, Any, Placed, float], None]
# A watermark handler returns the earliest event time it has something to do again (None:
# nothing until a reading comes); the pass keeps the earliest of them as the state's "wake".
_OnWatermark = Callable[[Context, Any, float], float | None]


def _reading_handler(rule: AnyRule, decided: frozenset[str]) -> _OnReading:
    """What the rule does with a reading whose filters named in `decided` have been checked."""
    if isinstance(rule, GeofenceRule):
        # Zone filters decide what is inside, not whether the reading counts.
        return _filtered(predicate(rule.when, zone_filters=False, decided=decided), _geofence)
    when = predicate(rule.when, decided=decided)
    if isinstance(rule, AbsenceRule):
        return _filtered(when, _seen)
    if isinstance(rule, ThresholdRule):
        return _filtered(when, _threshold)
    if isinstance(rule, WindowRule):
        return _filtered(when, windows.reading_handler(rule))
    if isinstance(rule, RateOfChangeRule):
        return _filtered(when, _rate_of_change)
    raise TypeError(f"no reading handler for {type(rule).__name__}")  # correlation: not here


def _filtered(when: Predicate | None, handle: _OnReading) -> _OnReading:
    """The handler, for the readings the rule's filters let through (None: all of them)."""
    if when is None:
        return handle

    def on_reading(ctx: Context, rule: Any, placed: Placed, t: float) -> None:
        if when(placed):
            handle(ctx, rule, placed, t)

    return on_reading


def _watermark_handler(rule: AnyRule) -> _OnWatermark | None:
    if isinstance(rule, WindowRule):
        return windows.on_watermark
    if isinstance(rule, AbsenceRule):
        return _silent
    if isinstance(rule, GeofenceRule):
        return _forget
    if isinstance(rule, ThresholdRule) and rule.field in EVENT_FIELDS:
        return _quiet_again
    return None


def _rows_key(rule: WindowRule) -> str:
    """What a sliding window's rows depend on: the readings let through and what is kept."""
    w = rule.window
    when = rule.when.model_dump(mode="json")
    return content_digest({"when": when, "field": w.field, "size": w.size_s, "grace": w.grace_s})


def rule_digest(rule: AnyRule) -> str:
    return content_digest(rule.model_dump(mode="json", by_alias=True))


def _threshold(ctx: Context, rule: ThresholdRule, placed: Placed, t: float) -> None:
    value = usable(ctx, placed, rule.field)
    if value is None:
        return
    if rule.field in EVENT_FIELDS:
        # An event (an accident, a detection) fires once per cooldown; it resolves only after
        # `clear.after` without another one (or by an operator, on the incident).
        if rule.condition.holds(value):
            what = getattr(placed.reading, rule.field)
            evidence = [evidence_of(placed, rule.field, what)]
            _once(ctx, rule, placed.sensor_id, t, placed, evidence, resolvable=True)
        return
    cleared = rule.clear.condition.holds(value) if rule.clear.condition is not None else True
    observe(
        ctx,
        rule,
        placed.sensor_id,
        rule.condition.holds(value),
        t,
        placed,
        lambda: [evidence_of(placed, rule.field, value)],
        cleared=cleared,
    )


def _quiet_again(ctx: Context, rule: ThresholdRule, watermark: float) -> float | None:
    clear_s = rule.clear.after.total_seconds()
    if clear_s <= 0:
        return None
    wake = None
    for subject, entry in ctx.rule_state(rule).items():
        status = Status.from_record(entry.get("status"))
        if not status.firing or status.last_fired is None:
            continue
        if watermark - status.last_fired >= clear_s:
            episode = status.episode
            status.firing_since = None
            ctx.raise_alert(
                rule, subject, "resolve", watermark, episode, None, [], **last_place(entry)
            )
            entry["status"] = status.to_record()
        else:
            wake = sooner(wake, status.last_fired + clear_s)
    return wake


# --- absence ----------------------------------------------------------------------------------


def _seen(ctx: Context, rule: AbsenceRule, placed: Placed, t: float) -> None:
    entry = ctx.rule_state(rule).setdefault(placed.sensor_id, {})
    seen = entry.get("seen")
    if seen is not None and t - seen > rule.after.total_seconds():
        # A gap inside one batch: the silence is found when the sensor speaks again, and
        # raised (then cleared) just as the watermark check would have between batches.
        _silent(ctx, rule, t, only=placed.sensor_id)
    if seen is None or t > seen:
        entry["seen"] = t
    remember_place(entry, placed)
    status = Status.from_record(entry.get("status"))
    if status.firing:
        episode = status.episode
        transition = status.observe(
            False, t, hold_s=0, cooldown_s=0, clear_s=rule.clear.after.total_seconds()
        )
        if transition == "resolve":
            ctx.raise_alert(
                rule,
                placed.sensor_id,
                "resolve",
                t,
                episode,
                placed,
                [evidence_of(placed, "last_seen", placed.ts.isoformat())],
            )
        entry["status"] = status.to_record()
    # Due again `after` the latest reading, also when this one was older or resolved a silence.
    ctx.wake_at(entry["seen"] + rule.after.total_seconds())


def _silent(
    ctx: Context, rule: AbsenceRule, watermark: float, only: str | None = None
) -> float | None:
    after = rule.after.total_seconds()
    wake = None
    for sensor_id, entry in ctx.rule_state(rule).items():
        if only is not None and sensor_id != only:
            continue
        seen = entry.get("seen")
        if seen is None:
            continue
        status = Status.from_record(entry.get("status"))
        if status.firing:
            continue  # until the sensor speaks again
        wake = sooner(wake, seen + after)  # due again while it has not fired (a hold may wait)
        if watermark - seen <= after:
            continue
        # The sensor went silent at seen + after: that is the alert's event time.
        t = seen + after
        transition = status.observe(
            True,
            t,
            hold_s=rule.hold.total_seconds(),
            cooldown_s=rule.cooldown.total_seconds(),
            clear_s=0,
        )
        if transition == "fire":
            ctx.raise_alert(
                rule,
                sensor_id,
                "fire",
                t,
                t,
                None,
                [
                    Evidence(
                        sensor_id=sensor_id,
                        field="last_seen",
                        value=utc(seen).isoformat(),
                        ts=utc(seen),
                    )
                ],
                note=f"silent since {utc(seen).isoformat()}",
                **last_place(entry),
            )
        entry["status"] = status.to_record()
    return wake


# --- rate of change ---------------------------------------------------------------------------


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


# --- geofence ---------------------------------------------------------------------------------


def _object_of(rule: GeofenceRule, placed: Placed) -> str | None:
    value = getattr(placed.reading, rule.object, None)
    return value if isinstance(value, str) else None


def _geofence(ctx: Context, rule: GeofenceRule, placed: Placed, t: float) -> None:
    obj = _object_of(rule, placed)
    if obj is None:
        return
    states = ctx.rule_state(rule)
    entry = states.setdefault(f"{rule.object}:{obj}", {"in": {}, "seen": t})
    if t < entry["seen"]:
        ctx.count("late_geofence")  # positions out of order would invent enters and exits
        return
    entry["seen"] = t
    ctx.wake_at(t + rule.expire.total_seconds())
    now_in = set(zones_matching(rule.when, placed))
    before: dict[str, float] = entry["in"]
    entered = sorted(now_in - set(before))
    left = sorted(set(before) - now_in)
    evidence = [evidence_of(placed, rule.object, obj)]
    for zone in entered:
        before[zone] = t
    for zone in left:
        del before[zone]
    subject = f"{rule.object}:{obj}"
    if rule.event in ("enter", "exit"):
        for zone in entered if rule.event == "enter" else left:
            _once(ctx, rule, f"{subject}@{zone}", t, placed, evidence)
        return
    hold = rule.hold.total_seconds()
    if rule.event == "dwell" and rule.dwell is not None:
        hold = max(hold, rule.dwell.total_seconds())
    for zone in sorted(now_in):
        observe(ctx, rule, f"{subject}@{zone}", True, t, placed, evidence, hold_s=hold)
    for zone in left:
        observe(ctx, rule, f"{subject}@{zone}", False, t, placed, evidence, hold_s=hold)


def _once(
    ctx: Context,
    rule: AnyRule,
    subject: str,
    t: float,
    placed: Placed,
    evidence: list[Evidence],
    *,
    resolvable: bool = False,
) -> None:
    """A one-shot alert. `resolvable` ones stay firing until `_quiet_again` resolves them,
    at the place they were raised."""
    entry = ctx.rule_state(rule).setdefault(subject, {})
    status = Status.from_record(entry.get("status"))
    if status.once(t, rule.cooldown.total_seconds()):
        if resolvable:
            status.firing_since = t
            remember_place(entry, placed)
            ctx.wake_at(t + rule.clear.after.total_seconds())
        ctx.raise_alert(rule, subject, "fire", t, t, placed, evidence)
    entry["status"] = status.to_record()


def _forget(ctx: Context, rule: GeofenceRule, watermark: float) -> float | None:
    states = ctx.rule_state(rule)
    expire = rule.expire.total_seconds()
    gone = []
    wake = None
    for key, entry in states.items():
        if "in" not in entry:
            continue
        if watermark - entry["seen"] > expire:
            gone.append(key)
        else:
            wake = sooner(wake, entry["seen"] + expire)
    for key in gone:
        entry = states.pop(key)
        for zone in entry["in"]:
            inside = states.get(f"{key}@{zone}")
            if inside is None:
                continue
            status = Status.from_record(inside.get("status"))
            if status.firing:
                ctx.raise_alert(
                    rule,
                    f"{key}@{zone}",
                    "resolve",
                    watermark,
                    status.episode,
                    None,
                    [],
                    note="object not seen any more",
                )
            states.pop(f"{key}@{zone}", None)
    return wake
