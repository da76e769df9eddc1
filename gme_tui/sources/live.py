"""The live source: one collector per enabled exchange, merged into one stream of batches.

Construct with `LiveSource.from_settings(settings)`. `batches()` starts the collectors on first
use and yields: each exchange's `Listings` as soon as its markets are known (before any of its
trades), backfilled `MinuteBucket`s, `Coverage` for minutes streamed whole, and `Trade`s the
moment their frames arrive; an empty batch at least every 250 ms as a heartbeat. An exchange that
cannot be reached keeps retrying in the background while the others run on.

Exchange modules are found by name: `gme_tui.sources.<exchange id>` exposes `ADAPTER`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from gme_tui.core.clock import Clock, SystemClock
from gme_tui.model import ExchangeHealth, SourceItem, SourceMode, Trade
from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter
from gme_tui.sources.collector import Collector
from gme_tui.sources.universe import canonical_universe

if TYPE_CHECKING:
    from gme_tui.settings import Settings

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 0.25
# How long after a minute closes its backfill waits, so the exchange's history has the minute:
# within the scan grace (2 s), so the first scan after a start or a reconnect has it (item 7); a
# history still short of the stream is read again (backfill.REREADS).
BACKFILL_SETTLE_SECONDS = 1.0


def load_adapter(exchange: str) -> ExchangeAdapter:
    """The `ADAPTER` of module `gme_tui.sources.<exchange>`: a new exchange is one new module."""
    adapter = importlib.import_module(f"gme_tui.sources.{exchange}").ADAPTER
    if not isinstance(adapter, ExchangeAdapter):
        raise TypeError(f"gme_tui.sources.{exchange}.ADAPTER is not an ExchangeAdapter")
    return adapter


class LiveSource:
    """A `Source` (core/seams.py) over the enabled exchanges' public streams and histories."""

    mode = SourceMode.LIVE

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        adapters: Mapping[str, ExchangeAdapter] | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        settle_seconds: float | None = None,
        known_minutes: Mapping[tuple[str, str], frozenset[int]] | None = None,
    ) -> None:
        """`known_minutes`: (exchange, symbol) → minutes already in the engine (restored from the
        store at start), which the initial backfill skips."""
        self.settings = settings
        self.clock = clock or SystemClock()
        self.heartbeat_seconds = heartbeat_seconds
        live = settings.live
        exchanges = settings.enabled_exchanges
        self._pending: list[SourceItem] = []
        self._ready = asyncio.Event()
        self._okx_markets: asyncio.Future[Mapping[str, CcxtMarket]] | None = None
        self._universe: list[str] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self.collectors: dict[str, Collector] = {}
        for exchange in exchanges:
            adapter = (adapters or {}).get(exchange) or load_adapter(exchange)
            self.collectors[exchange] = Collector(
                adapter,
                ccxt_settings=dict(settings.exchanges[exchange].ccxt),
                proxy=live.proxy,
                quote_map={k: tuple(v) for k, v in settings.symbols.quote_map.items()},
                universe=self._canonical_symbols,
                emit=self._emit_many,
                emit_trade=self._emit_trade,
                clock=self.clock,
                window_minutes=settings.window.minutes,
                watchdog_seconds=live.watchdog_seconds,
                backoff_max_seconds=live.backoff_max_seconds,
                backfill=live.backfill,
                settle_seconds=BACKFILL_SETTLE_SECONDS if settle_seconds is None else settle_seconds,
                on_markets=self._on_markets,
                known_minutes={sym: mins for (ex, sym), mins in (known_minutes or {}).items() if ex == exchange},
                whale_minutes=live.whale_backfill_minutes,
            )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, known_minutes: Mapping[tuple[str, str], frozenset[int]] | None = None
    ) -> LiveSource:
        return cls(settings, known_minutes=known_minutes)

    # ------------------------------------------------------------ Source protocol

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        self.start()
        while not self._closed:
            if not self._pending:
                try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
                    async with asyncio.timeout(self.heartbeat_seconds):
                        await self._ready.wait()
                except TimeoutError:
                    pass
            self._ready.clear()
            batch, self._pending = self._pending, []
            self._raise_if_crashed()
            yield batch

    def ready_for_scan(self, boundary_ms: int, *, initial: bool = False) -> bool:
        """The pipeline holds the scan at `boundary_ms` until this holds (or a while has passed):
        every exchange has settled what it will soon settle of the minutes before it (`initial`:
        the first scan, which waits for the window before the first connection too)."""
        return all(c.ready_for_scan(boundary_ms, initial=initial) for c in self.collectors.values())

    def health(self) -> Sequence[ExchangeHealth]:
        return [collector.health() for collector in self.collectors.values()]

    async def close(self) -> None:
        self._closed = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ plumbing

    def start(self) -> None:
        if self._tasks or self._closed:
            return
        if self.settings.symbols.universe == "okx_all":
            self._okx_markets = asyncio.get_running_loop().create_future()
            if "okx" not in self.collectors:
                self._okx_markets.set_exception(RuntimeError("symbols.universe = okx_all needs OKX enabled"))
        self._tasks = [asyncio.create_task(c.run(), name=f"collector-{e}") for e, c in self.collectors.items()]

    def _raise_if_crashed(self) -> None:
        for task in self._tasks:
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error  # a bug, not a network problem

    def _emit_trade(self, trade: Trade) -> None:
        self._pending.append(trade)
        if not self._ready.is_set():
            self._ready.set()

    def _emit_many(self, items: Sequence[SourceItem]) -> None:
        if items:
            self._pending.extend(items)
            self._ready.set()

    def _on_markets(self, exchange: str, markets: Mapping[str, CcxtMarket]) -> None:
        if exchange == "okx" and self._okx_markets is not None and not self._okx_markets.done():
            self._okx_markets.set_result(markets)

    async def _canonical_symbols(self) -> list[str]:
        if self._universe is None:
            okx = await asyncio.shield(self._okx_markets) if self._okx_markets is not None else None
            self._universe = canonical_universe(self.settings.symbols, okx)
            log.info("live universe: %d symbols", len(self._universe))
        return self._universe

    def dropped(self) -> dict[str, dict[str, int]]:
        """Rejected frames and trades per exchange, by reason."""
        return {e: c.dropped_by_reason for e, c in self.collectors.items()}
