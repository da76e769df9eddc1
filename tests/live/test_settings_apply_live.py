"""Issue 13 item 3 end to end in cli's wiring: the TUI's `on_settings_saved` (cli.SettingsApplier)
on a live pipeline turns an exchange on and off in the running source (its collector starts with
backfill then stream, or stops), and the engine takes the new exchange set, against the fake
exchange with the real ccxt clients."""

from __future__ import annotations

from gme_tui.cli import SettingsApplier
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import Trade
from gme_tui.pipeline import Pipeline
from gme_tui.sources.live import LiveSource
from tests.fakes.harness import background, fake_exchange, pinned_clock, run_market
from tests.live.conftest import make_settings

SYMBOLS = ["BTC/USDT"]


async def test_a_saved_exchange_switch_reaches_the_running_live_source() -> None:
    clock = pinned_clock(20.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        only_binance = make_settings(fake, ("binance",), SYMBOLS, backfill=False)
        both = make_settings(fake, ("binance", "okx"), SYMBOLS, backfill=False)
        source = LiveSource(only_binance, clock=clock)
        engine = Engine(EngineConfig.from_settings(only_binance, live=True))
        pipeline = Pipeline(source, engine)
        apply = SettingsApplier(pipeline, None, live=True, minutes=False)

        apply(both)  # the settings screen saved OKX on
        assert [h.exchange for h in source.health()] == ["binance", "okx"]
        assert engine.config.exchanges == ("binance", "okx")

        seen: list[Trade] = []
        tape: list = []
        async with background(run_market(fake, ["binance", "okx"], SYMBOLS, tape, every_s=2.0)):
            batches = source.batches()
            try:
                for _ in range(400):  # bounded: each batch comes within a heartbeat
                    batch = await anext(batches)
                    seen.extend(i for i in batch if isinstance(i, Trade))
                    if {t.exchange for t in seen} == {"binance", "okx"}:
                        break
            finally:
                await batches.aclose()
                await source.close()
        assert {t.exchange for t in seen} == {"binance", "okx"}

        apply(only_binance)  # and off again
        assert [h.exchange for h in source.health()] == ["binance"]
        assert engine.config.exchanges == ("binance",)
