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

Markets (what ccxt's load_markets reads: Binance `/fapi/v1/exchangeInfo`, OKX
`/api/v5/public/instruments?instType=SWAP`, Bybit `/v5/market/instruments-info?category=linear`),
built from the venues' recorded BTC entries (../shared/fixtures/ccxt/*.markets.json) for every
base of `bases`; `listing[(venue, base)]` renames one (`1000PEPE`); OKX contract sizes are the
real ones (BTC 0.01, ETH 0.1, XRP 100, DOGE 1000, else 1). Recent trades for the liveness check
(Binance `/fapi/v1/trades`, OKX `/api/v5/market/trades`, Bybit `/v5/market/recent-trade`), and
Binance klines made from the published trades when none are scripted.

A live market: `publish(trades)` (PerpTapeTrade, in the venue's own units: listing price,
contracts) records them and sends each venue's trade frames to the sockets subscribed to them;
`liquidate(...)` sends a liquidation frame in the venue's shape to the sockets on its feed.

Hostile, as the venues are (all off by default): `rate_limit(venue, kind, times, path, wait_s)`
(the real over-limit answers of tests/fakes/faults.py), `binance_weight_limit` (HTTP 429 beyond
it), `refuse_ws` (handshakes answered 503), `drop(venue)` (every socket closed),
`keepalive(venue, every_s)` (keep-alives without data: Binance protocol pings, OKX `pong`, Bybit's
ping answer), `stall(venue)` (the current sockets stay open, nothing at all sent, pings unanswered).
The clock: a Clock (ScaledClock in live runs) or a fixed `now_ms`.

Coinbase Advanced Trade (ccxt `coinbase`, the US perp-style futures; REST `<http>/api/v3/...`,
`/v2/...`; WS `<ws>/ws`): `GET /api/v3/brokerage/market/products` (spot: none listed;
`product_type=FUTURE`: the CDE perp-style futures, `BIP-20DEC30-CDE` "BTC PERP" and the like, in
the shape ccxt documents, with `future_product_details.contract_size` and `.open_interest` in
contracts), `/market/products/{id}/ticker` (trades newest first, `limit` required, `start` / `end` in
whole seconds, both inclusive), the v2 currency
lists ccxt's load_markets reads; every answer's `Date` header follows the fake's clock. On the
socket: `{"type": "subscribe", "product_ids": [...], "channel": "market_trades"}` (ONE channel per
message, as Coinbase wants; `channels` is refused) is answered with a `snapshot` event of the
products' recent trades (newest first, as the recorded frames), then a `subscriptions` frame;
`heartbeats` get a heartbeat every `heartbeat_s` (1 s); every frame carries the connection's
`sequence_num`. Trades go out as `update` events whose `side` is the MAKER's (a taker buy prints
"SELL"; see gme_tui/sources/perp/coinbase_futures.py). Hostile: `duplicate_frames(venue, times)`
sends each trade frame `times` times, `drop`/`stall`/`refuse_ws` as for the others, and a socket
with no subscribe within 5 s of connecting is closed (Coinbase's rule).

WebSocket (the paths ccxt.pro 4.5.90 opens): Binance `<ws>/market/ws/<n>` (aggTrade and
forceOrder streams; `SUBSCRIBE` answered `{"result": null, "id": n}`), OKX `<ws>/ws/v5/public`
(`subscribe` answered per arg), Bybit `<ws>/v5/public/linear` (`subscribe`, at most 10 args, as
Bybit enforces). `subscriptions(venue)` lists what was subscribed; `send(venue, frame)` pushes a
frame to every socket of the venue; `wait_for(predicate)` awaits a change.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any, Literal

import orjson
from aiohttp import WSMsgType, web

from tests.fakes import faults as F
from tests.fakes.faults import RateLimitKind

MINUTE_MS = 60_000
# Binance USDⓈ-M REST weights, from each endpoint's documentation ("Request Weight").
BINANCE_WEIGHTS = {
    "/fapi/v1/openInterest": 1,
    "/futures/data/openInterestHist": 0,
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v1/trades": 5,
}
OKX_CONTRACT_SIZES = {"BTC": 0.01, "ETH": 0.1, "XRP": 100.0, "DOGE": 1000.0}  # OKX ctVal, as listed
# Coinbase Derivatives' nano perp-style futures: product code and contract size (base units per
# contract; BTC's 0.01 is ccxt's recorded "Nano Bitcoin"; the others as listed, verify before use)
COINBASE_CDE = {"BTC": ("BIP", 0.01), "ETH": ("ETP", 0.1), "SOL": ("SLP", 5.0), "XRP": ("XPP", 500.0),
                "DOGE": ("DOP", 5000.0)}  # fmt: skip
Venue = Literal["binance", "okx", "bybit", "coinbase"]

# The venues' recorded BTC entries (ccxt's test data, ../shared/fixtures/ccxt/*.markets.json): the
# template of every listed market, renamed per base.
_BINANCE_BTC: dict[str, Any] = {
    "symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL", "deliveryDate": "4133404800000",
    "onboardDate": "1569398400000", "status": "TRADING", "maintMarginPercent": "2.5000",
    "requiredMarginPercent": "5.0000", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
    "pricePrecision": "2", "quantityPrecision": "3", "baseAssetPrecision": "8", "quotePrecision": "8",
    "underlyingType": "COIN", "underlyingSubType": ["PoW"], "settlePlan": "0", "triggerProtect": "0.0500",
    "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": "10000",
    "filters": [
        {"tickSize": "0.10", "minPrice": "556.80", "filterType": "PRICE_FILTER", "maxPrice": "4529764"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
        {"stepSize": "0.001", "maxQty": "120", "minQty": "0.001", "filterType": "MARKET_LOT_SIZE"},
        {"limit": "200", "filterType": "MAX_NUM_ORDERS"},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": "10"},
        {"filterType": "MIN_NOTIONAL", "notional": "5"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDecimal": "4", "multiplierDown": "0.9500"},
    ],
    "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                   "TRAILING_STOP_MARKET"],
    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
}  # fmt: skip
_OKX_BTC: dict[str, Any] = {
    "alias": "", "baseCcy": "", "category": "1", "ctMult": "1", "ctType": "linear", "ctVal": "0.01",
    "ctValCcy": "BTC", "expTime": "", "instFamily": "BTC-USDT", "instId": "BTC-USDT-SWAP", "instType": "SWAP",
    "lever": "100", "listTime": "1611916828000", "lotSz": "0.1", "maxIcebergSz": "100000000.0000000000000000",
    "maxLmtAmt": "20000000", "maxLmtSz": "100000000", "maxMktAmt": "", "maxMktSz": "12000", "maxStopSz": "12000",
    "maxTriggerSz": "100000000.0000000000000000", "maxTwapSz": "100000000.0000000000000000", "minSz": "0.1",
    "optType": "", "quoteCcy": "", "ruleType": "normal", "settleCcy": "USDT", "state": "live", "stk": "",
    "tickSz": "0.1", "uly": "BTC-USDT",
}  # fmt: skip
_BYBIT_BTC: dict[str, Any] = {
    "symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
    "quoteCoin": "USDT", "launchTime": "1584230400000", "deliveryTime": "0", "deliveryFeeRate": "",
    "priceScale": "2", "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
    "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
    "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                      "postOnlyMaxOrderQty": "1190.000", "maxMktOrderQty": "119.000", "minNotionalValue": "5"},
    "unifiedMarginTrade": True, "fundingInterval": "480", "settleCoin": "USDT", "copyTrading": "both",
    "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
    "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}, "displayName": "",
}  # fmt: skip
# A Coinbase Derivatives perp-style future as Advanced Trade lists it (ccxt 4.5.90's documented
# `BIT-26APR24-CDE` entry, with what its parser reads to call it a swap: funding interval, PERP name).
_COINBASE_CDE: dict[str, Any] = {
    "product_id": "BIP-20DEC30-CDE", "price": "63310", "price_percentage_change_24h": "-0.3",
    "volume_24h": "108549", "volume_percentage_change_24h": "155.7", "base_increment": "1",
    "quote_increment": "0.01", "quote_min_size": "0", "quote_max_size": "100000000", "base_min_size": "1",
    "base_max_size": "100000000", "base_name": "", "quote_name": "US Dollar", "watched": False,
    "is_disabled": False, "new": False, "status": "", "cancel_only": False, "limit_only": False,
    "post_only": False, "trading_disabled": False, "auction_mode": False, "product_type": "FUTURE",
    "quote_currency_id": "USD", "base_currency_id": "",
    "fcm_trading_session_details": {"is_session_open": True, "open_time": "2026-12-06T18:00:00Z",
                                    "close_time": "2026-12-07T17:00:00Z"},
    "mid_market_price": "63310", "alias": "", "alias_to": [], "base_display_symbol": "",
    "quote_display_symbol": "USD", "view_only": False, "price_increment": "5", "display_name": "BTC PERP",
    "product_venue": "FCM",
    "future_product_details": {
        "venue": "cde", "contract_code": "BIP", "contract_expiry": "2030-12-20T16:00:00Z", "contract_size": "0.01",
        "contract_root_unit": "BTC", "group_description": "Nano Bitcoin Perp Style Futures",
        "contract_expiry_timezone": "Europe/London", "group_short_description": "Nano BTC",
        "risk_managed_by": "MANAGED_BY_FCM", "contract_expiry_type": "EXPIRING", "contract_display_name": "BTC PERP",
        "funding_interval": "3600s", "funding_rate": "0.000004", "funding_time": "2026-12-06T22:00:00Z",
        "open_interest": "0",
    },
}  # fmt: skip


@dataclass(frozen=True)
class PerpTapeTrade:
    """One trade as the venue publishes it: `price` per listing unit, `contracts` in the venue's
    amount unit (OKX and Coinbase contracts; Binance and Bybit the listing's base)."""

    venue: str
    market_id: str
    ts: int
    side: Literal["buy", "sell"]
    price: float
    contracts: float
    id: int


class _FixedClock:
    """The fake's clock when a test gives a fixed `now_ms`: sleeps are real."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def wall_ms(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


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
    trades: set[str] = field(default_factory=set)  # market ids whose trades it subscribed
    liquidations: set[str] = field(default_factory=set)  # market ids, or "*" (all-market feeds)
    stalled: bool = False  # sends nothing at all (stall())
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sequence: int = 0  # Coinbase: the next sequence_num of this connection
    heartbeats: bool = False  # Coinbase: subscribed to heartbeats
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)  # Coinbase: a subscribe came


class FakePerpExchange:
    def __init__(self, clock: Any, bases: Iterable[str] = ("BTC", "ETH", "SOL", "XRP", "DOGE")) -> None:
        """`clock`: a Clock (wall_ms, sleep) or a fixed time in ms (then `now_ms` may be set)."""
        self.clock = _FixedClock(clock) if isinstance(clock, int) else clock
        self.bases = list(bases)
        self.listing: dict[tuple[str, str], str] = {}  # (venue, base) -> the listing's base, e.g. "1000PEPE"
        self.history: dict[str, list[PerpTapeTrade]] = defaultdict(list)  # venue -> trades, oldest first
        self.connections_total: dict[str, int] = defaultdict(int)
        self.limit_answers: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # (ms, path, kind)
        self.refuse_ws: set[str] = set()
        self.keepalive_s: dict[str, float] = {}
        self.binance_weight_limit: int | None = None
        self._rate_limits: dict[str, list[tuple[RateLimitKind, str, float | None]]] = defaultdict(list)
        self._next_id = 5000
        self.oi: dict[tuple[str, str], tuple[int, float]] = {}  # (venue, market id) -> (ts, contracts)
        self.oi_history: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        self.klines: dict[str, list[Kline]] = defaultdict(list)  # binance market id -> rows
        self.recorded: dict[tuple[str, str], Any] = {}  # (venue, path) -> a recorded answer's body
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (venue, path, query)
        self.request_ms: list[int] = []  # the venues' clock at each of `requests`
        self.binance_weight: dict[int, int] = defaultdict(int)  # minute -> weight
        self.conns: list[PerpConn] = []  # the open sockets
        self.opened: list[PerpConn] = []  # every socket ever accepted (their subscriptions stay readable)
        self.violations: list[str] = []  # documented limits broken by the client
        self._changed = asyncio.Event()
        self.duplicates: dict[str, int] = {}  # venue -> times each trade frame is sent
        self.heartbeat_s = 1.0  # Coinbase: a heartbeat a second
        self.subscribe_deadline_s = 5.0  # Coinbase: subscribe within 5 s or the socket is closed
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
            for task in conn.tasks:
                task.cancel()
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def now_ms(self) -> int:
        """The venues' clock: stamps answers, picks the weight minute."""
        return int(self.clock.wall_ms())

    @now_ms.setter
    def now_ms(self, value: int) -> None:
        if not isinstance(self.clock, _FixedClock):
            raise TypeError("now_ms follows the clock given: set it on a fake made with a fixed time")
        self.clock.now = value

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
        if venue == "coinbase":
            return {"urls": {"api": {"rest": http, "ws": f"{ws}/ws"}}}
        rest = {k: http for k in ("spot", "futures", "v2", "public", "private")}
        return {"urls": {"api": {**rest, "ws": {"public": {"linear": f"{ws}/v5/public/linear"}}}}}

    # ------------------------------------------------------------ scripting

    def set_oi(self, venue: str, market_id: str, ts: int, contracts: float) -> None:
        self.oi[(venue, market_id)] = (ts, contracts)

    def add_oi_history(self, venue: str, market_id: str, ts: int, contracts: float) -> None:
        self.oi_history[(venue, market_id)].append((ts, contracts))

    def add_kline(self, market_id: str, kline: Kline) -> None:
        self.klines[market_id].append(kline)

    # ------------------------------------------------------------ markets and trades

    def listing_base(self, venue: str, base: str) -> str:
        return self.listing.get((venue, base), base)

    def market_id(self, venue: str, base: str) -> str:
        listed = self.listing_base(venue, base)
        if venue == "coinbase":
            return f"{COINBASE_CDE.get(listed, (listed[:2] + 'P', 1.0))[0]}-20DEC30-CDE"
        return f"{listed}-USDT-SWAP" if venue == "okx" else f"{listed}USDT"

    def contract_size(self, venue: str, base: str) -> float:
        if venue == "coinbase":
            return COINBASE_CDE.get(self.listing_base(venue, base), ("", 1.0))[1]
        return OKX_CONTRACT_SIZES.get(base, 1.0) if venue == "okx" else 1.0

    def duplicate_frames(self, venue: str, times: int) -> None:
        """Each trade frame of `venue` is sent `times` times from now on (1: once)."""
        self.duplicates[venue] = times

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def trade(
        self, venue: str, base: str, ts: int, side: Literal["buy", "sell"], price: float, contracts: float
    ) -> PerpTapeTrade:
        return PerpTapeTrade(venue, self.market_id(venue, base), ts, side, price, contracts, self.new_id())

    async def publish(self, trades: Iterable[PerpTapeTrade]) -> int:
        """Record the trades and send them to the sockets subscribed to them; returns frames sent."""
        sent = 0
        for t in trades:
            self.history[t.venue].append(t)
            frame = _trade_frame(t)
            for conn in list(self.conns):
                if conn.venue == t.venue and t.market_id in conn.trades and not self._silent(conn):
                    for _ in range(self.duplicates.get(t.venue, 1)):
                        sent += await _send(conn, _sequenced(conn, frame))
        self._changed.set()
        return sent

    async def liquidate(
        self, venue: str, base: str, ts: int, position: Literal["long", "short"], price: float, contracts: float
    ) -> int:
        """A forced liquidation of a `position`, sent in the venue's shape to the sockets on its
        liquidation feed (Binance and OKX name the ORDER's side, Bybit the position's). Coinbase
        has no public liquidation feed."""
        if venue == "coinbase":
            raise ValueError("Coinbase publishes no liquidations")
        market_id = self.market_id(venue, base)
        frame = _liquidation_frame(venue, market_id, ts, position, price, contracts)
        sent = 0
        for conn in list(self.conns):
            if conn.venue == venue and ({"*", market_id} & conn.liquidations) and not self._silent(conn):
                sent += await _send(conn, frame)
        self._changed.set()
        return sent

    def subscribed(self, venue: str) -> set[str]:
        """Market ids whose trades an open socket of `venue` subscribed."""
        return {m for c in self.conns if c.venue == venue and not c.ws.closed for m in c.trades}

    def on_liquidations(self, venue: str) -> bool:
        return any(c.liquidations for c in self.conns if c.venue == venue and not c.ws.closed)

    # ------------------------------------------------------------ fault switches

    def rate_limit(
        self, venue: str, kind: RateLimitKind, times: int = 1, path: str = "", wait_s: float | None = None
    ) -> None:
        """The next `times` REST calls of `venue` whose path contains `path` get the `kind` answer."""
        self._rate_limits[venue].extend([(kind, path, wait_s)] * times)

    async def drop(self, venue: str) -> None:
        for conn in list(self.conns):
            if conn.venue == venue:
                await conn.ws.close()

    def stall(self, venue: str) -> None:
        """The current sockets of `venue` stay open but send nothing at all from now on (no data, no
        keep-alives, no answers, pings unanswered): a half-dead connection. Sockets opened later
        work (what a reconnect finds)."""
        for conn in self.conns:
            if conn.venue == venue:
                conn.stalled = True

    def keepalive(self, venue: str, every_s: float | None) -> None:
        """Keep-alives without data every `every_s` on every socket of `venue` (None: off)."""
        if every_s is None:
            self.keepalive_s.pop(venue, None)
            return
        self.keepalive_s[venue] = every_s
        for conn in self.conns:
            if conn.venue == venue:
                conn.tasks.append(asyncio.create_task(self._keepalive_loop(conn)))

    def _silent(self, conn: PerpConn) -> bool:
        return conn.stalled or conn.ws.closed

    async def _keepalive_loop(self, conn: PerpConn) -> None:
        while not conn.ws.closed and conn.venue in self.keepalive_s:
            await self.clock.sleep(self.keepalive_s[conn.venue])
            if self._silent(conn):
                continue
            try:
                if conn.venue == "coinbase":
                    await conn.ws.send_str(orjson.dumps(_sequenced(conn, _heartbeat(self.now_ms))).decode())
                elif conn.venue == "binance":
                    await conn.ws.ping()
                elif conn.venue == "okx":
                    await conn.ws.send_str(F.okx_keepalive())
                else:
                    await conn.ws.send_str(orjson.dumps(F.bybit_keepalive()).decode())
            except ConnectionError:
                return

    def calls_per_minute(self, venue: str, path: str) -> dict[int, int]:
        """Calls of `path` per minute of the venues' clock."""
        out: dict[int, int] = defaultdict(int)
        for (v, p, _q), ms in zip(self.requests, self.request_ms, strict=True):
            if v == venue and p == path:
                out[ms // MINUTE_MS] += 1
        return dict(out)

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
        self.request_ms.append(self.now_ms)
        self._changed.set()
        limited = self._rate_limit_answer(venue, path)
        if limited is not None:
            return limited
        headers: dict[str, str] = {}
        if venue == "coinbase":
            headers["Date"] = formatdate(self.now_ms / 1000, usegmt=True)
        if venue == "binance":
            weight = (
                kline_weight(int(query.get("limit", 500))) if path.endswith("/klines") else BINANCE_WEIGHTS.get(path, 1)
            )
            minute = self.now_ms // MINUTE_MS
            self.binance_weight[minute] += weight
            used = self.binance_weight[minute]
            if self.binance_weight_limit is not None and used > self.binance_weight_limit:
                self.violations.append(f"binance: weight {used} > {self.binance_weight_limit} in minute {minute}")
                return self._limit_response(
                    "binance", path, "binance-429", (MINUTE_MS - self.now_ms % MINUTE_MS) / 1000
                )
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        if (venue, path) in self.recorded:
            status, body = 200, self.recorded[(venue, path)]
        else:
            status, body = getattr(self, f"_{venue}")(path, query)
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)

    def _rate_limit_answer(self, venue: str, path: str) -> web.Response | None:
        for i, (kind, fragment, wait_s) in enumerate(self._rate_limits[venue]):
            if fragment in path:
                del self._rate_limits[venue][i]
                return self._limit_response(venue, path, kind, 1.0 if wait_s is None else wait_s)
        return None

    def _limit_response(self, venue: str, path: str, kind: RateLimitKind, wait_s: float) -> web.Response:
        answer = F.rate_limit_answer(kind, self.now_ms, wait_s)
        self.limit_answers[venue].append((self.now_ms, path, kind))
        return web.Response(
            status=answer.status, text=answer.body, content_type=answer.content_type, headers=answer.headers
        )

    def _markets(self, venue: str) -> Any:
        rows = []
        for base in self.bases:
            listed, market_id = self.listing_base(venue, base), self.market_id(venue, base)
            if venue == "binance":
                row = copy.deepcopy(_BINANCE_BTC)
                row.update(symbol=market_id, pair=market_id, baseAsset=listed)
            elif venue == "okx":
                row = copy.deepcopy(_OKX_BTC)
                size = self.contract_size(venue, base)
                row.update(instId=market_id, ctVal=repr(size), ctValCcy=listed, instFamily=f"{listed}-USDT",
                           uly=f"{listed}-USDT")  # fmt: skip
            else:
                row = copy.deepcopy(_BYBIT_BTC)
                row.update(symbol=market_id, baseCoin=listed)
            rows.append(row)
        if venue == "binance":
            limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}]
            return {"timezone": "UTC", "serverTime": self.now_ms, "futuresType": "U_MARGINED", "rateLimits": limits,
                    "exchangeFilters": [], "assets": [], "symbols": rows}  # fmt: skip
        if venue == "okx":
            return {"code": "0", "msg": "", "data": rows}
        result = {"category": "linear", "list": rows, "nextPageCursor": ""}
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now_ms}

    def _recent(self, venue: str, market_id: str, limit: int) -> list[PerpTapeTrade]:
        """The newest `limit` trades of a market, oldest first."""
        trades = [t for t in self.history[venue] if t.market_id == market_id]
        return trades[-limit:] if limit > 0 else []

    def _klines_of_history(self, symbol: str, start: int, end: int, limit: int) -> list[Kline]:
        end = min(end, self.now_ms // MINUTE_MS * MINUTE_MS + MINUTE_MS - 1)  # no future candles
        minutes: dict[int, list[PerpTapeTrade]] = defaultdict(list)
        for t in self.history["binance"]:
            if t.market_id == symbol and start <= t.ts <= end:
                minutes[t.ts // MINUTE_MS * MINUTE_MS].append(t)
        out = []
        for open_ms in sorted(minutes)[:limit]:
            rows = minutes[open_ms]
            quote = buy = 0.0
            for t in rows:
                quote += t.price * t.contracts
                if t.side == "buy":
                    buy += t.price * t.contracts
            out.append(Kline(open_ms, rows[-1].price, quote, buy, len(rows)))
        return out

    def _binance(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        symbol = query.get("symbol", "")
        if path == "/fapi/v1/exchangeInfo":
            return 200, self._markets("binance")
        if path == "/fapi/v1/trades":
            rows = self._recent("binance", symbol, min(int(query.get("limit", 500)), 1000))
            return 200, [
                {"id": t.id, "price": repr(t.price), "qty": repr(t.contracts),
                 "quoteQty": repr(t.price * t.contracts), "time": t.ts, "isBuyerMaker": t.side == "sell"}
                for t in rows
            ]  # fmt: skip
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
            limit = int(query.get("limit", 500))
            if symbol in self.klines:
                rows = [k for k in self.klines[symbol] if start <= k.open_ms <= end][:limit]
            else:
                rows = self._klines_of_history(symbol, start, end, limit)
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
        if path == "/api/v5/public/instruments":
            if query.get("instType") == "SWAP":
                return 200, self._markets("okx")
            return 200, {"code": "0", "msg": "", "data": []}
        if path == "/api/v5/market/trades":  # newest first
            rows = self._recent("okx", query.get("instId", ""), min(int(query.get("limit", 100)), 500))[::-1]
            data = [
                {"instId": t.market_id, "side": t.side, "sz": repr(t.contracts), "px": repr(t.price),
                 "tradeId": str(t.id), "ts": str(t.ts), "count": "1", "source": "0"}
                for t in rows
            ]  # fmt: skip
            return 200, {"code": "0", "msg": "", "data": data}
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
        if path == "/v5/market/instruments-info":
            if query.get("category") == "linear" and query.get("status") != "PreLaunch":
                return 200, self._markets("bybit")
            result = {"category": query.get("category"), "list": [], "nextPageCursor": ""}
            return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now_ms}
        if path == "/v5/market/recent-trade" and query.get("category") == "linear":  # newest first
            rows = self._recent("bybit", query.get("symbol", ""), min(int(query.get("limit", 500)), 1000))[::-1]
            items = [
                {"execId": f"id-{t.id}", "symbol": t.market_id, "price": repr(t.price), "size": repr(t.contracts),
                 "side": "Buy" if t.side == "buy" else "Sell", "time": str(t.ts), "isBlockTrade": False}
                for t in rows
            ]  # fmt: skip
            result = {"category": "linear", "list": items}
            return 200, {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self.now_ms}
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

    def _coinbase(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        if path in ("/v2/currencies", "/v2/currencies/crypto"):
            return 200, {"data": []}
        if path == "/v2/exchange-rates":
            return 200, {"data": {"currency": "USD", "rates": {}}}
        if path == "/api/v3/brokerage/market/products":
            if query.get("product_type") != "FUTURE":
                return 200, {"products": [], "num_products": 0}
            products = [self._coinbase_product(base) for base in self.bases]
            return 200, {"products": products, "num_products": len(products)}
        prefix, _, tail = path.removeprefix("/api/v3/brokerage/market/products/").partition("/")
        if tail == "ticker" and path.startswith("/api/v3/brokerage/market/products/"):
            if "limit" not in query:
                return 400, {"error": "INVALID_ARGUMENT", "message": "limit is required"}
            trades = [t for t in self.history["coinbase"] if t.market_id == prefix]
            if "start" in query or "end" in query:  # whole UNIX seconds, both inclusive here
                low, high = int(query.get("start", 0)) * 1000, int(query.get("end", 1 << 40)) * 1000 + 999
                trades = [t for t in trades if low <= t.ts <= high]
            trades.sort(key=lambda t: t.ts)
            rows = trades[-min(int(query["limit"]), 1000) :][::-1]
            return 200, {"trades": [_coinbase_trade(t) for t in rows], "best_bid": "", "best_ask": ""}
        return 404, {"error": "NOT_FOUND", "error_details": "", "message": "Not Found"}

    def _coinbase_product(self, base: str) -> dict[str, Any]:
        listed, market_id = self.listing_base("coinbase", base), self.market_id("coinbase", base)
        row = copy.deepcopy(_COINBASE_CDE)
        details = row["future_product_details"]
        known = self.oi.get(("coinbase", market_id))
        details.update(contract_code=market_id.partition("-")[0], contract_root_unit=listed,
                       contract_size=repr(self.contract_size("coinbase", base)),
                       contract_display_name=f"{listed} PERP",
                       open_interest=repr(known[1]) if known is not None else "")  # fmt: skip
        row.update(product_id=market_id, display_name=f"{listed} PERP")
        return row

    # ------------------------------------------------------------ WebSocket

    async def _websocket(self, venue: str, path: str, request: web.Request) -> web.StreamResponse:
        if venue in self.refuse_ws:
            return web.Response(status=503, text="unavailable")
        # Protocol pings answered here, not by aiohttp, so that a stalled socket stays silent.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = PerpConn(venue, path, ws)
        self.conns.append(conn)
        self.opened.append(conn)
        self.connections_total[venue] += 1
        if venue in self.keepalive_s:
            conn.tasks.append(asyncio.create_task(self._keepalive_loop(conn)))
        if venue == "coinbase":
            conn.tasks.append(asyncio.create_task(self._subscribe_deadline(conn)))
        self._changed.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.PING:
                    if not self._silent(conn):
                        await ws.pong(message.data)
                    continue
                if message.type != WSMsgType.TEXT or self._silent(conn):
                    continue
                for reply in self._answer(conn, message.data):
                    await ws.send_str(reply if isinstance(reply, str) else orjson.dumps(reply).decode())
                self._changed.set()
        finally:
            for task in conn.tasks:
                task.cancel()
            self.conns.remove(conn)
            self._changed.set()
        if not ws.closed:
            await ws.close()
        return ws

    async def _subscribe_deadline(self, conn: PerpConn) -> None:
        """Coinbase closes a socket that has not subscribed within 5 s of connecting."""
        waiter = asyncio.ensure_future(conn.subscribed.wait())
        sleeper = asyncio.ensure_future(self.clock.sleep(self.subscribe_deadline_s))
        try:
            await asyncio.wait((waiter, sleeper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()
        if not conn.subscribed.is_set() and not conn.ws.closed:
            self.violations.append("coinbase: no subscribe within 5 s of connecting")
            await conn.ws.close()

    async def _heartbeat_loop(self, conn: PerpConn) -> None:
        while not conn.ws.closed:
            await self.clock.sleep(self.heartbeat_s)
            if self._silent(conn):
                continue
            try:
                await conn.ws.send_str(orjson.dumps(_sequenced(conn, _heartbeat(self.now_ms))).decode())
            except ConnectionError:
                return

    def _coinbase_answer(self, conn: PerpConn, message: dict[str, Any]) -> list[Any]:
        if message.get("type") not in ("subscribe", "unsubscribe"):
            return [_sequenced(conn, {"type": "error", "message": "Failed to parse message"})]
        if "channels" in message or not isinstance(message.get("channel"), str):
            self.violations.append("coinbase: a subscribe needs exactly one `channel`")
            return [_sequenced(conn, {"type": "error", "message": "Failed to subscribe", "reason": "channel"})]
        conn.subscribe_messages.append(message)
        conn.subscribed.set()
        channel, ids = message["channel"], list(message.get("product_ids") or [])
        out: list[Any] = []
        if channel == "heartbeats" and not conn.heartbeats:
            conn.heartbeats = True
            conn.tasks.append(asyncio.create_task(self._heartbeat_loop(conn)))
        elif channel == "market_trades":
            known = {self.market_id("coinbase", b) for b in self.bases}
            unknown = [i for i in ids if i not in known]
            if unknown:  # the Exchange feed's error shape: Advanced Trade's is not recorded
                return [_sequenced(conn, {"type": "error", "message": "Failed to subscribe",
                                          "reason": f"{unknown[0]} is not a valid product"})]  # fmt: skip
            conn.trades.update(ids)
            recent = [t for t in self.history["coinbase"] if t.market_id in ids][-50:][::-1]
            snapshot = {"type": "snapshot", "trades": [_coinbase_trade(t) for t in recent]}
            out.append(_sequenced(conn, _coinbase_frame("market_trades", self.now_ms, [snapshot])))
        subscribed: dict[str, list[str]] = {"market_trades": sorted(conn.trades)}
        if conn.heartbeats:
            subscribed["heartbeats"] = []
        out.append(_sequenced(conn, _coinbase_frame("subscriptions", self.now_ms, [{"subscriptions": subscribed}])))
        return out

    def _answer(self, conn: PerpConn, text: str) -> list[Any]:
        if text == "ping":  # OKX's keep-alive
            return ["pong"]
        message = orjson.loads(text)
        if conn.venue == "coinbase":
            return self._coinbase_answer(conn, message)
        if conn.venue == "binance" and message.get("method") == "SUBSCRIBE":
            conn.subscribe_messages.append(message)
            for stream in message["params"]:
                name, _, kind = stream.partition("@")
                if stream == "!forceOrder@arr":
                    conn.liquidations.add("*")
                elif kind == "forceOrder":
                    conn.liquidations.add(name.upper())
                elif kind in ("aggTrade", "trade"):
                    conn.trades.add(name.upper())
            return [{"result": None, "id": message["id"]}]
        if conn.venue == "okx" and message.get("op") == "subscribe":
            conn.subscribe_messages.append(message)
            for arg in message["args"]:
                if arg.get("channel") == "liquidation-orders":
                    conn.liquidations.add("*")
                elif arg.get("channel") in ("trades", "trades-all"):
                    conn.trades.add(arg["instId"])
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
                for topic in message["args"]:
                    kind, _, market_id = topic.partition(".")
                    (conn.trades if kind == "publicTrade" else conn.liquidations).add(market_id)
                return [{"success": True, "ret_msg": "", "conn_id": "fake", "req_id": req_id, "op": op}]
        return []


async def _send(conn: PerpConn, frame: Any) -> int:
    try:
        await conn.ws.send_str(orjson.dumps(frame).decode())
    except ConnectionError:  # closing under our feet: like a real drop
        return 0
    return 1


def _iso(ms: int) -> str:
    """'2026-08-12T19:27:47.532000Z', as Coinbase writes times (µs)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}000Z"


def _coinbase_trade(t: PerpTapeTrade) -> dict[str, str]:
    """A trade as `market_trades` and the public ticker give it: `side` is the MAKER's (a taker
    buy lifted a resting sell: "SELL"), `size` in contracts."""
    return {"product_id": t.market_id, "trade_id": str(t.id), "price": repr(t.price), "size": repr(t.contracts),
            "time": _iso(t.ts), "side": "SELL" if t.side == "buy" else "BUY"}  # fmt: skip


def _coinbase_frame(channel: str, now_ms: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": channel, "client_id": "", "timestamp": _iso(now_ms), "sequence_num": 0, "events": events}


def _heartbeat(now_ms: int) -> dict[str, Any]:
    event = {"current_time": _iso(now_ms).replace("T", " ").rstrip("Z") + " +0000 UTC", "heartbeat_counter": "1"}
    return _coinbase_frame("heartbeats", now_ms, [event])


def _sequenced(conn: PerpConn, frame: Any) -> Any:
    """A Coinbase frame numbered for its connection (`sequence_num` counts every message); other
    venues' frames as they are."""
    if conn.venue != "coinbase" or not isinstance(frame, dict):
        return frame
    numbered = {**frame, "sequence_num": conn.sequence}
    conn.sequence += 1
    return numbered


def _trade_frame(t: PerpTapeTrade) -> dict[str, Any]:
    """The venue's public trade push (the same shapes as their spot feeds, SPEC §4b)."""
    if t.venue == "coinbase":
        return _coinbase_frame("market_trades", t.ts, [{"type": "update", "trades": [_coinbase_trade(t)]}])
    if t.venue == "binance":
        return {"e": "aggTrade", "E": t.ts + 1, "s": t.market_id, "a": t.id, "p": repr(t.price),
                "q": repr(t.contracts), "f": t.id * 10, "l": t.id * 10, "T": t.ts, "m": t.side == "sell"}  # fmt: skip
    if t.venue == "okx":
        row = {"instId": t.market_id, "tradeId": str(t.id), "px": repr(t.price), "sz": repr(t.contracts),
               "side": t.side, "ts": str(t.ts), "count": "1", "source": "0", "seqId": t.id}  # fmt: skip
        return {"arg": {"channel": "trades", "instId": t.market_id}, "data": [row]}
    row = {"T": t.ts, "s": t.market_id, "S": "Buy" if t.side == "buy" else "Sell", "v": repr(t.contracts),
           "p": repr(t.price), "L": "PlusTick", "i": f"id-{t.id}", "BT": False}  # fmt: skip
    return {"topic": f"publicTrade.{t.market_id}", "type": "snapshot", "ts": t.ts, "data": [row]}


def _liquidation_frame(
    venue: str, market_id: str, ts: int, position: Literal["long", "short"], price: float, contracts: float
) -> dict[str, Any]:
    """Binance `forceOrder` (order side: SELL closes a long), OKX `liquidation-orders` (order side),
    Bybit `allLiquidation` (`S` = the position's side: Buy = a long was liquidated)."""
    order_side = "sell" if position == "long" else "buy"
    if venue == "binance":
        order = {"s": market_id, "S": order_side.upper(), "o": "LIMIT", "f": "IOC", "q": repr(contracts),
                 "p": repr(price), "ap": repr(price), "X": "FILLED", "l": repr(contracts), "z": repr(contracts),
                 "T": ts}  # fmt: skip
        return {"e": "forceOrder", "E": ts + 1, "o": order}
    if venue == "okx":
        detail = {"side": order_side, "posSide": position, "bkPx": repr(price), "sz": repr(contracts),
                  "ts": str(ts), "bkLoss": "0", "ccy": ""}  # fmt: skip
        data = [{"instId": market_id, "instType": "SWAP", "details": [detail]}]
        return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": data}
    row = {"T": ts, "s": market_id, "S": "Buy" if position == "long" else "Sell", "v": repr(contracts),
           "p": repr(price)}  # fmt: skip
    return {"topic": f"allLiquidation.{market_id}", "type": "snapshot", "ts": ts, "data": [row]}
