"""`ioc subscribe --district D`: a district IOC's own incident feed, and nothing else."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import GroupAuthorizationFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from ioc.cap import to_cap, zone_names
from ioc.cli.common import CommandError, connect, settings_from
from ioc.districts import DISTRICT_SLUGS
from ioc.kafka.admin import BrokerUnavailable, may_describe, wait_until_ready
from ioc.kafka.topics import district_incidents
from ioc.schemas.incidents import Incident

HELP = "a district IOC's incident feed: JSON lines or CAP, from where it left off"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "subscribe",
        help=HELP,
        description=(
            "Read one district's incident feed (ioc.incidents.<district>: that district's "
            "incidents only) and print each incident version: as a JSON line, or as a CAP 1.2 "
            "XML message. The position is stored under a consumer group (default "
            "ioc-subscribe-<district>), so the next run continues where this one stopped; "
            "--from-beginning reads everything kept (the topic is compacted: the latest "
            "version of every incident). Follows new incidents until Ctrl-C."
        ),
        epilog=(
            "Examples:\n"
            "  ioc subscribe --district da-lat\n"
            "  ioc subscribe --district bao-loc --from-beginning --format cap > feed.xml\n"
            "  ioc subscribe --district duc-trong --max 1 --no-follow   for a script"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--district",
        required=True,
        choices=DISTRICT_SLUGS,
        metavar="D",
        help=f"one of {', '.join(DISTRICT_SLUGS)}",
    )
    p.add_argument("--format", choices=["jsonl", "cap"], default="jsonl", help="output format")
    p.add_argument("--from-beginning", action="store_true", help="ignore the stored position")
    p.add_argument("--group", metavar="NAME", help="consumer group keeping the position")
    p.add_argument("--no-follow", action="store_true", help="stop at the end of the feed")
    p.add_argument("--max", type=int, metavar="N", help="stop after N incident versions")
    p.set_defaults(run=run)


class _Stop(Exception):
    pass


def _at_end(consumer: KafkaConsumer, tps: list[TopicPartition]) -> bool:
    """At the high watermark of the last fetch (not ListOffsets: see simulators/record.py)."""
    for tp in tps:
        end = consumer.highwater(tp)
        if end is None or consumer.position(tp) < end:
            return False
    return True


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    names = {}
    if args.format == "cap":
        from ioc.geo import load_zones

        names = zone_names(load_zones(settings.zones))
    conn = connect(settings, may_start=False)
    topic = settings.topic(district_incidents(args.district))
    group = args.group or f"ioc-subscribe-{args.district}"
    user = settings.sasl_username or "anonymous"

    def stop(signum: int, frame: object) -> None:
        raise _Stop

    signal.signal(signal.SIGTERM, stop)
    try:
        # kafka-python's consumer waits for ever on credentials the broker refuses.
        asyncio.run(wait_until_ready(conn.cluster, settings.broker_ready_timeout))
    except BrokerUnavailable as exc:
        raise CommandError(str(exc)) from None
    try:
        consumer = KafkaConsumer(
            group_id=group,
            client_id=f"ioc-subscribe-{args.district}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **conn.cluster.kafka_python(),
        )
    except KafkaError as exc:
        raise CommandError(f"cannot reach the broker: {exc}") from None
    shown = 0
    seen: set[tuple[str, int]] = set()
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            if not asyncio.run(may_describe(conn.cluster, topic)):
                raise CommandError(
                    f"user {user} is not authorised to read {topic}: a district's user reads "
                    "its own district's feed only (ask the administrator for this one)"
                )
            raise CommandError(f"{topic} does not exist: is this the right broker and prefix?")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        for tp in tps:
            committed = None if args.from_beginning else consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        while True:
            batch = consumer.poll(timeout_ms=500)
            for tp, records in batch.items():
                for record in records:
                    try:
                        incident = Incident.model_validate_json(record.value)
                    except ValidationError:
                        continue
                    if (incident.incident_id, incident.version) in seen:
                        continue
                    seen.add((incident.incident_id, incident.version))
                    if args.format == "cap":
                        sys.stdout.write(to_cap(incident, names=names).decode() + "\n")
                    else:
                        sys.stdout.write(incident.model_dump_json() + "\n")
                    sys.stdout.flush()
                    shown += 1
                    consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                    if args.max is not None and shown >= args.max:
                        return 0
            if args.no_follow and not batch and _at_end(consumer, tps):
                return 0
    except (KeyboardInterrupt, _Stop):
        return 0
    except GroupAuthorizationFailedError:
        raise CommandError(
            f"user {user} is not authorised to keep its position under the consumer group "
            f"{group}: a district's user may use ioc-subscribe-<its district> only"
        ) from None
    except KafkaError as exc:
        raise CommandError(f"lost the broker: {exc}") from None
    finally:
        consumer.close()
