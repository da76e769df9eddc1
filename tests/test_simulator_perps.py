"""The demo's perpetuals (SPEC §4b, §6): perp trades, a perp backfill, open interest each minute and
liquidations on Binance, OKX and Bybit, deterministic by seed; through the real engine, B
`derivatives_hedge` appears at the third scan of streaming, the bearish A+ `global_sync_bearish`
at the first, and liquidations within the first seconds. Time is the demo's own data clock
(speed 0) or an injected clock: no sleeps."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from functools import cache

import pytest

from gme_tui.engine import Engine, EngineConfig, scans_in
from gme_tui.model import (
    MINUTE_MS,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    SignalCode,
    Trade,
)
from gme_tui.settings import Settings
from gme_tui.sources.simulator import SimulatedMarket
from gme_tui.sources.simulator_flow import PriceWalk
from gme_tui.sources.simulator_market import SYMBOLS
from gme_tui.sources.simulator_perps import OI_HISTORY_EXTRA, PERP_MARKETS, LiquidationDesk, PerpQuote

START = 29_425_500 * MINUTE_MS
VENUES = ("binance", "okx", "bybit")
B_MINUTE = 2  # the scan (minutes after streaming starts) where B first holds, whatever the seed
BEARISH_MINUTE = 0  # the bearish A+ holds at the first scan, whatever the seed
FIRST_LIQUIDATION_MS = 5_000  # the first liquidation comes within the first 5 s of data
BIG_LIQUIDATION_MS = 90_000  # and one of more than 1,000,000 within the first minute and a half


def market(**kwargs) -> SimulatedMarket:
    kwargs.setdefault("speed", 0)
    kwargs.setdefault("start_ms", START)
    kwargs.setdefault("perp_venues", VENUES)
    return SimulatedMarket(**kwargs)


async def collect(source: SimulatedMarket) -> list[list]:
    return [list(batch) async for batch in source.batches()]


def run(source: SimulatedMarket) -> list[list]:
    return asyncio.run(collect(source))


@cache
def eight_minutes(seed: int = 7) -> tuple[list, ...]:
    return tuple(run(market(seed=seed, duration_minutes=8)))


def streamed(batches) -> list:
    return [item for batch in batches[1:] for item in batch]


def of_type(items, kind) -> list:
    return [item for item in items if type(item) is kind]


def through_engine(batches) -> list:
    engine = Engine(EngineConfig())
    events: list = []
    for batch in batches:
        events.extend(engine.feed_many(batch))
    return events  # no finish(): only the scans the data itself reached


def minute_of(ts: int) -> int:
    return (ts - START) // MINUTE_MS


def signal_minutes(scans, code: SignalCode) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for scan in scans:
        for item in scan.symbols:
            if any(signal.code == code for signal in item.signals):
                out.setdefault(minute_of(scan.ts), set()).add(item.consensus.symbol)
    return out


# ---------------------------------------------------------------- determinism and shape


def test_same_seed_same_items_other_seed_other_items() -> None:
    first = run(market(seed=11, duration_minutes=0.5))
    again = run(market(seed=11, duration_minutes=0.5))
    other = run(market(seed=12, duration_minutes=0.5))
    assert repr(first) == repr(again)  # byte-identical, floats included
    assert of_type(streamed(first), PerpTrade) != of_type(streamed(other), PerpTrade)
    assert of_type(first[0], OpenInterest) != of_type(other[0], OpenInterest)


def test_perps_change_no_spot_item() -> None:
    """Simulating perps draws from generators of their own: spot is the same item for item."""
    spot_only = run(market(seed=5, duration_minutes=1, perp_venues=()))
    with_perps = run(market(seed=5, duration_minutes=1))
    spot_kinds = (Trade, MinuteBucket, Listings)

    def spot(batches) -> list:
        items = [i for b in batches for i in b if type(i) in spot_kinds]
        return [i for i in items if not (isinstance(i, (MinuteBucket, Listings)) and i.market == "perp")]

    assert repr(spot(with_perps)) == repr(spot(spot_only))
    assert not any(type(i) in (PerpTrade, OpenInterest, Liquidation) for b in spot_only for i in b)


def test_backfill_batch_spot_first_then_perp_listings_minutes_and_oi_history() -> None:
    window = 50
    first = list(eight_minutes()[0])
    assert isinstance(first[0], Listings) and first[0].market == "spot"
    perp_at = next(i for i, item in enumerate(first) if isinstance(item, Listings) and item.market == "perp")
    assert all(isinstance(b, MinuteBucket) and b.market == "spot" for b in first[1:perp_at])
    perp_listings = first[perp_at]
    assert set(perp_listings.symbols) == set(first[0].symbols)  # every symbol has its perpetual
    assert all(venues == VENUES for venues in perp_listings.symbols.values())

    rest = first[perp_at + 1 :]
    buckets = [i for i in rest if isinstance(i, MinuteBucket)]
    oi = [i for i in rest if isinstance(i, OpenInterest)]
    assert len(buckets) + len(oi) == len(rest)
    start_minute = START // MINUTE_MS
    expected = {
        (v, s, m) for s in perp_listings.symbols for v in VENUES for m in range(start_minute - window, start_minute)
    }
    assert {(b.exchange, b.symbol, b.minute) for b in buckets} == expected and len(buckets) == len(expected)
    assert all(b.market == "perp" and b.buy > 0 and b.sell > 0 and b.count > 0 and b.close for b in buckets)
    spot_close = {(b.exchange, b.symbol, b.minute): b.close for b in first[1:perp_at]}
    for bucket in buckets:  # a perp trades a hair above its spot book (funding premium)
        spot = spot_close[("binance", bucket.symbol, bucket.minute)]
        assert abs(bucket.close / spot - 1) < 0.002  # type: ignore[operator]

    # OI history: every minute boundary from OI_HISTORY_EXTRA minutes before the window to start - 1
    boundaries = range(START - (window + OI_HISTORY_EXTRA) * MINUTE_MS, START, MINUTE_MS)
    assert {(o.exchange, o.symbol, o.ts) for o in oi} == {
        (v, s, ts) for s in perp_listings.symbols for v in VENUES for ts in boundaries
    }
    assert len(oi) == len(perp_listings.symbols) * len(VENUES) * len(boundaries)
    btc = [o.oi for o in oi if o.symbol == "BTC/USDT" and o.exchange == "binance"]
    assert all(500 < x < 200_000 for x in btc)  # base units (BTC), not contracts nor USD
    assert max(btc) / min(btc) < 1.1


def test_streaming_items_are_ordered_plausible_and_unique() -> None:
    items = streamed(eight_minutes())
    assert [i.ts for i in items] == sorted(i.ts for i in items)  # OI at its boundary leads the minute
    perps = of_type(items, PerpTrade)
    ids = [(t.exchange, t.id) for t in perps]
    assert len(set(ids)) == len(ids) and all(isinstance(t.id, str) for t in perps)
    assert {t.exchange for t in perps} == set(VENUES)
    assert all(t.side in ("buy", "sell") and t.price > 0 and t.amount > 0 for t in perps)
    assert perps[0].ts >= START and perps[-1].ts < START + 8 * MINUTE_MS
    spots = of_type(items, Trade)
    assert 0.3 * len(spots) < len(perps) < 0.8 * len(spots)  # about half as many trades as spot
    last_spot: dict[str, float] = {}
    for item in items:  # a perp trades within a fraction of a percent of its spot price
        if type(item) is Trade and item.exchange == "binance":
            last_spot[item.symbol] = item.price
        elif type(item) is PerpTrade and item.symbol in last_spot:
            assert abs(item.price / last_spot[item.symbol] - 1) < 0.005, item


def test_open_interest_every_minute_boundary_once_per_venue_and_symbol() -> None:
    items = streamed(eight_minutes())
    oi = of_type(items, OpenInterest)
    per_boundary = Counter(o.ts for o in oi)
    assert sorted(per_boundary) == [START + k * MINUTE_MS for k in range(8)]
    assert set(per_boundary.values()) == {12 * len(VENUES)}
    for ts in per_boundary:  # a boundary's samples come before any trade at or after it: its scan sees them
        first_trade = next(i for i, item in enumerate(items) if type(item) in (Trade, PerpTrade) and item.ts >= ts)
        last_sample = max(i for i, item in enumerate(items) if type(item) is OpenInterest and item.ts == ts)
        assert last_sample < first_trade
    btc = [o for o in oi if o.symbol == "BTC/USDT"]
    assert all(o.oi > 0 for o in btc)


def test_liquidations_sides_values_timing_and_binance_sampling() -> None:
    items = streamed(eight_minutes())
    liquidations = of_type(items, Liquidation)
    assert 8 * 10 < len(liquidations) < 8 * 40  # a couple of dozen a minute
    assert {x.exchange for x in liquidations} == set(VENUES)
    assert {x.side for x in liquidations} == {"long", "short"}
    assert all(x.value == x.price * x.amount and x.amount > 0 for x in liquidations)
    assert liquidations[0].ts < START + FIRST_LIQUIDATION_MS
    assert any(x.value > 1_000_000 and x.ts < START + BIG_LIQUIDATION_MS for x in liquidations)
    assert all(x.value <= 2_500_000 * 1.001 for x in liquidations)
    binance = Counter((x.symbol, x.ts // 1000) for x in liquidations if x.exchange == "binance")
    assert max(binance.values()) == 1  # Binance: at most one per symbol per second

    mids: dict[tuple[str, str], float] = {}
    for item in items:  # the liquidation order sells a long below the book, buys a short back above
        if type(item) is PerpTrade:
            mids[(item.exchange, item.symbol)] = item.price
        elif type(item) is Liquidation and (item.exchange, item.symbol) in mids:
            mid = mids[(item.exchange, item.symbol)]
            assert (item.price < mid * 1.0005) if item.side == "long" else (item.price > mid * 0.9995), item


def test_perp_venues_follow_the_argument_and_each_venue_stands_alone() -> None:
    okx_only = run(market(seed=3, duration_minutes=0.5, perp_venues=("okx", "coinbase")))  # no perp on Coinbase
    perp_items = [
        i
        for b in okx_only
        for i in b
        if type(i) in (PerpTrade, OpenInterest, Liquidation)
        or (isinstance(i, (MinuteBucket, Listings)) and i.market == "perp")
    ]
    assert perp_items
    assert {i.exchange for i in perp_items if not isinstance(i, Listings)} == {"okx"}
    every = run(market(seed=3, duration_minutes=0.5))
    okx_trades = [i for b in every for i in b if type(i) is PerpTrade and i.exchange == "okx"]
    assert okx_trades == [i for b in okx_only for i in b if type(i) is PerpTrade]  # other venues change nothing
    with pytest.raises(ValueError, match="kraken"):
        SimulatedMarket(perp_venues=("kraken",))


def test_the_demo_follows_settings_perp_venues() -> None:
    settings = Settings()
    assert settings.perp_venues == VENUES == PERP_MARKETS
    source = market(duration_minutes=0, perp_venues=settings.perp_venues)
    assert source.perp_venues == VENUES


# ---------------------------------------------------------------- through the engine


@pytest.mark.parametrize("seed", [7, 2024])
def test_b_bearish_aplus_and_liquidations_appear_within_the_first_minutes(seed: int) -> None:
    events = through_engine(eight_minutes(seed))
    scans = scans_in(events)
    assert [s.ts for s in scans] == [START + k * MINUTE_MS for k in range(8)]

    hedge = signal_minutes(scans, SignalCode.DERIVATIVES_HEDGE)
    assert min(hedge) == B_MINUTE and hedge[B_MINUTE] == {"BNB/USDT"}
    assert all(k in hedge for k in range(B_MINUTE, 8))  # and it holds on
    bnb = next(i for i in scans[B_MINUTE].symbols if i.consensus.symbol == "BNB/USDT")
    line = bnb.derivatives
    assert line is not None and line.spot_ratio is not None and line.perp_ratio is not None
    assert line.spot_total > 1_000_000 and line.spot_ratio > 1.15
    assert line.perp_total < -1_000_000 and line.perp_ratio < 0.85
    assert line.oi_change_pct is not None and 1.0 < line.oi_change_pct < 1.5
    (b_signal,) = [s for s in bnb.signals if s.code == SignalCode.DERIVATIVES_HEDGE]
    assert b_signal.direction == "neutral"

    bearish = signal_minutes(scans, SignalCode.GLOBAL_SYNC_BEARISH)
    assert min(bearish) == BEARISH_MINUTE and len(bearish[BEARISH_MINUTE]) == 1
    (symbol,) = bearish[BEARISH_MINUTE]
    first = next(i for i in scans[0].symbols if i.consensus.symbol == symbol)
    assert first.consensus.level == "strong_bearish"
    assert all(flow < 0 for flow in first.consensus.flows.values())

    liquidations = [e for e in events if isinstance(e, Liquidation)]  # the engine passes them on
    assert liquidations == of_type(streamed(eight_minutes(seed)), Liquidation)
    assert liquidations[0].ts < START + FIRST_LIQUIDATION_MS
    windows = [i.derivatives for i in scans[-1].symbols if i.derivatives is not None]
    assert sum(w.liquidated_long + w.liquidated_short for w in windows) > 0


def test_every_seed_b_at_the_third_scan_and_the_bearish_aplus_at_the_first() -> None:
    for seed in range(12):
        batches = run(market(seed=seed, duration_minutes=B_MINUTE + 0.01))
        scans = scans_in(through_engine(batches))
        assert [minute_of(s.ts) for s in scans] == list(range(B_MINUTE + 1)), seed
        hedge = signal_minutes(scans, SignalCode.DERIVATIVES_HEDGE)
        assert hedge == {B_MINUTE: {"BNB/USDT"}}, seed
        bearish = signal_minutes(scans, SignalCode.GLOBAL_SYNC_BEARISH)
        assert BEARISH_MINUTE in bearish, seed
        liquidations = of_type(streamed(batches), Liquidation)
        assert liquidations[0].ts < START + FIRST_LIQUIDATION_MS, seed
        assert any(x.value > 1_000_000 and x.ts < START + BIG_LIQUIDATION_MS for x in liquidations), seed


def test_first_scan_shows_the_same_spot_story_with_perps() -> None:
    """Perps add a derivatives line per symbol; the first scan's levels and grades are spot's."""
    spot_scan = scans_in(through_engine(run(market(seed=9, duration_minutes=0.01, perp_venues=()))))[0]
    perp_scan = scans_in(through_engine(run(market(seed=9, duration_minutes=0.01))))[0]
    assert [i.consensus for i in perp_scan.symbols] == [i.consensus for i in spot_scan.symbols]
    assert [i.signals for i in perp_scan.symbols] == [i.signals for i in spot_scan.symbols]
    assert {str(g.grade) for i in perp_scan.symbols for g in i.signals} == {"A+", "A", "C"}
    assert all(i.derivatives is not None and set(i.derivatives.windows) == set(VENUES) for i in perp_scan.symbols)
    assert all(spot.derivatives is None for spot in spot_scan.symbols)


# ---------------------------------------------------------------- pacing


class FakeTime:
    """An injected monotonic clock that only moves when the source sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


async def test_perp_items_are_paced_like_trades_never_early() -> None:
    fake = FakeTime()
    speed = 4.0
    source = market(speed=speed, duration_minutes=1.05, clock=fake.clock, sleep=fake.sleep)
    started = fake.now
    yielded = [(fake.now, list(batch)) async for batch in source.batches()]
    kinds = {type(item) for _, batch in yielded[1:] for item in batch}
    assert {Trade, PerpTrade, OpenInterest, Liquidation} <= kinds
    for at, batch in yielded[1:]:
        for item in batch:
            due = started + (item.ts - START) / 1000 / speed
            assert due <= at + 1e-9
    assert all(b - a >= 0.1 - 1e-9 for (a, _), (b, _) in itertools.pairwise(yielded[1:]))


@pytest.mark.parametrize(("lean", "hurt"), [(-0.2, "long"), (0.2, "short")])
def test_a_running_price_liquidates_the_side_it_hurts(lean: float, hurt: str) -> None:
    """Sellers in charge (price falling) liquidate longs; buyers in charge liquidate shorts."""
    quotes = {spec.symbol: PerpQuote(PriceWalk(spec, random.Random(1))) for spec in SYMBOLS}
    desk = LiquidationDesk(SYMBOLS, VENUES, quotes, START, random.Random(2))
    desk.set_leans({spec.symbol: lean for spec in SYMBOLS})
    liquidations = desk.until(START + 10 * MINUTE_MS, START)
    sides = Counter(x.side for x in liquidations)
    assert len(liquidations) > 150
    assert sides[hurt] > 0.8 * len(liquidations)
