"""A restart in the middle of a live run: the window comes back from the store and only the gap
is backfilled. On a clock 60× faster than real time (a virtual minute per real second)."""

from __future__ import annotations

import asyncio
import dataclasses

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, Scan
from gme_tui.sources.live import LiveSource
from gme_tui.store import Store, StoreWriter, known_by_pair, restore_window
from tests.live.conftest import Drain, make_settings
from tests.live.test_backfill_reconnect import idle, run_market, window_totals

EXCHANGES = ("binance", "bybit")
SYMBOLS = ["BTC/USDT", "ETH/USDT"]
W = 6


def storing_engine(settings) -> Engine:
    return Engine(dataclasses.replace(EngineConfig.from_settings(settings, live=True), emit_minutes=True))


class StoringDrain(Drain):
    """Drain that also runs the engine's clock and hands its events to the store writer."""

    def __init__(self, source, engine, writer, clock) -> None:
        self.writer = writer
        self.clock = clock
        super().__init__(source, engine)

    async def _run(self) -> None:
        async for batch in self.source.batches():
            self.items.extend(batch)
            events = self.engine.feed_many(batch) if batch else []
            events += self.engine.advance(self.clock.wall_ms(), scan_grace_ms=1_500)
            if events:
                self.writer.on_events(events)
                self.scans.extend(e for e in events if isinstance(e, Scan))
            self._changed.set()

    @property
    def scans(self) -> list[Scan]:
        if not hasattr(self, "_scans"):
            self._scans: list[Scan] = []
        return self._scans


def exchange_window(scan: Scan, exchange: str, symbol: str):
    (item,) = [s for s in scan.symbols if s.consensus.symbol == symbol]
    return item.exchanges[exchange]


async def test_restart_restores_the_window_and_backfills_only_the_gap(fake_fast, tmp_path):
    fake, clock = fake_fast, fake_fast.clock
    settings = make_settings(fake, EXCHANGES, SYMBOLS, window=W)
    tape: list = []
    market = asyncio.create_task(run_market(fake, EXCHANGES, SYMBOLS, tape))
    path = tmp_path / "store.db"

    # ---- first run: W + 1 minutes of streaming, written to the store
    store = Store(path)
    writer = StoreWriter(store)
    first = StoringDrain(LiveSource(settings, clock=clock, settle_seconds=1.0), storing_engine(settings), writer, clock)
    try:
        await drain_until_minute(first, clock, minutes=W + 2)
        before = first.scans[-1]
    finally:
        await first.stop()
        writer.close(10)
        store.close()
    stopped_minute = clock.wall_ms() // MINUTE_MS

    # ---- the program is down for a while; the market trades on
    await clock.sleep(90)  # 1.5 s of real time on the 60x clock
    history_calls = len([q for p, q in fake.rest_queries["binance"] if "klines" in p])

    # ---- second run: restore, then backfill only the gap
    store = Store(path)
    writer = StoreWriter(store)
    engine = storing_engine(settings)
    restored = restore_window(store, now_ms=clock.wall_ms(), window_minutes=W, exchanges=EXCHANGES)
    engine.feed_many(restored)
    known = known_by_pair(restored)
    source = LiveSource(settings, clock=clock, settle_seconds=1.0, known_minutes=known)
    second = StoringDrain(source, engine, writer, clock)
    try:
        await second.until(lambda: {h.state for h in source.health()} == {"live"}, timeout=10)
        boundary = (clock.wall_ms() // MINUTE_MS + 2) * MINUTE_MS
        await second.until(lambda: clock.wall_ms() > boundary + 3_000 and idle(source), timeout=10)
        after = [s for s in second.scans if s.ts == boundary][-1]
    finally:
        market.cancel()
        await second.stop()
        writer.close(10)
        integrity = store.integrity()
        store.close()

    last = boundary // MINUTE_MS - 1
    expected = window_totals(tape, last - W + 1, last)
    for symbol in SYMBOLS:
        binance = exchange_window(after, "binance", symbol)
        # Binance: stored minutes + the backfilled gap + the stream = the exchange's own tape, whole.
        assert (binance.buy, binance.sell) == expected[("binance", symbol)]
        assert binance.covered_minutes == W
        # Bybit cannot backfill: the stored minutes survive, the gap shows as missing minutes.
        bybit = exchange_window(after, "bybit", symbol)
        assert 0 < bybit.covered_minutes < W
    assert restored and {b.exchange for b in restored} == set(EXCHANGES)
    # Bybit's stored minutes are back in the engine as they were, and the whole ones are exact.
    survivors = [b for b in restored if b.exchange == "bybit" and b.minute >= last - W + 1]
    assert any(b.covered for b in survivors), "some stored Bybit minutes fall in the new window"
    for bucket in survivors:
        pair = engine._pairs[("bybit", bucket.symbol)]
        assert pair.minutes[bucket.minute][:2] == [bucket.buy, bucket.sell]
        if bucket.covered:
            tape_minute = window_totals(tape, bucket.minute, bucket.minute).get(("bybit", bucket.symbol), (0.0, 0.0))
            assert (bucket.buy, bucket.sell) == tape_minute
    # Only the gap was fetched: no minute restored from the store was asked of the exchange again.
    new_klines = [q for p, q in fake.rest_queries["binance"] if "klines" in p][history_calls:]
    assert new_klines, "the gap was backfilled"
    fetched = set().union(*(_requested_minutes(q) for q in new_klines))
    restored_binance = {b.minute for b in restored if b.exchange == "binance"}
    assert restored_binance and not fetched & restored_binance, (sorted(fetched), sorted(restored_binance))
    assert min(fetched) >= stopped_minute - 1  # the gap starts where the first run stopped
    assert before.ts < after.ts and integrity == "ok"


def _requested_minutes(query: dict[str, str]) -> set[int]:
    start, end = int(query["startTime"]), int(query["endTime"])
    return set(range(start // MINUTE_MS, end // MINUTE_MS + 1))


async def drain_until_minute(drain: StoringDrain, clock, minutes: int) -> None:
    until = (clock.wall_ms() // MINUTE_MS + minutes) * MINUTE_MS + 2_000
    await drain.until(lambda: clock.wall_ms() > until, timeout=minutes * 2 + 5)
