"""A fake of the perp venues' public REST (Binance USDⓈ-M, OKX SWAP, Bybit linear) on 127.0.0.1,
spoken to by the REAL ccxt clients through URL overrides (`ccxt_settings(venue)`).

It answers the endpoints the perp adapters call, in each venue's documented shape:
- Binance: `/fapi/v1/openInterest` (one symbol; an unknown one gets the real -1121 answer),
  `/futures/data/openInterestHist`, `/fapi/v1/klines`; every answer carries the
  `X-MBX-USED-WEIGHT-1M` header of the weight counted in the current (fake) minute.
- OKX: `/api/v5/public/open-interest?instType=SWAP` (every swap in one answer, inverse ones
  included), `/api/v5/rubik/stat/contracts/open-interest-history` (rows, newest first).
- Bybit: `/v5/market/tickers?category=linear` (every linear ticker, stamped by the answer's
  `time`), `/v5/market/open-interest` (newest first).
Script it with `set_oi`, `add_oi_history`, `add_kline`, or `recorded[(venue, path)] = body` to
serve a recorded answer as it is; observe `requests` and `binance_weight`.

WebSocket (the paths ccxt.pro 4.5.90 opens): Binance `<ws>/market/ws/<n>` (aggTrade and
forceOrder streams; `SUBSCRIBE` answered `{"result": null, "id": n}`), OKX `<ws>/ws/v5/public`
(`subscribe` answered per arg), Bybit `<ws>/v5/public/linear` (`subscribe`, at most 10 args, as
Bybit enforces). `subscriptions(venue)` lists what was subscribed; `send(venue, frame)` pushes a
frame to every socket of the venue; `wait_for(predicate)` awaits a change.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web

MINUTE_MS = 60_000
# Binance USDⓈ-M REST weights, from each endpoint's documentation ("Request Weight").
BINANCE_WEIGHTS = {"/fapi/v1/openInterest": 1, "/futures/data/openInterestHist": 0, "/fapi/v1/exchangeInfo": 1}


def kline_weight(limit: int) -> int:
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


@dataclass(frozen=True)
class Kline:
    open_ms: int
    close: float
    quote_volume: float
    taker_buy_quote: float
    trades: int = 10


@dataclass
class PerpConn:
    venue: str
    path: str
    ws: web.WebSocketResponse
    subscribe_messages: list[dict[str, Any]] = field(default_factory=list)


class FakePerpExchange:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms  # the venues' clock: stamps answers, picks the weight minute
        self.oi: dict[tuple[str, str], tuple[int, float]] = {}  # (venue, market id) -> (ts, contracts)
        self.oi_history: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        self.klines: dict[str, list[Kline]] = defaultdict(list)  # binance market id -> rows
        self.recorded: dict[tuple[str, str], Any] = {}  # (venue, path) -> a recorded answer's body
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (venue, path, query)
        self.binance_weight: dict[int, int] = defaultdict(int)  # minute -> weight
        self.conns: list[PerpConn] = []  # the open sockets
        self.opened: list[PerpConn] = []  # every socket ever accepted (their subscriptions stay readable)
        self.violations: list[str] = []  # documented limits broken by the client
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> FakePerpExchange:
        app = web.Application()
        app.router.add_route("GET", "/{venue}/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for conn in list(self.conns):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def ccxt_settings(self, venue: str) -> dict[str, Any]:
        http = f"http://127.0.0.1:{self.port}/{venue}"
        ws = f"ws://127.0.0.1:{self.port}/{venue}"
        if venue == "binance":
            return {
                "urls": {
                    "api": {
                        "fapiPublic": f"{http}/fapi/v1",
                        "fapiPublicV2": f"{http}/fapi/v2",
                        "fapiData": f"{http}/futures/data",
                        "ws": {"linear": f"{ws}/ws"},
                    }
                }
            }
        if venue == "okx":
            return {"urls": {"api": {"rest": http, "ws": f"{ws}/ws/v5"}}}
        rest = {k: http for k in ("spot", "futures", "v2", "public", "private")}
        return {"urls": {"api": {**rest, "ws": {"public": {"linear": f"{ws}/v5/public/linear"}}}}}

    # ------------------------------------------------------------ scripting

    def set_oi(self, venue: str, market_id: str, ts: int, contracts: float) -> None:
        self.oi[(venue, market_id)] = (ts, contracts)

    def add_oi_history(self, venue: str, market_id: str, ts: int, contracts: float) -> None:
        self.oi_history[(venue, market_id)].append((ts, contracts))

    def add_kline(self, market_id: str, kline: Kline) -> None:
        self.klines[market_id].append(kline)

    def calls(self, venue: str, path: str) -> list[dict[str, str]]:
        return [q for v, p, q in self.requests if v == venue and p == path]

    def subscriptions(self, venue: str) -> list[dict[str, Any]]:
        return [m for c in self.opened if c.venue == venue for m in c.subscribe_messages]

    async def send(self, venue: str, frame: Any) -> int:
        """Push `frame` to every socket of `venue`; returns how many got it."""
        text = frame if isinstance(frame, str) else orjson.dumps(frame).decode()
        sent = 0
        for conn in self.conns:
            if conn.venue == venue and not conn.ws.closed:
                await conn.ws.send_str(text)
                sent += 1
        return sent

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)

    def changed(self) -> None:
        """Wake `wait_for` (tests call it when something they watch changed outside the fake)."""
        self._changed.set()

    # ------------------------------------------------------------ HTTP

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        venue = request.match_info["venue"]
        path = "/" + request.match_info["path"]
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(venue, path, request)
        query = dict(request.query)
        self.requests.append((venue, path, query))
        headers: dict[str, str] = {}
        if venue == "binance":
            weight = (
                kline_weight(int(query.get("limit", 500))) if path.endswith("/klines") else BINANCE_WEIGHTS.get(path, 1)
            )
            minute = self.now_ms // MINUTE_MS
            self.binance_weight[minute] += weight
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.binance_weight[minute])
        if (venue, path) in self.recorded:
            status, body = 200, self.recorded[(venue, path)]
        else:
            status, body = getattr(self, f"_{venue}")(path, query)
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)

    def _binance(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        symbol = query.get("symbol", "")
        if path == "/fapi/v1/openInterest":
            known = self.oi.get(("binance", symbol))
            if known is None:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            ts, contracts = known
            return 200, {"openInterest": f"{contracts:.3f}", "symbol": symbol, "time": ts}
        if path == "/futures/data/openInterestHist":
            start, end = int(query.get("startTime", 0)), int(query.get("endTime", 1 << 62))
            rows = sorted(r for r in self.oi_history[("binance", symbol)] if start <= r[0] <= end)
            rows = rows[-int(query.get("limit", 30)) :]
            return 200, [
                {
                    "symbol": symbol,
                    "sumOpenInterest": f"{oi:.8f}",
                    "sumOpenInterestValue": f"{oi * 50_000:.8f}",
                    "timestamp": ts,
                }
                for ts, oi in rows
            ]
        if path == "/fapi/v1/klines":
            start, end = int(query["startTime"]), int(query["endTime"])
            rows = [k for k in self.klines[symbol] if start <= k.open_ms <= end][: int(query.get("limit", 500))]
            return 200, [
                [
                    k.open_ms,
                    str(k.close),
                    str(k.close),
                    str(k.close),
                    str(k.close),
                    "1.0",
                    k.open_ms + MINUTE_MS - 1,
                    str(k.quote_volume),
                    k.trades,
                    "0.5",
                    str(k.taker_buy_quote),
                    "0",
                ]
                for k in rows
            ]
        return 404, {"code": -5000, "msg": "Path not found"}

    def _okx(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/api/v5/public/open-interest" and query.get("instType") == "SWAP":
            data = [
                {
                    "instId": market_id,
                    "instType": "SWAP",
                    "oi": repr(contracts),
                    "oiCcy": "0",
                    "oiUsd": "0",
                    "ts": str(ts),
                }
                for (venue, market_id), (ts, contracts) in self.oi.items()
                if venue == "okx"
            ]
            return 200, {"code": "0", "data": data, "msg": ""}
        if path == "/api/v5/rubik/stat/contracts/open-interest-history":
            begin, end = int(query.get("begin", 0)), int(query.get("end", 1 << 62))
            rows = sorted((r for r in self.oi_history[("okx", query["instId"])] if begin <= r[0] <= end), reverse=True)
            data = [[str(ts), repr(oi), "0", "0"] for ts, oi in rows[: int(query.get("limit", 100))]]
            return 200, {"code": "0", "data": data, "msg": ""}
        return 404, {"code": "50014", "msg": "not found", "data": []}

    def _bybit(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path == "/v5/market/tickers" and query.get("category") == "linear":
            tickers = [
                {
                    "symbol": market_id,
                    "lastPrice": "1.0",
                    "openInterest": repr(contracts),
                    "openInterestValue": "0",
                    "fundingRate": "0.0001",
                }
                for (venue, market_id), (_ts, contracts) in self.oi.items()
                if venue == "bybit"
            ]
            result = {"category": "linear", "list": tickers}
            return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now_ms}
        if path == "/v5/market/open-interest":
            start, end = int(query.get("startTime", 0)), int(query.get("endTime", 1 << 62))
            rows = sorted(
                (r for r in self.oi_history[("bybit", query["symbol"])] if start <= r[0] <= end), reverse=True
            )
            result = {
                "symbol": query["symbol"],
                "category": "linear",
                "list": [
                    {"openInterest": repr(oi), "timestamp": str(ts)} for ts, oi in rows[: int(query.get("limit", 50))]
                ],
                "nextPageCursor": "",
            }
            return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now_ms}
        return 404, {"retCode": 10001, "retMsg": "not found", "result": {}, "retExtInfo": {}, "time": self.now_ms}

    # ------------------------------------------------------------ WebSocket

    async def _websocket(self, venue: str, path: str, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = PerpConn(venue, path, ws)
        self.conns.append(conn)
        self.opened.append(conn)
        self._changed.set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                for reply in self._answer(conn, message.data):
                    await ws.send_str(reply if isinstance(reply, str) else orjson.dumps(reply).decode())
                self._changed.set()
        finally:
            self.conns.remove(conn)
            self._changed.set()
        return ws

    def _answer(self, conn: PerpConn, text: str) -> list[Any]:
        if text == "ping":  # OKX's keep-alive
            return ["pong"]
        message = orjson.loads(text)
        if conn.venue == "binance" and message.get("method") == "SUBSCRIBE":
            conn.subscribe_messages.append(message)
            return [{"result": None, "id": message["id"]}]
        if conn.venue == "okx" and message.get("op") == "subscribe":
            conn.subscribe_messages.append(message)
            return [{"event": "subscribe", "arg": a, "connId": "fake01"} for a in message["args"]]
        if conn.venue == "bybit":
            op, req_id = message.get("op"), message.get("req_id", "")
            if op == "ping":
                return [{"success": True, "ret_msg": "pong", "conn_id": "fake", "req_id": req_id, "op": "ping"}]
            if op == "subscribe":
                conn.subscribe_messages.append(message)
                if len(message["args"]) > 10:
                    self.violations.append(f"bybit: {len(message['args'])} args in one subscribe")
                    return [
                        {"success": False, "ret_msg": "args size >10", "conn_id": "fake", "req_id": req_id, "op": op}
                    ]
                return [{"success": True, "ret_msg": "", "conn_id": "fake", "req_id": req_id, "op": op}]
        return []
