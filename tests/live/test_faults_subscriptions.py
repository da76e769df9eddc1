"""Issue 10, "Scale as users run it": a subscription the exchange rejects (a delisted symbol that
the markets endpoint still lists) costs that symbol only, never the others on its connection;
and a universe of many symbols subscribes within each exchange's documented limits."""

from __future__ import annotations

import asyncio

from gme_tui.model import EXCHANGES
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.fakes.harness import fake_exchange, pinned_clock
from tests.live.conftest import Drain, make_settings

LIVE = ["BTC/USDT", "ETH/USDT"]


async def others_stream_on(exchange: str) -> str:
    """XRP is delisted (REST still lists it; the WebSocket rejects it in the exchange's own way).
    '' when BTC and ETH, on the same connection, stream on without reconnects."""
    clock = pinned_clock(10.0, speed=20.0)
    async with fake_exchange(clock) as fake:
        fake.delist(exchange, "XRP")
        settings = make_settings(fake, (exchange,), [*LIVE, "XRP/USDT"], backfill=False)
        drain = Drain(LiveSource(settings, clock=clock))
        sent = 0
        try:
            await fake.wait_for(lambda: fake.subscribe_requests[exchange] >= 1, timeout=5)
            await clock.sleep(1.0)  # the answer is out
            for _ in range(10):
                now = fake.exchange_ms(exchange)
                burst = make_tape(fake, exchange, LIVE, 2, now - 10, now, seed=sent)
                sent += len(burst)
                await fake.publish(burst)
                await clock.sleep(2.0)
            await drain.until(lambda: len(drain.trades()) >= sent or fake.connections_total[exchange] > 1, timeout=3)
        except TimeoutError:
            pass
        finally:
            await drain.stop()
    got = len(drain.trades())
    if fake.connections_total[exchange] != 1 or got != sent:
        return f"{exchange}: {fake.connections_total[exchange]} connections, {got} of {sent} trades"
    return ""


async def test_a_rejected_subscription_costs_that_symbol_only():
    results = await asyncio.gather(*(others_stream_on(e) for e in EXCHANGES))
    assert not [r for r in results if r], "\n".join(r for r in results if r)


MANY = [f"S{i:03d}" for i in range(600)]


async def test_600_symbols_subscribe_on_every_exchange_within_its_documented_limits():
    """Binance <= 1024 streams and <= 5 messages/s per connection, OKX <= 3 connects/s and args
    <= 64 KB per connection, Bybit <= 10 args per subscribe, Coinbase subscribe within 5 s."""
    clock = pinned_clock(10.0, speed=5.0)
    async with fake_exchange(clock, MANY) as fake:
        for exchange in EXCHANGES:
            fake.enforce_limits(exchange)
        settings = make_settings(fake, EXCHANGES, [f"{b}/USDT" for b in MANY], backfill=False)
        drain = Drain(LiveSource(settings, clock=clock))
        try:
            for exchange in EXCHANGES:
                await fake.wait_subscribed(exchange, len(MANY), timeout=30)
        finally:
            await drain.stop()
    assert fake.protocol_violations == [] and sum(fake.refused_connects.values()) == 0
