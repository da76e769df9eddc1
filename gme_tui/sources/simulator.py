"""The simulated market behind `gme-tui --demo` (SPEC §6, §9): no network, deterministic by seed.

Like live mode it starts with a full window (a simulated backfill: listings, then one closed
minute per exchange and symbol for the `window_minutes` before `start_ms`), then streams trades
from `start_ms` on. The demo runs on the engine's data clock, so its scans report from the first
minute boundary of streaming. With `speed` X > 0, trades of data time t are yielded at wall time
(t - start_ms) / X after streaming starts, in batches at most every ~100 ms; 0 = no pacing.

The flow is planned so that the first scan already shows every consensus level and every graded
signal of spot (see simulator_market.py), the bearish A+ included, whales appear in the first
minute, and levels keep changing.

With `perp_venues` (the demo passes `Settings.perp_venues`; Binance, OKX and Bybit can be
simulated) it also simulates their USDT perpetuals (simulator_perps.py): perp listings and a
backfill of perp minutes after the spot backfill, then open interest each minute (in base units),
perp trades and liquidations (side = the position liquidated) among the spot trades, in ts
order. B `derivatives_hedge` then holds from the third scan, and liquidations come from the first
seconds on. Without perp venues (the default) the source yields spot items only, as before.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from gme_tui.core.clock import wall_ms
from gme_tui.model import (
    EXCHANGES,
    MINUTE_MS,
    ExchangeHealth,
    HealthState,
    Liquidation,
    Listings,
    PerpTrade,
    SourceItem,
    SourceMode,
    Trade,
)
from gme_tui.sources.simulator_flow import TICK_MS, FlowGenerator
from gme_tui.sources.simulator_perps import PERP_MARKETS, PerpGenerator

MIN_BATCH_INTERVAL_S = 0.1  # paced: at most ~10 batches a second, the UI is fed smoothly
UNPACED_BATCH_MS = 1_000  # speed 0: one second of data per batch
RATE_WINDOW_S = 5  # health: trades per second over the last few complete data seconds


class SimulatedMarket:
    """A `Source` (core/seams.py) of simulated trade flow on a dozen symbols and four exchanges,
    and of perpetual flow, open interest and liquidations on `perp_venues` (none by default;
    venues the demo does not simulate perps on, Coinbase, are left out)."""

    mode = SourceMode.DEMO

    def __init__(
        self,
        *,
        seed: int = 7,
        speed: float = 1.0,
        exchanges: tuple[str, ...] = EXCHANGES,
        window_minutes: int = 50,
        start_ms: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        duration_minutes: float | None = None,
        trades_per_second: float = 400.0,
        perp_venues: tuple[str, ...] = (),
    ) -> None:
        if not speed >= 0 or speed == float("inf"):
            raise ValueError("speed must be 0 (as fast as possible) or a positive factor")
        if not trades_per_second > 0:
            raise ValueError("trades_per_second must be positive")
        if window_minutes < 1:
            raise ValueError("window_minutes must be at least 1")
        if duration_minutes is not None and not duration_minutes >= 0:
            raise ValueError("duration_minutes must be 0 or more, or None (endless)")
        unknown = [e for e in exchanges if e not in EXCHANGES]
        if unknown:
            raise ValueError(f"unknown exchange(s): {', '.join(unknown)}; known: {', '.join(EXCHANGES)}")
        unknown = [e for e in perp_venues if e not in EXCHANGES]
        if unknown:
            raise ValueError(f"unknown perp venue(s): {', '.join(unknown)}; known: {', '.join(PERP_MARKETS)}")
        if start_ms is None:
            start_ms = wall_ms() // MINUTE_MS * MINUTE_MS  # on-screen times look real
        self.speed = float(speed)
        self.exchanges = tuple(e for e in EXCHANGES if e in exchanges)
        self.start_ms = start_ms
        self.end_ms = None if duration_minutes is None else start_ms + round(duration_minutes * MINUTE_MS)
        self._clock = clock
        self._sleep = sleep
        self._flow = FlowGenerator(
            seed=seed,
            start_ms=start_ms,
            exchanges=self.exchanges,
            window_minutes=window_minutes,
            trades_per_second=trades_per_second,
        )
        self.perp_venues = tuple(v for v in PERP_MARKETS if v in perp_venues)
        self._perps = (
            PerpGenerator(seed=seed, flow=self._flow, venues=self.perp_venues, trades_per_second=trades_per_second)
            if self.perp_venues
            else None
        )
        self._closed = False
        self._started = False
        self._done = False
        self._last_ts: dict[str, int] = {}
        self._per_second: dict[str, deque[list[int]]] = {e: deque() for e in self.exchanges}  # [second, count]
        self._data_second = start_ms // 1000
        self._next_tick = start_ms

    # ------------------------------------------------------------ Source

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        if self._closed:
            return
        if self._started:
            raise RuntimeError("a SimulatedMarket streams once; make a new one to start over")
        self._started = True
        flow = self._flow
        first: list[SourceItem] = [Listings(symbols=flow.listings()), *flow.backfill()]
        if self._perps is not None:  # after spot's: the perp backfill reads the spot backfill's prices
            first.append(self._perps.listings())
            first.extend(self._perps.backfill())
        yield first
        if self.speed > 0:
            async for batch in self._paced():
                yield batch
        else:
            async for batch in self._unpaced():
                yield batch
        self._done = True

    def health(self) -> Sequence[ExchangeHealth]:
        state = HealthState.DONE if self._done or self._closed else HealthState.SIMULATED
        return [
            ExchangeHealth(
                exchange=exchange,
                state=state,
                since_ms=self.start_ms,
                last_message_ms=self._last_ts.get(exchange),
                trades_per_s=self._rate(exchange),
            )
            for exchange in self.exchanges
        ]

    async def close(self) -> None:
        self._closed = True

    # ------------------------------------------------------------ streaming

    @property
    def data_time(self) -> int:
        """The start of the next tick not yet generated (ms)."""
        return self._next_tick

    def _more(self) -> bool:
        return not self._closed and (self.end_ms is None or self._next_tick < self.end_ms)

    def _generate_until(self, until_ms: float) -> list[SourceItem]:
        """Every tick that ends at or before `until_ms` (and before the end of the run)."""
        out: list[SourceItem] = []
        while self._more() and self._next_tick + TICK_MS <= until_ms:
            out.extend(self._tick())
        return out

    def _tick(self) -> Sequence[SourceItem]:
        tick_start = self._next_tick
        trades = self._flow.tick(tick_start)
        if self.end_ms is not None and tick_start + TICK_MS > self.end_ms:
            trades = [t for t in trades if t.ts < self.end_ms]
        self._next_tick = tick_start + TICK_MS
        self._count(trades)
        if self._perps is None:
            return trades
        # after the spot tick: the perps follow what spot planned for this minute
        oi, perp = self._perps.tick(tick_start)
        if self.end_ms is not None and tick_start + TICK_MS > self.end_ms:
            perp = [item for item in perp if item.ts < self.end_ms]
        # open interest of the minute boundary first: the scan that boundary starts sees it
        return [*oi, *heapq.merge(trades, perp, key=_ts)]

    async def _unpaced(self) -> AsyncIterator[list[SourceItem]]:
        while self._more():
            yield self._generate_until(self._next_tick + UNPACED_BATCH_MS)
            await asyncio.sleep(0)  # not pacing: lets the event loop (the UI) breathe

    async def _paced(self) -> AsyncIterator[list[SourceItem]]:
        started = self._clock()
        last_batch = started - MIN_BATCH_INTERVAL_S
        while self._more():
            now = self._clock()
            due_until = self.start_ms + (now - started) * 1000.0 * self.speed
            batch = self._generate_until(due_until)
            if batch:
                last_batch = now
                yield batch
            if not self._more():
                break
            next_due = started + (self._next_tick + TICK_MS - self.start_ms) / 1000.0 / self.speed
            now = self._clock()
            await self._sleep(max(next_due - now, last_batch + MIN_BATCH_INTERVAL_S - now, 0.0))

    # ------------------------------------------------------------ health

    def _count(self, trades: list[Trade]) -> None:
        """Health counts spot trades: perp trades, OI and liquidations are not in trades_per_s."""
        last_ts = self._last_ts
        per_second = self._per_second
        for trade in trades:
            exchange = trade.exchange
            last_ts[exchange] = trade.ts
            second = trade.ts // 1000
            history = per_second[exchange]
            if history and history[-1][0] == second:
                history[-1][1] += 1
            else:
                history.append([second, 1])
                while history[0][0] < second - RATE_WINDOW_S - 1:
                    history.popleft()
        if trades:
            self._data_second = max(self._data_second, trades[-1].ts // 1000)

    def _rate(self, exchange: str) -> float:
        """Trades per data second over the last RATE_WINDOW_S complete seconds."""
        current = self._data_second
        first = max(current - RATE_WINDOW_S, self.start_ms // 1000)
        seconds = current - first
        if seconds <= 0:
            return 0.0
        total = sum(count for second, count in self._per_second[exchange] if first <= second < current)
        return total / seconds


def _ts(item: Trade | PerpTrade | Liquidation) -> int:
    return item.ts
