"""Replay a recording (SPEC §8): JSON Lines, optionally gzip, as written by `gme-tui record`.

Every line is validated here; a bad line is skipped, counted by reason and logged with its
number, and the replay goes on. Whatever a line holds, it ends as an item, a skip or a counted
bad line: never an exception other than `BadLine` (SPEC §8, issue 12 item 6).

Data time (for the "no more than 24 h beyond data time" check) is kept here exactly as the engine
keeps it (SPEC §6): the largest ts of the valid trades and bucket lines applied so far, duplicates,
late trades and disabled exchanges excluded. To know a duplicate, the parser remembers trade ids
for the minutes the engine keeps (the window plus its margin) and forgets them when the engine
does. A trade (or bucket) older than that is late: counted and dropped here, so that a far-past
ts in the first data minute never reaches the engine, whose minute lists would grow to cover it.
A duplicate is dropped here too and handed on as a DuplicateTrades item, which the engine counts;
so an engine fed by this parser need not remember ids (EngineConfig.dedupe_trades=False).

Derivatives lines (SPEC §8, §4b) become the engine's derivatives items: a trade or bucket line
with `"market":"perp"` a PerpTrade or a MinuteBucket(market="perp"), an `oi` line an
OpenInterest, a `liquidation` line a Liquidation, the meta line's `perp_listings` a
Listings(market="perp"). They are checked as strictly as spot lines. Perp trades and buckets
move data time like spot ones (the engine does the same); their ids are their own (a perp id
never duplicates a spot one). OI and liquidation lines do not move data time.

The common line (a spot trade of just Trade's keys, string or no id) is decoded by msgspec in C
straight into the Trade it becomes; a trade line with other keys (`type`, `market`) or an integer
id is decoded and type-checked by msgspec as a _TradeLine; any other line, or one that fails
there, takes the detailed checks that name the reason.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import io
import logging
import math
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import Summary
from gme_tui.model import (
    EXCHANGES,
    MINUTE_MS,
    DuplicateTrades,
    EngineStats,
    ExchangeHealth,
    HealthState,
    Language,
    Liquidation,
    Listings,
    MinuteBucket,
    OpenInterest,
    PerpTrade,
    SourceItem,
    SourceMode,
    Trade,
)

log = logging.getLogger(__name__)

MAX_AHEAD_MS = 24 * 60 * MINUTE_MS
BATCH = 2_000  # items per batch at most, paced
CHUNK_LINES = 500  # lines parsed per call: small enough that a chunk's items die young (GC, measured)
LOGGED_BAD_LINES = 100  # past this, bad lines are only counted (the summary still names them)
CHECK_LINES = 10_000  # check(): lines read ahead to refuse a file with nothing to replay early
UNKNOWN_KEEP_MINUTES = 24 * 60  # kept minutes when the engine's window is not known: bounded, generous
WARMUP_LOG_STEP = 10  # headless logs: warm-up progress every this many minutes of data
BOM = b"\xef\xbb\xbf"
_KNOWN = frozenset(EXCHANGES)
_SIDES = frozenset(("buy", "sell"))
_POSITIONS = frozenset(("long", "short"))
DEFAULT_PERP_VENUES = ("binance", "okx", "bybit")  # SPEC §4b: Coinbase's perp-style futures are off by default
_INF = math.inf
_FAR_PAST = -(1 << 62)
_ONE_DUPLICATE = DuplicateTrades(1)  # what a duplicate trade line becomes (immutable: one is shared)
_ONE_PERP_DUPLICATE = DuplicateTrades(1, market="perp")

YOUNG_GC_THRESHOLD = 20_000  # allocations between young collections while a file is read (CPython: 700)


class _YoungCollections:
    """Fewer young garbage collections while replay files are read (SPEC §8's full-speed replay).

    Under CPython's default threshold (700 allocations) a young collection finds a chunk's items
    and the engine's fresh per-minute state alive, promotes them, and the promotions trigger full
    collections that walk every kept id (profiled on bench_replay's file: about a tenth of the
    replay). With YOUNG_GC_THRESHOLD, most of them die young. Counted, so that overlapping
    replays restore the threshold once, when the last ends; a threshold already higher is kept."""

    def __init__(self) -> None:
        self._readers = 0
        self._saved: tuple[int, int, int] | None = None

    def enter(self) -> None:
        self._readers += 1
        if self._readers == 1:
            self._saved = gc.get_threshold()
            if self._saved[0] < YOUNG_GC_THRESHOLD:
                gc.set_threshold(YOUNG_GC_THRESHOLD, *self._saved[1:])

    def leave(self) -> None:
        self._readers -= 1
        if self._readers == 0 and self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None


_young_collections = _YoungCollections()

_ExchangeName = Literal["binance", "okx", "bybit", "coinbase"]
_Positive = Annotated[float, msgspec.Meta(gt=0.0)]


class _TradeLine(msgspec.Struct, gc=False):
    """A trade line that is not Trade's exact shape (a perp one, explicit `type`/`market`, an
    integer id), validated in C: JSON types as SPEC §8 says (ints accepted as floats, no bools, no
    strings; JSON cannot hold an infinite number, msgspec refuses one that overflows)."""

    ts: int
    exchange: _ExchangeName
    symbol: Annotated[str, msgspec.Meta(min_length=1)]
    side: Literal["buy", "sell"]
    price: _Positive
    amount: _Positive
    id: str | int | None = None
    type: Literal["trade"] = "trade"
    market: Literal["spot", "perp"] = "spot"


_decode_trade = msgspec.json.Decoder(_TradeLine).decode
_decode_spot = msgspec.json.Decoder(Trade).decode  # a line of exactly Trade's keys (forbid_unknown_fields)
_decode_any = msgspec.json.Decoder().decode
_DecodeFailed = (msgspec.ValidationError, msgspec.DecodeError)


class ReplayError(Exception):
    """The file cannot be replayed (missing, unreadable, truncated): exit code 2."""


class NothingToReplay(ReplayError):
    """The file holds no valid line at all (empty files included): exit code 2. The message is
    one line naming the reasons (SPEC §8)."""


class BadLine(Exception):
    """One line that is skipped and counted."""


@dataclass(frozen=True, slots=True)
class WarmUp:
    """How far a replay is through its first window (SPEC §8): `minutes` of data seen, of the
    `window` minutes a scan needs. `done` once a full window has passed (scans are reported)."""

    minutes: int
    window: int

    @property
    def done(self) -> bool:
        return self.minutes >= self.window

    def text(self) -> str:
        """`window 12/50m`, as the status bar and the headless log say it."""
        return f"window {min(self.minutes, self.window)}/{self.window}m"


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay read. `items`: items handed on; `ignored`: trades/buckets of disabled
    exchanges; `late`: trades/buckets older than the kept minutes, dropped here (the engine's own
    `late` count adds to it); `derivatives`: the derivatives items handed on (perp trades and
    buckets, oi and liquidation lines); `first_minute`/`last_minute`: minutes (ts // 60000) of the first
    and the newest data (None without data); `window_minutes`: as given to the source (None: not
    known)."""

    lines: int
    items: int
    bad: dict[str, int]
    ignored: int
    late: int = 0
    derivatives: int = 0
    first_minute: int | None = None
    last_minute: int | None = None
    window_minutes: int | None = None

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    @property
    def covered_minutes(self) -> int:
        """Minutes the data spans up to its final scan (SPEC §6: the last scan reads the minute of
        the last data time): last - first + 1, 0 without data."""
        if self.first_minute is None or self.last_minute is None:
            return 0
        return self.last_minute - self.first_minute + 1


def open_replay(path: Path) -> io.BufferedIOBase:
    """Open plain or gzip (by magic bytes, whatever the name), or raise ReplayError."""
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise ReplayError(f"replay file not found: {path}") from None
    except IsADirectoryError:
        raise ReplayError(f"replay file is a directory: {path}") from None
    except OSError as exc:
        raise ReplayError(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    try:
        magic = raw.read(2)
        raw.seek(0)
    except OSError as exc:
        raw.close()
        raise ReplayError(f"cannot read replay file {path}: {exc.strerror or exc}") from None
    if magic == b"\x1f\x8b":
        return gzip.open(raw, "rb")
    return raw


class LineParser:
    """Turns raw lines into source items, validating each as SPEC §8 says.

    `window_minutes` and `keep_extra_minutes` are the engine's (EngineConfig): they say which
    minutes the engine keeps, hence which trades are late and how long an id is remembered. None
    (not known): 24 hours are kept, which still bounds memory. `perp_venues` are the engine's
    (EngineConfig.perp_venues, settings.perp_venues): derivatives lines of other venues are
    ignored, counted; None: those of DEFAULT_PERP_VENUES among `exchanges`.
    """

    def __init__(
        self,
        exchanges: Sequence[str] = EXCHANGES,
        *,
        window_minutes: int | None = None,
        keep_extra_minutes: int = 10,
        perp_venues: Sequence[str] | None = None,
    ) -> None:
        self.enabled = frozenset(exchanges)
        self.perp_enabled = (
            frozenset(perp_venues) if perp_venues is not None else frozenset(DEFAULT_PERP_VENUES) & self.enabled
        )
        self.window_minutes = window_minutes
        self._keep_span = window_minutes + keep_extra_minutes if window_minutes is not None else UNKNOWN_KEEP_MINUTES
        self._time = _FAR_PAST  # data time; _FAR_PAST before the first item (ints on the hot path)
        self.first_minute: int | None = None  # T0 // 60000: the first valid trade or bucket
        self.seen_content = False  # a valid line was parsed: a meta line is valid only before
        self._at_start = True  # the next line is the file's first: it may start with a BOM
        self.bad: Counter[str] = Counter()
        self.ignored = 0
        self.late = 0
        self.duplicates = 0  # dropped here; handed on as DuplicateTrades for the engine to count
        self.derivatives = 0  # derivatives items handed on: perp trades and buckets, oi, liquidations
        self._limit = _INF  # data time + 24 h: a ts beyond it is a bad line
        self._data_minute = _FAR_PAST
        self._next_minute_at = _FAR_PAST  # data time at or past this starts a new minute
        self._keep_from = _FAR_PAST  # the oldest minute kept: older trades are late
        # Trade ids of the kept minutes, as `_id_key` strings (a set of str: nothing for the
        # garbage collector to walk, unlike tuples), and per minute, to forget them with it.
        self._ids: set[str] = set()
        self._ids_at: dict[int, list[str]] = {}

    # ------------------------------------------------------------ lines

    def parse(self, line: bytes) -> SourceItem | None:
        """One line → its item; None for a blank, ignored or late line; raises BadLine. A meta line
        with `perp_listings` gives two items: this returns the first (`parse_items` gives both)."""
        items = self.parse_items(line)
        return items[0] if items else None

    def parse_items(self, line: bytes) -> list[SourceItem]:
        """One line → its items (none for a blank, ignored or late line; two for a meta line with
        `perp_listings`); raises BadLine."""
        if not self.seen_content:
            return self._parse_first(line)
        try:
            t = _decode_trade(line)
        except _DecodeFailed:
            return self._parse_checked(line)
        item = self._accept(t.exchange, t.symbol, t.ts, t.side, t.price, t.amount, t.id, perp=t.market == "perp")
        return [] if item is None else [item]

    def parse_lines(
        self, lines: Sequence[bytes], first_number: int, reject: Callable[[int, str], None]
    ) -> list[SourceItem]:
        """`parse` for many lines at once (line `first_number` first): the items, in order; each bad
        line goes to `reject(number, reason)`. The common trade line's checks are `_accept`'s,
        inlined with the parser's state in locals (this loop is most of a replay's parsing time)."""
        out: list[SourceItem] = []
        index = 0
        while not self.seen_content and index < len(lines):  # until a valid line: BOM, meta
            self._one(lines[index], first_number + index, out, reject)
            index += 1
        append = out.append
        decode, failed = _decode_spot, _DecodeFailed
        enabled, ids, ids_at = self.enabled, self._ids, self._ids_at
        data_time, limit, keep_from, next_minute_at = self._time, self._limit, self._keep_from, self._next_minute_at
        cur_minute, cur_ids = _FAR_PAST, None
        number = first_number + index - 1
        for line in lines[index:] if index else lines:
            number += 1
            try:
                t = decode(line)  # the common line: a spot trade of these keys only, decoded as the item
                exchange, symbol, price, amount = t.exchange, t.symbol, t.price, t.amount
                slow = exchange not in enabled or not symbol or not (price > 0.0 and amount > 0.0)
            except failed:
                slow = True
            if slow:  # any other line, or a check failed or the exchange is off: the detailed path
                self._time, self._limit = data_time, limit
                self._one(line, number, out, reject)
                data_time, limit, keep_from, next_minute_at = (
                    self._time,
                    self._limit,
                    self._keep_from,
                    self._next_minute_at,
                )
                cur_minute = _FAR_PAST
                continue
            if price * amount == _INF:
                reject(number, "price × amount is not finite")
                continue
            ts = t.ts
            if ts > limit:
                reject(number, "ts more than 24 h beyond data time")
                continue
            trade_id = t.id  # a string or None: an integer id failed `decode` (the detailed path)
            minute = ts // MINUTE_MS
            if trade_id is not None:
                key = f"{exchange}{len(symbol)}:{symbol}{trade_id}"  # _id_key, inlined
                if key in ids:  # the engine counts it; it does not move data time
                    self.duplicates += 1
                    append(_ONE_DUPLICATE)
                    continue
                if minute < keep_from:
                    self.late += 1
                    continue
                ids.add(key)
                if minute != cur_minute:
                    cur_minute, cur_ids = minute, ids_at.get(minute)
                    if cur_ids is None:
                        cur_ids = ids_at[minute] = []
                cur_ids.append(key)  # type: ignore[union-attr]  # set just above when None
            elif minute < keep_from:
                self.late += 1
                continue
            if ts > data_time:
                data_time, limit = ts, ts + MAX_AHEAD_MS
                if ts >= next_minute_at:
                    self._advance(ts)
                    keep_from, next_minute_at = self._keep_from, self._next_minute_at
                    cur_minute = _FAR_PAST  # its list may have been forgotten
            append(t)
        self._time, self._limit = data_time, limit
        return out

    def _one(self, line: bytes, number: int, out: list[SourceItem], reject: Callable[[int, str], None]) -> None:
        """One line off the fast loop, as `parse_items` takes it (a perp trade line or one with an
        integer id still decoded and type-checked by msgspec); a bad line goes to `reject`."""
        try:
            out.extend(self.parse_items(line))
        except BadLine as bad:
            reject(number, str(bad))

    def _parse_first(self, line: bytes) -> list[SourceItem]:
        """A line before any valid one: the file's first line may start with a BOM, and the meta
        line is valid only here (blank and bad lines before it do not count, SPEC §8)."""
        if self._at_start:
            self._at_start = False
            if line.startswith(BOM):
                line = line[len(BOM) :]
        return self._parse_checked(line)

    def _parse_checked(self, line: bytes) -> list[SourceItem]:
        try:
            obj = _decode_any(line)
        except msgspec.DecodeError:
            if not line.strip():
                return []
            raise BadLine("not valid JSON") from None
        if type(obj) is not dict:
            raise BadLine("not a JSON object")
        kind = obj.get("type", "trade")
        item: SourceItem | None
        if kind == "trade":
            item = self._trade(obj)
        elif kind == "bucket":
            item = self._bucket(obj)
        elif kind == "oi":
            item = self._oi(obj)
        elif kind == "liquidation":
            item = self._liquidation(obj)
        elif kind == "meta":
            if self.seen_content:
                raise BadLine("meta line that is not the first line")
            self.seen_content = True
            return self._meta(obj)
        else:
            raise BadLine(f"unknown type {_short(kind)}")
        self.seen_content = True  # a valid line (even one ignored, late or a duplicate)
        return [] if item is None else [item]

    def _trade(self, obj: Mapping[str, object]) -> Trade | PerpTrade | DuplicateTrades | None:
        perp = _market(obj) == "perp"
        exchange = _exchange(obj)
        symbol = _symbol(obj)
        side = obj.get("side")
        if type(side) is not str or side not in _SIDES:
            raise BadLine("side is not buy or sell")
        ts = obj.get("ts")
        if type(ts) is not int:
            raise BadLine("ts is not an integer")
        price = _positive(obj, "price")
        amount = _positive(obj, "amount")
        trade_id = obj.get("id")
        if trade_id is not None and type(trade_id) is not int and type(trade_id) is not str:
            raise BadLine("id is not a string or an integer")
        side_of: Literal["buy", "sell"] = "buy" if side == "buy" else "sell"
        return self._accept(exchange, symbol, ts, side_of, price, amount, trade_id, perp=perp)

    def _accept(
        self,
        exchange: str,
        symbol: str,
        ts: int,
        side: Literal["buy", "sell"],
        price: float,
        amount: float,
        trade_id: str | int | None,
        *,
        perp: bool = False,
    ) -> Trade | PerpTrade | DuplicateTrades | None:
        """A trade whose fields have their types: the checks that need state, in the engine's order
        (ignored, 24 h ahead, duplicate, late), then data time. `perp`: a PerpTrade, of the perp
        venues, with ids of its own. A duplicate becomes a DuplicateTrades of one: the engine
        counts it (and, told so by EngineConfig.dedupe_trades, keeps no ids of its own)."""
        if price * amount == _INF:
            raise BadLine("price × amount is not finite")
        if exchange not in (self.perp_enabled if perp else self.enabled):  # ignored entirely
            self.ignored += 1
            return None
        if ts > self._limit:
            raise BadLine("ts more than 24 h beyond data time")
        text_id = _id_text(trade_id) if type(trade_id) is int else trade_id
        minute = ts // MINUTE_MS
        if type(text_id) is str:
            key = _id_key(exchange + "+" if perp else exchange, symbol, text_id)  # "+": not a length digit
            if key in self._ids:  # the engine counts it; it does not move data time
                self.duplicates += 1
                if perp:
                    self.derivatives += 1  # a derivatives line handed on, as a count
                    return _ONE_PERP_DUPLICATE
                return _ONE_DUPLICATE
            if minute < self._keep_from:
                self.late += 1
                return None
            self._ids.add(key)
            ids = self._ids_at.get(minute)
            if ids is None:
                self._ids_at[minute] = [key]
            else:
                ids.append(key)
        else:
            text_id = None
            if minute < self._keep_from:
                self.late += 1
                return None
        if ts > self._time:
            self._advance(ts)
        return _trade_item(perp, exchange, symbol, ts, side, price, amount, text_id, self)

    def _bucket(self, obj: Mapping[str, object]) -> MinuteBucket | None:
        perp = _market(obj) == "perp"
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
        close = _positive(obj, "close") if obj.get("close") is not None else None
        if exchange not in (self.perp_enabled if perp else self.enabled):
            self.ignored += 1
            return None
        ts = minute * MINUTE_MS
        if ts > self._limit:
            raise BadLine("ts more than 24 h beyond data time")
        if minute < self._keep_from:
            self.late += 1
            return None
        if ts > self._time:
            self._advance(ts)
        if perp:
            self.derivatives += 1
            return MinuteBucket(exchange, symbol, minute, buy, sell, count, close, market="perp")
        return MinuteBucket(exchange, symbol, minute, buy, sell, count, close)

    def _oi(self, obj: Mapping[str, object]) -> OpenInterest | None:
        """An open-interest sample (SPEC §8: base units). 0 is a figure (a new listing's), not a
        bad line. It does not move data time (the engine's OI does not either)."""
        exchange = _exchange(obj)
        symbol = _symbol(obj)
        ts = _ts(obj)
        oi = _non_negative(obj, "oi")
        if exchange not in self.perp_enabled:
            self.ignored += 1
            return None
        if ts > self._limit:
            raise BadLine("ts more than 24 h beyond data time")
        self.derivatives += 1
        return OpenInterest(exchange, symbol, ts, oi)

    def _liquidation(self, obj: Mapping[str, object]) -> Liquidation | None:
        """SPEC §7's liquidation line: `side` the position liquidated; `value` (quote) as given,
        else price × amount. It does not move data time (nor does it in the engine)."""
        exchange = _exchange(obj)
        symbol = _symbol(obj)
        ts = _ts(obj)
        side = obj.get("side")
        if type(side) is not str or side not in _POSITIONS:
            raise BadLine("side is not long or short")
        price = _positive(obj, "price")
        amount = _positive(obj, "amount")
        value = _positive(obj, "value") if obj.get("value") is not None else price * amount
        if value == _INF:
            raise BadLine("price × amount is not finite")
        if exchange not in self.perp_enabled:
            self.ignored += 1
            return None
        if ts > self._limit:
            raise BadLine("ts more than 24 h beyond data time")
        self.derivatives += 1
        return Liquidation(ts, exchange, symbol, "long" if side == "long" else "short", price, amount, value)

    def _meta(self, obj: Mapping[str, object]) -> list[SourceItem]:
        """Listings (spot) and, with `perp_listings`, a Listings(market="perp") of the perp venues."""
        items: list[SourceItem] = [Listings(_listed(obj.get("listings", {}), "listings", self.enabled))]
        if "perp_listings" in obj:
            perp = _listed(obj["perp_listings"], "perp_listings", self.perp_enabled)
            items.append(Listings(perp, market="perp"))
        return items

    # ------------------------------------------------------------ data time

    def _advance(self, ts: int) -> None:
        """Data time moves to `ts`: the 24-h limit with it and, in a new minute, the kept minutes
        (the engine prunes to minute - window - margin at the scan before it applies `ts`)."""
        self._time = ts
        self._limit = ts + MAX_AHEAD_MS
        if ts < self._next_minute_at:
            return
        minute = ts // MINUTE_MS
        self._next_minute_at = (minute + 1) * MINUTE_MS
        if self.first_minute is None:
            self.first_minute = minute
        self._data_minute = minute
        self._forget_before(minute - self._keep_span)

    def _forget_before(self, keep_from: int) -> None:
        old, self._keep_from = self._keep_from, keep_from
        if not self._ids_at:
            return
        if old == _FAR_PAST or keep_from - old > len(self._ids_at):
            stale = [m for m in self._ids_at if m < keep_from]
        else:  # the usual step: a minute or a few
            stale = [m for m in range(old, keep_from) if m in self._ids_at]
        for minute in stale:
            self._ids.difference_update(self._ids_at.pop(minute))

    @property
    def data_time(self) -> int | None:
        """The largest ts (ms) of the valid, non-duplicate, non-late items so far (SPEC §6)."""
        return None if self._time == _FAR_PAST else self._time

    def warmup(self, data_time: int | None = None) -> WarmUp | None:
        """Warm-up progress at `data_time` (ms; default: the parser's); None while the window is
        not known."""
        if self.window_minutes is None:
            return None
        at = self.data_time if data_time is None else data_time
        if self.first_minute is None or at is None:
            return WarmUp(minutes=0, window=self.window_minutes)
        return WarmUp(minutes=max(0, at // MINUTE_MS - self.first_minute), window=self.window_minutes)


LINE_BYTES = 128  # a typical line's size: `size` lines are read as about size × this many bytes


class _BrokenOff(Exception):
    """Reading a gzip stream broke off with `error`: `lines`, read before it, still count."""

    def __init__(self, lines: list[bytes], error: Exception) -> None:
        super().__init__(str(error))
        self.lines = lines
        self.error = error


def _read_error(path: Path, lines: int, error: Exception) -> ReplayError:
    """What a damaged gzip stream or a failed read says, after the `lines` handed out."""
    if isinstance(error, (EOFError, zlib.error, gzip.BadGzipFile)):
        return ReplayError(f"{path}: the gzip stream is truncated or corrupt after line {lines} ({error})")
    return ReplayError(f"{path}: read failed after line {lines}: {error}")


def _plain_lines(file: io.BufferedIOBase, size: int) -> Iterator[list[bytes]]:
    """A plain file's lines in lists of about `size`, split in C (`readlines` with a byte hint):
    a Python loop per line cost a twentieth of a replay. A read error raises OSError; the lines of
    that last read were never handed out, so nothing accepted is lost."""
    hint = (size - 1) * LINE_BYTES + 1  # size 1: exactly one line each time
    while lines := file.readlines(hint):
        yield lines


def _gzip_lines(file: io.BufferedIOBase, size: int) -> Iterator[list[bytes]]:
    """A gzip file's lines in lists of `size`, one at a time, so that when the stream is damaged
    (or a read fails) the lines before are kept: raised with them as _BrokenOff."""
    lines: list[bytes] = []
    append = lines.append
    try:
        for line in file:
            append(line)
            if len(lines) >= size:
                yield lines
                lines = []
                append = lines.append
    except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
        raise _BrokenOff(lines, exc) from None
    yield lines


def _short(value: object) -> str:
    """A value for a reason text: its repr, cut short (a reason must stay one short line)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _id_key(exchange: str, symbol: str, trade_id: str) -> str:
    """One string per (exchange, symbol, id): the exchange is one of four names, none the start
    of another, and the symbol's length fixes where the id begins, so no two triples collide."""
    return f"{exchange}{len(symbol)}:{symbol}{trade_id}"


def _id_text(trade_id: str | int | None) -> str:
    try:
        return str(trade_id)  # ids compare as strings: 123 is "123" (SPEC §8)
    except ValueError:  # more digits than Python converts: no exchange id looks like that
        raise BadLine("id is not a string or an integer") from None


def _trade_item(
    perp: bool,
    exchange: str,
    symbol: str,
    ts: int,
    side: Literal["buy", "sell"],
    price: float,
    amount: float,
    trade_id: str | None,
    parser: LineParser,
) -> Trade | PerpTrade:
    """The item of an accepted trade line: a PerpTrade (counted as a derivatives item) or a Trade."""
    if perp:
        parser.derivatives += 1
        return PerpTrade(exchange, symbol, ts, side, price, amount, trade_id)
    return Trade(exchange, symbol, ts, side, price, amount, trade_id)


def _listed(listings: object, key: str, enabled: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """A meta line's `listings` or `perp_listings`: {symbol: [exchange ids]}, kept to `enabled`."""
    if type(listings) is not dict:
        raise BadLine(f"meta {key} is not an object")
    symbols: dict[str, tuple[str, ...]] = {}
    for symbol, exchanges in listings.items():
        if (
            type(symbol) is not str
            or not symbol
            or type(exchanges) is not list
            or not all(type(e) is str and e in _KNOWN for e in exchanges)
        ):
            raise BadLine(
                f"meta {'perp ' if key == 'perp_listings' else ''}listing for {_short(symbol)} "
                "is not a list of exchange ids"
            )
        symbols[symbol] = tuple(e for e in exchanges if e in enabled)
    return symbols


def _ts(obj: Mapping[str, object]) -> int:
    ts = obj.get("ts")
    if type(ts) is not int:
        raise BadLine("ts is not an integer")
    return ts


def _market(obj: Mapping[str, object]) -> str:
    market = obj.get("market", "spot")
    if market != "spot" and market != "perp":
        raise BadLine("market is not spot or perp")
    return "perp" if market == "perp" else "spot"


def _exchange(obj: Mapping[str, object]) -> str:
    exchange = obj.get("exchange")
    if type(exchange) is not str or exchange not in _KNOWN:
        raise BadLine("exchange is not one of " + ", ".join(EXCHANGES))
    return exchange


def _symbol(obj: Mapping[str, object]) -> str:
    symbol = obj.get("symbol")
    if type(symbol) is not str or not symbol:
        raise BadLine("symbol is not a non-empty string")
    return symbol


def _number(obj: Mapping[str, object], key: str) -> float:
    value = obj.get(key)
    if type(value) is float:
        number = value
    elif type(value) is int:
        try:
            number = float(value)
        except OverflowError:
            raise BadLine(f"{key} is not finite") from None
    else:
        raise BadLine(f"{key} is not a number")
    if not math.isfinite(number):
        raise BadLine(f"{key} is not finite")
    return number


def _positive(obj: Mapping[str, object], key: str) -> float:
    value = _number(obj, key)
    if value <= 0:
        raise BadLine(f"{key} is not greater than 0")
    return value


def _non_negative(obj: Mapping[str, object], key: str) -> float:
    value = _number(obj, key)
    if value < 0:
        raise BadLine(f"{key} is negative")
    return value


# ---------------------------------------------------------------- the source


class ReplaySource:
    """A recording as a Source (SPEC §8). `speed` 1 = real time, 0 = as fast as possible.

    Pacing follows the data time of trade lines only: meta and bucket lines before the first
    trade are history and load at once. `window_minutes`/`keep_extra_minutes` are the engine's
    (pass them: they make late and duplicate checks exact, and give warm-up progress and the
    short-file line); `perp_venues` too (EngineConfig.perp_venues: which derivatives lines the
    engine takes; None: DEFAULT_PERP_VENUES among `exchanges`, as the default settings say);
    `clock`/`sleep` are injectable (seconds) for tests. `language`: of the short-file line a
    trader reads (settings.language; English when not given).
    """

    mode = SourceMode.REPLAY

    def __init__(
        self,
        path: Path,
        *,
        speed: float = 0.0,
        exchanges: Sequence[str] = EXCHANGES,
        window_minutes: int | None = None,
        keep_extra_minutes: int = 10,
        perp_venues: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        language: Language = "en",
    ) -> None:
        self.path = Path(path)
        self.language: Language = language
        self.speed = speed
        self.exchanges = tuple(exchanges)
        self.window_minutes = window_minutes
        self._keep_extra = keep_extra_minutes
        self.perp_venues = None if perp_venues is None else tuple(perp_venues)
        self._clock = clock
        self._sleep = sleep
        self._parser = self._new_parser()
        self._lines = 0
        self._items = 0
        self._logged_bad = 0
        self._warmup_logged = 0
        self._file: io.BufferedIOBase | None = None
        self._last_ts: dict[str, int] = {}
        self._handed: int | None = None  # data time of the items handed out so far
        self.finished = False
        # control (the TUI's ReplayControl): pause, speed changes and progress
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._changed = asyncio.Event()  # set by pause, resume and set_speed: ends a pacing sleep
        self._stale = False  # speed changed or resumed: pace on from the last trade handed
        self._origin: int | None = None  # the trade ts pacing counts from
        self._started = 0.0  # the clock (s) at `_origin`
        self._trade_time = _FAR_PAST  # the data time of trade lines: what pacing follows (SPEC §8)
        self._started_fast = speed <= 0  # chunks at once; a speed 0 set later goes minute by minute
        self._size = 0
        self._position: Callable[[], int] | None = None  # a gzip's position in its compressed bytes
        self._consumed = 0  # bytes of the lines handled (plain files: the progress)
        self.engine_stats: Callable[[], EngineStats] | None = None  # the cli's, for summary_text

    def _new_parser(self) -> LineParser:
        return LineParser(
            self.exchanges,
            window_minutes=self.window_minutes,
            keep_extra_minutes=self._keep_extra,
            perp_venues=self.perp_venues,
        )

    def check(self) -> None:
        """Fail early, before any UI starts: ReplayError when the file cannot be opened or read,
        NothingToReplay when it ends within its first CHECK_LINES lines without a valid line."""
        parser = self._new_parser()
        lines = 0
        found = False
        with open_replay(self.path) as file:
            try:
                for line in file:
                    lines += 1
                    try:
                        found = parser.parse(line) is not None or parser.seen_content
                    except BadLine as bad:
                        parser.bad[str(bad)] += 1
                    if found or lines >= CHECK_LINES:
                        return
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise ReplayError(f"{self.path}: the gzip stream is truncated or corrupt ({exc})") from None
            except OSError as exc:
                raise ReplayError(f"{self.path}: read failed: {exc}") from None
        raise NothingToReplay(_nothing_text(self.path, lines, parser))

    def items(self) -> Iterator[SourceItem]:
        """Every valid item, synchronously (the fast path of headless replays). Raises ReplayError
        for a damaged file (after the items read) and NothingToReplay at the end of a file
        without a valid line."""
        for chunk in self.chunks():
            yield from chunk

    def chunks(self, size: int = CHUNK_LINES) -> Iterator[list[SourceItem]]:
        """Every valid item, in lists (the items of about `size` lines: a plain file is read
        `size` × LINE_BYTES bytes at a time; `size` 1 is one line): lines are parsed a chunk at a
        time, so the per-line loop runs in one place; a chunk that small has its items freed
        before the garbage collector's youngest generation fills. Raises as `items` does."""
        for lines in self._read(size):
            first = self._lines + 1
            self._lines += len(lines)
            items = self._parser.parse_lines(lines, first, self._reject)
            self._handed = self._parser.data_time
            self._log_warmup()
            if items:
                self._items += len(items)
                yield items
        self._at_end()

    def _read(self, size: int) -> Iterator[list[bytes]]:
        """The file's lines, about `size` at a time; on damage, the lines read before it, then
        ReplayError."""
        self._file = file = open_replay(self.path)
        self._watch_position(file)
        _young_collections.enter()
        try:
            try:
                yield from _gzip_lines(file, size) if isinstance(file, gzip.GzipFile) else _plain_lines(file, size)
            except _BrokenOff as broken:
                yield broken.lines
                raise _read_error(self.path, self._lines, broken.error) from None
            except OSError as exc:
                raise _read_error(self.path, self._lines, exc) from None
        finally:
            _young_collections.leave()
            self.finished = True
            file.close()

    def _at_end(self) -> None:
        """The end of a whole file: nothing valid is unusable input; a short file says so."""
        if self._items == 0 and self._parser.ignored == 0 and self._parser.derivatives == 0:
            raise NothingToReplay(_nothing_text(self.path, self._lines, self._parser))
        line = short_file_line(self.summary(), self.language)
        if line is not None:
            log.warning("%s", line)

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        """Batches of items. Speed 0: as parsed, a chunk at a time. With speed X > 0, an item is
        handed out when data time (SPEC §6: duplicates and late trades do not move it) has advanced
        by X times the time since the first trade: history before the first trade goes at once,
        what is due goes in one batch, sleeping only for visible gaps. `pause`, `resume` and
        `set_speed` act from the next item on (a replay started at speed 0: the next chunk)."""
        batch: list[SourceItem] = []
        try:
            for lines in self._read(CHUNK_LINES):
                if self.speed <= 0 and self._started_fast and not self._paused:
                    chunk = self._fast(lines)
                    if chunk:
                        yield self._noted(chunk)
                    await asyncio.sleep(0)  # let the UI breathe between batches
                    continue
                async for ready in self._paced(lines, batch):
                    yield ready
                self._log_warmup()
            self._at_end()
        except ReplayError:
            if batch:  # what was read before the damage still counts
                yield self._noted(batch)
            raise
        if batch:
            yield self._noted(batch)

    def _fast(self, lines: list[bytes]) -> list[SourceItem]:
        """One chunk parsed at once (speed 0); pacing goes on from its last trade."""
        first = self._lines + 1
        self._lines += len(lines)
        self._consumed += sum(map(len, lines))
        items = self._parser.parse_lines(lines, first, self._reject)
        self._handed = self._parser.data_time
        self._log_warmup()
        self._items += len(items)
        for item in reversed(items):
            if type(item) is Trade or type(item) is PerpTrade:
                self._trade_time = max(self._trade_time, item.ts)
                break
        self._stale = True
        return items

    async def _paced(self, lines: list[bytes], batch: list[SourceItem]) -> AsyncIterator[Sequence[SourceItem]]:
        """The items of `lines`, each when due; `batch` (shared with the caller) holds what is
        due but not yet handed out."""
        parser, parse = self._parser, self._parser.parse_items
        for line in lines:
            self._lines += 1
            self._consumed += len(line)
            try:
                items = parse(line)
            except BadLine as bad:
                self._reject(self._lines, str(bad))
                continue
            for item in items:
                # a duplicate is a DuplicateTrades item: it moves no time (SPEC §6)
                if (type(item) is Trade or type(item) is PerpTrade) and item.ts > self._trade_time:
                    async for ready in self._due(item.ts, batch):
                        yield ready
                    self._trade_time = item.ts
                batch.append(item)
                self._items += 1
                self._handed = parser.data_time
                if len(batch) >= BATCH:
                    yield self._noted(list(batch))
                    batch.clear()
                    await asyncio.sleep(0)

    async def _due(self, ts: int, batch: list[SourceItem]) -> AsyncIterator[Sequence[SourceItem]]:
        """Wait until the trade at `ts` is due (paused: until resumed), handing `batch` out first."""
        while True:
            if self._paused:
                if batch:
                    yield self._noted(list(batch))
                    batch.clear()
                await self._resumed.wait()
                continue
            if self._origin is None or self._stale:  # the first trade, or a new speed: pace from here
                self._origin = ts if self._trade_time == _FAR_PAST else self._trade_time
                self._started = self._clock()
                self._stale = False
            if self.speed <= 0:
                if batch and ts // MINUTE_MS > self._trade_time // MINUTE_MS:
                    # a new minute may bring a scan: hand out what came before, so a control acting
                    # on that scan (the UI's jump to the next signal) acts before this trade
                    yield self._noted(list(batch))
                    batch.clear()
                    continue
                return
            wait = self._started + (ts - self._origin) / 1000 / self.speed - self._clock()
            if wait <= 0.05:
                return
            if batch:
                yield self._noted(list(batch))
                batch.clear()
            await self._nap(wait)

    async def _nap(self, seconds: float) -> None:
        """`sleep(seconds)`, cut short by pause, resume or a new speed (which then act at once)."""
        self._changed.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        changed = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((sleeper, changed), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            changed.cancel()
        if sleeper.done() and not sleeper.cancelled():
            sleeper.result()  # a failing sleep fails the replay, as it did before

    def _noted(self, batch: list[SourceItem]) -> list[SourceItem]:
        """The batch, after noting each exchange's newest trade time in it (for health)."""
        seen: set[str] = set()
        for item in reversed(batch):
            if (type(item) is Trade or type(item) is PerpTrade) and item.exchange not in seen:
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

    def _log_warmup(self) -> None:
        """Headless logs: the warm-up's progress every WARMUP_LOG_STEP minutes of data, once each."""
        warmup = self.warmup()
        if warmup is None or self._warmup_logged >= warmup.window:
            return
        step = min(warmup.window, warmup.minutes // WARMUP_LOG_STEP * WARMUP_LOG_STEP)
        if warmup.done:
            step = warmup.window
        if step > self._warmup_logged:
            self._warmup_logged = step
            log.info("replay warm-up: %s%s", warmup.text(), ": scans report from now on" if warmup.done else "")

    # ------------------------------------------------------------ control (core.seams.ReplayControl)

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self._resumed.clear()
        self._changed.set()

    def resume(self) -> None:
        if self._paused:
            self._paused = False
            self._stale = True
            self._resumed.set()
            self._changed.set()

    def set_speed(self, speed: float) -> None:
        """ValueError for a negative speed."""
        if speed < 0:
            raise ValueError(f"replay speed must be 0 or more, not {speed}")
        if speed != self.speed:
            self.speed = speed
            self._stale = True
            self._changed.set()

    def _watch_position(self, file: io.BufferedIOBase) -> None:
        """Progress: the bytes of the lines handled of a plain file; a gzip's position in its
        compressed bytes (read ahead by a buffer)."""
        try:
            self._size = self.path.stat().st_size
        except OSError:
            self._size = 0
        raw: object = file.fileobj if isinstance(file, gzip.GzipFile) else None
        self._position = raw.tell if isinstance(raw, io.IOBase) else None

    def progress(self) -> float | None:
        """0..1: bytes handled of the file's size; None before reading."""
        if self.finished:
            return 1.0
        if self._size <= 0:
            return None
        if self._position is None:
            return min(1.0, self._consumed / self._size)
        try:
            return min(1.0, self._position() / self._size)
        except (OSError, ValueError):  # closed meanwhile
            return None

    def data_time(self) -> int | None:
        return self._handed

    def warmup_minutes(self) -> tuple[int, int] | None:
        warmup = self.warmup()
        if warmup is None or warmup.done:
            return None
        return warmup.minutes, warmup.window

    def summary_text(self) -> str | None:
        """After the end: `finished_line` (with `engine_stats` when the cli set it) and the
        short-file line, one per line; None before the end."""
        if not self.finished:
            return None
        summary = self.summary()
        stats = self.engine_stats() if self.engine_stats is not None else EngineStats()
        lines = [finished_line(summary, stats, language=self.language)]
        short = short_file_line(summary, self.language)
        if short is not None:
            lines.append(short)
        return "\n".join(lines)

    # ------------------------------------------------------------ state

    def warmup(self) -> WarmUp | None:
        """Warm-up progress for the status bar (`window 12/50m`) at the data time of the items
        handed out; None when the window is unknown."""
        return self._parser.warmup(self._handed)

    def summary(self) -> ReplaySummary:
        parser = self._parser
        return ReplaySummary(
            lines=self._lines,
            items=self._items,
            bad=dict(parser.bad),
            ignored=parser.ignored,
            late=parser.late,
            derivatives=parser.derivatives,
            first_minute=parser.first_minute,
            last_minute=None if parser.data_time is None else parser.data_time // MINUTE_MS,
            window_minutes=self.window_minutes,
        )

    def health(self) -> Sequence[ExchangeHealth]:
        state = HealthState.DONE if self.finished else HealthState.REPLAY
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


# ---------------------------------------------------------------- what the command line says


def _reasons(bad: Mapping[str, int], ignored: int, most: int = 3) -> str:
    parts = [f"{count} {reason}" for reason, count in sorted(bad.items(), key=lambda kv: (-kv[1], kv[0]))]
    if len(parts) > most:
        parts = [*parts[:most], f"{len(bad) - most} more reasons"]
    if ignored:
        parts.append(f"{ignored} of disabled exchanges")
    return ", ".join(parts)


def _nothing_text(path: Path, lines: int, parser: LineParser) -> str:
    if lines == 0:
        return f"{path}: nothing to replay: the file is empty"
    if not parser.bad and not parser.ignored:
        return f"{path}: nothing to replay: the file holds only blank lines"
    return f"{path}: nothing to replay: no valid line in {lines} lines ({_reasons(parser.bad, parser.ignored)})"


def short_file_line(summary: ReplaySummary, language: Language = "en") -> str | None:
    """One line when the data ended before a full window (no scan could be reported), or held no
    data at all; else None (SPEC §8). The window part needs `window_minutes` given to the source.
    In `language` (the catalogue's `summary`)."""
    words = catalogue(language).summary
    if summary.first_minute is None:
        if summary.derivatives:
            lines = _count(summary.derivatives, words.derivatives_line_one, words.derivatives_lines_many)
            return words.short_no_spot.format(lines=lines)
        if summary.ignored:
            return words.short_disabled_only.format(lines=_count(summary.ignored, words.line_one, words.lines_many))
        return words.short_nothing
    window = summary.window_minutes
    if window is None or summary.covered_minutes >= window:
        return None
    minutes = _count(summary.covered_minutes, words.minute_one, words.minutes_many)
    return words.short_window.format(minutes=minutes, window=window)


def _count(number: int, one: str, many: str) -> str:
    return (one if number == 1 else many).format(n=number)


def finished_line(summary: ReplaySummary, stats: EngineStats, *, language: Language) -> str:
    """The headless summary at the end of a replay, in `language` (settings.language):
    `replay finished: 120 lines, 100 trades, ...`. Late trades add the source's (dropped before
    the engine) to the engine's. The bad lines' reasons stay the parser's (English)."""
    t = catalogue(language)
    words: Summary = t.summary
    parts = [
        words.lines.format(n=summary.lines),
        words.trades.format(n=stats.trades),
        words.buckets.format(n=stats.buckets),
        words.scans.format(n=stats.scans),
    ]
    if summary.bad_total:
        reasons = t.common.list_sep.join(f"{count} {reason}" for reason, count in sorted(summary.bad.items()))
        parts.append(words.bad_lines.format(n=summary.bad_total, reasons=reasons))
    if summary.ignored:
        parts.append(words.ignored.format(n=summary.ignored))
    if summary.derivatives:
        parts.append(words.derivatives.format(n=summary.derivatives))
    if stats.duplicates:
        parts.append(words.duplicates.format(n=stats.duplicates))
    late = stats.late + summary.late
    if late:
        parts.append(words.late.format(n=late))
    return words.replay_finished.format(parts=t.common.list_sep.join(parts))
