"""Consensus levels and signal grades at their boundaries (SPEC §3, §4).

Every comparison is strict and on floats: exactly the threshold never passes. Values are exact in
binary floating point, so each assertion pins one side of one boundary. Most cases go through the
Engine (trades in, window sums, float ratio) and a few through the pure rule functions.
"""

from __future__ import annotations

import math

import pytest

from gme_tui.engine import GRADE_OF, GRADE_ORDER, LEVELS, SIGNALS, Engine, EngineConfig, RuleConfig, scans_in
from gme_tui.engine.rules import consensus_level, signal_codes
from gme_tui.model import DIRECTION_OF, EXCHANGES, Consensus, Direction, Listings, Signal, SignalCode, SymbolScan, Trade

MIN = 60_000
BASE = 29_425_520 * MIN  # a minute boundary (2025-12-12 UTC)
SYMBOL = "BTC/USDT"
FOUR = dict.fromkeys(EXCHANGES)


def symbol_scan(
    sides: dict[str, tuple[float, float]],
    *,
    quorum: int | None = None,
    listed: tuple[str, ...] = (),
    symbol: str = SYMBOL,
) -> SymbolScan:
    """One window of one minute: per exchange a (buy value, sell value) pair, as single trades
    of amount 1 (value = price exactly). Returns the symbol's part of the final scan."""
    config = EngineConfig(window_minutes=1, warmup=False, rules=RuleConfig(quorum=quorum) if quorum else None)
    engine = Engine(config)
    if listed:
        engine.feed(Listings({symbol: listed}))
    for exchange, (buy, sell) in sides.items():
        if buy:
            engine.add_trade(Trade(exchange, symbol, BASE + 1_000, "buy", buy, 1.0))
        if sell:
            engine.add_trade(Trade(exchange, symbol, BASE + 2_000, "sell", sell, 1.0))
    scans = scans_in(engine.finish())
    assert [s.ts for s in scans] == [BASE + MIN]
    (item,) = scans[0].symbols
    return item


def flows_only(flows: dict[str, float], **kwargs) -> SymbolScan:
    """Net flows as pure buys (positive) or pure sells (negative); zero flows need `listed`."""
    return symbol_scan({e: (f, 0.0) if f > 0 else (0.0, -f) for e, f in flows.items()}, **kwargs)


def codes(item: SymbolScan) -> list[str]:
    return [s.code for s in item.signals]


# ---------------------------------------------------------------- consensus (SPEC §3)


def test_strong_bullish_needs_every_flow_strictly_above_1000() -> None:
    at_threshold = flows_only({"binance": 1_000.0, "okx": 1_000.01, "bybit": 1_000.01, "coinbase": 1_000.01})
    assert at_threshold.consensus.flows["binance"] == 1_000.0
    assert at_threshold.consensus.level == "mixed"
    just_over = flows_only(dict.fromkeys(EXCHANGES, 1_000.01))
    assert just_over.consensus.level == "strong_bullish"


def test_strong_bearish_needs_every_flow_strictly_below_minus_1000() -> None:
    at_threshold = flows_only({"binance": -1_000.01, "okx": -1_000.01, "bybit": -1_000.0, "coinbase": -1_000.01})
    assert at_threshold.consensus.flows["bybit"] == -1_000.0
    assert at_threshold.consensus.level == "mixed"
    assert flows_only(dict.fromkeys(EXCHANGES, -1_000.01)).consensus.level == "strong_bearish"


@pytest.mark.parametrize(
    ("binance", "level"),
    [
        (60_000_000.0, "mixed"),  # total exactly 50,000,000: not lean
        (60_000_000.5, "lean_bullish"),
    ],
)
def test_lean_bullish_total_strictly_above_50_million(binance: float, level: str) -> None:
    item = flows_only({"binance": binance, "okx": -10_000_000.0}, quorum=2)
    assert item.consensus.total == binance - 10_000_000.0
    assert item.consensus.level == level


@pytest.mark.parametrize(("okx", "level"), [(-60_000_000.0, "mixed"), (-60_000_000.5, "lean_bearish")])
def test_lean_bearish_total_strictly_below_minus_50_million(okx: float, level: str) -> None:
    item = flows_only({"binance": 10_000_000.0, "okx": okx}, quorum=2)
    assert item.consensus.level == level


def test_strong_comes_before_lean() -> None:
    item = flows_only(dict.fromkeys(EXCHANGES, 20_000_000.0))
    assert item.consensus.total == 80_000_000.0
    assert item.consensus.level == "strong_bullish"


def test_quorum_defaults_to_enabled_exchanges_so_three_of_four_is_never_strong() -> None:
    three = {"binance": 2_000.0, "okx": 2_000.0, "bybit": 2_000.0}  # coinbase does not list it
    item = flows_only(three)
    assert set(item.consensus.flows) == set(three)  # participants only
    assert item.consensus.level == "mixed"
    assert flows_only({e: -2_000.0 for e in three}).consensus.level == "mixed"
    assert flows_only(three, quorum=3).consensus.level == "strong_bullish"
    assert flows_only({e: -2_000.0 for e in three}, quorum=3).consensus.level == "strong_bearish"


def test_listed_exchange_without_trades_participates_with_zero_flow() -> None:
    item = flows_only({"binance": 2_000.0, "okx": 2_000.0, "bybit": 2_000.0}, listed=EXCHANGES)
    assert item.consensus.flows == {"binance": 2_000.0, "okx": 2_000.0, "bybit": 2_000.0, "coinbase": 0.0}
    assert item.consensus.ratios["coinbase"] is None
    assert item.consensus.level == "mixed"  # coinbase's 0 is not > 1,000


# ---------------------------------------------------------------- A+ (global sync bullish)


def test_aplus_ratio_exactly_1_15_is_not_above() -> None:
    assert 115.0 / 100.0 == 1.15  # the float division the engine does lands exactly on 1.15
    item = symbol_scan(dict.fromkeys(EXCHANGES, (115.0, 100.0)))
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, 1.15)
    assert item.consensus.flows == dict.fromkeys(EXCHANGES, 15.0)
    assert codes(item) == []


def test_aplus_ratio_just_above_1_15_holds_on_every_exchange_or_not_at_all() -> None:
    above = dict.fromkeys(EXCHANGES, (115.0078125, 100.0))
    item = symbol_scan(above)
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, 1.150078125)
    assert codes(item) == ["global_sync_bullish"]
    assert item.signals[0].grade == "A+"
    one_at_threshold = symbol_scan(above | {"okx": (115.0, 100.0)})
    assert one_at_threshold.consensus.ratios["okx"] == 1.15
    assert codes(one_at_threshold) == []


def test_aplus_needs_the_quorum() -> None:
    three = dict.fromkeys(("binance", "okx", "bybit"), (300.0, 100.0))
    assert codes(symbol_scan(three)) == []
    assert codes(symbol_scan(three, quorum=3)) == ["global_sync_bullish"]


def test_sell_zero_gives_infinite_ratio_and_aplus_holds() -> None:
    item = symbol_scan(dict.fromkeys(EXCHANGES, (500.0, 0.0)))
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, math.inf)
    assert codes(item) == ["global_sync_bullish"]


def test_nothing_traded_gives_undefined_ratio_and_no_aplus() -> None:
    sides = dict.fromkeys(("binance", "okx", "bybit"), (500.0, 0.0))
    item = symbol_scan(sides, listed=EXCHANGES)
    assert item.consensus.ratios["coinbase"] is None
    assert item.consensus.flows["coinbase"] == 0.0
    assert codes(item) == []


# ---------------------------------------------------------------- A (US institutional accumulation)


A_CODE = "us_institutional_accumulation"


def test_a_coinbase_flow_exactly_one_million_is_not_above() -> None:
    others = {"binance": 100.0, "okx": 100.0, "bybit": -100.0}  # bybit < 0: no A+ in the way
    assert codes(flows_only(others | {"coinbase": 1_000_000.0})) == []
    assert codes(flows_only(others | {"coinbase": 1_000_000.5})) == [A_CODE]


def test_a_coinbase_exactly_one_and_a_half_times_the_mean_is_not_above() -> None:
    others = {"binance": 2_000_000.0, "okx": 5_000_000.0, "bybit": -1_000_000.0}  # mean 2,000,000
    assert codes(flows_only(others | {"coinbase": 3_000_000.0})) == []
    assert codes(flows_only(others | {"coinbase": 3_000_000.5})) == [A_CODE]


def test_a_and_aplus_together() -> None:
    others = {"binance": 1_000_000.0, "okx": 2_000_000.0, "bybit": 3_000_000.0}  # mean 2,000,000
    assert codes(flows_only(others | {"coinbase": 3_000_000.0})) == ["global_sync_bullish"]
    both = flows_only(others | {"coinbase": 3_000_000.5})
    assert codes(both) == ["global_sync_bullish", A_CODE]
    assert [s.grade for s in both.signals] == ["A+", "A"]


def test_a_never_fires_without_coinbase_or_without_another_exchange() -> None:
    assert codes(flows_only({"binance": 5_000_000.0, "okx": -100.0})) == []
    assert codes(flows_only({"coinbase": 5_000_000.0}, quorum=2)) == []  # no other exchange in P


# ---------------------------------------------------------------- C (single platform long trap)


def test_c_binance_and_okx_up_coinbase_down() -> None:
    item = flows_only({"binance": 10.0, "okx": 10.0, "bybit": -500.0, "coinbase": -10.0})
    assert codes(item) == ["single_platform_long_trap"]
    assert item.signals[0].grade == "C"
    assert item.signals[0].flows == item.consensus.flows


def test_c_fires_with_okx_absent_when_binance_is_up() -> None:
    item = flows_only({"binance": 10.0, "bybit": -500.0, "coinbase": -10.0})
    assert "okx" not in item.consensus.flows
    assert codes(item) == ["single_platform_long_trap"]


@pytest.mark.parametrize(
    "flows",
    [
        {"binance": 10.0, "okx": -10.0, "coinbase": -10.0},  # okx in P is not > 0
        {"binance": 10.0, "okx": 10.0, "bybit": 10.0},  # coinbase absent
        {"bybit": 10.0, "coinbase": -10.0},  # neither binance nor okx in P
    ],
)
def test_c_does_not_fire(flows: dict[str, float]) -> None:
    assert codes(flows_only(flows)) == []


def test_c_coinbase_zero_flow_does_not_fire() -> None:
    item = flows_only({"binance": 10.0, "okx": 10.0}, listed=EXCHANGES)
    assert item.consensus.flows["coinbase"] == 0.0
    assert codes(item) == []
    # and a coinbase that trades to exactly zero net
    item = symbol_scan({"binance": (10.0, 0.0), "okx": (10.0, 0.0), "coinbase": (250.0, 250.0)})
    assert item.consensus.flows["coinbase"] == 0.0
    assert codes(item) == []


# ---------------------------------------------------------------- several signals, order of events


def test_several_signals_reported_in_grade_order_after_the_consensus_symbols_sorted() -> None:
    engine = Engine(EngineConfig(window_minutes=1, warmup=False))
    aplus_and_a = {"binance": 1_000_000.0, "okx": 2_000_000.0, "bybit": 3_000_000.0, "coinbase": 4_000_000.0}
    for exchange, value in aplus_and_a.items():
        engine.add_trade(Trade(exchange, "SOL/USDT", BASE + 1_000, "buy", value, 1.0))
    engine.add_trade(Trade("binance", "ADA/USDT", BASE + 1_500, "buy", 10.0, 1.0))
    engine.add_trade(Trade("coinbase", "ADA/USDT", BASE + 1_500, "sell", 10.0, 1.0))
    (scan,) = scans_in(engine.finish())
    events = scan.events()
    kinds = [(type(e).__name__, e.symbol, getattr(e, "grade", None)) for e in events]
    assert kinds == [
        ("Consensus", "ADA/USDT", None),
        ("Signal", "ADA/USDT", "C"),
        ("Consensus", "SOL/USDT", None),
        ("Signal", "SOL/USDT", "A+"),
        ("Signal", "SOL/USDT", "A"),
    ]
    assert isinstance(events[2], Consensus) and events[2].level == "strong_bullish"
    assert all(isinstance(e, Signal) and e.ts == BASE + MIN for e in events if not isinstance(e, Consensus))


# ---------------------------------------------------------------- the pure functions and labels


def test_pure_rule_functions_at_the_boundaries() -> None:
    rules = RuleConfig(quorum=2)
    assert consensus_level({"binance": 1_000.0, "okx": 5_000.0}, rules) == "mixed"
    assert consensus_level({"binance": 1_000.5, "okx": 5_000.0}, rules) == "strong_bullish"
    assert consensus_level({"binance": 1_000.5}, rules) == "mixed"  # below quorum
    assert consensus_level({}, RuleConfig(quorum=0)) == "mixed"
    assert signal_codes({"binance": 1.0, "okx": 1.0}, {"binance": 1.15, "okx": math.inf}, rules) == []
    assert signal_codes({"binance": 1.0, "okx": 1.0}, {"binance": 1.2, "okx": math.inf}, rules) == [
        "global_sync_bullish"
    ]
    assert signal_codes({"binance": 1.0, "okx": 1.0}, {"binance": 1.2, "okx": None}, rules) == []


def test_custom_thresholds_are_used() -> None:
    rules = RuleConfig(quorum=1, strong_flow=10.0, lean_total=100.0, aplus_ratio=2.0, a_min_flow=50.0, a_multiple=2.0)
    assert consensus_level({"binance": 10.5}, rules) == "strong_bullish"
    assert consensus_level({"binance": 150.0, "okx": -10.5}, RuleConfig(quorum=3, lean_total=100.0)) == "lean_bullish"
    assert signal_codes({"binance": 5.0}, {"binance": 2.0}, rules) == []
    assert signal_codes({"binance": 5.0}, {"binance": 2.5}, rules) == ["global_sync_bullish"]
    assert signal_codes({"binance": 25.0, "coinbase": 50.5}, {"binance": 1.0, "coinbase": 1.0}, rules) == [
        "us_institutional_accumulation"
    ]
    assert signal_codes({"binance": 25.5, "coinbase": 51.0}, {"binance": 1.0, "coinbase": 1.0}, rules) == []


def test_labels_cover_every_code() -> None:
    assert set(LEVELS) == {"strong_bullish", "strong_bearish", "lean_bullish", "lean_bearish", "mixed"}
    assert LEVELS["strong_bullish"].zh == "强力看涨" and LEVELS["mixed"].zh == "震荡/分歧"
    assert set(SIGNALS) == set(GRADE_OF)
    assert SIGNALS["global_sync_bullish"].both() == "全球协同看涨 (Global Sync Bullish)"
    # two A+ since the bearish mirror (SPEC §4), then A, B, C
    assert [GRADE_OF[c] for c in sorted(GRADE_OF, key=lambda c: GRADE_ORDER[GRADE_OF[c]])] == [
        "A+",
        "A+",
        "A",
        "B",
        "C",
    ]
    assert SIGNALS["global_sync_bearish"].both() == "全球协同出货 (Global Sync Bearish)"
    assert FOUR.keys() == set(EXCHANGES)


# ---------------------------------------------------------------- A+ bearish (global sync bearish)


BEAR = "global_sync_bearish"


def test_aplus_bearish_ratio_exactly_0_85_is_not_below() -> None:
    assert 85.0 / 100.0 == 0.85  # the float division the engine does lands exactly on 0.85
    item = symbol_scan(dict.fromkeys(EXCHANGES, (85.0, 100.0)))
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, 0.85)
    assert item.consensus.flows == dict.fromkeys(EXCHANGES, -15.0)
    assert codes(item) == []


def test_aplus_bearish_ratio_just_below_0_85_on_every_exchange_or_not_at_all() -> None:
    below = dict.fromkeys(EXCHANGES, (84.9921875, 100.0))  # 84.9921875 / 100 = 0.849921875 < 0.85
    item = symbol_scan(below)
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, 84.9921875 / 100.0)
    assert all(r < 0.85 for r in item.consensus.ratios.values() if r is not None)
    assert codes(item) == [BEAR]
    assert item.signals[0].grade == "A+"
    assert item.signals[0].direction == "bearish"
    one_at_threshold = symbol_scan(below | {"bybit": (85.0, 100.0)})
    assert one_at_threshold.consensus.ratios["bybit"] == 0.85
    assert codes(one_at_threshold) == []


def test_aplus_bearish_a_flow_of_zero_fails() -> None:
    # a flow of exactly 0 is not < 0: its ratio (1.0, or null when nothing traded) fails too
    zero_traded = symbol_scan(dict.fromkeys(EXCHANGES, (10.0, 100.0)) | {"okx": (100.0, 100.0)})
    assert zero_traded.consensus.flows["okx"] == 0.0
    assert codes(zero_traded) == []
    nothing_traded = symbol_scan(dict.fromkeys(("binance", "okx", "bybit"), (10.0, 100.0)), listed=EXCHANGES)
    assert nothing_traded.consensus.flows["coinbase"] == 0.0
    assert nothing_traded.consensus.ratios["coinbase"] is None
    assert codes(nothing_traded) == []


def test_aplus_bearish_one_exchange_short_of_the_quorum_does_not_fire() -> None:
    three = dict.fromkeys(("binance", "okx", "bybit"), (10.0, 100.0))  # ratio 0.1, flow -90 each
    assert codes(symbol_scan(three)) == []  # quorum 4 (every enabled exchange), 3 participate
    assert codes(symbol_scan(three, quorum=3)) == [BEAR]


def test_aplus_bearish_sells_only_gives_ratio_zero_and_fires() -> None:
    item = flows_only(dict.fromkeys(EXCHANGES, -5_000.0))
    assert item.consensus.ratios == dict.fromkeys(EXCHANGES, 0.0)
    assert item.consensus.level == "strong_bearish"
    assert codes(item) == [BEAR]


def test_aplus_bearish_pure_rule_function_and_a_null_ratio() -> None:
    rules = RuleConfig(quorum=2)
    flows = {"binance": -1.0, "okx": -1.0}
    assert signal_codes(flows, {"binance": 0.5, "okx": 0.0}, rules) == [BEAR]
    assert signal_codes(flows, {"binance": 0.5, "okx": 0.85}, rules) == []
    assert signal_codes(flows, {"binance": 0.5, "okx": None}, rules) == []  # a null ratio fails
    assert signal_codes(flows, {"binance": 0.5}, rules) == []  # a missing ratio is a null one
    assert signal_codes({"binance": -1.0}, {"binance": 0.5}, rules) == []  # below the quorum
    assert signal_codes({}, {}, RuleConfig(quorum=0)) == []
    assert signal_codes(flows, {"binance": 0.5, "okx": 0.7}, RuleConfig(quorum=2, bearish_ratio=0.7)) == []
    assert signal_codes(flows, {"binance": 0.5, "okx": 0.6875}, RuleConfig(quorum=2, bearish_ratio=0.7)) == [BEAR]


def test_aplus_bearish_with_c() -> None:
    # coinbase < 0 but binance/okx must be > 0 for C: both cannot hold with the bearish A+
    item = flows_only({"binance": -10.0, "okx": -10.0, "bybit": -10.0, "coinbase": -10.0})
    assert codes(item) == [BEAR]


# ---------------------------------------------------------------- directions and thresholds


def test_every_signal_has_its_direction() -> None:
    assert dict(DIRECTION_OF) == {
        "global_sync_bullish": "bullish",
        "us_institutional_accumulation": "bullish",
        "derivatives_hedge": "neutral",
        "single_platform_long_trap": "bearish",
        "global_sync_bearish": "bearish",
    }
    assert set(DIRECTION_OF) == set(SignalCode) == set(GRADE_OF)
    for code in SignalCode:
        signal = Signal(BASE, SYMBOL, GRADE_OF[code], code, {})
        assert signal.direction is DIRECTION_OF[code]
        assert isinstance(signal.direction, Direction)


def test_signals_of_a_scan_carry_their_direction() -> None:
    bull = symbol_scan(dict.fromkeys(EXCHANGES, (115.0078125, 100.0)))
    assert [(s.code, s.direction) for s in bull.signals] == [("global_sync_bullish", "bullish")]
    trap = flows_only({"binance": 10.0, "okx": 10.0, "bybit": -500.0, "coinbase": -10.0})
    assert [(s.code, s.direction) for s in trap.signals] == [("single_platform_long_trap", "bearish")]
    a = flows_only({"binance": 100.0, "okx": 100.0, "bybit": -100.0, "coinbase": 1_000_000.5})
    assert [(s.code, s.direction) for s in a.signals] == [("us_institutional_accumulation", "bullish")]


def test_rule_config_defaults_are_the_spec_figures() -> None:
    rules = RuleConfig(quorum=4)
    assert (rules.strong_flow, rules.lean_total, rules.aplus_ratio) == (1_000.0, 50_000_000.0, 1.15)
    assert (rules.a_min_flow, rules.a_multiple, rules.bearish_ratio) == (1_000_000.0, 1.5, 0.85)
    assert (rules.b_min_perp_venues, rules.b_spot_min_flow, rules.b_spot_min_ratio) == (1, 1_000_000.0, 1.15)
    assert (rules.b_perp_min_flow, rules.b_perp_max_ratio, rules.b_oi_min_change_pct) == (1_000_000.0, 0.85, 1.0)
    assert rules.oi_max_age_ms == 10 * 60_000
