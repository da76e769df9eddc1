"""Issue 10 item 7: no scan is short for no reason: not the boundary before the start, not the
first scan after the start, not the first after a reconnect. Every scan the live pipeline
reports, on exchanges that can backfill, covers the whole window and equals the exchange's tape.

Run through the product's own defaults (scan grace from the settings, the live source's own
backfill settle delay): Binance and OKX, window 3, a market trading every 3 s and before the
start; the clock starts 20 s into minute M0; both sockets drop at M0+1 + 25 s and may reconnect
from M0+1 + 35 s; the run ends with the scan at M0+2.
"""

from __future__ import annotations

from gme_tui.model import MINUTE_MS
from tests.fakes.exchange import make_tape
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.harness import BASE_MINUTE, LiveRun, background, fake_exchange, pinned_clock, run_market
from tests.live.conftest import make_settings

W = 3
EXCHANGES = ("binance", "okx")
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


def tape_totals(tape: list[TapeTrade], exchange: str, symbol: str, first: int, last: int) -> tuple[float, float]:
    rows = [t for t in tape if t.exchange == exchange and t.symbol == symbol and first <= t.ts // MINUTE_MS <= last]
    return sum(t.value for t in rows if t.side == "buy"), sum(t.value for t in rows if t.side == "sell")


async def test_every_scan_after_a_start_and_a_reconnect_has_the_whole_window():
    clock = pinned_clock(20.0, speed=60.0)
    m0 = BASE_MINUTE
    async with fake_exchange(clock) as fake:
        start = clock.wall_ms()
        tape: list[TapeTrade] = []
        for i, exchange in enumerate(EXCHANGES):  # the market traded before we started
            tape += make_tape(fake, exchange, SYMBOLS, 40, start - (W + 1) * MINUTE_MS, start - 100, seed=i)
        fake.add_history(tape)
        settings = make_settings(fake, EXCHANGES, SYMBOLS, window=W)
        run = LiveRun(settings, clock).start()
        try:
            async with background(run_market(fake, EXCHANGES, SYMBOLS, tape)):
                await run.until_clock((m0 + 1) * MINUTE_MS + 25_000, timeout=10)
                fake.refuse_ws.update(EXCHANGES)
                for exchange in EXCHANGES:
                    await fake.drop(exchange)
                await run.until_clock((m0 + 1) * MINUTE_MS + 35_000, timeout=10)
                fake.refuse_ws.clear()
                await run.until(lambda: any(s.ts == (m0 + 2) * MINUTE_MS for s in run.recorder.scans()), timeout=10)
        finally:
            await run.stop()
    assert all(fake.connections_total[e] >= 2 for e in EXCHANGES), "the sockets reconnected"
    problems = []
    for scan in run.recorder.scans():
        last = scan.ts // MINUTE_MS - 1
        for item in scan.symbols:
            for exchange, window in item.exchanges.items():
                expected = tape_totals(tape, exchange, item.consensus.symbol, last - W + 1, last)
                got = (window.buy, window.sell)
                if window.covered_minutes != W or got != expected:
                    problems.append(
                        f"scan at M0{scan.ts // MINUTE_MS - m0:+d}, {exchange} {item.consensus.symbol}: "
                        f"{window.covered_minutes}/{W} minutes, {got} against the tape's {expected}"
                    )
    assert {s.ts for s in run.recorder.scans()} >= {(m0 + 1) * MINUTE_MS, (m0 + 2) * MINUTE_MS}
    assert not problems, "\n".join(problems)
