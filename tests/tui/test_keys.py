"""Pilot tests: every key path of SPEC §12 on deterministic data."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from gme_tui.core.mutes import Mutes
from gme_tui.model import Scan
from gme_tui.tui.app import GmeApp, run_app
from gme_tui.tui.screens.detail import DetailScreen
from gme_tui.tui.screens.help import HelpScreen
from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.screens.settings import SettingsScreen
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar
from tests.tui.conftest import RecordingAlerts
from tests.tui.market import NOW_MS, SHAPES, market_items, settle

ALL = set(SHAPES)


def shown(app: GmeApp) -> list[str]:
    return [row.symbol for row in app.main.query_one(FlowTable).rows]


def status(app: GmeApp) -> str:
    return str(app.main.query_one(StatusBar).render())


async def move_cursor_to(pilot, app: GmeApp, symbol: str) -> None:
    table = app.main.query_one(FlowTable)
    await pilot.press("home")
    for _ in range(len(table.rows)):
        if table.selected == symbol:
            return
        await pilot.press("down")
    assert table.selected == symbol


@pytest.mark.parametrize(
    "key, expected, label",
    [
        ("0", ALL, "grade all"),
        ("1", {"BTC/USDT"}, "grade A+"),
        ("2", {"ETH/USDT"}, "grade A"),
        ("3", set(), "grade B"),
        ("4", {"HBAR/USDT", "币安人生/USDT"}, "grade C"),
        ("5", {"BTC/USDT", "ETH/USDT", "HBAR/USDT", "币安人生/USDT"}, "grade any signal"),
    ],
)
async def test_grade_filter_keys(make_app, key, expected, label):
    app = make_app(items=market_items(perps=False))  # spot only: no B
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("5" if key == "0" else "0")  # start from another filter
        await pilot.press(key)
        assert set(shown(app)) == expected
        assert label in status(app)


async def test_search_combines_with_grade_filter_and_escape_clears(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("b", "a")  # BNB? no: HBAR and BTC? only "ba" -> HBAR/USDT
        assert shown(app) == ["HBAR/USDT"]
        await pilot.press("enter")  # keeps the search, back to the table
        assert isinstance(app.focused, FlowTable)
        assert "search 'ba'" in status(app)
        await pilot.press("1")  # A+ and "ba": nothing
        assert shown(app) == []
        await pilot.press("4")  # C and "ba": HBAR
        assert shown(app) == ["HBAR/USDT"]
        await pilot.press("escape")
        assert app.search == ""
        assert set(shown(app)) == {"HBAR/USDT", "币安人生/USDT"}


async def test_sort_next_and_reverse_keep_the_cursor_on_its_symbol(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        assert shown(app)[0] == "XRP/USDT"  # default: total, descending
        await move_cursor_to(pilot, app, "SOL/USDT")
        table = app.main.query_one(FlowTable)
        columns = [c.key for c in table.columns]
        await pilot.press("s")
        assert app.sort.column == columns[columns.index("total") + 1]
        assert table.selected == "SOL/USDT"
        before = shown(app)
        await pilot.press("S")
        assert app.sort.descending is not True or app.sort.column in ("symbol",)
        assert table.selected == "SOL/USDT"
        assert shown(app) != before
        for _ in range(len(columns)):  # every column sorts, the cursor never leaves SOL
            await pilot.press("s")
            assert table.selected == "SOL/USDT"
            assert table.rows[table.cursor].symbol == "SOL/USDT"


async def test_header_click_sorts_and_second_click_reverses(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.click(FlowTable, offset=(2, 0))  # SYMBOL header
        assert app.sort.column == "symbol" and not app.sort.descending
        assert shown(app) == sorted(SHAPES)
        await pilot.click(FlowTable, offset=(2, 0))
        assert app.sort.descending
        assert shown(app) == sorted(SHAPES, reverse=True)


async def test_cursor_stays_on_its_symbol_when_a_new_scan_reorders_rows(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "DOGE/USDT")
        old_index = app.main.query_one(FlowTable).cursor
        scan = app.market.scan
        flipped = Scan(
            scan.ts + 60_000,
            scan.window_minutes,
            tuple(
                dataclasses.replace(item, consensus=dataclasses.replace(item.consensus, total=-item.consensus.total))
                for item in scan.symbols
            ),
        )
        app.inbox.on_events([flipped])
        app.tick()
        await pilot.pause()
        table = app.main.query_one(FlowTable)
        assert shown(app)[0] == "ADA/USDT"  # order changed
        assert table.cursor != old_index
        assert table.selected == "DOGE/USDT"


async def test_detail_opens_on_the_selected_symbol_and_closes(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "ETH/USDT")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.symbol == "ETH/USDT"
        chart = str(app.screen.query_one("#chart").render())
        assert "ETH/USDT" in chart and "BYB" in chart and "12/50m" in chart
        recent = str(app.screen.query_one("#recent").render())
        assert "$1,249,440" in recent and "US Institutional Accumulation" in recent
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_settings_toggle_is_saved_keeping_comments_and_applied_live(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#ex-bybit").focus()
        await pilot.press("enter")  # toggles the checkbox
        app.screen.query_one("#num-window-minutes").value = "30"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        text = (tmp_path / "settings.toml").read_text()
        assert text.startswith('# my settings\nlanguage = "en"  # labels\n')
        assert "[exchanges.bybit]" in text or "exchanges.bybit" in text or "[exchanges]" in text
        assert "refresh_ms = 100" in text and "minutes = 30" in text
        assert app.settings.exchanges["bybit"].enabled is False
        assert app.settings.window.minutes == 30
        assert app.saved_settings and app.saved_settings[-1].exchanges["bybit"].enabled is False
        assert "bybit" not in [c.key for c in app.main.query_one(FlowTable).columns]


async def test_settings_refuse_a_bad_number_and_leave_the_file_alone(make_app, tmp_path: Path):
    app = make_app()
    before = (tmp_path / "settings.toml").read_text()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("o")
        app.screen.query_one("#num-window-minutes").value = "fifty"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        assert "not a whole number" in str(app.screen.query_one("#errors").render())
        app.screen.query_one("#num-window-minutes").value = "0"  # below the schema's minimum
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
    assert (tmp_path / "settings.toml").read_text() == before


async def test_pin_keeps_the_symbol_on_top_and_saves_it(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "SOL/USDT")
        await pilot.press("f")
        assert shown(app)[0] == "SOL/USDT"
        assert app.settings.ui.pinned == ("SOL/USDT",)
        assert 'pinned = ["SOL/USDT"]' in (tmp_path / "settings.toml").read_text()
        await pilot.press("S")  # whatever the sort
        assert shown(app)[0] == "SOL/USDT"
        assert app.main.query_one(FlowTable).selected == "SOL/USDT"
        await pilot.press("f")
        assert app.settings.ui.pinned == ()


async def test_mute_sets_the_shared_mutes_and_marks_the_row(make_app):
    alerts = RecordingAlerts()
    mutes = Mutes()  # the one the alert dispatcher reads too
    app = make_app(alerts=alerts, mutes=mutes)
    app.pipeline.add_consumer(alerts)  # as the command line wires it
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "BTC/USDT")
        await pilot.press("m")
        until = NOW_MS + int(app.settings.alerts.mute_minutes * 60_000)
        assert mutes.until("BTC/USDT", NOW_MS) == until
        assert "BTC/USDT" in app.main.query_one(FlowTable).context.muted
        await pilot.press("m")
        assert mutes.until("BTC/USDT", NOW_MS) is None
        assert "BTC/USDT" not in app.main.query_one(FlowTable).context.muted
        assert alerts.calls == []  # the dispatcher reads the shared Mutes: the app does not tell it
        assert alerts.lifecycle == ["start"] and alerts.health_seen >= 1  # exchange-down alerts are fed
    assert alerts.lifecycle == ["start", "close"]  # pending alerts flushed on exit


async def test_pause_freezes_the_screen_while_data_keeps_flowing(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        assert app.paused and "PAUSED" in status(app)
        scan = app.market.scan
        app.inbox.on_events([Scan(scan.ts + 60_000, scan.window_minutes, scan.symbols[:2])])
        app.tick()
        assert len(shown(app)) == len(SHAPES)  # screen frozen
        assert len(app.market.rows) == 2  # data moved on
        assert "PAUSED (+1)" in status(app)
        await pilot.press("p")
        assert not app.paused
        assert len(shown(app)) == 2


async def test_help_opens_and_closes(make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_q_quits_with_exit_code_zero(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert app.pipeline.source.closed


async def test_palette_offers_the_main_actions(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for wanted in ("Filter: A+", "Search symbols", "Sort by next column", "Settings", "Pause / resume"):
            assert wanted in titles


async def test_replay_end_and_source_failure_show_in_the_status_bar(make_app):
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(app, pilot)
        assert "replay finished" in status(app)

    class BrokenSource:
        mode = "replay"

        async def batches(self):
            raise OSError("truncated gzip stream")
            yield  # pragma: no cover

        def health(self):
            return []

        async def close(self):
            pass

    broken = make_app()
    broken.pipeline.source = BrokenSource()
    async with broken.run_test(size=(160, 30)) as pilot:
        await settle(broken, pilot)
        assert "source error: OSError: truncated gzip stream" in status(broken)


def test_a_crash_exits_non_zero_with_a_one_line_hint_and_the_traceback_in_the_log(make_app, capsys, caplog):
    app = make_app()

    def explode() -> None:
        raise ZeroDivisionError("boom")

    app.tick = explode  # the first tick runs when the main screen mounts
    with caplog.at_level(logging.CRITICAL, logger="gme_tui.tui.app"):
        code = run_app(app, headless=True)
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ZeroDivisionError: boom" in err[0]
    assert any(record.exc_info and record.exc_info[0] is ZeroDivisionError for record in caplog.records)
