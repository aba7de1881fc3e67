"""VN_AQI (Decision 1459/QĐ-TCMT) against values worked out by hand from the breakpoint table.

AQI_x = (I_{i+1} − I_i) / (BP_{i+1} − BP_i) · (C − BP_i) + I_i   for BP_i ≤ C < BP_{i+1}.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ioc.aqi import (
    BREAKPOINTS,
    O3_8H_BREAKPOINTS,
    POLLUTANTS,
    MissingPMError,
    Pollutant,
    daily_aqi,
    hourly_aqi,
    level,
    nowcast,
    round_half_up,
    sub_index,
)
from ioc.cli import aqi as cli
from ioc.cli.common import CommandError

# --- sub-indices ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c", "expected"),
    [
        (0, 0),  # row 1
        (1, 2),  # 50/25·1 = 2
        (12.5, 25),  # 50/25·12.5 = 25
        (24, 48),  # 50/25·24 = 48
        (25, 50),  # BP_2: (100−50)/(50−25)·0 + 50
        (26, 52),  # (100−50)/(50−25)·(26−25) + 50 = 52
        (35, 70),  # (100−50)/(50−25)·(35−25) + 50 = 70
        (49, 98),  # 50/25·24 + 50 = 98
        (50, 100),  # BP_3
        (51, 305 / 3),  # (150−100)/(80−50)·1 + 100 = 101.67
        (79, 445 / 3),  # 50/30·29 + 100 = 148.33
        (80, 150),  # BP_4
        (81, 1055 / 7),  # (200−150)/(150−80)·1 + 150 = 150.71
        (149, 1395 / 7),  # 50/70·69 + 150 = 199.29
        (150, 200),  # BP_5
        (151, 201),  # (300−200)/(250−150)·1 + 200
        (249, 299),  # 100/100·99 + 200
        (250, 300),  # BP_6
        (251, 301),  # (400−300)/(350−250)·1 + 300
        (349, 399),  # 100/100·99 + 300
        (350, 400),  # BP_7
        (351, 1202 / 3),  # (500−400)/(500−350)·1 + 400 = 400.67
        (499, 1498 / 3),  # 100/150·149 + 400 = 499.33
        (500, 500),  # BP_8: "≥ 500"
        (501, 500),  # above the table
        (10_000, 500),
    ],
)
def test_pm25_every_breakpoint_and_either_side(c: float, expected: float) -> None:
    assert sub_index("pm25", c) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pollutant", "c", "expected"),
    [
        ("pm10", 100, 75),  # (100−50)/(150−50)·(100−50) + 50 = 75
        ("pm10", 385, 250),  # (300−200)/(420−350)·(385−350) + 200 = 250
        ("pm10", 550, 450),  # (500−400)/(600−500)·(550−500) + 400 = 450
        ("o3", 80, 25),  # 50/160·80 = 25
        ("o3", 180, 75),  # (100−50)/(200−160)·(180−160) + 50 = 75
        ("o3", 250, 125),  # (150−100)/(300−200)·(250−200) + 100 = 125
        ("o3", 500, 225),  # (300−200)/(800−400)·(500−400) + 200 = 225
        ("no2", 150, 75),  # (100−50)/(200−100)·(150−100) + 50 = 75
        ("no2", 101, 50.5),  # 50/100·1 + 50 = 50.5
        ("no2", 1775, 250),  # (300−200)/(2350−1200)·(1775−1200) + 200 = 250
        ("so2", 450, 125),  # (150−100)/(550−350)·(450−350) + 100 = 125
        ("so2", 1850, 350),  # (400−300)/(2100−1600)·(1850−1600) + 300 = 350
        ("co", 20_000, 75),  # (100−50)/(30000−10000)·(20000−10000) + 50 = 75
        ("co", 52_500, 175),  # (200−150)/(60000−45000)·(52500−45000) + 150 = 175
    ],
)
def test_each_pollutant(pollutant: Pollutant, c: float, expected: float) -> None:
    assert sub_index(pollutant, c) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pollutant", "c"),
    [("pm10", 600), ("o3", 1200), ("no2", 3850), ("so2", 2630), ("co", 150_000), ("co", 1e9)],
)
def test_at_or_above_the_last_breakpoint_is_500(pollutant: Pollutant, c: float) -> None:
    assert sub_index(pollutant, c) == 500


@pytest.mark.parametrize(
    ("c", "expected"),
    [
        (110, 75),  # (100−50)/(120−100)·(110−100) + 50 = 75
        (190, 175),  # (200−150)/(210−170)·(190−170) + 150 = 175
        (305, 250),  # (300−200)/(400−210)·(305−210) + 200 = 250
        (400, 300),  # the column's last breakpoint, closed: the index stays continuous
        (400.001, None),  # no 8-hour rows 7-8: the daily rule takes the 1-hour index
        (1000, None),
    ],
)
def test_o3_8h_column_ends_at_400(c: float, expected: float | None) -> None:
    assert sub_index("o3", c, o3_8h=True) == (None if expected is None else pytest.approx(expected))


# --- rounding and levels ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.0, 0), (0.5, 1), (1.49, 1), (2.5, 3), (62.5, 63), (62.4, 62), (499.5, 500)],
)
def test_round_half_up(x: float, expected: int) -> None:
    assert round_half_up(x) == expected


def test_overall_index_rounds_half_up_not_to_even() -> None:
    # PM2.5 31.25 → 50/25·(31.25−25) + 50 = 62.5 → 63 (Python's round() gives 62)
    assert hourly_aqi(pm25=31.25).aqi == 63
    # PM2.5 31.2 → 50/25·6.2 + 50 = 62.4 → 62
    assert hourly_aqi(pm25=31.2).aqi == 62
    # NO2 101 → 50.5 → 51: Moderate, though the unrounded index is inside "0-50"
    result = hourly_aqi(pm25=0, no2=101)
    assert (result.aqi, result.level.en) == (51, "Moderate")


@pytest.mark.parametrize(
    ("low", "high", "vi", "en", "colour", "rgb", "colour_vi"),
    [
        (0, 50, "Tốt", "Good", "green", (0, 228, 0), "xanh"),
        (51, 100, "Trung bình", "Moderate", "yellow", (255, 255, 0), "vàng"),
        (101, 150, "Kém", "Poor", "orange", (255, 126, 0), "da cam"),
        (151, 200, "Xấu", "Bad", "red", (255, 0, 0), "đỏ"),
        (201, 300, "Rất xấu", "Very bad", "purple", (143, 63, 151), "tím"),
        (301, 500, "Nguy hại", "Hazardous", "maroon", (126, 0, 35), "nâu"),
    ],
)
def test_levels(
    low: int,
    high: int,
    vi: str,
    en: str,
    colour: str,
    rgb: tuple[int, int, int],
    colour_vi: str,
) -> None:
    for aqi in (low, high):  # both ends of the band
        lv = level(aqi)
        assert (lv.vi, lv.en, lv.colour, lv.rgb) == (vi, en, colour, rgb)
        assert (lv.name("vi"), lv.name("en")) == (vi, en)
        assert (lv.colour_name("vi"), lv.colour_name("en")) == (colour_vi, colour)


@pytest.mark.parametrize("aqi", [-1, 501])
def test_level_outside_0_500(aqi: int) -> None:
    with pytest.raises(ValueError, match="0 to 500"):
        level(aqi)


# --- NowCast ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        # w* = 60/100 = 0.6 > ½ → w = 0.6: (60 + 0.6·100) / (1 + 0.6) = 120/1.6 = 75
        ([60, 100], 75),
        # w* = 60/80 = 0.75 → w = 0.75, c3 missing keeps its slot:
        # (80 + 0.75·75 + 0.75³·60) / (1 + 0.75 + 0.75³) = 161.5625/2.171875 = 74.39
        ([80, 75, None, 60], 161.5625 / 2.171875),
        # w* = 14/70 = 0.2 ≤ ½ → w = ½: (70 + ½·14 + ¼·28) / (1 + ½ + ¼) = 84/1.75 = 48
        ([70, 14, 28], 48),
        # w* = 40/100 = 0.4 → w = ½; c2 missing: (40 + ¼·100) / (1 + ¼) = 65/1.25 = 52
        ([40, None, 100], 52),
        # c4 counts in w*: 10/50 = 0.2 → w = ½:
        # (50 + 25 + 12.5 + ⅛·10) / (1 + ½ + ¼ + ⅛) = 88.75/1.875 = 47.33
        ([50, 50, 50, 10], 88.75 / 1.875),
        # w* = 0/10 = 0 → w = ½: (0 + ½·10) / 1.5 = 3.33
        ([0, 10], 10 / 3),
        # all hours equal: w* = 1, a plain mean
        ([30] * 12, 30),
        # a 13th hour is older than the NowCast looks: with it, w* = 0 and the result would drop
        ([30] * 12 + [0], 30),
        # all zero: w* = 0/0, but every weight gives 0
        ([0, 0], 0),
        ([0, None, 0, 0], 0),
    ],
)
def test_nowcast(hours: list[float | None], expected: float) -> None:
    assert nowcast(hours) == pytest.approx(expected)


@pytest.mark.parametrize(
    "hours",
    [[], [50], [50, None, None, 40, 40], [None, None, 50, 50, 50], [None, 50, None, 50]],
)
def test_nowcast_needs_two_of_the_three_newest_hours(hours: list[float | None]) -> None:
    assert nowcast(hours) is None


def test_hourly_pm_from_nowcast() -> None:
    # NowCast(60, 100) = 75 (above); PM2.5 75 → (150−100)/(80−50)·(75−50) + 100 = 141.67 → 142
    result = hourly_aqi(pm25=[60, 100])
    pm25 = result.get("pm25")
    assert pm25 is not None
    assert (pm25.concentration, pm25.basis, pm25.aqi) == (75, "nowcast", 142)
    assert pm25.index == pytest.approx(425 / 3)
    assert (result.aqi, result.level.vi, result.dominant) == (142, "Kém", "pm25")


def test_pm_short_of_recent_hours_is_unavailable_when_the_other_pm_has_an_index() -> None:
    result = hourly_aqi(pm25=[50, None, None], pm10=100)  # PM10 100 → 75
    assert result.unavailable == ("pm25",)
    assert result.get("pm25") is None
    assert (result.aqi, result.dominant) == (75, "pm10")


# --- hourly and daily indices -----------------------------------------------------------------


def test_hourly_overall_is_the_max_and_names_the_dominant_pollutant() -> None:
    # PM2.5 35 → 70; PM10 100 → 75; SO2 450 → 125; CO 20000 → 75 (all above)
    result = hourly_aqi(pm25=35, pm10=100, so2=450, co=20_000)
    assert result.kind == "hourly"
    assert [(p.pollutant, p.aqi) for p in result.pollutants] == [
        ("pm25", 70),
        ("pm10", 75),
        ("so2", 125),
        ("co", 75),
    ]
    assert (result.aqi, result.index, result.dominant) == (125, 125, "so2")
    assert (result.level.vi, result.level.en, result.level.colour) == ("Kém", "Poor", "orange")
    so2 = result.get("so2")
    assert so2 is not None
    assert so2.basis == "1h"


def test_equal_indices_name_the_first_pollutant_in_table_order() -> None:
    # PM10 100, O3 180, NO2 150 and CO 20000 all → 75
    result = hourly_aqi(pm10=100, o3=180, no2=150, co=20_000)
    assert (result.aqi, result.dominant) == (75, "pm10")
    result = hourly_aqi(pm25=0, co=20_000, no2=150)
    assert result.dominant == "no2"


def test_daily_uses_the_given_aggregates() -> None:
    # PM2.5 24-h 35 → 70; PM10 24-h 385 → 250; NO2 max 150 → 75; SO2 max 450 → 125;
    # CO max 52500 → 175; overall 250: Rất xấu, purple
    result = daily_aqi(pm25=35, pm10=385, no2=150, so2=450, co=52_500)
    assert result.kind == "daily"
    assert [(p.pollutant, p.basis, p.aqi) for p in result.pollutants] == [
        ("pm25", "24h", 70),
        ("pm10", "24h", 250),
        ("no2", "max_1h", 75),
        ("so2", "max_1h", 125),
        ("co", "max_1h", 175),
    ]
    assert (result.aqi, result.dominant, result.level.vi) == (250, "pm10", "Rất xấu")
    assert result.level.rgb == (143, 63, 151)


def test_daily_zero_pm_counts() -> None:
    result = daily_aqi(pm25=0)
    assert (result.aqi, result.level.en) == (0, "Good")


@pytest.mark.parametrize(
    ("o3", "o3_8h", "basis", "expected"),
    [
        # 1h 250 → 125 beats 8h 110 → 75
        (250, 110, "max_1h", 125),
        # 1h 180 → 75 loses to 8h 190 → 175
        (180, 190, "max_8h", 175),
        # 8h 400 → 300 (column top) beats 1h 500 → 225
        (500, 400, "max_8h", 300),
        # 8h 450 > 400: the 1-hour index alone, 500 → 225
        (500, 450, "max_1h", 225),
        # no 1-hour maximum given: the 8-hour one, 110 → 75
        (None, 110, "max_8h", 75),
        # no 8-hour maximum: 1h 180 → 75
        (180, None, "max_1h", 75),
    ],
)
def test_daily_o3(o3: float | None, o3_8h: float | None, basis: str, expected: float) -> None:
    result = daily_aqi(pm25=0, o3=o3, o3_8h=o3_8h)
    entry = result.get("o3")
    assert entry is not None
    assert entry.basis == basis
    assert entry.index == pytest.approx(expected)
    assert (result.aqi, result.dominant) == (expected, "o3")


def test_daily_o3_8h_above_400_needs_the_1h_maximum() -> None:
    with pytest.raises(ValueError, match="1-hour maximum"):
        daily_aqi(pm25=10, o3_8h=450)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pollutant", "c", "name"),
    [
        ("pm25", -1, "PM2.5"),
        ("pm10", math.nan, "PM10"),
        ("o3", math.inf, "O3"),
        ("no2", -0.1, "NO2"),
        ("so2", -math.inf, "SO2"),
        ("co", math.nan, "CO"),
    ],
)
def test_negative_or_non_finite_concentration(pollutant: Pollutant, c: float, name: str) -> None:
    with pytest.raises(
        ValueError, match=f"^{re.escape(name)}: concentration must be a finite number"
    ):
        sub_index(pollutant, c)


def test_bad_input_in_the_combined_indices_names_the_pollutant() -> None:
    with pytest.raises(ValueError, match=r"^PM2\.5:"):
        hourly_aqi(pm25=[10, math.nan])
    with pytest.raises(ValueError, match=r"^SO2:"):
        daily_aqi(pm25=10, so2=-5)
    with pytest.raises(ValueError, match=r"^O3:"):
        daily_aqi(pm25=10, o3=10, o3_8h=-1)
    with pytest.raises(ValueError, match="NowCast"):
        nowcast([10, -1])
    with pytest.raises(TypeError, match="PM10"):
        hourly_aqi(pm10="35")  # type: ignore[arg-type]


def test_unknown_pollutant_and_8h_for_other_than_o3() -> None:
    with pytest.raises(ValueError, match="unknown pollutant 'pm1'"):
        sub_index("pm1", 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="O3 only"):
        sub_index("pm25", 5, o3_8h=True)


@pytest.mark.parametrize(
    "compute",
    [
        lambda: hourly_aqi(o3=10, no2=10),
        lambda: hourly_aqi(pm25=[50], pm10=[None, None, 40]),
        lambda: daily_aqi(so2=10),
    ],
)
def test_no_pm_no_index(compute: Callable[[], object]) -> None:
    with pytest.raises(MissingPMError, match=r"PM2\.5 or PM10"):
        compute()
    assert issubclass(MissingPMError, ValueError)


# --- property ---------------------------------------------------------------------------------


@given(st.data())
def test_index_is_monotone_and_within_0_500(data: st.DataObject) -> None:
    pollutant: Pollutant = data.draw(st.sampled_from(POLLUTANTS))
    o3_8h = pollutant == "o3" and data.draw(st.booleans())
    bps = O3_8H_BREAKPOINTS if o3_8h else BREAKPOINTS[pollutant]
    # 8-hour O3 has an index only up to its last breakpoint.
    top = bps[-1] if o3_8h else bps[-1] * 1.5
    # Plain floats rarely land next to a breakpoint, where an overshoot would show.
    near_breakpoint = st.tuples(st.sampled_from(bps), st.floats(-1, 1)).map(
        lambda t: min(top, max(0.0, t[0] + t[1]))
    )
    conc = st.floats(min_value=0, max_value=top) | near_breakpoint
    a, b = sorted((data.draw(conc), data.draw(conc)))
    index_a = sub_index(pollutant, a, o3_8h=o3_8h)
    index_b = sub_index(pollutant, b, o3_8h=o3_8h)
    assert index_a is not None
    assert index_b is not None
    assert 0 <= index_a <= index_b <= 500
    assert round_half_up(index_a) <= round_half_up(index_b)


@given(st.lists(st.none() | st.floats(min_value=0, max_value=1000), max_size=14))
def test_nowcast_lies_between_the_hours_it_weighs(hours: list[float | None]) -> None:
    result = nowcast(hours)
    present = [c for c in hours[:12] if c is not None]
    if result is None:
        assert sum(c is not None for c in hours[:3]) < 2
    else:
        assert min(present) - 1e-9 <= result <= max(present) + 1e-9


# --- CLI --------------------------------------------------------------------------------------


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ioc")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["aqi", *argv])
    return int(args.run(args))


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--pm25", "35", "--pm10", "100", "--so2", "450", "--lang", "en") == 0
    assert capsys.readouterr().out == (
        "hourly VN_AQI (Decision 1459/QĐ-TCMT)\n"
        "pollutant  µg/m³  basis     index\n"
        "PM2.5       35.0  NowCast      70\n"
        "PM10       100.0  NowCast      75\n"
        "SO2        450.0  1-h mean    125  *\n"
        "\n"
        "VN_AQI 125: Poor, orange (255,126,0); dominant (*) SO2\n"
    )


def test_cli_table_in_vietnamese_with_an_unavailable_nowcast(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run("--pm25-nowcast", "50,,", "--pm10", "100") == 0
    out = capsys.readouterr().out
    assert out.startswith("VN_AQI giờ")
    assert "không đủ số liệu cho NowCast" in out
    assert out.endswith("VN_AQI 75: Trung bình, vàng (255,255,0); chất chính (*) PM10\n")


def test_cli_json_with_nowcast(capsys: pytest.CaptureFixture[str]) -> None:
    # "80,75,,60": NowCast 161.5625/2.171875 = 74.39 → (150−100)/(80−50)·(74.39−50) + 100
    # = 140.65 → 141
    assert _run("--pm25-nowcast", "80,75,,60", "--o3", "80", "--json", "--lang", "en") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "hourly"
    assert (out["aqi"], out["dominant"]) == (141, "pm25")
    assert out["level"] == {
        "name": "Poor",
        "vi": "Kém",
        "en": "Poor",
        "colour": "orange",
        "rgb": [255, 126, 0],
    }
    pm25 = out["pollutants"]["pm25"]
    assert pm25["concentration"] == pytest.approx(161.5625 / 2.171875)
    assert pm25["basis"] == "nowcast"
    assert out["pollutants"]["o3"] == {
        "concentration": 80.0,
        "basis": "1h",
        "index": 25.0,
        "aqi": 25,
    }


def test_cli_daily_json(capsys: pytest.CaptureFixture[str]) -> None:
    # PM2.5 35 → 70; O3 1h 180 → 75, 8h 190 → 175: O3 175, Xấu
    assert _run("--daily", "--pm25", "35", "--o3", "180", "--o3-8h", "190", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["kind"], out["aqi"], out["dominant"]) == ("daily", 175, "o3")
    assert out["level"]["name"] == "Xấu"
    assert out["pollutants"]["o3"]["basis"] == "max_8h"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--o3", "10"], "PM2.5 or PM10"),
        (["--pm25", "-3"], "PM2.5: concentration"),
        (["--pm25", "10", "--o3-8h", "100"], "add --daily"),
        (["--daily", "--pm25-nowcast", "10,10"], "--daily takes --pm25"),
    ],
)
def test_cli_user_errors(argv: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        _run(*argv)


@pytest.mark.parametrize(
    "argv",
    [["--pm25-nowcast", "10,x"], ["--pm25", "10", "--pm25-nowcast", "10,10"], ["--lang", "fr"]],
)
def test_cli_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(*argv)
    assert exc.value.code == 2


def test_cli_help_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _run("--help")
    text = capsys.readouterr().out
    for phrase in ("Examples:", "--pm25-nowcast", "newest first", "--daily", "Nguy hại"):
        assert phrase in text
