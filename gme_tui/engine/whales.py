"""Merging fills into taker orders and judging them against the whale threshold (SPEC §5).

Exchanges split one taker order into several fills. Consecutive fills of one (exchange, symbol)
with the same `ts` and `side` form one order; it closes when the next fill of that pair differs,
at the end of a replay, or (live) after a quiet time. Each order is judged once, when it closes.
"""

from __future__ import annotations

from gme_tui.model import Whale

# An open order is a small list, mutated in place as fills arrive (cheapest on the hot path):
TS, SIDE, AMOUNT, VALUE, FILLS = 0, 1, 2, 3, 4


class WhaleTracker:
    def __init__(self, threshold: float, *, backfilled: bool = False) -> None:
        self.threshold = threshold
        self.backfilled = backfilled  # True over past trades: its whales are marked backfilled
        self._open: dict[tuple[str, str], list] = {}

    def add(self, exchange: str, symbol: str, ts: int, side: str, amount: float, value: float) -> Whale | None:
        """Add one fill; returns the whale that this fill closed, if the closed order was one."""
        key = (exchange, symbol)
        order = self._open.get(key)
        if order is not None and order[TS] == ts and order[SIDE] == side:
            order[AMOUNT] += amount
            order[VALUE] += value
            order[FILLS] += 1
            return None
        self._open[key] = [ts, side, amount, value, 1]
        if order is None or order[VALUE] < self.threshold:
            return None
        return _whale(key, order, self.backfilled)

    def close_quiet(self, now_ms: int, quiet_ms: int) -> list[Whale]:
        """Close every order whose last fill is at least `quiet_ms` old (live mode)."""
        quiet = [key for key, order in self._open.items() if order[TS] + quiet_ms <= now_ms]
        return self._close_keys(quiet)

    def close_all(self) -> list[Whale]:
        """Close every open order, in the order the pairs first traded (end of a replay)."""
        return self._close_keys(list(self._open))

    def open_orders(self) -> int:
        return len(self._open)

    def _close_keys(self, keys: list[tuple[str, str]]) -> list[Whale]:
        whales = []
        for key in keys:
            order = self._open.pop(key)
            if order[VALUE] >= self.threshold:
                whales.append(_whale(key, order, self.backfilled))
        return whales


def _whale(key: tuple[str, str], order: list, backfilled: bool = False) -> Whale:
    return Whale(
        ts=order[TS],
        exchange=key[0],
        symbol=key[1],
        side=order[SIDE],
        price=order[VALUE] / order[AMOUNT],
        amount=order[AMOUNT],
        value=order[VALUE],
        fills=order[FILLS],
        backfilled=backfilled,
    )
