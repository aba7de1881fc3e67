"""A reading is applied once: the same sensor, time and values seen again is a duplicate.

At-least-once delivery makes them: an MQTT bridge killed between Kafka's acknowledgement and
its own to the MQTT broker gets the message again, and devices resend what they think was
lost. A window that counted the copy would count a vehicle twice or average a PM2.5 value in
twice. What identifies a reading is its time and the digest of all its fields: a reading of the
same time with other values is a correction and is applied.

The state keeps, per sensor, the digests of its DEPTH latest readings (64 bits of CRC-32 and
Adler-32 over the reading's fields, its time among them), as one string of 16-hex-digit
entries. A string, not a list: it is JSON like the rest of the state, and it is not a
container, so the garbage collector never walks it (a list per sensor, for tens of thousands
of sensors, slows every collection), and a lookup is one substring search.

A copy is recognised while its original is among them: a bridge resends what it had in
flight, a device its last few messages. A copy of an older reading is applied again, as a
late reading would be (a window's grace still bounds what it can change).
"""

from __future__ import annotations

import zlib

import orjson

from ioc.schemas.readings import AnyReading

DEPTH = 16
_WIDTH = 16  # hex digits of an entry


def digest(reading: AnyReading) -> str:
    """Of every field, in one orjson call: stable across processes and restarts (a state
    moves between workers), unlike hash(). Two checksums in C cost less than one call of a
    cryptographic hash, and nobody gains by forging a copy of their own reading."""
    fields = orjson.dumps(reading.__dict__)
    return (zlib.crc32(fields) << 32 | zlib.adler32(fields)).to_bytes(8).hex()


def repeated(seen: dict[str, str], reading: AnyReading) -> bool:
    """Whether this reading was applied before (`seen`: the state's digests by sensor); if
    not, it is remembered as applied."""
    entry = digest(reading)
    recent = seen.get(reading.sensor_id)
    if recent is None:
        seen[reading.sensor_id] = entry
        return False
    at = recent.find(entry)
    while at > 0 and at % _WIDTH:  # across two entries: not one of them
        at = recent.find(entry, at + 1)
    if at >= 0:
        return True
    if len(recent) >= _WIDTH * DEPTH:
        recent = recent[_WIDTH:]
    seen[reading.sensor_id] = recent + entry
    return False
