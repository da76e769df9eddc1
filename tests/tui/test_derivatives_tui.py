"""The perpetual side on screen (issue 14 item 5, SPEC §4b, §12): the perp flow and OI change
columns and how they give way on narrow terminals, B under filter 3, the liquidation feed, the
detail screen's perp section, and the settings screen's perp venues and B thresholds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import msgspec
import pytest
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Checkbox, Input, Static

from gme_tui.engine import Engine, EngineConfig
from gme_tui.i18n import catalogue
from gme_tui.model import Derivatives, Scan, SignalCode
from gme_tui.settings import load_settings
from gme_tui.tui.app import GmeApp
from gme_tui.tui.screens.detail import DetailScreen, oi_amount, oi_table
from gme_tui.tui.screens.main import WIDE_FEEDS
from gme_tui.tui.screens.settings import SettingsScreen
from gme_tui.tui.widgets.cells import DEFAULT_COLOURS, oi_text
from gme_tui.tui.widgets.feeds import LiquidationTicker, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from tests.tui.market import LIQUIDATIONS, market_items, settings_file, settle
from tests.tui.test_keys import move_cursor_to, shown


def in_language(settings, language: str):
    return msgspec.structs.replace(settings, language=language)


def cells(app: GmeApp, symbol: str) -> dict[str, str]:
    """The text of each shown column of `symbol`'s row, by column key."""
    table = app.main.query_one(FlowTable)
    row = next(r for r in table.rows if r.symbol == symbol)
    return {c.key: "".join(text for text, _ in c.cell(row, table.context)).strip() for c in table.columns}


@pytest.mark.parametrize(
    "key, expected",
    [
        ("1", {"BTC/USDT"}),
        ("3", {"BTC/USDT", "XRP/USDT"}),  # B: spot bought, perp shorts opened against it, OI up
        ("5", {"BTC/USDT", "ETH/USDT", "HBAR/USDT", "XRP/USDT", "币安人生/USDT"}),
    ],
)
async def test_b_shows_under_filter_3(make_app, key, expected):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        assert set(shown(app)) == expected


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("width, perps", [(80, False), (100, True), (160, True)])
async def test_perp_columns_give_way_at_80_and_show_from_100(make_app, tui_settings, language, width, perps):
    app = make_app(in_language(tui_settings, language))
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        table = app.main.query_one(FlowTable)
        keys = [c.key for c in table.columns]
        spot = {"symbol", "consensus", "binance", "okx", "bybit", "coinbase", "total", "signals"}
        assert spot <= set(keys)  # the spot figures never give way to the perp ones
        assert ("perp" in keys, "oi" in keys) == (perps, perps)
        header = table.render_line(0).text
        assert "…" not in header and cell_len(header) <= width
        if perps:
            assert keys.index("perp") == keys.index("total") + 1  # beside the spot total
            c = catalogue(language).columns
            assert c.perp in header and c.oi_change in header


async def test_perp_cells_read_the_derivatives_line(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        xrp = cells(app, "XRP/USDT")
        assert xrp["perp"] == "-25.06M~"  # Bybit's perp covered 20 of 50 minutes: marked
        assert xrp["oi"] == "+1.88%"
        assert cells(app, "BTC/USDT")["oi"] == "+2.14%"
        assert cells(app, "HBAR/USDT")["oi"] == "-"  # no OI samples: unknown, not zero
        assert cells(app, "DOGE/USDT")["oi"] == "-"  # no end sample
        no_perp = cells(app, "币安人生/USDT")
        assert no_perp["perp"] == "·" and no_perp["oi"] == "·"


async def test_sorting_by_perp_flow_puts_symbols_without_a_perp_last(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.click(FlowTable, offset=(_column_x(app, "perp"), 0))
        assert app.sort.column == "perp" and app.sort.descending
        order = shown(app)
        assert order[0] == "ETH/USDT" and order[-2] == "XRP/USDT" and order[-1] == "币安人生/USDT"
        await pilot.click(FlowTable, offset=(_column_x(app, "perp"), 0))
        assert shown(app)[0] == "XRP/USDT" and shown(app)[-1] == "币安人生/USDT"


def _column_x(app: GmeApp, key: str) -> int:
    x = 0
    for column in app.main.query_one(FlowTable).columns:
        if column.key == key:
            return x + 1
        x += column.width + 1
    raise AssertionError(key)


async def test_a_spot_only_market_keeps_its_room(make_app):
    """No perp data came: no perp columns, no liquidation pane (a spot-only replay looks as before)."""
    app = make_app(items=market_items(perps=False))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        keys = [c.key for c in app.main.query_one(FlowTable).columns]
        assert "perp" not in keys and "oi" not in keys
        assert not app.main.query_one(LiquidationTicker).display
        assert app.main.query_one(WhaleTicker).display
        assert app.check_action("toggle_liquidations", ()) is False


def plain(title: object) -> str:
    return Text.from_markup(str(title)).plain


def _lines(widget) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(len(widget.items))]


async def test_a_wide_screen_shows_whales_liquidations_and_signals(make_app):
    app = make_app()
    async with app.run_test(size=(WIDE_FEEDS + 20, 40)) as pilot:
        await settle(app, pilot)
        ticker = app.main.query_one(LiquidationTicker)
        assert ticker.display and app.main.query_one(WhaleTicker).display
        lines = _lines(ticker)
        assert len(lines) == len(LIQUIDATIONS)
        assert lines[0].split()[1:4] == ["OKX", "ADA/USDT", "SHORT"]  # newest first
        btc = lines[-1]
        assert "BIN" in btc and "LONG" in btc and "$1,197,000" in btc and "@ 42,000" in btc
        await pilot.press("l")  # both show already: nothing moves
        assert ticker.display and app.main.query_one(WhaleTicker).display


@pytest.mark.parametrize("language, long_word", [("en", "LONG"), ("zh", "多单")])
async def test_on_a_narrow_screen_l_swaps_whales_and_liquidations(make_app, tui_settings, language, long_word):
    app = make_app(in_language(tui_settings, language))
    t = catalogue(language)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        whales, ticker = app.main.query_one(WhaleTicker), app.main.query_one(LiquidationTicker)
        assert whales.display and not ticker.display
        assert plain(whales.border_title).endswith(f"l {t.main.liquidations_title}")  # the key says what it brings
        await pilot.press("l")
        assert ticker.display and not whales.display
        assert plain(ticker.border_title).endswith(f"l {t.main.whales_title}")
        assert long_word in _lines(ticker)[-1] and "1.20M" in _lines(ticker)[-1]
        await pilot.press("l")
        assert whales.display and not ticker.display


def _detail_text(app: GmeApp) -> str:
    return str(app.screen.query_one("#perp", Static).render())


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_detail_shows_spot_against_perp_oi_and_sampled_liquidations(make_app, tui_settings, language):
    app = make_app(in_language(tui_settings, language))
    d = catalogue(language).detail
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "BTC/USDT")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        text = _detail_text(app)
        assert d.perp_title in text
        assert "+8.60M" in text and "-3.17M" in text  # spot total against perp total
        assert f"{d.hedge_ratio} 0.37" in text
        assert d.liquidated.format(long="1.20M", short="300k") in text
        assert d.sampled in text and d.sampled_note in text  # Binance's feed is sampled
        assert "1,000 →      1,030" in text and "+3.00%" in text  # Binance OI at both ends
        for line in text.splitlines():
            assert cell_len(line) <= 78, line  # 80 columns, padding included
        chart_title = str(app.screen.query_one("#spot-perp-title", Static).render())
        assert d.chart_spot_perp in chart_title and d.spot in chart_title and d.perp in chart_title
        recent = str(app.screen.query_one("#recent", Static).render())
        assert d.recent_liquidations in recent and "$1,197,000" in recent


async def test_detail_of_a_symbol_without_a_perp_says_so(make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "币安人生/USDT")
        await pilot.press("enter")
        await pilot.pause()
        assert "no perpetual on the enabled venues" in _detail_text(app)
        assert not app.screen.query_one("#spot-perp-chart").display


async def test_detail_without_liquidations_in_the_window_marks_nothing_sampled(make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "HBAR/USDT")
        await pilot.press("enter")
        await pilot.pause()
        text = _detail_text(app)
        assert "liquidated: long 0k  short 0k" in text and "(sampled)" not in text
        assert "no venue has OI samples at both ends of the window" in text


async def test_settings_switch_perp_venues_and_edit_b_thresholds(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert screen.query_one("#perp-coinbase", Checkbox).value is False  # its US futures: off by default
        screen.query_one("#perp-okx", Checkbox).value = False
        screen.query_one("#num-signals-b_oi_min_change_pct", Input).value = "2.5"
        screen.query_one("#num-signals-b_spot_min_flow", Input).value = "2_000_000"
        screen.query_one("#liquidation-notify", Checkbox).value = True
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = load_settings(tmp_path / "settings.toml")
        assert saved.perp_venues == ("binance", "bybit")
        assert saved.signals.b_oi_min_change_pct == 2.5
        assert saved.signals.b_spot_min_flow == 2_000_000
        assert saved.alerts.enable_liquidation_notify is True
        text = (tmp_path / "settings.toml").read_text("utf-8")
        assert text.startswith("# my settings")  # the user's comments kept
        assert app.settings.perp_venues == ("binance", "bybit")  # applied to the running app
        assert app.saved_settings[-1].signals.b_oi_min_change_pct == 2.5  # handed to the pipeline


async def test_settings_refuse_a_bad_b_threshold(make_app, tmp_path: Path):
    app = make_app()
    before = (tmp_path / "settings.toml").read_text("utf-8")
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#num-signals-b_min_perp_venues", Input).value = "1.5"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        assert "B: perp venues at least: '1.5' is not a whole number" in str(
            app.screen.query_one("#errors", Static).render()
        )
    assert (tmp_path / "settings.toml").read_text("utf-8") == before


async def test_all_perp_venues_off_removes_the_perp_columns_and_pane(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        assert app.save_settings({f"exchanges.{e}.perp": False for e in ("binance", "okx", "bybit")})
        await pilot.pause()
        keys = [c.key for c in app.main.query_one(FlowTable).columns]
        assert "perp" not in keys and "oi" not in keys
        assert not app.main.query_one(LiquidationTicker).display


@pytest.mark.parametrize(
    "value, text",
    [(None, "-"), (0.0, "+0.00%"), (1.0, "+1.00%"), (-9.994, "-9.99%"), (12.34, "+12.3%"), (154.4, "+154%")],
)
def test_oi_change_text(value, text):
    assert oi_text(value) == text
    assert len(text) <= 7  # the column's width


@pytest.mark.parametrize(
    "value, text",
    [(0.5, "0.5"), (505.0, "505"), (1_030.0, "1,030"), (50_200.0, "50.2k"), (8.2e6, "8.20M"), (2.5e9, "2.50B")],
)
def test_oi_amount_keeps_a_small_change_visible(value, text):
    assert oi_amount(value) == text


@pytest.mark.parametrize("width, shared", [(WIDE_FEEDS - 1, True), (WIDE_FEEDS, False)])
async def test_whales_and_liquidations_share_a_place_below_the_wide_width(make_app, width, shared):
    app = make_app()
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        assert app.main.shared_feed is shared
        assert app.main.query_one(LiquidationTicker).display is not shared


async def test_a_venue_without_oi_at_both_ends_reads_n_a(make_app):
    """DOGE: OKX and Bybit have a start sample only, so no venue forms the OI set; ADA: all three do."""
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "DOGE/USDT")
        await pilot.press("enter")
        await pilot.pause()
        assert "no venue has OI samples at both ends of the window" in _detail_text(app)


def test_the_oi_table_lists_every_perp_venue(tmp_path: Path):
    full = _btc_line(tmp_path)
    line = dataclasses.replace(full, oi={k: v for k, v in full.oi.items() if k != "okx"})
    lines = oi_table(line, catalogue("en"), DEFAULT_COLOURS).plain.splitlines()
    assert [row.split()[0] for row in lines[2:]] == ["BIN", "OKX", "BYB"]
    assert lines[3].split() == ["OKX", "n/a"]  # out of the OI set: not a zero


def _btc_line(tmp_path: Path) -> Derivatives:
    settings = settings_file(tmp_path)
    engine = Engine(dataclasses.replace(EngineConfig.from_settings(settings, live=False), track_coverage=True))
    events = [*engine.feed_many(market_items(perps=True)), *engine.finish()]
    scan = [e for e in events if isinstance(e, Scan)][-1]
    line = next(item.derivatives for item in scan.symbols if item.consensus.symbol == "BTC/USDT")
    assert line is not None
    return line


def test_trader_words_for_the_perpetual_side_in_chinese():
    t = catalogue("zh")
    assert (t.common.long, t.common.short) == ("多单", "空单")
    assert t.main.liquidations_title == "爆仓"
    assert (t.columns.perp, t.columns.oi_change) == ("合约净流", "持仓变化")
    assert t.common.signals[SignalCode.DERIVATIVES_HEDGE] == "衍生品对冲"  # B keeps the original's name
    assert "U 本位" in t.settings.perps


async def test_c_opens_the_session_scorecard_or_says_there_is_none(make_app):
    from gme_tui.scorecard import ScoreCollector, compute
    from gme_tui.tui.screens.scorecard import ScorecardScreen

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        assert any("the scorecard needs a running session" in str(n.message) for n in app._notifications)
        assert not isinstance(app.screen, ScorecardScreen)
    collector = ScoreCollector(50)
    app = make_app(scorecard=lambda: compute(collector.data(), (15, 60)))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ScorecardScreen)
