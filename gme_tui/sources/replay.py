"""Replay a recording (SPEC §8): JSON Lines, optionally gzip, as written by `gme-tui record`.

Every line is validated here; a bad line is skipped, counted by reason and logged with its
number, and the replay goes on. Data time for the "no more than 24 h ahead" check is the largest
ts of the valid lines so far (trades of disabled exchanges excluded).
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import math
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from gme_tui.model import EXCHANGES, MINUTE_MS, ExchangeHealth, Listings, MinuteBucket, SourceItem, Trade

log = logging.getLogger(__name__)

MAX_AHEAD_MS = 24 * 60 * MINUTE_MS
BATCH = 2_000
LOGGED_BAD_LINES = 100  # past this, bad lines are only counted (the summary still names them)
_KNOWN = frozenset(EXCHANGES)
_loads = orjson.loads
_SIDES = frozenset(("buy", "sell"))


class ReplayError(Exception):
    """The file cannot be replayed (missing, unreadable, truncated): exit code 2."""


class BadLine(Exception):
    """One line that is skipped and counted."""


@dataclass(frozen=True)
class ReplaySummary:
    lines: int
    items: int
    bad: dict[str, int]
    ignored: int  # trades/buckets of disabled exchanges

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())


def open_replay(path: Path) -> IO[bytes]:
    """Open plain or gzip (by magic bytes, whatever the name), or raise ReplayError."""
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise ReplayError(f"replay file not found: {path}") from None
    except IsADirectoryError:
        raise ReplayError(f"replay file is a directory: {path}") from None
    except OSError as exc:
        raise ReplayError(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


class LineParser:
    """Turns raw lines into source items, validating each as SPEC §8 says.

    The common line (a trade with float price and amount, after the first line) takes one fast
    check; anything else, or anything that fails it, goes through the detailed checks that name
    the reason.
    """

    def __init__(self, exchanges: Sequence[str] = EXCHANGES) -> None:
        self.enabled = frozenset(exchanges)
        self.data_time: int | None = None
        self._limit = math.inf  # data time + 24 h: a ts beyond it is a bad line
        self.seen_content = False  # a meta line is only valid before any other line
        self.bad: Counter[str] = Counter()
        self.ignored = 0

    def parse(self, line: bytes) -> SourceItem | None:
        """One line → an item, None for blank/ignored lines; raises BadLine."""
        try:
            obj = _loads(line)
        except orjson.JSONDecodeError:
            if not line.strip():
                return None
            self.seen_content = True
            raise BadLine("not valid JSON") from None
        if type(obj) is dict and "type" not in obj and self.seen_content:
            get = obj.get
            exchange, symbol, side, ts = get("exchange"), get("symbol"), get("side"), get("ts")
            price, amount, trade_id = get("price"), get("amount"), get("id")
            if (
                exchange in self.enabled
                and type(symbol) is str
                and symbol
                and side in _SIDES
                and type(ts) is int
                and ts <= self._limit
                and type(price) is float
                and 0.0 < price < math.inf
                and type(amount) is float
                and 0.0 < amount < math.inf
                and (trade_id is None or type(trade_id) is str)
            ):
                if self.data_time is None or ts > self.data_time:
                    self.data_time = ts
                    self._limit = ts + MAX_AHEAD_MS
                return Trade(exchange, symbol, ts, side, price, amount, trade_id)
        return self._parse_checked(obj)

    def _parse_checked(self, obj: object) -> SourceItem | None:
        if not isinstance(obj, dict):
            self.seen_content = True
            raise BadLine("not a JSON object")
        kind = obj.get("type", "trade")
        first = not self.seen_content
        self.seen_content = True
        if kind == "trade":
            return self._trade(obj)
        if kind == "bucket":
            return self._bucket(obj)
        if kind == "meta":
            if not first:
                raise BadLine("meta line that is not the first line")
            return self._meta(obj)
        raise BadLine(f"unknown type {kind!r}")

    def _trade(self, obj: dict) -> Trade | None:
        exchange = _exchange(obj)
        symbol = _symbol(obj)
        side = obj.get("side")
        if side not in _SIDES:
            raise BadLine("side is not buy or sell")
        ts = obj.get("ts")
        if type(ts) is not int:
            raise BadLine("ts is not an integer")
        price = _positive(obj, "price")
        amount = _positive(obj, "amount")
        trade_id = obj.get("id")
        if trade_id is not None:
            kind = type(trade_id)
            if kind is int:
                trade_id = str(trade_id)
            elif kind is not str:
                raise BadLine("id is not a string or an integer")
        if exchange not in self.enabled:
            self.ignored += 1
            return None
        self._check_time(ts)
        return Trade(exchange, symbol, ts, side, price, amount, trade_id)

    def _bucket(self, obj: dict) -> MinuteBucket | None:
        exchange = _exchange(obj)
        symbol = _symbol(obj)
        minute = obj.get("minute")
        if type(minute) is not int or minute < 0:
            raise BadLine("minute is not a non-negative integer")
        buy = _non_negative(obj, "buy")
        sell = _non_negative(obj, "sell")
        count = obj.get("count", 0)
        if type(count) is not int or count < 0:
            raise BadLine("count is not a non-negative integer")
        close = obj.get("close")
        if close is not None:
            close = _positive(obj, "close")
        if exchange not in self.enabled:
            self.ignored += 1
            return None
        self._check_time(minute * MINUTE_MS)
        return MinuteBucket(exchange, symbol, minute, buy, sell, count, close)

    def _meta(self, obj: dict) -> Listings:
        listings = obj.get("listings", {})
        if not isinstance(listings, dict):
            raise BadLine("meta listings is not an object")
        symbols: dict[str, tuple[str, ...]] = {}
        for symbol, exchanges in listings.items():
            if not symbol or not isinstance(exchanges, list) or not all(e in _KNOWN for e in exchanges):
                raise BadLine(f"meta listing for {symbol!r} is not a list of exchange ids")
            symbols[symbol] = tuple(e for e in exchanges if e in self.enabled)
        return Listings(symbols)

    def _check_time(self, ts: int) -> None:
        if ts > self._limit:
            raise BadLine("ts more than 24 h beyond data time")
        if self.data_time is None or ts > self.data_time:
            self.data_time = ts
            self._limit = ts + MAX_AHEAD_MS


def _exchange(obj: dict) -> str:
    exchange = obj.get("exchange")
    if exchange not in _KNOWN:
        raise BadLine("exchange is not one of " + ", ".join(EXCHANGES))
    return exchange  # type: ignore[return-value]


def _symbol(obj: dict) -> str:
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise BadLine("symbol is not a non-empty string")
    return symbol


def _number(obj: dict, key: str) -> float:
    value = obj.get(key)
    kind = type(value)
    if kind is not float and kind is not int:
        raise BadLine(f"{key} is not a number")
    if not math.isfinite(value):
        raise BadLine(f"{key} is not finite")
    return float(value)


def _positive(obj: dict, key: str) -> float:
    value = _number(obj, key)
    if value <= 0:
        raise BadLine(f"{key} is not greater than 0")
    return value


def _non_negative(obj: dict, key: str) -> float:
    value = _number(obj, key)
    if value < 0:
        raise BadLine(f"{key} is negative")
    return value


def _item_ts(item: SourceItem) -> int | None:
    if isinstance(item, Trade):
        return item.ts
    if isinstance(item, MinuteBucket):
        return item.minute * MINUTE_MS
    return None


class ReplaySource:
    """A recording as a Source. `speed` 1 = real time, 0 = as fast as possible."""

    mode = "replay"

    def __init__(
        self,
        path: Path,
        *,
        speed: float = 0.0,
        exchanges: Sequence[str] = EXCHANGES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.path = Path(path)
        self.speed = speed
        self.exchanges = tuple(exchanges)
        self._clock = clock
        self._sleep = sleep
        self._parser = LineParser(exchanges)
        self._lines = 0
        self._items = 0
        self._logged_bad = 0
        self._file: IO[bytes] | None = None
        self._last_ts: dict[str, int] = {}
        self.finished = False

    def check(self) -> None:
        """Fail early (ReplayError) when the file cannot be opened, before any UI starts."""
        open_replay(self.path).close()

    def items(self) -> Iterator[SourceItem]:
        """Every valid item, synchronously (the fast path of headless replays)."""
        self._file = open_replay(self.path)
        parse = self._parser.parse
        try:
            for number, line in enumerate(self._file, start=1):
                self._lines = number
                try:
                    item = parse(line)
                except BadLine as bad:
                    self._reject(number, str(bad))
                    continue
                if item is not None:
                    self._items += 1
                    yield item
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ReplayError(
                f"{self.path}: the gzip stream is truncated or corrupt after line {self._lines} ({exc})"
            ) from None
        except OSError as exc:
            raise ReplayError(f"{self.path}: read failed after line {self._lines}: {exc}") from None
        finally:
            self.finished = True
            self._file.close()

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        """Batches of at most BATCH items. With speed X > 0 an item of data time t is handed out
        (t - first) / X after the start: what is due goes in one batch, sleeping only for visible gaps."""
        batch: list[SourceItem] = []
        paced = self.speed > 0
        started = self._clock()
        origin: int | None = None
        try:
            for item in self.items():
                if paced and (ts := _item_ts(item)) is not None:
                    origin = ts if origin is None else origin
                    wait = started + (ts - origin) / 1000 / self.speed - self._clock()
                    if wait > 0.05:
                        if batch:
                            yield self._noted(batch)
                            batch = []
                        await self._sleep(wait)
                batch.append(item)
                if len(batch) >= BATCH:
                    yield self._noted(batch)
                    batch = []
                    await asyncio.sleep(0)  # let the UI breathe between batches
        except ReplayError:
            if batch:  # what was read before the damage still counts
                yield self._noted(batch)
            raise
        if batch:
            yield self._noted(batch)

    def _noted(self, batch: list[SourceItem]) -> list[SourceItem]:
        """The batch, after noting each exchange's newest trade time in it (for health)."""
        seen: set[str] = set()
        for item in reversed(batch):
            if type(item) is Trade and item.exchange not in seen:
                seen.add(item.exchange)
                if item.ts > self._last_ts.get(item.exchange, -1):
                    self._last_ts[item.exchange] = item.ts
                if len(seen) == len(self.exchanges):
                    break
        return batch

    def _reject(self, number: int, reason: str) -> None:
        self._parser.bad[reason] += 1
        self._logged_bad += 1
        if self._logged_bad <= LOGGED_BAD_LINES:
            log.warning("%s:%d: line skipped: %s", self.path, number, reason)
        elif self._logged_bad == LOGGED_BAD_LINES + 1:
            log.warning("%s: more bad lines; they are counted but no longer logged one by one", self.path)

    def summary(self) -> ReplaySummary:
        return ReplaySummary(
            lines=self._lines,
            items=self._items,
            bad=dict(self._parser.bad),
            ignored=self._parser.ignored,
        )

    def health(self) -> Sequence[ExchangeHealth]:
        state = "done" if self.finished else "replay"
        return tuple(
            ExchangeHealth(
                exchange=exchange,
                state=state,
                since_ms=0,
                last_message_ms=self._last_ts.get(exchange),
                dropped=0,
            )
            for exchange in self.exchanges
        )

    async def close(self) -> None:
        if self._file is not None:
            self._file.close()
