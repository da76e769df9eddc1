"""Issue 10 item 1: one taker order in two fills is one whale, whatever the local clock's offset
from the exchange's and however late the frames arrive (SPEC §5: the quiet time that closes an
order is measured on the local clock from the arrival of its last fill).

The order, as the issue states it: Binance BTC/USDT, two fills with the same timestamp and side,
3 @ 50,000 (150,000) and 2 @ 50,020 (100,040), in two frames 200 ms apart, each arriving 150 ms
after its exchange time. Right: one whale of 250,040 from 2 fills.
"""

from __future__ import annotations

import asyncio

from gme_tui.model import Whale
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.faults import FrameFaults
from tests.fakes.harness import LiveRun, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

SPEED = 2.0  # slow enough that 200 ms between frames stays well inside the 1.5 s quiet time


async def whales_of_one_split_order(local_ahead_s: float, latency_s: float) -> list[Whale]:
    """Run the order through the live path; `local_ahead_s`: the local clock minus the exchange's."""
    clock = pinned_clock(20.0, speed=SPEED)
    async with fake_exchange(clock) as fake:
        fake.skew_ms["binance"] = -round(local_ahead_s * 1000)
        fake.faults["binance"] = FrameFaults(latency_s=latency_s)
        settings = make_settings(fake, ("binance",), ["BTC/USDT"], backfill=False)
        run = LiveRun(settings, clock).start()
        try:
            await fake.wait_subscribed("binance", 1)
            ts = fake.exchange_ms("binance")
            await fake.publish([TapeTrade("binance", "BTC/USDT", ts, "buy", 50_000.0, 3.0, fake.new_id())])
            await clock.sleep(0.2)
            await fake.publish([TapeTrade("binance", "BTC/USDT", ts, "buy", 50_020.0, 2.0, fake.new_id())])
            await run.until(lambda: run.engine.stats.trades >= 2, timeout=10)
            # every quiet-time rule has closed the order long before this (local clock)
            await run.until_clock(clock.wall_ms() + 4_500, timeout=10)
            return run.recorder.whales()
        finally:
            await run.stop()


def one_whale(whales: list[Whale]) -> bool:
    return [(w.value, w.fills, w.side, w.price, w.exchange, w.symbol) for w in whales] == [
        (250_040.0, 2, "buy", 50_008.0, "binance", "BTC/USDT")
    ]


async def test_one_whale_when_the_clocks_agree_or_the_local_one_is_slightly_ahead_or_behind():
    cases = {"in step": (0.0, 0.15), "local 0.5 s ahead": (0.5, 0.15), "local 2 s behind": (-2.0, 0.15)}
    results = await asyncio.gather(*(whales_of_one_split_order(*case) for case in cases.values()))
    assert {name: one_whale(w) for name, w in zip(cases, results)} == dict.fromkeys(cases, True), results


async def test_one_whale_when_the_local_clock_runs_ahead_or_the_frames_arrive_late():
    cases = {
        "local 1.4 s ahead": (1.4, 0.15),
        "local 1.8 s ahead": (1.8, 0.15),
        "frames 1.8 s after their trade time": (0.0, 1.8),
    }
    results = await asyncio.gather(*(whales_of_one_split_order(*case) for case in cases.values()))
    assert {name: one_whale(w) for name, w in zip(cases, results)} == dict.fromkeys(cases, True), results
