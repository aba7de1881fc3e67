"""`ioc topics create|describe`: the topics ioc owns, on any cluster, from the same list the
worker and the embedded broker use (ioc/kafka/topics.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from ioc.cli.common import CommandError, connect, create_topics, settings_from
from ioc.kafka.admin import BrokerUnavailable, describe_topics, wait_until_ready
from ioc.kafka.topics import topic_specs

HELP = "create or describe the topics ioc uses (idempotent)"
DESCRIPTION = """\
The topics ioc reads and writes, with their partitions and cleanup policies, from the same
list the worker uses. Prefix, partitions and replication come from the settings
(IOC_TOPIC_PREFIX, IOC_PARTITIONS, IOC_REPLICATION_FACTOR).

  create    creates the topics that are missing and never touches one that exists (a topic
            with other partitions than asked is reported, not changed). Run it before the
            workers, as the deployment's topic-init job does; running it again is harmless.
  describe  shows what the cluster holds of each, and exits 1 if a topic is missing or
            differs from what ioc wants.

Faust's own topics (<app id>-*-changelog, <app id>-__assignor-__leader) are created by the
workers at start; their Kafka user needs the right to create topics named <app id>-*.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "topics",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  IOC_BROKER=kafka://kafka:9092 IOC_PARTITIONS=12 ioc topics create\n"
            "  ioc topics describe --json"
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create the missing topics",
        description=(
            "Create ioc's topics that are missing, with the partitions, replication and\n"
            "cleanup policy the settings say; a topic that exists is never changed (one with\n"
            "other partitions is reported). Run it as an administrator before the workers;\n"
            "running it again is harmless."
        ),
        epilog="Example:\n  IOC_BROKER=kafka://kafka:9092 IOC_PARTITIONS=12 ioc topics create",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.set_defaults(run=run_create)
    describe = actions.add_parser(
        "describe",
        help="what the cluster holds; exit 1 if it differs",
        description=(
            "Each topic ioc wants, with what the cluster holds of it: missing, its partitions,\n"
            "its cleanup policy. Reads only. Exit 0 when every topic is as wanted, 1 when one\n"
            "is missing or differs (a deployment's readiness check)."
        ),
        epilog="Examples:\n  ioc topics describe\n  ioc topics describe --json | jq .problems",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    describe.add_argument("--json", action="store_true", help="one JSON object per topic")
    describe.set_defaults(run=run_describe)


def run_create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    try:
        states = create_topics(settings, conn.cluster)
    finally:
        conn.close()
    created = sum(s.action == "created" for s in states)
    for state in states:
        differs = state.action == "partitions differ"
        note = f" (want {state.wanted}; left as it is)" if differs else ""
        print(f"{state.action:>17}  {state.name}  {state.partitions} partitions{note}")
    print(f"{created} created, {len(states) - created} already there", file=sys.stderr)
    return 0


def run_describe(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    conn = connect(settings, may_start=False)

    async def describe() -> Any:
        await wait_until_ready(conn.cluster, settings.broker_ready_timeout)
        return await describe_topics(conn.cluster, topic_specs(settings))

    try:
        found = asyncio.run(describe())
    except BrokerUnavailable as exc:
        raise CommandError(str(exc)) from None
    finally:
        conn.close()
    for topic in found:
        spec = topic.spec
        if args.json:
            row = {
                "topic": spec.name,
                "partitions": topic.partitions,
                "wanted_partitions": spec.partitions,
                "cleanup_policy": topic.cleanup_policy,
                "wanted_cleanup_policy": spec.kafka_configs()["cleanup.policy"],
                "problems": topic.problems,
            }
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
            continue
        have = "-" if topic.partitions is None else str(topic.partitions)
        policy = topic.cleanup_policy or "?"
        status = "; ".join(topic.problems) or "ok"
        print(f"{spec.name:<40} partitions {have:>3}/{spec.partitions:<3} {policy:<8} {status}")
    return 1 if any(t.problems for t in found) else 0
