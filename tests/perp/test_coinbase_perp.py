"""Coinbase's US perp-style futures (SPEC §4b: off by default, a setting per exchange), over the
REAL ccxt `coinbase` (Advanced Trade) clients against the fake (tests/fakes/perp_exchange.py):
markets X/USD:USD with their contract size, `market_trades` frames through our hook (the maker's
side inverted, the subscribe snapshot skipped), open interest from one products call, and the
venue live through LiveSource next to the spot fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gme_tui.model import MINUTE_MS, Listings, MinuteBucket, OpenInterest, PerpTrade
from gme_tui.settings import ExchangeSettings, Settings, parse_settings
from gme_tui.sources import live
from gme_tui.sources.ccxt_common import ccxt_config
from gme_tui.sources.live import LiveSource
from gme_tui.sources.perp.coinbase_futures import (
    ADAPTER,
    CoinbaseFuturesAdapter,
    map_usd_futures,
    product_open_interest,
    taker_bought,
)
from gme_tui.sources.perp.common import PerpMarket
from tests.fakes.exchange import FakeExchange
from tests.fakes.harness import pinned_clock
from tests.fakes.perp_exchange import FakePerpExchange
from tests.live.conftest import Drain, make_settings
from tests.perp.conftest import fixture
from tests.perp.test_streams import Sink

NOW = 29_425_570 * 60_000
CANONICAL = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "PEPE/USDT", "ADA/USDT"]


@pytest.fixture
async def fake() -> AsyncIterator[FakePerpExchange]:
    server = await FakePerpExchange(NOW, bases=("BTC", "ETH", "SOL", "PEPE")).start()
    server.listing[("coinbase", "PEPE")] = "1000PEPE"
    try:
        yield server
    finally:
        await server.stop()


def config(fake: FakePerpExchange) -> dict[str, object]:
    """The client's configuration against the fake; ccxt's limiter (real seconds) off."""
    return ccxt_config(ADAPTER, {**fake.ccxt_settings("coinbase"), "enableRateLimit": False}, "")


# ---------------------------------------------------------------- recorded payloads


def test_the_recorded_market_trades_frames_give_the_opposite_of_the_raw_side() -> None:
    """fixtures/ccxt/coinbase.ws.watchTrades.json (real Advanced Trade frames): every trade is
    "BUY", which ccxt passes through as a buy; read as the maker's side it is a taker SELL. The
    subscribe `snapshot` (trades from before we were live) is consumed and gives nothing; the
    `subscriptions` ack is left to ccxt."""
    entry = fixture("coinbase.ws.watchTrades.json")[0]
    snapshot, ack, update = entry["messages"]
    bound = ADAPTER.bind([PerpMarket("BTC/USDT", "BTC/USD", "BTC-USD", 1.0)])
    rows: list = []
    assert bound.parse_frame(snapshot, rows) is True and rows == []
    assert bound.parse_frame(ack, rows) is False
    assert bound.parse_frame(update, rows) is True
    assert rows == [
        ("BTC-USD", 1786562868298, False, 63310.25, 0.00000012, "1069726293"),
        ("BTC-USD", 1786562868266, False, 63310.25, 0.00000012, "1069726292"),
    ]
    ccxt_sides = {t["id"]: t["side"] for t in entry["parsedResponses"][0]}
    assert set(ccxt_sides.values()) == {"buy"}  # ccxt 4.5.90 reads the raw side as the taker's


def test_a_print_at_the_best_ask_marked_sell_is_a_taker_buy() -> None:
    """The one recorded Advanced Trade payload with the book beside its trades (the public ticker,
    same trade shape; NautilusTrader's crates/adapters/coinbase/test_data/http_ticker.json): its
    newest trade printed AT the best ask (68923.67, best bid 68923.66), marked "SELL". A print at
    the ask lifted a resting sell: a taker buy. So "SELL" is the maker's side, as we read it."""
    best_bid, best_ask = 68923.66, 68923.67
    newest = {"trade_id": "995098663", "price": "68923.67", "size": "0.00064", "side": "SELL"}
    assert float(newest["price"]) == best_ask > best_bid
    assert taker_bought(newest["side"]) is True
    assert taker_bought("BUY") is False
    with pytest.raises(ValueError, match="not a Coinbase trade side"):
        taker_bought("UNKNOWN")


def test_the_recorded_intx_perpetuals_are_not_the_us_futures_but_their_oi_shape_is_read() -> None:
    """fixtures/ccxt/coinbase.markets.json holds the two INTX perpetuals (X/USDC:USDC, retired from
    Advanced Trade): SPEC §4b's venue is the US X/USD:USD futures, so none maps; their raw
    `perpetual_details.open_interest` is still read, in contracts."""
    recorded = fixture("coinbase.markets.json")
    assert map_usd_futures(["BTC/USDT", "ETH/USDT"], recorded) == {}
    assert product_open_interest(recorded["BTC/USDC:USDC"]["info"]) == 3727.4571
    assert product_open_interest({"product_id": "X", "future_product_details": {"open_interest": ""}}) is None


# ---------------------------------------------------------------- REST through ccxt


async def test_markets_and_open_interest_through_the_real_ccxt_client(fake: FakePerpExchange) -> None:
    """ccxt's load_markets reads Advanced Trade's products (spot, then FUTURE) and maps the US
    perp-style futures to swaps X/USD:USD with their contract size; open interest is ONE call,
    contracts × contract size, stamped by the answer's Date header."""
    rest = ADAPTER.rest_client(config(fake))
    try:
        markets = await rest.load_markets()
        mapped = ADAPTER.perp_markets(CANONICAL, markets)
        assert {s: (m.ccxt_symbol, m.id, m.contract_size, m.factor) for s, m in mapped.items()} == {
            "BTC/USDT": ("BTC/USD:USD", "BIP-20DEC30-CDE", 0.01, 1),
            "ETH/USDT": ("ETH/USD:USD", "ETP-20DEC30-CDE", 0.1, 1),
            "SOL/USDT": ("SOL/USD:USD", "SLP-20DEC30-CDE", 5.0, 1),
            "PEPE/USDT": ("1000PEPE/USD:USD", "10P-20DEC30-CDE", 1.0, 1000),
        }  # ADA: no future, no perp line
        bound = ADAPTER.bind(mapped.values())
        fake.set_oi("coinbase", "BIP-20DEC30-CDE", NOW, 1234.0)
        fake.set_oi("coinbase", "SLP-20DEC30-CDE", NOW, 3.0)
        before = len(fake.requests)
        samples = await bound.fetch_open_interest(rest, list(mapped.values()))
        assert [(r[1], r[2]) for r in fake.requests[before:]] == [
            ("/api/v3/brokerage/market/products", {"product_type": "FUTURE"})
        ]
        assert {(s.symbol, s.oi) for s in samples} == {("BTC/USDT", 1234.0 * 0.01), ("SOL/USDT", 15.0)}
        assert {s.ts for s in samples} == {NOW // 1000 * 1000}  # the Date header: whole seconds
        assert await bound.fetch_open_interest_history(rest, mapped["BTC/USDT"], NOW - MINUTE_MS, NOW) == []
        assert await bound.fetch_latest_trade(rest, markets["BTC/USD:USD"]) is None
        await fake.publish([fake.trade("coinbase", "BTC", NOW - 2_000, "buy", 64_000.0, 1.0)])
        assert await bound.fetch_latest_trade(rest, markets["BTC/USD:USD"]) == (
            str(fake.history["coinbase"][-1].id),
            NOW - 2_000,
        )
    finally:
        await rest.close()


async def test_the_history_pages_back_by_time_in_base_units(
    fake: FakePerpExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backfill reads the public trades newest first, `end` moving back a page at a time
    (pages of 2 here): closed minutes in quote value with the contract size applied and the
    maker's side inverted; a trade seen on two overlapping pages counts once."""
    from gme_tui.sources.perp import coinbase_futures

    monkeypatch.setattr(coinbase_futures, "PAGE", 2)
    rest = ADAPTER.rest_client(config(fake))
    try:
        markets = await rest.load_markets()
        bound = ADAPTER.bind(ADAPTER.perp_markets(["SOL/USDT"], markets).values())
        minute = NOW // MINUTE_MS - 3
        at = minute * MINUTE_MS
        fake.history["coinbase"].extend(
            [
                fake.trade("coinbase", "SOL", at - 1, "buy", 100.0, 9.0),  # the minute before: left out
                fake.trade("coinbase", "SOL", at + 1_000, "buy", 150.25, 3.0),  # 15 SOL: 2253.75
                fake.trade("coinbase", "SOL", at + 30_000, "sell", 150.0, 1.0),  # 5 SOL: 750.0
                fake.trade("coinbase", "SOL", at + 30_500, "sell", 150.0, 1.0),  # same second
                fake.trade("coinbase", "SOL", at + MINUTE_MS + 2_000, "buy", 151.0, 2.0),  # 10 SOL: 1510.0
            ]
        )
        before = len(fake.requests)
        history = await bound.fetch_history(rest, markets["SOL/USD:USD"], minute, minute + 1)
        flows = {m: (f.buy, f.sell, f.count, f.close) for m, f in history.flows.items()}
        assert flows == {minute: (2253.75, 1500.0, 3, 150.0), minute + 1: (1510.0, 0.0, 1, 151.0)}
        ends = [int(q["end"]) for _v, _p, q in fake.requests[before:]]
        assert len(ends) >= 3 and ends == sorted(ends, reverse=True) and len(set(ends)) == len(ends)
        assert {q["start"] for _v, _p, q in fake.requests[before:]} == {str(minute * 60)}
    finally:
        await rest.close()


# ---------------------------------------------------------------- the stream through ccxt.pro


async def test_trades_in_base_units_with_the_maker_side_inverted(fake: FakePerpExchange) -> None:
    """A hooked ccxt.pro coinbase client subscribes `market_trades` and `heartbeats` (one channel
    per message); trades reach the sink in base units (3 contracts of 5 SOL at 150.25: 15 SOL worth
    exactly 2253.75), the taker's side from the maker's print, the subscribe snapshot skipped; a
    duplicated frame reaches the sink twice (the collector counts its id once); a forced
    disconnect fails the watch (the collector reconnects)."""
    rest = ADAPTER.rest_client(config(fake))
    markets = await rest.load_markets()
    mapped = ADAPTER.perp_markets(CANONICAL, markets)
    bound = ADAPTER.bind(mapped.values())
    await fake.publish([fake.trade("coinbase", "SOL", NOW - 5_000, "sell", 149.0, 1.0)])  # before: in the snapshot
    sink = Sink(fake)
    ws = bound.ws_client(config(fake), sink)
    ws.set_markets_from_exchange(rest)
    watch = asyncio.create_task(bound.watch(ws, ["BTC/USD:USD", "SOL/USD:USD"]))
    try:
        await fake.wait_for(lambda: len(fake.subscribed("coinbase")) == 2 and any(c.heartbeats for c in fake.conns))
        assert sorted(m["channel"] for m in fake.subscriptions("coinbase")) == ["heartbeats", "market_trades"]
        assert not fake.violations
        fake.duplicate_frames("coinbase", 2)
        await fake.publish(
            [
                fake.trade("coinbase", "SOL", NOW + 1_000, "buy", 150.25, 3.0),
                fake.trade("coinbase", "BTC", NOW + 1_001, "sell", 64_000.0, 2.0),
            ]
        )
        await fake.wait_for(lambda: len(sink.rows) >= 4)
        sol, sol_again, btc, _ = sink.rows
        assert sol == sol_again
        market_id, _ts, bought, price, amount, _id = sol
        assert (market_id, bought, amount, price * amount) == ("SLP-20DEC30-CDE", True, 15.0, 2253.75)
        assert (btc[2], btc[4]) == (False, 2 * 0.01)
        assert sink.bad == []

        await fake.drop("coinbase")
        with pytest.raises(Exception, match="closed"):
            await asyncio.wait_for(watch, 5)
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
        await ws.close()
        await rest.close()


# ---------------------------------------------------------------- settings


def test_coinbase_perp_is_off_by_default_and_on_when_set(tmp_path: Path) -> None:
    """SPEC §4b: off by default (the defaults, an empty file, the shipped settings.toml, and a
    `[exchanges.coinbase]` table that does not name `perp`); `perp = true` turns it on, an
    exchange switched off has none."""
    shipped = Path(__file__).parents[2] / "gme_tui" / "settings.toml"
    assert "coinbase" not in Settings().perp_venues
    assert "coinbase" not in parse_settings("").perp_venues
    assert "coinbase" not in parse_settings(shipped.read_text()).perp_venues
    assert (
        "coinbase" not in parse_settings("[exchanges.coinbase]\nenabled = true\nccxt = {timeout = 5000}\n").perp_venues
    )
    on = parse_settings("[exchanges.coinbase]\nperp = true\n")
    assert on.perp_venues == ("binance", "okx", "bybit", "coinbase")
    assert parse_settings("[exchanges.coinbase]\nperp = true\n[exchanges.binance]\n").perp_venues[0] == "binance"
    assert "coinbase" not in parse_settings("[exchanges.coinbase]\nenabled = false\nperp = true\n").perp_venues
    assert parse_settings("[signals]\nb_min_perp_venues = 4\n").signals.b_min_perp_venues == 4


# ---------------------------------------------------------------- live


async def test_the_coinbase_perp_venue_runs_live_when_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """LiveSource with `[exchanges.coinbase] perp = true` (and its module in PERP_MODULES, CLOCK's
    one-line patch, set here for the test): the collector maps BTC/USDT to BTC/USD:USD, emits
    perp Listings, PerpTrade in base units with the taker's side, OpenInterest from the products
    call; a frame delivered twice counts once, and after a forced disconnect it reconnects,
    resubscribes, and the snapshot of trades it already has adds nothing."""
    monkeypatch.setitem(live.PERP_MODULES, "coinbase", "coinbase_futures")  # type: ignore[index]
    clock = pinned_clock(20.0, speed=10.0)
    spot = await FakeExchange(clock, ("BTC", "ETH")).start()
    perp = await FakePerpExchange(clock, ("BTC", "ETH")).start()
    drain: Drain | None = None
    try:
        spot.keepalive("coinbase", 5.0)
        start = clock.wall_ms()
        perp.set_oi("coinbase", perp.market_id("coinbase", "BTC"), start, 500.0)
        past = (start // MINUTE_MS - 2) * MINUTE_MS  # a closed minute before the start: backfilled
        perp.history["coinbase"].append(perp.trade("coinbase", "ETH", past + 5_000, "sell", 3_000.0, 10.0))
        settings = make_settings(
            spot, ("coinbase",), ["BTC/USDT", "ETH/USDT"], window=10, perp=perp, perp_venues=("coinbase",),
            perp_overrides={"coinbase": {"enableRateLimit": False}},
        )  # fmt: skip
        assert settings.perp_venues == ("coinbase",)
        source = LiveSource(settings, clock=clock, settle_seconds=1.0)
        assert isinstance(source.perp_collectors["coinbase"].adapter, CoinbaseFuturesAdapter)
        drain = Drain(source)
        await perp.wait_for(lambda: len(perp.subscribed("coinbase")) == 2, timeout=20)
        now = clock.wall_ms()
        perp.duplicate_frames("coinbase", 2)
        await perp.publish([perp.trade("coinbase", "BTC", now, "buy", 64_000.0, 3.0)])  # 3 × 0.01 BTC
        await drain.until(lambda: bool(items(drain, PerpTrade)) and bool(items(drain, OpenInterest)), timeout=20)

        await drain.until(lambda: bool(perp_buckets(drain, "ETH/USDT", past // MINUTE_MS)), timeout=20)
        bucket = perp_buckets(drain, "ETH/USDT", past // MINUTE_MS)[0]
        assert (bucket.exchange, bucket.buy, bucket.sell, bucket.count) == ("coinbase", 0.0, 3_000.0, 1)  # 10 × 0.1 ETH
        trade = items(drain, PerpTrade)[0]
        assert (trade.exchange, trade.symbol, trade.side, trade.amount) == ("coinbase", "BTC/USDT", "buy", 3 * 0.01)
        assert trade.value == 64_000.0 * (3 * 0.01)
        oi = items(drain, OpenInterest)[0]
        assert (oi.exchange, oi.symbol, oi.oi) == ("coinbase", "BTC/USDT", 5.0)
        listed = [i for i in items(drain, Listings) if i.market == "perp"]
        assert listed and listed[0].symbols["BTC/USDT"] == ("coinbase",)
        collector = source.perp_collectors["coinbase"]
        minute = collector.ledger.minutes[("BTC/USDT", now // MINUTE_MS)]
        assert (minute.count, minute.buy) == (1, 64_000.0 * (3 * 0.01))
        assert [h.exchange for h in source.perp_health()] == ["coinbase"]
        quiet = [c for c in perp.conns if c.heartbeats and not c.trades]  # the liquidation session
        assert len(quiet) == 1 and [m["channel"] for m in quiet[0].subscribe_messages] == ["heartbeats"]

        opened = perp.connections_total["coinbase"]
        perp.duplicate_frames("coinbase", 1)
        await perp.drop("coinbase")
        await perp.wait_for(
            lambda: perp.connections_total["coinbase"] >= opened + 2 and len(perp.subscribed("coinbase")) == 2,
            timeout=30,
        )
        await perp.publish([perp.trade("coinbase", "ETH", clock.wall_ms(), "sell", 3_000.0, 4.0)])  # 4 × 0.1 ETH
        await drain.until(lambda: any(t.symbol == "ETH/USDT" for t in items(drain, PerpTrade)), timeout=20)
        eth = next(t for t in items(drain, PerpTrade) if t.symbol == "ETH/USDT")
        assert (eth.side, eth.amount) == ("sell", 4 * 0.1)
        assert minute.count == 1  # the resubscribe snapshot resent the BTC trade: not counted again
        assert not perp.violations
    finally:
        if drain is not None:
            await drain.stop()
        await perp.stop()
        await spot.stop()


def items(drain: Drain, kind: type) -> list:
    return [i for i in drain.items if type(i) is kind]


def perp_buckets(drain: Drain, symbol: str, minute: int) -> list[MinuteBucket]:
    return [b for b in items(drain, MinuteBucket) if (b.market, b.symbol, b.minute) == ("perp", symbol, minute)]


def test_exchange_settings_keep_perp_default_true_for_the_others() -> None:
    assert ExchangeSettings().perp is True
    assert parse_settings("[exchanges.okx]\nenabled = true\n").exchanges["okx"].perp is True
