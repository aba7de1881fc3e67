"""`ioc simulate`: a scenario's sensors, published to the broker or written to a file."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ioc.cli.common import CommandError, connect, create_topics, settings_from
from ioc.cli.progress import Progress
from ioc.durations import format_duration, parse_duration
from ioc.geo import ZoneSetError, load_zones
from ioc.schemas.readings import READING_KINDS
from simulators.episodes import EpisodeError
from simulators.generate import Simulation, start_for
from simulators.inventory import InventoryError
from simulators.publish import PublishError, publish
from simulators.records import Record
from simulators.scenario import Scenario, ScenarioError, load_scenario, shipped_scenarios

HELP = "run a sensor scenario: publish its readings, or write them to a file"
DESCRIPTION = """\
Simulate the province's sensors — traffic counting stations on real roads, security cameras,
air-quality stations and water-level gauges — with daily cycles, and the episodes a scenario
injects (a storm, an accident, an intrusion, a pollution episode, a silent station, …) at the
time and place it names. The same scenario, seed and start give byte-identical output.

Scenarios are YAML files; `--list` shows the ones shipped with ioc and `--episodes` what one
will inject, where and when. Messages are keyed by source (gateway, camera server, station)
and carry single readings or gateway batches, as the scenario's `batch` says.

Pacing:
  (default)     real time: readings are sent when their event time comes (virtual clock at
                wall speed), starting from the scenario's start time (or --start)
  --speed X     X times faster than real time
  --rate R      as many readings per second as R (the virtual clock is sped up to match)
  --fast        as fast as possible; the default with --out
"""

EPILOG = """\
Examples:
  ioc simulate --list
  ioc simulate --scenario storm-da-lat --episodes
  ioc simulate --scenario storm-da-lat --fast --out storm.jsonl     no broker needed
  ioc simulate --scenario demo --start now                          live, into the broker
  ioc simulate --scenario province-day --fast --malformed 0.02      2 % broken messages
  ioc simulate --scenario my-scenario.yaml --seed 7 --rate 500
  ioc simulate --scenario demo --start now --mqtt mqtt://localhost:1883 --mqtt-kinds environment
                                            the stations as MQTT devices (run `ioc bridge mqtt`)

--start now: live pacing starts the scenario now; with --fast it ends now instead (event
times in the future are refused by the pipeline). The output file is a recording, as
`ioc record` writes and `ioc replay` plays (see docs/simulators.md).
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--scenario",
        default="demo",
        metavar="NAME|FILE",
        help="a shipped scenario's name or a YAML file (default: demo)",
    )
    p.add_argument("--list", action="store_true", help="list the shipped scenarios and exit")
    p.add_argument(
        "--episodes",
        action="store_true",
        help="print the sensors and episodes the scenario resolves to (JSON) and exit",
    )
    p.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    p.add_argument("--start", metavar="now|ISO", help="move the scenario to start then")
    p.add_argument("--duration", metavar="D", help="run this long instead (e.g. 30m, 2h, 1d)")
    p.add_argument("--batch-size", type=int, metavar="N", help="readings per gateway message")
    p.add_argument(
        "--malformed", type=float, metavar="SHARE", help="share of broken messages, 0..1"
    )
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible")
    pace.add_argument("--speed", type=float, metavar="X", help="X times real time")
    pace.add_argument("--rate", type=float, metavar="R", help="about R readings per second")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="write a recording file ('-': stdout), no broker"
    )
    p.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish over MQTT (QoS 1) to this broker instead, as devices would, for "
        "`ioc bridge mqtt` to forward: lamdong/{district}/{kind}/{source_id}",
    )
    p.add_argument(
        "--mqtt-kinds",
        metavar="KINDS",
        default="traffic,camera,environment",
        help="with --mqtt, the kinds sent over MQTT (comma-separated); the rest go to Kafka "
        "(default: all)",
    )
    p.add_argument("--manifest", type=Path, metavar="FILE", help="write the episode plan (JSON)")
    p.add_argument("--zones", type=Path, metavar="FILE", help="zone file (default: IOC_ZONES)")
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="give up reaching the broker"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _scenario(args: argparse.Namespace) -> Scenario:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CommandError(str(exc)) from None
    update: dict[str, Any] = {}
    if args.seed is not None:
        update["seed"] = args.seed
    if args.duration is not None:
        try:
            update["duration"] = parse_duration(args.duration)
        except ValueError as exc:
            raise CommandError(f"--duration: {exc}") from None
    if args.batch_size is not None:
        if not 1 <= args.batch_size <= 1000:
            raise CommandError("--batch-size must be between 1 and 1000")
        update["batch"] = scenario.batch.model_copy(update={"size": args.batch_size})
    if args.malformed is not None:
        if not 0 <= args.malformed <= 1:
            raise CommandError("--malformed is a share between 0 and 1 (0.02 = 2 %)")
        update["malformed"] = args.malformed
    if update:
        try:
            scenario = Scenario.model_validate({**scenario.model_dump(), **update})
        except ValueError as exc:
            raise CommandError(f"scenario {scenario.name}: {exc}") from None
    if args.start is not None:
        if args.start == "now":
            start = start_for(_fast(args), scenario)
        else:
            try:
                start = datetime.fromisoformat(args.start)
            except ValueError:
                raise CommandError(f"--start: {args.start!r} is not 'now' or an ISO time") from None
            if start.tzinfo is None:
                raise CommandError("--start needs a zone, e.g. 2026-11-23T13:00:00+07:00")
        scenario = scenario.with_start(start)
    return scenario


def _fast(args: argparse.Namespace) -> bool:
    """--fast, or writing a file without a pace asked for."""
    return bool(args.fast or (args.out is not None and args.speed is None and args.rate is None))


def _speed(args: argparse.Namespace, sim: Simulation) -> float | None:
    if _fast(args):
        return None
    if args.speed is not None:
        if args.speed <= 0:
            raise CommandError("--speed must be positive")
        return float(args.speed)
    if args.rate is not None:
        if args.rate <= 0:
            raise CommandError("--rate must be positive")
        return float(args.rate) / sim.nominal_rate()
    return 1.0


def run(args: argparse.Namespace) -> int:
    if args.list:
        for name in shipped_scenarios():
            scenario = load_scenario(name)
            title = (scenario.title or {}).get("en", "")
            print(f"{name:<16} {format_duration(scenario.duration):>5}  {title}")
        return 0
    scenario = _scenario(args)
    zones_file = args.zones or settings_from(args).zones
    try:
        zone_set = load_zones(zones_file)
        sim = Simulation(scenario, zone_set)
    except (ZoneSetError, EpisodeError, InventoryError) as exc:
        raise CommandError(f"scenario {scenario.name}: {exc}") from None
    manifest = sim.manifest()
    if args.manifest is not None:
        args.manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    if args.episodes:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return 0
    speed = _speed(args, sim)
    _say(
        args,
        f"scenario {scenario.name}: {scenario.start.isoformat()} + "
        f"{format_duration(scenario.duration)}, seed {scenario.seed}, {len(sim.sensors)} sensors "
        f"in {len(sim.sources)} sources, {len(sim.episodes)} episodes, "
        f"~{sim.expected_readings():,} readings, "
        + ("as fast as possible" if speed is None else f"at {speed:g}x real time"),
    )
    started = time.monotonic()
    interrupted = False
    with ExitStack() as stack:
        progress = stack.enter_context(
            Progress(
                sim.expected_readings(), unit="readings", label=scenario.name, quiet=args.quiet
            )
        )
        records = _counted(sim, progress)
        try:
            if args.out is not None:
                _write(records, args.out, stack)
            else:
                _publish(args, records, speed, sim)
        except KeyboardInterrupt:
            interrupted = True
    _summary(args, sim, time.monotonic() - started, interrupted)
    return 130 if interrupted else 0


def _counted(sim: Simulation, progress: Progress) -> Iterator[Record]:
    seen = 0
    for record in sim.records():
        progress.advance(sim.stats.readings - seen)
        seen = sim.stats.readings
        yield record


def _write(records: Iterator[Record], out: Path, stack: ExitStack) -> None:
    target: IO[bytes]
    if str(out) == "-":
        target = sys.stdout.buffer
    else:
        try:
            target = stack.enter_context(out.open("wb"))
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror}") from None
    for record in records:
        target.write(record.to_line())
    target.flush()


def _publish(
    args: argparse.Namespace, records: Iterator[Record], speed: float | None, sim: Simulation
) -> None:
    settings = settings_from(args)
    with ExitStack() as stack:
        # MQTT first: a wrong option or an unreachable MQTT broker is said before any work.
        elsewhere = _over_mqtt(args, settings, sim, stack) if args.mqtt else None
        conn = connect(settings, may_start=False)
        create_topics(settings, conn.cluster, administrator=False)
        try:
            publish(
                records,
                conn.cluster,
                topic_prefix=settings.topic_prefix,
                speed=speed,
                connect_timeout=args.timeout,
                elsewhere=elsewhere,
            )
        except PublishError as exc:
            raise CommandError(str(exc)) from None


def _over_mqtt(
    args: argparse.Namespace, settings: Any, sim: Simulation, stack: ExitStack
) -> Callable[[Record], str | None]:
    from ioc.bridge.mqtt import MqttUrl, MqttUrlError
    from simulators.mqtt import MqttPublisher, mqtt_topic

    kinds = {k.strip() for k in args.mqtt_kinds.split(",") if k.strip()}
    unknown = kinds - set(READING_KINDS)
    if unknown or not kinds:
        raise CommandError(
            f"--mqtt-kinds: {', '.join(sorted(unknown)) or 'none given'}; "
            f"the kinds are {', '.join(READING_KINDS)}"
        )
    try:
        url = MqttUrl.parse(args.mqtt)
        publisher = MqttPublisher(
            url,
            f"ioc-simulate-{os.getpid()}",
            username=settings.mqtt_username,
            password=(
                settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            ),
            cafile=settings.mqtt_cafile,
            connect_timeout=args.timeout,
        )
    except (MqttUrlError, PublishError) as exc:
        raise CommandError(str(exc)) from None

    def close() -> None:
        try:
            publisher.close(timeout=args.timeout)
        except PublishError as exc:
            raise CommandError(str(exc)) from None

    stack.callback(close)
    areas = {source.id: source.area for source in sim.sources}

    def send(record: Record) -> str | None:
        kind = record.topic.removeprefix("sensors.")
        if kind not in kinds or record.key is None:
            return None
        source_id = record.key.decode("utf-8", "replace")
        publisher.send(mqtt_topic(kind, source_id, areas.get(source_id, "")), record.value)
        return f"mqtt:{kind}"

    return send


def _summary(args: argparse.Namespace, sim: Simulation, elapsed: float, interrupted: bool) -> None:
    stats = sim.stats
    rate = stats.readings / elapsed if elapsed > 0 else 0.0
    span = ""
    if stats.first_ts is not None and stats.last_ts is not None:
        covered = timedelta(milliseconds=stats.last_ts - stats.first_ts)
        span = f", event time {format_duration(covered)}"
    where = f"to {args.out}" if args.out is not None else "to the broker"
    lines = [
        f"{'interrupted: ' if interrupted else ''}{stats.messages:,} messages, "
        f"{stats.readings:,} readings {where} in {elapsed:.1f} s ({rate:,.0f} readings/s){span}",
        "  by topic: " + ", ".join(f"{t} {n:,}" for t, n in sorted(stats.by_topic.items())),
    ]
    if stats.malformed:
        lines.append(f"  broken on purpose: {stats.malformed:,} (expect as many dead letters)")
    for line in lines:
        _say(args, line, always=True)


def _say(args: argparse.Namespace, message: str, always: bool = False) -> None:
    if always or not args.quiet:
        print(message, file=sys.stderr, flush=True)
