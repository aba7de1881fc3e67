"""`ioc record`: Kafka topics into a recording file, for `ioc replay`, tests and bug reports."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from ioc.cli.common import CommandError, connect, say, settings_from
from ioc.cli.progress import Progress, format_count, format_rate
from ioc.kafka.topics import SENSOR_TOPICS
from simulators.record import Recorder, RecordError

HELP = "record topics into a file (JSON lines) that `ioc replay` plays back"
DESCRIPTION = f"""\
Read Kafka topics and write their messages to a recording: one JSON line per message, with
its topic, key, value (exact bytes), Kafka timestamp, partition and offset.

Topics are named without the deployment's prefix (IOC_TOPIC_PREFIX is added), so a recording
made on one cluster replays on another. By default the three sensor topics
({", ".join(SENSOR_TOPICS)}) are read from their
beginning up to where they ended when the recording started. Messages of different
partitions are merged by timestamp, then topic, partition and offset, so the same topics
always give the same file; each partition's (each key's) messages stay in their order.

No consumer group is used: recording commits nothing and disturbs no worker. The broker must be
running already (IOC_BROKER, or `ioc broker`); `ioc record` never starts one.
"""

EPILOG = """\
Examples:
  ioc record --out morning.jsonl                      the sensor topics as they are now
  ioc record --topics ioc.alerts,ioc.incidents --out alerts.jsonl
  ioc record --from-now --max 1000 --out sample.jsonl  the next 1 000 sensor messages
  ioc record --follow --out live.jsonl                everything so far, then live until Ctrl-C
  ioc record --topics sensors.camera --out - | head   to stdout

The file format is described in docs/simulators.md ("Record and replay"); `ioc replay FILE`
plays it.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "record",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--topics",
        default=",".join(SENSOR_TOPICS),
        metavar="T1,T2",
        help="topics to record, comma separated, without the prefix (default: the sensor topics)",
    )
    p.add_argument(
        "--out", required=True, metavar="FILE", help="the recording to write ('-': stdout)"
    )
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--from-beginning",
        dest="from_now",
        action="store_false",
        help="start at the oldest message still kept (the default)",
    )
    start.add_argument(
        "--from-now",
        dest="from_now",
        action="store_true",
        help="record only messages that arrive from now on (implies --follow)",
    )
    p.add_argument(
        "--follow",
        action="store_true",
        help="after the existing messages, keep recording new ones until Ctrl-C or --max",
    )
    p.add_argument("--max", type=int, metavar="N", help="stop after N messages")
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give up when the broker does not answer for S seconds (default: 30)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    # Both --from-* flags share a destination; without this, store_false's default (True) wins.
    p.set_defaults(run=run, from_now=False)


def parse_topics(text: str) -> list[str]:
    topics = [t.strip() for t in text.split(",") if t.strip()]
    if not topics:
        raise CommandError("--topics: name at least one topic")
    return topics


def run(args: argparse.Namespace) -> int:
    topics = parse_topics(args.topics)
    if args.max is not None and args.max < 1:
        raise CommandError("--max must be at least 1")
    if args.timeout <= 0:
        raise CommandError("--timeout must be positive")
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    follow = bool(args.follow or args.from_now)
    started = time.monotonic()
    interrupted = False
    target = "stdout" if args.out == "-" else args.out
    recorder = Recorder(
        conn.cluster,
        topics,
        topic_prefix=settings.topic_prefix,
        from_now=args.from_now,
        follow=follow,
        max_messages=args.max,
        timeout=args.timeout,
    )
    with ExitStack() as stack:
        try:
            stack.enter_context(recorder)
        except RecordError as exc:
            raise CommandError(str(exc)) from None
        out = _open(args.out, stack)
        if follow and not args.quiet:
            since = "from now on" if args.from_now else "from the beginning, then as they come"
            say(f"recording {', '.join(topics)} {since}; Ctrl-C stops")
        progress = stack.enter_context(
            Progress(recorder.total, unit="msgs", label="record", quiet=args.quiet)
        )
        recorder.progress = progress
        try:
            for record in recorder.records():
                out.write(record.to_line())
                if follow:
                    out.flush()  # a live recording is read as it grows (tail -f)
            out.flush()
        except RecordError as exc:
            raise CommandError(f"{exc} ({_counted(recorder.counts)} written to {target})") from None
        except KeyboardInterrupt:
            interrupted = True
            out.flush()
    elapsed = time.monotonic() - started
    _summary(recorder.counts, target, elapsed, interrupted and not follow)
    # Ctrl-C is how a followed recording ends; otherwise it cut the recording short.
    return 130 if interrupted and not follow else 0


def _open(out: str, stack: ExitStack) -> IO[bytes]:
    if out == "-":
        return sys.stdout.buffer
    try:
        return stack.enter_context(Path(out).open("wb"))
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror}") from None


def _counted(counts: dict[str, int]) -> str:
    return f"{format_count(sum(counts.values()))} messages"


def _summary(counts: dict[str, int], target: str, elapsed: float, interrupted: bool) -> None:
    total = sum(counts.values())
    rate = total / elapsed if elapsed > 0 else 0.0
    lines = [
        f"{'interrupted: ' if interrupted else ''}recorded {format_count(total)} messages to "
        f"{target} in {elapsed:.1f} s ({format_rate(rate, 'msgs')})",
    ]
    if counts:
        lines.append("  by topic: " + _by_topic(counts))
    for line in lines:
        print(line, file=sys.stderr, flush=True)


def _by_topic(counts: dict[str, int]) -> str:
    return ", ".join(f"{topic} {format_count(n)}" for topic, n in sorted(counts.items()))
