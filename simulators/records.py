"""Recordings: Kafka messages as JSON lines, the format shared by simulate, record and replay.

One message per line, in the order it was (or will be) produced:

    {"topic": "sensors.environment", "key": "st-da-lat-01", "ts": 1763884800000,
     "value": "{\"kind\":\"environment\",…}"}

- `topic` is the logical topic name, without the deployment's topic prefix, so a recording
  made on one cluster replays on another;
- `key` is the message key as text (UTF-8), or null;
- `ts` is the Kafka message timestamp, milliseconds since the epoch (for a simulation: when
  the source sent it, in virtual time); replay paces by it;
- `value` is the message exactly as it travelled, as text; a value that is not UTF-8 (a
  simulated broken message, say) is `value_b64` instead, so every byte survives;
- `partition` and `offset` say where a recorded message was read; absent from simulations.

Lines are written with sorted keys and no spaces, so the same messages give the same bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson


class RecordingError(Exception):
    """A recording line that cannot be read; says which file and line."""


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    ts: int  # Kafka timestamp, ms since the epoch
    partition: int | None = None
    offset: int | None = None

    def to_line(self) -> bytes:
        data: dict[str, Any] = {
            "topic": self.topic,
            "key": None if self.key is None else self.key.decode("utf-8", "surrogateescape"),
            "ts": self.ts,
        }
        try:
            data["value"] = self.value.decode("utf-8")
        except UnicodeDecodeError:
            data["value_b64"] = base64.b64encode(self.value).decode("ascii")
        if self.partition is not None:
            data["partition"] = self.partition
        if self.offset is not None:
            data["offset"] = self.offset
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n"

    @classmethod
    def from_line(cls, line: bytes | str, where: str = "") -> Record:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordingError(f"{where}: not a JSON line ({exc})") from None
        if not isinstance(data, dict):
            raise RecordingError(f"{where}: a recording line is a JSON object")
        try:
            topic = data["topic"]
            ts = data["ts"]
            if "value_b64" in data:
                value = base64.b64decode(data["value_b64"], validate=True)
            else:
                value = str(data["value"]).encode("utf-8")
        except KeyError as exc:
            raise RecordingError(f"{where}: missing {exc.args[0]!r}") from None
        except ValueError as exc:
            raise RecordingError(f"{where}: bad value_b64 ({exc})") from None
        if not isinstance(topic, str) or not topic:
            raise RecordingError(f"{where}: topic must be a non-empty string")
        if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
            raise RecordingError(f"{where}: ts must be milliseconds since the epoch")
        key = data.get("key")
        if key is not None and not isinstance(key, str):
            raise RecordingError(f"{where}: key must be a string or null")
        partition, offset = data.get("partition"), data.get("offset")
        return cls(
            topic=topic,
            key=None if key is None else key.encode("utf-8", "surrogateescape"),
            value=value,
            ts=ts,
            partition=partition if isinstance(partition, int) else None,
            offset=offset if isinstance(offset, int) else None,
        )


def read_records(path: Path) -> Iterator[Record]:
    """Every record of a recording file, in order; blank lines are skipped."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                yield Record.from_line(line, f"{path}:{number}")


def parse_lines(lines: Iterable[bytes], name: str) -> Iterator[Record]:
    """Every record of a recording read from any stream (stdin, say); `name` goes into errors."""
    for number, line in enumerate(lines, 1):
        if line.strip():
            yield Record.from_line(line, f"{name}:{number}")


@dataclass(frozen=True, slots=True)
class RecordingScan:
    count: int
    first_ts: int | None
    max_ts: int | None
    topics: frozenset[str]


def scan_recording(path: Path) -> RecordingScan:
    """Parse a whole recording without keeping it: its size, first and latest timestamps and
    topics, or the RecordingError of its first bad line, before anything is sent."""
    count, first_ts, max_ts, topics = 0, None, None, set()
    for record in read_records(path):
        if first_ts is None:
            first_ts = record.ts
        max_ts = record.ts if max_ts is None else max(max_ts, record.ts)
        count += 1
        topics.add(record.topic)
    return RecordingScan(count, first_ts, max_ts, frozenset(topics))
