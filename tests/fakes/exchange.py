"""A fake of Binance, OKX, Bybit and Coinbase (Exchange API) on 127.0.0.1, one aiohttp server for
all four, spoken to by the REAL ccxt clients through `[exchanges.<id>.ccxt]` URL overrides.

Scriptable: `publish()` a tape of trades (history for REST + WebSocket frames to subscribers),
`drop()` every connection, `stall()` (socket open, nothing sent, pings unanswered), `send_raw()`
malformed frames, `fail_rest()` with HTTP 429/418/503, `rest_delay` for slow responses. Trade
timestamps come from the test's clock, so a ScaledClock runs minutes in milliseconds.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes.exchange_protocols import MINUTE_MS, PROTOCOLS, TapeTrade, iso


@dataclass
class Conn:
    exchange: str
    ws: web.WebSocketResponse
    markets: set[str] = field(default_factory=set)


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
        for t in trades:
            self.history[t.exchange].append(t)
        for exchange in self.history:
            self.history[exchange].sort(key=lambda t: (t.ts, t.id))

    async def publish(self, trades: list[TapeTrade]) -> int:
        """Record the trades and push them to subscribed sockets; returns frames sent."""
        self.add_history(trades)
        sent = 0
        by_exchange: dict[str, list[TapeTrade]] = defaultdict(list)
        for t in trades:
            by_exchange[t.exchange].append(t)
        for exchange, group in by_exchange.items():
            if exchange in self.stalled:
                continue
            proto = PROTOCOLS[exchange]
            for frame in proto.frames(group):
                text = orjson.dumps(frame).decode()
                market = _frame_market(exchange, frame)
                for conn in list(self.conns[exchange]):
                    if market in conn.markets and not conn.ws.closed:
                        try:
                            await conn.ws.send_str(text)
                            sent += 1
                        except ConnectionError:  # closing under our feet: like a real drop
                            pass
        return sent

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
        if self.rest_delay[exchange]:
            await asyncio.sleep(self.rest_delay[exchange])
        for i, (status, fragment) in enumerate(self.failures[exchange]):
            if fragment in path:
                del self.failures[exchange][i]
                return self._error(exchange, status)
        handler = getattr(self, f"_rest_{exchange}")
        body, headers = handler(path, request.query)
        if body is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=orjson.dumps(body), content_type="application/json", headers=headers)

    def _error(self, exchange: str, status: int) -> web.Response:
        if exchange == "binance" and status == 418:
            until = self.clock.wall_ms() + 120_000
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
            end = min(end, (self.clock.wall_ms() // MINUTE_MS) * MINUTE_MS + 59_999)  # no future candles
            window = [t for t in trades if start <= t.ts <= end]
            return PROTOCOLS["binance"].klines(window, start, end, int(query.get("limit", 500))), {}
        if path.endswith("/aggTrades"):
            return self._binance_agg_trades(query), {}
        return None, {}

    def _binance_agg_trades(self, query) -> list[dict]:
        """REST aggTrades as Binance pages them: a time range first, then by `fromId` alone."""
        market = query["symbol"]
        trades = [t for t in self.history["binance"] if PROTOCOLS["binance"].market_id(t.symbol) == market]
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
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Conn(exchange, ws)
        self.conns[exchange].append(conn)
        self.connections_total[exchange] += 1
        self._changed.set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT or exchange in self.stalled:
                    continue
                for reply in self._on_ws_text(conn, message.data):
                    await ws.send_str(reply if isinstance(reply, str) else orjson.dumps(reply).decode())
                self._changed.set()
        finally:
            self.conns[exchange].remove(conn)
            self._changed.set()
        return ws

    def _on_ws_text(self, conn: Conn, text: str) -> list[Any]:
        exchange = conn.exchange
        if text == "ping":
            return ["pong"]
        message = orjson.loads(text)
        if exchange == "binance" and message.get("method") == "SUBSCRIBE":
            conn.markets.update(p.split("@")[0].upper() for p in message["params"])
            return [{"result": None, "id": message["id"]}]
        if exchange == "okx" and message.get("op") == "subscribe":
            conn.markets.update(a["instId"] for a in message["args"])
            return [{"event": "subscribe", "arg": a, "connId": "fake01"} for a in message["args"]]
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
            conn.markets.update(message["product_ids"])
            replies: list[Any] = [
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
                        "time": iso(self.clock.wall_ms() - 5000),
                        "maker_order_id": "x",
                        "taker_order_id": "y",
                    }
                )
            return replies
        return []


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
