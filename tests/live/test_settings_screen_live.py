"""Issue 13 item 3 through the settings screen (Pilot) on a live pipeline against the fake exchange
with the real ccxt clients: OKX, off at launch, is switched on in the settings screen and saved
(Ctrl+S); its collector starts (backfill, then stream) without a restart and its trades reach the
table and the status bar. Then switched off: its collector stops and its column goes."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from gme_tui.cli import SettingsApplier
from gme_tui.engine import Engine, EngineConfig
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings, load_settings
from gme_tui.sources.live import LiveSource
from gme_tui.tui.app import GmeApp
from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar
from tests.fakes.exchange import FakeExchange
from tests.fakes.harness import background, fake_exchange, pinned_clock, run_market

SYMBOLS = ["BTC/USDT"]


def settings_file(path: Path, fake: FakeExchange) -> Settings:
    """A user's settings file pointing both exchanges at the fake; OKX off."""
    document = {
        "language": "en",
        "exchanges": {
            name: {"enabled": name == "binance", "perp": False, "ccxt": fake.ccxt_settings(name)}
            for name in ("binance", "okx", "bybit", "coinbase")
        },
        "symbols": {"universe": "list", "list": SYMBOLS},
        "window": {"minutes": 3},
        "live": {"backfill": False, "watchdog_seconds": 30.0},
        "store": {"enabled": False},
    }
    path.write_text(tomlkit.dumps(document))
    return load_settings(path)


def columns(app: GmeApp) -> list[str]:
    return [str(c.key) for c in app.main.query_one(FlowTable).columns]


async def test_switching_okx_on_and_off_in_the_settings_screen_starts_and_stops_its_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    clock = pinned_clock(20.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        settings = settings_file(tmp_path / "settings.toml", fake)
        source = LiveSource(settings, clock=clock)
        pipeline = Pipeline(source, Engine(EngineConfig.from_settings(settings, live=True)))
        applier = SettingsApplier(pipeline, None, live=True, minutes=False)
        app = GmeApp(settings, pipeline, on_settings_saved=applier, now_ms=clock.wall_ms)
        tape: list = []
        async with background(run_market(fake, ["binance", "okx"], SYMBOLS, tape, every_s=2.0)):
            async with app.run_test(size=(160, 45)) as pilot:
                await fake.wait_subscribed("binance", 1)
                assert "okx" not in columns(app) and fake.connections_total["okx"] == 0

                await pilot.press("o")
                app.screen.query_one("#ex-okx").focus()
                await pilot.press("enter")  # OKX on
                await pilot.press("ctrl+s")
                await pilot.pause()
                assert isinstance(app.screen, MainScreen)
                assert "enabled = true" in (tmp_path / "settings.toml").read_text().split("[exchanges.okx]")[1]
                await fake.wait_subscribed("okx", 1)  # its collector started, no restart
                assert "okx" in columns(app)
                for _ in range(200):  # bounded: a heartbeat a UI tick
                    bar = app.main.query_one(StatusBar).info
                    okx = [h for h in bar.health if h.exchange == "okx"] if bar is not None else []
                    if okx and okx[0].state == "live" and okx[0].last_message_ms is not None:
                        break
                    await pilot.pause(0.05)
                assert okx and okx[0].state == "live" and okx[0].last_message_ms is not None, okx

                await pilot.press("o")
                app.screen.query_one("#ex-okx").focus()
                await pilot.press("enter")  # OKX off again
                await pilot.press("ctrl+s")
                await pilot.pause()
                await fake.wait_for(lambda: not fake.subscribed("okx"))  # its collector stopped
                app.tick()
                await pilot.pause()
                assert "okx" not in columns(app)
                bar = app.main.query_one(StatusBar).info
                assert bar is not None and [h.exchange for h in bar.health] == ["binance"]
                assert [h.exchange for h in source.health()] == ["binance"]
