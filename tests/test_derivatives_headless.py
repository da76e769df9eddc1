"""Derivatives in the headless output (SPEC §7): the `derivatives` line after its consensus line,
`liquidation` lines, every signal's `direction`, and B's extra keys."""

from __future__ import annotations

from datetime import UTC

from gme_tui.engine import Engine, EngineConfig, RuleConfig
from gme_tui.headless import event_dicts, event_lines
from gme_tui.model import Liquidation, OpenInterest, PerpTrade, Trade

MIN = 60_000
BASE = 29_425_520 * MIN
T = BASE + MIN
SYMBOL = "BTC/USDT"


def events() -> list:
    e = Engine(EngineConfig(window_minutes=1, warmup=False, rules=RuleConfig(quorum=4), whale_threshold=1e12))
    out = []
    out += e.feed(OpenInterest("binance", SYMBOL, BASE, 1000.0))
    out += e.feed(OpenInterest("binance", SYMBOL, T, 1020.0))
    out += e.feed(Trade("binance", SYMBOL, BASE + 1_000, "buy", 2.0, 1_500_000.0))  # +3.0M
    out += e.feed(Trade("binance", SYMBOL, BASE + 2_000, "sell", 2.0, 500_000.0))  # −1.0M
    out += e.feed(PerpTrade("binance", SYMBOL, BASE + 3_000, "buy", 2.0, 500_000.0))  # +1.0M
    out += e.feed(PerpTrade("binance", SYMBOL, BASE + 4_000, "sell", 2.0, 1_500_000.0))  # −3.0M
    out += e.feed(Liquidation(BASE + 5_000, "bybit", SYMBOL, "long", 41_900.0, 3.0, 125_700.0))
    out += e.finish()
    return out


def test_json_lines_as_spec_7() -> None:
    lines = event_dicts(events())
    assert [line["type"] for line in lines] == ["liquidation", "consensus", "derivatives", "signal"]
    liquidation, consensus, derivatives, signal = lines
    assert liquidation == {
        "type": "liquidation",
        "ts": BASE + 5_000,
        "exchange": "bybit",
        "symbol": SYMBOL,
        "side": "long",
        "price": 41_900.0,
        "amount": 3.0,
        "value": 125_700.0,
    }
    assert consensus["flows"] == {"binance": 2_000_000.0}
    assert derivatives == {
        "type": "derivatives",
        "ts": T,
        "symbol": SYMBOL,
        "perp_flows": {"binance": -2_000_000.0},
        "perp_ratios": {"binance": 1.0 / 3.0},
        "perp_total": -2_000_000.0,
        "spot_total": 2_000_000.0,
        "oi": {"binance": {"start": 1000.0, "end": 1020.0}},
        "oi_change_pct": 2.0,
    }
    assert signal["grade"] == "B" and signal["code"] == "derivatives_hedge"
    assert signal["direction"] == "neutral"
    assert (signal["perp_flows"], signal["spot_total"], signal["perp_total"]) == (
        {"binance": -2_000_000.0},
        2_000_000.0,
        -2_000_000.0,
    )
    assert (signal["oi_change_pct"], signal["hedge_ratio"]) == (2.0, 1.0)


def test_text_lines_show_the_perp_side_and_liquidations() -> None:
    text = event_lines(events(), UTC)
    assert len(text) == 4
    assert "爆仓 [BYBIT]: 多头" in text[0]
    assert "永续: BIN:-2.00M" in text[2] and "+2.00%" in text[2]
    assert "衍生品对冲" in text[3]


def test_a_symbol_without_a_perp_gets_no_derivatives_line_and_every_signal_line_a_direction() -> None:
    e = Engine(EngineConfig(window_minutes=1, warmup=False, rules=RuleConfig(quorum=2), whale_threshold=1e12))
    out = []
    for exchange in ("binance", "okx"):  # every ratio 0.5 < 0.85, every flow < 0: the bearish A+
        out += e.feed(Trade(exchange, "ADA/USDT", BASE + 1_000, "buy", 1.0, 100.0))
        out += e.feed(Trade(exchange, "ADA/USDT", BASE + 2_000, "sell", 1.0, 200.0))
    out += e.finish()
    lines = event_dicts(out)
    assert [line["type"] for line in lines] == ["consensus", "signal"]
    assert (lines[1]["code"], lines[1]["direction"]) == ("global_sync_bearish", "bearish")
    assert "perp_flows" not in lines[1] and "hedge_ratio" not in lines[1]  # B's keys only on B
    assert len(event_lines(out, UTC)) == 2


def test_live_derivatives_lines_carry_perp_coverage_and_nulls_stay_json_null() -> None:
    from gme_tui.model import Coverage

    e = Engine(EngineConfig(window_minutes=1, clock="external", warmup=False, track_coverage=True))
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(PerpTrade("okx", SYMBOL, BASE + 2, "buy", 2.0, 1.0))  # sells 0: ratio +inf, JSON null
    e.feed(Coverage("okx", SYMBOL, BASE // MIN, BASE // MIN, market="perp"))
    (consensus, derivatives) = event_dicts(e.advance(T + 1))
    assert consensus["type"] == "consensus"
    assert derivatives["perp_coverage"] == {"okx": 1}
    assert derivatives["perp_ratios"] == {"okx": None}
    assert (derivatives["oi"], derivatives["oi_change_pct"]) == ({}, None)
    text = event_lines(e.advance(T + MIN + 1), UTC)
    assert "n/a" in text[1]  # no OI change: said, not guessed


def test_text_derivatives_line_shows_short_perp_coverage_live() -> None:
    from gme_tui.model import Coverage

    e = Engine(EngineConfig(window_minutes=2, clock="external", warmup=False, track_coverage=True))
    e.feed(Trade("binance", SYMBOL, BASE + 1, "buy", 2.0, 1.0))
    e.feed(PerpTrade("okx", SYMBOL, BASE + 2, "sell", 2.0, 1.0))
    e.feed(Coverage("okx", SYMBOL, BASE // MIN, BASE // MIN, market="perp"))
    text = event_lines(e.advance(T + 1), UTC)
    assert "OKX:-0.00k(1/2m) | 永续合计: -0.00k | 持仓变化 OI: n/a" in text[1], text[1]
