from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import pytest

from gme_tui.core.clock import ScaledClock, SystemClock, wall_ms
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EXCHANGES, MINUTE_MS, Trade
from gme_tui.settings import (
    DerivativeSettings,
    ExchangeSettings,
    LiveSettings,
    Settings,
    SymbolSettings,
    WindowSettings,
)
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import FakeExchange
from tests.fakes.perp_exchange import FakePerpExchange

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "DOGE/USDT"]


def make_settings(
    fake: FakeExchange,
    exchanges=EXCHANGES,
    symbols=SYMBOLS,
    *,
    window: int = 50,
    watchdog: float = 30.0,
    backfill: bool = True,
    overrides: dict | None = None,
    perp: FakePerpExchange | None = None,
    perp_venues=("binance", "okx", "bybit"),
    derivatives: DerivativeSettings | None = None,
    perp_overrides: dict | None = None,
) -> Settings:
    """Settings against the fake. Perps stay off (they would go to the real venues) unless `perp`
    is a FakePerpExchange: then `perp_venues` (of the enabled exchanges) use it."""
    table = {}
    for name in EXCHANGES:
        ccxt = dict(fake.ccxt_settings(name))
        ccxt.update((overrides or {}).get(name, {}))
        on = perp is not None and name in perp_venues
        table[name] = ExchangeSettings(
            enabled=name in exchanges,
            ccxt=ccxt,
            perp=on,
            perp_ccxt={**perp.ccxt_settings(name), **(perp_overrides or {}).get(name, {})}
            if perp is not None and on
            else {},
        )
    return Settings(
        exchanges=table,
        symbols=SymbolSettings(list=tuple(symbols)),
        window=WindowSettings(minutes=window),
        live=LiveSettings(watchdog_seconds=watchdog, backoff_max_seconds=20.0, backfill=backfill),
        derivatives=derivatives or DerivativeSettings(),
    )


def make_engine(settings: Settings) -> Engine:
    return Engine(EngineConfig.from_settings(settings, live=True))


class Drain:
    """Runs a source's batches in the background, feeding an engine and keeping the items."""

    def __init__(self, source: LiveSource, engine: Engine | None = None) -> None:
        self.source = source
        self.engine = engine
        self.items: list = []
        self.arrivals: list[tuple[float, Trade]] = []
        self._changed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for batch in self.source.batches():
            now = time.monotonic()
            for item in batch:
                if isinstance(item, Trade):
                    self.arrivals.append((now, item))
            self.items.extend(batch)
            if self.engine is not None and batch:
                self.engine.feed_many(batch)
            self._changed.set()

    def trades(self, exchange: str | None = None) -> list[Trade]:
        return [t for _, t in self.arrivals if exchange is None or t.exchange == exchange]

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def wait() -> None:
            while not predicate():
                if self.task.done():
                    self.task.result()
                    raise AssertionError("source ended")
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.source.close()


def pinned_start_ms() -> int | None:
    """`GME_TEST_PHASE=S` (seconds into a minute, e.g. 0.5, 30, 59.9) starts the fixtures' clocks
    that far into the current minute, so a result that depends on where in the minute a run
    starts shows at once (issue 10 "Also"); unset, they start at the real time."""
    phase = os.environ.get("GME_TEST_PHASE")
    if not phase:
        return None
    return wall_ms() // MINUTE_MS * MINUTE_MS + round(float(phase) * 1000)


@pytest.fixture
async def fake_real():
    start = pinned_start_ms()
    fake = await FakeExchange(SystemClock() if start is None else ScaledClock(speed=1.0, start_ms=start)).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_fast():
    """A fake on a clock 60× faster than real time: one minute per second."""
    fake = await FakeExchange(ScaledClock(speed=60.0, start_ms=pinned_start_ms())).start()
    yield fake
    await fake.stop()
