"""Minute buckets of one (exchange, symbol): taker-buy and taker-sell value, trade count, close.

Minutes live in parallel lists indexed by `minute - base` (columns, not a dict of records): a
scan sums a slice of each list in C, which matters because every pair is summed at every scan.
Memory is bounded by the caller pruning minutes older than the window plus a margin; trade ids
for dedupe are kept per minute so that pruning a minute forgets its ids too.
"""

from __future__ import annotations

from functools import partial
from itertools import islice
from operator import is_not
from typing import NamedTuple

from gme_tui.model import Side

_new = tuple.__new__  # a NamedTuple without its Python-level __new__ (hot: every pair, every scan)
_known = partial(is_not, None)  # x → x is not None, in C (for filter)
UNKNOWN = -2  # close_ts of a slot nothing has been recorded in (a bucket without close uses -1)


class WindowSums(NamedTuple):
    buy: float
    sell: float
    trades: int
    covered: int
    minute_nets: tuple[float, ...]
    first_close: float | None


class PairFlow:
    """The kept minutes of one (exchange, symbol)."""

    __slots__ = (
        "base",
        "bucket_minutes",
        "buys",
        "close_ts",
        "closes",
        "counts",
        "covered",
        "ids",
        "ids_by_minute",
        "kept_from",
        "last_price",
        "last_ts",
        "nets",
        "order_amount",
        "order_arrived",
        "order_fills",
        "order_side",
        "order_ts",
        "order_value",
        "participating",
        "sells",
    )

    def __init__(self) -> None:
        self.base = 0  # the minute of index 0 (set by the first slot)
        self.buys: list[float] = []
        self.sells: list[float] = []
        self.nets: list[float] = []  # buys[i] - sells[i], set whenever either changes (scans read them)
        self.counts: list[int] = []
        self.closes: list[float | None] = []
        self.close_ts: list[int] = []  # ts of the close; UNKNOWN for an empty slot
        self.ids: set[str] = set()
        self.ids_by_minute: dict[int, list[str]] = {}
        self.kept_from: int | None = None  # the last prune's keep_from (None: never pruned)
        self.bucket_minutes: set[int] = set()  # minutes that came from a bucket line/backfill
        self.covered: set[int] = set()
        self.last_price: float | None = None
        self.last_ts: int = -1
        self.participating = False
        # The pair's open taker order (SPEC §5; engine/whales.py): merged by Engine.feed_many,
        # judged when the next fill differs. `order_fills` 0: none open. Spot pairs only.
        self.order_ts = 0
        self.order_side: Side = "buy"
        self.order_amount = 0.0
        self.order_value = 0.0  # quote units
        self.order_fills = 0
        self.order_arrived = 0  # local ms of its last fill (live), or its ts

    # ------------------------------------------------------------ slots

    def _slot(self, minute: int) -> int:
        """The index of `minute`, growing the lists at either end as needed."""
        if not self.buys:
            self.base = minute
        index = minute - self.base
        if index < 0:  # an out-of-order minute before the first one: rare, so a plain insert
            grow = -index
            self.buys[:0] = [0.0] * grow
            self.sells[:0] = [0.0] * grow
            self.nets[:0] = [0.0] * grow
            self.counts[:0] = [0] * grow
            self.closes[:0] = [None] * grow
            self.close_ts[:0] = [UNKNOWN] * grow
            self.base = minute
            return 0
        grow = index + 1 - len(self.buys)
        if grow > 0:
            self.buys.extend([0.0] * grow)
            self.sells.extend([0.0] * grow)
            self.nets.extend([0.0] * grow)
            self.counts.extend([0] * grow)
            self.closes.extend([None] * grow)
            self.close_ts.extend([UNKNOWN] * grow)
        return index

    @property
    def minutes(self) -> dict[int, list[float | None]]:
        """The known minutes as {minute: [buy, sell, count, close, close_ts]} (for inspection)."""
        return {
            self.base + i: [self.buys[i], self.sells[i], self.counts[i], self.closes[i], self.close_ts[i]]
            for i, stamp in enumerate(self.close_ts)
            if stamp != UNKNOWN
        }

    # ------------------------------------------------------------ input

    def add(self, minute: int, is_buy: bool, value: float, price: float, ts: int, trade_id: str | None = None) -> None:
        # The per-trade hot path: each list looked up once (profiled: about a fifth of the engine).
        buys = self.buys
        index = minute - self.base
        if index < 0 or index >= len(buys):
            index = self._slot(minute)
        if is_buy:
            buys[index] = buy = buys[index] + value
            self.nets[index] = buy - self.sells[index]
        else:
            sells = self.sells
            sells[index] = sell = sells[index] + value
            self.nets[index] = buys[index] - sell
        self.counts[index] += 1
        close_ts = self.close_ts
        if ts >= close_ts[index]:
            self.closes[index] = price
            close_ts[index] = ts
        if ts >= self.last_ts:
            self.last_ts = ts
            self.last_price = price
        if trade_id is not None:  # remembered per minute, so pruning the minute forgets it
            self.ids.add(trade_id)
            by_minute = self.ids_by_minute
            ids = by_minute.get(minute)
            if ids is None:
                by_minute[minute] = [trade_id]
            else:
                ids.append(trade_id)

    def set_minute(
        self, minute: int, buy: float, sell: float, count: int, close: float | None, replace: bool, covered: bool = True
    ) -> None:
        """A closed minute from a backfill. With `replace`, it supersedes whatever the stream put
        there (each minute comes from exactly one source); otherwise it adds like trades would."""
        index = self._slot(minute)
        # A bucket's close is the minute's true close (stamped at its last ms); without one, the
        # stamp -1 lets the stream's trades of that minute still set it.
        close_ts = minute * 60_000 + 59_999 if close is not None else -1
        if self.close_ts[index] == UNKNOWN or replace:
            self.buys[index], self.sells[index], self.counts[index] = buy, sell, count
            self.closes[index], self.close_ts[index] = close, close_ts
        else:
            self.buys[index] += buy
            self.sells[index] += sell
            self.counts[index] += count
            if close is not None:
                self.closes[index], self.close_ts[index] = close, close_ts
        self.nets[index] = self.buys[index] - self.sells[index]
        self.bucket_minutes.add(minute)
        if covered:
            self.covered.add(minute)
        if close is not None and minute * 60_000 >= self.last_ts:
            self.last_ts = minute * 60_000
            self.last_price = close

    def cover(self, first_minute: int, last_minute: int, keep_from: int) -> None:
        self.covered.update(range(max(first_minute, keep_from), last_minute + 1))

    def prune(self, keep_from: int) -> None:
        """Forget every minute before `keep_from`, with its ids and coverage."""
        drop = keep_from - self.base
        if drop > 0 and self.buys:
            del self.buys[:drop], self.sells[:drop], self.nets[:drop], self.counts[:drop], self.closes[:drop]
            del self.close_ts[:drop]
            self.base = keep_from
        by_minute = self.ids_by_minute
        old = self.kept_from
        if by_minute:
            # No minute before the last keep_from is ever added again (the caller drops those as
            # late): look at just the minutes since. The usual step (every pair, every scan) is one.
            if old is not None and keep_from - old == 1:
                listed = by_minute.pop(old, None)
                if listed is not None:
                    self.ids.difference_update(listed)
            else:
                if old is None or keep_from - old > len(by_minute):
                    stale = [m for m in by_minute if m < keep_from]
                else:
                    stale = [m for m in range(old, keep_from) if m in by_minute]
                ids = self.ids
                for minute in stale:
                    ids.difference_update(by_minute.pop(minute))
        if old is None or keep_from > old:
            self.kept_from = keep_from
        # Minute sets: drop just the minutes since the previous prune (one a minute, usually).
        if self.bucket_minutes:
            self.bucket_minutes.difference_update(range(min(self.bucket_minutes), keep_from))
        if self.covered:
            self.covered.difference_update(range(min(self.covered), keep_from))

    # ------------------------------------------------------------ output

    def window(self, first: int, last: int) -> WindowSums:
        """Sums over minutes first..last inclusive, added in minute order (deterministic floats).

        Every pair is summed at every scan: the slices and sums run in C, the first close is found
        by `filter` in C, the per-minute nets are the `nets` column (kept by `add`/`set_minute` as
        buy - sell of the same floats, so equal to subtracting here), and a window covering every
        kept slot is read without slicing."""
        base = self.base
        start, stop = first - base, last - base + 1
        buys = self.buys
        size = len(buys)
        lo = start if start > 0 else 0
        hi = stop if stop < size else size
        covered_minutes = self.covered
        covered = sum(map(covered_minutes.__contains__, range(first, last + 1))) if covered_minutes else 0
        if lo >= hi:
            return _new(WindowSums, (0.0, 0.0, 0, covered, (0.0,) * (last - first + 1), None))
        if lo == 0 and hi == size:
            sells, counts, nets_list = self.sells, self.counts, self.nets
            first_close = next(filter(_known, self.closes), None)
        else:
            buys, sells, counts, nets_list = buys[lo:hi], self.sells[lo:hi], self.counts[lo:hi], self.nets[lo:hi]
            first_close = next(filter(_known, islice(self.closes, lo, hi)), None)
        nets = tuple(nets_list)
        if lo > start or stop > hi:
            nets = (0.0,) * (lo - start) + nets + (0.0,) * (stop - hi)
        return _new(WindowSums, (sum(buys, 0.0), sum(sells, 0.0), sum(counts), covered, nets, first_close))

    def closed(self, minute: int) -> tuple[float, float, int, float | None, bool] | None:
        """One minute as (buy, sell, count, close, covered), or None if nothing is known of it."""
        covered = minute in self.covered
        index = minute - self.base
        if not 0 <= index < len(self.buys) or self.close_ts[index] == UNKNOWN:
            return (0.0, 0.0, 0, None, True) if covered else None
        return (self.buys[index], self.sells[index], self.counts[index], self.closes[index], covered)
