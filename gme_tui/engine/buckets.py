"""Minute buckets of one (exchange, symbol): taker-buy and taker-sell value, trade count, close.

Memory is bounded by the caller pruning minutes older than the window plus a margin; trade ids
for dedupe are kept per minute so that pruning a minute forgets its ids too.
"""

from __future__ import annotations

from typing import NamedTuple

# Layout of one minute's record, a list for speed on the per-trade path.
BUY, SELL, COUNT, CLOSE = 0, 1, 2, 3


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
        "minutes", "ids", "ids_by_minute", "bucket_minutes", "covered", "last_price", "last_ts", "participating",
    )

    def __init__(self) -> None:
        self.minutes: dict[int, list] = {}
        self.ids: set[str] = set()
        self.ids_by_minute: dict[int, list[str]] = {}
        self.bucket_minutes: set[int] = set()  # minutes that came from a bucket line/backfill
        self.covered: set[int] = set()
        self.last_price: float | None = None
        self.last_ts: int = -1
        self.participating = False

    def add(self, minute: int, is_buy: bool, value: float, price: float, ts: int, trade_id: str | None = None) -> None:
        record = self.minutes.get(minute)
        if record is None:
            record = self.minutes[minute] = [0.0, 0.0, 0, price, ts]
        if is_buy:
            record[BUY] += value
        else:
            record[SELL] += value
        record[COUNT] += 1
        if ts >= record[4]:
            record[CLOSE] = price
            record[4] = ts
        if ts >= self.last_ts:
            self.last_ts = ts
            self.last_price = price
        if trade_id is not None:  # remembered per minute, so pruning the minute forgets it
            self.ids.add(trade_id)
            ids = self.ids_by_minute.get(minute)
            if ids is None:
                self.ids_by_minute[minute] = [trade_id]
            else:
                ids.append(trade_id)

    def set_minute(
        self, minute: int, buy: float, sell: float, count: int, close: float | None, replace: bool, covered: bool = True
    ) -> None:
        """A closed minute from a backfill. With `replace`, it supersedes whatever the stream put
        there (each minute comes from exactly one source); otherwise it adds like trades would."""
        record = self.minutes.get(minute)
        # A bucket's close is the minute's true close (stamped at its last ms); without one, the
        # stamp -1 lets the stream's trades of that minute still set it.
        close_ts = minute * 60_000 + 59_999 if close is not None else -1
        if record is None or replace:
            self.minutes[minute] = [buy, sell, count, close, close_ts]
        else:
            record[BUY] += buy
            record[SELL] += sell
            record[COUNT] += count
            if close is not None:
                record[CLOSE] = close
                record[4] = close_ts
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
        for minute in [m for m in self.minutes if m < keep_from]:
            del self.minutes[minute]
        for minute in [m for m in self.ids_by_minute if m < keep_from]:
            for trade_id in self.ids_by_minute.pop(minute):
                self.ids.discard(trade_id)
        if self.bucket_minutes:
            self.bucket_minutes = {m for m in self.bucket_minutes if m >= keep_from}
        if self.covered:
            self.covered = {m for m in self.covered if m >= keep_from}

    def window(self, first: int, last: int) -> WindowSums:
        """Sums over minutes first..last inclusive, added in minute order (deterministic floats).

        Built from C-level list operations: this runs for every pair at every scan."""
        records = list(map(self.minutes.get, range(first, last + 1)))
        present = [r for r in records if r is not None]
        buy = sum([r[BUY] for r in present], 0.0)
        sell = sum([r[SELL] for r in present], 0.0)
        trades = sum([r[COUNT] for r in present])
        first_close = None
        for record in present:
            if record[CLOSE] is not None:
                first_close = record[CLOSE]
                break
        nets = tuple([0.0 if r is None else r[BUY] - r[SELL] for r in records])
        covered = sum(map(self.covered.__contains__, range(first, last + 1))) if self.covered else 0
        return WindowSums(buy, sell, trades, covered, nets, first_close)

    def closed(self, minute: int) -> tuple[float, float, int, float | None, bool] | None:
        """One minute as (buy, sell, count, close, covered), or None if nothing is known of it."""
        record = self.minutes.get(minute)
        covered = minute in self.covered
        if record is None:
            return (0.0, 0.0, 0, None, True) if covered else None
        return (record[BUY], record[SELL], record[COUNT], record[CLOSE], covered)
