"""The app at its seams: one mute state shared with the alerts, health only from the pipeline's
heartbeat, and a help screen generated from the bindings."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.table import Table
from textual.binding import Binding
from textual.widgets import Static

from gme_tui.core.mutes import Mutes
from gme_tui.model import ExchangeHealth, HealthState, HealthUpdate, SourceMode
from gme_tui.tui.app import GmeApp
from gme_tui.tui.screens.help import HelpScreen, key_lines, key_name, main_bindings
from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar
from tests.tui.conftest import RecordingAlerts
from tests.tui.market import NOW_MS, MemorySource, settings_file, settle
from tests.tui.test_keys import move_cursor_to

MUTED_IN_FILE = 'language = "en"\ntimezone = "UTC"\n\n[ui]\nrefresh_ms = 100\n\n[alerts]\nmuted = ["ETH/USDT"]\n'


def status(app: GmeApp) -> str:
    return str(app.main.query_one(StatusBar).render())


def symbol_cells(app: GmeApp) -> dict[str, str]:
    """What the table draws in its SYMBOL column, by symbol (marks included)."""
    table = app.main.query_one(FlowTable)
    return {row.symbol: table.render_line(index + 1).text[:12] for index, row in enumerate(table.rows)}


# ---------------------------------------------------------------- mutes


async def test_a_symbol_muted_in_the_settings_file_shows_the_mute_mark(make_app, tmp_path: Path):
    settings = settings_file(tmp_path, MUTED_IN_FILE)
    app = make_app(settings)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        cells = symbol_cells(app)
        assert cells["ETH/USDT"].startswith(" m") and "ETH/USDT" in cells["ETH/USDT"]
        assert cells["BTC/USDT"].startswith("  ")
        await move_cursor_to(pilot, app, "ETH/USDT")
        await pilot.press("m")  # muted in the file: stays muted until removed there
        assert app.mutes.until("ETH/USDT", NOW_MS) == float("inf")
        assert symbol_cells(app)["ETH/USDT"].startswith(" m")
        assert app.save_settings({"alerts.muted": ["SOL/USDT"]})  # saved settings apply to the one mute state
        cells = symbol_cells(app)
        assert cells["SOL/USDT"].startswith(" m") and cells["ETH/USDT"].startswith("  ")
        assert app.mutes.muted(NOW_MS) == {"SOL/USDT"}


async def test_a_mute_from_the_keyboard_ends_on_time_and_its_mark_goes(make_app):
    clock = [NOW_MS]
    mutes = Mutes()
    app = make_app(mutes=mutes, now_ms=lambda: clock[0])
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(app, pilot)
        await move_cursor_to(pilot, app, "BTC/USDT")
        await pilot.press("m")
        assert symbol_cells(app)["BTC/USDT"].startswith(" m")
        clock[0] += int(app.settings.alerts.mute_minutes * 60_000) - 1
        app.tick()
        assert symbol_cells(app)["BTC/USDT"].startswith(" m")
        clock[0] += 1
        app.tick()
        assert symbol_cells(app)["BTC/USDT"].startswith("  ")
        assert mutes.muted(clock[0]) == frozenset()


# ---------------------------------------------------------------- health


class UnpolledSource(MemorySource):
    """A source that fails the test if anyone reads its health: only the pipeline may, and its
    heartbeat does not run here (the pipeline is not started)."""

    def __init__(self) -> None:
        super().__init__([])
        self.health_calls = 0

    def health(self) -> list[ExchangeHealth]:
        self.health_calls += 1
        raise AssertionError("the UI polled the source's health")


async def test_the_status_bar_shows_the_health_update_the_inbox_received(make_app):
    alerts = RecordingAlerts()
    app = make_app(alerts=alerts, start_pipeline=False)
    source = UnpolledSource()
    app.pipeline.source = source
    async with app.run_test(size=(160, 30)) as pilot:
        while not app._started:
            await pilot.pause()
        app.tick()
        before = status(app)
        assert "BIN" not in before and "[replay]" in before  # no heartbeat yet: the source's mode
        app.inbox.on_health(
            HealthUpdate(
                now_ms=NOW_MS,
                mode=SourceMode.LIVE,
                exchanges=(
                    ExchangeHealth(
                        "binance", HealthState.DOWN, NOW_MS - 90_000, NOW_MS - 90_000, 0.0, 0, "DNS lookup failed"
                    ),
                    ExchangeHealth("okx", HealthState.LIVE, NOW_MS - 600_000, NOW_MS - 400, 250.0),
                ),
            )
        )
        assert status(app) == before  # rendered on the tick, not on arrival
        app.tick()
        shown = status(app)
        assert "BIN ● down 0/s 90s (DNS lookup failed)" in shown
        assert "OKX ● 250/s 0.4s" in shown
        assert "[live]" in shown
        for _ in range(3):
            app.tick()
    assert source.health_calls == 0
    assert alerts.health_seen == 0  # the app hands the alerts no health: the pipeline does


# ---------------------------------------------------------------- help

# What the help showed before it was generated (keys as tokens: "/  text" was the slash key):
# every line's keys and meaning are still there.
TODAYS_LINES = (
    ("0 1 2 3 4 5", "grade filter: all rows, A+, A, B, C, any signal"),
    ("/", "filter symbols by text; escape clears"),
    ("s / S", "sort by the next column / reverse (a click on a header too)"),
    ("↑ ↓ PgUp PgDn", "move the cursor"),
    ("enter", "detail of the selected symbol (escape returns)"),
    ("o", "settings: exchanges, window, thresholds, alerts, language, colours"),  # issue 13: two more
    ("f", "pin / unpin the selected symbol (kept on top, saved)"),
    ("m", "mute / unmute the selected symbol's alerts for a while"),
    ("p", "pause / resume screen updates (data keeps flowing)"),
    ("h", "signal history: past signals from the store, filtered by grade and symbol"),
    ("?", "this help"),
    ("ctrl+p", "command palette"),
    ("q", "quit"),
)


def rendered_help(app: GmeApp) -> str:
    assert isinstance(app.screen, HelpScreen)
    table = app.screen.query_one(Static).content
    assert isinstance(table, Table)
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(table)
    return console.export_text()


async def test_help_lists_every_binding_of_the_app_the_main_screen_and_the_table(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        text = rendered_help(app)
    lines = [line.rstrip() for line in text.splitlines()]
    width = lines[0].index("grade filter")  # where the meaning column starts
    keys_and_meanings = [(line[:width].split(), line[width:]) for line in lines if line[width:]]
    for keys, meaning in TODAYS_LINES:
        assert any(set(keys.split()) <= set(k) and m == meaning for k, m in keys_and_meanings), (keys, meaning)
    declared = [
        b for cls in (GmeApp, MainScreen, FlowTable) for b in Binding.make_bindings(cls.BINDINGS) if not b.system
    ]
    assert len(declared) >= 25
    for binding in declared:
        meaning = binding.tooltip or binding.description
        assert meaning, f"{binding.key} -> {binding.action} has nothing to say in the help"
        assert any(key_name(binding) in keys for keys, _ in keys_and_meanings), f"{binding.key} is not in the help"


def test_a_binding_the_layout_does_not_name_still_gets_a_line():
    extra = Binding("x", "app.frobnicate", "Frob", tooltip="frobnicate the selection")
    lines = key_lines(main_bindings([*GmeApp.BINDINGS, extra]))
    assert lines[-1] == ("x", "frobnicate the selection")
    assert ("q", "quit") in lines
