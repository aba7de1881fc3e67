"""`ioc devices load | list | check`: the device registry the bridges complete readings from."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ioc.cli.common import CommandError, connect, create_topics, say, settings_from
from ioc.kafka.cluster import Cluster
from ioc.settings import Settings

HELP = "load, list and check the device registry of the MQTT and HTTP bridges"
DESCRIPTION = """\
The device registry tells the bridges how a device that sends only its values becomes a full
reading, and which API keys may send. A YAML file has two lists:

  sources:            platforms that POST full readings (HTTP ingest)
    - source_id: vms-da-lat
      apikey: 9c1f…              the key they send in X-API-Key
  devices:            devices that send only values (MQTT or HTTP, FIWARE IoT Agent JSON)
    - device_id: aq-0042         the device's own id (topic /json/APIKEY/aq-0042/attrs)
      apikey: 4jggokgp…          its device group's key
      sensor_id: env-da-lat-042
      kind: environment          traffic, camera or environment
      source_id: envnet-da-lat
      lat: 11.9404
      lon: 108.4583
      attributes:                its names → the reading's fields, with its unit
        pm2_5: {name: pm25}
        t: {name: temperature_c, unit: degF}
      static: {}                 fields every reading has (a counter's road)

A CSV file has one device a row: device_id, apikey, sensor_id, kind, source_id, lat, lon,
then `attr:NAME` columns (`pm25` or `temperature_c degF`) and `static:FIELD` columns.

  load FILE   check the file, then make the registry exactly the file's (entries no longer
              in it are removed); running bridges follow within a second
  list        what the registry holds (API keys are kept as SHA-256 only, never shown)
  check FILE  check a file without loading it: every problem, one a line
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "devices",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            "  ioc devices check deploy/devices.example.yaml\n"
            "  ioc devices load devices.yaml\n"
            "  ioc devices list --json"
        ),
    )
    actions = p.add_subparsers(dest="devices_command", metavar="ACTION", required=True)
    load = actions.add_parser("load", help="make the registry the file's")
    load.add_argument("file", type=Path, metavar="FILE", help="YAML or CSV registry")
    load.set_defaults(run=run_load)
    listing = actions.add_parser("list", help="show the registry")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(run=run_list)
    check = actions.add_parser("check", help="check a file without loading it")
    check.add_argument("file", type=Path, metavar="FILE", help="YAML or CSV registry")
    check.set_defaults(run=run_check)


def _entries(path: Path) -> list[Any]:
    from ioc.bridge.registry import RegistryError, load_file

    try:
        return load_file(path)
    except RegistryError as exc:
        raise CommandError(str(exc)) from None


def run_check(args: argparse.Namespace) -> int:
    from ioc.bridge.registry import Device

    entries = _entries(args.file)
    devices = sum(isinstance(e, Device) for e in entries)
    print(f"{args.file}: {devices} devices, {len(entries) - devices} sources, no problem")
    return 0


def _current(settings: Settings, cluster: Cluster) -> tuple[Any, set[str]]:
    """The registry on the topic as a bridge reads it, and every key the topic holds."""
    from ioc.bridge.follow import RegistryFollower
    from ioc.bridge.registry import Registry

    registry = Registry()
    follower = RegistryFollower(settings, cluster, registry, client_id="ioc-devices")
    follower.start()
    try:
        if not follower.ready.wait(timeout=settings.broker_ready_timeout):
            raise CommandError(f"could not read {follower.topic} to its end")
    finally:
        follower.stop()
    return registry, follower.keys


def run_load(args: argparse.Namespace) -> int:
    from ioc.bridge.registry import encode, entry_key
    from ioc.kafka.topics import DEVICES
    from simulators.publish import BrokerUnreachable, bootstrap, kafka_producer

    entries = _entries(args.file)
    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    try:
        create_topics(settings, conn.cluster, administrator=False)
        registry, keys = _current(settings, conn.cluster)
        current = {entry_key(e): encode(e) for e in registry.entries()}
        wanted = {entry_key(e): encode(e) for e in entries}
        timeout = settings.broker_ready_timeout
        try:
            producer = bootstrap(kafka_producer(conn.cluster, timeout), conn.servers, timeout)
        except BrokerUnreachable as exc:
            raise CommandError(str(exc)) from None
        topic = settings.topic(DEVICES)
        try:
            futures = [
                producer.send(topic, key=key.encode(), value=value)
                for key, value in wanted.items()
                if current.get(key) != value
            ]
            removed = [key for key in keys if key not in wanted]
            futures += [producer.send(topic, key=key.encode(), value=None) for key in removed]
            for future in futures:
                future.get(timeout=timeout)
        finally:
            producer.close(timeout=5)
    finally:
        conn.close()
    changed = len(futures) - len(removed)
    say(
        f"{topic}: {len(wanted)} entries from {args.file} "
        f"({changed} new or changed, {len(removed)} removed)"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    import orjson

    from ioc.bridge.registry import Device

    settings = settings_from(args)
    conn = connect(settings, may_start=False)
    try:
        registry, _ = _current(settings, conn.cluster)
    finally:
        conn.close()
    entries = registry.entries()
    if args.json:
        for entry in entries:
            shown = entry.model_dump(mode="json", exclude={"apikey_sha256"})
            sys.stdout.write(orjson.dumps(shown).decode() + "\n")
        return 0
    print(f"{'DEVICE / SOURCE':<24} {'SENSOR':<24} {'KIND':<12} {'SOURCE':<28} ATTRIBUTES")
    for entry in entries:
        if isinstance(entry, Device):
            names = ", ".join(f"{k}→{a.name}" for k, a in entry.attributes.items())
            print(
                f"{entry.device_id:<24} {entry.sensor_id:<24} {entry.kind:<12} "
                f"{entry.source_id:<28} {names}"
            )
        else:
            print(f"{'(source)':<24} {'':<24} {'':<12} {entry.source_id:<28}")
    return 0
