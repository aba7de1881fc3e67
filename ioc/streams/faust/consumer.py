"""What /health reads of Faust's consumer: where each stream partition is, and why a stalled
one is not read. Faust keeps no public accessor for either."""

from __future__ import annotations

from typing import Any


def positions(
    consumer: Any, waiting: frozenset[str]
) -> dict[str, tuple[Any, int | None, int | None]]:
    """Per assigned stream partition: (tp, next offset the stream will see, high watermark)."""
    found: dict[str, tuple[Any, int | None, int | None]] = {}
    for tp in consumer.assignment():
        if tp.topic.endswith("-changelog") or tp.topic in waiting:
            # Changelogs are read at recovery only; parked webhooks wait for their time.
            continue
        # Faust keeps no public accessor for these: the last offset read, else the committed one.
        read = consumer._read_offset.get(tp)
        position = read + 1 if read is not None else consumer._committed_offset.get(tp)
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # a partition being revoked has no highwater
            highwater = None
        found[f"{tp.topic}:{tp.partition}"] = (tp, position, highwater)
    return found


def fetch_flags(consumer: Any, tps: list[Any]) -> dict[str, dict[str, Any]]:
    """Why a stalled partition is not read, for whoever is on call: Faust's fetch flags."""
    active = consumer._active_partitions or set()
    return {
        f"{tp.topic}:{tp.partition}": {
            "fetching": tp in active,
            "paused": tp in consumer._paused_partitions,
            "buffer_full": tp in consumer._buffered_partitions,
            "flow_active": bool(consumer.flow_active),
        }
        for tp in tps
    }
