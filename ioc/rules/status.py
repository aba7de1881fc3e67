"""The life of one rule on one subject: pending (`for:`), firing, cooling down, clearing.

All times are event times in epoch seconds, so a replay gives the same alerts as the live run.
The state is a plain dict, so it can live in a changelogged Faust table and survive a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Transition = Literal["fire", "resolve"]


@dataclass(slots=True)
class Status:
    pending_since: float | None = None  # the condition has held since
    firing_since: float | None = None  # the current alert's start; None: not firing
    clearing_since: float | None = None  # firing, and the condition false since
    last_fired: float | None = None  # for the cooldown
    episode: float | None = None  # start of the episode the current alert belongs to

    def to_record(self) -> dict[str, Any]:
        """Only the times that are set: most subjects of most rules are idle, and every state
        is written to a changelog on each change."""
        record = {
            "p": self.pending_since,
            "f": self.firing_since,
            "c": self.clearing_since,
            "l": self.last_fired,
            "e": self.episode,
        }
        return {k: v for k, v in record.items() if v is not None}

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Status:
        if not record:
            return cls()
        return cls(
            record.get("p"), record.get("f"), record.get("c"), record.get("l"), record.get("e")
        )

    @property
    def firing(self) -> bool:
        return self.firing_since is not None

    def observe(
        self,
        holds: bool,
        t: float,
        *,
        hold_s: float,
        cooldown_s: float,
        clear_s: float,
        cleared: bool = True,
    ) -> Transition | None:
        """The condition held (or not) at event time t. Returns what the rule should do.

        `cleared` is the clear condition (hysteresis): a firing alert resolves only when the
        condition is false *and* the clear condition holds, for `clear_s` seconds.
        """
        if holds:
            self.clearing_since = None
            if self.pending_since is None or t < self.pending_since:
                self.pending_since = t
            if self.firing:
                return None
            if t - self.pending_since < hold_s:
                return None
            if self.last_fired is not None and t - self.last_fired < cooldown_s:
                return None
            self.firing_since = t
            self.last_fired = t
            self.episode = self.pending_since
            return "fire"
        self.pending_since = None
        if not self.firing:
            return None
        if not cleared:
            self.clearing_since = None
            return None
        if self.clearing_since is None:
            self.clearing_since = t
        if t - self.clearing_since < clear_s:
            return None
        self.firing_since = None
        self.clearing_since = None
        return "resolve"

    def once(self, t: float, cooldown_s: float) -> bool:
        """A one-shot event (enter, exit, an accident): fire unless within the cooldown."""
        if self.last_fired is not None and 0 <= t - self.last_fired < cooldown_s:
            return False
        self.last_fired = t
        self.episode = t
        return True
