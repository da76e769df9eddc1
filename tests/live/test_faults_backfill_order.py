"""Issue 10 item 9: the initial backfill of many symbols fills every symbol's window first and
looks up whales after, with requests in flight at once, within Binance's weight budget.

Binance, 60 symbols, window 5, whale look-up over the last 5 minutes, 30 ms per REST answer, on
a real-time clock (ccxt's own rate limiter runs on real time, so the weight per minute the fake
counts is the weight per minute a real exchange would see).
"""

from __future__ import annotations

import msgspec

from gme_tui.model import MINUTE_MS
from tests.fakes.exchange import make_tape
from tests.fakes.harness import LiveRun, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

N = 60
BASES = [f"C{i:03d}" for i in range(N)]
SYMBOLS = [f"{b}/USDT" for b in BASES]
WEIGHT_PER_MINUTE = 6000  # what exchangeInfo advertises (REQUEST_WEIGHT, 1 MINUTE)


def requests(fake, kind: str) -> list[int]:
    """Indexes of the Binance REST calls of one endpoint, in arrival order."""
    return [i for i, (_, path) in enumerate(fake.rest_calls["binance"]) if path.endswith(kind)]


async def test_windows_first_then_whales_concurrently_within_the_weight_budget():
    clock = pinned_clock(20.0, speed=1.0)
    async with fake_exchange(clock, BASES) as fake:
        start = clock.wall_ms()
        fake.add_history(make_tape(fake, "binance", SYMBOLS, 4 * N, start - 4 * MINUTE_MS, start - 1_000))
        fake.rest_delay["binance"] = 0.03
        settings = make_settings(fake, ("binance",), SYMBOLS, window=5)
        settings = msgspec.structs.replace(
            settings, live=msgspec.structs.replace(settings.live, whale_backfill_minutes=5)
        )
        run = LiveRun(settings, clock, settle_seconds=1.0).start()
        try:
            # until every window is asked for, or a whale look-up came first (then we know enough)
            await fake.wait_for(lambda: len(requests(fake, "/klines")) >= N or bool(requests(fake, "/aggTrades")), 30)
            windows_first = len(requests(fake, "/klines")) >= N and not requests(fake, "/aggTrades")
            if windows_first:
                await run.until(lambda: run.source.health()[0].backfill_done >= N, timeout=30)
                await fake.wait_for(lambda: len(requests(fake, "/aggTrades")) >= N, timeout=30)
        finally:
            await run.stop()
    klines, whales = requests(fake, "/klines"), requests(fake, "/aggTrades")
    assert whales, "no whale look-ups"
    before = [k for k in klines if k < whales[0]]
    assert len(before) >= N, f"only {len(before)} of {N} windows were asked for before the first whale look-up"
    assert fake.max_in_flight["binance"] > 1, "one request at a time"
    assert max(fake.binance_weight.values()) <= WEIGHT_PER_MINUTE and not fake.limit_answers["binance"]
