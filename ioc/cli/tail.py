"""`ioc tail`: alerts, incidents or dead letters as they happen, one coloured line each."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from ioc.cli.common import CommandError, connect, settings_from
from ioc.cli.lines import alert_line, deadletter_line, incident_line, out, use_colour
from ioc.districts import DISTRICT_SLUGS
from ioc.kafka.admin import topic_partitions
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import ALERTS, DEADLETTER, INCIDENTS
from ioc.schemas.alerts import SEVERITY_RANK, Alert
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident

HELP = "follow alerts, incidents or dead letters live, one line each"
TOPICS = {"alerts": ALERTS, "incidents": INCIDENTS, "deadletter": DEADLETTER}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tail",
        help=HELP,
        description=(
            "Print what arrives on ioc's alert, incident or dead-letter topic, one line per "
            "item in local time (Asia/Ho_Chi_Minh), severity in colour on a terminal, and keep "
            "following until Ctrl-C. Reads without a consumer group: it disturbs no worker."
        ),
        epilog=(
            "Examples:\n"
            "  ioc tail                                   incidents, from now, in Vietnamese\n"
            "  ioc tail --topic alerts --severity severe --lang en\n"
            "  ioc tail --district da-lat --from-beginning\n"
            "  ioc tail --topic deadletter                what the pipeline refused, and why"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--topic", choices=sorted(TOPICS), default="incidents", help="what to follow")
    p.add_argument(
        "--district",
        choices=[*DISTRICT_SLUGS, "province"],
        metavar="D",
        help=f"only this district ({', '.join(DISTRICT_SLUGS)}) or 'province'",
    )
    p.add_argument(
        "--severity",
        choices=list(SEVERITY_RANK),
        metavar="S",
        help="only this severity and above (minor, moderate, severe, extreme)",
    )
    p.add_argument("--lang", choices=["vi", "en"], default="vi", help="language of the lines")
    p.add_argument("--from-beginning", action="store_true", help="start with what is kept")
    p.add_argument("--max", type=int, metavar="N", help="stop after N lines")
    p.set_defaults(run=run)


def _line(kind: str, value: bytes, args: argparse.Namespace, colour: bool) -> str | None:
    item: Alert | Incident | DeadLetter
    try:
        if kind == "deadletter":
            item = DeadLetter.model_validate_json(value)
            return deadletter_line(item, args.lang, colour)
        item = (
            Alert.model_validate_json(value)
            if kind == "alerts"
            else Incident.model_validate_json(value)
        )
    except ValidationError:
        return None  # not ours to judge here: the worker dead-letters what it cannot read
    district = item.district or "province"
    if args.district is not None and district != args.district:
        return None
    if args.severity is not None and SEVERITY_RANK[item.severity] < SEVERITY_RANK[args.severity]:
        return None
    if isinstance(item, Alert):
        return alert_line(item, args.lang, colour)
    return incident_line(item, args.lang, colour)


async def _follow(
    cluster: Cluster, topic: str, args: argparse.Namespace, fetch_max_wait_ms: int
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    consumer = AIOKafkaConsumer(
        client_id="ioc-tail",
        group_id=None,
        enable_auto_commit=False,
        # An operator watches live: the broker must not hold a fetch while alerts arrive.
        fetch_max_wait_ms=fetch_max_wait_ms,
        **cluster.aiokafka(),
    )
    colour = use_colour(sys.stdout)
    shown = 0
    try:
        await consumer.start()
        tps = await topic_partitions(consumer, topic)
        if not tps:
            raise CommandError(f"topic {topic} does not exist yet (no worker has run?)")
        consumer.assign(tps)
        if args.from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        while not stop.is_set():
            fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=500))
            waiter = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetch, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if fetch not in done:
                fetch.cancel()
                break
            for records in fetch.result().values():
                for record in records:
                    line = _line(args.topic, record.value or b"", args, colour)
                    if line is None:
                        continue
                    out(line)
                    shown += 1
                    if args.max is not None and shown >= args.max:
                        return 0
    except KafkaError as exc:
        raise CommandError(f"lost the broker: {exc}") from None
    finally:
        await consumer.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    topic = settings.topic(TOPICS[args.topic])
    return asyncio.run(_follow(conn.cluster, topic, args, settings.fetch_max_wait_ms))
