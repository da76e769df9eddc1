"""What went wrong with an exchange, in a few words for the status bar, and when it said stop.

ccxt raises its own error classes with the exchange's answer in the text ("okx {...}", "bybit GET
<url> 403 Forbidden ...", "binance 418 I'm a teapot {...}"). Rate limits come in every exchange's
own form (`specs/exchanges.md`), so they are recognised by the HTTP status and the exchange's own
code, not by ccxt's class (`RateLimitExceeded` and `DDoSProtection` are siblings, and OKX's HTTP
429 with an HTML body arrives as `ExchangeNotAvailable`):

| exchange | answer                                   | shown as               | least wait               |
|----------|------------------------------------------|------------------------|--------------------------|
| binance  | HTTP 429                                 | HTTP 429 rate limited  | Retry-After, else 30 s   |
| binance  | HTTP 418 ("IP banned until <ms>")        | HTTP 418 IP ban        | the ban's end, Retry-After, else 120 s |
| okx      | code 50011 / 50061 (JSON), HTTP 429      | rate limited (OKX 50011), HTTP 429 rate limited | Retry-After, else 2 s (OKX counts per 2 s) |
| bybit    | retCode 10006 / 10018                    | rate limited (Bybit 10006) | X-Bapi-Limit-Reset-Timestamp, else 1 s / 5 s |
| bybit    | HTTP 403 ("access too frequent")         | HTTP 403 IP ban        | 10 minutes (Bybit's docs: at least 10 minutes) |
| coinbase | HTTP 429 {"message": ...}                | HTTP 429 rate limited  | Retry-After, else 1 s    |

A `Gate` then keeps every call of that kind off the exchange for at least that long, and longer
at each further stop in a row (see `Gate.stop`).
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import ccxt

from gme_tui.core.backoff import backoff_seconds
from gme_tui.core.clock import Clock

LimitKind = Literal["rate_limit", "ban"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A failure as the user sees it. `limit` is set when the exchange said stop; `wait_seconds`
    is then the least wait before the next call (what it asked for, or its documented figure)."""

    reason: str
    limit: LimitKind | None = None
    wait_seconds: float | None = None


class Preempted(Exception):
    """The exchange said stop while this call waited its turn (in ccxt's rate limiter, or on the
    wire): it was called off, to be made again when the gate opens."""


class SilentSocket(Exception):
    """The watchdog's verdict: the socket is open but nothing (or no trade) came for too long."""


@dataclass(frozen=True, slots=True)
class _Limit:
    reason: str
    kind: LimitKind
    default_seconds: float
    minimum_seconds: float = 0.0  # a documented floor that a header cannot shorten


_BINANCE_429 = _Limit("HTTP 429 rate limited", "rate_limit", 30.0)
_BINANCE_418 = _Limit("HTTP 418 IP ban", "ban", 120.0)
_BYBIT_403 = _Limit("HTTP 403 IP ban", "ban", 600.0, minimum_seconds=600.0)
_HTTP_429: Mapping[str, _Limit] = {
    "binance": _BINANCE_429,
    "okx": _Limit("HTTP 429 rate limited", "rate_limit", 2.0),
    "bybit": _Limit("HTTP 429 rate limited", "rate_limit", 5.0),
    "coinbase": _Limit("HTTP 429 rate limited", "rate_limit", 1.0),
}
_CODES: Mapping[tuple[str, str], _Limit] = {
    ("okx", "50011"): _Limit("rate limited (OKX 50011)", "rate_limit", 2.0),
    ("okx", "50061"): _Limit("rate limited (OKX 50061)", "rate_limit", 2.0),
    ("bybit", "10006"): _Limit("rate limited (Bybit 10006)", "rate_limit", 1.0),
    ("bybit", "10018"): _Limit("IP rate limited (Bybit 10018)", "rate_limit", 5.0),
}
_OUR_ID = {"coinbaseexchange": "coinbase"}  # ccxt's id → ours, where they differ
_DEFAULT_429 = _Limit("HTTP 429 rate limited", "rate_limit", 5.0)

# ccxt's texts: "<id> <METHOD> <url> <status> <reason> <body>" (the generic HTTP handler) or
# "<id> <status> <reason> <body>" (binance); aiohttp's handshake: "429, message='Invalid response status'".
_HTTP_STATUS = re.compile(r"^(\S+) (?:(?:GET|POST|PUT|DELETE) \S+ )?([1-5]\d\d) ")
_WS_STATUS = re.compile(r"\b([1-5]\d\d), message='invalid response status'", re.IGNORECASE)
_CODE = re.compile(r'"(?:code|retCode|ret_code)"\s*:\s*"?(-?\d+)')
_BANNED_UNTIL = re.compile(r"banned until (\d{13})")
_SERVER_TIME = re.compile(r'"time"\s*:\s*"?(\d{13})')


def describe_error(
    exc: BaseException, now_ms: int, headers: Mapping[str, str] | None = None, exchange: str = ""
) -> ErrorInfo:
    """A short, user-facing reason for a failure; for a rate limit or ban, how long to keep off.
    `headers`: the failed HTTP response's headers (Retry-After and the exchanges' own);
    `exchange`: our exchange id (else read from ccxt's text, which starts with its own id)."""
    text = str(exc)
    low = " ".join(_chain(exc)).lower()  # ccxt hides the socket error in __cause__
    limit = _limit_info(exc, text, low, now_ms, headers or {}, exchange)
    if limit is not None:
        return limit
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


def _limit_info(
    exc: BaseException, text: str, low: str, now_ms: int, headers: Mapping[str, str], exchange: str
) -> ErrorInfo | None:
    found = _limit_of(exc, text, low, exchange)
    if found is None:
        return None
    wait = _asked_wait(text, now_ms, headers)
    if found is _BINANCE_418:
        banned = _BANNED_UNTIL.search(text)
        if banned:
            wait = max(wait or 0.0, (int(banned.group(1)) - now_ms) / 1000)
    seconds = max(wait if wait is not None and wait > 0 else found.default_seconds, found.minimum_seconds, 1.0)
    return ErrorInfo(found.reason, found.kind, seconds)


def _limit_of(exc: BaseException, text: str, low: str, exchange: str) -> _Limit | None:
    head = _HTTP_STATUS.match(text)
    if not exchange:
        named = head.group(1) if head else text.split(" ", 1)[0]
        exchange = _OUR_ID.get(named, named)
    status = head.group(2) if head else None
    if status is None:
        ws = _WS_STATUS.search(low)
        status = ws.group(1) if ws else None
    code = _CODE.search(text)
    if code is not None and (exchange, code.group(1)) in _CODES:
        return _CODES[(exchange, code.group(1))]
    if status == "418" or (isinstance(exc, ccxt.DDoSProtection) and ("418" in text or "teapot" in low)):
        return _BINANCE_418
    if status == "403" and exchange == "bybit":
        return _BYBIT_403
    if status == "429" or isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return _HTTP_429.get(exchange, _DEFAULT_429)
    return None


def _asked_wait(text: str, now_ms: int, headers: Mapping[str, str]) -> float | None:
    """Seconds the exchange asked us to wait: Retry-After (seconds or an HTTP date), or Bybit's
    X-Bapi-Limit-Reset-Timestamp (ms)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after")
    if retry_after:
        try:
            return float(retry_after)
        except ValueError:
            try:
                return email.utils.parsedate_to_datetime(retry_after).timestamp() - now_ms / 1000
            except (TypeError, ValueError):
                pass
    reset = lowered.get("x-bapi-limit-reset-timestamp")
    if reset and reset.isdigit():
        # An exchange timestamp: measured against the answer's own "time" too, so a local clock
        # that runs ahead of Bybit's cannot shorten the wait (the longer of the two counts).
        server = _SERVER_TIME.search(text)
        waits = [int(reset) - now_ms] + ([int(reset) - int(server.group(1))] if server else [])
        return max(waits) / 1000
    return None


def _chain(exc: BaseException) -> list[str]:
    parts: list[str] = []
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 6:
        parts.append(f"{type(current).__name__} {current!r} {current}")
        current = current.__cause__ or current.__context__
        seen += 1
    return parts


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- keeping off an exchange


MAX_GROWTH = 8.0


_T = TypeVar("_T")


class Gate:
    """Keeps one kind of call (an exchange's REST, or its new sockets) off the exchange after it
    said stop. The n-th stop in a row waits at least what the exchange asked and up to 2^n times
    that (jittered; capped at `cap_seconds`, or at MAX_GROWTH times the asked wait when that is
    longer: repeated bans grow too); a call that works (`ok`) starts the count over. Calls made
    through `call` that are still waiting their turn when the exchange says stop are called off
    (`Preempted`): with several requests in flight, none goes out after a ban. Waits are kept on
    the clock's monotonic time, so an NTP step of the wall clock neither shortens nor lengthens a
    ban; `until_ms` says when it ends in wall ms, for the screen."""

    def __init__(self, clock: Clock, cap_seconds: float) -> None:
        self.clock = clock
        self.cap_seconds = cap_seconds
        self._until_s = -math.inf  # monotonic seconds the gate opens at
        self.reason = ""
        self.strikes = 0
        self._calls: set[asyncio.Task[object]] = set()
        self._called_off: set[asyncio.Task[object]] = set()

    def stop(self, info: ErrorInfo) -> float:
        """The exchange said stop (`info.limit` set): returns the wait in seconds. Answers to
        calls made together with the one that said stop add no strike of their own."""
        asked = max(info.wait_seconds or 1.0, 1.0)
        already = self.blocked()
        wait = max(asked, backoff_seconds(self.strikes, max(self.cap_seconds, MAX_GROWTH * asked), base=asked))
        if not already:
            self.strikes += 1
        self._until_s = max(self._until_s, self.clock.monotonic() + wait)
        self.reason = info.reason
        for task in self._calls:
            if not task.done():
                self._called_off.add(task)
                task.cancel()
        return wait

    async def call(self, request: Callable[[], Awaitable[_T]]) -> _T:
        """Make `request()` once the gate is open; raises Preempted if the exchange says stop
        (to another call) before it is answered."""
        await self.wait()
        task: asyncio.Task[_T] = asyncio.ensure_future(request())
        self._calls.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task in self._called_off and (current is None or current.cancelling() == 0):
                raise Preempted(self.reason) from None
            raise
        finally:
            self._calls.discard(task)
            self._called_off.discard(task)

    def ok(self) -> None:
        self.strikes = 0

    @property
    def until_ms(self) -> int:
        """When the gate opens, in wall ms (0: never closed)."""
        if self._until_s == -math.inf:
            return 0
        return self.clock.wall_ms() + round((self._until_s - self.clock.monotonic()) * 1000)

    def blocked(self) -> bool:
        return self._until_s > self.clock.monotonic()

    def remaining_seconds(self) -> float:
        return max(0.0, self._until_s - self.clock.monotonic())

    def describe(self) -> str:
        """'HTTP 418 IP ban until 12:03:05' while blocked, else ''."""
        return f"{self.reason} until {_hhmmss(self.until_ms)}" if self.blocked() else ""

    async def wait(self) -> None:
        """Returns once the gate is open (at once when it is)."""
        while self.blocked():
            await self.clock.sleep(self.remaining_seconds())


def _hhmmss(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))
