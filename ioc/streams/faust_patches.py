"""One correction to Faust 0.15.3's consumer, applied when the app is built.

Faust hands its live set of active partitions to the consumer thread, which reads it while the
event loop changes it: `_set_active_tps` clears the set and then refills it. A fetch that reads
the set in between sees it empty, and aiokafka takes an empty set to mean every partition: it
returns records of partitions that are paused or not yet resumed, which `Consumer.getmany` then
skips without seeking back — the fetch position has moved past them, so they are never read.
A worker restarted after a crash, under load, was seen to stop reading some partitions this
way. The fetch here works on a copy taken once, so what is fetched is what is delivered.
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer

_applied = False


async def _wait_next_records(self: Any, timeout: float) -> tuple[Any, Any]:  # noqa: ASYNC109 (Faust's signature)
    if not self.flow_active:
        await self.wait(self.can_resume_flow)
    try:
        self.not_waiting_next_records.set()
        active: frozenset[Any] | None
        active = None if self.app.client_only else frozenset(self._get_active_partitions())
        records: dict[Any, Any] = {}
        if active is None or active:
            records = await self._getmany(active_partitions=active, timeout=timeout)
        else:
            await self.sleep(1)
        return records, active
    finally:
        self.not_waiting_next_records.set()


def apply() -> None:
    global _applied
    if _applied:
        return
    Consumer._wait_next_records = _wait_next_records  # type: ignore[method-assign]
    _applied = True
