"""Issue 14 items 1, 2, 4 (live side): the perp collectors of Binance USDⓈ-M, OKX SWAP and Bybit
linear run through LiveSource with the REAL ccxt clients against the fake venues
(tests/fakes/perp_exchange.py) next to the spot fake, on one scaled clock.

They emit PerpTrade (base units: OKX contracts × contract size), Listings / MinuteBucket /
Coverage with market="perp", OpenInterest (poll + history at start), Liquidation (the position's
side, value computed); Binance's futures klines fill the window before the first connection.
The venues stay hostile: rate-limit answers on the OI poll, dropped sockets, keep-alives without
data on a quiet liquidation feed (normal: no reconnect), a stalled socket (reconnected)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from gme_tui.model import (
    MINUTE_MS,
    Coverage,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    SourceItem,
    Trade,
)
from gme_tui.settings import DerivativeSettings
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.harness import LiveRun, pinned_clock
from tests.fakes.perp_exchange import FakePerpExchange
from tests.live.conftest import Drain, make_settings

VENUES = ("binance", "okx", "bybit")
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
FAST = {v: {"enableRateLimit": False} for v in VENUES}  # ccxt's limiter counts real time: off on a fast clock


@dataclass
class Run:
    spot: FakeExchange
    perp: FakePerpExchange
    source: LiveSource
    drain: Drain
    start_ms: int  # the clock when the script ran

    def items(self, kind: type, **match: object) -> list:
        return [i for i in self.drain.items if type(i) is kind and all(getattr(i, k) == v for k, v in match.items())]

    async def until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        await self.drain.until(predicate, timeout=timeout)

    async def subscribed(self, venues: tuple[str, ...] = VENUES) -> None:
        perp = self.perp
        await perp.wait_for(
            lambda: all(perp.subscribed(v) and perp.on_liquidations(v) for v in venues),
            timeout=20,
        )


@asynccontextmanager
async def live_run(
    *,
    speed: float = 10.0,
    phase_s: float = 20.0,
    bases: tuple[str, ...] = ("BTC", "ETH"),
    symbols: list[str] = SYMBOLS,
    venues: tuple[str, ...] = VENUES,
    watchdog: float = 30.0,
    derivatives: DerivativeSettings | None = None,
    script: Callable[[FakePerpExchange, int], None] | None = None,
    keepalive_s: float = 5.0,
) -> AsyncIterator[Run]:
    """Both fakes on one scaled clock, with keep-alives every `keepalive_s` of it on every socket
    (as the venues send them: ccxt's own pings count real seconds, too rare on a fast clock)."""
    clock = pinned_clock(phase_s, speed=speed)
    spot = await FakeExchange(clock, bases).start()
    perp = await FakePerpExchange(clock, bases).start()
    drain: Drain | None = None
    try:
        for venue in venues:
            spot.keepalive(venue, keepalive_s)
            perp.keepalive(venue, keepalive_s)
        start_ms = clock.wall_ms()
        if script is not None:
            script(perp, start_ms)
        settings = make_settings(
            spot,
            venues,
            symbols,
            window=10,
            watchdog=watchdog,
            perp=perp,
            derivatives=derivatives,
            perp_overrides=FAST,
        )
        source = LiveSource(settings, clock=clock, settle_seconds=1.0)
        drain = Drain(source)
        yield Run(spot, perp, source, drain, start_ms)
    finally:
        if drain is not None:
            await drain.stop()
        await perp.stop()
        await spot.stop()


def oi_everywhere(perp: FakePerpExchange, now: int) -> None:
    for venue in VENUES:
        for base, contracts in (("BTC", 1000.0), ("ETH", 2000.0)):
            market_id = perp.market_id(venue, base)
            perp.set_oi(venue, market_id, now - 1_000, contracts)
            perp.add_oi_history(venue, market_id, now - 12 * MINUTE_MS, contracts - 10)
            perp.add_oi_history(venue, market_id, now - 7 * MINUTE_MS, contracts - 5)


async def test_perp_trades_liquidations_oi_and_backfill_in_canonical_units() -> None:
    def script(perp: FakePerpExchange, now: int) -> None:
        oi_everywhere(perp, now)
        # Binance futures history before the start: its klines backfill the window
        first = now // MINUTE_MS * MINUTE_MS - 3 * MINUTE_MS
        perp.history["binance"].append(perp.trade("binance", "BTC", first + 1_000, "buy", 50_000.0, 0.5))
        perp.history["binance"].append(perp.trade("binance", "BTC", first + 2_000, "sell", 50_000.0, 0.25))

    async with live_run(script=script) as run:
        perp = run.perp
        await run.subscribed()
        now = run.source.clock.wall_ms()
        await perp.publish(
            [
                perp.trade("binance", "BTC", now, "buy", 64_042.1, 0.038),
                perp.trade("okx", "BTC", now, "buy", 63_913.5, 1.0),  # 1 contract of 0.01 BTC
                perp.trade("bybit", "ETH", now, "sell", 3_000.0, 2.0),
            ]
        )
        await perp.liquidate("binance", "ETH", now, "long", 3_010.0, 2.0)
        await perp.liquidate("okx", "ETH", now, "short", 3_000.0, 20.0)  # 20 contracts of 0.1 ETH
        await perp.liquidate("bybit", "BTC", now, "long", 60_000.0, 0.5)
        await run.until(lambda: len(run.items(PerpTrade)) >= 3 and len(run.items(Liquidation)) >= 3)
        minute = run.start_ms // MINUTE_MS
        await run.until(lambda: bool(run.items(MinuteBucket, exchange="binance", minute=minute - 3)))
        await run.until(
            lambda: len({i.exchange for i in run.items(OpenInterest) if i.ts < run.start_ms - MINUTE_MS}) == 3
        )

        listings = run.items(Listings, market="perp")
        assert sorted(e for item in listings for e in item.symbols["BTC/USDT"]) == sorted(VENUES)
        trades = {t.exchange: t for t in run.items(PerpTrade)}
        assert trades["okx"].amount == 0.01 and trades["okx"].price * trades["okx"].amount == 639.135
        assert (trades["binance"].side, trades["binance"].amount) == ("buy", 0.038)
        assert (trades["bybit"].symbol, trades["bybit"].side) == ("ETH/USDT", "sell")
        assert not [t for t in run.drain.trades() if isinstance(t, Trade) and t.price in (64_042.1, 63_913.5)]
        liquidations = {(i.exchange, i.side, i.amount, i.value) for i in run.items(Liquidation)}
        assert liquidations == {
            ("binance", "long", 2.0, 6_020.0),
            ("okx", "short", 2.0, 6_000.0),
            ("bybit", "long", 0.5, 30_000.0),
        }
        bucket = run.items(MinuteBucket, exchange="binance", symbol="BTC/USDT", minute=minute - 3)[0]
        assert (bucket.market, bucket.buy, bucket.sell) == ("perp", 25_000.0, 12_500.0)
        assert all(b.market == "perp" for b in run.items(MinuteBucket) if b.exchange in ("okx",) and b.buy)
        start = run.start_ms
        okx_oi = {i.symbol: i.oi for i in run.items(OpenInterest, exchange="okx") if i.ts == start - 1_000}
        assert okx_oi == {"BTC/USDT": 1000.0 * 0.01, "ETH/USDT": 2000.0 * 0.1}  # contracts × ctVal
        history = {(i.exchange, i.symbol, i.oi) for i in run.items(OpenInterest) if i.ts == start - 7 * MINUTE_MS}
        assert ("binance", "BTC/USDT", 995.0) in history and ("bybit", "ETH/USDT", 1995.0) in history
        assert perp.calls("okx", "/api/v5/public/open-interest")[0] == {"instType": "SWAP"}
        assert perp.calls("bybit", "/v5/market/tickers")[0] == {"category": "linear"}
        assert [h.exchange for h in run.source.health()] == list(VENUES)  # spot only in the status bar
        assert [h.exchange for h in run.source.perp_health()] == list(VENUES)

        # a minute streamed whole is covered, as a perp minute
        await run.until(lambda: any(c.market == "perp" for c in run.items(Coverage)), timeout=30)
        assert not [c for c in run.items(Coverage) if c.market == "perp" and c.exchange not in VENUES]


async def test_binance_oi_poll_keeps_inside_its_weight_budget_at_600_symbols(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gme_tui.sources.collector")
    bases = tuple(f"C{i:03d}" for i in range(600))
    symbols = [f"{b}/USDT" for b in bases]

    def script(perp: FakePerpExchange, now: int) -> None:
        for base in bases:
            perp.set_oi("binance", perp.market_id("binance", base), now, 10.0)

    derivatives = DerivativeSettings(binance_weight_budget=300, oi_history=False, liquidations=False)
    async with live_run(
        speed=30.0, phase_s=1.0, bases=bases, symbols=symbols, venues=("binance",), derivatives=derivatives,
        script=script, watchdog=600.0,
    ) as run:  # fmt: skip
        collector = run.source.perp_collectors["binance"]
        await run.until(lambda: collector.oi_polls >= 2, timeout=60)
        polled = {i.symbol for i in run.items(OpenInterest)}
        weights = dict(run.perp.binance_weight)
        used = collector.weight_used
    # 300 weight per minute: 300 symbols a poll, in rotation, so two polls cover all 600
    calls = run.perp.calls("binance", "/fapi/v1/openInterest")
    assert len(calls) >= 600 and len(polled) == 600
    assert len({c["symbol"] for c in calls[:600]}) == 600
    per_minute = run.perp.calls_per_minute("binance", "/fapi/v1/openInterest")
    assert max(per_minute.values()) <= 300  # the OI poll within its budget, every minute
    assert max(weights.values()) <= 2400  # all of it (markets, klines backfill, checks) within the IP's limit
    assert used is not None and 300 <= used <= max(weights.values())  # read back from X-MBX-USED-WEIGHT-1M
    logged = [r.getMessage() for r in caplog.records if "weight used" in r.getMessage()]
    assert logged and "of 2400 (budget 300)" in logged[0]


async def test_the_binance_weight_used_reaches_the_status_bar_health() -> None:
    """Issue 14 item 2: `health()` (the status bar's exchanges) carries the weight Binance
    USDⓈ-M said it used this minute after the OI poll, of its 2,400 limit; the others none."""
    derivatives = DerivativeSettings(oi_history=False, liquidations=False)
    async with live_run(script=oi_everywhere, derivatives=derivatives) as run:
        collector = run.source.perp_collectors["binance"]
        await run.until(lambda: collector.oi_polls >= 1 and collector.weight_used is not None)
        health = {h.exchange: h for h in run.source.health()}
        used = collector.weight_used
    assert used is not None and used >= 2  # one weight-1 call per symbol, at least
    assert (health["binance"].rest_weight, health["binance"].rest_weight_limit) == (used, 2400)
    assert health["okx"].rest_weight is None and health["bybit"].rest_weight is None


async def test_a_quiet_liquidation_feed_with_keepalives_is_not_reconnected() -> None:
    async with live_run(speed=20.0, watchdog=5.0, script=oi_everywhere, keepalive_s=1.0) as run:
        perp = run.perp
        await run.subscribed()
        # keep-alives only (every second of the fake's clock): no trade, no liquidation
        opened = dict(perp.connections_total)
        clock = run.source.clock
        until = clock.wall_ms() + 4 * 5_000  # four watchdog periods
        await run.until(lambda: clock.wall_ms() >= until, timeout=20)
        assert dict(perp.connections_total) == opened
        assert all(h.attempt == 0 for h in run.source.perp_health())


async def test_stalled_and_dropped_sockets_reconnect_and_stream_again() -> None:
    async with live_run(speed=20.0, watchdog=5.0, script=oi_everywhere, keepalive_s=1.0) as run:
        perp = run.perp
        await run.subscribed()
        opened = dict(perp.connections_total)
        perp.stall("okx")  # nothing at all on its sockets: the socket watchdog closes both
        await perp.drop("bybit")
        await perp.wait_for(
            lambda: perp.connections_total["bybit"] >= opened["bybit"] + 2 and perp.subscribed("bybit") != set(),
            timeout=20,
        )
        await perp.wait_for(
            lambda: perp.connections_total["okx"] >= opened["okx"] + 2 and perp.on_liquidations("okx"), timeout=20
        )
        await run.subscribed()
        now = run.source.clock.wall_ms()
        await perp.publish(
            [
                perp.trade("okx", "ETH", now, "buy", 3_000.0, 10.0),
                perp.trade("bybit", "BTC", now, "sell", 60_000.0, 0.1),
            ]
        )
        await perp.liquidate("okx", "BTC", now, "long", 60_000.0, 3.0)
        await run.until(lambda: {t.exchange for t in run.items(PerpTrade)} >= {"okx", "bybit"})
        await run.until(lambda: bool(run.items(Liquidation, exchange="okx")))
        assert run.items(Liquidation, exchange="okx")[0].amount == 0.03  # 3 contracts of 0.01 BTC


async def test_a_rate_limited_oi_poll_waits_and_the_streams_go_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gme_tui.sources.collector")

    def script(perp: FakePerpExchange, now: int) -> None:
        oi_everywhere(perp, now)
        perp.rate_limit("okx", "okx-50011", times=1, path="/public/open-interest")
        perp.rate_limit("binance", "binance-429", times=1, path="/fapi/v1/openInterest", wait_s=5.0)

    derivatives = DerivativeSettings(oi_history=False)
    async with live_run(speed=20.0, script=script, derivatives=derivatives) as run:
        perp = run.perp
        await run.subscribed()
        await run.until(lambda: {i.exchange for i in run.items(OpenInterest)} == set(VENUES), timeout=30)
        now = run.source.clock.wall_ms()
        await perp.publish([perp.trade("okx", "BTC", now, "buy", 60_000.0, 1.0)])
        await run.until(lambda: bool(run.items(PerpTrade, exchange="okx")))
        limited = perp.limit_answers
        assert [k for _ms, _p, k in limited["okx"]] == ["okx-50011"]
        assert [k for _ms, _p, k in limited["binance"]] == ["binance-429"]
        later = [q for q in perp.requests if q[0] == "binance" and q[1] == "/fapi/v1/openInterest"]
        assert len(later) >= 2  # the poll came again after the wait
    logged = [r.getMessage() for r in caplog.records if "open-interest poll failed" in r.getMessage()]
    assert any("rate limited (OKX 50011)" in m for m in logged) and any("HTTP 429" in m for m in logged)


def _kinds(items: list[SourceItem]) -> set[str]:
    return {type(i).__name__ for i in items}


async def test_the_engine_scans_the_live_perps_into_derivatives_lines() -> None:
    """The live path end to end (LiveSource → Pipeline → Engine): a scan's symbol carries its
    derivatives line, with the perp flow of the venues and an OI change from the history."""
    clock = pinned_clock(50.0, speed=20.0)
    spot = await FakeExchange(clock, ("BTC", "ETH")).start()
    perp = await FakePerpExchange(clock, ("BTC", "ETH")).start()
    try:
        now = clock.wall_ms()
        for venue in VENUES:
            spot.keepalive(venue, 5.0)
            perp.keepalive(venue, 5.0)
        oi_everywhere(perp, now)
        settings = make_settings(spot, VENUES, SYMBOLS, window=10, perp=perp, perp_overrides=FAST)
        run = LiveRun(settings, clock, settle_seconds=1.0).start()
        try:
            await perp.wait_for(lambda: all(perp.subscribed(v) for v in VENUES), timeout=20)
            await spot.wait_subscribed("okx", 2, timeout=20)
            now = clock.wall_ms()
            await spot.publish(make_tape(spot, "okx", ["BTC/USDT"], 4, now - 10, now))
            await perp.publish([perp.trade("okx", "BTC", now, "sell", 60_000.0, 100.0)])  # 1 BTC sold
            await run.until(
                lambda: any(
                    s.derivatives is not None and s.derivatives.perp_flows.get("okx") == -60_000.0
                    for scan in run.recorder.scans()
                    for s in scan.symbols
                    if s.consensus.symbol == "BTC/USDT"
                ),
                timeout=30,
            )
            line = next(
                s.derivatives
                for scan in run.recorder.scans()
                for s in scan.symbols
                if s.consensus.symbol == "BTC/USDT"
                and s.derivatives is not None
                and s.derivatives.perp_flows.get("okx")
            )
            assert set(line.perp_flows) == set(VENUES)
            assert line.oi_change_pct is not None  # history at start: a start sample for the window
        finally:
            await run.stop()
    finally:
        await perp.stop()
        await spot.stop()
