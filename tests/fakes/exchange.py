"""A fake of Binance, OKX, Bybit and Coinbase (Exchange API) on 127.0.0.1, one aiohttp server for
all four, spoken to by the REAL ccxt clients through `[exchanges.<id>.ccxt]` URL overrides.

Scriptable: `publish()` a tape of trades (history for REST + WebSocket frames to subscribers),
`drop()` every connection, `stall()` (socket open, nothing sent, pings unanswered), `send_raw()`
malformed frames, `fail_rest()` with HTTP 429/418/503, `rest_delay` for slow responses. Trade
timestamps come from the test's clock, so a ScaledClock runs minutes in milliseconds.

Fault switches (per exchange, all OFF by default; shapes and limits in tests/fakes/faults.py,
each from the exchange's documentation). Times are seconds or ms on the fake's clock:
- `faults[ex] = FrameFaults(latency_s=, duplicate_every=, swap_every=, late_every=, late_s=)`:
  added latency per frame, duplicate frames, out-of-order frames (swapped within one `publish`),
  frames held back seconds late. Delayed frames go through a bounded per-exchange outbox.
- `skew_ms[ex]`: the exchange's clock minus the local clock (positive: exchange ahead). Stamp
  trades with `exchange_ms(ex)`; the fake's own "now" (klines cut-off, ban ends, heartbeats,
  Coinbase's `last_match`) follows it.
- `keepalive(ex, every_s)`: keep-alives on every socket without data: OKX's `pong` text, Bybit's
  `{"op":"ping"}` answer, Binance protocol ping frames (its server pings every 20 s,
  `BINANCE_PING_S`), Coinbase `heartbeat` messages for the products subscribed on its heartbeat
  channel. (ccxt's own text pings come every 18 s of REAL time: too rare on a scaled clock, so
  the fake sends the answers on the fake's clock; client pings are still answered.)
- `mute(ex)`: a dead subscription on a live socket: the current sockets stop delivering trade
  frames while acks, pongs and keep-alives go on; history (REST) still has the trades. Sockets
  opened later deliver again.
- `stall_from(ex, at_ms)`: the current sockets stay open but send nothing at all (no trades, no
  keep-alives, no pongs, client messages ignored) from exchange time `at_ms` on.
- `rate_limit(ex, kind, times, path, wait_s)`: the next matching REST calls get the exchange's
  real over-limit / ban answer: `binance-429` / `binance-418` (Retry-After, code -1003),
  `okx-50011` (HTTP 429, JSON) / `okx-429-html`, `bybit-10006` / `bybit-10018` (retCode,
  X-Bapi-Limit-Reset-Timestamp) / `bybit-403` (edge ban), `coinbase-429`.
- `enforce_limits(ex)`: documented connection and subscription limits: Binance <= 1024 streams
  and <= 5 incoming messages/s per connection (then disconnected), <= 300 connects / 5 min;
  OKX <= 3 connects/s (HTTP 429 on the handshake), args <= 64 KB per connection; Bybit <= 10
  args per subscribe (always on, as before); Coinbase subscribe within 5 s or disconnected.
  Violations are listed in `protocol_violations`.
- `binance_weight_limit`: enforce a REST weight budget per minute (HTTP 429 beyond it);
  `binance_weight` (exchange minute -> weight used) is kept either way.
- `delist(ex, *bases)`: REST still lists the markets (the client's snapshot is older) but a
  subscription to them is rejected with the exchange's real frame (Binance: accepted, no data;
  OKX: error 60018 per arg; Bybit: the whole request fails; Coinbase: the whole subscribe fails).
- `drop_every(ex, every_s, times)`: forced disconnects (a reconnect storm), bounded;
  `connection_lifetime_s[ex]`: every socket is closed after that long (Binance: 24 h).
Observation: `connect_times`, `limit_answers`, `max_in_flight`, `rest_calls`, `wait_for()`.
Every background task belongs to the fake and ends with `stop()` (or with its socket).
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes import faults as F
from tests.fakes.exchange_protocols import MINUTE_MS, PROTOCOLS, TapeTrade, iso
from tests.fakes.faults import FrameFaults, RateLimitKind

# Binance spot REST request weights ("General API Information" and each endpoint's "Weight").
BINANCE_WEIGHTS = {"/exchangeInfo": 20, "/klines": 2, "/aggTrades": 4, "/trades": 25}


@dataclass
class Conn:
    exchange: str
    ws: web.WebSocketResponse
    markets: set[str] = field(default_factory=set)
    # fault state; the defaults are the plain behaviour
    stall_at_ms: int | None = None  # exchange time from which the socket sends nothing
    muted: bool = False  # the subscription is dead: no trade frames, control frames go on
    subscribed: bool = False  # a subscribe message arrived
    heartbeat_products: set[str] = field(default_factory=set)  # Coinbase heartbeat channel
    incoming: deque[float] = field(default_factory=lambda: deque(maxlen=64))  # fake-clock s
    args_bytes: int = 0  # OKX: total length of the subscribed args
    tasks: list[asyncio.Task] = field(default_factory=list)


class FakeExchange:
    def __init__(self, clock, bases: Iterable[str] = ("BTC", "ETH", "SOL", "XRP", "DOGE")) -> None:
        self.clock = clock
        self.bases = list(bases)
        self.history: dict[str, list[TapeTrade]] = defaultdict(list)
        self.conns: dict[str, list[Conn]] = defaultdict(list)
        self.connections_total: dict[str, int] = defaultdict(int)
        self.rest_calls: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self.rest_queries: dict[str, list[tuple[str, dict[str, str]]]] = defaultdict(list)  # (path, query)
        self.agg_trade_pages = 0
        self.failures: dict[str, list[tuple[int, str]]] = defaultdict(list)  # (status, path fragment)
        self.rest_delay: dict[str, float] = defaultdict(float)
        self.stalled: set[str] = set()
        self.refuse_ws: set[str] = set()
        self.protocol_violations: list[str] = []
        self._changed = asyncio.Event()
        self._next_id = 1000
        self._runner: web.AppRunner | None = None
        self.port = 0
        # ---- fault switches (module docstring); all off by default
        self.faults: dict[str, FrameFaults] = {}
        self.skew_ms: dict[str, int] = defaultdict(int)
        self.keepalive_s: dict[str, float] = {}
        self.connection_lifetime_s: dict[str, float] = {}
        self.limits: set[str] = set()
        self.delisted: dict[str, set[str]] = defaultdict(set)
        self.binance_weight_limit: int | None = None
        # ---- observation
        self.connect_times: dict[str, list[int]] = defaultdict(list)  # local ms of accepted sockets
        self.refused_connects: dict[str, int] = defaultdict(int)
        self.subscribe_requests: dict[str, int] = defaultdict(int)  # subscribe messages, answered or refused
        self.rejections: dict[str, list[Any]] = defaultdict(list)  # rejection frames sent
        self.limit_answers: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # (local ms, path, kind)
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self.binance_weight: dict[int, int] = defaultdict(int)  # exchange minute -> weight used
        # ---- plumbing
        self._rate_limits: dict[str, list[tuple[RateLimitKind, str, float | None]]] = defaultdict(list)
        self._frame_counter: dict[str, int] = defaultdict(int)
        self._outbox: dict[str, list[tuple[float, int, str, str]]] = defaultdict(list)
        self._outbox_wake: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._workers: dict[str, asyncio.Task] = {}
        self._background: set[asyncio.Task] = set()
        self._connect_attempts: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=512))
        self._seq = itertools.count()
        self._heartbeat_seq = itertools.count(1)

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> FakeExchange:
        app = web.Application()
        app.router.add_route("GET", "/{exchange}/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        tasks = [*self._workers.values(), *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conns in self.conns.values():
            for conn in list(conns):
                await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def ccxt_settings(self, exchange: str) -> dict[str, Any]:
        return PROTOCOLS[exchange].ccxt_settings(f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}")

    # ------------------------------------------------------------ scripting

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_history(self, trades: Iterable[TapeTrade]) -> None:
        """Into each exchange's history, kept in (ts, id) order. A trade newer than the last is
        appended, an older one inserted: never a sort of the whole history per publish, whose
        cost grows with the run and, on a scaled clock, stalls the product sharing the loop."""
        for t in trades:
            history = self.history[t.exchange]
            if history and (t.ts, t.id) < (history[-1].ts, history[-1].id):
                bisect.insort(history, t, key=_order)
            else:
                history.append(t)

    async def publish(self, trades: list[TapeTrade]) -> int:
        """Record the trades and push them to subscribed sockets; returns frames sent (with
        frame faults on: frames queued, copies included)."""
        self.add_history(trades)
        sent = 0
        by_exchange: dict[str, list[TapeTrade]] = defaultdict(list)
        for t in trades:
            by_exchange[t.exchange].append(t)
        for exchange, group in by_exchange.items():
            if exchange in self.stalled:
                continue
            proto = PROTOCOLS[exchange]
            faults = self.faults.get(exchange)
            if faults is not None and faults.active:
                frames = [(_frame_market(exchange, f), orjson.dumps(f).decode()) for f in proto.frames(group)]
                sent += self._schedule(exchange, frames, faults)
                continue
            for frame in proto.frames(group):
                text = orjson.dumps(frame).decode()
                market = _frame_market(exchange, frame)
                sent += await self._deliver(exchange, market, text)
        return sent

    async def _deliver(self, exchange: str, market: str, text: str) -> int:
        sent = 0
        for conn in list(self.conns[exchange]):
            if market in conn.markets and not conn.ws.closed and not conn.muted and not self._silent(conn):
                try:
                    await conn.ws.send_str(text)
                    sent += 1
                except ConnectionError:  # closing under our feet: like a real drop
                    pass
        return sent

    def _schedule(self, exchange: str, frames: list[tuple[str, str]], faults: FrameFaults) -> int:
        """Frame faults: number the frames, swap, duplicate and delay them into the outbox."""
        numbered = []
        for market, text in frames:
            self._frame_counter[exchange] += 1
            numbered.append((self._frame_counter[exchange], market, text))
        if faults.swap_every:
            i = 0
            while i < len(numbered) - 1:
                if numbered[i][0] % faults.swap_every == 0:
                    numbered[i], numbered[i + 1] = numbered[i + 1], numbered[i]
                    i += 1
                i += 1
        now = self.clock.monotonic()
        queued = 0
        for n, market, text in numbered:
            delay = faults.latency_s + (faults.late_s if faults.late_every and n % faults.late_every == 0 else 0.0)
            copies = 2 if faults.duplicate_every and n % faults.duplicate_every == 0 else 1
            for _ in range(copies):
                heapq.heappush(self._outbox[exchange], (now + delay, next(self._seq), market, text))
                queued += 1
        worker = self._workers.get(exchange)
        if worker is None or worker.done():
            self._workers[exchange] = asyncio.create_task(self._send_outbox(exchange))
        self._outbox_wake[exchange].set()
        return queued

    async def _send_outbox(self, exchange: str) -> None:
        """Sends queued frames when due, in due order (then publish order); ends when empty."""
        heap = self._outbox[exchange]
        wake = self._outbox_wake[exchange]
        while heap:
            wait = heap[0][0] - self.clock.monotonic()
            if wait > 0:
                wake.clear()
                await _sleep_or_wake(self.clock, wait, wake)
                continue
            _, _, market, text = heapq.heappop(heap)
            await self._deliver(exchange, market, text)

    # ------------------------------------------------------------ fault switches

    def exchange_ms(self, exchange: str) -> int:
        """The exchange's clock: the local (test) clock plus `skew_ms[exchange]`."""
        return self.clock.wall_ms() + self.skew_ms[exchange]

    def mute(self, exchange: str, on: bool = True) -> None:
        """The current sockets' subscriptions go dead (no trade frames) or come back."""
        for conn in self.conns[exchange]:
            conn.muted = on

    def stall_from(self, exchange: str, at_ms: int) -> None:
        """The current sockets send nothing at all from exchange time `at_ms` on."""
        for conn in self.conns[exchange]:
            conn.stall_at_ms = at_ms

    def keepalive(self, exchange: str, every_s: float | None) -> None:
        """Keep-alives every `every_s` on every socket of `exchange` (None: off)."""
        if every_s is None:
            self.keepalive_s.pop(exchange, None)
            return
        self.keepalive_s[exchange] = every_s
        for conn in self.conns[exchange]:
            self._start_keepalive(conn)

    def enforce_limits(self, exchange: str, on: bool = True) -> None:
        (self.limits.add if on else self.limits.discard)(exchange)

    def delist(self, exchange: str, *bases: str) -> None:
        self.delisted[exchange].update(bases)

    def rate_limit(
        self, exchange: str, kind: RateLimitKind, times: int = 1, path: str = "", wait_s: float | None = None
    ) -> None:
        """The next `times` REST calls whose path contains `path` get the `kind` answer.
        `wait_s`: what the answer tells the client to wait (Retry-After, reset timestamp); None:
        Binance 429 until the next minute, 418 120 s, Bybit 1 s."""
        self._rate_limits[exchange].extend([(kind, path, wait_s)] * times)

    def drop_every(self, exchange: str, every_s: float, times: int) -> None:
        """Close every socket of `exchange` every `every_s`, `times` times (a reconnect storm)."""

        async def storm() -> None:
            for _ in range(times):
                await self.clock.sleep(every_s)
                await self.drop(exchange)

        self._spawn(storm())

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until `predicate()` holds, re-checked on every connection, subscription and REST call."""

        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    def _spawn(self, coroutine: Any) -> asyncio.Task:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _silent(self, conn: Conn) -> bool:
        return conn.stall_at_ms is not None and self.exchange_ms(conn.exchange) >= conn.stall_at_ms

    async def send_raw(self, exchange: str, text: str) -> None:
        for conn in list(self.conns[exchange]):
            if not conn.ws.closed:
                await conn.ws.send_str(text)

    async def drop(self, exchange: str) -> None:
        for conn in list(self.conns[exchange]):
            await conn.ws.close()

    def stall(self, exchange: str, on: bool = True) -> None:
        (self.stalled.add if on else self.stalled.discard)(exchange)

    def fail_rest(self, exchange: str, status: int, times: int = 1, path: str = "") -> None:
        self.failures[exchange].extend([(status, path)] * times)

    def subscribed(self, exchange: str) -> set[str]:
        return {m for conn in self.conns[exchange] if not conn.ws.closed for m in conn.markets}

    async def wait_subscribed(self, exchange: str, count: int, timeout: float = 10.0) -> None:
        async def until() -> None:
            while len(self.subscribed(exchange)) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    async def wait_connections(self, exchange: str, total: int, timeout: float = 10.0) -> None:
        async def until() -> None:
            while self.connections_total[exchange] < total:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    # ------------------------------------------------------------ HTTP

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        exchange = request.match_info["exchange"]
        path = "/" + request.match_info["path"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(exchange, request)
        self.rest_calls[exchange].append((self.clock.wall_ms(), path))
        self.rest_queries[exchange].append((path, dict(request.query)))
        self.in_flight[exchange] += 1
        self.max_in_flight[exchange] = max(self.max_in_flight[exchange], self.in_flight[exchange])
        self._changed.set()
        try:
            return await self._answer(exchange, path, request)
        finally:
            self.in_flight[exchange] -= 1
            self._changed.set()

    async def _answer(self, exchange: str, path: str, request: web.Request) -> web.StreamResponse:
        if self.rest_delay[exchange]:
            await asyncio.sleep(self.rest_delay[exchange])
        limited = self._rate_limit_answer(exchange, path)
        if limited is not None:
            return limited
        extra: dict[str, str] = {}
        if exchange == "binance":
            over, extra = self._binance_weigh(path)
            if over is not None:
                return over
        for i, (status, fragment) in enumerate(self.failures[exchange]):
            if fragment in path:
                del self.failures[exchange][i]
                return self._error(exchange, status)
        handler = getattr(self, f"_rest_{exchange}")
        body, headers = handler(path, request.query)
        if body is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=orjson.dumps(body), content_type="application/json", headers={**headers, **extra})

    def _rate_limit_answer(self, exchange: str, path: str) -> web.Response | None:
        for i, (kind, fragment, wait_s) in enumerate(self._rate_limits[exchange]):
            if fragment in path:
                del self._rate_limits[exchange][i]
                now = self.exchange_ms(exchange)
                if wait_s is None:
                    wait_s = {"binance-429": (MINUTE_MS - now % MINUTE_MS) / 1000, "binance-418": 120.0}.get(kind, 1.0)
                answer = F.rate_limit_answer(kind, now, wait_s)
                self.limit_answers[exchange].append((self.clock.wall_ms(), path, kind))
                return web.Response(
                    status=answer.status, text=answer.body, content_type=answer.content_type, headers=answer.headers
                )
        return None

    def _binance_weigh(self, path: str) -> tuple[web.Response | None, dict[str, str]]:
        """Binance's IP weight per minute (fixed minute windows, "LIMITS"): counted always,
        enforced with an HTTP 429 when `binance_weight_limit` is set."""
        weight = next((w for suffix, w in BINANCE_WEIGHTS.items() if path.endswith(suffix)), 1)
        now = self.exchange_ms("binance")
        minute = now // MINUTE_MS
        self.binance_weight[minute] += weight
        used = self.binance_weight[minute]
        limit = self.binance_weight_limit
        if limit is not None and used > limit:
            self.protocol_violations.append(f"binance: weight {used} > {limit} in minute {minute}")
            answer = F.rate_limit_answer("binance-429", now, (MINUTE_MS - now % MINUTE_MS) / 1000)
            self.limit_answers["binance"].append((self.clock.wall_ms(), path, "binance-429"))
            return web.Response(
                status=answer.status, text=answer.body, content_type=answer.content_type, headers=answer.headers
            ), {}
        return None, {"X-MBX-USED-WEIGHT-1M": str(used)}

    def _error(self, exchange: str, status: int) -> web.Response:
        if exchange == "binance" and status == 418:
            until = self.exchange_ms(exchange) + 120_000
            text = f'{{"code":-1003,"msg":"Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans."}}'
        elif status == 429:
            text = '{"code":-1003,"msg":"Too many requests; please use the websocket for live updates."}'
        else:
            text = "Service Unavailable"
        return web.Response(status=status, text=text, headers={"Retry-After": "5"})

    def _rest_binance(self, path: str, query) -> tuple[Any, dict]:
        if path.endswith("/exchangeInfo"):
            return PROTOCOLS["binance"].markets(self.bases), {}
        if path.endswith("/klines"):
            market = query["symbol"]
            trades = [t for t in self.history["binance"] if PROTOCOLS["binance"].market_id(t.symbol) == market]
            start, end = int(query["startTime"]), int(query["endTime"])
            end = min(end, (self.exchange_ms("binance") // MINUTE_MS) * MINUTE_MS + 59_999)  # no future candles
            window = [t for t in trades if start <= t.ts <= end]
            return PROTOCOLS["binance"].klines(window, start, end, int(query.get("limit", 500))), {}
        if path.endswith("/aggTrades"):
            return self._binance_agg_trades(query), {}
        if path.endswith("/trades"):  # recent trades, oldest first (Binance "Recent trades list")
            trades = self._binance_trades_of(query["symbol"])[-min(int(query.get("limit", 500)), 1000) :]
            return [PROTOCOLS["binance"].recent_trade_row(t) for t in trades], {}
        return None, {}

    def _binance_trades_of(self, market: str) -> list[TapeTrade]:
        return [t for t in self.history["binance"] if PROTOCOLS["binance"].market_id(t.symbol) == market]

    def _binance_agg_trades(self, query) -> list[dict]:
        """REST aggTrades as Binance pages them: a time range first, then by `fromId` alone; with
        neither, the most recent ones."""
        market = query["symbol"]
        trades = [t for t in self.history["binance"] if PROTOCOLS["binance"].market_id(t.symbol) == market]
        if "fromId" not in query and "startTime" not in query and "endTime" not in query:
            self.agg_trade_pages += 1
            return PROTOCOLS["binance"].agg_trades(trades[-min(int(query.get("limit", 500)), 1000) :])
        if "fromId" in query:
            if "startTime" in query or "endTime" in query:
                raise web.HTTPBadRequest(text='{"code":-1128,"msg":"Combination of optional parameters invalid."}')
            trades = [t for t in trades if t.id >= int(query["fromId"])]
        else:
            start, end = int(query["startTime"]), int(query["endTime"])
            trades = [t for t in trades if start <= t.ts <= end]
        self.agg_trade_pages += 1
        return PROTOCOLS["binance"].agg_trades(trades[: int(query.get("limit", 500))])

    def _rest_okx(self, path: str, query) -> tuple[Any, dict]:
        proto = PROTOCOLS["okx"]
        if path.endswith("/public/instruments"):
            return (
                proto.markets(self.bases) if query.get("instType") == "SPOT" else {"code": "0", "msg": "", "data": []}
            ), {}
        if path.endswith("/market/history-trades"):
            trades = [t for t in self.history["okx"] if proto.market_id(t.symbol) == query["instId"]]
            newest_first = sorted(trades, key=lambda t: t.id, reverse=True)
            if "after" in query:
                newest_first = [t for t in newest_first if t.id < int(query["after"])]
            limit = min(int(query.get("limit", 100)), 100)
            return {"code": "0", "msg": "", "data": [proto.history_row(t) for t in newest_first[:limit]]}, {}
        if path.endswith("/market/trades"):  # recent trades, newest first (OKX v5 "Get trades")
            trades = [t for t in self.history["okx"] if proto.market_id(t.symbol) == query.get("instId")]
            newest_first = sorted(trades, key=lambda t: t.id, reverse=True)[: min(int(query.get("limit", 100)), 500)]
            return {"code": "0", "msg": "", "data": [proto.recent_trade_row(t) for t in newest_first]}, {}
        return {"code": "0", "msg": "", "data": []}, {}

    def _rest_bybit(self, path: str, query) -> tuple[Any, dict]:
        if path.endswith("/market/instruments-info"):
            if query.get("category") == "spot":
                return PROTOCOLS["bybit"].markets(self.bases), {}
            return {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"category": query.get("category"), "list": [], "nextPageCursor": ""},
                "retExtInfo": {},
                "time": 0,
            }, {}
        if path.endswith("/market/recent-trade"):  # newest first, <= 60 on spot (Bybit v5)
            proto = PROTOCOLS["bybit"]
            trades = [t for t in self.history["bybit"] if proto.market_id(t.symbol) == query.get("symbol")]
            newest_first = sorted(trades, key=lambda t: t.id, reverse=True)[: min(int(query.get("limit", 60)), 60)]
            return {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"category": "spot", "list": [proto.recent_trade_row(t) for t in newest_first]},
                "retExtInfo": {},
                "time": self.exchange_ms("bybit"),
            }, {}
        return {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 0}, {}

    def _rest_coinbase(self, path: str, query) -> tuple[Any, dict]:
        proto = PROTOCOLS["coinbase"]
        if path == "/products":
            return proto.markets(self.bases), {}
        if path == "/currencies":
            return [], {}
        if path.startswith("/products/") and path.endswith("/trades"):
            product = path.split("/")[2]
            trades = [t for t in self.history["coinbase"] if proto.market_id(t.symbol) == product]
            newest_first = sorted(trades, key=lambda t: t.id, reverse=True)
            if "after" in query:
                newest_first = [t for t in newest_first if t.id < int(query["after"])]
            page = newest_first[: min(int(query.get("limit", 1000)), 1000)]
            headers = {"CB-AFTER": str(page[-1].id)} if page else {}
            return [proto.history_row(t) for t in page], headers
        return None, {}

    # ------------------------------------------------------------ WebSocket

    async def _websocket(self, exchange: str, request: web.Request) -> web.StreamResponse:
        if exchange in self.refuse_ws:
            return web.Response(status=503, text="unavailable")
        refusal = self._over_connect_limit(exchange)
        if refusal:
            self.protocol_violations.append(refusal)
            self.refused_connects[exchange] += 1
            return web.Response(status=429, text="Too Many Requests")
        # Protocol pings are answered here, not by aiohttp, so that a stalled socket stays silent
        # and Binance's incoming-message limit can count them.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Conn(exchange, ws)
        self.conns[exchange].append(conn)
        self.connections_total[exchange] += 1
        self.connect_times[exchange].append(self.clock.wall_ms())
        self._changed.set()
        self._start_connection_tasks(conn)
        try:
            async for message in ws:
                if message.type in (WSMsgType.PING, WSMsgType.PONG):
                    if self._over_incoming_limit(conn):
                        break
                    if message.type == WSMsgType.PING and not self._silent(conn):
                        await ws.pong(message.data)
                    continue
                if message.type != WSMsgType.TEXT or exchange in self.stalled or self._silent(conn):
                    continue
                if self._over_incoming_limit(conn):
                    break
                for reply in self._on_ws_text(conn, message.data):
                    await ws.send_str(reply if isinstance(reply, str) else orjson.dumps(reply).decode())
                self._changed.set()
        finally:
            for task in conn.tasks:
                task.cancel()
            self.conns[exchange].remove(conn)
            self._changed.set()
        if not ws.closed:
            await ws.close()
        return ws

    # ------------------------------------------------------------ WebSocket faults and limits

    def _over_connect_limit(self, exchange: str) -> str:
        """OKX: <= 3 connection requests per second; Binance: <= 300 per 5 minutes (per IP)."""
        if exchange not in self.limits:
            return ""
        now = self.clock.monotonic()
        attempts = self._connect_attempts[exchange]
        attempts.append(now)
        if exchange == "okx" and sum(1 for t in attempts if now - t < 1.0) > F.OKX_MAX_CONNECTS_PER_S:
            return "okx: more than 3 connection requests in one second"
        if exchange == "binance" and sum(1 for t in attempts if now - t < 300.0) > F.BINANCE_MAX_CONNECTS_PER_5MIN:
            return "binance: more than 300 connection attempts in 5 minutes"
        return ""

    def _over_incoming_limit(self, conn: Conn) -> bool:
        """Binance: more than 5 incoming messages in a second disconnects the client."""
        if conn.exchange != "binance" or "binance" not in self.limits:
            return False
        now = self.clock.monotonic()
        conn.incoming.append(now)
        if sum(1 for t in conn.incoming if now - t < 1.0) > F.BINANCE_MAX_INCOMING_PER_S:
            self.protocol_violations.append("binance: more than 5 incoming messages in one second")
            return True
        return False

    def _start_connection_tasks(self, conn: Conn) -> None:
        if conn.exchange in self.keepalive_s:
            self._start_keepalive(conn)
        lifetime = self.connection_lifetime_s.get(conn.exchange)
        if lifetime:
            conn.tasks.append(asyncio.create_task(self._close_after(conn, lifetime)))
        if conn.exchange == "coinbase" and "coinbase" in self.limits:
            conn.tasks.append(asyncio.create_task(self._subscribe_deadline(conn)))

    def _start_keepalive(self, conn: Conn) -> None:
        conn.tasks.append(asyncio.create_task(self._keepalive_loop(conn)))

    async def _keepalive_loop(self, conn: Conn) -> None:
        exchange = conn.exchange
        while not conn.ws.closed and exchange in self.keepalive_s:
            await self.clock.sleep(self.keepalive_s[exchange])
            if conn.ws.closed or self._silent(conn) or exchange in self.stalled:
                continue
            try:
                await self._send_keepalive(conn)
            except ConnectionError:
                return

    async def _send_keepalive(self, conn: Conn) -> None:
        exchange = conn.exchange
        if exchange == "binance":
            await conn.ws.ping()
        elif exchange == "okx":
            await conn.ws.send_str(F.okx_keepalive())
        elif exchange == "bybit":
            await conn.ws.send_str(orjson.dumps(F.bybit_keepalive()).decode())
        else:
            proto = PROTOCOLS["coinbase"]
            for product in sorted(conn.heartbeat_products):
                ids = [t.id for t in self.history["coinbase"] if proto.market_id(t.symbol) == product]
                beat = F.coinbase_heartbeat(
                    product, next(self._heartbeat_seq), max(ids, default=0), iso(self.exchange_ms(exchange))
                )
                await conn.ws.send_str(orjson.dumps(beat).decode())

    async def _close_after(self, conn: Conn, seconds: float) -> None:
        await self.clock.sleep(seconds)
        await conn.ws.close()

    async def _subscribe_deadline(self, conn: Conn) -> None:
        await self.clock.sleep(F.COINBASE_SUBSCRIBE_WITHIN_S)
        if not conn.subscribed and not conn.ws.closed:
            self.protocol_violations.append("coinbase: no subscribe within 5 s of connecting")
            await conn.ws.close()

    def _listed_on_ws(self, exchange: str, market_id: str) -> bool:
        base = market_id.split("-")[0] if exchange in ("okx", "coinbase") else market_id.removesuffix("USDT")
        return base in self.bases and base not in self.delisted[exchange]

    def _on_ws_text(self, conn: Conn, text: str) -> list[Any]:
        replies = self._answer_ws_text(conn, text)
        for reply in replies:
            if isinstance(reply, dict) and (
                reply.get("event") == "error" or reply.get("success") is False or reply.get("type") == "error"
            ):
                self.rejections[conn.exchange].append(reply)
        return replies

    def _answer_ws_text(self, conn: Conn, text: str) -> list[Any]:
        exchange = conn.exchange
        if text == "ping":
            return ["pong"]
        message = orjson.loads(text)
        if (
            message.get("method") == "SUBSCRIBE"
            or message.get("op") == "subscribe"
            or message.get("type") == "subscribe"
        ):
            self.subscribe_requests[exchange] += 1
        if exchange == "binance" and message.get("method") == "SUBSCRIBE":
            conn.subscribed = True
            streams = {p.split("@")[0].upper() for p in message["params"]}
            if "binance" in self.limits and len(conn.markets | streams) > F.BINANCE_MAX_STREAMS:
                self.protocol_violations.append(f"binance: {len(conn.markets | streams)} streams on one connection")
                return [F.binance_error(2, "Invalid request: too many parameters", message["id"])]
            # An unknown or delisted symbol is accepted without error, and sends nothing.
            conn.markets.update(s for s in streams if self._listed_on_ws(exchange, s))
            return [{"result": None, "id": message["id"]}]
        if exchange == "okx" and message.get("op") == "subscribe":
            conn.subscribed = True
            replies: list[Any] = []
            for a in message["args"]:
                if not self._listed_on_ws(exchange, a["instId"]):
                    replies.append(F.okx_unknown_instrument(a["instId"], "fake01"))
                    continue
                conn.args_bytes += len(orjson.dumps(a))
                if "okx" in self.limits and conn.args_bytes > F.OKX_MAX_ARGS_BYTES:
                    self.protocol_violations.append(f"okx: args of one connection total {conn.args_bytes} bytes")
                    replies.append(
                        {"event": "error", "code": "60012", "msg": f"Invalid request: {text[:200]}", "connId": "fake01"}
                    )
                    continue
                conn.markets.add(a["instId"])
                replies.append({"event": "subscribe", "arg": a, "connId": "fake01"})
            return replies
        if exchange == "bybit":
            if message.get("op") == "ping":
                return [
                    {
                        "success": True,
                        "ret_msg": "pong",
                        "conn_id": "fake",
                        "req_id": message.get("req_id", ""),
                        "op": "ping",
                    }
                ]
            if message.get("op") == "subscribe":
                args = message["args"]
                if len(args) > 10:
                    self.protocol_violations.append(f"bybit: {len(args)} args in one subscribe")
                    return [
                        {
                            "success": False,
                            "ret_msg": "args size >10",
                            "conn_id": "fake",
                            "req_id": message.get("req_id"),
                            "op": "subscribe",
                        }
                    ]
                unknown = [a for a in args if not self._listed_on_ws(exchange, a.split(".", 1)[1])]
                if unknown:
                    return [F.bybit_invalid_symbol(unknown, message.get("req_id"))]
                conn.subscribed = True
                conn.markets.update(a.split(".", 1)[1] for a in args)
                return [
                    {
                        "success": True,
                        "ret_msg": "subscribe",
                        "conn_id": "fake",
                        "req_id": message.get("req_id"),
                        "op": "subscribe",
                    }
                ]
        if exchange == "coinbase" and message.get("type") == "subscribe":
            conn.subscribed = True
            products = list(message.get("product_ids") or [])
            for channel in message.get("channels") or []:
                if isinstance(channel, dict):
                    products += [p for p in channel.get("product_ids", []) if p not in products]
            unknown = [p for p in products if not self._listed_on_ws(exchange, p)]
            if unknown:
                return [F.coinbase_invalid_product(unknown[0])]
            for channel in message.get("channels") or []:
                name = channel.get("name") if isinstance(channel, dict) else channel
                if name == "heartbeat":
                    own = channel.get("product_ids") if isinstance(channel, dict) else None
                    conn.heartbeat_products.update(own or products)
            conn.markets.update(message["product_ids"])
            replies = [
                {"type": "subscriptions", "channels": [{"name": "matches", "product_ids": message["product_ids"]}]}
            ]
            for product in message["product_ids"]:
                replies.append(
                    {
                        "type": "last_match",
                        "trade_id": 1,
                        "side": "buy",
                        "size": "1.0",
                        "price": "1.0",
                        "product_id": product,
                        "sequence": 1,
                        "time": iso(self.exchange_ms(exchange) - 5000),
                        "maker_order_id": "x",
                        "taker_order_id": "y",
                    }
                )
            return replies
        return []


async def _sleep_or_wake(clock: Any, seconds: float, wake: asyncio.Event) -> None:
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        waker.cancel()


def _order(t: TapeTrade) -> tuple[int, int]:
    return t.ts, t.id


def _frame_market(exchange: str, frame: dict) -> str:
    if exchange == "binance":
        return frame["s"]
    if exchange == "okx":
        return frame["arg"]["instId"]
    if exchange == "bybit":
        return frame["topic"].split(".", 1)[1]
    return frame["product_id"]


def make_tape(
    fake: FakeExchange, exchange: str, symbols: list[str], count: int, start_ms: int, end_ms: int, seed: int = 1
) -> list[TapeTrade]:
    """`count` trades spread over [start_ms, end_ms), values exact in binary floating point."""
    rng = random.Random(seed)
    stamps = sorted(rng.randrange(start_ms, end_ms) for _ in range(count))
    trades = [
        TapeTrade(
            exchange=exchange,
            symbol=rng.choice(symbols),
            ts=ts,
            side=rng.choice(("buy", "sell")),
            price=rng.randrange(20, 2000) / 2,
            amount=rng.randrange(1, 64) / 4,
            id=fake.new_id(),
        )
        for ts in stamps
    ]
    trades.sort(key=lambda t: (t.ts, t.id))
    return trades


def totals(trades: Iterable[TapeTrade]) -> dict[tuple[str, str], tuple[float, float]]:
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for t in trades:
        out[(t.exchange, t.symbol)][0 if t.side == "buy" else 1] += t.value
    return {k: (v[0], v[1]) for k, v in out.items()}
