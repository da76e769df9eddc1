"""What every exchange module shares: the adapter base class, the hook into ccxt.pro's frame
handler, error descriptions and backoff.

Why a hook: ccxt.pro's `watch_*` calls deliver one symbol's cached batch per await, hold back an
illiquid symbol's last trades until its next frame, drop more than `tradesLimit` trades between
awaits, and (coinbaseexchange 4.5.90) never resolve for several symbols. We therefore let ccxt do
what it is good at (connect, subscribe, keep-alive pings, pongs, errors) and read the trades from
every decoded frame ourselves, before ccxt's own handler: each trade reaches the engine the moment
its frame arrives, whatever ccxt's caches do, and the per-trade cost is an orjson decode plus a
few dict reads. The `watch_trades_for_symbols` futures stay pending and only ever fail when the
socket closes, which is how we learn about disconnects.

A fifth exchange is one new module: subclass `ExchangeAdapter`, set the class attributes, write
`parse_frame` (raw frame → rows) and, if the exchange has public history, `fetch_minutes`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ccxt
import ccxt.async_support
import ccxt.pro
import orjson

Row = tuple  # (market_id, ts_ms, is_buy, price, amount, trade_id): one raw trade from a frame


@dataclass(frozen=True, slots=True)
class MinuteFlow:
    """One closed minute as an exchange's history tells it."""

    buy: float = 0.0
    sell: float = 0.0
    count: int = 0
    close: float | None = None


class ExchangeAdapter:
    """One exchange over ccxt. Stateless: the collector owns connections and state."""

    id: str = ""  # our exchange id (model.EXCHANGES)
    ccxt_id: str = ""  # ccxt's class name
    default_config: Mapping[str, Any] = {}  # under the user's [exchanges.<id>.ccxt] table
    symbols_per_connection: int = 100
    symbols_per_subscribe: int = 100
    has_history: bool = False  # can fetch_minutes fill a closed minute?
    has_taker_orders: bool = False  # can fetch_taker_orders list a closed minute's taker orders?
    watch_params: Mapping[str, Any] = {}

    def parse_frame(self, message: Any, out: list) -> bool:
        """Append the trades of a decoded frame to `out` as rows; True when it was a trade frame
        (consumed: ccxt's own handler is skipped). Raise on a malformed trade frame."""
        raise NotImplementedError

    async def fetch_minutes(self, rest: Any, market: Mapping[str, Any], first: int, last: int) -> dict[int, MinuteFlow]:
        """Closed minutes first..last (inclusive) from the exchange's public history."""
        raise NotImplementedError

    async def fetch_taker_orders(self, rest: Any, market: Mapping[str, Any], first: int, last: int) -> list[tuple]:
        """Taker orders of minutes first..last, oldest first, as rows (ts, is_buy, price, amount, id):
        for whales in minutes the stream missed."""
        raise NotImplementedError

    async def watch(self, ws: Any, symbols: list[str]) -> Any:
        return await ws.watch_trades_for_symbols(symbols, params=dict(self.watch_params))

    def rest_class(self) -> type:
        return getattr(ccxt.async_support, self.ccxt_id)

    def pro_class(self) -> type:
        return getattr(ccxt.pro, self.ccxt_id)


# ---------------------------------------------------------------- the frame hook


class FrameSink:
    """Receives what the hook sees on one connection (implemented by the collector's session)."""

    def on_frame(self) -> None: ...

    def on_rows(self, rows: list) -> None: ...

    def on_bad_frame(self, why: str) -> None: ...


@functools.cache
def hooked_class(base: type) -> type:
    """A subclass of a ccxt.pro exchange whose clients decode frames safely and whose trade
    frames go to the session's sink instead of ccxt's caches."""

    class Hooked(base):  # type: ignore[misc, valid-type]
        gme_sink: FrameSink
        gme_adapter: ExchangeAdapter

        def client(self, url):
            client = super().client(url)
            if not getattr(client, "gme_hooked", False):
                client.gme_hooked = True
                client.handle_text_or_binary_message = functools.partial(_decode_frame, client, self)
            return client

        def handle_message(self, client, message):
            rows: list = []
            try:
                consumed = self.gme_adapter.parse_frame(message, rows)
            except Exception as exc:  # a malformed trade frame: count it, keep the stream going
                self.gme_sink.on_bad_frame(f"malformed trade frame ({type(exc).__name__})")
                return
            if consumed:
                if rows:
                    self.gme_sink.on_rows(rows)
                return
            try:
                super().handle_message(client, message)
            except Exception as exc:  # ccxt choking on a frame must not end the receive loop
                self.gme_sink.on_bad_frame(f"frame ccxt could not handle ({type(exc).__name__})")

    Hooked.__name__ = f"Hooked_{base.__name__}"
    return Hooked


def _decode_frame(client: Any, exchange: Any, data: Any) -> None:
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
    if data[:1] in ("{", "["):
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            sink.on_bad_frame("frame is not valid JSON")
            return
    else:
        message = data  # 'pong' and other plain-text keep-alives
    client.on_message_callback(client, message)


# ---------------------------------------------------------------- configuration


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def ccxt_config(adapter: ExchangeAdapter, user: Mapping[str, Any], proxy: str) -> dict[str, Any]:
    """Adapter defaults, then the global proxy, then the user's `[exchanges.<id>.ccxt]` table."""
    config: dict[str, Any] = {"enableRateLimit": True}
    config = deep_merge(config, adapter.default_config)
    if proxy and not any(k in user for k in _PROXY_KEYS):
        if proxy.startswith("socks"):
            config.update(socksProxy=proxy, wsSocksProxy=proxy)
        else:
            config.update(httpsProxy=proxy, wssProxy=proxy)
    return deep_merge(config, user)


_PROXY_KEYS = ("httpProxy", "httpsProxy", "socksProxy", "wsProxy", "wssProxy", "wsSocksProxy", "proxy", "proxyUrl")


# ---------------------------------------------------------------- errors and backoff


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    reason: str
    ban_seconds: float | None = None  # wait at least this long before calling again


_BANNED_UNTIL = re.compile(r"banned until (\d{13})")


def describe_error(exc: BaseException, now_ms: int, retry_after: str | None = None) -> ErrorInfo:
    """A short, user-facing reason for a failure, and how long to keep off the exchange."""
    text = str(exc)
    low = " ".join(_chain(exc)).lower()  # ccxt hides the socket error in __cause__
    if isinstance(exc, ccxt.DDoSProtection):
        banned = _BANNED_UNTIL.search(text)
        if banned:
            until = int(banned.group(1))
            return ErrorInfo("HTTP 418 IP ban", max(1.0, (until - now_ms) / 1000))
        wait = _seconds(retry_after)
        if "418" in text or "teapot" in low:
            return ErrorInfo("HTTP 418 IP ban", wait or 120.0)
        return ErrorInfo("HTTP 429 rate limited", wait or 30.0)
    if (
        "clientproxyconnectionerror" in low
        or "proxy error" in low
        or "tunnel connection failed" in low
        or "socks" in low
    ):
        return ErrorInfo("proxy unreachable or refused")
    if (
        "dnserror" in low
        or "gaierror" in low
        or "name or service not known" in low
        or "getaddrinfo" in low
        or "nodename nor servname" in low
        or "temporary failure in name resolution" in low
    ):
        return ErrorInfo("DNS lookup failed")
    if "connection refused" in low or "connect call failed" in low or "cannot connect" in low:
        return ErrorInfo("connection refused")
    if isinstance(exc, ccxt.RequestTimeout) or "timed out" in low or "timeout" in low:
        return ErrorInfo("timeout")
    if "closed by remote server" in low:
        return ErrorInfo("connection closed by the exchange")
    if isinstance(exc, ccxt.ExchangeNotAvailable) or "invalid response status" in low:
        code = re.search(r"\b(5\d\d)\b", text)
        return ErrorInfo(f"exchange unavailable (HTTP {code.group(1)})" if code else "exchange unavailable")
    if isinstance(exc, SilentSocket):
        return ErrorInfo(text)
    return ErrorInfo(f"{type(exc).__name__}: {_short(text)}")


def _chain(exc: BaseException) -> list[str]:
    parts, seen = [], 0
    current: BaseException | None = exc
    while current is not None and seen < 6:
        parts.append(f"{type(current).__name__} {current!r} {current}")
        current = current.__cause__ or current.__context__
        seen += 1
    return parts


class SilentSocket(Exception):
    """The watchdog's verdict: the socket is open but nothing came for too long."""


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]
