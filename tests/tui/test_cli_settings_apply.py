"""Settings applied at once through the settings screen (issue 13 item 3), with the command line's
`SettingsApplier` as `on_settings_saved`: after Ctrl+S the figures, TOTAL, consensus and signals
are those of the new settings at the scan already shown, not at the next minute."""

from __future__ import annotations

from pathlib import Path

import pytest

from gme_tui.cli import SettingsApplier
from gme_tui.model import Level
from gme_tui.settings import Settings
from gme_tui.tui.app import GmeApp
from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar
from tests.tui.market import NOW_MS, make_pipeline, settle


def app_with_applier(settings: Settings) -> GmeApp:
    pipeline = make_pipeline(settings)
    applier = SettingsApplier(pipeline, None, live=False, minutes=False)
    return GmeApp(settings, pipeline, on_settings_saved=applier, now_ms=lambda: NOW_MS)


def flows(app: GmeApp, symbol: str) -> dict[str, float]:
    return dict(app.market.rows[symbol].scan.consensus.flows)


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_turning_an_exchange_off_recomputes_total_and_consensus_at_once(
    tui_settings: Settings, tmp_path: Path, language: str
) -> None:
    if language == "zh":
        (tmp_path / "settings.toml").write_text(
            (tmp_path / "settings.toml").read_text().replace('language = "en"', 'language = "zh"')
        )
        from gme_tui.settings import load_settings

        tui_settings = load_settings(Path("settings.toml"))
    app = app_with_applier(tui_settings)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)  # the replay has ended: no next scan will come
        before = app.market.scan
        assert before is not None and not before.rescan
        eth = app.market.rows["ETH/USDT"]
        assert set(flows(app, "ETH/USDT")) == {"binance", "okx", "bybit", "coinbase"}
        scans = app.pipeline.engine.stats.scans  # type: ignore[attr-defined]

        await pilot.press("o")
        app.screen.query_one("#ex-binance").focus()
        await pilot.press("enter")  # Binance off
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        app.tick()  # the next UI tick drains what the pipeline handed over
        await pilot.pause()

        after = app.market.scan
        assert after is not None and after.rescan and after.ts == before.ts
        assert app.pipeline.engine.stats.scans == scans  # type: ignore[attr-defined]
        new_flows = flows(app, "ETH/USDT")
        assert set(new_flows) == {"okx", "bybit", "coinbase"}
        expected = sum(v for e, v in eth.scan.consensus.flows.items() if e != "binance")
        assert app.market.rows["ETH/USDT"].total == pytest.approx(expected)
        assert app.market.rows["ETH/USDT"].total != pytest.approx(eth.total)
        for row in app.market.rows.values():  # every symbol, not only the one looked at
            assert "binance" not in row.scan.exchanges and "binance" not in row.scan.consensus.flows
        assert "binance" not in [c.key for c in app.main.query_one(FlowTable).columns]
        bar = app.main.query_one(StatusBar).info
        assert bar is not None and [h.exchange for h in bar.health] == ["okx", "bybit", "coinbase"]


async def test_a_higher_threshold_changes_the_consensus_of_the_scan_shown(tui_settings: Settings) -> None:
    app = app_with_applier(tui_settings)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        assert app.market.rows["BTC/USDT"].scan.consensus.level == Level.STRONG_BULLISH
        # every exchange's net must now pass 1 B for a strong level: BTC's do not
        assert app.save_settings({"consensus.strong_flow": 1e9})
        app.tick()
        await pilot.pause()
        assert app.market.scan is not None and app.market.scan.rescan
        assert app.market.rows["BTC/USDT"].scan.consensus.level != Level.STRONG_BULLISH
