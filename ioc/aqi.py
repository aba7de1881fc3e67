"""Vietnam's air-quality index VN_AQI (Decision 1459/QĐ-TCMT, 2019): sub-indices, NowCast,
hourly and daily indices, levels and colours.

Pure computation. Every concentration is in µg/m³, CO included. Rules this module adds where
the decision is silent:

- Rounding is half up (62.5 → 63), not Python's half-to-even.
- Above the last breakpoint of a column the index is 500.
- The O3 8-hour column ends at 400 µg/m³ (index 300); above it there is no 8-hour index and
  the daily O3 index is the 1-hour one.
- NowCast of hours that are all 0 µg/m³ is 0 (w* = 0/0 is undefined, but every weight gives 0).
- Without a PM2.5 or PM10 index there is no VN_AQI: `MissingPMError`, a ValueError.
- Equal sub-indices: the dominant pollutant is the first in `POLLUTANTS` order.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, TypeAlias, get_args

Pollutant: TypeAlias = Literal["pm25", "pm10", "o3", "no2", "so2", "co"]
Lang: TypeAlias = Literal["vi", "en"]
Kind: TypeAlias = Literal["hourly", "daily"]
# Which concentration an index came from.
Basis: TypeAlias = Literal["nowcast", "1h", "24h", "max_1h", "max_8h"]
PMInput: TypeAlias = float | Sequence[float | None] | None

# PM first: they are the pollutants the index cannot do without, so they win ties.
POLLUTANTS: Final[tuple[Pollutant, ...]] = get_args(Pollutant)
DISPLAY_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"pm25": "PM2.5", "pm10": "PM10", "o3": "O3", "no2": "NO2", "so2": "SO2", "co": "CO"}
)

# I_i, rows 1-8 of the table.
INDEX_BREAKPOINTS: Final[tuple[int, ...]] = (0, 50, 100, 150, 200, 300, 400, 500)
# BP_i in µg/m³; the last value of each column is "≥ BP_8".
BREAKPOINTS: Final[Mapping[Pollutant, tuple[float, ...]]] = MappingProxyType(
    {
        "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
        "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
        "o3": (0, 160, 200, 300, 400, 800, 1000, 1200),
        "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
        "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
        "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    }
)
# Rows 1-6 only: the decision has no 8-hour O3 breakpoints for indices 400 and 500.
O3_8H_BREAKPOINTS: Final[tuple[float, ...]] = (0, 100, 120, 170, 210, 400)

NOWCAST_HOURS: Final = 12
MAX_INDEX: Final = 500


class MissingPMError(ValueError):
    """Neither PM2.5 nor PM10 has an index, so there is no VN_AQI."""


@dataclass(frozen=True, slots=True)
class Level:
    """One row of the level table: AQI range, names, colour (`colour` is the English name, as
    machine-readable output carries it; `colour_vi` the one QĐ 1459/QĐ-TCMT prints)."""

    low: int
    high: int
    vi: str
    en: str
    colour: str
    rgb: tuple[int, int, int]
    colour_vi: str

    def name(self, lang: Lang = "vi") -> str:
        return self.vi if lang == "vi" else self.en

    def colour_name(self, lang: Lang = "vi") -> str:
        return self.colour_vi if lang == "vi" else self.colour


LEVELS: Final[tuple[Level, ...]] = (
    Level(0, 50, "Tốt", "Good", "green", (0, 228, 0), "xanh"),
    Level(51, 100, "Trung bình", "Moderate", "yellow", (255, 255, 0), "vàng"),
    Level(101, 150, "Kém", "Poor", "orange", (255, 126, 0), "da cam"),
    Level(151, 200, "Xấu", "Bad", "red", (255, 0, 0), "đỏ"),
    Level(201, 300, "Rất xấu", "Very bad", "purple", (143, 63, 151), "tím"),
    Level(301, 500, "Nguy hại", "Hazardous", "maroon", (126, 0, 35), "nâu"),
)


@dataclass(frozen=True, slots=True)
class PollutantIndex:
    """One pollutant's sub-index and the concentration it came from."""

    pollutant: Pollutant
    concentration: float
    basis: Basis
    index: float
    aqi: int


@dataclass(frozen=True, slots=True)
class AqiResult:
    """A VN_AQI: the overall index, its level, and every sub-index in `POLLUTANTS` order."""

    kind: Kind
    aqi: int
    index: float
    dominant: Pollutant
    level: Level
    pollutants: tuple[PollutantIndex, ...]
    # Given, but without an index (a NowCast short of recent hours).
    unavailable: tuple[Pollutant, ...] = field(default=())

    def get(self, pollutant: Pollutant) -> PollutantIndex | None:
        return next((p for p in self.pollutants if p.pollutant == pollutant), None)

    def as_dict(self, lang: Lang = "vi") -> dict[str, object]:
        """A JSON-ready dict; the level's "name" is in `lang`."""
        return {
            "kind": self.kind,
            "aqi": self.aqi,
            "index": self.index,
            "dominant": self.dominant,
            "level": {
                "name": self.level.name(lang),
                "vi": self.level.vi,
                "en": self.level.en,
                "colour": self.level.colour,
                "rgb": list(self.level.rgb),
            },
            "pollutants": {
                p.pollutant: {
                    "concentration": p.concentration,
                    "basis": p.basis,
                    "index": p.index,
                    "aqi": p.aqi,
                }
                for p in self.pollutants
            },
            "unavailable": list(self.unavailable),
        }


def round_half_up(x: float) -> int:
    """Round to the nearest integer, .5 upwards (x ≥ 0)."""
    # Snap away float noise first, so that an index that is k + 0.5 in exact arithmetic does not
    # round down for being computed as k + 0.49999999999999.
    x = round(x, 9)
    whole = math.floor(x)
    # x - floor(x) is exact; floor(x + 0.5) would add a rounding step of its own.
    return whole + (1 if x - whole >= 0.5 else 0)


def level(aqi: int) -> Level:
    """The level of a (rounded) VN_AQI, 0-500."""
    for row in LEVELS:
        if row.low <= aqi <= row.high:
            return row
    raise ValueError(f"VN_AQI must be an integer from 0 to {MAX_INDEX}, got {aqi!r}")


def _name(pollutant: str) -> str:
    return DISPLAY_NAMES.get(pollutant, pollutant)


def _check(pollutant: str, concentration: float) -> float:
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(
            f"{_name(pollutant)}: concentration must be a finite number ≥ 0 µg/m³, "
            f"got {concentration!r}"
        )
    return float(concentration)


def sub_index(pollutant: Pollutant, concentration: float, *, o3_8h: bool = False) -> float | None:
    """The (unrounded) index of one pollutant: linear between breakpoints, BP_i ≤ C < BP_{i+1}.

    At or above the last breakpoint the index is 500. With `o3_8h` the concentration is an
    8-hour O3 mean: up to 400 µg/m³ (index 300) it has an index; above, None, because the
    decision then takes the 1-hour index alone.
    """
    if pollutant not in BREAKPOINTS:
        raise ValueError(f"unknown pollutant {pollutant!r}; one of {', '.join(POLLUTANTS)}")
    if o3_8h and pollutant != "o3":
        raise ValueError(f"o3_8h is for O3 only, not {_name(pollutant)}")
    c = _check(pollutant, concentration)
    bps = O3_8H_BREAKPOINTS if o3_8h else BREAKPOINTS[pollutant]
    if c >= bps[-1]:
        if not o3_8h:
            return float(MAX_INDEX)
        # The last 8-hour segment is closed at 400: the index is continuous there.
        return float(INDEX_BREAKPOINTS[len(bps) - 1]) if c == bps[-1] else None
    i = bisect_right(bps, c) - 1
    lo, hi = bps[i], bps[i + 1]
    ilo, ihi = INDEX_BREAKPOINTS[i], INDEX_BREAKPOINTS[i + 1]
    # Multiply before dividing: then C just below BP_{i+1} never rounds above I_{i+1}, which
    # keeps the index monotone across breakpoints.
    return (ihi - ilo) * (c - lo) / (hi - lo) + ilo


def _nowcast(hourly: Sequence[float | None], pollutant: str) -> float | None:
    recent = list(hourly[:NOWCAST_HOURS])
    present = [(i, _check(pollutant, c)) for i, c in enumerate(recent) if c is not None]
    if sum(1 for i, _ in present if i < 3) < 2:
        return None
    values = [c for _, c in present]
    cmax = max(values)
    if cmax == 0:
        return 0.0
    w_star = min(values) / cmax
    w = 0.5 if w_star <= 0.5 else w_star
    # A missing hour keeps its place: c_i is weighted w^(i-1) whatever is missing before it.
    weights = [(w**i, c) for i, c in present]
    return sum(wi * c for wi, c in weights) / sum(wi for wi, _ in weights)


def nowcast(hourly: Sequence[float | None]) -> float | None:
    """The NowCast of hourly means c1 (newest), c2, …; None marks a missing hour.

    Only the 12 newest hours count. None when fewer than 2 of c1-c3 are present. All-zero hours
    give 0.
    """
    return _nowcast(hourly, "NowCast")


def _entry(pollutant: Pollutant, c: float, basis: Basis, index: float) -> PollutantIndex:
    return PollutantIndex(pollutant, c, basis, index, round_half_up(index))


def _simple(pollutant: Pollutant, c: float, basis: Basis) -> PollutantIndex:
    index = sub_index(pollutant, c)
    assert index is not None  # only the 8-hour O3 column has no index
    return _entry(pollutant, float(c), basis, index)


def _result(kind: Kind, entries: list[PollutantIndex], unavailable: list[Pollutant]) -> AqiResult:
    if not any(e.pollutant in ("pm25", "pm10") for e in entries):
        why = " (NowCast needs 2 of the 3 newest hours)" if unavailable else ""
        raise MissingPMError(f"VN_AQI needs a PM2.5 or PM10 value{why}")
    entries.sort(key=lambda e: POLLUTANTS.index(e.pollutant))
    top = max(entries, key=lambda e: e.index)  # the first of equals: POLLUTANTS order
    aqi = round_half_up(top.index)
    return AqiResult(
        kind, aqi, top.index, top.pollutant, level(aqi), tuple(entries), tuple(unavailable)
    )


def hourly_aqi(
    *,
    pm25: PMInput = None,
    pm10: PMInput = None,
    o3: float | None = None,
    no2: float | None = None,
    so2: float | None = None,
    co: float | None = None,
) -> AqiResult:
    """The hourly VN_AQI from 1-hour means of O3, NO2, SO2, CO and the NowCast of PM.

    A PM argument is either the hourly means, newest first (the NowCast is computed; too few
    recent hours leaves that PM out, listed in `unavailable`), or one number taken as the
    NowCast concentration already computed.
    """
    entries: list[PollutantIndex] = []
    unavailable: list[Pollutant] = []
    pm: tuple[tuple[Pollutant, PMInput], ...] = (("pm25", pm25), ("pm10", pm10))
    for name, value in pm:
        if value is None:
            continue
        if isinstance(value, int | float):
            c: float | None = value
        elif isinstance(value, str):
            raise TypeError(f"{_name(name)}: a number or a sequence of hourly means, not a str")
        else:
            c = _nowcast(value, name)
        if c is None:
            unavailable.append(name)
        else:
            entries.append(_simple(name, c, "nowcast"))
    gases: tuple[tuple[Pollutant, float | None], ...] = (
        ("o3", o3),
        ("no2", no2),
        ("so2", so2),
        ("co", co),
    )
    entries += [_simple(name, c, "1h") for name, c in gases if c is not None]
    return _result("hourly", entries, unavailable)


def daily_aqi(
    *,
    pm25: float | None = None,
    pm10: float | None = None,
    o3: float | None = None,
    o3_8h: float | None = None,
    no2: float | None = None,
    so2: float | None = None,
    co: float | None = None,
) -> AqiResult:
    """The daily VN_AQI from the day's aggregates the caller computed.

    pm25, pm10: 24-hour means (01:00-24:00). o3, no2, so2, co: the day's maximum 1-hour mean.
    o3_8h: the day's maximum 8-hour O3 mean; O3's index is the larger of the 1-hour and 8-hour
    ones, or the 1-hour one alone when the 8-hour maximum exceeds 400 µg/m³.
    """
    inputs: tuple[tuple[Pollutant, float | None, Basis], ...] = (
        ("pm25", pm25, "24h"),
        ("pm10", pm10, "24h"),
        ("no2", no2, "max_1h"),
        ("so2", so2, "max_1h"),
        ("co", co, "max_1h"),
    )
    entries = [_simple(name, c, basis) for name, c, basis in inputs if c is not None]
    o3_entry = _daily_o3(o3, o3_8h)
    if o3_entry is not None:
        entries.append(o3_entry)
    return _result("daily", entries, [])


def _daily_o3(max_1h: float | None, max_8h: float | None) -> PollutantIndex | None:
    one = None if max_1h is None else _simple("o3", max_1h, "max_1h")
    if max_8h is None:
        return one
    index_8h = sub_index("o3", max_8h, o3_8h=True)
    if index_8h is None:
        if one is None:
            raise ValueError(
                f"O3: the 8-hour maximum {max_8h} µg/m³ is above 400, where the index comes "
                "from the 1-hour maximum alone; give the 1-hour maximum too"
            )
        return one
    if one is not None and one.index >= index_8h:
        return one
    return _entry("o3", float(max_8h), "max_8h", index_8h)
