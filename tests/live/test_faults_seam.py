"""Issue 10 item 5: a frame delivered twice in the minute where the backfill meets the stream.

In the minute the stream came up: trade A (buy 100, id 777) arrives twice (the fake sends every
frame twice); trade B (buy 50) exists only in the exchange's history (it traded before we
connected); the exchange's minute (klines) says buy 150. Right: 150, covered. With B = 300 (the
exchange's minute 400): 400, covered.
"""

from __future__ import annotations

import asyncio

from gme_tui.model import MINUTE_MS
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.faults import FrameFaults
from tests.fakes.harness import LiveRun, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

SYMBOL = "BTC/USDT"


async def seam_minute(b_value: float) -> tuple[float, float, bool]:
    """(buy, sell, covered) of the minute the stream came up in, once its backfill has run."""
    clock = pinned_clock(1.0, speed=30.0)
    async with fake_exchange(clock) as fake:
        fake.faults["binance"] = FrameFaults(duplicate_every=1)  # every frame twice
        settings = make_settings(fake, ("binance",), [SYMBOL], window=1)
        run = LiveRun(settings, clock).start()
        try:
            await fake.wait_subscribed("binance", 1)
            up_minute = fake.connect_times["binance"][0] // MINUTE_MS  # the stream comes up with its ack
            now = clock.wall_ms()
            assert now // MINUTE_MS == up_minute, "the run must start early enough in its minute"
            fake.add_history([TapeTrade("binance", SYMBOL, up_minute * MINUTE_MS, "buy", b_value, 1.0, 776)])
            await fake.publish([TapeTrade("binance", SYMBOL, now, "buy", 100.0, 1.0, 777)])
            await run.until(lambda: run.engine.stats.trades + run.engine.stats.duplicates >= 2, timeout=5)

            def seam_fetched() -> bool:
                return fake.in_flight["binance"] == 0 and any(
                    "klines" in path and int(q["startTime"]) <= up_minute * MINUTE_MS <= int(q["endTime"])
                    for path, q in fake.rest_queries["binance"][1:]
                    if int(q.get("endTime", 0)) >= (up_minute + 1) * MINUTE_MS - 1
                )

            await run.until(seam_fetched, timeout=10)
            await run.until_clock(clock.wall_ms() + 10_000)  # the answer is parsed and fed by then
            known = run.engine._pairs[("binance", SYMBOL)].closed(up_minute)
        finally:
            await run.stop()
    assert known is not None
    buy, sell, _count, _close, covered = known
    return buy, sell, covered


async def test_a_duplicate_frame_at_the_seam_neither_hides_nor_loses_the_minute():
    results = await asyncio.gather(seam_minute(50.0), seam_minute(300.0))
    assert results == [(150.0, 0.0, True), (400.0, 0.0, True)]
