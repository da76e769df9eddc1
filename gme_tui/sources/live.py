"""The live source: one collector per enabled exchange, merged into one stream of batches.

Construct with `LiveSource.from_settings(settings)`. `batches()` starts the collectors on first
use and yields: each exchange's `Listings` as soon as its markets are known (before any of its
trades), backfilled `MinuteBucket`s, `Coverage` for minutes streamed whole, and `Trade`s the
moment their frames arrive; an empty batch at least every 250 ms as a heartbeat. An exchange that
cannot be reached keeps retrying in the background while the others run on.

Perpetuals (SPEC §4b): for each of `settings.perp_venues` a second collector drives the venue's
PerpAdapter (`gme_tui.sources.perp.<module>`, PERP_MODULES) and yields PerpTrade, MinuteBucket /
Listings / Coverage with market="perp", OpenInterest and Liquidation; `perp_health()` tells how
they do (`health()` is the spot collectors', the status bar's exchanges).

Exchanges on and off while running: `set_exchanges(settings)` (issue 13 item 3).

Exchange modules are found by name: `gme_tui.sources.<exchange id>` exposes `ADAPTER`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from gme_tui.core.clock import Clock, SystemClock
from gme_tui.model import MINUTE_MS, ExchangeHealth, ExchangeId, Market, PerpTrade, SourceItem, SourceMode, Trade
from gme_tui.sources.ccxt_common import CcxtMarket, ExchangeAdapter
from gme_tui.sources.collector import IP_WEIGHT_PER_MINUTE, MARKETS_REFRESH_SECONDS, Collector, PerpOptions
from gme_tui.sources.perp.common import PerpAdapter
from gme_tui.sources.session import ExchangeClock
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


PERP_MODULES: Mapping[str, str] = {
    "binance": "binance_usdm",
    "okx": "okx_swap",
    "bybit": "bybit_linear",
    "coinbase": "coinbase_futures",
}


def load_perp_adapter(exchange: str) -> PerpAdapter:
    """The `ADAPTER` of the exchange's perp module (gme_tui.sources.perp.<module>, SPEC §4b).
    Raises KeyError for an exchange without one."""
    adapter = importlib.import_module(f"gme_tui.sources.perp.{PERP_MODULES[exchange]}").ADAPTER
    if not isinstance(adapter, PerpAdapter):
        raise TypeError(f"gme_tui.sources.perp.{PERP_MODULES[exchange]}.ADAPTER is not a PerpAdapter")
    return adapter


class LiveSource:
    """A `Source` (core/seams.py) over the enabled exchanges' public streams and histories, spot
    and (SPEC §4b) the perpetual swaps of `settings.perp_venues`."""

    mode = SourceMode.LIVE

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        adapters: Mapping[str, ExchangeAdapter] | None = None,
        perp_adapters: Mapping[str, PerpAdapter] | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        settle_seconds: float | None = None,
        known_minutes: Mapping[tuple[str, str], frozenset[int]] | None = None,
        markets_refresh_seconds: float = MARKETS_REFRESH_SECONDS,
    ) -> None:
        """`known_minutes`: (exchange, symbol) → minutes already in the engine (restored from the
        store at start), which the initial backfill skips (spot only: the store keeps no perp).
        `markets_refresh_seconds`: how often each collector reads its markets again (symbols
        listed or delisted mid-run)."""
        self.settings = settings
        self.clock = clock or SystemClock()
        self._prior = ExchangeClock(self.clock)  # the exchanges' time before any trade came
        self.heartbeat_seconds = heartbeat_seconds
        self._adapters = dict(adapters or {})
        self._perp_adapters = dict(perp_adapters or {})
        self._settle = BACKFILL_SETTLE_SECONDS if settle_seconds is None else settle_seconds
        self._known = dict(known_minutes or {})
        self._markets_refresh = markets_refresh_seconds
        self._pending: list[SourceItem] = []
        self._ready = asyncio.Event()
        self._okx_markets: asyncio.Future[Mapping[str, CcxtMarket]] | None = None
        self._universe: list[str] | None = None
        self._runs: dict[tuple[ExchangeId, Market], asyncio.Task[None]] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self.collectors: dict[ExchangeId, Collector] = {}  # spot, by exchange
        self.perp_collectors: dict[ExchangeId, Collector] = {}  # perp venues, by exchange
        for exchange in settings.enabled_exchanges:
            self.collectors[exchange] = self._spot_collector(exchange, settings)
        for exchange in settings.perp_venues:
            self.perp_collectors[exchange] = self._perp_collector(exchange, settings)

    def _spot_collector(self, exchange: ExchangeId, settings: Settings) -> Collector:
        live = settings.live
        return Collector(
            self._adapters.get(exchange) or load_adapter(exchange),
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
            settle_seconds=self._settle,
            on_markets=self._on_markets,
            known_minutes={sym: mins for (ex, sym), mins in self._known.items() if ex == exchange},
            whale_minutes=live.whale_backfill_minutes,
            markets_refresh_seconds=self._markets_refresh,
        )

    def _perp_collector(self, exchange: ExchangeId, settings: Settings) -> Collector:
        """A perp venue's collector: the spot Collector driving the venue's PerpAdapter, with its
        own ccxt config (`[exchanges.<id>.perp_ccxt]`; binanceusdm is another ccxt class)."""
        live = settings.live
        derivatives = settings.derivatives
        window_ms = settings.window.minutes * MINUTE_MS
        return Collector(
            self._perp_adapters.get(exchange) or load_perp_adapter(exchange),
            ccxt_settings=dict(settings.exchanges[exchange].perp_ccxt),
            proxy=live.proxy,
            quote_map={},
            universe=self._canonical_symbols,
            emit=self._emit_many,
            emit_trade=self._emit_trade,
            clock=self.clock,
            window_minutes=settings.window.minutes,
            watchdog_seconds=live.watchdog_seconds,
            backoff_max_seconds=live.backoff_max_seconds,
            backfill=live.backfill,
            settle_seconds=self._settle,
            perp=PerpOptions(
                oi_poll_seconds=derivatives.oi_poll_seconds,
                oi_history=derivatives.oi_history,
                oi_history_ms=window_ms + round(derivatives.oi_max_age_minutes * MINUTE_MS),
                liquidations=derivatives.liquidations,
                weight_budget=derivatives.binance_weight_budget,
            ),
            markets_refresh_seconds=self._markets_refresh,
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
        every exchange (spot and perp) has settled what it will soon settle of the minutes before
        it (`initial`: the first scan, which waits for the window before the first connection too)."""
        return all(c.ready_for_scan(boundary_ms, initial=initial) for c in self._all())

    def exchange_now_ms(self) -> int:
        """The exchanges' time now (ms UTC), which the pipeline times the scans on: of the
        collectors whose clock estimate has seen a trade (ExchangeClock), the lower median (the
        later exchange of two; one estimate gone wrong cannot move it alone); before any trade,
        the local wall clock at start plus the monotonic time since (an NTP step moves neither)."""
        estimates = sorted(c.exchange_ms() for c in self._all() if c.exchange_clock.sampled)
        if not estimates:
            return self._prior.now_ms()
        return estimates[(len(estimates) - 1) // 2]

    def exchange_time_known(self) -> bool:
        """Has any exchange's trade told its clock yet (spot or perp)?"""
        return any(c.exchange_clock.sampled for c in self._all())

    def health(self) -> Sequence[ExchangeHealth]:
        """The running spot collectors' health (the status bar's exchanges). An exchange whose perp
        venue reads back its REST weight (Binance USDⓈ-M, after each open-interest poll) carries
        it in `rest_weight` of IP_WEIGHT_PER_MINUTE (issue 14 item 2)."""
        out: list[ExchangeHealth] = []
        for exchange, collector in self.collectors.items():
            health = collector.health()
            perp = self.perp_collectors.get(exchange)
            if perp is not None and perp.weight_used is not None:
                health = dataclasses.replace(
                    health, rest_weight=perp.weight_used, rest_weight_limit=IP_WEIGHT_PER_MINUTE
                )
            out.append(health)
        return out

    def perp_health(self) -> Sequence[ExchangeHealth]:
        """The running perp collectors' health (one per perp venue)."""
        return [collector.health() for collector in self.perp_collectors.values()]

    async def close(self) -> None:
        self._closed = True
        tasks = [*self._runs.values(), *self._stopping]
        self._runs = {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ exchanges on and off

    def set_exchanges(self, settings: Settings) -> None:
        """Follow the exchanges of `settings` (issue 13 item 3). SYNC: call it on the loop that
        runs the source. A collector is started (its backfill of the window, then its stream,
        exactly as at launch, with `settings`) for each exchange enabled that has none, and a
        perp collector for each of `settings.perp_venues` (an exchange off has no perp); each
        collector no longer wanted is stopped: cancelled, awaited and its ccxt clients closed in
        a background task (`await settled()` waits for those). Idempotent. From the call on,
        `health()` lists only the running spot collectors; a collector that runs on keeps its
        settings."""
        self.settings = settings
        wanted: set[tuple[ExchangeId, Market]] = {(e, "spot") for e in settings.enabled_exchanges}
        wanted |= {(e, "perp") for e in settings.perp_venues}
        for key in [k for k in self._keys() if k not in wanted]:
            self._stop(key)
        for exchange, market in sorted(wanted - set(self._keys())):
            if market == "spot":
                self._rearm_okx_universe(exchange)
                self.collectors[exchange] = collector = self._spot_collector(exchange, settings)
            else:
                self.perp_collectors[exchange] = collector = self._perp_collector(exchange, settings)
            log.info("%s%s: started", exchange, " perp" if market == "perp" else "")
            if self._started and not self._closed:
                self._launch(exchange, market, collector)

    async def settled(self) -> None:
        """Until every collector stopped by `set_exchanges` is gone (its clients closed)."""
        while self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _keys(self) -> list[tuple[ExchangeId, Market]]:
        return [(e, "spot") for e in self.collectors] + [(e, "perp") for e in self.perp_collectors]

    def _all(self) -> list[Collector]:
        return [*self.collectors.values(), *self.perp_collectors.values()]

    def _stop(self, key: tuple[ExchangeId, Market]) -> None:
        exchange, market = key
        (self.collectors if market == "spot" else self.perp_collectors).pop(exchange)
        task = self._runs.pop(key, None)
        log.info("%s%s: stopped", exchange, " perp" if market == "perp" else "")
        if task is None:
            return
        task.cancel()  # Collector.run closes its sockets and its REST client on the way out
        stopping = asyncio.ensure_future(_gone(task))
        self._stopping.add(stopping)
        stopping.add_done_callback(self._stopping.discard)

    def _rearm_okx_universe(self, exchange: str) -> None:
        """symbols.universe = okx_all with OKX off until now: OKX's markets can give it now."""
        future = self._okx_markets
        if exchange == "okx" and self._universe is None and future is not None and future.done():
            future.exception()  # retrieved: no "never retrieved" warning for the old one
            self._okx_markets = asyncio.get_running_loop().create_future()

    # ------------------------------------------------------------ plumbing

    def start(self) -> None:
        if self._started or self._closed:
            return
        self._started = True
        if self.settings.symbols.universe == "okx_all":
            self._okx_markets = asyncio.get_running_loop().create_future()
            if "okx" not in self.collectors:
                self._okx_markets.set_exception(RuntimeError("symbols.universe = okx_all needs OKX enabled"))
        for exchange, collector in self.collectors.items():
            self._launch(exchange, "spot", collector)
        for exchange, collector in self.perp_collectors.items():
            self._launch(exchange, "perp", collector)

    def _launch(self, exchange: ExchangeId, market: Market, collector: Collector) -> None:
        name = f"collector-{exchange}" + ("-perp" if market == "perp" else "")
        self._runs[(exchange, market)] = asyncio.create_task(collector.run(), name=name)

    def _raise_if_crashed(self) -> None:
        for task in self._runs.values():
            error = task.exception() if task.done() and not task.cancelled() else None
            if error is not None:
                raise error  # a bug, not a network problem

    def _emit_trade(self, trade: Trade | PerpTrade) -> None:
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

    def perp_dropped(self) -> dict[str, dict[str, int]]:
        """Rejected frames, trades and liquidations per perp venue, by reason."""
        return {e: c.dropped_by_reason for e, c in self.perp_collectors.items()}


async def _gone(task: asyncio.Task[None]) -> None:
    """Await a cancelled collector; what it raised on the way out is logged, not raised."""
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.warning("a stopped collector failed while closing", exc_info=True)
