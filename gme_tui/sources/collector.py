"""One exchange's live collector over ccxt: markets, connections (sessions), the watchdog,
reconnects with backoff, the trade hot path, coverage and the backfill scheduling.

Each session is one ccxt.pro client (so one socket) for a chunk of symbols, subscribed in groups
that respect the exchange's per-message limit. A session that fails, closes or goes silent is
closed and reopened after an exponential, jittered backoff, forever; its gap is scheduled for the
backfill (see backfill.py for the one-source-per-minute rule).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import Clock
from gme_tui.engine.minutes import missing_ranges
from gme_tui.model import MINUTE_MS, Coverage, ExchangeHealth, Listings, SourceItem, Trade
from gme_tui.sources.backfill import Backfiller, StreamLedger
from gme_tui.sources.ccxt_common import (
    ExchangeAdapter,
    FrameSink,
    SilentSocket,
    ccxt_config,
    chunks,
    describe_error,
    hooked_class,
)
from gme_tui.sources.universe import map_markets

log = logging.getLogger(__name__)
INF = math.inf
FUTURE_LIMIT_MS = 60_000  # a trade stamped more than a minute ahead is rejected
DOWN_AFTER_FAILURES = 3


class Session(FrameSink):
    """One connection: its symbols, state and the intervals during which it was live."""

    def __init__(self, collector: Collector, index: int, symbols: list[str]) -> None:
        self.collector = collector
        self.index = index
        self.symbols = symbols  # canonical
        self.state = "connecting"
        self.reason = ""
        self.failures = 0
        self.last_frame = -INF  # monotonic seconds
        self.live_since_ms: int | None = None
        self.intervals: collections.deque[list] = collections.deque(maxlen=8)  # [up_ms, down_ms|None]
        self.down_minute: int | None = None  # minute the last live connection dropped in
        self.ever_live = False

    # FrameSink: called from the hooked ccxt client
    def on_frame(self) -> None:
        collector = self.collector
        self.last_frame = collector.clock.monotonic()
        if self.live_since_ms is None:
            collector.session_live(self)

    def on_rows(self, rows: list) -> None:
        self.collector.ingest(rows)

    def on_bad_frame(self, why: str) -> None:
        self.collector.drop(why)

    def covered(self, start_ms: int, end_ms: int) -> bool:
        return any(up <= start_ms and (down is None or down >= end_ms) for up, down in self.intervals)


class Collector:
    def __init__(
        self,
        adapter: ExchangeAdapter,
        *,
        ccxt_settings: dict,
        proxy: str,
        quote_map: dict,
        universe: Callable[[], Awaitable[list[str]]],
        emit: Callable[[Sequence[SourceItem]], None],
        emit_trade: Callable[[Trade], None],
        clock: Clock,
        window_minutes: int,
        watchdog_seconds: float,
        backoff_max_seconds: float,
        backfill: bool,
        settle_seconds: float = 3.0,
        on_markets: Callable[[str, dict], None] | None = None,
        known_minutes: Mapping[str, frozenset[int]] | None = None,
        whale_minutes: int = 0,
    ) -> None:
        self.adapter = adapter
        self.id = adapter.id
        self.known_minutes = known_minutes or {}  # symbol -> minutes restored from the store
        self.config = ccxt_config(adapter, ccxt_settings, proxy)
        self.quote_map = quote_map
        self.universe = universe
        self.emit = emit
        self.emit_trade = emit_trade
        self.clock = clock
        self.window_minutes = window_minutes
        self.watchdog_seconds = watchdog_seconds
        self.backoff_max = backoff_max_seconds
        self.on_markets = on_markets
        self.ledger = StreamLedger()
        self.backfiller = (
            Backfiller(
                adapter,
                self.ledger,
                emit,
                clock,
                window_minutes=window_minutes,
                settle_seconds=settle_seconds,
                backoff_max_seconds=backoff_max_seconds,
                whale_minutes=whale_minutes,
            )
            if backfill and adapter.has_history
            else None
        )
        self.rest: Any = None
        self.markets_loaded = False
        self.markets_failures = 0
        self.markets_reason = ""
        self.symbol_of_id: dict[str, str] = {}  # exchange market id → canonical symbol
        self.market_of: dict[str, dict] = {}  # canonical symbol → ccxt market
        self.sessions: list[Session] = []
        self.trades_total = 0
        self.dropped: collections.Counter[str] = collections.Counter()
        self.last_message_ms: int | None = None
        self._rate_samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)
        self._health_state = ("connecting", clock.wall_ms())
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        try:
            self.rest = self.adapter.rest_class()(dict(self.config))
            markets = await self._load_markets()
            canonical = await self.universe()
            mapping = map_markets(self.id, canonical, markets, self.quote_map)
            self.market_of = {symbol: markets[m] for symbol, m in mapping.items()}
            self.symbol_of_id = {markets[m]["id"]: symbol for symbol, m in mapping.items()}
            self.emit([Listings({symbol: (self.id,) for symbol in mapping})])
            listed = list(mapping)
            self.sessions = [
                Session(self, i, group) for i, group in enumerate(chunks(listed, self.adapter.symbols_per_connection))
            ]
            self._tasks = [asyncio.create_task(self._run_session(s)) for s in self.sessions]
            self._tasks.append(asyncio.create_task(self._coverage_ticker()))
            if self.backfiller is not None:
                self._tasks.append(asyncio.create_task(self.backfiller.run(self.rest, self.market_of)))
            await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.rest is not None:
                await _quietly(self.rest.close())

    async def _load_markets(self) -> dict:
        attempt = 0
        while True:
            try:
                markets = await self.rest.load_markets()
                self.markets_loaded = True
                self.markets_reason = ""
                if self.on_markets is not None:
                    self.on_markets(self.id, markets)
                return markets
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms(), _retry_after(self.rest))
                self.markets_failures += 1
                # Say it when it starts or changes, then now and then: not on every retry.
                repeated = info.reason == self.markets_reason and self.markets_failures % 20
                self.markets_reason = info.reason
                (log.debug if repeated else log.warning)(
                    "%s: cannot load markets: %s (attempt %d, retrying)", self.id, info.reason, self.markets_failures
                )
                await self.clock.sleep(info.ban_seconds or backoff_seconds(attempt, self.backoff_max))
                attempt += 1

    async def _run_session(self, session: Session) -> None:
        attempt = 0
        while True:
            started = self.clock.monotonic()
            ws = hooked_class(self.adapter.pro_class())(dict(self.config))
            ws.gme_sink = session
            ws.gme_adapter = self.adapter
            ws.set_markets_from_exchange(self.rest)
            try:
                await self._stream(ws, session, started)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms())
                session.reason = info.reason
                log.info("%s session %d: %s", self.id, session.index, info.reason)
            finally:
                self._session_down(session)
                await _quietly(ws.close())
            if session.ever_live and self.clock.monotonic() - started > 60:
                attempt = 0  # it had worked for a while: start the backoff over
            session.failures += 1
            session.state = "reconnecting"
            await self.clock.sleep(backoff_seconds(attempt, self.backoff_max))
            attempt += 1

    async def _stream(self, ws: Any, session: Session, started: float) -> None:
        session.last_frame = -INF
        groups = chunks(session.symbols, self.adapter.symbols_per_subscribe)
        tasks = [asyncio.create_task(self._watch(ws, [self.market_of[s]["symbol"] for s in g])) for g in groups]
        tasks.append(asyncio.create_task(self._watchdog(session, started)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            raise SilentSocket("stream ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, ws: Any, symbols: list[str]) -> None:
        while True:  # our hook consumes trade frames, so this resolves only in odd cases
            await self.adapter.watch(ws, symbols)

    async def _watchdog(self, session: Session, started: float) -> None:
        limit = self.watchdog_seconds
        while True:
            await self.clock.sleep(min(1.0, limit / 4))
            last = max(session.last_frame, started)
            if self.clock.monotonic() - last > limit:
                raise SilentSocket(f"no message for {limit:g}s")

    # ------------------------------------------------------------ session edges

    def session_live(self, session: Session) -> None:
        now = self.clock.wall_ms()
        session.live_since_ms = now
        session.intervals.append([now, None])
        session.state = "live"
        session.reason = ""
        session.failures = 0
        up_minute = now // MINUTE_MS
        if self.backfiller is not None:
            for symbol in session.symbols:
                if not session.ever_live:
                    # Minutes restored from the store need no fetching: only the gaps, oldest first.
                    known = self.known_minutes.get(symbol, frozenset())
                    for first, last in missing_ranges(known, up_minute - self.window_minutes, up_minute - 1):
                        self.backfiller.schedule(symbol, first, last, initial=True)
                    self.backfiller.schedule(symbol, up_minute, up_minute)
                else:
                    self.backfiller.schedule(symbol, session.down_minute or up_minute, up_minute)
        session.ever_live = True

    def _session_down(self, session: Session) -> None:
        if session.live_since_ms is None:
            return
        now = self.clock.wall_ms()
        session.intervals[-1][1] = now
        session.down_minute = now // MINUTE_MS
        session.live_since_ms = None

    async def _coverage_ticker(self) -> None:
        """Just after each minute closes: Coverage for the minutes a session streamed whole."""
        while True:
            now = self.clock.wall_ms()
            tick = (now // MINUTE_MS + 1) * MINUTE_MS + 200
            await self.clock.sleep((tick - now) / 1000)
            minute = tick // MINUTE_MS - 1
            start, end = minute * MINUTE_MS, (minute + 1) * MINUTE_MS
            items = [
                Coverage(self.id, symbol, minute, minute)
                for session in self.sessions
                if session.covered(start, end)
                for symbol in session.symbols
            ]
            if items:
                self.emit(items)
            self.ledger.prune(minute - self.window_minutes - 15)

    # ------------------------------------------------------------ the hot path

    def ingest(self, rows: list) -> None:
        """Validate raw rows, keep the ledger, hand trades on. Called for every trade frame."""
        horizon = self.clock.wall_ms() + FUTURE_LIMIT_MS
        symbol_of = self.symbol_of_id
        ledger = self.ledger.minutes
        emit = self.emit_trade
        exchange = self.id
        accepted = 0
        for market_id, ts, is_buy, price, amount, trade_id in rows:
            symbol = symbol_of.get(market_id)
            if symbol is None:
                self.dropped["unknown symbol"] += 1
                continue
            if not (0.0 < price < INF and 0.0 < amount < INF):
                self.dropped["bad price or amount"] += 1
                continue
            if not 0 < ts <= horizon:
                self.dropped["timestamp in the future"] += 1
                continue
            key = (symbol, ts // MINUTE_MS)
            record = ledger.get(key)
            if record is None:
                ledger[key] = record = [0.0, 0.0, 0, False]
            elif record[3]:
                self.dropped["late for a backfilled minute"] += 1
                continue
            if is_buy:
                record[0] += price * amount
            else:
                record[1] += price * amount
            record[2] += 1
            emit(Trade(exchange, symbol, ts, "buy" if is_buy else "sell", price, amount, trade_id))
            accepted += 1
        self.trades_total += accepted

    def drop(self, why: str) -> None:
        self.dropped[why] += 1

    # ------------------------------------------------------------ health

    def health(self) -> ExchangeHealth:
        now_ms = self.clock.wall_ms()
        state, reason = self._state()
        if state != self._health_state[0]:
            self._health_state = (state, now_ms)
        last_frame = max((s.last_frame for s in self.sessions), default=-INF)
        last_ms = None if last_frame == -INF else now_ms - int((self.clock.monotonic() - last_frame) * 1000)
        backfiller = self.backfiller
        return ExchangeHealth(
            exchange=self.id,
            state=state,
            since_ms=self._health_state[1],
            last_message_ms=last_ms,
            trades_per_s=self._rate(),
            dropped=sum(self.dropped.values()),
            reason=reason,
            backfill_done=backfiller.initial_done if backfiller else 0,
            backfill_total=backfiller.initial_total if backfiller else 0,
        )

    def _state(self) -> tuple[str, str]:
        if not self.markets_loaded:
            down = self.markets_failures >= DOWN_AFTER_FAILURES
            return ("down" if down else "connecting"), self.markets_reason
        sessions = self.sessions
        if not sessions:
            return "live", "no listed symbols"
        reasons = [s.reason for s in sessions if s.reason]
        reason = reasons[0] if reasons else ""
        live = [s for s in sessions if s.state == "live"]
        backfill_reason = self.backfiller.reason if self.backfiller else ""
        if self.backfiller is not None and self.backfiller.blocked_until_ms > self.clock.wall_ms():
            reason = backfill_reason + f" until {_hhmmss(self.backfiller.blocked_until_ms)}"
        if len(live) == len(sessions):
            if self.backfiller is not None and self.backfiller.busy:
                return "backfilling", reason or backfill_reason
            return "live", reason or backfill_reason
        if not live and all(s.failures >= DOWN_AFTER_FAILURES for s in sessions):
            return "down", reason
        if any(s.state == "reconnecting" for s in sessions):
            return "reconnecting", reason
        return "connecting", reason

    def _rate(self) -> float:
        now = self.clock.monotonic()
        samples = self._rate_samples
        samples.append((now, self.trades_total))
        while len(samples) > 2 and now - samples[1][0] >= 10:
            samples.popleft()
        then, count = samples[0]
        return (self.trades_total - count) / (now - then) if now - then > 0.5 else 0.0

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        return dict(self.dropped)


def _retry_after(rest: Any) -> str | None:
    headers = getattr(rest, "last_response_headers", None) or {}
    return headers.get("Retry-After") or headers.get("retry-after")


def _hhmmss(ms: int) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


async def _quietly(awaitable: Awaitable, timeout: float = 5.0) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except Exception:  # closing a broken client must not hide the original problem
        log.debug("close failed", exc_info=True)
