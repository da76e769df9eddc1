"""Issue 10 item 4: Coinbase's ISO times parse to the exact millisecond, through the real
coinbaseexchange client on the fake's WebSocket feed."""

from __future__ import annotations

import orjson

from gme_tui.sources.live import LiveSource
from tests.fakes.exchange_protocols import iso_exact
from tests.fakes.harness import fake_exchange, pinned_clock
from tests.live.conftest import Drain, make_settings

T0 = 1_710_327_601_000  # 2024-03-13T11:00:01.000Z


def match(trade_id: int, time_text: str) -> str:
    """A public `match` frame of the Exchange feed (maker side "sell": a taker buy)."""
    return orjson.dumps(
        {
            "type": "match",
            "trade_id": trade_id,
            "maker_order_id": f"m{trade_id}",
            "taker_order_id": f"t{trade_id}",
            "side": "sell",
            "size": "0.5",
            "price": "64000.0",
            "product_id": "BTC-USD",
            "sequence": trade_id,
            "time": time_text,
        }
    ).decode()


async def stream_times(times: list[str]) -> dict[str, int]:
    """Send one match per time string; returns trade id -> the ts the live source produced."""
    clock = pinned_clock(30.0, speed=1.0, minute=T0 // 60_000)  # 11:00:30, a real-time clock
    async with fake_exchange(clock) as fake:
        settings = make_settings(fake, ("coinbase",), ["BTC/USDT"], backfill=False)
        drain = Drain(LiveSource(settings, clock=clock))
        try:
            await fake.wait_subscribed("coinbase", 1)
            for i, text in enumerate(times):
                await fake.send_raw("coinbase", match(10_000 + i, text))
            await drain.until(lambda: len(drain.trades("coinbase")) == len(times), timeout=10)
        finally:
            await drain.stop()
    return {t.id: t.ts for t in drain.trades("coinbase")}


async def test_the_issue_time_parses_to_its_exact_millisecond():
    assert await stream_times(["2024-03-13T11:00:01.001Z"]) == {"10000": 1_710_327_601_001}


async def test_every_millisecond_of_a_second_parses_exactly_in_both_fraction_widths():
    stamps = [T0 + ms for ms in range(1000)]
    times = [iso_exact(ts, 6) for ts in stamps] + [iso_exact(ts, 3) for ts in stamps]
    got = await stream_times(times)
    expected = {str(10_000 + i): ts for i, ts in enumerate(stamps + stamps)}
    wrong = {times[int(k) - 10_000]: v for k, v in got.items() if v != expected[k]}
    assert not wrong, f"{len(wrong)} of {len(times)} times parsed wrong, e.g. {sorted(wrong.items())[:3]}"
