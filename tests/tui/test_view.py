"""The pure view model: sort ties, missing values, pins, filters, signal folding."""

from __future__ import annotations

from gme_tui.model import Consensus, Signal, SymbolScan
from gme_tui.tui.view import SignalLog, SortSpec, build_row, sort_rows, visible_rows


def row(symbol: str, total: float, grades: tuple[str, ...] = (), price: float | None = 1.0):
    signals = tuple(Signal(0, symbol, g, "single_platform_long_trap", {}) for g in grades)
    scan = SymbolScan(Consensus(0, symbol, "mixed", {}, {}, total), signals, {}, price, None, 0.0)
    return build_row(scan, 50)


def test_ties_are_broken_by_symbol_in_both_directions_and_missing_values_go_last():
    rows = [row("C", 1), row("A", 1), row("B", 2), row("D", 1, price=None)]
    assert [r.symbol for r in sort_rows(rows, SortSpec("total", True))] == ["B", "A", "C", "D"]
    assert [r.symbol for r in sort_rows(rows, SortSpec("total", False))] == ["A", "C", "D", "B"]
    assert [r.symbol for r in sort_rows(rows, SortSpec("price", True))][-1] == "D"
    assert [r.symbol for r in sort_rows(rows, SortSpec("price", False))][-1] == "D"


def test_pins_stay_on_top_and_filters_combine():
    rows = [row("BTC/USDT", 5, ("A+",)), row("ETH/USDT", 9), row("HBAR/USDT", 1, ("C",))]
    shown = visible_rows(rows, grade_filter=0, search="", sort=SortSpec(), pinned=("HBAR/USDT",))
    assert [r.symbol for r in shown] == ["HBAR/USDT", "ETH/USDT", "BTC/USDT"]
    assert [r.symbol for r in visible_rows(rows, grade_filter=5, search="B", sort=SortSpec(), pinned=())] == [
        "BTC/USDT",
        "HBAR/USDT",
    ]


def test_repeated_signals_fold_inside_the_cooldown_and_open_a_new_line_after_it():
    log = SignalLog(10)
    for minute in range(5):
        log.add(Signal(minute * 60_000, "BTC/USDT", "A+", "global_sync_bullish", {}), cooldown_ms=30 * 60_000)
    assert len(log.entries) == 1 and log.entries[0].count == 5 and log.entries[0].last_ts == 4 * 60_000
    log.add(Signal(30 * 60_000, "BTC/USDT", "A+", "global_sync_bullish", {}), cooldown_ms=30 * 60_000)
    log.add(Signal(30 * 60_000, "ETH/USDT", "A+", "global_sync_bullish", {}), cooldown_ms=30 * 60_000)
    assert [(e.symbol, e.count) for e in log.entries] == [("ETH/USDT", 1), ("BTC/USDT", 1), ("BTC/USDT", 5)]


def _whale(ts: int, backfilled: bool = False):
    from gme_tui.model import Whale

    return Whale(
        ts=ts,
        exchange="binance",
        symbol="BTC/USDT",
        side="buy",
        price=1.0,
        amount=3e5,
        value=3e5,
        backfilled=backfilled,
    )


def test_backfilled_whales_take_their_place_in_the_ticker_by_time():
    from gme_tui.tui.view import Market

    market = Market(whale_rows=3)
    market.apply([_whale(10), _whale(30)], cooldown_ms=0)
    market.apply([_whale(20, backfilled=True)], cooldown_ms=0)
    assert [w.ts for w in market.whales] == [30, 20, 10]
    market.apply([_whale(5, backfilled=True)], cooldown_ms=0)  # older than all kept in a full ticker
    assert [w.ts for w in market.whales] == [30, 20, 10]
    market.apply([_whale(25, backfilled=True)], cooldown_ms=0)  # the oldest makes room
    assert [w.ts for w in market.whales] == [30, 25, 20]
