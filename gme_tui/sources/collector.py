"""One exchange's live collector over ccxt: markets, connections (sessions), the watchdogs,
reconnects with backoff, the trade hot path, coverage and the backfill scheduling.

Each session is one ccxt.pro client (so one socket) for a chunk of symbols, subscribed in groups
that respect the exchange's per-message limit. Two watchdogs per session (session.py): the
socket's (nothing at all for `watchdog_seconds`: closed) and the subscription's (no trade for
`watchdog_seconds`, or a quiet session at a minute boundary: checked over REST, liveness.py;
closed only when found dead). A closed session is reopened after an exponential, jittered
backoff, forever; what it did not prove is scheduled for the backfill (see backfill.py for the
one-source-per-minute rule). Every retry is logged at INFO or above and shown in the health
(`attempt`, `next_try_ms`). The markets are read again every `markets_refresh_seconds`: symbols
listed since are started, delisted ones shown unavailable.

A perp venue's collector (`perp=PerpOptions(...)`, deriv-wiring §3) is this same class driving a
PerpAdapter: swaps instead of spot markets (the adapter bound to their contract sizes before any
session), PerpTrade and market="perp" items, one more session for the liquidation feed (socket
watchdog only: a quiet feed is normal) and an open-interest poller (batch endpoints on OKX and
Bybit; per symbol on Binance, inside `weight_budget` per minute, the weight used read back from
X-MBX-USED-WEIGHT-1M), with the OI history of the window at start.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import Clock
from gme_tui.engine.minutes import missing_ranges
from gme_tui.model import (
    MINUTE_MS,
    Coverage,
    ExchangeHealth,
    HealthState,
    Listings,
    Market,
    PerpTrade,
    SourceItem,
    Trade,
)
from gme_tui.sources.backfill import Backfiller, StreamLedger, StreamMinute
from gme_tui.sources.ccxt_common import (
    CcxtMarket,
    Connection,
    ExchangeAdapter,
    RestClient,
    Row,
    WsClient,
    ccxt_config,
    chunks,
    response_headers,
)
from gme_tui.sources.errors import Gate, Preempted, SilentSocket, describe_error
from gme_tui.sources.liveness import Verdict, check_subscription
from gme_tui.sources.perp.common import LiquidationRow, PerpAdapter, PerpMarket, liquidation
from gme_tui.sources.session import ExchangeClock, Session
from gme_tui.sources.universe import map_markets

log = logging.getLogger(__name__)
INF = math.inf
FUTURE_LIMIT_MS = 60_000  # a trade stamped more than a minute ahead of the exchange's clock is rejected
DOWN_AFTER_FAILURES = 3
REBASE_MS = 1_000  # the first trade finds the local clock off by more: the sessions' evidence starts over
IDS_KEPT_MINUTES = 3  # trade ids of the ledger's recent minutes (beyond the watchdog period)
# A session without a trade frame for this long is checked over REST just after a boundary, so
# its last minute is proven (covered) before the scan reads it; a busier one proves it itself.
BOUNDARY_QUIET_S = 10.0
BOUNDARY_CHECK_AFTER_MS = 500
DELISTED = "no longer listed"
OI_CHUNK = 50  # per-symbol OI requests made through the REST gate at a time (a stop calls off no more)
OI_HISTORY_TRIES = 3
MARKETS_REFRESH_SECONDS = 30 * 60.0  # markets read again this often: symbols listed or delisted mid-run
IP_WEIGHT_PER_MINUTE = 2400  # Binance USDⓈ-M's REQUEST_WEIGHT limit per IP (exchangeInfo rateLimits)


@dataclass(frozen=True, slots=True)
class PerpOptions:
    """What a perp collector does beyond the spot one (SPEC §4b; settings [derivatives])."""

    oi_poll_seconds: float = 60.0  # on the period's boundaries
    oi_history: bool = True  # fetch OI history at start, so B can hold from the first scan
    oi_history_ms: int = 60 * MINUTE_MS  # how far back: the window plus oi_max_age
    liquidations: bool = True  # one more session per venue for its liquidation feed
    weight_budget: int = 1200  # Binance: weight per minute the OI poll may use


class Collector:
    def __init__(
        self,
        adapter: ExchangeAdapter,
        *,
        ccxt_settings: Mapping[str, object],
        proxy: str,
        quote_map: Mapping[str, tuple[str, ...]],
        universe: Callable[[], Awaitable[list[str]]],
        emit: Callable[[Sequence[SourceItem]], None],
        emit_trade: Callable[[Trade | PerpTrade], None],
        clock: Clock,
        window_minutes: int,
        watchdog_seconds: float,
        backoff_max_seconds: float,
        backfill: bool,
        settle_seconds: float = 1.0,
        on_markets: Callable[[str, Mapping[str, CcxtMarket]], None] | None = None,
        known_minutes: Mapping[str, frozenset[int]] | None = None,
        whale_minutes: int = 0,
        perp: PerpOptions | None = None,
        markets_refresh_seconds: float = MARKETS_REFRESH_SECONDS,
    ) -> None:
        """`perp` given: the collector of a perp venue (`adapter` a PerpAdapter, deriv-wiring
        §3): its markets are the swaps of the canonical symbols (SPEC §4b), its items PerpTrade,
        MinuteBucket/Listings/Coverage with market="perp", OpenInterest and Liquidation."""
        if perp is not None and not isinstance(adapter, PerpAdapter):
            raise TypeError(f"{adapter.id}: a perp collector needs a PerpAdapter")
        self.adapter = adapter
        self.id = adapter.id
        self.perp = perp
        self.markets_refresh_seconds = markets_refresh_seconds
        self.market: Market = "spot" if perp is None else "perp"
        self.perp_markets: dict[str, PerpMarket] = {}  # canonical symbol → swap (perp collectors)
        self.liquidation_session: Session | None = None
        self._liquidations_restart = asyncio.Event()
        self.weight_used: int | None = None  # Binance: X-MBX-USED-WEIGHT-1M after the last OI poll
        self.oi_polls = 0
        self._oi_cursor = 0
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
        self.exchange_clock = ExchangeClock(clock)  # the exchange's time, from arrivals (wall steps ignored)
        # Every REST call (markets, backfill, whales) passes rest_gate; every new socket ws_gate:
        # after the exchange said stop, nothing of that kind goes to it before the gate opens.
        self.rest_gate = Gate(clock, backoff_max_seconds)
        self.ws_gate = Gate(clock, backoff_max_seconds)
        self.backfiller = (
            Backfiller(
                adapter,
                self.ledger,
                emit,
                clock,
                self.rest_gate,
                exchange_ms=self.exchange_clock.now_ms,
                window_minutes=window_minutes,
                settle_seconds=settle_seconds,
                backoff_max_seconds=backoff_max_seconds,
                whale_minutes=whale_minutes if perp is None else 0,
                market=self.market,
            )
            if backfill and adapter.has_history
            else None
        )
        self.rest: RestClient | None = None
        self.markets_loaded = False
        self.markets_failures = 0
        self.markets_reason = ""
        self.markets_next_try_ms: int | None = None  # wall ms of the next markets load while backing off
        self.symbol_of_id: dict[str, str] = {}  # exchange market id → canonical symbol
        self.market_of: dict[str, CcxtMarket] = {}  # canonical symbol → ccxt market
        self.sessions: list[Session] = []
        self.unavailable: dict[str, str] = {}  # canonical symbol → why (the exchange refused it)
        self._sends: set[asyncio.Task[None]] = set()
        self.streaming = False  # the sessions exist (markets and universe known)
        self.trades_total = 0
        self.dropped: collections.Counter[str] = collections.Counter()
        self._rate_samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)
        self._health_state = (HealthState.CONNECTING, clock.wall_ms())
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        try:
            self.rest = rest = self.adapter.rest_client(self.config)
            markets = await self._load_markets(rest)
            canonical = await self.universe()
            listed = self._map_markets(canonical, markets)
            self.emit([Listings({symbol: (self.id,) for symbol in listed}, market=self.market)])
            self.sessions = [
                Session(self, i, group) for i, group in enumerate(chunks(listed, self.adapter.symbols_per_connection))
            ]
            self.streaming = True
            self._tasks = [asyncio.create_task(self._run_session(s, rest, self._stream)) for s in self.sessions]
            self._tasks.append(asyncio.create_task(self._minute_ticker()))
            self._tasks.append(asyncio.create_task(self._refresh_markets(rest)))
            if self.backfiller is not None:
                self._tasks.append(asyncio.create_task(self.backfiller.run(rest, self.market_of)))
            if self.perp is not None and self.perp_markets:
                self._tasks.append(asyncio.create_task(self._poll_open_interest(rest, self.perp)))
                if self.perp.liquidations:
                    self._tasks.append(asyncio.create_task(self._liquidation_supervisor(rest)))
            await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.rest is not None:
                await _quietly(self.rest.close())

    def _map_markets(self, canonical: list[str], markets: Mapping[str, CcxtMarket]) -> list[str]:
        """Canonical symbols listed here, in universe order; fills market_of and symbol_of_id. A
        perp venue maps each symbol to its swap (SPEC §4b), and its adapter is bound to those
        swaps (contract sizes) before any session or backfill uses it."""
        found = self._listed(canonical, markets)
        if self.perp is not None:
            assert isinstance(self.adapter, PerpAdapter)  # checked in __init__
            self.perp_markets = {symbol: perp for symbol, (_m, perp) in found.items() if perp is not None}
            self.adapter = self.adapter.bind(self.perp_markets.values())
            if self.backfiller is not None:
                self.backfiller.adapter = self.adapter
        self.market_of = {symbol: market for symbol, (market, _p) in found.items()}
        self.symbol_of_id = {market["id"]: symbol for symbol, (market, _p) in found.items()}
        return list(found)

    def _listed(
        self, canonical: list[str], markets: Mapping[str, CcxtMarket]
    ) -> dict[str, tuple[CcxtMarket, PerpMarket | None]]:
        """canonical symbol → (its ccxt market here, its swap on a perp venue), universe order."""
        if self.perp is None:
            mapping = map_markets(self.id, canonical, markets, self.quote_map)
            return {symbol: (markets[m], None) for symbol, m in mapping.items()}
        assert isinstance(self.adapter, PerpAdapter)
        swaps = self.adapter.perp_markets(canonical, markets)
        return {symbol: (markets[p.ccxt_symbol], p) for symbol, p in swaps.items()}

    async def _refresh_markets(self, rest: RestClient) -> None:
        """Every `markets_refresh_seconds`: the markets read again (issue 10). A symbol of the
        universe listed since gets its Listings, a session of its own (backfill of its window,
        then its stream, as at start); one no longer listed is unavailable (left out of every
        subscription from the next connection on). A failed read waits for the next period."""
        while True:
            await self.clock.sleep(self.markets_refresh_seconds)
            try:
                markets = await self.rest_gate.call(functools.partial(rest.load_markets, True))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.id)
                if info.limit is not None:
                    self.rest_gate.stop(info)
                log.info(
                    "%s: markets not read again: %s (next in %.0fs)", self.id, info.reason, self.markets_refresh_seconds
                )
                continue
            self.rest_gate.ok()
            self._apply_markets(await self.universe(), markets, rest)

    def _apply_markets(self, canonical: list[str], markets: Mapping[str, CcxtMarket], rest: RestClient) -> None:
        found = self._listed(canonical, markets)
        streamed = {symbol for session in self.sessions for symbol in session.symbols}
        for symbol in sorted(streamed - set(found)):
            if self.unavailable.get(symbol) != DELISTED:
                self.unavailable[symbol] = DELISTED
                log.info("%s%s: %s is no longer listed", self.id, self._market_tag(), symbol)
        for symbol in [s for s in found if s in streamed and self.unavailable.get(s) == DELISTED]:
            del self.unavailable[symbol]  # listed again: subscribed from the next connection on
            log.info("%s%s: %s is listed again", self.id, self._market_tag(), symbol)
        new = [symbol for symbol in found if symbol not in streamed]
        if not new:
            return
        for symbol in new:
            market, perp = found[symbol]
            self.market_of[symbol] = market  # in place: the backfiller reads this mapping
            self.symbol_of_id[market["id"]] = symbol
            if perp is not None:
                self.perp_markets[symbol] = perp
        if self.perp is not None and isinstance(self.adapter, PerpAdapter):
            self.adapter.add_markets(self.perp_markets[s] for s in new if s in self.perp_markets)
            if self.adapter.liquidations_per_symbol:
                self._liquidations_restart.set()  # Bybit: a topic per symbol, so a socket with the new ones
        log.info("%s%s: %d newly listed symbol(s): %s", self.id, self._market_tag(), len(new), ", ".join(new[:5]))
        self.emit([Listings({symbol: (self.id,) for symbol in new}, market=self.market)])
        for group in chunks(new, self.adapter.symbols_per_connection):
            session = Session(self, len(self.sessions) + 1, group)  # after the liquidation session's index
            self.sessions.append(session)
            self._tasks.append(asyncio.create_task(self._run_session(session, rest, self._stream)))

    async def _liquidation_supervisor(self, rest: RestClient) -> None:
        """The liquidation session, forever; started over with a new socket (subscribing the
        current markets) when `_liquidations_restart` is set (a newly listed swap on a venue
        with a liquidation topic per symbol)."""
        while True:
            self._liquidations_restart.clear()
            self.liquidation_session = session = Session(self, len(self.sessions), [])
            inner = asyncio.create_task(self._run_session(session, rest, self._liquidations))
            restart = asyncio.create_task(self._liquidations_restart.wait())
            try:
                await asyncio.wait((inner, restart), return_when=asyncio.FIRST_COMPLETED)
            finally:
                inner.cancel()  # its socket closes on the way out
                restart.cancel()
                await asyncio.gather(inner, restart, return_exceptions=True)
            error = None if inner.cancelled() else inner.exception()
            if error is not None:
                raise error  # a bug, not a network problem

    def _market_tag(self) -> str:
        return " perp" if self.perp is not None else ""

    async def _load_markets(self, rest: RestClient) -> dict[str, CcxtMarket]:
        attempt = 0
        while True:
            try:
                markets = await self.rest_gate.call(rest.load_markets)
                self.rest_gate.ok()
                self.markets_loaded = True
                self.markets_reason = ""
                if self.on_markets is not None:
                    self.on_markets(self.id, markets)
                return markets
            except asyncio.CancelledError:
                raise
            except Preempted:
                continue  # the gate is shut: the call waits for it
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.id)
                self.markets_failures += 1
                # Say it when it starts or changes, then now and then: not on every retry.
                repeated = info.reason == self.markets_reason and self.markets_failures % 20
                self.markets_reason = info.reason
                if info.limit is not None:
                    wait = self.rest_gate.stop(info)
                else:
                    wait = backoff_seconds(attempt, self.backoff_max)
                    attempt += 1
                # Every attempt is logged (issue 13 item 7); loudly when the reason starts or changes.
                (log.info if repeated else log.warning)(
                    "%s: cannot load markets: %s (attempt %d, next in %.1fs)",
                    self.id,
                    info.reason,
                    self.markets_failures,
                    wait,
                )
                self.markets_next_try_ms = self.clock.wall_ms() + int(wait * 1000)
                try:
                    await self.clock.sleep(wait)
                finally:
                    self.markets_next_try_ms = None

    async def _run_session(
        self, session: Session, rest: RestClient, stream: Callable[[WsClient, Session, float], Awaitable[None]]
    ) -> None:
        attempt = 0
        while True:
            await self.ws_gate.wait()
            started = self.clock.monotonic()
            ws = self.adapter.ws_client(self.config, session)
            ws.set_markets_from_exchange(rest)
            session.reading = True
            try:
                await stream(ws, session, started)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms(), exchange=self.id)
                if info.limit is not None:
                    self.ws_gate.stop(info)  # every session of this exchange keeps off
                session.reason = info.reason
            finally:
                session.went_down()
                await _quietly(ws.close())
            if session.ever_live and self.clock.monotonic() - started > 60:
                attempt = 0  # it had worked for a while: start the backoff over
            session.failures += 1
            session.state = HealthState.RECONNECTING
            wait = max(backoff_seconds(attempt, self.backoff_max), self.ws_gate.remaining_seconds())
            attempt += 1
            log.info(
                "%s session %d: %s (attempt %d, next in %.1fs)",
                self.id,
                session.index,
                session.reason or "closed",
                session.failures,
                wait,
            )
            session.next_try_ms = self.clock.wall_ms() + int(wait * 1000)
            try:
                await self.clock.sleep(wait)
            finally:
                session.next_try_ms = None

    async def _stream(self, ws: WsClient, session: Session, started: float) -> None:
        session.last_frame = -INF
        available = [s for s in session.symbols if s not in self.unavailable]
        session.groups = groups = chunks(available, self.adapter.symbols_per_subscribe)
        tasks = [asyncio.create_task(self._watch(ws, [self.market_of[s]["symbol"] for s in g])) for g in groups]
        tasks.append(asyncio.create_task(self._socket_watchdog(session, started)))
        tasks.append(asyncio.create_task(self._subscription_watchdog(session)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
            raise SilentSocket("stream ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _liquidations(self, ws: WsClient, session: Session, started: float) -> None:
        """A perp venue's liquidation feed: quiet for minutes is normal, so only the socket's
        watchdog runs (keep-alives and pings prove it), never the subscription's (deriv-wiring §3)."""
        session.last_frame = -INF
        assert isinstance(self.adapter, PerpAdapter)
        tasks = [
            asyncio.create_task(self._watch_liquidations(ws, self.adapter, list(self.perp_markets.values()))),
            asyncio.create_task(self._socket_watchdog(session, started)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
            raise SilentSocket("stream ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch_liquidations(self, ws: WsClient, adapter: PerpAdapter, markets: list[PerpMarket]) -> None:
        while True:  # our hook consumes the frames, so this resolves only in odd cases
            await adapter.watch_liquidations(ws, markets)
            await self.clock.sleep(1.0)  # Bybit's returns when every topic is subscribed: no busy loop

    async def _watch(self, ws: WsClient, symbols: list[str]) -> None:
        while True:  # our hook consumes trade frames, so this resolves only in odd cases
            await self.adapter.watch(ws, symbols)

    async def _socket_watchdog(self, session: Session, started: float) -> None:
        """Nothing at all (not even a keep-alive or a protocol ping) for the watchdog period."""
        limit = self.watchdog_seconds
        while True:
            await self.clock.sleep(min(1.0, limit / 4))
            last = max(session.last_frame, started)
            if self.clock.monotonic() - last > limit:
                raise SilentSocket(f"no message for {limit:g}s")

    async def _subscription_watchdog(self, session: Session) -> None:
        """No trade for the watchdog period, or a quiet session past a boundary: ask the REST."""
        limit = self.watchdog_seconds
        while True:
            await self.clock.sleep(min(1.0, limit / 4))
            if session.live_since_ms is None or self.rest is None:
                continue
            quiet_for = self.clock.monotonic() - max(session.last_trade_frame, session.live_since, session.last_check)
            if quiet_for < limit and not self._boundary_check_due(session):
                continue
            verdict = await check_subscription(self, session)
            if verdict is Verdict.DEAD:
                raise SilentSocket(f"no trades for {quiet_for:.0f}s while the exchange has new ones")
            if verdict is Verdict.UNKNOWN:  # look again in a third of a period, not a whole one
                session.last_check -= limit * 2 / 3

    def _boundary_check_due(self, session: Session) -> bool:
        """Once per minute, a little after the boundary: a quiet session not proven past it."""
        exchange_now = self.exchange_ms()
        boundary = exchange_now // MINUTE_MS * MINUTE_MS
        if session.checked_boundary >= boundary or session.proven_ts >= boundary:
            return False
        if exchange_now - boundary < BOUNDARY_CHECK_AFTER_MS or session.live_since_ms is None:
            return False
        if session.up_ts >= boundary - MINUTE_MS:
            return False  # it came up in the minute before: that one is partial, nothing to prove
        if self.clock.monotonic() - max(session.last_trade_frame, session.live_since) < BOUNDARY_QUIET_S:
            return False  # trades flow: the next one proves it in a moment
        session.checked_boundary = boundary
        return True

    # ------------------------------------------------------------ session edges

    def session_live(self, session: Session) -> None:
        """A session's first frame: schedule what it cannot cover (the window before its first
        connection, the gap since its last one, and the partial minute it came up in)."""
        up_minute = session.went_live(self.clock.wall_ms(), self.clock.monotonic(), self.exchange_ms())
        self.ws_gate.ok()
        if self.backfiller is not None:
            for symbol in session.symbols:
                if not session.ever_live:
                    # Minutes restored from the store need no fetching: only the gaps, oldest first.
                    known = self.known_minutes.get(symbol, frozenset())
                    for first, last in missing_ranges(known, up_minute - self.window_minutes, up_minute - 1):
                        self.backfiller.schedule(symbol, first, last, initial=True)
                    self.backfiller.schedule(symbol, up_minute, up_minute)
                else:
                    gap_from = up_minute if session.gap_from is None else session.gap_from
                    self.backfiller.schedule(symbol, gap_from, up_minute)
        session.ever_live = True

    def subscription_rejected(self, session: Session, market_ids: list[str], connection: Connection) -> None:
        """The exchange refused these markets on `session`'s socket (a delisted symbol its markets
        endpoint still lists): they are unavailable for this run, and where it refused the whole
        request, the others of that request are subscribed again on the same socket."""
        refused = [self.symbol_of_id[m] for m in market_ids if m in self.symbol_of_id]
        for symbol in refused:
            if symbol not in self.unavailable:
                self.unavailable[symbol] = "subscription refused by the exchange"
                log.warning("%s: %s unavailable: the exchange refused its subscription", self.id, symbol)
        for group in session.groups:
            if not any(symbol in refused for symbol in group):
                continue
            others = [self.market_of[s]["id"] for s in group if s not in self.unavailable]
            message = self.adapter.resubscribe(others)
            if message is not None:
                task = asyncio.ensure_future(connection.send(message))
                self._sends.add(task)
                task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("%s: a subscribe message could not be sent: %s", self.id, task.exception())

    def prove(self, session: Session, ts: int) -> None:
        """Evidence that `session`'s stream carried every trade up to exchange time `ts`: the
        minutes it newly covers, for the symbols this connection subscribed that are still
        available. One delisted or refused is no longer carried (nor traded): its minutes are not
        covered, so its windows run out of coverage instead of showing a covered 0; one listed
        again is covered from the next connection on, which subscribes it."""
        covered = session.prove(ts)
        if covered is not None:
            first, last = covered
            unavailable = self.unavailable
            carried = {symbol for group in session.groups for symbol in group}
            self.emit(
                [
                    Coverage(self.id, symbol, first, last, self.market)
                    for symbol in session.symbols
                    if symbol in carried and symbol not in unavailable
                ]
            )

    def exchange_ms(self) -> int:
        """The exchange's time now (ms UTC), estimated from arrivals (ExchangeClock): what its
        minutes, the future limit, the backfill's due times and the REST proofs are timed on."""
        return self.exchange_clock.now_ms()

    async def _minute_ticker(self) -> None:
        """Just after each exchange minute: the ledger kept to the window (its trade ids to the
        last few minutes)."""
        while True:
            now = self.exchange_ms()
            tick = (now // MINUTE_MS + 1) * MINUTE_MS + 200
            await self.clock.sleep((tick - now) / 1000)
            minute = self.exchange_ms() // MINUTE_MS - 1  # read again: the estimate may have moved
            ids_kept = math.ceil(self.watchdog_seconds / 60) + IDS_KEPT_MINUTES
            self.ledger.prune(minute - self.window_minutes - 15, minute - ids_kept)

    # ------------------------------------------------------------ the hot path

    def ingest(self, rows: list[Row], session: Session) -> None:
        """Validate raw rows, keep the ledger, hand trades on, prove the session. Called for
        every trade frame."""
        estimate = self.exchange_clock
        arrival = estimate.monotonic_ms()
        horizon = estimate.now_ms() + FUTURE_LIMIT_MS
        symbol_of = self.symbol_of_id
        ledger = self.ledger.minutes
        emit = self.emit_trade
        make = PerpTrade if self.perp is not None else Trade
        exchange = self.id
        accepted = 0
        newest = -1  # the newest trade accepted (proves the session)
        seen = -1  # the newest valid one (a sample of the exchange's clock)
        future = -1  # the newest rejected as in the future
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
                if ts > future:
                    future = ts
                continue
            if ts > seen:
                seen = ts
            key = (symbol, ts // MINUTE_MS)
            record = ledger.get(key)
            if record is None:
                ledger[key] = record = StreamMinute(ids={trade_id})
                self._new_minute(symbol, key[1])
            elif record.settled:
                self.dropped["late for a backfilled minute"] += 1
                continue
            else:
                ids = record.ids
                if ids is not None:
                    if trade_id in ids:  # a frame delivered twice: the engine drops and counts it
                        emit(make(exchange, symbol, ts, "buy" if is_buy else "sell", price, amount, trade_id))
                        continue
                    ids.add(trade_id)
            if is_buy:
                record.buy += price * amount
            else:
                record.sell += price * amount
            record.count += 1
            if ts > record.last_ts:
                record.last_ts = ts
            emit(make(exchange, symbol, ts, "buy" if is_buy else "sell", price, amount, trade_id))
            accepted += 1
            if ts > newest:
                newest = ts
        self.trades_total += accepted
        if seen >= 0:
            self._sample_clock(seen, arrival)
        elif future > 0 and estimate.sample_future(future, arrival):
            self._rebase("trades stamped more than a minute ahead of this clock, frame after frame")
        if newest >= 0:
            session.last_trade_frame = self.clock.monotonic()
            if newest > session.proven_ts:
                self.prove(session, newest)

    def _sample_clock(self, ts: int, arrival_ms: int) -> None:
        estimate = self.exchange_clock
        if estimate.sampled:
            estimate.sample(ts, arrival_ms)
            return
        before = estimate.now_ms()  # the prior, which the sessions' evidence so far is on
        estimate.sample(ts, arrival_ms)
        moved = estimate.now_ms() - before
        if abs(moved) > REBASE_MS:
            self._rebase(f"the first trade puts the exchange's clock {moved:+d} ms off this one's")

    def _rebase(self, why: str) -> None:
        """The exchange clock's estimate moved at once (its first trade, or a run of "future"
        ones, found the local clock off): every live session starts its evidence over as if it
        came up now, and what it no longer proves goes to the backfill, on the new scale. Had
        the local clock run ahead, the backfill's plans lie in the exchange's future: the window
        is planned again (a minute already settled is not counted twice: the engine keeps the
        first bucket of a minute)."""
        now = self.exchange_ms()
        minute = now // MINUTE_MS
        log.warning("%s%s: %s: the sessions start their evidence over", self.id, self._market_tag(), why)
        backfiller = self.backfiller
        for session in self.sessions:
            ahead = session.live_since_ms is not None and session.covered_through > minute  # the old scale
            span = session.rebase(now)
            if backfiller is None:
                continue
            if ahead:
                backfiller.restart(session.symbols, minute - self.window_minutes)
                span = (minute - self.window_minutes, minute)
            if span is None:
                continue
            first, last = max(span[0], minute - self.window_minutes), span[1]
            for symbol in session.symbols:
                backfiller.schedule(symbol, first, last)

    def _new_minute(self, symbol: str, minute: int) -> None:
        newest = self.ledger.newest_minute
        if minute > newest.get(symbol, minute - 1):
            newest[symbol] = minute

    def drop(self, why: str) -> None:
        self.dropped[why] += 1

    def ingest_liquidations(self, rows: list[LiquidationRow]) -> None:
        """A liquidation frame's rows (a bound perp adapter's: base units, the position's side):
        Liquidation items with their value computed (SPEC §4b); unknown or bad rows counted."""
        horizon = self.exchange_ms() + FUTURE_LIMIT_MS
        items: list[SourceItem] = []
        for row in rows:
            market_id, ts, _side, price, amount = row
            symbol = self.symbol_of_id.get(market_id)
            if symbol is None:
                continue  # OKX and Binance send every swap's: those outside the universe are not ours
            if not (0.0 < price < INF and 0.0 < amount < INF) or not 0 < ts <= horizon:
                self.dropped["bad liquidation"] += 1
                continue
            items.append(liquidation(self.id, symbol, row))
        self.emit(items)

    # ------------------------------------------------------------ open interest (perp collectors)

    async def _poll_open_interest(self, rest: RestClient, options: PerpOptions) -> None:
        """One poll at once, the history of the window (oi_history), then a poll on every
        `oi_poll_seconds` boundary, forever. A failed poll waits for the next boundary (the
        REST gate, shut by a rate limit, keeps it off longer)."""
        assert isinstance(self.adapter, PerpAdapter)
        adapter = self.adapter
        markets = list(self.perp_markets.values())
        period_ms = max(1000, int(options.oi_poll_seconds * 1000))
        started = self.exchange_ms()  # Binance counts weight per minute of its own clock
        await self._poll_oi_once(rest, adapter, markets, options, period_ms)
        if options.oi_history:
            await self._oi_history(rest, adapter, markets, options.oi_history_ms)
        while True:
            # the boundary after the period the last poll began in: never two polls in one period
            # (Binance counts weight per fixed minute); one that overran waits for the next
            now = self.exchange_ms()
            due = (started // period_ms + 1) * period_ms
            if due < now:
                due = (now // period_ms + 1) * period_ms
            await self.clock.sleep((due - now) / 1000)
            started = self.exchange_ms()
            markets = list(self.perp_markets.values())  # swaps listed since included
            await self._poll_oi_once(rest, adapter, markets, options, period_ms)

    def _oi_slice(
        self, adapter: PerpAdapter, markets: list[PerpMarket], budget: int, period_ms: int
    ) -> list[PerpMarket]:
        """The symbols this poll asks for: all of them on a batch endpoint, or as many as the
        weight budget allows per poll (Binance: one weight-1 call per symbol), in rotation so
        that each is polled in turn when the budget is short (issue 14 item 2)."""
        if adapter.oi_batch:
            return markets
        allowed = max(1, int(budget * period_ms / 60_000) // max(1, adapter.oi_weight))
        if len(markets) <= allowed:
            return markets
        start = self._oi_cursor % len(markets)
        self._oi_cursor = start + allowed
        return (markets[start:] + markets[:start])[:allowed]

    async def _poll_oi_once(
        self, rest: RestClient, adapter: PerpAdapter, markets: list[PerpMarket], options: PerpOptions, period_ms: int
    ) -> None:
        wanted = self._oi_slice(adapter, markets, options.weight_budget, period_ms)
        step = len(wanted) if adapter.oi_batch else OI_CHUNK
        got = 0
        for i in range(0, len(wanted), max(1, step)):
            chunk = wanted[i : i + step]
            try:
                samples = await self.rest_gate.call(functools.partial(adapter.fetch_open_interest, rest, chunk))
            except asyncio.CancelledError:
                raise
            except Preempted:
                log.info(
                    "%s perp: open-interest poll called off (%s), next at the next boundary",
                    self.id,
                    self.rest_gate.reason,
                )
                return
            except Exception as exc:
                info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.id)
                wait = self.rest_gate.stop(info) if info.limit is not None else options.oi_poll_seconds
                log.info("%s perp: open-interest poll failed: %s (next in %.1fs)", self.id, info.reason, wait)
                return
            self.rest_gate.ok()
            got += len(samples)
            self.emit(samples)
        self.oi_polls += 1
        self.weight_used = adapter.used_weight(rest)
        if adapter.weight_header is not None:
            log.info(
                "%s perp: open interest of %d/%d symbols (%d weight), weight used %s/min of %d (budget %d)",
                self.id,
                got,
                len(markets),
                adapter.oi_cost(len(wanted)),
                "?" if self.weight_used is None else self.weight_used,
                IP_WEIGHT_PER_MINUTE,
                options.weight_budget,
            )
        else:
            log.debug(
                "%s perp: open interest of %d/%d symbols, %d request(s)",
                self.id,
                got,
                len(markets),
                adapter.oi_calls(len(wanted)),
            )

    async def _oi_history(
        self, rest: RestClient, adapter: PerpAdapter, markets: list[PerpMarket], span_ms: int
    ) -> None:
        """OI samples of the last `span_ms` per symbol, in universe order (majors first), so the
        window's start sample exists from the first scan (SPEC §4b). Best effort: a symbol that
        keeps failing is left to the polls."""
        last_ms = self.exchange_ms()
        first_ms = last_ms - span_ms
        for market in markets:
            for tries in range(OI_HISTORY_TRIES):
                try:
                    samples = await self.rest_gate.call(
                        functools.partial(adapter.fetch_open_interest_history, rest, market, first_ms, last_ms)
                    )
                except asyncio.CancelledError:
                    raise
                except Preempted:
                    continue  # a stop: the gate holds the next try
                except Exception as exc:
                    info = describe_error(exc, self.clock.wall_ms(), response_headers(rest), self.id)
                    if info.limit is not None:
                        self.rest_gate.stop(info)
                    log.info(
                        "%s perp: OI history of %s failed: %s (attempt %d of %d)",
                        self.id,
                        market.symbol,
                        info.reason,
                        tries + 1,
                        OI_HISTORY_TRIES,
                    )
                    continue
                self.rest_gate.ok()
                self.emit(samples)
                break

    # ------------------------------------------------------------ readiness for a scan

    def ready_for_scan(self, boundary_ms: int, *, initial: bool = False) -> bool:
        """Has everything that will soon settle the minutes before `boundary_ms` done so? The
        backfill of the partial and gap minutes (with `initial`, the first scan's: the window
        before the first connection too), the first connections, a stream minute's proof. What
        is failing or kept off by the exchange is not waited for (the scan shows it short)."""
        if not self.markets_loaded or not self.streaming:
            return self.markets_failures > 0
        minute = boundary_ms // MINUTE_MS
        if self.backfiller is not None and self.backfiller.pending_before(minute, initial=initial):
            return False
        for session in self.sessions:
            if session.live_since_ms is None:
                if not session.ever_live and session.failures == 0:
                    return False  # its first connection is on its way
                continue
            stream_minute = session.up_ts < (minute - 1) * MINUTE_MS  # up before that minute began
            if stream_minute and session.covered_through < minute - 1:
                return False  # its proof (a trade, or a boundary check) is on its way
        return True

    # ------------------------------------------------------------ health

    def health(self) -> ExchangeHealth:
        now_ms = self.clock.wall_ms()
        state, reason = self._state()
        if state != self._health_state[0]:
            self._health_state = (state, now_ms)
        last_frame = max((s.last_frame for s in self.sessions), default=-INF)
        last_ms = None if last_frame == -INF else now_ms - int((self.clock.monotonic() - last_frame) * 1000)
        backfiller = self.backfiller
        attempt, next_try_ms = self._retry(now_ms)
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
            attempt=attempt,
            next_try_ms=next_try_ms,
        )

    def _retry(self, now_ms: int) -> tuple[int, int | None]:
        """(attempts since the last success, wall ms of the next one while backing off; None while
        trying or live), for the status bar (issue 13 item 7): the markets load while the markets
        are not known; else the sessions down (the most failed one, the soonest next try; the
        socket gate's end when the exchange said stop); else the REST gate while it is shut (the
        backfill or the checks were told to stop)."""
        if not self.markets_loaded:
            if self.markets_failures == 0:
                return 0, None
            return self.markets_failures, _later(now_ms, self.markets_next_try_ms, self.rest_gate)
        down = [s for s in self.sessions if s.live_since_ms is None and s.failures > 0]
        if down:
            tries = [s.next_try_ms for s in down if s.next_try_ms is not None]
            return max(s.failures for s in down), _later(now_ms, min(tries, default=None), self.ws_gate)
        if self.rest_gate.blocked():
            return max(self.rest_gate.strikes, 1), self.rest_gate.until_ms
        return 0, None

    def _state(self) -> tuple[HealthState, str]:
        rest_stop = self.rest_gate.describe()  # '<rate limit or ban> until HH:MM:SS' while it lasts
        if not self.markets_loaded:
            down = self.markets_failures >= DOWN_AFTER_FAILURES
            return (HealthState.DOWN if down else HealthState.CONNECTING), rest_stop or self.markets_reason
        if not self.streaming:  # markets known, the universe (OKX's markets for okx_all) not yet
            return HealthState.CONNECTING, ""
        sessions = self.sessions
        if not sessions:
            return HealthState.LIVE, "no listed symbols"
        reasons = [s.reason for s in sessions if s.reason]
        reason = self.ws_gate.describe() or (reasons[0] if reasons else "")
        live = [s for s in sessions if s.state == HealthState.LIVE]
        backfill_reason = rest_stop or (self.backfiller.reason if self.backfiller else "")
        if rest_stop:
            reason = rest_stop
        if len(live) == len(sessions):
            if self.backfiller is not None and self.backfiller.busy:
                return HealthState.BACKFILLING, reason or backfill_reason
            return HealthState.LIVE, reason or backfill_reason or self._unavailable_text()
        if not live and all(s.failures >= DOWN_AFTER_FAILURES for s in sessions):
            return HealthState.DOWN, reason
        if any(s.state == HealthState.RECONNECTING for s in sessions):
            return HealthState.RECONNECTING, reason
        return HealthState.CONNECTING, reason

    def _unavailable_text(self) -> str:
        """'unavailable: XRP/USDT' (the first few symbols the exchange refused), or ''."""
        if not self.unavailable:
            return ""
        names = sorted(self.unavailable)
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return "unavailable: " + ", ".join(names[:3]) + more

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


def _later(now_ms: int, planned_ms: int | None, gate: Gate) -> int | None:
    """The next try: the planned one, or the gate's end when that is later; None when past."""
    if gate.blocked():
        planned_ms = max(planned_ms or 0, gate.until_ms)
    return planned_ms if planned_ms is not None and planned_ms > now_ms else None


async def _quietly(awaitable: Awaitable[object], timeout: float = 5.0) -> None:
    try:
        await asyncio.wait_for(awaitable, timeout)
    except Exception:  # closing a broken client must not hide the original problem
        log.debug("close failed", exc_info=True)
