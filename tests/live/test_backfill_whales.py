"""Whales of the minutes before the stream: Binance REST aggTrades, paged, merged like live fills."""

from __future__ import annotations

import msgspec

from gme_tui.model import MINUTE_MS, Whale
from gme_tui.settings import LiveSettings
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import make_tape
from tests.fakes.exchange_protocols import TapeTrade
from tests.live.conftest import Drain, make_engine, make_settings

SYMBOLS = ["BTC/USDT"]


def order(fake, ts: int, fills: int, value_each: float) -> list[TapeTrade]:
    """One taker order split into fills of the same ts and side (as aggTrades at several prices)."""
    return [
        TapeTrade("binance", "BTC/USDT", ts, "buy", 1000.0 + i, value_each / (1000.0 + i), fake.new_id())
        for i in range(fills)
    ]


async def test_whales_before_the_stream_come_from_paged_agg_trades(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    start = clock.wall_ms()
    big = order(fake, start - 4 * MINUTE_MS + 500, 3, 100_000.0)  # 300k in three fills: a whale
    small = order(fake, start - 3 * MINUTE_MS + 500, 2, 50_000.0)  # 100k: not one
    too_old = order(fake, start - 30 * MINUTE_MS, 1, 900_000.0)  # outside the whale lookback
    crowd = make_tape(fake, "binance", SYMBOLS, 2_500, start - 5 * MINUTE_MS, start - 60_000, seed=3)  # > 2 pages
    fake.add_history(big + small + too_old + crowd)
    settings = make_settings(fake, ("binance",), SYMBOLS, window=40)
    settings = msgspec.structs.replace(settings, live=msgspec.structs.replace(settings.live, whale_backfill_minutes=10))
    source = LiveSource(settings, clock=clock, settle_seconds=1.0)
    engine = make_engine(settings)
    whales: list[Whale] = []

    class Collecting(Drain):
        async def _run(self) -> None:
            async for batch in self.source.batches():
                self.items.extend(batch)
                whales.extend(e for e in engine.feed_many(batch) if isinstance(e, Whale))
                self._changed.set()

    drain = Collecting(source)
    try:
        await drain.until(lambda: any(w.ts == big[0].ts for w in whales), timeout=10)
    finally:
        await drain.stop()
    (whale,) = [w for w in whales if w.ts == big[0].ts]
    assert whale.backfilled and whale.fills == 3 and whale.side == "buy"
    assert whale.value == sum(t.value for t in big)
    assert not any(w.ts in (small[0].ts, too_old[0].ts) for w in whales)
    assert fake.agg_trade_pages >= 3  # a time range, then pages by id (the fake refuses both at once)
    expected_minutes = {(big[0].ts // MINUTE_MS)}
    assert expected_minutes <= {w.ts // MINUTE_MS for w in whales}


async def test_whale_lookup_off_asks_nothing(fake_fast):
    fake, clock = fake_fast, fake_fast.clock
    fake.add_history(order(fake, clock.wall_ms() - 2 * MINUTE_MS, 1, 900_000.0))
    settings = make_settings(fake, ("binance",), SYMBOLS, window=5)
    settings = msgspec.structs.replace(settings, live=LiveSettings(backoff_max_seconds=20.0, whale_backfill_minutes=0))
    source = LiveSource(settings, clock=clock, settle_seconds=1.0)
    drain = Drain(source, make_engine(settings))
    try:
        await drain.until(
            lambda: source.health()[0].backfill_total > 0 and source.health()[0].backfill_done == 1, timeout=10
        )
    finally:
        await drain.stop()
    assert fake.agg_trade_pages == 0


async def test_okx_and_coinbase_whales_before_the_stream_come_from_the_history_they_page_anyway(fake_fast):
    """Their backfill reads trades: the taker orders of the whale look-back come with them, at no
    extra request (Binance's klines carry none, so it asks aggTrades)."""
    fake, clock = fake_fast, fake_fast.clock
    start = clock.wall_ms()
    tape: list[TapeTrade] = []
    for exchange in ("okx", "coinbase"):
        ts = start - 3 * MINUTE_MS + 700
        tape += [  # 150,000 + 100,040: one order of two fills
            TapeTrade(exchange, "BTC/USDT", ts, "sell", 50_000.0, 3.0, fake.new_id()),
            TapeTrade(exchange, "BTC/USDT", ts, "sell", 50_020.0, 2.0, fake.new_id()),
        ]
        tape += make_tape(fake, exchange, SYMBOLS, 30, start - 5 * MINUTE_MS, start - 1_000, seed=7)
    fake.add_history(tape)
    settings = make_settings(fake, ("okx", "coinbase"), SYMBOLS, window=6)
    settings = msgspec.structs.replace(settings, live=msgspec.structs.replace(settings.live, whale_backfill_minutes=10))
    source = LiveSource(settings, clock=clock, settle_seconds=1.0)
    engine = make_engine(settings)
    whales: list[Whale] = []

    class Collecting(Drain):
        async def _run(self) -> None:
            async for batch in self.source.batches():
                whales.extend(e for e in engine.feed_many(batch) if isinstance(e, Whale))
                self._changed.set()

    drain = Collecting(source)
    try:
        await drain.until(lambda: {w.exchange for w in whales} == {"okx", "coinbase"}, timeout=10)
        calls = {e: len(fake.rest_calls[e]) for e in ("okx", "coinbase")}
    finally:
        await drain.stop()
    assert sorted((w.exchange, w.value, w.fills, w.side, w.backfilled) for w in whales) == [
        ("coinbase", 250_040.0, 2, "sell", True),
        ("okx", 250_040.0, 2, "sell", True),
    ]
    history_paths = [p for e in ("okx", "coinbase") for _, p in fake.rest_calls[e][: calls[e]] if "trades" in p]
    assert len(history_paths) == 2  # one history request each: the whales came with the flows
