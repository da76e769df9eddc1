"""What every exchange module shares: the adapter base class, the typed seam over ccxt (which is
untyped), the hook into ccxt.pro's frame handler, and the client configuration (errors: errors.py).

Why a hook: ccxt.pro's `watch_*` calls deliver one symbol's cached batch per await, hold back an
illiquid symbol's last trades until its next frame, drop more than `tradesLimit` trades between
awaits, and (coinbaseexchange 4.5.90) never resolve for several symbols. We therefore let ccxt do
what it is good at (connect, subscribe, keep-alive pings, pongs, errors) and read the trades from
every decoded frame ourselves, before ccxt's own handler: each trade reaches the engine the moment
its frame arrives, whatever ccxt's caches do, and the per-trade cost is an orjson decode plus a
few dict reads. The `watch_trades_for_symbols` futures stay pending and only ever fail when the
socket closes, which is how we learn about disconnects.

The seam: ccxt's clients are typed here by what we use of them (`RestClient`, `WsClient`, the
markets as `CcxtMarket`); each adapter types its exchange's implicit REST endpoints in a Protocol
of its own and turns the JSON it gets into our values (`Row`, `TakerOrder`, `MinuteFlow`).

A fifth exchange is one new module: subclass `ExchangeAdapter`, set the class attributes, write
`parse_frame` (raw frame → rows) and, if the exchange has public history, `fetch_minutes`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypedDict, TypeVar, cast

import orjson
from aiohttp import WSMsgType

from gme_tui.model import ExchangeId

Row = tuple[str, int, bool, float, float, str]
"""One raw trade from a frame: (market id, ts ms, the taker bought, price, base amount, trade id)."""

TakerOrder = tuple[int, bool, float, float, str]
"""One taker order from a REST history: (ts ms, the taker bought, price, base amount, id)."""


class CcxtMarket(TypedDict):
    """The keys we read of a ccxt unified market (it has many more)."""

    id: str  # the exchange's market id: BTCUSDT, BTC-USDT, BTC-USD
    symbol: str  # ccxt's unified symbol: BTC/USDT
    base: str
    quote: str
    spot: bool
    active: bool | None


class RestClient(Protocol):
    """What every collector uses of a `ccxt.async_support` client. Each adapter types the implicit
    endpoints it calls on its own exchange's client in a Protocol of its own."""

    async def load_markets(self, reload: bool = False) -> dict[str, CcxtMarket]: ...

    async def close(self) -> None: ...


class FrameSink(Protocol):
    """Receives what the hook sees on one connection (the collector's session)."""

    def on_frame(self) -> None:
        """Any frame came: data, an ack, a keep-alive, a protocol ping or pong."""
        ...

    def on_rows(self, rows: list[Row]) -> None: ...

    def on_bad_frame(self, why: str) -> None: ...

    def on_rejected(self, market_ids: list[str], connection: Connection) -> None:
        """The exchange refused to subscribe these markets (exchange ids) on this socket."""
        ...


class Connection(Protocol):
    """ccxt.pro's per-socket client (`ccxt.async_support.base.ws.client.Client`), as we use it."""

    def on_message_callback(self, client: object, message: object) -> None: ...

    async def send(self, message: object) -> None: ...


class WsClient(Protocol):
    """What a collector uses of a hooked `ccxt.pro` client: one socket."""

    gme_sink: FrameSink
    gme_adapter: ExchangeAdapter

    def set_markets_from_exchange(self, exchange: RestClient) -> None: ...

    async def watch_trades_for_symbols(self, symbols: list[str], *, params: dict[str, str]) -> object: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class MinuteFlow:
    """One closed minute as an exchange's history tells it (quote values)."""

    buy: float = 0.0
    sell: float = 0.0
    count: int = 0
    close: float | None = None


@dataclass(frozen=True, slots=True)
class History:
    """What a backfill read: closed minutes, and (where the history is made of trades) the taker
    orders of the minutes asked for, for the whale check."""

    flows: Mapping[int, MinuteFlow]
    orders: tuple[TakerOrder, ...] | None = None  # oldest first; None: not read (see fetch_taker_orders)


class ExchangeAdapter:
    """One exchange over ccxt. Stateless: the collector owns connections and state."""

    id: ClassVar[ExchangeId]
    rest_class: ClassVar[type]  # the ccxt.async_support class
    pro_class: ClassVar[type]  # the ccxt.pro class
    default_config: ClassVar[Mapping[str, object]] = {}  # under the user's [exchanges.<id>.ccxt] table
    symbols_per_connection: ClassVar[int] = 100
    symbols_per_subscribe: ClassVar[int] = 100
    has_history: ClassVar[bool] = False  # can fetch_minutes fill a closed minute?
    has_taker_orders: ClassVar[bool] = False  # can fetch_taker_orders list a closed minute's taker orders?
    watch_params: ClassVar[Mapping[str, str]] = {}

    def parse_frame(self, message: object, out: list[Row]) -> bool:
        """Append the trades of a decoded frame (JSON, or a plain-text keep-alive) to `out`; True
        when it was a trade frame (consumed: ccxt's own handler is skipped). Raises on a malformed
        trade frame."""
        raise NotImplementedError

    def rejected_markets(self, message: object) -> list[str] | None:
        """The market ids a subscription-error frame names (a delisted or unknown symbol), None
        for any other frame. Such a frame is kept from ccxt, which would fail every subscription
        of the socket over it."""
        return None

    def resubscribe(self, market_ids: list[str]) -> object | None:
        """The subscribe message for these markets, where the exchange refuses a whole request
        over one bad symbol (the others of the request are then subscribed again); None where
        it refuses only the bad ones."""
        return None

    async def fetch_minutes(self, rest: RestClient, market: CcxtMarket, first: int, last: int) -> dict[int, MinuteFlow]:
        """Closed minutes first..last (inclusive, ts // 60000) from the exchange's public history."""
        return dict((await self.fetch_history(rest, market, first, last)).flows)

    async def fetch_history(
        self, rest: RestClient, market: CcxtMarket, first: int, last: int, *, orders_from: int | None = None
    ) -> History:
        """What the backfill calls: `fetch_minutes`, and with `orders_from`, the taker orders of
        minutes orders_from..last where the history is read as trades anyway (OKX and Coinbase
        override this: no second request for whales). Override one of the two."""
        return History(await self.fetch_minutes(rest, market, first, last))

    async def fetch_taker_orders(self, rest: RestClient, market: CcxtMarket, first: int, last: int) -> list[TakerOrder]:
        """Taker orders of minutes first..last, oldest first: for whales in minutes the stream missed."""
        raise NotImplementedError

    async def fetch_latest_trade(self, rest: RestClient, market: CcxtMarket) -> tuple[str, int] | None:
        """The market's newest trade on the exchange's REST as (id as the stream spells it, ts
        ms), None when it has none: how a quiet subscription is checked (liveness.py)."""
        raise NotImplementedError

    async def watch(self, ws: WsClient, symbols: list[str]) -> None:
        """Subscribe `symbols` (ccxt symbols); returns only in odd cases, raises when the socket closes."""
        await ws.watch_trades_for_symbols(symbols, params=dict(self.watch_params))

    def rest_client(self, config: Mapping[str, object]) -> RestClient:
        return cast(RestClient, self.rest_class(dict(config)))

    def ws_client(self, config: Mapping[str, object], sink: FrameSink) -> WsClient:
        """A new ccxt.pro client whose trade frames go to `sink`."""
        ws = hooked_class(self.pro_class)(dict(config))
        ws.gme_sink = sink
        ws.gme_adapter = self
        return ws


def response_headers(client: RestClient) -> Mapping[str, str]:
    """The headers of the client's last HTTP response ({} before the first): ccxt keeps them in an
    optional attribute and reads none of them itself (not even Retry-After)."""
    headers = getattr(client, "last_response_headers", None)  # third-party boundary: read here only
    return headers if isinstance(headers, Mapping) else {}


def response_header(client: RestClient, name: str) -> str | None:
    """One header of the last response, by case-insensitive name."""
    wanted = name.lower()
    for key, value in response_headers(client).items():
        if key.lower() == wanted:
            return str(value)
    return None


# ---------------------------------------------------------------- the frame hook


@functools.cache
def hooked_class(base: type) -> Callable[[dict[str, object]], WsClient]:
    """A subclass of a ccxt.pro exchange whose clients decode frames safely and whose trade
    frames go to the session's sink instead of ccxt's caches."""

    class Hooked(base):  # type: ignore[misc]  # ccxt.pro's classes are untyped
        gme_sink: FrameSink
        gme_adapter: ExchangeAdapter

        def client(self, url: str) -> object:
            fresh = url not in (self.clients or {})
            client = super().client(url)
            if fresh:  # ccxt caches one client per url: hook each one once
                client.handle_text_or_binary_message = functools.partial(_decode_frame, client, self)
                client.handle_message = functools.partial(_see_control_frame, client.handle_message, self)
            return client

        def handle_message(self, client: object, message: object) -> None:
            rows: list[Row] = []
            try:
                consumed = self.gme_adapter.parse_frame(message, rows)
            except Exception as exc:  # a malformed trade frame: count it, keep the stream going
                self.gme_sink.on_bad_frame(f"malformed trade frame ({type(exc).__name__})")
                return
            if consumed:
                if rows:
                    self.gme_sink.on_rows(rows)
                return
            rejected = self.gme_adapter.rejected_markets(message)
            if rejected is not None:
                self.gme_sink.on_rejected(rejected, cast(Connection, client))
                return
            try:
                super().handle_message(client, message)
            except Exception as exc:  # ccxt choking on a frame must not end the receive loop
                self.gme_sink.on_bad_frame(f"frame ccxt could not handle ({type(exc).__name__})")

    Hooked.__name__ = f"Hooked_{base.__name__}"
    return cast(Callable[[dict[str, object]], WsClient], Hooked)


class _Frame(Protocol):
    """aiohttp's WSMessage, as far as we look at it."""

    type: WSMsgType


_CONTROL = frozenset({WSMsgType.PING, WSMsgType.PONG})


def _see_control_frame(handle: Callable[[_Frame], None], exchange: WsClient, message: _Frame) -> None:
    """Protocol pings and pongs (Binance's server pings every 20 s) prove the socket alive: the
    watchdog must see them, though they carry nothing for ccxt's message handler."""
    if message.type in _CONTROL:
        exchange.gme_sink.on_frame()
    handle(message)


def _decode_frame(client: Connection, exchange: WsClient, data: str | bytes | bytearray) -> None:
    """Replaces ccxt's decoder on our clients: a frame that is not JSON is counted, not raised
    (ccxt's receive loop would stop for good on an exception here)."""
    sink = exchange.gme_sink
    sink.on_frame()
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode()
        except UnicodeDecodeError:
            sink.on_bad_frame("undecodable binary frame")
            return
    message: object = data  # 'pong' and other plain-text keep-alives stay text
    if data[:1] in ("{", "["):
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            sink.on_bad_frame("frame is not valid JSON")
            return
    client.on_message_callback(client, message)


# ---------------------------------------------------------------- configuration


def deep_merge(base: Mapping[str, object], override: Mapping[str, object]) -> dict[str, object]:
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out


def ccxt_config(adapter: ExchangeAdapter, user: Mapping[str, object], proxy: str) -> dict[str, object]:
    """Adapter defaults, then the global proxy, then the user's `[exchanges.<id>.ccxt]` table."""
    config: dict[str, object] = {"enableRateLimit": True}
    config = deep_merge(config, adapter.default_config)
    if proxy and not any(k in user for k in _PROXY_KEYS):
        if proxy.startswith("socks"):
            config.update(socksProxy=proxy, wsSocksProxy=proxy)
        else:
            config.update(httpsProxy=proxy, wssProxy=proxy)
    return deep_merge(config, user)


_PROXY_KEYS = ("httpProxy", "httpsProxy", "socksProxy", "wsProxy", "wssProxy", "wsSocksProxy", "proxy", "proxyUrl")


# ---------------------------------------------------------------- small helpers


_T = TypeVar("_T")


def chunks(items: list[_T], size: int) -> list[list[_T]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]
