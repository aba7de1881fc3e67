from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ioc.streams.health import ProgressTracker, health_report


def test_a_partition_with_lag_and_no_progress_stalls() -> None:
    tracker = ProgressTracker(stall_after=60)
    assert tracker.observe({"t:0": (10, 50)}, now=0) == []
    assert tracker.observe({"t:0": (10, 60)}, now=59) == []
    assert tracker.observe({"t:0": (10, 60)}, now=61) == ["t:0"]
    assert tracker.report()["t:0"] == {"position": 10, "highwater": 60, "lag": 50}


def test_progress_resets_the_clock() -> None:
    tracker = ProgressTracker(stall_after=60)
    tracker.observe({"t:0": (10, 50)}, now=0)
    assert tracker.observe({"t:0": (11, 50)}, now=61) == []
    assert tracker.observe({"t:0": (11, 50)}, now=100) == []
    assert tracker.observe({"t:0": (11, 50)}, now=122) == ["t:0"]


def test_an_idle_partition_without_lag_never_stalls() -> None:
    tracker = ProgressTracker(stall_after=1)
    tracker.observe({"t:0": (50, 50), "t:1": (None, 0)}, now=0)
    assert tracker.observe({"t:0": (50, 50), "t:1": (None, 0)}, now=1000) == []


def test_revoked_partitions_are_forgotten() -> None:
    tracker = ProgressTracker(stall_after=1)
    tracker.observe({"t:0": (1, 9), "t:1": (1, 9)}, now=0)
    assert tracker.observe({"t:1": (1, 9)}, now=5) == ["t:1"]
    assert set(tracker.report()) == {"t:1"}


def _joined_app() -> Any:
    """What health_report reads of a Faust app that has joined, recovered and reads nothing."""
    completed = SimpleNamespace(is_set=lambda: True)
    consumer = SimpleNamespace(
        assignment=lambda: set(), _read_offset={}, _committed_offset={}, highwater=lambda tp: 0
    )
    return SimpleNamespace(
        started=True,
        consumer=consumer,
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)),
        rebalancing=False,
    )


def test_a_joined_worker_is_not_ready_until_its_rule_set_is_read() -> None:
    # Its stages wait for the rules topic: a producer told "ready" before would see its first
    # messages wait (about a second, on the embedded broker).
    tracker = ProgressTracker(stall_after=60)
    payload, ok = health_report(_joined_app(), tracker, rules_ready=False)
    assert (payload, ok) == ({"status": "loading_rules"}, False)
    payload, ok = health_report(_joined_app(), tracker, rules_ready=True)
    assert (payload["status"], ok) == ("ok", True)
