"""Live headless JSON: the real pipeline on the fake exchange prints consensus lines with coverage."""

from __future__ import annotations

import asyncio
import io

import orjson

from gme_tui.engine import Engine, EngineConfig
from gme_tui.format import zone
from gme_tui.headless import HeadlessPrinter
from gme_tui.model import MINUTE_MS
from gme_tui.pipeline import Pipeline
from gme_tui.sources.live import LiveSource
from tests.live.conftest import make_settings
from tests.live.test_backfill_reconnect import run_market

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


async def test_live_json_consensus_lines_carry_coverage(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    settings = make_settings(fake, ("binance", "bybit"), SYMBOLS, window=3)
    source = LiveSource(settings, clock=clock, settle_seconds=1.0)
    pipeline = Pipeline(
        source, Engine(EngineConfig.from_settings(settings, live=True)), scan_grace_ms=1_500, now_ms=clock.wall_ms
    )
    out = io.BytesIO()
    pipeline.add_consumer(HeadlessPrinter(out, as_json=True, tz=zone("UTC"), flush_each=True))
    run = asyncio.create_task(pipeline.run())
    market = asyncio.create_task(run_market(fake, ("binance", "bybit"), SYMBOLS, []))
    try:
        start = clock.wall_ms()
        await clock.sleep(((start // MINUTE_MS + 5) * MINUTE_MS + 2_000 - start) / 1000)  # five scans
    finally:
        market.cancel()
        run.cancel()
        await asyncio.gather(run, market, return_exceptions=True)
    events = [orjson.loads(line) for line in out.getvalue().splitlines()]
    consensus = [e for e in events if e["type"] == "consensus"]
    assert consensus, events[:3]
    assert all(set(e["coverage"]) == set(e["flows"]) == {"binance", "bybit"} for e in consensus)
    last = [e for e in consensus if e["ts"] == consensus[-1]["ts"]]
    assert {e["symbol"] for e in last} == set(SYMBOLS)
    assert all(e["coverage"]["binance"] == 3 for e in last)  # backfilled: the whole window
    assert all(e["coverage"]["bybit"] < 3 for e in consensus[: len(SYMBOLS)])  # no history: grows from the start
