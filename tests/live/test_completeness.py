"""Every trade the exchange sends reaches the source promptly, whatever ccxt's caches do."""

from __future__ import annotations

import time

from gme_tui.model import EXCHANGES, Listings
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape, totals
from tests.live.conftest import SYMBOLS, Drain, make_settings

N_PER_EXCHANGE = 3000  # > ccxt's tradesLimit (1000) per symbol between awaits, in bursts


async def test_every_trade_arrives_on_every_exchange_bursts_included(fake_real):
    fake = fake_real
    settings = make_settings(fake, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    drain = Drain(source)
    try:
        for exchange in EXCHANGES:
            await fake.wait_subscribed(exchange, len(SYMBOLS))
        now = fake.clock.wall_ms()
        tapes = {
            e: make_tape(fake, e, SYMBOLS, N_PER_EXCHANGE, now - 900, now, seed=i) for i, e in enumerate(EXCHANGES)
        }
        for burst in range(0, N_PER_EXCHANGE, 1000):  # 1000 trades per exchange without yielding to the client
            for exchange in EXCHANGES:
                await fake.publish(tapes[exchange][burst : burst + 1000])
        published_at = time.monotonic()
        await drain.until(lambda: len(drain.trades()) >= 4 * N_PER_EXCHANGE, timeout=20)
        for exchange in EXCHANGES:
            got = drain.trades(exchange)
            assert len(got) == N_PER_EXCHANGE, exchange
            flows = {}
            for t in got:
                flows.setdefault((t.exchange, t.symbol), [0.0, 0.0])[0 if t.side == "buy" else 1] += t.value
            assert {k: tuple(v) for k, v in flows.items()} == totals(tapes[exchange])
            assert {t.id for t in got} == {
                (f"id-{t.id}" if exchange == "bybit" else str(t.id)) for t in tapes[exchange]
            }
        last_arrival = max(at for at, _ in drain.arrivals)
        assert last_arrival - published_at < 1.0
        assert all(h.dropped == 0 for h in source.health())
    finally:
        await drain.stop()


async def test_a_lone_trade_on_an_illiquid_symbol_arrives_at_once(fake_real):
    """ccxt would hold it until that symbol's next frame; we must not."""
    fake = fake_real
    settings = make_settings(fake, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    drain = Drain(source)
    try:
        for exchange in EXCHANGES:
            await fake.wait_subscribed(exchange, len(SYMBOLS))
        for exchange in EXCHANGES:
            now = fake.clock.wall_ms()
            await fake.publish(make_tape(fake, exchange, ["DOGE/USDT"], 1, now - 10, now))
        sent = time.monotonic()
        await drain.until(lambda: len(drain.trades()) == 4, timeout=5)
        assert max(at for at, _ in drain.arrivals) - sent < 1.0
        listings = [i for i in drain.items if isinstance(i, Listings)]
        listed = {e for item in listings for exchanges in item.symbols.values() for e in exchanges}
        assert listed == set(EXCHANGES)
        first_trade = next(i for i, item in enumerate(drain.items) if not isinstance(item, Listings))
        assert all(isinstance(i, Listings) for i in drain.items[:first_trade])
    finally:
        await drain.stop()
