"""`ioc record` and `ioc replay`: recordings through a real broker, moving them in time, pacing
on a fake clock, and clear errors (unreachable broker, unknown topic, bad recording lines)."""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka.errors import NotLeaderForPartitionError

from ioc.cli.common import CommandError
from ioc.cli.progress import Progress
from ioc.cli.replay import (
    lead_over_clock,
    parse_shift_target,
    shift_record,
    shift_ts,
    shift_value,
)
from ioc.kafka.admin import ensure_topics, list_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import SENSOR_TOPICS, TopicSpec
from ioc.ports import free_port
from simulators.publish import PublishError, pace, publish
from simulators.record import Recorder
from simulators.records import Record
from tests.harness.kafka import Kafka
from tests.harness.processes import IOC
from tests.harness.servers import BrokerUnderTest, on_both_brokers
from tests.harness.waiting import wait_for

T0 = 1_763_877_600_000  # 2025-11-23T06:00:00Z, ms
HOUR = timedelta(hours=1)


# --- moving a recording in time (no broker) ---------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("2026-11-23T13:00:00+07:00", "2026-11-23T14:00:00+07:00"),
        ("2026-11-23T06:00:00Z", "2026-11-23T07:00:00Z"),
        ("2026-11-23T06:00:00.250Z", "2026-11-23T07:00:00.250Z"),
        ("2026-11-23T06:00:00.5-03:30", "2026-11-23T07:00:00.5-03:30"),
        ("2026-11-23T13:00:00.123456789+0700", "2026-11-23T14:00:00.123456789+0700"),
        ("2026-11-23 23:30+07:00", "2026-11-24 00:30+07:00"),
    ],
)
def test_shift_ts_keeps_the_form_it_was_written_in(before: str, after: str) -> None:
    assert shift_ts(before, HOUR) == after


def test_shift_ts_adds_the_digits_a_millisecond_shift_needs() -> None:
    assert shift_ts("2026-11-23T13:00:00+07:00", timedelta(milliseconds=1500)) == (
        "2026-11-23T13:00:01.5+07:00"
    )


@pytest.mark.parametrize("text", ["2026-11-23T13:00:00", "yesterday", "", "2026-13-45T00:00Z"])
def test_shift_ts_leaves_what_is_not_a_zoned_time(text: str) -> None:
    assert shift_ts(text, HOUR) is None


def test_shift_value_moves_a_single_readings_ts_and_nothing_else() -> None:
    value = b'{"kind":"environment", "ts":"2026-11-23T13:00:00+07:00","pm25":1e1,"note":"ts"}'
    assert shift_value(value, HOUR) == (
        b'{"kind":"environment", "ts":"2026-11-23T14:00:00+07:00","pm25":1e1,"note":"ts"}'
    )


def test_shift_value_moves_each_reading_of_a_batch_and_leaves_broken_ts_alone() -> None:
    value = (
        b'{"source_id":"gw-1","readings":['
        b'{"kind":"traffic","ts":"2026-11-23T06:00:00Z"},'
        b'{"kind":"traffic","ts":"not a time"},'
        b'{"kind":"traffic","ts":"2026-11-23T13:00:05+07:00"},'
        b'{"kind":"traffic","ts":12}]}'
    )
    assert shift_value(value, -HOUR) == (
        b'{"source_id":"gw-1","readings":['
        b'{"kind":"traffic","ts":"2026-11-23T05:00:00Z"},'
        b'{"kind":"traffic","ts":"not a time"},'
        b'{"kind":"traffic","ts":"2026-11-23T12:00:05+07:00"},'
        b'{"kind":"traffic","ts":12}]}'
    )


@pytest.mark.parametrize(
    "value",
    [
        b'{"kind":"traffic","ts":"2026-11-23T13:00:00+07:00"',  # truncated
        b"\xff\xfe not even text",
        b'{"kind":"traffic","ts":"2026-11-23T13:00:00"}',  # no zone
        b'["ts", "2026-11-23T13:00:00+07:00"]',
        b"",
    ],
)
def test_shift_value_leaves_broken_values_byte_identical(value: bytes) -> None:
    assert shift_value(value, HOUR) == value


def test_shift_value_rewrites_a_ts_written_with_escapes() -> None:
    value = b'{"ts":"2026-11-23T13:00:00\\u002b07:00","x":1}'
    assert orjson.loads(shift_value(value, HOUR)) == {"ts": "2026-11-23T14:00:00+07:00", "x": 1}


def test_shift_record_moves_the_kafka_timestamp_with_the_value() -> None:
    record = Record("sensors.camera", b"cam-1", b'{"ts":"2025-11-23T06:00:00Z"}', T0, 2, 17)
    moved = shift_record(record, 3_600_000)
    assert moved == Record(
        "sensors.camera", b"cam-1", b'{"ts":"2025-11-23T07:00:00Z"}', T0 + 3_600_000, 2, 17
    )


@pytest.mark.parametrize(
    ("speed", "lead_ms"), [(1.0, 0), (0.5, 0), (2.0, 1_800_000), (None, 3_600_000)]
)
def test_lead_over_clock_of_a_recording_moved_to_now(speed: float | None, lead_ms: int) -> None:
    # An hour-long recording whose first message is moved to now: the last one is sent at
    # now + 1 h / speed, stamped now + 1 h.
    now = T0 + 10**9
    assert lead_over_clock(T0, T0 + 3_600_000, now, now, speed) == lead_ms


def test_shift_target_is_now_or_a_zoned_iso_time() -> None:
    now = datetime(2026, 11, 23, 6, 0, 0, 250_000, tzinfo=UTC)
    assert parse_shift_target("now", now) == 1_795_413_600_250
    assert parse_shift_target("2026-11-23T13:00:00+07:00") == 1_795_413_600_000
    with pytest.raises(CommandError, match="needs a zone"):
        parse_shift_target("2026-11-23T13:00:00")


# --- pacing and publishing on a fake clock (no broker) -----------------------------------------


class FakeClock:
    """Time moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def _records(ts: Iterable[int], topic: str = "sensors.traffic") -> list[Record]:
    return [Record(topic, f"k{i % 3}".encode(), f"v{i}".encode(), t) for i, t in enumerate(ts)]


def test_pace_sends_each_record_at_its_scaled_time() -> None:
    clock = FakeClock()
    ticks: list[float] = []
    sent_at = [
        clock.now
        for _ in pace(
            _records([T0, T0 + 1000, T0 + 1500, T0 + 1200, T0 + 4000]),
            2.0,
            clock=clock,
            sleep=clock.sleep,
            tick=lambda: ticks.append(clock.now),
        )
    ]
    # Half the recorded gaps; the record whose ts went backwards goes at once.
    assert [t - 500.0 for t in sent_at] == [0.0, 0.5, 0.75, 0.75, 2.0]
    # The 1.25 s wait is cut in slices so that the progress line stays alive.
    assert clock.sleeps == [0.5, 0.25, 1.0, 0.25]
    assert len(ticks) == len(clock.sleeps)


def test_pace_without_speed_never_sleeps() -> None:
    clock = FakeClock()
    out = list(pace(_records([T0, T0 + 60_000]), None, clock=clock, sleep=clock.sleep))
    assert len(out) == 2
    assert clock.sleeps == []


class FakeFuture:
    def __init__(self) -> None:
        self.errbacks: list[Callable[[BaseException], Any]] = []

    def add_errback(self, f: Callable[..., Any], *args: Any) -> FakeFuture:
        self.errbacks.append(lambda exc: f(*args, exc))
        return self


class FakeProducer:
    """Records what is sent and when; fails the topics it is told to, at flush time as the
    real producer's I/O thread would."""

    def __init__(self, clock: FakeClock, partitions: int = 3, failing: str = "") -> None:
        self.clock = clock
        self.partitions = partitions
        self.failing = failing
        self.sent: list[tuple[float, str, bytes | None, bytes, int | None, int | None]] = []
        self.pending: list[tuple[str, FakeFuture]] = []
        self.closed = False

    def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Any = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FakeFuture:
        assert value is not None
        self.sent.append((self.clock.now, topic, key, value, partition, timestamp_ms))
        future = FakeFuture()
        self.pending.append((topic, future))
        return future

    def partitions_for(self, topic: str) -> set[int]:
        return set(range(self.partitions))

    def flush(self, timeout: float | None = None) -> None:
        assert timeout is not None, "an unbounded flush can hang"
        for topic, future in self.pending:
            if topic == self.failing:
                for errback in future.errbacks:
                    errback(NotLeaderForPartitionError("leader moved"))
        self.pending.clear()

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


def test_publish_sends_in_order_with_keys_timestamps_and_prefix_paced_by_the_clock() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock)
    records = _records([T0, T0 + 2000, T0 + 3000])
    progress = Progress(3, quiet=True, clock=clock)
    summary = publish(
        records,
        Cluster.at("127.0.0.1:9"),
        topic_prefix="lamdong.",
        speed=1.0,
        progress=progress,
        clock=clock,
        sleep=clock.sleep,
        producer_factory=lambda left: producer,
    )
    assert [(t - 500.0, *rest) for t, *rest in producer.sent] == [
        (0.0, "lamdong.sensors.traffic", b"k0", b"v0", None, T0),
        (2.0, "lamdong.sensors.traffic", b"k1", b"v1", None, T0 + 2000),
        (3.0, "lamdong.sensors.traffic", b"k2", b"v2", None, T0 + 3000),
    ]
    assert summary.messages == {"lamdong.sensors.traffic": 3}
    assert summary.bytes == 12
    assert summary.elapsed == 3.0
    assert summary.rate == 1.0
    assert progress.count == 3
    assert producer.closed


def test_publish_reports_undelivered_messages_by_topic_and_closes() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, failing="sensors.camera")
    records = _records([T0] * 2, "sensors.traffic") + _records([T0] * 3, "sensors.camera")
    with pytest.raises(PublishError) as failure:
        publish(records, Cluster.at("x:1"), clock=clock, producer_factory=lambda left: producer)
    assert str(failure.value) == (
        "3 message(s) to sensors.camera not delivered "
        "([Error 6] NotLeaderForPartitionError: leader moved)"
    )
    assert producer.closed


def test_keep_partitions_sends_to_the_recorded_partition_and_refuses_a_missing_one() -> None:
    clock = FakeClock()
    producer = FakeProducer(clock, partitions=3)
    kept = [Record("sensors.camera", b"c", b"v", T0, partition=p) for p in (2, 0)]
    publish(
        [*kept, Record("sensors.camera", b"c", b"v", T0)],
        Cluster.at("x:1"),
        keep_partitions=True,
        clock=clock,
        producer_factory=lambda left: producer,
    )
    assert [sent[4] for sent in producer.sent] == [2, 0, None]
    with pytest.raises(PublishError, match=r"partition 5 of sensors.camera, which has 3"):
        publish(
            [Record("sensors.camera", b"c", b"v", T0, partition=5)],
            Cluster.at("x:1"),
            keep_partitions=True,
            clock=clock,
            producer_factory=lambda left: FakeProducer(clock, partitions=3),
        )


# --- an unreachable broker: a clear error, within the timeout ---------------------------------


def test_publish_to_an_unreachable_broker_fails_clearly_within_the_timeout() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(PublishError) as failure:
        publish(_records([T0]), Cluster.at(f"127.0.0.1:{port}"), connect_timeout=1.5)
    assert time.monotonic() - started < 5
    assert str(failure.value) == (
        f"broker kafka://127.0.0.1:{port} unreachable after 1.5 s: Connection refused; "
        "is it running? set IOC_BROKER or start `ioc broker`"
    )


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    """An `ioc` environment whose broker address has nobody listening."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update(IOC_BROKER=f"kafka://127.0.0.1:{free_port()}", IOC_DATA_DIR=str(tmp_path / "d"))
    return env


def _ioc(
    env: dict[str, str], *args: str, stdin: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    # A timeout here turns a hang into a failure instead of a stuck test run.
    return subprocess.run(
        [*IOC, *args], env=env, input=stdin, capture_output=True, timeout=timeout, check=False
    )


@pytest.mark.parametrize("command", ["record", "replay"])
def test_commands_fail_clearly_on_an_unreachable_broker(
    command: str, offline_env: dict[str, str], tmp_path: Path
) -> None:
    recording = tmp_path / "in.jsonl"
    recording.write_bytes(_records([T0])[0].to_line())
    args = ["--out", str(tmp_path / "out.jsonl")] if command == "record" else [str(recording)]
    started = time.monotonic()
    result = _ioc(offline_env, command, *args, "--timeout", "1")
    assert time.monotonic() - started < 15  # the interpreter's start-up, and 1 s of retrying
    assert result.returncode == 1
    port = offline_env["IOC_BROKER"].rpartition(":")[2]
    assert (
        f"ioc {command}: error: broker kafka://127.0.0.1:{port} unreachable after 1 s: "
        "Connection refused; is it running? set IOC_BROKER or start `ioc broker`"
    ) in result.stderr.decode()
    assert not (tmp_path / "out.jsonl").exists()


def test_replay_of_a_missing_file_or_a_bad_line_says_where(
    offline_env: dict[str, str], tmp_path: Path
) -> None:
    missing = _ioc(offline_env, "replay", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1
    assert f"recording {tmp_path / 'nope.jsonl'} does not exist" in missing.stderr.decode()

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(_records([T0])[0].to_line() + b"\n" + b'{"topic": "sensors.camera"}\n')
    # Checked before the broker is even looked for: this broker is unreachable.
    result = _ioc(offline_env, "replay", str(bad))
    assert result.returncode == 1
    assert f"{bad}:3: missing 'ts'; nothing was sent" in result.stderr.decode()


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        ("record", ["--from-now", "--follow", "--out -", "consumer group", "Examples:"]),
        ("replay", ["--shift-to now", "--speed", "--max", "+07:00", "byte-identical", "Examples:"]),
    ],
)
def test_help_teaches(command: str, phrases: list[str]) -> None:
    result = subprocess.run([*IOC, command, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    for phrase in phrases:
        assert phrase in result.stdout, f"`ioc {command} --help` should mention {phrase!r}"


# --- through the real broker ------------------------------------------------------------------


def _prefix() -> str:
    return f"rr{uuid.uuid4().hex[:8]}."


def _create(broker: BrokerUnderTest, prefix: str, partitions: int = 3) -> None:
    specs = [TopicSpec(prefix + t, partitions) for t in SENSOR_TOPICS]
    asyncio.run(ensure_topics(broker.cluster, specs))


def _source() -> list[Record]:
    """Readings of several sources on two topics, published in this order. `st-back` sends
    timestamps that go backwards (a clock fix), and one value is not UTF-8 at all."""
    out = []
    for i in range(40):
        key = f"st-{i % 5}"
        ts = T0 + i * 1000
        reading = {"kind": "environment", "sensor_id": f"{key}-aq", "ts": _iso(ts), "pm25": i}
        out.append(Record("sensors.environment", key.encode(), orjson.dumps(reading), ts))
    for i in range(6):
        ts = T0 + 60_000 - i * 5000
        out.append(
            Record("sensors.traffic", b"st-back", orjson.dumps({"ts": _iso(ts), "i": i}), ts)
        )
    out.append(Record("sensors.traffic", b"gw-broken", b"\xff\x00 not json", T0 + 7))
    return out


def _iso(ms: int) -> str:
    when = datetime.fromtimestamp(ms / 1000, UTC).astimezone(timezone(timedelta(hours=7)))
    return when.isoformat(timespec="seconds")


def _by_key(records: Iterable[Record]) -> dict[tuple[str, bytes | None], list[tuple[bytes, int]]]:
    grouped: dict[tuple[str, bytes | None], list[tuple[bytes, int]]] = defaultdict(list)
    for r in records:
        grouped[(r.topic, r.key)].append((r.value, r.ts))
    return dict(grouped)


def _record(broker: BrokerUnderTest, prefix: str, **options: Any) -> tuple[list[Record], Progress]:
    progress = Progress(None, quiet=True)
    with Recorder(
        broker.cluster, SENSOR_TOPICS, topic_prefix=prefix, progress=progress, **options
    ) as recorder:
        return list(recorder.records()), progress


def _read(data: bytes) -> list[Record]:
    return [Record.from_line(line) for line in data.splitlines() if line.strip()]


def _assert_merge_order(records: list[Record]) -> None:
    """Each record is the smallest (ts, topic, partition, offset) among the next unwritten
    record of every partition: partitions merged by time, each in its own order."""
    queues: dict[tuple[str, int | None], list[Record]] = defaultdict(list)
    for r in records:
        queues[(r.topic, r.partition)].append(r)
    for partition in queues.values():
        offsets = [r.offset for r in partition]
        assert offsets == sorted(offsets)
    heads = {k: 0 for k in queues}
    for r in records:
        candidates = [queues[k][i] for k, i in heads.items() if i < len(queues[k])]
        assert r == min(candidates, key=lambda c: (c.ts, c.topic, c.partition, c.offset))
        heads[(r.topic, r.partition)] += 1


@pytest.mark.integration
@on_both_brokers
def test_record_then_replay_gives_the_same_messages_in_the_same_order_per_key(
    any_broker: BrokerUnderTest, ioc_env: dict[str, str], tmp_path: Path
) -> None:
    source, first, second = _prefix(), _prefix(), _prefix()
    _create(any_broker, source)
    publish(_source(), any_broker.cluster, topic_prefix=source, connect_timeout=10)

    out = tmp_path / "rec.jsonl"
    result = _ioc({**ioc_env, "IOC_TOPIC_PREFIX": source}, "record", "--out", str(out))
    assert result.returncode == 0, result.stderr.decode()
    summary = result.stderr.decode()
    assert f"recorded 47 messages to {out}" in summary
    assert "by topic: sensors.environment 40, sensors.traffic 7" in summary

    recorded = _read(out.read_bytes())
    assert _by_key(recorded) == _by_key(_source())
    assert all(r.partition is not None and r.offset is not None for r in recorded)
    _assert_merge_order(recorded)
    # The same topics give the same bytes; the progress total learned the true ends.
    again, progress = _record(any_broker, source)
    assert b"".join(r.to_line() for r in again) == out.read_bytes()
    assert progress.total == progress.count == 47

    result = _ioc(ioc_env, "replay", str(out), "--max", "--topic-prefix", first)
    assert result.returncode == 0, result.stderr.decode()
    assert "replayed 47 messages" in result.stderr.decode()
    replayed, _ = _record(any_broker, first)
    assert _by_key(replayed) == _by_key(_source())

    # From stdin, moved in time: Kafka timestamps and readings' ts move together. Into the
    # past: Apache Kafka 4 refuses timestamps more than an hour ahead of its clock.
    target = "2025-01-01T00:00:00+07:00"
    result = _ioc(
        ioc_env,
        "replay",
        "-",
        "--max",
        "--shift-to",
        target,
        "--topic-prefix",
        second,
        stdin=out.read_bytes(),
    )
    assert result.returncode == 0, result.stderr.decode()
    shifted, _ = _record(any_broker, second)
    delta = parse_shift_target(target) - recorded[0].ts
    assert min(r.ts for r in shifted) == parse_shift_target(target)
    assert _by_key(shifted) == _by_key(shift_record(r, delta) for r in _source())
    assert b"\xff\x00 not json" in {r.value for r in shifted}


@pytest.mark.integration
@on_both_brokers
def test_keep_partitions_puts_messages_where_the_recording_says(
    any_broker: BrokerUnderTest,
) -> None:
    prefix = _prefix()
    _create(any_broker, prefix)
    moved = [
        Record(r.topic, r.key, r.value, r.ts, partition=2 if r.key == b"st-1" else 0)
        for r in _source()
    ]
    publish(moved, any_broker.cluster, topic_prefix=prefix, keep_partitions=True)
    recorded, _ = _record(any_broker, prefix)
    assert {(r.key, r.partition) for r in recorded} == {(r.key, r.partition) for r in moved}


@pytest.mark.integration
@on_both_brokers
def test_record_of_an_unknown_topic_names_the_existing_ones_and_creates_nothing(
    any_broker: BrokerUnderTest, ioc_env: dict[str, str], tmp_path: Path
) -> None:
    prefix = _prefix()
    _create(any_broker, prefix)
    out = tmp_path / "never.jsonl"
    env = {**ioc_env, "IOC_TOPIC_PREFIX": prefix}
    result = _ioc(env, "record", "--topics", "sensors.camera,sensors.trafic", "--out", str(out))
    assert result.returncode == 1
    assert (
        f"ioc record: error: no such topic: sensors.trafic ({prefix}sensors.trafic); topics "
        f"with the prefix '{prefix}': sensors.camera, sensors.environment, sensors.traffic"
    ) in result.stderr.decode()
    assert not out.exists()
    assert f"{prefix}sensors.trafic" not in asyncio.run(list_topics(any_broker.cluster))


@pytest.mark.integration
@on_both_brokers
def test_record_from_now_takes_only_new_messages_until_max(
    any_broker: BrokerUnderTest, kafka: Kafka, ioc_env: dict[str, str]
) -> None:
    prefix = _prefix()
    _create(any_broker, prefix, partitions=1)
    topic = f"{prefix}sensors.camera"
    # One batch of old messages, the last before the recorder starts: a broker that answers
    # ListOffsets with the last batch's first offset + 1 (Tansu) lets a careless recorder
    # start inside it.
    old = [Record("sensors.camera", b"cam", f"old-{i}".encode(), T0 + i) for i in range(5)]
    publish(old, any_broker.cluster, topic_prefix=prefix)
    proc = subprocess.Popen(
        [*IOC, "record", "--topics", "sensors.camera", "--from-now", "--max", "3", "--out", "-"],
        env={**ioc_env, "IOC_TOPIC_PREFIX": prefix},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[bytes] = queue.Queue()

    def read_stderr() -> None:
        for line in proc.stderr or ():
            lines.put(line)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    counter = itertools.count()
    try:
        ready = lines.get(timeout=30)
        assert b"from now on; Ctrl-C stops" in ready, ready
        wait_for(
            lambda: (
                kafka.produce(topic, [(b"cam", f"new-{next(counter)}".encode())])
                or proc.poll() is not None
            ),
            timeout=60,
            what="ioc record --from-now --max 3 to finish",
        )
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join()
    assert proc.returncode == 0, b"".join(lines.queue).decode()
    values = [r.value.decode() for r in _read(stdout)]
    assert values == ["new-0", "new-1", "new-2"]


@pytest.mark.integration
@on_both_brokers
def test_follow_records_what_exists_then_what_arrives(any_broker: BrokerUnderTest) -> None:
    prefix = _prefix()
    _create(any_broker, prefix)
    before = _records([T0 + i for i in range(10)])
    after = _records([T0 + 100 + i for i in range(4)], "sensors.camera")
    publish(before, any_broker.cluster, topic_prefix=prefix)
    with Recorder(
        any_broker.cluster, SENSOR_TOPICS, topic_prefix=prefix, follow=True, max_messages=14
    ) as recorder:
        stream = recorder.records()
        existing = list(itertools.islice(stream, 10))
        publish(after, any_broker.cluster, topic_prefix=prefix)
        arrived = list(stream)
    assert _by_key(existing) == _by_key(before)
    assert _by_key(arrived) == _by_key(after)
