"""Issue 10 item 6: a socket that stays open but sends nothing from 42 s into a minute. The
watchdog notices about 30 s later; the stalled seconds must be backfilled, not counted as
covered, and a whale in the gap must be reported (once).

Run: Binance BTC/USDT, window 3, watchdog 30 s, a market trading every 3 s; the clock starts
20 s into minute M0; the stall begins at M0+1 (= M) + 42 s; an 842,599 sell whale trades at
M + 50 s, inside the gap.
"""

from __future__ import annotations

from gme_tui.model import MINUTE_MS, Scan
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.harness import BASE_MINUTE, LiveRun, background, fake_exchange, pinned_clock, run_market
from tests.live.conftest import make_settings

W = 3
SYMBOL = "BTC/USDT"


def window_of(scan: Scan, exchange: str = "binance"):
    (item,) = [s for s in scan.symbols if s.consensus.symbol == SYMBOL]
    return item.exchanges[exchange]


def tape_totals(tape: list[TapeTrade], first: int, last: int) -> tuple[float, float]:
    rows = [t for t in tape if first <= t.ts // MINUTE_MS <= last and t.symbol == SYMBOL]
    return sum(t.value for t in rows if t.side == "buy"), sum(t.value for t in rows if t.side == "sell")


async def test_a_stall_from_42s_is_backfilled_and_its_whale_reported_once():
    clock = pinned_clock(20.0, speed=90.0)
    stall_minute = BASE_MINUTE + 1
    stall_at = stall_minute * MINUTE_MS + 42_000
    final = (stall_minute + W) * MINUTE_MS  # its window: the stall minute, the detection minute, one more
    async with fake_exchange(clock) as fake:
        settings = make_settings(fake, ("binance",), [SYMBOL], window=W)
        run = LiveRun(settings, clock).start()
        tape: list[TapeTrade] = []
        whale = TapeTrade("binance", SYMBOL, stall_minute * MINUTE_MS + 50_000, "sell", 842_599.0, 1.0, 990_001)
        try:
            async with background(run_market(fake, ("binance",), [SYMBOL], tape)):
                await fake.wait_subscribed("binance", 1)
                fake.stall_from("binance", stall_at)  # open, silent: no trades, no pongs
                await run.until_clock(whale.ts, timeout=10)
                tape.append(whale)
                await fake.publish([whale])  # into the exchange's history only: the socket is stalled
                await run.until(lambda: any(s.ts == final for s in run.recorder.scans()), timeout=15)
        finally:
            await run.stop()
    problems = []
    for scan in run.recorder.scans():
        window = window_of(scan)
        last = scan.ts // MINUTE_MS - 1
        expected = tape_totals(tape, last - W + 1, last)
        if window.covered_minutes == W and (window.buy, window.sell) != expected:
            problems.append(f"scan {scan.ts}: covered {W}/{W} but {(window.buy, window.sell)} != tape {expected}")
    (last_scan,) = [s for s in run.recorder.scans() if s.ts == final]
    window = window_of(last_scan)
    if window.covered_minutes != W:
        problems.append(f"final scan covers {window.covered_minutes}/{W} minutes")
    gap_whales = [w for w in run.recorder.whales() if w.ts == whale.ts]
    if [(w.value, w.side) for w in gap_whales] != [(842_599.0, "sell")]:
        problems.append(f"the gap's whale was reported {len(gap_whales)} times")
    assert not problems, "\n".join(problems)
