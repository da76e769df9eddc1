"""Issue 13 item 3, live side: `LiveSource.set_exchanges(settings)` turns exchanges on and off
mid-run against the fake exchange, with the REAL ccxt clients. An exchange turned on gets its
backfill of the window, then its stream, exactly as at launch; one turned off is stopped (its
sockets and REST client closed) and sends nothing more; the call is idempotent and `health()`
lists only the running collectors from the call on."""

from __future__ import annotations

from gme_tui.model import MINUTE_MS, MinuteBucket, PerpTrade, Trade
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.fakes.harness import background, fake_exchange, pinned_clock, run_market
from tests.fakes.perp_exchange import FakePerpExchange
from tests.live.conftest import Drain, make_settings

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
FAST = {v: {"enableRateLimit": False} for v in ("binance", "okx")}  # ccxt's limiter counts real time


async def test_an_exchange_turned_on_backfills_then_streams_and_off_stops_for_good() -> None:
    clock = pinned_clock(20.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        start = clock.wall_ms()
        fake.add_history(make_tape(fake, "okx", SYMBOLS, 20, start - 5 * MINUTE_MS, start - 2 * MINUTE_MS))
        only_binance = make_settings(fake, ("binance",), SYMBOLS, window=10)
        both = make_settings(fake, ("binance", "okx"), SYMBOLS, window=10)
        source = LiveSource(only_binance, clock=clock, settle_seconds=1.0)
        drain = Drain(source)
        tape: list = []
        try:
            async with background(run_market(fake, ["binance", "okx"], SYMBOLS, tape, every_s=2.0)):
                await drain.until(lambda: len(drain.trades("binance")) >= 3, timeout=20)
                assert drain.trades("okx") == [] and [h.exchange for h in source.health()] == ["binance"]

                source.set_exchanges(both)
                source.set_exchanges(both)  # idempotent: one OKX collector
                assert [h.exchange for h in source.health()] == ["binance", "okx"]
                okx = source.collectors["okx"]
                await drain.until(lambda: len(drain.trades("okx")) >= 3, timeout=20)
                # the window before it came on was backfilled, as at launch
                await drain.until(
                    lambda: any(
                        isinstance(i, MinuteBucket) and i.exchange == "okx" and i.buy + i.sell > 0 for i in drain.items
                    ),
                    timeout=20,
                )
                assert fake.connections_total["okx"] == 1

                source.set_exchanges(only_binance)
                assert [h.exchange for h in source.health()] == ["binance"]
                await source.settled()
                assert fake.subscribed("okx") == set()  # its socket is closed
                assert okx.rest is not None and okx.rest.session is None  # type: ignore[attr-defined]  # ccxt closed it
                after = len(drain.items)
                seen_binance = len(drain.trades("binance"))
                await drain.until(lambda: len(drain.trades("binance")) >= seen_binance + 6, timeout=20)
                okx_later = [i for i in drain.items[after:] if isinstance(i, Trade) and i.exchange == "okx"]
                assert okx_later == []
                assert fake.connections_total["okx"] == 1  # nothing reconnects it
        finally:
            await drain.stop()


async def test_turning_on_before_the_source_runs_starts_with_it() -> None:
    clock = pinned_clock(20.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        source = LiveSource(make_settings(fake, ("binance",), SYMBOLS, backfill=False), clock=clock)
        source.set_exchanges(make_settings(fake, ("okx",), SYMBOLS, backfill=False))
        assert [h.exchange for h in source.health()] == ["okx"]
        drain = Drain(source)
        tape: list = []
        try:
            async with background(run_market(fake, ["binance", "okx"], SYMBOLS, tape, every_s=2.0)):
                await drain.until(lambda: len(drain.trades("okx")) >= 3, timeout=20)
            assert drain.trades("binance") == [] and fake.connections_total["binance"] == 0
        finally:
            await drain.stop()


async def test_the_perp_collector_follows_its_exchange_on_and_off() -> None:
    clock = pinned_clock(20.0, speed=10.0)
    async with fake_exchange(clock) as fake:
        perp = await FakePerpExchange(clock, ("BTC", "ETH")).start()
        try:
            for venue in ("binance", "okx"):
                fake.keepalive(venue, 5.0)
                perp.keepalive(venue, 5.0)

            def settings(exchanges: tuple[str, ...]):  # type: ignore[no-untyped-def]
                return make_settings(
                    fake, exchanges, SYMBOLS, window=5, perp=perp, perp_venues=("binance", "okx"), perp_overrides=FAST
                )

            source = LiveSource(settings(("binance",)), clock=clock, settle_seconds=1.0)
            drain = Drain(source)
            try:
                await perp.wait_for(lambda: bool(perp.subscribed("binance")), timeout=20)
                assert list(source.perp_collectors) == ["binance"] and perp.connections_total["okx"] == 0

                source.set_exchanges(settings(("binance", "okx")))
                assert list(source.perp_collectors) == ["binance", "okx"]
                await perp.wait_for(lambda: bool(perp.subscribed("okx")) and perp.on_liquidations("okx"), timeout=20)
                now = clock.wall_ms()
                await perp.publish([perp.trade("okx", "BTC", now, "buy", 60_000.0, 2.0)])
                await drain.until(lambda: any(isinstance(i, PerpTrade) for i in drain.items), timeout=20)

                source.set_exchanges(settings(("binance",)))  # OKX off: its perp goes with it
                assert list(source.perp_collectors) == ["binance"]
                await source.settled()
                await perp.wait_for(lambda: not [c for c in perp.conns if c.venue == "okx"], timeout=20)
                opened = perp.connections_total["okx"]
                after = len(drain.items)
                await perp.publish([perp.trade("okx", "BTC", clock.wall_ms(), "buy", 60_000.0, 2.0)])
                await perp.publish([perp.trade("binance", "BTC", clock.wall_ms(), "sell", 60_000.0, 0.5)])
                await drain.until(
                    lambda: any(isinstance(i, PerpTrade) and i.exchange == "binance" for i in drain.items[after:]),
                    timeout=20,
                )
                assert not [i for i in drain.items[after:] if isinstance(i, PerpTrade) and i.exchange == "okx"]
                assert perp.connections_total["okx"] == opened
            finally:
                await drain.stop()
        finally:
            await perp.stop()
