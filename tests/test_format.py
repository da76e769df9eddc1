"""Money and number formats (SPEC §9): `+523k` below one million, `-2.02M` from one million,
`+1.23B` from one billion, `0k` for zero; rounding never shows `1000k` or `1000.00M`."""

from __future__ import annotations

import math
from datetime import UTC

import pytest

from gme_tui.format import clock, money, percent, price, ratio, stamp, usd, zone_label


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
