"""Pilot tests: the signal-history screen (key h) and the detail screen's 24 h lookback, with a
real store on disk; and both without a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from gme_tui import format as fmt
from gme_tui.model import MINUTE_MS, Consensus, MinuteBucket, Scan, Signal, SymbolScan
from gme_tui.store import Store
from gme_tui.store.writer import rows_of
from gme_tui.tui.screens.detail import DetailScreen
from gme_tui.tui.screens.history import HistoryScreen
from gme_tui.tui.screens.main import MainScreen
from tests.tui.market import START_MINUTE, WINDOW, settle
from tests.tui.test_keys import move_cursor_to

ANCHOR = (START_MINUTE + WINDOW) * MINUTE_MS  # the in-memory replay's last scan
HOUR = 60 * MINUTE_MS


def scan_with(ts: int, symbol: str, grade: str, code: str, coverage=None) -> Scan:
    flows = {"binance": 2_000.0, "okx": -1_500.0, "bybit": 500.0, "coinbase": 1_200_000.0}
    consensus = Consensus(ts, symbol, "mixed", flows, {e: 1.0 for e in flows}, sum(flows.values()), coverage)
    return Scan(ts, 50, (SymbolScan(consensus, (Signal(ts, symbol, grade, code, flows),), {}, None, None, 0.0),))


@pytest.fixture
def store(tmp_path: Path):
    opened = Store(tmp_path / "history.sqlite3")
    events = [
        *(scan_with(ANCHOR - k * MINUTE_MS, "BTC/USDT", "A+", "global_sync_bullish") for k in range(3)),
        scan_with(
            ANCHOR - 10 * MINUTE_MS,
            "HBAR/USDT",
            "C",
            "single_platform_long_trap",
            coverage={"binance": 50, "okx": 50, "bybit": 12, "coinbase": 50},
        ),
        scan_with(ANCHOR - 3 * HOUR, "ETH/USDT", "A", "us_institutional_accumulation"),
        scan_with(ANCHOR - 72 * HOUR, "SOL/USDT", "B", "derivatives_hedge"),
    ]
    _, signals, _ = rows_of(events)
    last = ANCHOR // MINUTE_MS - 1
    minutes = [MinuteBucket("binance", "BTC/USDT", last - k, 2_000.0, 1_000.0, 5, 42_000.0, True) for k in range(1_440)]
    minutes += [MinuteBucket("bybit", "BTC/USDT", last - k, 0.0, 500.0, 1, None, False) for k in range(100)]
    minutes.append(
        MinuteBucket("binance", "BTC/USDT", last - 1_440, 1e9, 0.0, 1, None, True)
    )  # 24 h + 1 min ago: outside
    opened.write(minutes, signals)
    yield opened
    opened.close()


def history_rows(screen: HistoryScreen) -> list[tuple[str, str]]:
    return [(e.symbol, e.grade) for e in screen.entries]


async def test_history_lists_folded_signals_and_filters_them(make_app, store):
    app = make_app(store=store)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("h")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert history_rows(screen) == [("BTC/USDT", "A+"), ("HBAR/USDT", "C"), ("ETH/USDT", "A")]  # last 24 h
        btc = screen.entries[0]
        assert (btc.count, btc.first_ts, btc.last_ts) == (3, ANCHOR - 2 * MINUTE_MS, ANCHOR)
        table = screen.query_one("#history-table")
        assert table.row_count == 3
        since = fmt.clock(ANCHOR - 2 * MINUTE_MS, app.zone, seconds=False)
        assert f"×3 since {since}" in str(table.get_row_at(0)[4])
        assert "BYB 12/50m" in str(table.get_row_at(1)[-1])
        await pilot.press("4")
        assert history_rows(screen) == [("HBAR/USDT", "C")]
        await pilot.press("0", "slash", "e", "t", "enter")
        assert history_rows(screen) == [("ETH/USDT", "A")]
        assert "symbol 'et'" in str(screen.query_one("#history-head").content)
        await pilot.press("escape")  # clears the symbol filter first
        assert len(screen.entries) == 3 and screen.text == ""
        await pilot.press("t")  # 7 days
        assert ("SOL/USDT", "B") in history_rows(screen)
        await pilot.press("t", "t")  # 90 days, then 1 hour
        assert history_rows(screen) == [("BTC/USDT", "A+"), ("HBAR/USDT", "C")]
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_history_without_a_store_says_how_to_turn_it_on(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("h")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        off = screen.query_one("#history-off")
        assert off.display and "--store PATH" in str(off.content)
        assert not screen.query_one("#history-table").display
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_detail_shows_the_last_24_hours_from_the_store(make_app, store):
    app = make_app(store=store)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "BTC/USDT")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        box = screen.query_one("#lookback")
        assert box.display
        text = str(box.content)
        assert "Last 24 h net flow" in text
        binance = next(line for line in text.splitlines() if line.startswith("BIN"))
        assert "+1.44M" in binance and "1440/1440" in binance  # the minute 24 h + 1 ago is left out
        bybit = next(line for line in text.splitlines() if line.startswith("BYB"))
        assert "-50k" in bybit and "0/1440" in bybit  # stored but never covered
        assert not any(line.startswith(("OKX", "COI")) for line in text.splitlines())


async def test_detail_without_a_store_has_no_lookback(make_app):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert not app.screen.query_one("#lookback").display
