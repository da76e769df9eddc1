"""Money and number formats (SPEC §9): `+523k` below one million, `-2.02M` from one million,
`+1.23B` from one billion, `0k` for zero; rounding never shows `1000k` or `1000.00M`."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC

import pytest

from gme_tui.format import clock, money, percent, price, ratio, stamp, usd, zone, zone_label
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (523_450.0, "+523k"),
        (-523_450.0, "-523k"),
        (97_000.0, "+97k"),
        (1_000.0, "+1k"),
        (999_499.0, "+999k"),  # still below the rounding edge
        (999_500.0, "+1.00M"),  # would round to 1000k: the next unit takes over
        (-999_500.0, "-1.00M"),
        (1_000_000.0, "+1.00M"),
        (-2_021_000.0, "-2.02M"),
        (2_021_000.0, "+2.02M"),
        (999_994_999.0, "+999.99M"),
        (999_995_000.0, "+1.00B"),  # would round to 1000.00M
        (-999_995_000.0, "-1.00B"),
        (1_000_000_000.0, "+1.00B"),
        (1_230_000_000.0, "+1.23B"),
        (-1_230_000_000.0, "-1.23B"),
    ],
)
def test_money_units_and_rounding_edges(value: float, text: str) -> None:
    assert money(value) == text


@pytest.mark.parametrize("zero", [0, 0.0, -0.0])
def test_money_zero_is_0k(zero: float) -> None:
    assert money(zero) == "0k"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (400.0, "+0.4k"),
        (-400.0, "-0.4k"),
        (50.0, "+0.1k"),
        (-12.0, "-0.01k"),
        (0.5, "+0.00k"),  # tiny but not zero: the sign survives
        (-0.5, "-0.00k"),
        (999.0, "+1k"),  # rounds to one thousand: written like 1,000 is, never "+1.0k"
        (-960.0, "-1k"),
        (949.0, "+0.9k"),
    ],
)
def test_money_small_values_keep_their_sign(value: float, text: str) -> None:
    assert money(value) == text


def test_money_infinities() -> None:
    assert money(math.inf) == "+∞"
    assert money(-math.inf) == "-∞"


def test_usd_price_ratio_percent() -> None:
    assert usd(523_450.4) == "$523,450"
    assert price(42_150.0) == "42,150"
    assert price(98.5) == "98.5"
    assert price(0.0000123) == "0.0000123"
    assert price(None) == "-"
    assert ratio(1.15) == "1.15"
    assert ratio(math.inf) == "∞"
    assert ratio(None) == "-"
    assert percent(0.0125) == "+1.25%"
    assert percent(None) == "-"


def test_clock_stamp_and_zone_label_in_utc() -> None:
    ts = 1_765_530_000_123  # 2025-12-12 09:00:00.123 UTC
    assert clock(ts, UTC) == "09:00:00"
    assert clock(ts, UTC, seconds=False) == "09:00"
    assert stamp(ts, UTC) == "2025-12-12 09:00:00"
    assert zone_label(UTC, ts) == "UTC+00:00"


# ---------------------------------------------------------------- time zones resolved per timestamp (SPEC §9)

JULY_NOON_UTC = 1_751_371_200_000  # 2025-07-01 12:00:00 UTC: summer time in Berlin (CEST, UTC+2)
DECEMBER_NOON_UTC = 1_765_540_800_000  # 2025-12-12 12:00:00 UTC: winter time in Berlin (CET, UTC+1)
BERLIN_SPRING_FORWARD = 1_743_296_400_000  # 2025-03-30 01:00 UTC: 02:00 CET becomes 03:00 CEST
BERLIN_FALL_BACK = 1_761_440_400_000  # 2025-10-26 01:00 UTC: 03:00 CEST becomes 02:00 CET


def test_a_named_zone_follows_daylight_saving_per_timestamp() -> None:
    """One zone object, two seasons: the July event is 14:00 CEST, not 13:00 at a frozen UTC+1."""
    berlin = zone("Europe/Berlin")
    assert clock(JULY_NOON_UTC, berlin, seconds=False) == "14:00"
    assert zone_label(berlin, JULY_NOON_UTC) == "UTC+02:00 (CEST)"
    assert stamp(JULY_NOON_UTC, berlin) == "2025-07-01 14:00:00"
    assert clock(DECEMBER_NOON_UTC, berlin, seconds=False) == "13:00"
    assert zone_label(berlin, DECEMBER_NOON_UTC) == "UTC+01:00 (CET)"


def test_a_named_zone_across_both_changes_of_the_year() -> None:
    berlin = zone("Europe/Berlin")
    second = 1_000
    assert clock(BERLIN_SPRING_FORWARD - second, berlin) == "01:59:59"
    assert clock(BERLIN_SPRING_FORWARD, berlin) == "03:00:00"
    assert clock(BERLIN_FALL_BACK - second, berlin) == "02:59:59"
    assert zone_label(berlin, BERLIN_FALL_BACK - second) == "UTC+02:00 (CEST)"
    assert clock(BERLIN_FALL_BACK, berlin) == "02:00:00"  # the repeated hour, now in winter time
    assert zone_label(berlin, BERLIN_FALL_BACK) == "UTC+01:00 (CET)"


def test_zone_label_of_zones_without_abbreviation() -> None:
    assert zone_label(zone("Asia/Shanghai"), JULY_NOON_UTC) == "UTC+08:00 (CST)"
    assert zone_label(zone("Asia/Dubai"), JULY_NOON_UTC) == "UTC+04:00"  # tzdata names it "+04"
    assert zone_label(zone("Asia/Kolkata"), JULY_NOON_UTC) == "UTC+05:30 (IST)"
    assert zone_label(zone("UTC"), JULY_NOON_UTC) == "UTC+00:00"


def _in_system_zone(tz_env: str, code: str) -> str:
    """Run `code` in a fresh interpreter whose TZ is `tz_env`; its stdout, stripped."""
    env = {k: v for k, v in os.environ.items() if k != "TZ"} | {"TZ": tz_env, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


SYSTEM_ZONE_TIMES = f"""
from gme_tui.format import clock, zone, zone_label
system = zone("")
for ts in ({JULY_NOON_UTC}, {DECEMBER_NOON_UTC}):
    print(clock(ts, system, seconds=False), zone_label(system, ts))
"""


@pytest.mark.parametrize(
    "tz_env",
    [
        "Europe/Berlin",  # an IANA name: zoneinfo
        ":Europe/Berlin",  # the C library's spelling of the same
        "CET-1CEST,M3.5.0,M10.5.0/3",  # a POSIX rule: zoneinfo cannot read it, the C library can
    ],
)
def test_the_system_zone_follows_daylight_saving(tz_env: str) -> None:
    """The empty `timezone` setting: the system's zone, never its offset frozen at start."""
    lines = _in_system_zone(tz_env, SYSTEM_ZONE_TIMES).splitlines()
    assert lines == ["14:00 UTC+02:00 (CEST)", "13:00 UTC+01:00 (CET)"]


def test_an_empty_tz_is_utc_as_for_the_c_library() -> None:
    lines = _in_system_zone("", SYSTEM_ZONE_TIMES).splitlines()
    assert lines == ["12:00 UTC+00:00", "12:00 UTC+00:00"]


LOCAL_ZONE_AGAINST_ZONEINFO = f"""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from gme_tui.format import LocalZone
local, berlin = LocalZone(), ZoneInfo("Europe/Berlin")
bad = []
for edge in ({BERLIN_SPRING_FORWARD}, {BERLIN_FALL_BACK}, {JULY_NOON_UTC}, {DECEMBER_NOON_UTC}):
    for step in range(-12, 13):  # every quarter hour for three hours either side
        ts = edge / 1000 + step * 900
        mine, right = datetime.fromtimestamp(ts, local), datetime.fromtimestamp(ts, berlin)
        same = (mine.replace(tzinfo=None), mine.fold, mine.utcoffset(), mine.tzname(), mine.dst(), mine.timestamp())
        want = (right.replace(tzinfo=None), right.fold, right.utcoffset(), right.tzname(), right.dst(), right.timestamp())
        if same != want:
            bad.append((ts, same, want))
gap = datetime(2025, 3, 30, 2, 30)  # a wall time that never happened
for fold in (0, 1):
    mine, right = gap.replace(tzinfo=local, fold=fold), gap.replace(tzinfo=berlin, fold=fold)
    if mine.utcoffset() != right.utcoffset():
        bad.append(("gap", fold, mine.utcoffset(), right.utcoffset()))
print(bad or "same")
"""


def test_the_c_library_fallback_agrees_with_zoneinfo() -> None:
    """LocalZone (used where no zone file names the system's zone) against zoneinfo, in Berlin,
    around both changes: wall time, fold, offset, name, DST amount and the instant back."""
    assert _in_system_zone("Europe/Berlin", LOCAL_ZONE_AGAINST_ZONEINFO) == "same"
