"""Per-partition progress: a worker whose consumer silently stops must fail its health check.

Faust consumers have been seen to stop fetching while the process stays up ("has not committed
TP"). The health endpoint reports each assigned partition's position and lag, and fails when a
partition with lag has made no progress for `stall_after` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
