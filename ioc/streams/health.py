"""Per-partition progress: a worker whose consumer silently stops must fail its health check.

Faust consumers have been seen to stop fetching while the process stays up ("has not committed
TP"). The health endpoint reports each assigned partition's position and lag, and fails when a
partition with lag has made no progress for `stall_after` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import faust

from ioc.streams.faust.consumer import fetch_flags, positions


@dataclass(slots=True)
class PartitionState:
    position: int | None
    highwater: int | None
    since: float  # when the position last moved (or was first seen)

    @property
    def lag(self) -> int:
        if self.highwater is None:
            return 0
        return max(self.highwater - (self.position or 0), 0)


@dataclass(slots=True)
class ProgressTracker:
    stall_after: float
    partitions: dict[str, PartitionState] = field(default_factory=dict)

    def observe(self, positions: dict[str, tuple[int | None, int | None]], now: float) -> list[str]:
        """Record (position, highwater) per partition; return the partitions that stalled."""
        for tp in set(self.partitions) - set(positions):
            del self.partitions[tp]
        stalled = []
        for tp, (position, highwater) in positions.items():
            state = self.partitions.get(tp)
            if state is None or state.position != position:
                self.partitions[tp] = state = PartitionState(position, highwater, now)
            else:
                state.highwater = highwater
            if state.lag > 0 and now - state.since > self.stall_after:
                stalled.append(tp)
        return sorted(stalled)

    def report(self) -> dict[str, dict[str, int | None]]:
        return {
            tp: {"position": s.position, "highwater": s.highwater, "lag": s.lag}
            for tp, s in sorted(self.partitions.items())
        }


def health_report(
    app: faust.App,
    tracker: ProgressTracker,
    waiting: frozenset[str] = frozenset(),
    *,
    rules_ready: bool = True,
) -> tuple[dict[str, Any], bool]:
    """Readiness: started, the rule set read, not rebalancing, and no assigned partition
    stalled with lag."""
    consumer: Any = app.consumer if app.started else None
    if consumer is None:
        return {"status": "starting"}, False
    tables: Any = app.tables  # the TableManager; its type hides `recovery`
    if not tables.recovery.completed.is_set():
        # Started, but not yet through its first assignment (a worker is "ok" with no
        # partitions only once the group has given it none).
        return {"status": "joining"}, False
    if not rules_ready:
        # The stages wait until the rules topic has been read (a worker must not evaluate
        # with a set it is about to replace): joined, but reading nothing yet.
        return {"status": "loading_rules"}, False
    if app.rebalancing:
        return {"status": "rebalancing"}, False
    found = positions(consumer, waiting)
    stalled = tracker.observe({k: v[1:] for k, v in found.items()}, time.monotonic())
    payload = {
        "status": "stalled" if stalled else "ok",
        "stalled": stalled,
        "partitions": tracker.report(),
    }
    if stalled:
        payload["consumer"] = fetch_flags(consumer, [found[name][0] for name in stalled])
    return payload, not stalled
