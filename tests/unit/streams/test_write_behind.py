"""A batch's messages are acknowledged only once its state is written, writes go one at a time
in order, and the next batch is handled meanwhile (ioc/streams/write_behind.py)."""

from __future__ import annotations

import asyncio

import pytest

from ioc.streams.write_behind import WriteBehind


class _Message:
    """What WriteBehind uses of a Faust message: its reference count."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.refcount = 1  # the stream's reference, released by Faust after the batch

    def incref(self) -> None:
        self.refcount += 1


class _Writes:
    """A changelog whose writes the test completes (or fails) one by one."""

    def __init__(self) -> None:
        self.started: list[asyncio.Future[None]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def write(self) -> None:
        done = asyncio.get_running_loop().create_future()
        self.started.append(done)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await done
        finally:
            self.in_flight -= 1


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _released(log: list[str]) -> tuple[list[str], object]:
    def release(message: _Message) -> None:
        message.refcount -= 1
        log.append(message.name)

    return log, release


def test_a_batch_is_released_only_once_its_write_is_done_and_the_next_is_handled_meanwhile() -> (
    None
):
    async def main() -> None:
        writes = _Writes()
        released, release = _released([])
        behind = WriteBehind(writes.write, release)  # type: ignore[arg-type]
        first = [_Message("a1"), _Message("a2")]
        await behind.submit(first)  # returns at once: the write goes on
        await _turns()
        assert len(writes.started) == 1
        assert [m.refcount for m in first] == [2, 2]  # held beyond the stream's reference
        assert released == []
        await behind.submit([_Message("b1")])  # the next batch, handled while a1/a2 are written
        await _turns()
        assert len(writes.started) == 1  # one write at a time
        writes.started[0].set_result(None)
        await _turns()
        assert released == ["a1", "a2"]
        assert len(writes.started) == 2
        writes.started[1].set_result(None)
        await behind.wait()
        assert released == ["a1", "a2", "b1"]
        assert writes.most_in_flight == 1

    asyncio.run(main())


def test_a_failed_write_releases_nothing_after_it_and_fails_the_next_submission() -> None:
    async def main() -> None:
        writes = _Writes()
        released, release = _released([])
        behind = WriteBehind(writes.write, release)  # type: ignore[arg-type]
        await behind.submit([_Message("a1")])
        await behind.submit([_Message("b1")])
        await _turns()
        writes.started[0].set_exception(ConnectionError("broker gone"))
        await _turns()
        assert released == []
        assert len(writes.started) == 1  # the later batch's write is not attempted
        with pytest.raises(ConnectionError, match="broker gone"):
            await behind.submit([_Message("c1")])
        assert released == []

    asyncio.run(main())


def test_a_failed_write_is_logged_at_once_and_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        writes = _Writes()
        _, release = _released([])
        behind = WriteBehind(writes.write, release)  # type: ignore[arg-type]
        await behind.submit([_Message("a1")])
        await behind.submit([_Message("b1")])  # waits on a1's write, fails with it
        await _turns()
        writes.started[0].set_exception(ConnectionError("broker gone"))
        with pytest.raises(ConnectionError):
            await behind.wait()

    with caplog.at_level("ERROR", logger="ioc.streams"):
        asyncio.run(main())
    assert caplog.text.count("not acknowledged") == 1
