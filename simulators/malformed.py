"""Broken input on purpose: what field devices really send, so the dead-letter path is
exercised by the same tool that feeds the pipeline.

Each broken message yields exactly one dead letter: a message broken as a whole (cut-off JSON,
bytes that are not UTF-8, an unknown kind on a single reading) is refused whole; in a gateway
batch, one reading is broken and the rest of the batch stays good.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson

WHOLE = ("truncated_json", "not_utf8")
PER_READING = (
    "wrong_type",
    "latitude_out_of_range",
    "missing_sensor_id",
    "unknown_kind",
    "naive_timestamp",
    "negative_measurement",
)
# Fields a broken firmware might send as text; the first one a reading has is used.
NUMERIC = ("pm25", "water_level_cm", "vehicle_count", "confidence", "lat")


class Corruptor:
    def __init__(self, rng: random.Random, share: float) -> None:
        self.rng = rng
        self.share = share
        self.kinds: dict[str, int] = {}

    def maybe_break(self, payload: dict[str, Any], *, batched: bool) -> tuple[bytes, int]:
        """The message's bytes, and 1 when it was broken (0 otherwise)."""
        if self.share <= 0 or self.rng.random() >= self.share:
            return orjson.dumps(payload), 0
        how = self.rng.choice(WHOLE + PER_READING)
        self.kinds[how] = self.kinds.get(how, 0) + 1
        if how == "truncated_json":
            whole = orjson.dumps(payload)
            return whole[: self.rng.randint(1, max(1, len(whole) - 2))], 1
        if how == "not_utf8":
            whole = orjson.dumps(payload)
            cut = self.rng.randint(1, max(1, len(whole) - 2))
            return whole[:cut] + b"\xff\xfe" + whole[cut:], 1
        payload = copy.deepcopy(payload)
        reading = (
            payload["readings"][self.rng.randrange(len(payload["readings"]))]
            if batched
            else payload
        )
        _break_reading(reading, how)
        return orjson.dumps(payload), 1


def _break_reading(reading: dict[str, Any], how: str) -> None:
    if how == "wrong_type":
        name = next(n for n in NUMERIC if n in reading)
        reading[name] = str(reading[name])
    elif how == "latitude_out_of_range":
        reading["lat"] = 91.5
    elif how == "missing_sensor_id":
        del reading["sensor_id"]
    elif how == "unknown_kind":
        reading["kind"] = "weather"
    elif how == "naive_timestamp":
        reading["ts"] = reading["ts"][:19]  # the zone offset cut off
    elif how == "negative_measurement":
        for name in ("pm25", "rain_mm_h", "vehicle_count", "confidence"):
            if name in reading:
                reading[name] = -abs(reading[name]) - 1
                return
        reading["lon"] = 181.0
