"""Summing a page-by-page trade history into closed minutes (OKX, Coinbase backfill)."""

from __future__ import annotations

from gme_tui.model import MINUTE_MS
from gme_tui.sources.ccxt_common import MinuteFlow


class MinuteSums:
    """Trades of minutes first..last, each trade id once (pages can overlap)."""

    def __init__(self, first: int, last: int) -> None:
        self.first = first
        self.last = last
        self._seen: set[str] = set()
        self._minutes: dict[int, list] = {}

    def add(self, trade_id: str, ts: int, is_buy: bool, price: float, amount: float) -> None:
        minute = ts // MINUTE_MS
        if not self.first <= minute <= self.last or trade_id in self._seen:
            return
        if not (price > 0 and amount > 0):
            return
        self._seen.add(trade_id)
        record = self._minutes.setdefault(minute, [0.0, 0.0, 0, price, -1])
        record[0 if is_buy else 1] += price * amount
        record[2] += 1
        if ts >= record[4]:
            record[3], record[4] = price, ts

    def flows(self) -> dict[int, MinuteFlow]:
        return {m: MinuteFlow(r[0], r[1], r[2], r[3]) for m, r in self._minutes.items()}
