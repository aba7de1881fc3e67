"""A reading is applied once: the same sensor, time and values seen again is a duplicate.

At-least-once delivery makes them: an MQTT bridge killed between Kafka's acknowledgement and
its own to the MQTT broker gets the message again, and devices resend what they think was
lost. A window that counted the copy would count a vehicle twice or average a PM2.5 value in
twice. What identifies a reading is its time and the digest of all its fields: a reading of the
same time with other values is a correction and is applied.

The state keeps, per sensor, its DEPTH latest readings in event time, each as its time (in
milliseconds) and a 64-bit digest of its fields (CRC-32 and Adler-32), in one string of
fixed-width hex entries in time order. A string, not a list: it is JSON like the rest of the
state, and it is not a container, so the garbage collector never walks it (a list per sensor,
for tens of thousands of sensors, slows every collection), and a lookup is one substring
search.

Latest in event time, not in arrival: a bridge that was killed gets back from its MQTT broker
everything it had not acknowledged, oldest first, and that can be many of a sensor's
readings (Mosquitto 2.0.11 sends past a client's receive maximum). Kept in arrival order,
the old copies would push the recent readings out and the recent copies, which windows still
take, would pass for new. A reading older than every one kept is not remembered.

A copy is recognised while its original is among them: a bridge resends what it had in
flight, a device its last few messages. A copy of an older reading is applied again, as a
late reading would be (a window's grace still bounds what it can change).
"""

from __future__ import annotations

import zlib

import orjson

from ioc.schemas.readings import AnyReading

DEPTH = 16
_TIME = 11  # hex digits of an entry's time in milliseconds (to the year 2527)
_WIDTH = _TIME + 16  # and of its digest


def digest(reading: AnyReading) -> str:
    """Of every field, in one orjson call: stable across processes and restarts (a state
    moves between workers), unlike hash(). Two checksums in C cost less than one call of a
    cryptographic hash, and nobody gains by forging a copy of their own reading."""
    fields = orjson.dumps(reading.__dict__)
    return (zlib.crc32(fields) << 32 | zlib.adler32(fields)).to_bytes(8).hex()


def entry_of(reading: AnyReading) -> str:
    return f"{round(reading.ts.timestamp() * 1000):0{_TIME}x}{digest(reading)}"


def repeated(seen: dict[str, str], reading: AnyReading) -> bool:
    """Whether this reading was applied before (`seen`: the state's entries by sensor); if
    not, it is remembered as applied."""
    entry = entry_of(reading)
    recent = seen.get(reading.sensor_id)
    if recent is None:
        seen[reading.sensor_id] = entry
        return False
    at = recent.find(entry)
    while at > 0 and at % _WIDTH:  # across two entries: not one of them
        at = recent.find(entry, at + _WIDTH - at % _WIDTH)
    if at >= 0:
        return True
    full = len(recent) >= _WIDTH * DEPTH
    # Entries start with their time in fixed-width hex: as strings they sort as times.
    if entry >= recent[-_WIDTH:]:
        recent += entry  # the usual case: the sensor's newest reading
    elif full and entry < recent[:_WIDTH]:
        return False  # older than every one kept: nothing to make room for it
    else:
        cut = next(n for n in range(0, len(recent), _WIDTH) if recent[n : n + _WIDTH] > entry)
        recent = recent[:cut] + entry + recent[cut:]
    seen[reading.sensor_id] = recent[_WIDTH:] if full else recent
    return False
