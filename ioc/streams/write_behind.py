"""A batch's messages acknowledged once the state it made is durable, while the next batch is
handled.

The readings stage writes the states a batch changed to their changelog, and a message may
not be acknowledged (its offset committed) before that write is acknowledged by the broker:
a crash in between would lose what the batch did to windows, and the messages would not be
read again. Waiting for the write before taking the next batch kept the event loop idle for
a broker round trip per batch (about a seventh of a worker's time on single readings). Here
the write goes on in the background while the next batch is handled: each message is held
(one more reference, so that Faust's own acknowledgement after the batch does not release it)
until its batch's write is done. Writes run one at a time, in the order of their batches, so
a state never reaches the changelog older than it was. A write that fails leaves its batch's
messages, and every later batch's, unacknowledged, and its error is raised to the next
submission (and logged at once): nothing is committed that is not durable.

A state handled by the next batch while the previous write is in flight may reach the
changelog with that next batch's readings already in it; each state records the offsets it
has applied, so a message read again after a crash is not applied twice whichever write
carried it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger("ioc.streams")


class WriteBehind:
    def __init__(
        self, write: Callable[[], Awaitable[None]], release: Callable[[Any], None]
    ) -> None:
        """`write`: makes what the batches put so far durable, or raises. `release`: gives
        back the reference `submit` took on a message (its acknowledgement)."""
        self._write = write
        self._release = release
        self._writing: asyncio.Future[None] | None = None

    async def submit(self, messages: Sequence[Any]) -> None:
        """Hold the batch's messages and start writing what it put, after the previous
        batch's write; returns at once. Raises the previous write's error, if it failed."""
        previous = self._writing
        if previous is not None and previous.done():
            self._writing = None
            previous.result()
        for message in messages:
            message.incref()
        writing = asyncio.ensure_future(self._write_then_release(previous, list(messages)))
        writing.add_done_callback(_retrieve)
        self._writing = writing

    async def wait(self) -> None:
        """Wait for the write in flight, if any; raises its error."""
        if self._writing is not None:
            await asyncio.shield(self._writing)

    async def _write_then_release(
        self, previous: asyncio.Future[None] | None, messages: list[Any]
    ) -> None:
        if previous is not None:
            await previous  # one at a time, in order; if it failed, this batch is not released
        try:
            await self._write()
        except Exception:
            log.exception(
                "the readings state could not be written to its changelog; its batch and the "
                "later ones are not acknowledged"
            )
            raise
        for message in messages:
            self._release(message)


def _retrieve(writing: asyncio.Future[None]) -> None:
    # A failure is raised to the next submission (logged where it happened), not reported
    # again by asyncio as never retrieved while the worker waits for one.
    if not writing.cancelled():
        writing.exception()
