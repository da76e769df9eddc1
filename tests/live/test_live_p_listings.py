"""Issue 10 leftover: symbols listed or delisted mid-run. Each collector reads its markets again
every `markets_refresh_seconds`: a universe symbol listed since gets its Listings, a session (its
window backfilled, then streamed), and on a perp venue its contract size; one no longer listed is
shown unavailable. REAL ccxt clients against the spot and perp fakes."""

from __future__ import annotations

from gme_tui.model import MINUTE_MS, Liquidation, Listings, MinuteBucket, OpenInterest, PerpTrade, Trade
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.harness import pinned_clock
from tests.fakes.perp_exchange import FakePerpExchange
from tests.live.conftest import Drain, make_settings

UNIVERSE = ["BTC/USDT", "ETH/USDT", "XRP/USDT"]


async def test_a_symbol_listed_mid_run_is_backfilled_and_streamed_and_a_delisted_one_shown() -> None:
    clock = pinned_clock(20.0, speed=20.0)
    spot = await FakeExchange(clock, ["BTC", "ETH"]).start()
    perp = await FakePerpExchange(clock, ["BTC", "ETH"]).start()
    for venue in ("binance", "okx", "bybit"):
        spot.keepalive(venue, 5.0)
        perp.keepalive(venue, 5.0)
    settings = make_settings(
        spot,
        ("binance", "okx", "bybit"),
        UNIVERSE,
        window=5,
        perp=perp,
        perp_venues=("okx", "bybit"),
        perp_overrides={v: {"enableRateLimit": False} for v in ("okx", "bybit")},
    )
    source = LiveSource(settings, clock=clock, settle_seconds=1.0, markets_refresh_seconds=60.0)
    drain = Drain(source)
    try:
        await spot.wait_subscribed("binance", 2, timeout=20)
        await perp.wait_for(lambda: len(perp.subscribed("okx")) == 2 and perp.on_liquidations("bybit"), timeout=20)
        assert not [i for i in drain.items if isinstance(i, Listings) and "XRP/USDT" in i.symbols]

        # XRP is listed (with some history before), ETH delisted, at the venues
        now = clock.wall_ms()
        spot.bases.append("XRP")
        spot.add_history(make_tape(spot, "binance", ["XRP/USDT"], 6, now - 3 * MINUTE_MS, now - 2 * MINUTE_MS))
        spot.bases.remove("ETH")
        perp.bases.append("XRP")

        await spot.wait_for(lambda: "XRPUSDT" in spot.subscribed("binance"), timeout=20)
        await perp.wait_for(lambda: "XRP-USDT-SWAP" in perp.subscribed("okx"), timeout=20)
        # Bybit's liquidation topics are per symbol: a new liquidation socket subscribes XRP's
        await perp.wait_for(
            lambda: any("XRPUSDT" in c.liquidations for c in perp.conns if c.venue == "bybit"), timeout=20
        )
        listed = [i for i in drain.items if isinstance(i, Listings) and "XRP/USDT" in i.symbols]
        assert {(i.market, i.symbols["XRP/USDT"]) for i in listed} >= {("spot", ("binance",)), ("perp", ("okx",))}
        await drain.until(
            lambda: any(
                isinstance(i, MinuteBucket) and i.exchange == "binance" and i.symbol == "XRP/USDT" and i.buy + i.sell
                for i in drain.items
            ),
            timeout=20,
        )
        now = clock.wall_ms()
        await spot.publish(make_tape(spot, "binance", ["XRP/USDT"], 2, now - 10, now))
        await perp.publish([perp.trade("okx", "XRP", now, "buy", 0.5, 3.0)])  # 3 contracts of 100 XRP
        await perp.liquidate("bybit", "XRP", now, "short", 0.5, 1_000.0)
        await drain.until(lambda: any(t.symbol == "XRP/USDT" for t in drain.trades("binance")), timeout=20)
        await drain.until(lambda: any(isinstance(i, PerpTrade) for i in drain.items), timeout=20)
        (xrp,) = [i for i in drain.items if isinstance(i, PerpTrade)]
        assert (xrp.symbol, xrp.amount, xrp.price) == ("XRP/USDT", 300.0, 0.5)  # the new swap's contract size
        await drain.until(lambda: any(isinstance(i, Liquidation) for i in drain.items), timeout=20)
        (liquidation,) = [i for i in drain.items if isinstance(i, Liquidation)]
        assert (liquidation.exchange, liquidation.symbol, liquidation.side) == ("bybit", "XRP/USDT", "short")
        assert sum(1 for c in perp.conns if c.venue == "bybit" and c.liquidations) == 1  # the old one closed
        perp.set_oi("okx", "XRP-USDT-SWAP", clock.wall_ms(), 7.0)
        await drain.until(
            lambda: any(isinstance(i, OpenInterest) and i.symbol == "XRP/USDT" for i in drain.items), timeout=20
        )  # the next OI poll asks for the new swap too
        (oi,) = [i for i in drain.items if isinstance(i, OpenInterest) and i.symbol == "XRP/USDT"][:1]
        assert oi.oi == 700.0  # 7 contracts of 100 XRP
        binance = source.collectors["binance"]
        assert binance.unavailable.get("ETH/USDT") == "no longer listed"
        assert "ETH/USDT" in next(h.reason for h in source.health() if h.exchange == "binance")
        assert all(isinstance(t, Trade) for t in drain.trades())
    finally:
        await drain.stop()
        await perp.stop()
        await spot.stop()
