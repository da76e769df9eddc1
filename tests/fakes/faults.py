"""What real exchanges do to a client, for the fake exchange (tests/fakes/exchange.py): frame faults,
keep-alives, rate-limit and ban answers on REST, subscription rejections and connection limits,
each in the exchange's documented shape. Written from the exchanges' documentation, not from the
product's code; every payload cites where its shape comes from.

Everything here is OFF by default: a `FakeExchange` without switches behaves exactly as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import orjson

# ---------------------------------------------------------------- documented limits
# Binance spot WebSocket Streams (developers.binance.com/docs/binance-spot-api-docs/web-socket-streams):
# a connection lives at most 24 h; the server sends a ping frame every 20 s and drops a client
# that has not answered within a minute; <= 5 incoming messages per second per connection (PING,
# PONG and JSON control messages count), beyond that the connection is disconnected; <= 1024
# streams per connection; <= 300 connection attempts per 5 minutes per IP.
BINANCE_CONNECTION_LIFETIME_S = 24 * 3600.0
BINANCE_PING_S = 20.0
BINANCE_MAX_STREAMS = 1024
BINANCE_MAX_INCOMING_PER_S = 5
BINANCE_MAX_CONNECTS_PER_5MIN = 300
# OKX API v5, WebSocket "Connect" (okx.com/docs-v5/en/#overview-websocket-connect): connection
# limit 3 requests per second per IP; the args of one connection total <= 64 KB; the server drops a
# connection with nothing pushed for 30 s ("send the string 'ping', expect 'pong'").
OKX_MAX_CONNECTS_PER_S = 3
OKX_MAX_ARGS_BYTES = 64 * 1024
# Bybit v5 WebSocket "Connect" (bybit-exchange.github.io/docs/v5/ws/connect): <= 10 args per
# subscribe request on spot; the client pings {"op":"ping"} every 20 s.
BYBIT_MAX_ARGS_PER_SUBSCRIBE = 10
# Coinbase Exchange WebSocket Feed overview (docs.cdp.coinbase.com/exchange/websocket-feed/overview):
# a subscribe message must arrive within 5 s of connecting or the server disconnects.
COINBASE_SUBSCRIBE_WITHIN_S = 5.0
# Bybit v5 "Rate Limit Rules" (bybit-exchange.github.io/docs/v5/rate-limit): an HTTP 403 "access
# too frequent" is an IP ban: "terminate all HTTP sessions and wait for at least 10 minutes".
BYBIT_EDGE_BAN_S = 600.0


@dataclass
class FrameFaults:
    """Per exchange: what happens to trade frames between `publish()` and the socket.

    Times are seconds on the fake's clock (a ScaledClock runs them fast). Counters are per
    exchange and count trade frames in publish order (the first frame is frame 1).
    - `latency_s`: every frame leaves this long after it was published (order kept).
    - `duplicate_every`: every Nth frame is sent twice, the copy right after the original.
    - `swap_every`: every Nth frame is held back and sent right after the next one (out of order).
    - `late_every` / `late_s`: every Nth frame is held back `late_s` more seconds (frames that
      arrive seconds late, after later ones).
    """

    latency_s: float = 0.0
    duplicate_every: int = 0
    swap_every: int = 0
    late_every: int = 0
    late_s: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.latency_s or self.duplicate_every or self.swap_every or (self.late_every and self.late_s))


# ---------------------------------------------------------------- REST: rate limits and bans

RateLimitKind = Literal[
    "binance-429",
    "binance-418",
    "okx-50011",
    "okx-429-html",
    "bybit-10006",
    "bybit-10018",
    "bybit-403",
    "coinbase-429",
]


@dataclass(frozen=True)
class RestAnswer:
    """One HTTP answer: status, body (text), content type, headers."""

    status: int
    body: str
    content_type: str
    headers: dict[str, str]


def rate_limit_answer(kind: RateLimitKind, now_ms: int, wait_s: float) -> RestAnswer:
    """The exchange's own answer when a client is over its limit or banned. `now_ms` is the
    exchange's clock; `wait_s` is what the exchange tells the client to wait (where it says so)."""
    wait = max(1, math.ceil(wait_s))  # whole seconds, never less than asked
    if kind == "binance-429":
        # Binance spot REST "LIMITS" and "Error codes" (-1003 TOO_MANY_REQUESTS): HTTP 429 with a
        # Retry-After header, "the number of seconds required to wait ... to prevent a ban".
        body = {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API.",
        }
        return _json(429, body, {"Retry-After": str(wait)})
    if kind == "binance-418":
        # Same pages: HTTP 418 = IP auto-banned after 429s (2 minutes to 3 days); Retry-After gives
        # the seconds until the ban is over; the -1003 message names the end of the ban in ms.
        until = now_ms + wait * 1000
        body = {
            "code": -1003,
            "msg": f"Way too much request weight used; IP banned until {until}. "
            "Please use WebSocket Streams for live updates to avoid bans.",
        }
        return _json(418, body, {"Retry-After": str(wait)})
    if kind == "okx-50011":
        # OKX API v5 "Error Code" (REST, public): 50011 "Rate limit reached", HTTP status 429.
        return _json(429, {"code": "50011", "msg": "Too Many Requests", "data": []}, {})
    if kind == "okx-429-html":
        # OKX's edge may answer an over-limit client itself, as a plain HTTP 429 page (see
        # ../shared/specs/exchanges.md; ccxt maps it to ExchangeNotAvailable).
        html = (
            "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
            "<center><h1>429 Too Many Requests</h1></center>\r\n</body>\r\n</html>\r\n"
        )
        return RestAnswer(429, html, "text/html", {})
    if kind in ("bybit-10006", "bybit-10018"):
        # Bybit v5 "Rate Limit Rules": '"retCode": 10006, "retMsg": "Too many visits!"' in the JSON
        # response (HTTP 200), and every response carries X-Bapi-Limit, X-Bapi-Limit-Status and
        # X-Bapi-Limit-Reset-Timestamp ("when your request limit resets if you have exceeded").
        # Bybit v5 "Error Codes": 10006 "Too many visits. Exceeded the API Rate Limit.", 10018
        # "Exceeded the IP Rate Limit.".
        code, msg = (10006, "Too many visits!") if kind == "bybit-10006" else (10018, "Exceeded the IP Rate Limit.")
        body = {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms}
        headers = {
            "X-Bapi-Limit": "10",
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(now_ms + int(wait_s * 1000)),
        }
        return _json(200, body, headers)
    if kind == "bybit-403":
        # Bybit v5 "Rate Limit Rules": "403, access too frequent" = the IP is banned; "wait for
        # at least 10 minutes. The ban will be lifted automatically." (an edge page, not JSON)
        html = "<html><head><title>403 Forbidden</title></head><body>access too frequent</body></html>"
        return RestAnswer(403, html, "text/html", {})
    if kind == "coinbase-429":
        # Coinbase Exchange REST "Rate Limits": public endpoints 10 requests/s per IP (bursts
        # 15); over it "a status of 429 Too Many Requests is returned" with a JSON message.
        return _json(429, {"message": "Public rate limit exceeded"}, {})
    raise ValueError(f"unknown rate-limit answer {kind!r}")


def documented_wait_s(kind: RateLimitKind, wait_s: float) -> float:
    """How long a client must keep off after `kind`: what the answer says (Retry-After, the
    reset timestamp), or the exchange's documented window or ban where the answer says nothing."""
    if kind in ("binance-429", "binance-418"):
        return float(max(1, math.ceil(wait_s)))  # Retry-After
    if kind in ("bybit-10006", "bybit-10018"):
        return wait_s  # X-Bapi-Limit-Reset-Timestamp
    if kind == "bybit-403":
        return BYBIT_EDGE_BAN_S
    if kind in ("okx-50011", "okx-429-html"):
        return 2.0  # OKX public limits are counted per 2 s ("10 requests per 2 seconds")
    return 1.0  # coinbase: 10 requests per second


def _json(status: int, body: Any, headers: dict[str, str]) -> RestAnswer:
    return RestAnswer(status, orjson.dumps(body).decode(), "application/json", headers)


# ---------------------------------------------------------------- WebSocket: rejections


def okx_unknown_instrument(inst_id: str, conn_id: str) -> dict[str, Any]:
    """OKX v5 WebSocket error 60018 for a subscribe arg whose instrument does not exist (as the
    server sends it, one per bad arg; the good args of the same request are subscribed)."""
    return {
        "event": "error",
        "msg": f"Wrong URL or channel:trades,instId:{inst_id} doesn't exist. "
        "Please use the correct URL, channel and parameters referring to API document.",
        "code": "60018",
        "connId": conn_id,
    }


def bybit_invalid_symbol(topics: list[str], req_id: Any) -> dict[str, Any]:
    """Bybit v5 public WS answer to a subscribe request naming a symbol it does not list. The
    whole request fails (users report that nothing of that request is subscribed)."""
    return {
        "success": False,
        "ret_msg": f"Invalid symbol :[{','.join(topics)}]",
        "conn_id": "fake",
        "req_id": req_id,
        "op": "subscribe",
    }


def coinbase_invalid_product(product: str) -> dict[str, Any]:
    """Coinbase Exchange WS feed: a subscribe naming an unknown product fails as a whole with an
    `error` message (Exchange WebSocket Feed, "Errors")."""
    return {"type": "error", "message": "Failed to subscribe", "reason": f"{product} is not a valid product"}


def binance_error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    """Binance WebSocket Streams "Error Messages": {"code": 2, "msg": "Invalid request: ..."}, with
    the request id. (Binance answers a subscribe to an unknown symbol with success and no data.)"""
    return {"error": {"code": code, "msg": msg}, "id": request_id}


# ---------------------------------------------------------------- WebSocket: keep-alives


def okx_keepalive() -> str:
    """OKX's answer to the client's text 'ping' (v5 WebSocket, "Connect")."""
    return "pong"


def bybit_keepalive() -> dict[str, Any]:
    """Bybit v5 spot's answer to {"op":"ping"} (v5 WebSocket, "Connect": How to send heartbeat)."""
    return {"success": True, "ret_msg": "pong", "conn_id": "fake", "req_id": "", "op": "ping"}


def coinbase_heartbeat(product: str, sequence: int, last_trade_id: int, time_iso: str) -> dict[str, Any]:
    """Coinbase Exchange `heartbeat` channel message, once a second per product
    (Exchange WebSocket Channels, "Heartbeat channel")."""
    return {
        "type": "heartbeat",
        "sequence": sequence,
        "last_trade_id": last_trade_id,
        "product_id": product,
        "time": time_iso,
    }
