"""The engine's perp side (gme_tui/engine/perps.py, SPEC §4b): perp flow kept apart from spot,
participation by listing or trade, OI samples per venue, liquidation sums per window, pruning."""

from __future__ import annotations

from gme_tui.engine.perps import PerpSide
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import (
    Coverage,
    ExchangeWindow,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    ratio_of,
)

MIN = 60_000
W = 50
T = (29_425_520 + W) * MIN
FIRST, LAST = T // MIN - W, T // MIN - 1
RULES = RuleConfig(quorum=4)
SYMBOL = "BTC/USDT"


def spot(buy: float, sell: float) -> dict[str, ExchangeWindow]:
    return {
        "binance": ExchangeWindow("binance", buy, sell, buy - sell, ratio_of(buy, sell), 2, None, (buy - sell,), 2.0)
    }


def feed(side: PerpSide, *trades: PerpTrade, keep_from: int = 0) -> int:
    applied = 0
    for trade in trades:
        pair = side.admit(trade, keep_from)
        if pair is not None:
            side.apply(pair, trade)
            applied += 1
    return applied


def scan(side: PerpSide, spot_windows: dict[str, ExchangeWindow] | None = None, track: bool = False):
    windows = spot_windows if spot_windows is not None else spot(3_000_000.0, 1_000_000.0)
    total = sum(w.net for w in windows.values())
    return side.scan_symbol(SYMBOL, T, FIRST, LAST, windows, total, RULES, track_coverage=track, window_minutes=W)


def test_perp_flow_sums_per_venue_and_the_b_figures_follow() -> None:
    side = PerpSide(("binance", "okx", "bybit"))
    assert (
        feed(
            side,
            PerpTrade("okx", SYMBOL, T - 30 * MIN, "sell", 50_000.0, 40.0, "1"),  # −2,000,000
            PerpTrade("binance", SYMBOL, T - 20 * MIN, "buy", 50_000.0, 10.0, "a"),  # +500,000
            PerpTrade("binance", SYMBOL, T - 10 * MIN, "sell", 50_000.0, 20.0, "b"),  # −1,000,000
        )
        == 3
    )
    side.add_oi(OpenInterest("binance", SYMBOL, T - W * MIN, 1000.0))
    side.add_oi(OpenInterest("binance", SYMBOL, T - 30_000, 1011.0))
    line = scan(side)
    assert line is not None
    assert line.perp_flows == {"binance": -500_000.0, "okx": -2_000_000.0}
    assert line.perp_total == -2_500_000.0
    assert line.perp_ratio == 500_000.0 / 3_000_000.0
    assert line.spot_total == 2_000_000.0
    assert list(line.oi) == ["binance"]  # okx has no OI samples: not in the OI set
    assert line.oi["binance"].price == 50_000.0  # the venue's last perp price
    assert line.oi_change_pct is not None and line.oi_change_pct > 1.0
    assert line.hedge_ratio == 1.25


def test_a_trade_at_or_after_the_scan_is_not_in_its_window() -> None:
    side = PerpSide(("binance",))
    feed(
        side,
        PerpTrade("binance", SYMBOL, T, "sell", 1.0, 5.0, "late"),
        PerpTrade("binance", SYMBOL, T - 1, "sell", 1.0, 3.0),
    )
    line = scan(side)
    assert line is not None and line.perp_flows == {"binance": -3.0}


def test_duplicates_late_and_disabled_venues_are_counted_not_added() -> None:
    side = PerpSide(("okx",))
    trade = PerpTrade("okx", SYMBOL, T - MIN, "buy", 10.0, 1.0, "7")
    assert feed(side, trade, trade) == 1
    assert feed(side, PerpTrade("binance", SYMBOL, T - MIN, "buy", 10.0, 1.0, "7")) == 0
    assert feed(side, PerpTrade("okx", SYMBOL, T - 100 * MIN, "buy", 10.0, 1.0, "8"), keep_from=T // MIN - 60) == 0
    assert feed(side, PerpTrade("okx", SYMBOL, T - MIN, "buy", 10.0, 1.0)) == 1  # no id: never a duplicate
    assert (side.counts["duplicates"], side.counts["ignored"], side.counts["late"], side.counts["trades"]) == (
        1,
        1,
        1,
        2,
    )
    line = scan(side)
    assert line is not None and line.perp_flows == {"okx": 20.0}


def test_a_listed_venue_participates_with_zero_flow_and_no_perp_means_no_line() -> None:
    side = PerpSide(("binance", "okx", "bybit"))
    assert scan(side) is None  # no perp venue: no derivatives line
    side.set_listings(Listings({SYMBOL: ("okx", "coinbase")}, market="perp"))
    line = scan(side)
    assert line is not None
    assert line.perp_flows == {"okx": 0.0}  # coinbase is not a perp venue here
    assert line.perp_ratios == {"okx": None}
    assert line.perp_ratio is None and line.oi_change_pct is None


def test_perp_buckets_count_once_and_coverage_is_reported_live() -> None:
    side = PerpSide(("binance",))
    bucket = MinuteBucket("binance", SYMBOL, LAST, 100.0, 300.0, 4, 50_000.0, market="perp")
    pair = side.admit_bucket(bucket, 0)
    assert pair is not None
    side.apply_bucket(pair, bucket)
    assert side.admit_bucket(bucket, 0) is None and side.counts["duplicates"] == 1
    side.cover(Coverage("binance", SYMBOL, FIRST, LAST, market="perp"), 0)
    line = scan(side, track=True)
    assert line is not None
    assert line.perp_flows == {"binance": -200.0}
    assert line.perp_coverage == {"binance": W}
    assert line.windows["binance"].last_price == 50_000.0


def test_liquidations_sum_per_side_over_the_window_and_binance_marks_them_sampled() -> None:
    side = PerpSide(("binance", "bybit"))
    feed(side, PerpTrade("bybit", SYMBOL, T - MIN, "buy", 1.0, 1.0))
    items = [
        Liquidation(T - 5 * MIN, "bybit", SYMBOL, "long", 41_900.0, 3.0, 125_700.0),
        Liquidation(T - 4 * MIN, "bybit", SYMBOL, "long", 41_000.0, 1.0, 41_000.0),
        Liquidation(T - 3 * MIN, "bybit", SYMBOL, "short", 42_000.0, 0.5, 21_000.0),
        Liquidation(T + 1, "bybit", SYMBOL, "short", 42_000.0, 1.0, 42_000.0),  # after the scan: not in it
        Liquidation(T - 60 * MIN, "bybit", SYMBOL, "long", 40_000.0, 1.0, 40_000.0),  # before the window
    ]
    for item in items:
        assert side.add_liquidation(item, 0)
    line = scan(side)
    assert line is not None
    assert (line.liquidated_long, line.liquidated_short, line.liquidations_sampled) == (166_700.0, 21_000.0, False)
    side.add_liquidation(Liquidation(T - 2 * MIN, "binance", SYMBOL, "short", 42_000.0, 1.0, 42_000.0), 0)
    line = scan(side)
    assert line is not None
    assert (line.liquidated_short, line.liquidations_sampled) == (63_000.0, True)
    assert not side.add_liquidation(Liquidation(T, "okx", SYMBOL, "long", 1.0, 1.0, 1.0), 0)  # okx is off


def test_pruning_bounds_minutes_oi_and_liquidations() -> None:
    side = PerpSide(("okx",))
    for minute in range(0, 200):
        ts = T - (200 - minute) * MIN
        feed(side, PerpTrade("okx", SYMBOL, ts, "buy", 1.0, 1.0, str(minute)))
        side.add_oi(OpenInterest("okx", SYMBOL, ts, float(minute)))
        side.add_liquidation(Liquidation(ts, "okx", SYMBOL, "long", 1.0, 1.0, 1.0), 0)
    keep_from = FIRST - 10
    side.prune(keep_from, T - W * MIN - RULES.oi_max_age_ms)
    pair = side.pairs[("okx", SYMBOL)]
    assert min(pair.minutes) == keep_from
    samples = side.oi[SYMBOL]["okx"]
    assert samples.ts[0] == T - W * MIN - RULES.oi_max_age_ms  # the latest at or before the cut stays
    assert len(samples) == 50 + 10
    assert min(side.liquidations[SYMBOL]) == keep_from
    line = scan(side)
    assert line is not None and line.perp_flows == {"okx": 50.0} and line.liquidated_long == 50.0


def test_reconfigure_drops_a_venue_switched_off() -> None:
    side = PerpSide(("okx", "bybit"))
    feed(
        side, PerpTrade("okx", SYMBOL, T - MIN, "buy", 1.0, 1.0), PerpTrade("bybit", SYMBOL, T - MIN, "sell", 1.0, 2.0)
    )
    side.add_oi(OpenInterest("bybit", SYMBOL, T - MIN, 5.0))
    side.reconfigure(("okx",))
    line = scan(side)
    assert line is not None and line.perp_flows == {"okx": 1.0}
    assert "bybit" not in side.oi[SYMBOL]
