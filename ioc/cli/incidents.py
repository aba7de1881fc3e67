"""`ioc incidents list | show | ack | resolve`: the incident store, and operators' actions."""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ioc.cli.common import CommandError, connect, send_one, settings_from
from ioc.cli.lines import LOCAL, incident_line, use_colour
from ioc.districts import DISTRICT_SLUGS
from ioc.incidents.actions import ACTIONS, ActionRefused, applied, command_for
from ioc.kafka.cluster import Cluster
from ioc.kafka.topics import COMMANDS, DEADLETTER
from ioc.schemas.commands import routing_key
from ioc.schemas.deadletter import DeadLetter
from ioc.schemas.incidents import Incident
from ioc.settings import Settings
from ioc.sinks.sqlite import IncidentStore, default_path
from ioc.sinks.sqlite import path_from_url as sqlite_path

HELP = "list and show incidents; acknowledge and resolve them"
STATUSES = ("open", "acknowledged", "resolved", "auto_resolved")
SEND_TIMEOUT_S = 10.0


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "incidents",
        help=HELP,
        description=(
            "Read the incident store (the SQLite sink: IOC_SINKS' sqlite://, by default under "
            "the data dir) and act on incidents. `ack` and `resolve` are events on the commands "
            "topic, applied by the worker that holds the incident; they wait until the store "
            "shows the new state."
        ),
        epilog=(
            "Examples:\n"
            "  ioc incidents list --district da-lat --status open\n"
            "  ioc incidents show INC-4F1C2A9B0D3E5F67\n"
            "  ioc incidents ack INC-4F1C2A9B0D3E5F67 --actor 'Nguyễn Văn A' --note 'đã cử đội'\n"
            "  ioc incidents resolve INC-4F1C2A9B0D3E5F67 --note 'nước đã rút'"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--store", metavar="URL", help="sqlite:///PATH (default: from IOC_SINKS)")
    isub = p.add_subparsers(dest="incidents_command", metavar="ACTION", required=True)

    listing = isub.add_parser(
        "list",
        help="the latest incidents, newest first",
        description=(
            "The store's incidents, the one with the latest alert first: one line each with "
            "the time of that alert, status, severity, district, id, version, title and how "
            "many alerts it gathers (`show` gives its history). --json gives whole incidents, "
            "one per line."
        ),
        epilog="Examples:\n  ioc incidents list --status open --status acknowledged --lang en\n"
        "  ioc incidents list --district bao-loc --json | jq .title",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--district", choices=DISTRICT_SLUGS, metavar="D", help="one district")
    listing.add_argument(
        "--status", choices=STATUSES, action="append", help="only these (repeatable)"
    )
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N")
    listing.add_argument("--lang", choices=["vi", "en"], default="vi")
    listing.add_argument("--json", action="store_true", help="JSON lines of whole incidents")
    listing.set_defaults(run=run_list)

    show = isub.add_parser(
        "show",
        help="one incident with its history",
        description=(
            "One incident: what, where, its evidence (the readings behind its alerts) and "
            "its history, every version with who did what and why."
        ),
    )
    show.add_argument("incident_id", metavar="ID", help="INC-… as `list` shows it")
    show.add_argument("--json", action="store_true", help="the whole incident as JSON")
    show.set_defaults(run=run_show)

    described = {
        "ack": (
            "acknowledge an open incident",
            "Acknowledge an open incident: someone is on it. It stops the acknowledgement "
            "deadline (IOC_ACK_SLA) that would escalate it to the province.",
        ),
        "resolve": (
            "resolve it",
            "Resolve an incident: it is over. Alerts that come later open a new one.",
        ),
    }
    for action, (text, description) in described.items():
        cmd = isub.add_parser(
            action,
            help=text,
            description=description
            + " The command goes to the worker that holds the incident; the answer is its "
            "new state, or why it was refused (already acknowledged, already resolved).",
            epilog=f"Example:\n  ioc incidents {action} INC-4F1C2A9B0D3E5F67 --actor 'Trần Thị B'"
            " --note 'đã xử lý'",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.add_argument("incident_id", metavar="ID", help="INC-… as `list` shows it")
        cmd.add_argument("--actor", help="who acts (default: your user name)")
        cmd.add_argument("--note", help="why, what was done")
        cmd.add_argument(
            "--wait", type=float, default=30.0, metavar="S", help="wait for the store (0: not)"
        )
        cmd.add_argument("--lang", choices=["vi", "en"], default="vi", help="of the answer")
        cmd.set_defaults(run=run_act, action="acknowledge" if action == "ack" else "resolve")


def store_path(settings: Settings, explicit: str | None) -> Path:
    if explicit is not None:
        if not explicit.startswith("sqlite://"):
            raise CommandError("--store must be sqlite:///PATH")
        return sqlite_path(explicit, settings.data_dir)
    for url in settings.sinks:
        if url.startswith("sqlite://"):
            return sqlite_path(url, settings.data_dir)
    return default_path(settings.data_dir)


def _store(args: argparse.Namespace) -> IncidentStore:
    settings = settings_from(args)
    path = store_path(settings, args.store)
    try:
        return IncidentStore(path)
    except FileNotFoundError:
        raise CommandError(
            f"no incident store at {path} yet: it appears when a worker delivers its first "
            "incident (IOC_SINKS must include sqlite://)"
        ) from None


def run_list(args: argparse.Namespace) -> int:
    incidents = _store(args).latest(district=args.district, status=args.status, limit=args.limit)
    colour = use_colour(sys.stdout)
    for incident in incidents:
        if args.json:
            print(incident.model_dump_json())
        else:
            print(incident_line(incident, args.lang, colour, latest_alert=True))
    if not incidents and not args.json:
        print("no incident matches", file=sys.stderr)
    return 0


def _get(store: IncidentStore, incident_id: str) -> Incident:
    incident = store.get(incident_id)
    if incident is None:
        raise CommandError(f"no incident {incident_id} in {store.path}")
    return incident


def run_show(args: argparse.Namespace) -> int:
    incident = _get(_store(args), args.incident_id)
    if args.json:
        print(json.dumps(incident.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    print(f"{incident.incident_id}  v{incident.version}  {incident.status}  {incident.severity}")
    print(f"  {incident.title.vi} / {incident.title.en}")
    escalated = "  (escalated to the province)" if incident.escalated else ""
    print(f"  district: {incident.district or 'province'}{escalated}")
    print(
        f"  rule: {incident.rule_id}   subject: {incident.subject}   alerts: {incident.alert_count}"
    )
    lon, lat = incident.location.coordinates if incident.location.type == "Point" else (0, 0)
    print(f"  where: {lat},{lon}  zones: {', '.join(incident.zones) or '-'}")
    print(
        f"  seen: {incident.first_seen.astimezone(LOCAL):%Y-%m-%d %H:%M} → "
        f"{incident.last_seen.astimezone(LOCAL):%Y-%m-%d %H:%M}"
    )
    if incident.ack_due is not None:
        print(f"  acknowledge by: {incident.ack_due.astimezone(LOCAL):%Y-%m-%d %H:%M}")
    print("  history:")
    for change in incident.history:
        note = f" — {change.note}" if change.note else ""
        print(
            f"    v{change.version} {change.at.astimezone(LOCAL):%Y-%m-%d %H:%M:%S} "
            f"{change.action} → {change.status} by {change.actor}{note}"
        )
    print("  evidence:")
    for e in incident.evidence[-10:]:
        print(f"    {e.ts.astimezone(LOCAL):%H:%M:%S} {e.sensor_id} {e.field}={e.value}")
    return 0


def run_act(args: argparse.Namespace) -> int:
    store = _store(args)
    incident = _get(store, args.incident_id)
    actor = args.actor or getpass.getuser()
    try:
        command = command_for(incident, args.action, actor, args.note, datetime.now(UTC))
    except ActionRefused as refused:
        if refused.already:
            print(refused.reason)
            return 0
        raise CommandError(refused.reason) from None
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    value = command.model_dump_json().encode()
    # Watched from before the send: a worker that refuses the command dead-letters it.
    refusals = Refusals.watch(conn.cluster, settings.topic(DEADLETTER)) if args.wait > 0 else None
    try:
        send_one(
            conn.cluster,
            settings.topic(COMMANDS),
            routing_key(incident.rule_id, incident.subject),
            value,
            SEND_TIMEOUT_S,
        )
        return _await_outcome(args, store, incident, value, refusals)
    finally:
        if refusals is not None:
            refusals.close()


def _await_outcome(
    args: argparse.Namespace,
    store: IncidentStore,
    incident: Incident,
    value: bytes,
    refusals: Refusals | None,
) -> int:
    if args.wait <= 0:
        sent = "đã gửi lệnh" if args.lang == "vi" else "sent"
        print(f"{incident.incident_id}: {args.action} {sent}")
        return 0
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        now = store.get(incident.incident_id)
        if now is not None and applied(incident, now, args.action):
            print(incident_line(now, args.lang, use_colour(sys.stdout)))
            return 0
        reason = refusals.reason_for(value) if refusals is not None else None
        if reason is not None:
            raise CommandError(f"the worker refused it: {reason}")
        if refusals is None:
            time.sleep(0.25)  # polling the store another process writes; no event reaches us
    raise CommandError(
        f"sent, but the store did not show {incident.incident_id} {ACTIONS[args.action]} "
        f"within {args.wait:g} s, and no worker refused it: is a worker running?"
    )


class Refusals:
    """The dead letters written since the watch began, read without a consumer group: a
    worker that refuses a command (the incident moved on meanwhile, or it holds no such
    incident) dead-letters it with the reason."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    @classmethod
    def watch(cls, cluster: Cluster, topic: str) -> Refusals | None:
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        try:
            consumer = KafkaConsumer(enable_auto_commit=False, **cluster.kafka_python())
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_end(*tps)
            for tp in tps:
                consumer.position(tp)  # now, not when first polled
        except KafkaError:
            return None  # no refusal will be shown; the store still tells the outcome
        return cls(consumer)

    def reason_for(self, value: bytes) -> str | None:
        """Waits up to a quarter of a second for dead letters; the reason of this one's."""
        wanted = base64.b64encode(value).decode()
        for records in self.consumer.poll(timeout_ms=250).values():
            for record in records:
                try:
                    letter = DeadLetter.model_validate_json(record.value)
                except ValidationError:
                    continue
                if letter.payload == wanted:
                    return letter.reason
        return None

    def close(self) -> None:
        self.consumer.close()
