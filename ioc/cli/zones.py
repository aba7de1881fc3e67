"""`ioc zones show | check | locate`: the zone set an operator's alerts are placed with."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ioc.cli.common import CommandError, settings_from
from ioc.districts import DISTRICT_SLUGS, district
from ioc.geo import ZoneIndex, ZoneSet, ZoneSetError, load_zones

HELP = "show, check and query zones (districts, restricted, flood, school zones, …)"
DESCRIPTION = """\
Zones are GeoJSON (RFC 7946) features: WGS84 [lon, lat] polygons with properties
  id, kind (province|district|ward|restricted|flood|school|low_emission|…), name (Vietnamese),
  name_en, district (slug of the district IOC that owns it; null: the provincial IOC),
  schedule ({"start": "22:00", "end": "05:00", "days": [...], "tz": "Asia/Ho_Chi_Minh"}).
Without --zones FILE (or IOC_ZONES) the approximate Lâm Đồng zone set shipped with ioc is used.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "zones",
        help=HELP,
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    zsub = p.add_subparsers(dest="zones_command", metavar="ACTION", required=True)

    show = zsub.add_parser(
        "show",
        help="a summary table of the zone set",
        description=(
            "One line per zone: id, kind, name, the district IOC that owns it, its schedule;\n"
            "then the zone set's version, which every alert carries (zoneset_version)."
        ),
        epilog=(
            "Examples:\n"
            "  ioc zones show                          # the zone set in use\n"
            "  ioc zones show --zones my-zones.geojson --kind restricted"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("--zones", type=Path, metavar="FILE", help="zone file (default: IOC_ZONES)")
    show.add_argument("--kind", help="only zones of this kind")
    show.set_defaults(run=run_show)

    check = zsub.add_parser(
        "check",
        help="validate a zone file and explain every problem",
        description=(
            "Validate a GeoJSON zone file before workers use it: every problem is named with\n"
            "its feature and field, not only the first. A self-intersecting polygon is\n"
            "repaired, with a warning. Exit 0 when the file is usable, 1 otherwise."
        ),
        epilog=(
            "Example:\n  ioc zones check my-zones.geojson && IOC_ZONES=my-zones.geojson ioc worker"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("file", type=Path, metavar="FILE", help="the GeoJSON FeatureCollection")
    check.set_defaults(run=run_check)

    locate = zsub.add_parser(
        "locate",
        help="which district and zones contain a point",
        description="Which district IOC owns a point, and which zones contain it.",
        epilog="Example:\n  ioc zones locate 11.9404 108.4583      # Đà Lạt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    locate.add_argument("lat", type=float, metavar="LAT", help="latitude (WGS84)")
    locate.add_argument("lon", type=float, metavar="LON", help="longitude (WGS84)")
    locate.add_argument("--zones", type=Path, metavar="FILE", help="zone file (default: IOC_ZONES)")
    locate.add_argument("--at", metavar="TIME", help="ISO time for zone schedules (default: now)")
    locate.add_argument("--json", action="store_true", help="print JSON")
    locate.set_defaults(run=run_locate)


def zone_set_from(args: argparse.Namespace) -> ZoneSet:
    """--zones FILE, else IOC_ZONES, else the shipped zones; a bad file is a CommandError."""
    path = args.zones or settings_from(args).zones
    try:
        return load_zones(path)
    except ZoneSetError as exc:
        raise CommandError(str(exc)) from None


def _district_label(slug: str | None) -> str:
    if slug is None:
        return "— (provincial IOC)"
    if slug in DISTRICT_SLUGS:
        return f"{slug} ({district(slug).name_vi})"
    return slug


def run_show(args: argparse.Namespace) -> int:
    zone_set = zone_set_from(args)
    zones = [z for z in zone_set.zones if args.kind is None or z.kind == args.kind]
    print(f"{zone_set.name} — {len(zone_set)} zones, version {zone_set.version}")
    print(f"source: {zone_set.source}")
    header = f"{'id':<34} {'kind':<13} {'district':<10} {'km²':>9} {'vertices':>8}  name / schedule"
    print(header)
    print("-" * len(header))
    for z in zones:
        schedule = "; ".join(s.describe() for s in z.schedules)
        print(
            f"{z.id:<34} {z.kind:<13} {z.district or '—':<10} {z.area_km2:>9.2f} "
            f"{z.vertices:>8}  {z.name}{'  [' + schedule + ']' if schedule else ''}"
        )
    for warning in zone_set.warnings:
        print(f"warning: {warning}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    try:
        zone_set = load_zones(args.file)
    except ZoneSetError as exc:
        print(f"invalid: {exc}")
        return 1
    for warning in zone_set.warnings:
        print(f"warning: {warning}")
    kinds: dict[str, int] = {}
    for z in zone_set.zones:
        kinds[z.kind] = kinds.get(z.kind, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    print(f"ok: {args.file}: {len(zone_set)} zones ({summary}), version {zone_set.version}")
    return 0


def run_locate(args: argparse.Namespace) -> int:
    if not (-90 <= args.lat <= 90 and -180 <= args.lon <= 180):
        raise CommandError(f"({args.lat}, {args.lon}) is not a WGS84 latitude, longitude")
    try:
        when = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
    except ValueError:
        raise CommandError(f"--at {args.at!r} is not an ISO time") from None
    if when.tzinfo is None:
        raise CommandError("--at needs a zone, e.g. 2026-11-23T23:00+07:00")
    zone_set = zone_set_from(args)
    owner, zones = ZoneIndex(zone_set).locate_one(args.lat, args.lon)
    if args.json:
        out = {
            "lat": args.lat,
            "lon": args.lon,
            "district": owner,
            "zones": [
                {"id": z.id, "kind": z.kind, "name": z.name, "active": z.active_at(when)}
                for z in zones
            ],
            "zoneset_version": zone_set.version,
        }
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"({args.lat}, {args.lon}) district: {_district_label(owner)}")
    if not zones:
        print("  in no zone of this set")
    for z in zones:
        state = ""
        if z.schedules:
            state = "  active now" if z.active_at(when) else "  inactive now"
        print(f"  {z.kind:<13} {z.id:<34} {z.name}{state}")
    return 0
