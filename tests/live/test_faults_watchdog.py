"""Issue 10 items 2 and 8: a live socket is not a live subscription, and a quiet market is not a
dead socket.

- Item 2: OKX and Bybit keep-alives are application messages (`pong` text, Bybit's pong JSON).
  A subscription that stops delivering trades while they flow must be found within about one
  watchdog period, and reconnected; a socket that carries only quiet symbols must not be.
- Item 8: a quiet Binance symbol (a trade every ~50 s) on a connection whose server pings every
  20 s (protocol pings, `BINANCE_PING_S`) must not be reconnected at all.
"""

from __future__ import annotations

import asyncio

from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.fakes.faults import BINANCE_PING_S
from tests.fakes.harness import background, fake_exchange, pinned_clock
from tests.live.conftest import Drain, make_settings

WATCHDOG_S = 5.0  # the smallest the settings allow
KEEPALIVE_S = 2.0


async def trade_every(fake, exchange: str, symbol: str, every_s: float) -> None:
    """One trade on `symbol` every `every_s` (fake clock), forever."""
    seed = 1
    while True:
        now = fake.exchange_ms(exchange)
        await fake.publish(make_tape(fake, exchange, [symbol], 1, now - 5, now, seed=seed))
        seed += 1
        await fake.clock.sleep(every_s)


async def dead_subscription_found(exchange: str) -> str:
    """Trades flow on a liquid symbol, keep-alives every 2 s; then the subscription goes dead
    (the socket still answers). '' when it is reconnected in time and trades flow again."""
    clock = pinned_clock(10.0, speed=8.0)
    async with fake_exchange(clock) as fake:
        fake.keepalive(exchange, KEEPALIVE_S)
        settings = make_settings(fake, (exchange,), ["BTC/USDT"], watchdog=WATCHDOG_S, backfill=False)
        drain = Drain(LiveSource(settings, clock=clock))
        try:
            async with background(trade_every(fake, exchange, "BTC/USDT", 1.0)):
                await fake.wait_subscribed(exchange, 1)
                await drain.until(lambda: len(drain.trades()) >= 3, timeout=5)
                muted_at = clock.wall_ms()
                fake.mute(exchange)  # the socket keeps answering; no more trades on it
                seen = len(drain.trades())
                try:
                    await drain.until(
                        lambda: (
                            (fake.connections_total[exchange] >= 2 and len(drain.trades()) > seen + 2)
                            or clock.wall_ms() > muted_at + 20_000
                        ),
                        timeout=10,
                    )
                except TimeoutError:
                    return "the run did not reach 20 s after the mute"
        finally:
            await drain.stop()
    if fake.connections_total[exchange] < 2:
        return f"{exchange}: never reconnected ({len(drain.trades()) - seen} trades since the mute)"
    found_after_s = (fake.connect_times[exchange][1] - muted_at) / 1000
    if found_after_s > 3 * WATCHDOG_S:
        return f"{exchange}: reconnected only {found_after_s:.1f} s after the subscription died"
    return ""


async def test_a_dead_subscription_on_a_live_socket_is_found_and_reconnected():
    results = await asyncio.gather(*(dead_subscription_found(e) for e in ("okx", "bybit")))
    assert [r for r in results if r] == []


async def quiet_socket_stays(exchange: str) -> int:
    """Only a quiet symbol (it traded before we connected, not since) on a socket with
    keep-alives: returns the connections made over 20 s (four watchdog periods)."""
    clock = pinned_clock(10.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        start = clock.wall_ms()
        fake.add_history(make_tape(fake, exchange, ["DOGE/USDT"], 3, start - 50_000, start - 10_000))
        fake.keepalive(exchange, KEEPALIVE_S)
        settings = make_settings(fake, (exchange,), ["DOGE/USDT"], watchdog=WATCHDOG_S, backfill=False)
        drain = Drain(LiveSource(settings, clock=clock))
        try:
            await fake.wait_subscribed(exchange, 1)
            until = clock.wall_ms() + 20_000
            await drain.until(lambda: clock.wall_ms() > until, timeout=10)
        finally:
            await drain.stop()
    return fake.connections_total[exchange]


async def test_a_socket_with_only_quiet_symbols_is_not_reconnected_for_nothing():
    results = await asyncio.gather(*(quiet_socket_stays(e) for e in ("okx", "bybit")))
    assert results == [1, 1]


async def test_a_quiet_binance_symbol_with_server_pings_is_not_reconnected():
    clock = pinned_clock(5.0, speed=60.0)  # the 30 s watchdog is half a second of real time
    async with fake_exchange(clock) as fake:
        fake.keepalive("binance", BINANCE_PING_S)  # Binance's server pings every 20 s
        settings = make_settings(fake, ("binance",), ["DOGE/USDT"], backfill=False)  # watchdog 30 s
        drain = Drain(LiveSource(settings, clock=clock))
        tape_size = 0
        try:
            await fake.wait_subscribed("binance", 1)
            until = clock.wall_ms() + 180_000
            async with background(trade_every(fake, "binance", "DOGE/USDT", 50.0)):
                await drain.until(lambda: clock.wall_ms() > until, timeout=10)
            tape_size = len(fake.history["binance"])
            await drain.until(lambda: len(drain.trades()) >= tape_size or fake.connections_total["binance"] > 1)
        finally:
            await drain.stop()
    assert (fake.connections_total["binance"], len(drain.trades())) == (1, tape_size)
