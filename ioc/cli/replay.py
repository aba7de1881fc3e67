"""`ioc replay`: a recording into the broker, paced as recorded, optionally moved in time.

Moving in time (`--shift-to`) shifts every Kafka timestamp and, inside each value that is valid
JSON, the readings' own `ts` (a single reading's, and each of a gateway batch's `readings`),
by the same amount. Only those timestamp strings change; every other byte of the value stays
as it was, and a value that is not JSON or a `ts` that is not a time is left byte-identical:
broken messages are test input, and replay must not mend them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka.errors import KafkaError

from ioc.cli.common import CommandError, connect, create_topics, settings_from
from ioc.cli.progress import Progress, format_count, format_elapsed, format_rate
from ioc.kafka.admin import BrokerUnavailable, ensure_topics
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import TopicSpec, topic_specs
from ioc.schemas.decode import MAX_FUTURE_SKEW
from ioc.settings import Settings
from simulators.publish import BrokerUnreachable, PublishError, publish, wait_for_broker
from simulators.records import Record, RecordingError, parse_lines, scan_recording

HELP = "play a recording into the broker at its recorded pace or faster, optionally moved in time"
DESCRIPTION = """\
Publish the messages of a recording (written by `ioc record` or `ioc simulate --out`) to the
broker, in the recorded order, each with its key and its recorded Kafka timestamp. Messages of
one key keep their order: they go to the key's partition (or, with --keep-partitions, to the
partition they were recorded from).

Pacing:
  (default)     real time: the gaps between messages' timestamps are kept (--speed 1)
  --speed X     X times faster than recorded (0.5: half as fast)
  --max         as fast as the broker takes them

--shift-to now|ISO-TIME moves the whole recording in time so that its first message is at that
time: Kafka timestamps and the readings' `ts` fields inside the values (single readings and
gateway batches) move together, keeping each ts's written form (+07:00 stays +07:00, Z stays
Z). Values that are not JSON, and a `ts` that is not a time, are sent byte-identical. Without
--shift-to, old readings stay old: the pipeline takes late readings (their time windows close
at once) but refuses those more than 5 minutes in the future, so `--shift-to now` goes with
real-time pacing; faster, the later messages would be ahead of the clock (ioc replay warns).

The broker must be running (IOC_BROKER, or `ioc broker`); ioc's topics, and any other topic
the recording names, are created when missing (with IOC_PARTITIONS partitions).
"""

EPILOG = """\
Examples:
  ioc replay morning.jsonl                             as recorded, in real time
  ioc replay morning.jsonl --shift-to now              in real time, as if it happened now
  ioc replay storm.jsonl --speed 60                    an hour of readings per minute
  ioc replay storm.jsonl --max --shift-to 2026-11-22T13:00:00+07:00   at once, yesterday
  ioc simulate --scenario demo --fast --out - | ioc replay - --max --topic-prefix test.

The file format is described in docs/simulators.md ("Record and replay").
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "replay",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the recording ('-': stdin)")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed", type=float, metavar="X", help="X times the recorded pace (default: 1)"
    )
    pace.add_argument(
        "--max", dest="fastest", action="store_true", help="as fast as possible, no pacing"
    )
    p.add_argument(
        "--shift-to",
        metavar="now|ISO-TIME",
        help="move the recording in time so that its first message is then",
    )
    p.add_argument(
        "--topic-prefix", metavar="P", help="prefix of the topics (default: IOC_TOPIC_PREFIX)"
    )
    p.add_argument(
        "--keep-partitions",
        action="store_true",
        help="send each message to the partition it was recorded from, not its key's",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give up when the broker does not answer for S seconds (default: 30)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.set_defaults(run=run)


# --- moving a recording in time -------------------------------------------------------------

# A JSON member `"ts": "…"` written without escapes, as every encoder writes a timestamp.
_TS_MEMBER = re.compile(rb'("ts"\s*:\s*")([^"\\]*)(")')
# The ISO forms a ts is written in: date, separator, time, fraction, offset.
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ])\d{2}:\d{2}(:\d{2})?(?:\.(\d+))?(Z|z|[+-]\d{2}(?::?\d{2})?)"
)


def shift_ts(text: str, delta: timedelta) -> str | None:
    """`text` moved by `delta` in the form it was written in; None if it is not a time with a
    zone (such a ts is left alone)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    moved = when + delta
    form = _ISO.fullmatch(text)
    if form is None:
        # Another ISO form (basic, week date…): still right, in the extended form.
        out = moved.isoformat()
        return out[:-6] + "Z" if text.endswith(("Z", "z")) and out.endswith("+00:00") else out
    sep, seconds, fraction, offset = form.groups()
    fraction = fraction or ""
    micro = f"{moved.microsecond:06d}"
    needed = len(micro.rstrip("0"))  # digits the moved time needs; more if it was written so
    # Python keeps microseconds; digits beyond them are unchanged by a millisecond shift.
    digits = micro + fraction[6:] if len(fraction) > 6 else micro[: max(len(fraction), needed)]
    clock = moved.strftime("%H:%M")
    if seconds or moved.second or digits:
        clock += moved.strftime(":%S")
    if digits:
        clock += "." + digits
    return f"{moved.strftime('%Y-%m-%d')}{sep}{clock}{offset}"


def _reading_ts(data: Any) -> list[str]:
    """The ts strings that shifting concerns: a reading's own, and each batch reading's."""
    found = []
    if isinstance(data, dict):
        if isinstance(data.get("ts"), str):
            found.append(data["ts"])
        readings = data.get("readings")
        if isinstance(readings, list):
            found += [
                r["ts"] for r in readings if isinstance(r, dict) and isinstance(r.get("ts"), str)
            ]
    return found


def shift_value(value: bytes, delta: timedelta) -> bytes:
    """The value with its readings' ts moved by `delta`, every other byte unchanged."""
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    moved = {old: new for old in _reading_ts(data) if (new := shift_ts(old, delta)) is not None}
    if not moved:
        return value
    found: set[str] = set()

    def substitute(match: re.Match[bytes]) -> bytes:
        old = match.group(2).decode("utf-8", "replace")
        if old not in moved:
            return match.group(0)
        found.add(old)
        return match.group(1) + moved[old].encode() + match.group(3)

    out = _TS_MEMBER.sub(substitute, value)
    if found == moved.keys():
        return out
    # A ts written with escapes (\u002b for +) escaped the byte pattern: rewrite the document
    # instead, which is right but may respell other values (1e3 as 1000.0).
    return orjson.dumps(_shift_document(data, moved))


def _shift_document(data: Any, moved: dict[str, str]) -> Any:
    if isinstance(data.get("ts"), str) and data["ts"] in moved:
        data["ts"] = moved[data["ts"]]
    readings = data.get("readings")
    if isinstance(readings, list):
        for reading in readings:
            if isinstance(reading, dict) and isinstance(reading.get("ts"), str):
                reading["ts"] = moved.get(reading["ts"], reading["ts"])
    return data


def shift_record(record: Record, delta_ms: int) -> Record:
    ts = record.ts + delta_ms
    if ts < 0:
        raise RecordingError(
            f"moved by {delta_ms:,} ms, a message of {record.topic} (ts {record.ts}) would be "
            "before 1970"
        )
    return replace(record, ts=ts, value=shift_value(record.value, timedelta(milliseconds=delta_ms)))


def lead_over_clock(
    first_ts: int, max_ts: int, target_ms: int, now_ms: int, speed: float | None
) -> int:
    """How far (ms) the furthest message's moved time will be ahead of the wall clock when it
    is sent: the i-th goes at now + (ts_i - ts_0) / speed, stamped target + (ts_i - ts_0)."""
    slower = 1.0 if speed is None else max(0.0, 1 - 1 / speed)
    return target_ms - now_ms + round((max_ts - first_ts) * slower)


def parse_shift_target(text: str, now: datetime | None = None) -> int:
    """--shift-to as milliseconds since the epoch."""
    if text == "now":
        when = now or datetime.now(UTC)
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--shift-to: {text!r} is not 'now' or an ISO time") from None
        if when.tzinfo is None:
            raise CommandError("--shift-to needs a zone, e.g. 2026-11-23T13:00:00+07:00")
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# --- the command ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    speed = _speed(args)
    target_ms = parse_shift_target(args.shift_to) if args.shift_to is not None else None
    if args.timeout <= 0:
        raise CommandError("--timeout must be positive")
    settings = settings_from(
        args, topic_prefix=args.topic_prefix, broker_ready_timeout=args.timeout
    )
    name = "stdin" if args.file == "-" else args.file
    total: int | None = None
    topics: frozenset[str] = frozenset()
    if args.file != "-":
        path = Path(args.file)
        if not path.is_file():
            raise CommandError(f"recording {path} does not exist")
        try:
            # Read it all first: a bad line is reported before anything is sent.
            scan = scan_recording(path)
        except RecordingError as exc:
            raise CommandError(f"{exc}; nothing was sent") from None
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        total, topics = scan.count, scan.topics
        if target_ms is not None and scan.first_ts is not None and scan.max_ts is not None:
            _warn_if_ahead(scan.first_ts, scan.max_ts, target_ms, speed)
    conn = connect(settings, may_start=False)
    try:
        wait_for_broker(conn.servers, args.timeout)
    except BrokerUnreachable as exc:
        raise CommandError(str(exc)) from None
    create_topics(settings, conn.cluster, administrator=False)
    _create_other_topics(settings, conn.cluster, topics)

    sent = 0

    def records() -> Iterator[Record]:
        nonlocal sent
        source = parse_lines(sys.stdin.buffer, "<stdin>") if args.file == "-" else _read(args.file)
        delta_ms: int | None = None
        for record in source:
            if target_ms is not None:
                if delta_ms is None:
                    delta_ms = target_ms - record.ts
                record = shift_record(record, delta_ms)
            yield record
            sent += 1

    started = time.monotonic()
    try:
        with Progress(total, unit="msgs", label="replay", quiet=args.quiet) as progress:
            summary = publish(
                records(),
                conn.cluster,
                topic_prefix=settings.topic_prefix,
                speed=speed,
                progress=progress,
                connect_timeout=args.timeout,
                keep_partitions=args.keep_partitions,
            )
    except RecordingError as exc:
        raise CommandError(f"{exc} ({format_count(sent)} messages were sent before)") from None
    except PublishError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        _say(f"interrupted: replayed {format_count(sent)} messages from {name}")
        return 130
    elapsed = time.monotonic() - started
    _say(
        f"replayed {format_count(summary.total)} messages ({format_count(summary.bytes)} bytes) "
        f"from {name} in {format_elapsed(elapsed)} ({format_rate(summary.rate, 'msgs')})"
        + ("" if speed is None else f" at {speed:g}x the recorded pace")
    )
    if summary.messages:
        _say(
            "  by topic: "
            + ", ".join(f"{t} {format_count(n)}" for t, n in sorted(summary.messages.items()))
        )
    return 0


def _warn_if_ahead(first_ts: int, max_ts: int, target_ms: int, speed: float | None) -> None:
    now_ms = time.time_ns() // 1_000_000
    lead = lead_over_clock(first_ts, max_ts, target_ms, now_ms, speed)
    if lead > MAX_FUTURE_SKEW // timedelta(milliseconds=1):
        _say(
            f"warning: messages will be up to {format_elapsed(lead / 1000)} ahead of the clock "
            f"when sent, and the pipeline refuses readings more than "
            f"{MAX_FUTURE_SKEW // timedelta(minutes=1)} min in the future; replay at --speed 1 "
            "or --shift-to an earlier time"
        )


def _speed(args: argparse.Namespace) -> float | None:
    if args.fastest:
        return None
    speed = 1.0 if args.speed is None else float(args.speed)
    if not speed > 0:
        raise CommandError("--speed must be positive (use --max for as fast as possible)")
    return speed


def _read(file: str) -> Iterator[Record]:
    with Path(file).open("rb") as lines:
        yield from parse_lines(lines, file)


def _create_other_topics(settings: Settings, cluster: Cluster, topics: frozenset[str]) -> None:
    """Topics of the recording that are not ioc's: created like ioc's, rather than left to a
    broker's auto-creation (absent on most clusters, with other partition counts where not)."""
    known = {spec.name for spec in topic_specs(settings)}
    specs = [
        TopicSpec(settings.topic(t), settings.partitions, replication=settings.replication_factor)
        for t in sorted(topics)
        if settings.topic(t) not in known
    ]
    if not specs:
        return
    try:
        asyncio.run(ensure_topics(cluster, specs))
    except (BrokerUnavailable, KafkaError) as exc:
        raise CommandError(f"cannot create the recording's topics: {exc}") from None


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
