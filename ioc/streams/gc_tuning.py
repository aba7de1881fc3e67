"""The cyclic garbage collector, set for a process that keeps millions of small objects.

A worker's state is plain dicts and lists (an engine record per sensor: a dozen containers
each), so 50 000 sensors are over a million long-lived objects, and a batch of gateway
messages allocates hundreds of thousands more that die with it. At Python's default the
collector runs every 700 allocations, and its older generations walk the long-lived ones: a
third of the readings stage's time in the stage benchmark with 50 000 sensors (figures in
bench/HISTORY.md).

What the worker allocates is freed by reference counting; cycles (aiokafka's and asyncio's
futures and tracebacks) are rare and small, so collecting them less often costs little memory.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000  # allocations between collections of the youngest generation
MIDDLE_THRESHOLD = 50
OLD_THRESHOLD = 100


def tune() -> None:
    """Call once the process has built what it keeps for good (modules, zones, rules): that is
    moved out of the collector's sight (gc.freeze), then the thresholds are raised."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
