"""`ioc rules check | test | load`: rule files checked, tried on recorded readings, and put in
force on running workers."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from ioc.cli.common import CommandError, connect, create_topics, say, send_one, settings_from
from ioc.cli.zones import zone_set_from
from ioc.geo.schedule import LOCAL_ZONE
from ioc.kafka.topics import RULES
from ioc.rules.explain import explain
from ioc.rules.loader import DEFAULT_RULES, RuleError, RuleSet, default_rules, load_rules
from ioc.rules.offline import run as run_offline
from ioc.rules.published import RULESET_KEY, encode_rules
from ioc.schemas import Decoder
from ioc.schemas.alerts import Alert

OFFLINE_NOW = datetime(9999, 1, 1, tzinfo=UTC)

HELP = "check rule files, test them on recorded readings, load them into running workers"
DESCRIPTION = """\
Alert rules are YAML files written by analysts (see docs/rules.md). Each rule watches
readings — a threshold, a time window, a geofence, a silent sensor, a rate of change — or
other rules' alerts (correlation), and raises alerts with a severity and CAP category.

  check   validate files and say in one line what each rule does; every problem is named
          with its file, line, rule id and field
  test    run rules offline over a recording (`ioc simulate --out`, `ioc record`) or a file
          of sensor messages, and print the alerts they raise
  load    publish a rule set to the rules topic: every running worker validates it and
          switches to it between two messages; a set that does not validate is refused here,
          and a worker that refuses one keeps the set it runs

Without FILE, the Lâm Đồng rule pack shipped with ioc is used.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "rules",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    check = rsub.add_parser(
        "check",
        help="validate rule files and explain each rule",
        description="Validate rule files as one rule set; exit 0 and explain each rule, or "
        "exit 1 and name every problem (file:line: rule: field: what was expected).",
        epilog="Examples:\n  ioc rules check\n  ioc rules check my-rules.yaml extra.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("files", nargs="*", type=Path, metavar="FILE", help="rule files")
    check.set_defaults(run=run_check)

    test = rsub.add_parser(
        "test",
        help="run rules offline over recorded readings and print the alerts",
        description=(
            "Run the rule engine over readings without a broker, exactly as a worker would, "
            "and print the alerts raised: JSON lines (one Alert each) or a table. The input "
            "is a recording (JSON lines with topic and value, as `ioc simulate --out` and "
            "`ioc record` write) or a file of sensor messages, one JSON message per line. "
            "Messages that a worker would dead-letter are counted and skipped. A summary goes "
            "to stderr."
        ),
        epilog=(
            "Examples:\n"
            "  ioc simulate --scenario storm-da-lat --out storm.jsonl\n"
            "  ioc rules test --input storm.jsonl --table\n"
            "  ioc rules test my-rules.yaml --input storm.jsonl | jq .rule_id"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("files", nargs="*", type=Path, metavar="FILE", help="rule files")
    test.add_argument(
        "--input", required=True, metavar="READINGS", help="recording or messages ('-': stdin)"
    )
    test.add_argument("--table", action="store_true", help="a table instead of JSON lines")
    test.add_argument("--firing", action="store_true", help="only alerts that fire, not resolves")
    test.add_argument("--zones", type=Path, metavar="FILE", help="zone file (default: IOC_ZONES)")
    test.set_defaults(run=run_test)

    load = rsub.add_parser(
        "load",
        help="put a rule set in force on every running worker",
        description=(
            "Validate rule files and publish them, as one rule set, to the rules topic "
            "(compacted: its latest message is the set in force). Workers switch to it "
            "within a second or two; workers started later read it before anything else. "
            "Nothing is published when a file has a problem."
        ),
        epilog=(
            "Examples:\n"
            "  ioc rules load my-rules.yaml\n"
            "  ioc rules load --default        back to the shipped pack"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("files", nargs="*", type=Path, metavar="FILE", help="rule files")
    load.add_argument("--default", action="store_true", help="load the rule pack shipped with ioc")
    load.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="give up reaching the broker"
    )
    load.set_defaults(run=run_load)


def _ruleset(files: list[Path]) -> RuleSet:
    try:
        return load_rules(files) if files else default_rules()
    except RuleError as exc:
        count = len(exc.problems)
        details = "\n".join(f"  {p}" for p in exc.problems)
        raise CommandError(
            f"{count} problem{'s' if count > 1 else ''} in the rules:\n{details}"
        ) from None


def run_check(args: argparse.Namespace) -> int:
    ruleset = _ruleset(args.files)
    enabled = len(ruleset.enabled)
    print(
        f"{ruleset.name}: {len(ruleset.rules)} rules ({enabled} enabled), "
        f"version {ruleset.version}, from {', '.join(ruleset.sources)}"
    )
    for rule in ruleset.rules:
        watch, outcome = explain(rule)
        print(f"  {rule.id} ({rule.type}): {rule.title.en} / {rule.title.vi}")
        print(f"      {watch}")
        print(f"      {outcome}")
    return 0


class _Input:
    """Messages of a recording or a message file, and what was read, for the summary."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.messages = 0

    def __iter__(self) -> Iterator[tuple[bytes, str | None, int | None, int | None]]:
        for line in self.stream:
            line = line.strip()
            if not line:
                continue
            self.messages += 1
            yield _message(line)


def _message(line: bytes) -> tuple[bytes, str | None, int | None, int | None]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line, None, None, None  # the decoder will say why, as a worker's would
    if isinstance(data, dict) and "topic" in data and ("value" in data or "value_b64" in data):
        from simulators.records import Record, RecordingError

        try:
            record = Record.from_line(line)
        except RecordingError:
            return line, None, None, None
        return record.value, record.topic, record.partition, record.offset
    return line, None, None, None


def run_test(args: argparse.Namespace) -> int:
    ruleset = _ruleset(args.files)
    zone_set = zone_set_from(args)
    # Recorded event times may be anywhere: the offline decoder does not compare them with
    # this machine's clock (a worker refuses readings from the future).
    decoder = Decoder(clock=lambda: OFFLINE_NOW)
    try:
        stream: IO[bytes] = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {args.input} ({exc.strerror})") from None
    source = _Input(stream)
    counts: Counter[str] = Counter()
    rejected = Counter[str]()
    shown = 0
    try:
        if args.table:
            _table_header()
        for alert in run_offline(ruleset, zone_set, source, decoder, rejected=rejected):
            counts[f"{alert.rule_id} {alert.status}"] += 1
            if args.firing and alert.status != "firing":
                continue
            shown += 1
            if args.table:
                _table_row(alert)
            else:
                sys.stdout.buffer.write(alert.model_dump_json().encode() + b"\n")
        sys.stdout.flush()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    say(
        f"{source.messages:,} messages, {sum(rejected.values()):,} refused; "
        f"{sum(counts.values()):,} alerts ({ruleset.name} {ruleset.version})"
    )
    for name, n in sorted(counts.items()):
        say(f"  {name}: {n}")
    if rejected:
        say("  refused: " + ", ".join(f"{k} {v}" for k, v in rejected.most_common()))
    return 0


_COLUMNS = (
    ("event time (+07)", 17),
    ("status", 8),
    ("rule", 18),
    ("severity", 8),
    ("district", 10),
    ("subject", 30),
)


def _table_header() -> None:
    print("  ".join(f"{name:<{width}}" for name, width in _COLUMNS) + "  evidence")


def _table_row(alert: Alert) -> None:
    evidence = alert.evidence[-1] if alert.evidence else None
    detail = f"{evidence.sensor_id} {evidence.field}={evidence.value}" if evidence else ""
    if alert.health:
        detail += f" [{alert.health}]"
    cells = (
        alert.event_time.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M"),
        alert.status,
        alert.rule_id,
        alert.severity,
        alert.district or "province",
        alert.subject,
    )
    print(
        "  ".join(f"{c[:w]:<{w}}" for c, (_, w) in zip(cells, _COLUMNS, strict=True))
        + "  "
        + detail
    )


def run_load(args: argparse.Namespace) -> int:
    if args.default and args.files:
        raise CommandError("give rule files or --default, not both")
    if not args.default and not args.files:
        raise CommandError("which rules? give rule files, or --default for the shipped pack")
    ruleset = _ruleset(args.files)
    if args.default:
        from importlib import resources

        text = resources.files("ioc.rules").joinpath("data", DEFAULT_RULES).read_text("utf-8")
        texts = [(ruleset.sources[0], text)]
    else:
        texts = [(str(path), path.read_text(encoding="utf-8")) for path in args.files]
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    # Create the topics as the worker would: a broker that creates missing topics on first
    # use would make the rules topic without compaction.
    create_topics(settings, conn.cluster, administrator=False)
    value = encode_rules(ruleset, texts, _who(), datetime.now(UTC))
    topic = settings.topic(RULES)
    send_one(conn.cluster, topic, RULESET_KEY, value, args.timeout)
    print(
        f"published {ruleset.name} (version {ruleset.version}, {len(ruleset.rules)} rules) "
        f"to {topic}; running workers switch to it within seconds"
    )
    return 0


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
