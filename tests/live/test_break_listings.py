"""BREAKER, issue 10 leftover: a symbol delisted on one exchange mid-run. The collectors read
their markets again every `markets_refresh_seconds` (LIVE-P, tests/live/test_live_p_listings.py):
a delisted symbol is marked unavailable "no longer listed". What the scans then show for it is
checked here, through the real ccxt clients against the fake and the product's own path.
"""

from __future__ import annotations

from gme_tui.model import MINUTE_MS
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.harness import BASE_MINUTE, LiveRun, background, fake_exchange, pinned_clock, run_market
from tests.live.conftest import make_settings

W = 3
M0 = BASE_MINUTE


# Was a bug: the session's proofs kept covering the delisted symbol (fixed: Collector.prove skips unavailable ones).
async def test_a_symbol_delisted_mid_run_stops_counting_as_covered():
    """Binance and OKX trade BTC and ETH every 3 s. At M0+1 +10 s ETH/USDT is delisted (the markets
    no longer list it, it trades no more); the markets are read again every 60 s. Right, at the
    scan of M0+6 (every window minute after the delisting): ETH/USDT without the exchanges, or
    their ETH windows not covered; never 3/3 covered at 0."""
    clock = pinned_clock(20.0, speed=40.0)
    async with fake_exchange(clock, ["BTC", "ETH"]) as fake:
        exchanges = ("binance", "okx")
        start = clock.wall_ms()
        tape: list[TapeTrade] = []
        for i, exchange in enumerate(exchanges):
            tape += make_tape(fake, exchange, ["BTC/USDT", "ETH/USDT"], 30, start - (W + 1) * MINUTE_MS, start - 100, i)
        fake.add_history(tape)
        settings = make_settings(fake, exchanges, ["BTC/USDT", "ETH/USDT"], window=W)
        run = LiveRun(settings, clock)
        run.source = LiveSource(settings, clock=clock, markets_refresh_seconds=60.0)
        run.pipeline.source = run.source
        run.pipeline._readiness = run.source
        run.start()
        try:
            async with background(run_market(fake, exchanges, ["BTC/USDT"], tape, seed=500)):
                async with background(run_market(fake, exchanges, ["ETH/USDT"], tape, seed=700)) as eth:
                    await run.until(lambda: clock.wall_ms() >= (M0 + 1) * MINUTE_MS + 10_000, timeout=30)
                    eth.cancel()  # ETH trades no more
                    fake.bases.remove("ETH")  # and the markets endpoints (the fake's are shared) no longer list it
                    await run.until(lambda: any(s.ts == (M0 + 6) * MINUTE_MS for s in run.recorder.scans()), 60)
        finally:
            await run.stop()
    assert run.source.collectors["binance"].unavailable.get("ETH/USDT") == "no longer listed"
    scan = next(s for s in run.recorder.scans() if s.ts == (M0 + 6) * MINUTE_MS)
    eth = next(i for i in scan.symbols if i.consensus.symbol == "ETH/USDT")
    shown = {e: (w.covered_minutes, w.buy + w.sell) for e, w in eth.exchanges.items()}
    assert all(minutes < W for minutes, _ in shown.values()), f"ETH/USDT at M0+6 (covered minutes, flow): {shown}"
