"""paho-mqtt's client, reading its socket in large chunks instead of byte by byte.

paho reads a packet with at least three `recv` calls (the command byte, each byte of the
remaining length, then the rest), and after each packet goes back to `select`: four or five
system calls for every message a device sends, which made paho itself the bridge's ceiling
(bench/bridge.py). This client reads up to 64 KiB at a time and hands paho's packet reader
slices of it, then lets paho read again while whole packets are left in that buffer (the
socket would not wake `select` for them: they were already read from it).

It overrides two of paho's private methods, `_sock_recv` and the loop's `loop_read`, and
reads a message's raw topic: the only place in `ioc` that touches paho's privates.
tests/integration/bridge/test_paho.py checks their behaviour against paho's own parser, and
`paho-mqtt` is pinned below its next major version in pyproject.toml; revisit this module
when upgrading it.
"""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

CHUNK = 65_536


class BufferedClient(paho.Client):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._at = 0
        self._chunk_of: object = None  # the socket the chunk was read from

    def _sock_recv(self, bufsize: int) -> bytes:
        sock = self._sock
        if self._chunk_of is not sock or self._at >= len(self._chunk):
            # May raise BlockingIOError, as paho expects when nothing is there.
            data = super()._sock_recv(CHUNK)
            if not data:
                return data  # the connection closed
            self._chunk, self._at, self._chunk_of = data, 0, sock
        at = self._at
        piece = self._chunk[at : at + bufsize]
        self._at = at + len(piece)
        return piece

    def buffered(self) -> int:
        """Bytes read from the socket that paho has not parsed yet."""
        return len(self._chunk) - self._at if self._chunk_of is self._sock else 0

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self.buffered():
            rc = super().loop_read(max_packets)
        return rc


def shown_topic(message: paho.MQTTMessage) -> str:
    """The message's topic; one that is not UTF-8 (a device's bug) with its bad bytes
    replaced, to be shown in the dead letter: paho's `topic` raises on it."""
    try:
        return message.topic
    except UnicodeDecodeError:
        raw: bytes = message._topic
        return raw.decode("utf-8", "replace")
