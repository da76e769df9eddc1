"""Issue 13 on screen: every label in the settings' language and switchable live; empty states that
say why; titles never cut; status and key bar that fit 80 columns; the paused scan time."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from rich.cells import cell_len
from textual.widgets import Select

from gme_tui.i18n import catalogue, entries
from gme_tui.model import RobotStatus, Scan
from gme_tui.settings import Settings
from gme_tui.tui.app import GmeApp
from gme_tui.tui.screens.main import main_keys
from gme_tui.tui.screens.settings import SettingsScreen
from gme_tui.tui.widgets.cells import fit
from gme_tui.tui.widgets.feeds import SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.keybar import KeyBar
from gme_tui.tui.widgets.status import StatusBar
from tests.tui.conftest import RecordingAlerts
from tests.tui.market import SHAPES, market_items, settle

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
CJK_SYMBOLS = {s for s in SHAPES if CJK.search(s)}  # exchange data, not labels


def in_language(settings: Settings, language: str) -> Settings:
    return msgspec.structs.replace(settings, language=language)


def main_text(app: GmeApp) -> str:
    """What the main screen draws: table, feeds, titles, status bar, key bar."""
    screen = app.main
    table = screen.query_one(FlowTable)
    lines = [table.render_line(y).text for y in range(min(12, len(table.rows) + 2))]
    for feed in (screen.query_one(WhaleTicker), screen.query_one(SignalLogView)):
        lines += [feed.render_line(y).text for y in range(5)]
        lines.append(str(feed.border_title))
    lines.append(str(screen.query_one(StatusBar).render()))
    lines.append(screen.query_one(KeyBar).line(screen.size.width - 2).plain)
    return "\n".join(lines)


def without_symbols(text: str) -> str:
    for symbol in CJK_SYMBOLS:
        text = text.replace(symbol, "")
    return re.sub(r"币安人生/…|币安人生", "", text)  # the same symbol, cut to its column


ENGLISH_WORDS = ("SYMBOL", "CONSENSUS", "TOTAL", "WHALES", "SIGNALS", "Quit", "Help", "Search", "Settings")
ENGLISH_WORDS += ("filter", "scan", "sort", "replay finished", "Mixed", "Strong", "grades", "BUY", "SELL")


async def test_chinese_labels_everywhere_on_the_main_screen(make_app, tui_settings):
    app = make_app(in_language(tui_settings, "zh"))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        text = main_text(app)
    left = [word for word in ENGLISH_WORDS if word in text]
    assert left == []
    t = catalogue("zh")
    for label in (t.columns.symbol, t.main.whales_title, t.keys.quit, t.status.replay_finished, "筛选：等级 全部"):
        assert label in text


async def test_english_screen_has_no_chinese_but_symbol_names(make_app):
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        text = main_text(app)
    assert CJK.findall(without_symbols(text)) == []


async def test_the_language_switches_live_from_the_settings_screen(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert "SYMBOL" in app.main.query_one(FlowTable).render_line(0).text
        await pilot.press("o")
        assert isinstance(app.screen, SettingsScreen)
        language: Select[str] = app.screen.query_one("#language", Select)
        language.value = "zh"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.settings.language == "zh"
        assert 'language = "zh"' in (tmp_path / "settings.toml").read_text()
        text = main_text(app)
        assert [word for word in ENGLISH_WORDS if word in text] == []
        assert "币种" in app.main.query_one(FlowTable).render_line(0).text
        assert app.convention == "red-up"  # the colours follow the language's custom
        await pilot.press("o")  # and the settings screen itself now speaks Chinese
        sections = [str(static.render()) for static in app.screen.query(".section")]
        assert catalogue("zh").settings.exchanges in sections
        await pilot.press("escape")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("3",), "no symbol holds a B signal at the last scan (0 shows all)"),
        (("slash", "z", "z", "enter"), "no symbol contains 'zz' (escape clears the search)"),
        (("1", "slash", "e", "t", "enter"), "no symbol contains 'et' with a A+ signal (0 shows all, escape clears)"),
    ],
)
async def test_an_empty_table_says_why(make_app, keys, expected):
    app = make_app(items=market_items(perps=False))  # spot only: no B
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        table = app.main.query_one(FlowTable)
        assert table.rows == []
        assert expected in table.render_line(1).text


async def test_before_the_first_scan_the_table_says_it_waits(make_app, tui_settings):
    app = make_app(in_language(tui_settings, "zh"), items=[], start_pipeline=False)
    async with app.run_test(size=(100, 30)) as pilot:
        while not app._started:
            await pilot.pause()
        app.tick()
        await pilot.pause()
        assert "等待第一个 50 分钟窗口" in app.main.query_one(FlowTable).render_line(1).text


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("width", [80, 100, 160])
async def test_every_sorted_title_keeps_its_arrow(make_app, tui_settings, language, width):
    app = make_app(in_language(tui_settings, language))
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        table = app.main.query_one(FlowTable)
        for _ in range(len(table.columns) * 2):
            await pilot.press("s")
            header = table.render_line(0).text
            column = next(c for c in table.columns if c.key == app.sort.column)
            title = app.main.query_one(FlowTable).header_note.get(column.key, column.title)
            assert f"{title}{'↓' if app.sort.descending else '↑'}" in header, (column.key, header)
            assert "…" not in header


async def test_the_symbol_title_sits_over_the_symbols(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        table = app.main.query_one(FlowTable)
        header, first = table.render_line(0).text, table.render_line(1).text
        assert header.index("SYMBOL") == first.index(table.rows[0].symbol)


async def test_while_paused_the_status_shows_the_scan_of_the_frozen_rows(make_app):
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        scan = app.market.scan
        assert scan is not None
        app.inbox.on_events([Scan(scan.ts + 3 * 60_000, scan.window_minutes, scan.symbols)])
        app.tick()
        status = str(app.main.query_one(StatusBar).render())
        assert "PAUSED (+1)" in status and "scan 09:50" in status and "09:53" not in status
        await pilot.press("p")
        assert "scan 09:53" in str(app.main.query_one(StatusBar).render())


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("width", [80, 100, 120, 160])
async def test_the_key_bar_shows_whole_keys_only(make_app, tui_settings, language, width):
    app = make_app(in_language(tui_settings, language))
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        bar = app.main.query_one(KeyBar)
        line = bar.line(bar.content_size.width).plain
    assert cell_len(line) <= width - 2
    pairs = {f"{item.keys} {item.label}" for item in main_keys(catalogue(language))}  # type: ignore[arg-type]
    shown = [chunk.strip() for chunk in re.split(r"\s{2,}", line.replace("^p ", "\0")) if chunk.strip()]
    for chunk in shown:
        assert chunk.replace("\0", "^p ") in pairs or chunk.startswith("\0"), (chunk, line)
    must = {"q", "?", "s", "o", "0-5"}
    assert must <= {chunk.split(" ")[0] for chunk in shown}
    assert ("^p" in line) == (width >= 160 if language == "en" else width >= 120)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_the_status_bar_fits_80_columns_and_keeps_the_scan_line(make_app, tui_settings, language):
    class FailingRobot(RecordingAlerts):
        def status(self) -> dict[str, RobotStatus]:
            return {
                "dingtalk": RobotStatus(
                    "dingtalk",
                    "DingTalk",
                    True,
                    0,
                    7,
                    0,
                    "errcode 310000 (sign not match: keywords, signing or IP list)",
                    "check DINGTALK_SECRET and the robot's security settings in the DingTalk group",
                    halted=True,
                )
            }

    app = make_app(in_language(tui_settings, language), alerts=FailingRobot())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        lines = str(app.main.query_one(StatusBar).render()).split("\n")
    t = catalogue(language)  # type: ignore[arg-type]
    assert len(lines) == 2 and all(cell_len(line) <= 78 for line in lines)
    assert lines[0].startswith("BIN ")
    second = lines[1]
    assert t.status.scan.format(time="09:50") in second and "8/8" in second
    assert t.status.filter_grade.format(grade=t.common.grade_all) in second
    assert "310000" in second  # the robot's trouble is there, cut rather than taking the line


def test_fit_never_leaves_a_gap_before_the_ellipsis():
    assert fit("主力全平台吸筹", 5, "left") == "主力…"
    assert fit("主力全平台吸筹", 6, "left") == "主力… "  # the spare cell goes after it
    assert fit("Asian exchanges", 8, "left") == "Asian e…"
    assert fit("币安人生/USDT", 10, "left") == "币安人生/…"


def test_every_catalogue_label_is_a_str():  # the lookups the widgets make exist in both languages
    assert set(entries(catalogue("zh"))) == set(entries(catalogue("en")))


async def test_after_shrinking_from_120_to_80_columns_the_key_bar_still_fits(make_app):
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app, pilot)
        bar = app.main.query_one(KeyBar)
        wide = bar.line(bar.content_size.width).plain
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        narrow = bar.line(bar.content_size.width).plain
    assert "^p palette" not in wide  # 120 columns: not every key fits beside it
    assert cell_len(narrow) <= 78 and "^p" not in narrow and "o Settings" in narrow
    assert narrow.endswith("h History")  # whole pairs to the last: no "Sett" or stray "m"
