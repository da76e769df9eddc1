"""Issue 10 item 10: a late trade that lands after the last scan before a stop reaches the store.

A trade of minute m1 (1,747.45 on BTC: 0.025 @ 69,898) arrives 2.2 s after the boundary that
closes m1, after that boundary's scan; SIGTERM comes at 4 s. The run goes through the cli's own
headless loop (`gme_tui.cli._headless`: SIGTERM cancels the pipeline) and its store (`StoreRun`,
closed as `gme_tui.cli` closes it). Right: the stored m1 equals the exchange's tape, late trade
included, and so does what a restart restores.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal

import pytest

from gme_tui import cli
from gme_tui.format import zone
from gme_tui.headless import HeadlessPrinter
from gme_tui.model import MINUTE_MS
from gme_tui.store import Store, StoreRun, restore_window
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.harness import BASE_MINUTE, LiveRun, background, fake_exchange, pinned_clock, run_market
from tests.live.conftest import make_settings

SYMBOL = "BTC/USDT"


def tape_totals(tape: list[TapeTrade], minute: int) -> tuple[float, float]:
    rows = [t for t in tape if t.symbol == SYMBOL and t.ts // MINUTE_MS == minute]
    return sum(t.value for t in rows if t.side == "buy"), sum(t.value for t in rows if t.side == "sell")


async def test_a_late_trade_after_the_last_scan_is_stored_when_the_run_stops(tmp_path):
    clock = pinned_clock(40.0, speed=20.0)  # the stream is up well before m1 begins: m1 is streamed whole
    m1 = BASE_MINUTE + 1
    boundary = (m1 + 1) * MINUTE_MS
    path = tmp_path / "store.db"
    async with fake_exchange(clock) as fake:
        settings = make_settings(fake, ("binance",), [SYMBOL, "ETH/USDT"], window=3)
        store_run = StoreRun.open(path, settings, live=True)
        printer = HeadlessPrinter(io.BytesIO(), as_json=True, tz=zone("UTC"), flush_each=True)
        run = LiveRun(settings, clock, emit_minutes=True, consumers=[store_run.writer, printer])
        tape: list[TapeTrade] = []
        headless = asyncio.create_task(cli._headless(run.pipeline, printer, None))
        try:
            async with background(run_market(fake, ("binance",), [SYMBOL], tape)):
                await run.until_clock(boundary - 5_000, timeout=15)
            # a trickle on another symbol keeps batches (and so scans) coming right on time
            async with background(run_market(fake, ("binance",), ["ETH/USDT"], [], every_s=0.5, per_burst=1)):
                await run.until(lambda: any(s.ts == boundary for s in run.recorder.scans()), timeout=10)
                await run.until_clock(boundary + 2_200)
                before = run.engine.stats.trades
                late = TapeTrade("binance", SYMBOL, boundary - 300, "buy", 69_898.0, 0.025, fake.new_id())
                tape.append(late)
                await fake.publish([late])
                await run.until(lambda: run.engine.stats.trades > before, timeout=5)
                await run.until_clock(boundary + 4_000)
                assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
                os.kill(os.getpid(), signal.SIGTERM)  # the cli's handler cancels the pipeline
                assert await asyncio.wait_for(headless, 10) == cli.EXIT_OK
        finally:
            if not headless.done():
                headless.cancel()
                await asyncio.gather(headless, return_exceptions=True)
            await run.stop()
            store_run.close()
    store = Store(path)
    try:
        (stored,) = store.minutes(SYMBOL, m1, m1, "binance")
        restored = [
            b for b in restore_window(store, now_ms=boundary + 30_000, window_minutes=3, exchanges=("binance",))
        ]
    finally:
        store.close()
    expected = tape_totals(tape, m1)
    assert (stored.buy, stored.sell, stored.covered) == (pytest.approx(expected[0]), expected[1], True), (
        f"stored {stored.buy, stored.sell}, tape {expected}: short by {expected[0] - stored.buy:.2f}"
    )
    (again,) = [b for b in restored if b.symbol == SYMBOL and b.minute == m1]
    assert (again.buy, again.sell) == (stored.buy, stored.sell)
