"""The perp side of a scan at its boundaries (SPEC §4b): perp windows, the OI change, B.

Every comparison is strict and on floats, and every value here is exact in binary floating
point, so each assertion pins one side of one boundary. The figures are the issue's: spot total
exactly 1,000,000 (no B) and 1,000,001 (B); perp total exactly −1,000,000 (no B); OI 1000 → 1010
is exactly 1.0 % (no B), 1000 → 1011 is more (B); spot and perp ratios exactly at 1.15 and 0.85
(no B); a missing or stale OI start sample (no B, change null); no perp (no line, no B).
"""

from __future__ import annotations

import math

import pytest

from gme_tui.engine.derivatives import (
    OiSamples,
    derivatives_hedge,
    derivatives_line,
    hedge_ratio,
    oi_change,
    oi_change_pct,
)
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import Derivatives, ExchangeWindow, OiSpan, ratio_of

MIN = 60_000
W = 50
T = (29_425_520 + W) * MIN  # a scan boundary
START = T - W * MIN  # the window start T − W
MAX_AGE = 10 * MIN
RULES = RuleConfig(quorum=4)
SYMBOL = "BTC/USDT"


def window(exchange: str, buy: float, sell: float, last_price: float | None = 2.0) -> ExchangeWindow:
    return ExchangeWindow(
        exchange=exchange,
        buy=buy,
        sell=sell,
        net=buy - sell,
        ratio=ratio_of(buy, sell),
        trades=2,
        covered_minutes=None,
        minute_nets=(buy - sell,),
        last_price=last_price,
    )


def samples(*points: tuple[int, float]) -> OiSamples:
    out = OiSamples()
    for ts, oi in points:
        out.add(ts, oi)
    return out


def line(
    spot: dict[str, tuple[float, float]],
    perp: dict[str, tuple[float, float]],
    oi: dict[str, OiSamples] | None = None,
    *,
    price: float = 2.0,
) -> Derivatives | None:
    """A symbol's derivatives line at T: spot and perp (buy, sell) per venue, OI samples per venue
    (default: binance 1000 at T − W → 1011 at T, a change of 1.1 %), every perp price `price`."""
    spot_windows = {e: window(e, b, s) for e, (b, s) in spot.items()}
    perp_windows = {e: window(e, b, s, price) for e, (b, s) in perp.items()}
    if oi is None:
        oi = {"binance": samples((START, 1000.0), (T, 1011.0))}
    spans, change = oi_change(oi, {e: w.last_price for e, w in perp_windows.items()}, T, W * MIN, MAX_AGE)
    spot_total = sum(w.net for w in spot_windows.values())
    return derivatives_line(T, SYMBOL, spot_windows, spot_total, perp_windows, spans, change)


def b(item: Derivatives | None, config: RuleConfig = RULES, spot_exchanges: int = 1) -> bool:
    return derivatives_hedge(item, spot_exchanges, config)


SPOT = {"binance": (3_000_000.0, 1_000_000.0)}  # +2,000,000, ratio 3
PERP = {"binance": (1_000_000.0, 3_000_000.0)}  # −2,000,000, ratio 1/3


def test_the_base_case_holds_and_reports_every_figure() -> None:
    item = line(SPOT, PERP)
    assert item is not None
    assert b(item)
    assert item.perp_flows == {"binance": -2_000_000.0}
    assert item.perp_total == -2_000_000.0
    assert item.spot_total == 2_000_000.0
    assert item.spot_ratio == 3.0
    assert item.perp_ratio == 1_000_000.0 / 3_000_000.0
    assert item.oi == {"binance": OiSpan(start=1000.0, end=1011.0, start_ts=START, end_ts=T, price=2.0)}
    assert item.oi_change_pct == (2022.0 - 2000.0) * 100.0 / 2000.0
    assert item.hedge_ratio == 1.0


# ---------------------------------------------------------------- spot side


@pytest.mark.parametrize(("buy", "holds"), [(2_000_000.0, False), (2_000_001.0, True)])
def test_spot_total_must_be_strictly_above_one_million(buy: float, holds: bool) -> None:
    item = line({"binance": (buy, 1_000_000.0)}, PERP)
    assert item is not None
    assert item.spot_total == buy - 1_000_000.0  # exactly 1,000,000 and 1,000,001
    assert b(item) is holds


def test_spot_ratio_exactly_1_15_over_the_spot_exchanges_is_not_above() -> None:
    # each exchange on its own: 1.2 and 1.1; summed: 11.5M / 10M, exactly 1.15
    at = line({"binance": (6_000_000.0, 5_000_000.0), "okx": (5_500_000.0, 5_000_000.0)}, PERP)
    assert at is not None
    assert at.spot_ratio == 1.15
    assert at.spot_total == 1_500_000.0
    assert not b(at)
    above = line({"binance": (6_000_000.0, 5_000_000.0), "okx": (5_500_001.0, 5_000_000.0)}, PERP)
    assert above is not None and above.spot_ratio is not None and above.spot_ratio > 1.15
    assert b(above)


def test_no_spot_exchange_no_b() -> None:
    item = line(SPOT, PERP)
    assert b(item, spot_exchanges=1)
    assert not b(item, spot_exchanges=0)


# ---------------------------------------------------------------- perp side


@pytest.mark.parametrize(("sell", "holds"), [(2_000_000.0, False), (2_000_001.0, True)])
def test_perp_total_must_be_strictly_below_minus_one_million(sell: float, holds: bool) -> None:
    item = line(SPOT, {"binance": (1_000_000.0, sell)})
    assert item is not None
    assert item.perp_total == 1_000_000.0 - sell  # exactly −1,000,000 and −1,000,001
    assert b(item) is holds


def test_perp_ratio_exactly_0_85_over_the_perp_venues_is_not_below() -> None:
    # each venue on its own: 0.8 and 0.9; summed: 8.5M / 10M, exactly 0.85
    at = line(SPOT, {"binance": (4_000_000.0, 5_000_000.0), "okx": (4_500_000.0, 5_000_000.0)})
    assert at is not None
    assert at.perp_ratio == 0.85
    assert at.perp_total == -1_500_000.0
    assert not b(at)
    below = line(SPOT, {"binance": (4_000_000.0, 5_000_000.0), "okx": (4_499_999.0, 5_000_000.0)})
    assert below is not None and below.perp_ratio is not None and below.perp_ratio < 0.85
    assert b(below)


def test_perp_totals_sum_every_venue_in_display_order() -> None:
    item = line(SPOT, {"bybit": (0.0, 1_500_000.0), "binance": (500_000.0, 1_000_000.0)})
    assert item is not None
    assert list(item.windows) == ["binance", "bybit"]
    assert list(item.perp_flows) == ["binance", "bybit"]
    assert item.perp_flows == {"binance": -500_000.0, "bybit": -1_500_000.0}
    assert item.perp_ratios == {"binance": 0.5, "bybit": 0.0}
    assert item.perp_total == -2_000_000.0
    assert item.perp_ratio == 0.2
    assert b(item)


def test_the_number_of_perp_venues_is_a_setting() -> None:
    item = line(SPOT, PERP)
    assert b(item, RuleConfig(quorum=4, b_min_perp_venues=1))
    assert not b(item, RuleConfig(quorum=4, b_min_perp_venues=2))


def test_a_listed_perp_venue_without_trades_has_an_undefined_ratio() -> None:
    item = line(SPOT, {"binance": (0.0, 0.0)})
    assert item is not None
    assert item.perp_ratios == {"binance": None}
    assert item.perp_ratio is None
    assert not b(item)


# ---------------------------------------------------------------- open interest


@pytest.mark.parametrize(("end", "holds"), [(1010.0, False), (1011.0, True)])
def test_oi_change_must_be_strictly_above_one_percent(end: float, holds: bool) -> None:
    item = line(SPOT, PERP, {"binance": samples((START, 1000.0), (T, end))})
    assert item is not None
    if end == 1010.0:
        assert item.oi_change_pct == 1.0  # exactly: (2020 − 2000) · 100 / 2000
    else:
        assert item.oi_change_pct is not None and item.oi_change_pct > 1.0
    assert b(item) is holds


def test_a_missing_oi_start_sample_gives_no_change_and_no_b() -> None:
    item = line(SPOT, PERP, {"binance": samples((START + 1, 1000.0), (T, 1100.0))})  # only after T − W
    assert item is not None
    assert item.oi == {}
    assert item.oi_change_pct is None
    assert not b(item)
    nothing = line(SPOT, PERP, {})
    assert nothing is not None and nothing.oi_change_pct is None and not b(nothing)


def test_a_stale_oi_start_sample_gives_no_change_and_no_b() -> None:
    stale = line(SPOT, PERP, {"binance": samples((START - MAX_AGE - 1, 1000.0), (T, 1100.0))})
    assert stale is not None
    assert stale.oi_change_pct is None
    assert not b(stale)
    oldest_allowed = line(SPOT, PERP, {"binance": samples((START - MAX_AGE, 1000.0), (T, 1100.0))})
    assert oldest_allowed is not None
    assert oldest_allowed.oi["binance"].start_ts == START - MAX_AGE
    assert oldest_allowed.oi_change_pct == 10.0
    assert b(oldest_allowed)


def test_a_stale_oi_end_sample_gives_no_change() -> None:
    stale = line(SPOT, PERP, {"binance": samples((START, 1000.0), (T - MAX_AGE - 1, 1100.0))})
    assert stale is not None and stale.oi_change_pct is None and not b(stale)


def test_oi_samples_are_the_latest_at_or_before_each_end() -> None:
    points = samples(
        (START - 60_000, 900.0),
        (START, 1000.0),  # the start sample: at T − W exactly
        (START + 1, 5000.0),  # after the start: never the start sample
        (T - 60_000, 1005.0),
        (T, 1020.0),  # the end sample: at T exactly
        (T + 1, 9999.0),  # after T: not yet
    )
    spans, change = oi_change({"binance": points}, {"binance": 2.0}, T, W * MIN, MAX_AGE)
    assert spans == {"binance": OiSpan(1000.0, 1020.0, START, T, 2.0)}
    assert change == 2.0


def test_oi_change_weighs_each_venue_by_its_last_perp_price() -> None:
    oi = {
        "binance": samples((START, 1000.0), (T, 1010.0)),  # · 2 → 2000 → 2020
        "okx": samples((START, 500.0), (T, 530.0)),  # · 4 → 2000 → 2120
        "bybit": samples((START, 700.0), (T, 700.0)),  # no last price: not in the OI set
    }
    spans, change = oi_change(oi, {"binance": 2.0, "okx": 4.0, "bybit": None}, T, W * MIN, MAX_AGE)
    assert list(spans) == ["binance", "okx"]
    assert change == (4140.0 - 4000.0) * 100.0 / 4000.0  # 3.5
    assert change == 3.5


def test_oi_change_pct_formula_and_nulls() -> None:
    assert oi_change_pct({}) is None
    assert oi_change_pct({"okx": OiSpan(0.0, 10.0, START, T, 3.0)}) is None  # start sum 0
    assert oi_change_pct({"okx": OiSpan(1000.0, 990.0, START, T, 1.0)}) == -1.0
    assert oi_change_pct({"okx": OiSpan(1000.0, 1011.0, START, T, 1.0)}) == (1011.0 - 1000.0) * 100.0 / 1000.0


def test_oi_samples_keep_order_replace_a_repeated_time_and_prune() -> None:
    points = samples((3 * MIN, 3.0), (1 * MIN, 1.0), (2 * MIN, 2.0), (2 * MIN, 2.5))
    assert points.ts == [MIN, 2 * MIN, 3 * MIN]
    assert points.oi == [1.0, 2.5, 3.0]
    assert points.at(2 * MIN + 30_000, MIN) == (2 * MIN, 2.5)
    assert points.at(MIN - 1, MIN) is None
    points.prune(2 * MIN + 1)  # the latest before the cut stays: it may start a later window
    assert points.ts == [2 * MIN, 3 * MIN]
    points.prune(0)
    assert len(points) == 2


# ---------------------------------------------------------------- no perp, hedge ratio


def test_a_symbol_without_a_perp_has_no_line_and_no_b() -> None:
    assert line(SPOT, {}) is None
    assert not derivatives_hedge(None, 1, RULES)


def test_hedge_ratio_is_reported_not_gated() -> None:
    assert hedge_ratio(-2_000_000.0, 1_000_000.0) == 2.0
    assert hedge_ratio(-2_000_000.0, 0.0) is None
    assert hedge_ratio(500.0, -1_000.0) == 0.5
    item = line({"binance": (0.0, 0.0)}, PERP)
    assert item is not None and item.hedge_ratio is None and item.spot_ratio is None
    assert not b(item)


def test_custom_b_thresholds_are_used() -> None:
    relaxed = RuleConfig(
        quorum=4,
        b_spot_min_flow=10.0,
        b_spot_min_ratio=1.5,
        b_perp_min_flow=10.0,
        b_perp_max_ratio=0.5,
        b_oi_min_change_pct=0.5,
    )
    small = {"binance": (40.0, 20.0)}  # +20, ratio 2
    short = {"binance": (10.0, 40.0)}  # −30, ratio 0.25
    oi = {"binance": samples((START, 1000.0), (T, 1008.0))}  # +0.8 %
    assert b(line(small, short, oi), relaxed)
    assert not b(line(small, short, oi))  # the defaults: far too small
    assert not b(line(small, {"binance": (20.0, 40.0)}, oi), relaxed)  # perp ratio exactly 0.5


def test_an_infinite_spot_ratio_passes_as_for_a_plus() -> None:
    # spot with buys only: ratio +inf (JSON null, but a value, as SPEC §2 says; A+ treats it so)
    item = line({"binance": (2_000_000.0, 0.0)}, PERP)
    assert item is not None and item.spot_ratio == math.inf
    assert b(item)
