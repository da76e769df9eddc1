"""The simulated market behind `--demo` (SPEC §6, §9): deterministic, starts with a full window,
streams realistic flow, and through the real engine shows every level, every grade and whales
from the first minutes on."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from gme_tui.core.seams import Source
from gme_tui.engine import Engine, EngineConfig, scans_in, whales_in
from gme_tui.model import EXCHANGES, MINUTE_MS, Listings, MinuteBucket, Trade
from gme_tui.sources.simulator import SimulatedMarket

START = 29_425_500 * MINUTE_MS
LEVELS = {"strong_bullish", "strong_bearish", "lean_bullish", "lean_bearish", "mixed"}
SMALL_CAPS = {"ADA/USDT", "TRX/USDT", "AVAX/USDT", "LINK/USDT", "LTC/USDT"}


def market(**kwargs) -> SimulatedMarket:
    kwargs.setdefault("speed", 0)
    kwargs.setdefault("start_ms", START)
    return SimulatedMarket(**kwargs)


async def collect(source: SimulatedMarket) -> list[list]:
    return [list(batch) async for batch in source.batches()]


def run(source: SimulatedMarket) -> list[list]:
    return asyncio.run(collect(source))


def trades_of(batches: list[list]) -> list[Trade]:
    return [item for batch in batches for item in batch if isinstance(item, Trade)]


class FakeTime:
    """An injected monotonic clock that only moves when the source sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


# ---------------------------------------------------------------- determinism and shape


def test_is_a_demo_source() -> None:
    source = market(duration_minutes=0)
    assert isinstance(source, Source)
    assert source.mode == "demo"


def test_same_seed_same_items_other_seed_other_items() -> None:
    first = run(market(seed=11, duration_minutes=0.5))
    again = run(market(seed=11, duration_minutes=0.5))
    other = run(market(seed=12, duration_minutes=0.5))
    assert first == again
    assert repr(first) == repr(again)  # byte-identical, floats included
    assert trades_of(first) != trades_of(other)
    assert first[0][1:] != other[0][1:]  # the backfill too


def test_default_start_is_the_current_minute() -> None:
    before = time.time_ns() // 1_000_000
    source = SimulatedMarket(duration_minutes=0)
    assert source.start_ms % MINUTE_MS == 0
    assert before - MINUTE_MS < source.start_ms <= before


def test_listings_come_first_and_have_gaps_as_in_reality() -> None:
    first_batch = run(market(duration_minutes=0))[0]
    listings = first_batch[0]
    assert isinstance(listings, Listings)
    symbols = listings.symbols
    assert len(symbols) == 12
    assert all(symbols[s][0] == "binance" for s in symbols)  # Binance lists everything
    assert "coinbase" not in symbols["BNB/USDT"] and "coinbase" not in symbols["TRX/USDT"]
    assert symbols["BTC/USDT"] == EXCHANGES


@pytest.mark.parametrize("window", [50, 30])
def test_backfill_covers_exactly_the_window_before_start(window: int) -> None:
    first_batch = run(market(window_minutes=window, duration_minutes=0))[0]
    listings, buckets = first_batch[0], first_batch[1:]
    assert all(isinstance(b, MinuteBucket) for b in buckets)
    start_minute = START // MINUTE_MS
    expected = {
        (exchange, symbol, minute)
        for symbol, exchanges in listings.symbols.items()
        for exchange in exchanges
        for minute in range(start_minute - window, start_minute)
    }
    assert {(b.exchange, b.symbol, b.minute) for b in buckets} == expected
    assert len(buckets) == len(expected)  # one bucket per pair and minute
    assert all(b.buy > 0 and b.sell > 0 and b.count > 0 and b.close and b.close > 0 for b in buckets)
    btc = [b for b in buckets if b.symbol == "BTC/USDT" and b.exchange == "binance"]
    assert all(70_000 < b.close < 110_000 for b in btc)  # type: ignore[operator]
    assert 1_000_000 < sum(b.buy + b.sell for b in btc) / window < 20_000_000  # a busy Binance BTC minute


def test_streaming_trades_are_ordered_plausible_and_unique() -> None:
    batches = run(market(duration_minutes=1))
    trades = trades_of(batches)
    assert not any(isinstance(item, Trade) for item in batches[0])  # the backfill batch has no trades
    assert [t.ts for t in trades] == sorted(t.ts for t in trades)
    assert trades[0].ts >= START and trades[-1].ts < START + MINUTE_MS
    ids = [(t.exchange, t.id) for t in trades]
    assert len(set(ids)) == len(ids) and all(isinstance(t.id, str) for t in trades)
    assert all(t.price > 0 and t.amount > 0 and t.side in ("buy", "sell") for t in trades)
    prices = {t.symbol: t.price for t in trades}
    assert 80_000 < prices["BTC/USDT"] < 100_000 and 2_500 < prices["ETH/USDT"] < 3_500
    assert 120 < prices["SOL/USDT"] < 180
    per_exchange = {e: sum(1 for t in trades if t.exchange == e) for e in EXCHANGES}
    assert max(per_exchange, key=per_exchange.__getitem__) == "binance"
    assert 300 * 60 < len(trades) < 500 * 60  # default 400 trades/s


def test_trades_per_second_is_a_parameter() -> None:
    trades = trades_of(run(market(duration_minutes=0.5, trades_per_second=200)))
    assert 170 * 30 < len(trades) < 230 * 30


def test_disabled_exchanges_produce_nothing() -> None:
    source = market(exchanges=("okx", "binance"), duration_minutes=0.5)
    batches = run(source)
    items = [item for batch in batches for item in batch]
    listings = items[0]
    assert all(set(exchanges) <= {"binance", "okx"} for exchanges in listings.symbols.values())
    assert {i.exchange for i in items if isinstance(i, (Trade, MinuteBucket))} == {"binance", "okx"}
    assert [h.exchange for h in source.health()] == ["binance", "okx"]


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimulatedMarket(speed=-1)
    with pytest.raises(ValueError, match="kraken"):
        SimulatedMarket(exchanges=("binance", "kraken"))
    with pytest.raises(ValueError, match="trades_per_second"):
        SimulatedMarket(trades_per_second=0)


# ---------------------------------------------------------------- through the engine


def feed_engine(source: SimulatedMarket) -> list:
    engine = Engine(EngineConfig())
    events = []
    for batch in run(source):
        events.extend(engine.feed_many(batch))
    events.extend(engine.finish())
    return events


@pytest.mark.parametrize("seed", [7, 2024])
def test_first_minutes_show_every_level_every_grade_and_whales(seed: int) -> None:
    events = feed_engine(market(seed=seed, duration_minutes=6))
    scans = scans_in(events)
    assert scans[0].ts == START  # warm-up is over when streaming starts: the backfill filled the window
    assert [s.ts for s in scans] == [START + i * MINUTE_MS for i in range(7)]

    first = scans[0]
    assert {s.consensus.level for s in first.symbols} == LEVELS
    assert {g.grade for s in first.symbols for g in s.signals} == {"A+", "A", "C"}
    early = [s for s in scans if s.ts <= START + 5 * MINUTE_MS]
    levels = {(s.ts, item.consensus.symbol): item.consensus.level for s in early for item in s.symbols}
    changed = {sym for (ts, sym), level in levels.items() if level != levels[(START, sym)]}
    assert len(changed) >= 2  # states change over the following minutes

    whales = whales_in(events)
    assert any(w.value >= 500_000 and w.ts < START + MINUTE_MS for w in whales)
    assert any(w.fills > 1 for w in whales)  # split into fills like Binance aggTrades
    assert all(w.value < 3_100_000 for w in whales)

    for item in scans[-1].symbols:  # plausible sizes: no absurd flows
        biggest = max(abs(f) for f in item.consensus.flows.values())
        if item.consensus.symbol == "BTC/USDT":
            assert 1_000_000 < biggest < 150_000_000
        if item.consensus.symbol in SMALL_CAPS:
            assert biggest < 5_000_000


def test_every_seed_opens_with_every_level_and_grade() -> None:
    """The first scan reads only the backfill: whatever the seed, it shows everything."""
    for seed in range(12):
        engine = Engine(EngineConfig())
        backfill, first_trades = run(market(seed=seed, duration_minutes=0.01))[:2]
        engine.feed_many(backfill)
        (scan,) = scans_in(engine.feed_many(first_trades))
        assert {s.consensus.level for s in scan.symbols} == LEVELS, seed
        assert {g.grade for s in scan.symbols for g in s.signals} == {"A+", "A", "C"}, seed


# ---------------------------------------------------------------- pacing, health, close


async def test_speed_paces_batches_on_the_injected_clock() -> None:
    fake = FakeTime()
    speed = 2.0
    source = market(speed=speed, duration_minutes=0.1, clock=fake.clock, sleep=fake.sleep)
    started = fake.now
    yielded: list[tuple[float, list]] = []
    async for batch in source.batches():
        yielded.append((fake.now, list(batch)))
    streaming = yielded[1:]
    assert streaming and all(isinstance(t, Trade) for _, batch in streaming for t in batch)
    times = [at for at, _ in streaming]
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(times))  # at most every ~100 ms
    for at, batch in streaming:
        for trade in batch:
            due = started + (trade.ts - START) / 1000 / speed
            assert due <= at + 1e-9  # never early
            assert at - due <= 0.25  # and late by at most a tick and a batch interval
    assert fake.now - started == pytest.approx(0.1 * 60 / speed, abs=0.2)
    assert len(trades_of([b for _, b in streaming])) > 400 * 5


async def test_speed_zero_never_sleeps() -> None:
    fake = FakeTime()
    source = market(speed=0, duration_minutes=0.2, clock=fake.clock, sleep=fake.sleep)
    batches = [batch async for batch in source.batches()]
    assert len(trades_of(batches)) > 0
    assert fake.sleeps == []


async def test_health_reports_simulated_exchanges_with_rates() -> None:
    source = market(duration_minutes=0.5)
    assert [h.state for h in source.health()] == ["simulated"] * 4
    iterator = source.batches()
    await iterator.__anext__()  # backfill
    for _ in range(10):  # ten seconds of data
        await iterator.__anext__()
    health = {h.exchange: h for h in source.health()}
    assert set(health) == set(EXCHANGES)
    assert all(h.state == "simulated" and h.last_message_ms and h.last_message_ms >= START for h in health.values())
    assert 80 < health["binance"].trades_per_s < 400
    assert 200 < sum(h.trades_per_s for h in health.values()) < 600
    assert health["binance"].trades_per_s > health["bybit"].trades_per_s
    async for _ in iterator:
        pass
    assert [h.state for h in source.health()] == ["done"] * 4


async def test_close_is_idempotent_and_stops_the_stream() -> None:
    source = market(duration_minutes=None)  # endless
    count = 0
    async for _ in source.batches():
        count += 1
        if count == 3:
            await source.close()
            await source.close()
        assert count <= 4
    assert count == 3
    assert [h.state for h in source.health()] == ["done"] * 4
    assert [b async for b in source.batches()] == []  # a closed source yields nothing


@pytest.mark.parametrize("window", [1, 90, 240])
def test_any_window_setting_starts_full_and_scans_at_once(window: int) -> None:
    """Windows longer than the scripted story (it starts 60 minutes back) start from its first
    regime; the first scan still comes when streaming starts."""
    source = market(window_minutes=window, duration_minutes=0.01, perp_venues=("binance", "okx", "bybit"))
    engine = Engine(EngineConfig(window_minutes=window))
    backfill, first_trades = run(source)[:2]
    spot_buckets = [b for b in backfill if isinstance(b, MinuteBucket) and b.market == "spot"]
    assert len(spot_buckets) == window * 46  # 10 symbols on 4 books, 2 on 3
    engine.feed_many(backfill)
    (scan,) = scans_in(engine.feed_many(first_trades))
    assert scan.ts == START and len(scan.symbols) == 12
    assert all(item.derivatives is not None for item in scan.symbols)
