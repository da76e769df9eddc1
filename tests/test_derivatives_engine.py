"""Derivatives through the Engine (SPEC §4b, §6, §7): perp flow kept apart from spot, the
`derivatives` line of each scan, B among the signals in grade order, OI and liquidations.

The window is one minute (W = 1) so each case is a handful of trades; OI samples sit at the
window's two ends. Values are exact in binary floating point."""

from __future__ import annotations

from gme_tui.engine import Engine, EngineConfig, RuleConfig, scans_in
from gme_tui.model import (
    EXCHANGES,
    Consensus,
    Derivatives,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    Scan,
    Signal,
    SymbolScan,
    Trade,
)

MIN = 60_000
BASE = 29_425_520 * MIN
T = BASE + MIN  # the scan that reads minute BASE
SYMBOL = "BTC/USDT"


def engine(quorum: int = 4, **rules: float) -> Engine:  # 4: no A+ in the way
    return Engine(EngineConfig(window_minutes=1, warmup=False, rules=RuleConfig(quorum=quorum, **rules)))


def run(
    spot: dict[str, tuple[float, float]],
    perp: dict[str, tuple[float, float]],
    oi: tuple[float, float] | None = (1000.0, 1011.0),
    *,
    extra: list = (),  # type: ignore[assignment]
    quorum: int = 4,
) -> SymbolScan:
    """One minute of spot and perp (buy, sell) value per venue as single trades at price 2
    (amount = value / 2), binance OI samples at T − W and T, then the scan at T."""
    e = engine(quorum)
    if oi is not None:
        e.feed(OpenInterest("binance", SYMBOL, BASE, oi[0]))
        e.feed(OpenInterest("binance", SYMBOL, T, oi[1]))
    for exchange, (buy, sell) in spot.items():
        if buy:
            e.feed(Trade(exchange, SYMBOL, BASE + 1_000, "buy", 2.0, buy / 2))
        if sell:
            e.feed(Trade(exchange, SYMBOL, BASE + 2_000, "sell", 2.0, sell / 2))
    for venue, (buy, sell) in perp.items():
        if buy:
            e.feed(PerpTrade(venue, SYMBOL, BASE + 3_000, "buy", 2.0, buy / 2))
        if sell:
            e.feed(PerpTrade(venue, SYMBOL, BASE + 4_000, "sell", 2.0, sell / 2))
    for item in extra:
        e.feed(item)
    (scan,) = scans_in(e.finish())
    assert scan.ts == T
    (item,) = scan.symbols
    return item


def codes(item: SymbolScan) -> list[str]:
    return [s.code for s in item.signals]


SPOT = {"binance": (3_000_000.0, 1_000_000.0)}
PERP = {"binance": (1_000_000.0, 3_000_000.0)}


def test_perp_flow_stays_out_of_spot_and_b_holds_with_its_figures() -> None:
    item = run(SPOT, PERP)
    assert item.consensus.flows == {"binance": 2_000_000.0}  # spot only
    assert item.consensus.total == 2_000_000.0
    line = item.derivatives
    assert line is not None
    assert (line.perp_flows, line.perp_total, line.spot_total) == ({"binance": -2_000_000.0}, -2_000_000.0, 2_000_000.0)
    assert line.oi_change_pct is not None and line.oi_change_pct > 1.0
    ((code, grade, direction, attached),) = [(s.code, s.grade, s.direction, s.derivatives) for s in item.signals]
    assert (code, grade, direction) == ("derivatives_hedge", "B", "neutral")
    assert attached is line
    assert line.hedge_ratio == 1.0


def test_b_boundaries_through_the_engine() -> None:
    assert codes(run({"binance": (2_000_000.0, 1_000_000.0)}, PERP)) == []  # spot total exactly 1,000,000
    assert codes(run({"binance": (2_000_002.0, 1_000_000.0)}, PERP)) == ["derivatives_hedge"]  # 1,000,002
    assert codes(run(SPOT, {"binance": (1_000_000.0, 2_000_000.0)})) == []  # perp total exactly −1,000,000
    assert codes(run(SPOT, PERP, (1000.0, 1010.0))) == []  # OI change exactly 1.0 %
    assert codes(run(SPOT, PERP, None)) == []  # no OI sample: change null
    spot_at_ratio = {"binance": (6_000_000.0, 5_000_000.0), "okx": (5_500_000.0, 5_000_000.0)}  # Σ 1.15
    assert codes(run(spot_at_ratio, PERP)) == []
    perp_at_ratio = {"binance": (4_000_000.0, 5_000_000.0), "okx": (4_500_000.0, 5_000_000.0)}  # Σ 0.85
    assert codes(run(SPOT, perp_at_ratio)) == []


def test_a_symbol_without_a_perp_has_no_derivatives_line_and_no_b() -> None:
    item = run(SPOT, {}, None)
    assert item.derivatives is None
    assert codes(item) == []


def test_b_takes_its_place_in_grade_order() -> None:
    # every spot exchange strongly bought (A+), coinbase well ahead (A), perps hedged (B)
    spot = {"binance": (3_000_000.0, 100_000.0), "okx": (3_000_000.0, 100_000.0), "bybit": (3_000_000.0, 100_000.0)}
    spot["coinbase"] = (20_000_000.0, 100_000.0)
    item = run(spot, PERP, quorum=4)
    assert [(s.grade, s.code) for s in item.signals] == [
        ("A+", "global_sync_bullish"),
        ("A", "us_institutional_accumulation"),
        ("B", "derivatives_hedge"),
    ]


def test_the_scan_lines_put_derivatives_after_its_consensus() -> None:
    e = engine()
    e.feed(Trade("binance", "ADA/USDT", BASE + 1, "buy", 1.0, 1.0))  # no perp: no line
    for trade in (
        Trade("binance", SYMBOL, BASE + 1_000, "buy", 2.0, 1_500_000.0),
        Trade("binance", SYMBOL, BASE + 2_000, "sell", 2.0, 500_000.0),
    ):
        e.feed(trade)
    e.feed(PerpTrade("okx", SYMBOL, BASE + 3_000, "sell", 2.0, 1_500_000.0))
    e.feed(OpenInterest("okx", SYMBOL, BASE, 1000.0))
    e.feed(OpenInterest("okx", SYMBOL, T, 1100.0))
    (scan,) = scans_in(e.finish())
    kinds = [(type(x).__name__, x.symbol) for x in scan.lines()]
    assert kinds == [
        ("Consensus", "ADA/USDT"),
        ("Consensus", SYMBOL),
        ("Derivatives", SYMBOL),
        ("Signal", SYMBOL),
    ]
    assert [type(x) for x in scan.events()] == [Consensus, Consensus, Signal]  # unchanged for old consumers


def test_perp_trades_move_data_time_and_a_perp_only_symbol_has_no_lines() -> None:
    e = engine()
    assert e.feed(PerpTrade("bybit", "SOL/USDT", BASE + 5, "buy", 1.0, 1.0)) == []
    assert e.data_time == BASE + 5
    events = e.feed(PerpTrade("bybit", "SOL/USDT", T + 5, "buy", 1.0, 1.0))
    (scan,) = scans_in(events)  # the boundary T was scanned before the trade at T + 5 applied
    assert scan.ts == T
    assert scan.symbols == ()  # no spot participant: no consensus, hence no derivatives line


def test_perp_listings_buckets_and_disabled_venues() -> None:
    e = engine()
    e.feed(Listings({SYMBOL: ("binance",)}))
    e.feed(Listings({SYMBOL: ("okx", "coinbase")}, market="perp"))  # coinbase perps are off by default
    e.feed(MinuteBucket("bybit", SYMBOL, BASE // MIN, 10.0, 30.0, 2, 50.0, market="perp"))
    e.feed(MinuteBucket("bybit", SYMBOL, BASE // MIN, 10.0, 30.0, 2, 50.0, market="perp"))  # a duplicate
    e.feed(PerpTrade("coinbase", SYMBOL, BASE + 1, "buy", 1.0, 1.0))
    (scan,) = scans_in(e.finish())
    (item,) = scan.symbols
    assert item.consensus.flows == {"binance": 0.0}
    assert item.derivatives is not None
    assert item.derivatives.perp_flows == {"okx": 0.0, "bybit": -20.0}
    stats = e.stats
    assert (stats.perp_buckets, stats.perp_duplicates, stats.perp_ignored, stats.perp_trades) == (1, 1, 1, 0)
    assert stats.buckets == 0  # the perp minute is not a spot bucket


def test_liquidations_pass_through_and_sum_per_window() -> None:
    e = engine()
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(PerpTrade("bybit", SYMBOL, BASE + 2, "sell", 2.0, 1.0))
    long_one = Liquidation(BASE + 10, "bybit", SYMBOL, "long", 41_900.0, 3.0, 125_700.0)
    assert e.feed(long_one) == [long_one]
    assert e.feed(Liquidation(BASE + 20, "coinbase", SYMBOL, "short", 1.0, 1.0, 1.0)) == []  # off
    e.feed(Liquidation(BASE + 30, "binance", SYMBOL, "short", 42_000.0, 1.0, 42_000.0))
    (scan,) = scans_in(e.finish())
    line = scan.symbols[0].derivatives
    assert line is not None
    assert (line.liquidated_long, line.liquidated_short, line.liquidations_sampled) == (125_700.0, 42_000.0, True)
    assert e.stats.liquidations == 2


def test_live_coverage_of_perp_venues() -> None:
    e = Engine(EngineConfig(window_minutes=1, clock="external", warmup=False, track_coverage=True))
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(PerpTrade("binance", SYMBOL, BASE + 2, "sell", 2.0, 1.0))
    from gme_tui.model import Coverage

    e.feed(Coverage("binance", SYMBOL, BASE // MIN, BASE // MIN, market="perp"))
    (scan,) = scans_in(e.advance(T + 1))
    line = scan.symbols[0].derivatives
    assert isinstance(line, Derivatives)
    assert line.perp_coverage == {"binance": 1}
    assert scan.symbols[0].consensus.coverage == {"binance": 0}  # spot coverage untouched


def test_a_replay_with_perps_is_deterministic() -> None:
    def scans() -> list[Scan]:
        e = Engine(EngineConfig(window_minutes=2, warmup=False))
        for i in range(200):
            ts = BASE + i * 997
            e.feed(Trade(EXCHANGES[i % 4], SYMBOL, ts, "buy" if i % 3 else "sell", 100.0 + i % 7, 0.1 * (i % 5 + 1)))
            e.feed(PerpTrade(EXCHANGES[i % 3], SYMBOL, ts, "sell" if i % 3 else "buy", 100.0 + i % 5, 0.3))
            if i % 20 == 0:
                e.feed(OpenInterest(EXCHANGES[i % 3], SYMBOL, ts, 1000.0 + i))
        return scans_in(e.finish())

    assert scans() == scans()


# ---------------------------------------------------------------- SPEC §4b boundaries, one side each


def test_spot_total_boundary_exactly_1_000_000_and_1_000_001() -> None:
    at = run({"binance": (2_000_000.0, 1_000_000.0)}, PERP)
    assert at.derivatives is not None and at.derivatives.spot_total == 1_000_000.0 == at.consensus.total
    assert codes(at) == []
    above = run({"binance": (2_000_001.0, 1_000_000.0)}, PERP)  # 1,000,000.5 at price 2: exact
    assert above.derivatives is not None and above.derivatives.spot_total == 1_000_001.0
    assert codes(above) == ["derivatives_hedge"]


def test_perp_total_boundary_exactly_minus_1_000_000_and_minus_1_000_001() -> None:
    at = run(SPOT, {"binance": (1_000_000.0, 2_000_000.0)})
    assert at.derivatives is not None and at.derivatives.perp_total == -1_000_000.0
    assert codes(at) == []
    below = run(SPOT, {"binance": (1_000_000.0, 2_000_001.0)})
    assert below.derivatives is not None and below.derivatives.perp_total == -1_000_001.0
    assert codes(below) == ["derivatives_hedge"]


def test_oi_change_exactly_1_percent_and_just_above() -> None:
    at = run(SPOT, PERP, (1000.0, 1010.0))
    assert at.derivatives is not None and at.derivatives.oi_change_pct == 1.0
    assert codes(at) == []
    above = run(SPOT, PERP, (1000.0, 1011.0))
    assert above.derivatives is not None and above.derivatives.oi_change_pct == 1.1  # (2022 − 2000)·100 / 2000
    assert codes(above) == ["derivatives_hedge"]


def test_spot_and_perp_ratios_exactly_at_their_thresholds_and_just_past() -> None:
    assert 11_500_000.0 / 10_000_000.0 == 1.15 and 8_500_000.0 / 10_000_000.0 == 0.85  # binary-exact lines
    spot_at = {"binance": (6_000_000.0, 5_000_000.0), "okx": (5_500_000.0, 5_000_000.0)}
    item = run(spot_at, PERP)
    assert item.derivatives is not None and item.derivatives.spot_ratio == 1.15
    assert item.consensus.ratios == {"binance": 1.2, "okx": 1.1}  # per exchange on both sides of 1.15
    assert codes(item) == []
    spot_past = {"binance": (6_000_004.0, 5_000_000.0), "okx": (5_500_000.0, 5_000_000.0)}
    item = run(spot_past, PERP)
    assert item.derivatives is not None and item.derivatives.spot_ratio == 11_500_004.0 / 10_000_000.0 > 1.15
    assert codes(item) == ["derivatives_hedge"]
    perp_at = {"binance": (4_000_000.0, 5_000_000.0), "okx": (4_500_000.0, 5_000_000.0)}
    item = run(SPOT, perp_at)
    assert item.derivatives is not None and item.derivatives.perp_ratio == 0.85
    assert item.derivatives.perp_ratios == {"binance": 0.8, "okx": 0.9}
    assert codes(item) == []
    perp_past = {"binance": (3_999_996.0, 5_000_000.0), "okx": (4_500_000.0, 5_000_000.0)}
    item = run(SPOT, perp_past)
    assert item.derivatives is not None and item.derivatives.perp_ratio == 8_499_996.0 / 10_000_000.0 < 0.85
    assert codes(item) == ["derivatives_hedge"]


def _oi_run(samples: list[OpenInterest]) -> SymbolScan:
    return run(SPOT, PERP, None, extra=samples)


def test_a_missing_or_stale_oi_start_sample_gives_no_b_and_a_null_change() -> None:
    max_age = RuleConfig(quorum=4).oi_max_age_ms
    end = OpenInterest("binance", SYMBOL, T, 1100.0)
    missing = _oi_run([end])
    assert missing.derivatives is not None
    assert (missing.derivatives.oi, missing.derivatives.oi_change_pct) == ({}, None)
    assert codes(missing) == []
    stale = _oi_run([OpenInterest("binance", SYMBOL, BASE - max_age - 1, 1000.0), end])
    assert stale.derivatives is not None and stale.derivatives.oi_change_pct is None
    assert codes(stale) == []
    oldest_allowed = _oi_run([OpenInterest("binance", SYMBOL, BASE - max_age, 1000.0), end])
    assert oldest_allowed.derivatives is not None and oldest_allowed.derivatives.oi_change_pct == 10.0
    assert codes(oldest_allowed) == ["derivatives_hedge"]
    # the start sample is the latest at T too, but there it is older than max_age: the end is stale
    stale_end = _oi_run([OpenInterest("binance", SYMBOL, BASE - max_age, 1000.0)])
    assert stale_end.derivatives is not None and stale_end.derivatives.oi_change_pct is None
    assert codes(stale_end) == []


def test_every_signal_carries_its_direction() -> None:
    spot = {"binance": (3_000_000.0, 100_000.0), "okx": (3_000_000.0, 100_000.0), "bybit": (3_000_000.0, 100_000.0)}
    spot["coinbase"] = (20_000_000.0, 100_000.0)
    item = run(spot, PERP)
    assert [(s.code, s.direction) for s in item.signals] == [
        ("global_sync_bullish", "bullish"),
        ("us_institutional_accumulation", "bullish"),
        ("derivatives_hedge", "neutral"),
    ]
    bearish = run({e: (10.0, 100.0) for e in EXCHANGES}, {})
    assert [(s.grade, s.code, s.direction) for s in bearish.signals] == [("A+", "global_sync_bearish", "bearish")]


def test_perp_venues_switched_off_are_ignored_and_counted() -> None:
    e = Engine(EngineConfig(window_minutes=1, warmup=False, rules=RuleConfig(quorum=4), perp_venues=("okx",)))
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    off = [
        PerpTrade("binance", SYMBOL, BASE + 2, "sell", 2.0, 1.0),
        MinuteBucket("bybit", SYMBOL, BASE // MIN, 1.0, 2.0, market="perp"),
        OpenInterest("binance", SYMBOL, BASE, 1.0),
        Liquidation(BASE + 3, "bybit", SYMBOL, "long", 1.0, 1.0, 1.0),
    ]
    for item in off:
        assert e.feed(item) == []
    e.feed(Listings({SYMBOL: ("binance", "bybit")}, market="perp"))
    (scan,) = scans_in(e.finish())
    assert scan.symbols[0].derivatives is None  # no enabled perp venue participates
    assert e.stats.perp_ignored == 4
    assert e.stats.ignored == 0  # spot counters untouched


def test_reconfigure_switches_a_perp_venue_off_at_once() -> None:
    e = engine()
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(PerpTrade("binance", SYMBOL, BASE + 2, "sell", 2.0, 1.0))
    e.feed(PerpTrade("okx", SYMBOL, BASE + 3, "sell", 2.0, 2.0))
    e.reconfigure(EngineConfig(window_minutes=1, rules=RuleConfig(quorum=4), perp_venues=("okx",)))
    (scan,) = scans_in(e.finish())
    line = scan.symbols[0].derivatives
    assert line is not None and line.perp_flows == {"okx": -4.0}


def test_from_settings_reads_the_perp_switches_and_b_thresholds() -> None:
    from gme_tui.settings import parse_settings

    settings = parse_settings(
        "[exchanges.binance]\nperp = false\n[exchanges.bybit]\nenabled = false\n"
        "[signals]\nbearish_ratio = 0.8\nb_min_perp_venues = 2\nb_spot_min_flow = 5.0\nb_spot_min_ratio = 1.5\n"
        "b_perp_min_flow = 6.0\nb_perp_max_ratio = 0.5\nb_oi_min_change_pct = 2.5\n"
        "[derivatives]\noi_max_age_minutes = 2.5\n"
    )
    config = EngineConfig.from_settings(settings, live=True)
    assert config.perp_venues == ("okx",)  # binance's perp off, bybit off, coinbase has none
    rules = config.rule_config
    assert (rules.bearish_ratio, rules.b_min_perp_venues, rules.b_spot_min_flow, rules.b_spot_min_ratio) == (
        0.8,
        2,
        5.0,
        1.5,
    )
    assert (rules.b_perp_min_flow, rules.b_perp_max_ratio, rules.b_oi_min_change_pct) == (6.0, 0.5, 2.5)
    assert rules.oi_max_age_ms == 150_000
    defaults = EngineConfig.from_settings(parse_settings(""), live=False)
    assert defaults.perp_venues == ("binance", "okx", "bybit")
    assert defaults.rule_config == RuleConfig(quorum=4)


def test_rescan_recomputes_the_last_boundary_under_the_new_config_and_is_marked() -> None:
    e = engine()
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(Trade("okx", SYMBOL, BASE + 2, "sell", 2.0, 1.0))
    assert e.rescan() is None  # nothing scanned yet
    (scan,) = scans_in(e.finish())
    assert set(scan.symbols[0].consensus.flows) == {"binance", "okx"} and not scan.rescan
    e.reconfigure(EngineConfig(exchanges=("binance",), window_minutes=1, rules=RuleConfig(quorum=1)))
    again = e.rescan()
    assert again is not None and again.rescan and again.ts == scan.ts
    assert again.symbols[0].consensus.flows == {"binance": 2.0}
    assert e.stats.scans == 1  # a re-scan is not a new scan
    assert e.last_scan is again
