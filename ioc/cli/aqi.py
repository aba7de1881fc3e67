"""`ioc aqi`: the VN_AQI air-quality index of concentrations given on the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ioc.aqi import (
    DISPLAY_NAMES,
    LEVELS,
    POLLUTANTS,
    AqiResult,
    Lang,
    Pollutant,
    PollutantIndex,
    daily_aqi,
    hourly_aqi,
)
from ioc.cli.common import CommandError

HELP = "compute the Vietnamese air-quality index VN_AQI (Decision 1459/QĐ-TCMT)"
_LEVEL_ROWS = "\n".join(
    f"  {lv.low:>3}-{lv.high:<3}  {lv.vi} / {lv.en}, {lv.colour_vi} / {lv.colour}" for lv in LEVELS
)
DESCRIPTION = f"""\
Compute VN_AQI, Vietnam's air-quality index (Decision 1459/QĐ-TCMT, 2019), from concentrations
in µg/m³ (CO too, not mg/m³), and print each pollutant's index, the overall index (the largest,
rounded half up), the dominant pollutant and the level.

Hourly (the default):
  --o3, --no2, --so2, --co     1-hour means
  --pm25, --pm10               NowCast concentrations, already computed; or instead
  --pm25-nowcast, --pm10-nowcast C1,C2,…
                               the hourly means, newest first, comma separated; an empty entry
                               is a missing hour (80,75,,60). ioc computes the NowCast from the
                               12 newest; it needs 2 of the 3 newest hours, else that PM has no
                               index.
Daily (--daily):
  --pm25, --pm10               24-hour means (01:00-24:00)
  --o3, --no2, --so2, --co     the day's maximum 1-hour mean
  --o3-8h                      the day's maximum 8-hour O3 mean; O3 then counts the larger of
                               its 1-hour and 8-hour indices (the 1-hour alone above 400 µg/m³)

At least one of PM2.5 and PM10 is needed. Levels:
{_LEVEL_ROWS}
"""
EPILOG = """\
Examples:
  ioc aqi --pm25 35 --pm10 100 --o3 80 --no2 150
      hourly index from NowCast PM concentrations and 1-hour means
  ioc aqi --pm25-nowcast 80,75,,60 --so2 450 --lang en
      PM2.5 NowCast from hourly means (the third hour missing); English level names
  ioc aqi --daily --pm25 35 --o3 180 --o3-8h 190 --json
      daily index, as JSON
"""

_TEXT: dict[Lang, dict[str, str]] = {
    "vi": {
        "hourly": "VN_AQI giờ (QĐ 1459/QĐ-TCMT)",
        "daily": "VN_AQI ngày (QĐ 1459/QĐ-TCMT)",
        "pollutant": "chất",
        "basis": "cơ sở",
        "index": "chỉ số",
        "dominant": "chất chính",
        "unavailable": "không đủ số liệu cho NowCast",
        "nowcast": "NowCast",
        "1h": "TB 1 giờ",
        "24h": "TB 24 giờ",
        "max_1h": "TB 1 giờ lớn nhất",
        "max_8h": "TB 8 giờ lớn nhất",
    },
    "en": {
        "hourly": "hourly VN_AQI (Decision 1459/QĐ-TCMT)",
        "daily": "daily VN_AQI (Decision 1459/QĐ-TCMT)",
        "pollutant": "pollutant",
        "basis": "basis",
        "index": "index",
        "dominant": "dominant",
        "unavailable": "too few hours for the NowCast",
        "nowcast": "NowCast",
        "1h": "1-h mean",
        "24h": "24-h mean",
        "max_1h": "max 1-h mean",
        "max_8h": "max 8-h mean",
    },
}


def _series(text: str) -> list[float | None]:
    """C1,C2,… newest first; empty entries are missing hours."""
    values: list[float | None] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            values.append(None)
            continue
        try:
            values.append(float(entry))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} is not a number (hourly means, newest first: 80,75,,60)"
            ) from None
    return values


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "aqi",
        help=HELP,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for name in ("pm25", "pm10"):
        group = p.add_mutually_exclusive_group()
        group.add_argument(
            f"--{name}",
            type=float,
            metavar="C",
            help=f"{DISPLAY_NAMES[name]}: NowCast (hourly) or 24-h mean (--daily)",
        )
        group.add_argument(
            f"--{name}-nowcast",
            type=_series,
            metavar="C1,C2,…",
            help=f"{DISPLAY_NAMES[name]} hourly means, newest first (hourly only)",
        )
    for name in ("o3", "no2", "so2", "co"):
        p.add_argument(
            f"--{name}",
            type=float,
            metavar="C",
            help=f"{DISPLAY_NAMES[name]}: 1-h mean (--daily: the day's max 1-h mean)",
        )
    p.add_argument("--o3-8h", type=float, metavar="C", help="max 8-hour O3 mean (daily only)")
    p.add_argument("--daily", action="store_true", help="the daily index instead of the hourly")
    p.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of the output (default: vi)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run)


def _compute(args: argparse.Namespace) -> AqiResult:
    gases = {"o3": args.o3, "no2": args.no2, "so2": args.so2, "co": args.co}
    if args.daily:
        if args.pm25_nowcast is not None or args.pm10_nowcast is not None:
            raise CommandError(
                "--pm25-nowcast/--pm10-nowcast are hourly; --daily takes --pm25/--pm10"
            )
        return daily_aqi(pm25=args.pm25, pm10=args.pm10, o3_8h=args.o3_8h, **gases)
    if args.o3_8h is not None:
        raise CommandError("--o3-8h is for the daily index: add --daily")
    pm25 = args.pm25 if args.pm25_nowcast is None else args.pm25_nowcast
    pm10 = args.pm10 if args.pm10_nowcast is None else args.pm10_nowcast
    return hourly_aqi(pm25=pm25, pm10=pm10, **gases)


def _table(result: AqiResult, lang: Lang) -> list[str]:
    text = _TEXT[lang]
    rows = [(text["pollutant"], "µg/m³", text["basis"], text["index"], "")]
    shown: list[PollutantIndex | Pollutant] = [*result.pollutants, *result.unavailable]
    shown.sort(key=lambda x: POLLUTANTS.index(x if isinstance(x, str) else x.pollutant))
    for item in shown:
        if isinstance(item, str):
            rows.append((DISPLAY_NAMES[item], "-", text["nowcast"], "-", text["unavailable"]))
            continue
        mark = "*" if item.pollutant == result.dominant else ""
        conc = f"{item.concentration:.1f}"
        rows.append((DISPLAY_NAMES[item.pollutant], conc, text[item.basis], str(item.aqi), mark))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [text[result.kind]]
    for name, conc, basis, index, note in rows:
        line = (
            f"{name:<{widths[0]}}  {conc:>{widths[1]}}  {basis:<{widths[2]}}  "
            f"{index:>{widths[3]}}  {note}"
        )
        lines.append(line.rstrip())
    lv = result.level
    r, g, b = lv.rgb
    lines.append("")
    lines.append(
        f"VN_AQI {result.aqi}: {lv.name(lang)}, {lv.colour_name(lang)} ({r},{g},{b}); "
        f"{text['dominant']} (*) {DISPLAY_NAMES[result.dominant]}"
    )
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        result = _compute(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    lang: Lang = args.lang
    if args.json:
        print(json.dumps(result.as_dict(lang), ensure_ascii=False, indent=2))
        return 0
    for line in _table(result, lang):
        print(line)
    return 0
