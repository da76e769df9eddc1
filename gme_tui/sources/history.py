"""Summing a page-by-page trade history into closed minutes (OKX, Coinbase backfill)."""

from __future__ import annotations

from dataclasses import dataclass

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import History, MinuteFlow, TakerOrder


@dataclass(slots=True)
class _Minute:
    buy: float = 0.0  # quote value
    sell: float = 0.0
    count: int = 0
    close: float = 0.0  # the price of the latest trade so far
    close_ts: int = -1


class MinuteSums:
    """Trades of minutes first..last, each trade id once (pages can overlap); with `orders_from`,
    the trades of minutes orders_from..last are kept as taker orders too (for whales)."""

    def __init__(self, first: int, last: int, orders_from: int | None = None) -> None:
        self.first = first
        self.last = last
        self.orders_from = orders_from
        self._seen: set[str] = set()
        self._minutes: dict[int, _Minute] = {}
        self._orders: list[TakerOrder] = []

    def add(self, trade_id: str, ts: int, is_buy: bool, price: float, amount: float) -> None:
        minute = ts // MINUTE_MS
        if not self.first <= minute <= self.last or trade_id in self._seen:
            return
        if not (price > 0 and amount > 0):
            return
        self._seen.add(trade_id)
        if self.orders_from is not None and minute >= self.orders_from:
            self._orders.append((ts, is_buy, price, amount, trade_id))
        record = self._minutes.get(minute)
        if record is None:
            record = self._minutes[minute] = _Minute(close=price)
        if is_buy:
            record.buy += price * amount
        else:
            record.sell += price * amount
        record.count += 1
        if ts >= record.close_ts:
            record.close, record.close_ts = price, ts

    def flows(self) -> dict[int, MinuteFlow]:
        return {m: MinuteFlow(r.buy, r.sell, r.count, r.close) for m, r in self._minutes.items()}

    def history(self) -> History:
        """The minutes, and the kept orders oldest first (pages come newest first)."""
        if self.orders_from is None:
            return History(self.flows())
        return History(self.flows(), tuple(sorted(self._orders, key=_order_key)))


def _order_key(order: TakerOrder) -> tuple[int, str]:
    ts, _, _, _, trade_id = order
    return ts, trade_id.zfill(20)  # numeric ids in order: "99" before "100"
