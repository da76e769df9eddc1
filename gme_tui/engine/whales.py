"""Merging fills into taker orders and judging them against the whale threshold (SPEC §5).

Exchanges split one taker order into several fills. Consecutive fills of one (exchange, symbol)
with the same `ts` and `side` form one order; it closes when the next fill of that pair differs,
at the end of a replay, or (live) after a quiet time measured on the LOCAL clock from the arrival
of its last fill: never an exchange ts against the local clock (they differ by seconds, and
frames arrive late). Each order is judged once, when it closes.
"""

from __future__ import annotations

from typing import Final

from gme_tui.model import Side, Whale

_Order = tuple[int, Side, float, float, int, int]
"""An open order: (ts, side, amount, value, fills, arrived: local ms of its last fill). A plain
tuple: one is built per trade on the hot path, where a tuple costs a third of a class instance;
a merge (rarer) builds the next one."""
TS: Final = 0
SIDE: Final = 1
AMOUNT: Final = 2
VALUE: Final = 3
FILLS: Final = 4
ARRIVED: Final = 5


class WhaleTracker:
    def __init__(self, threshold: float, *, backfilled: bool = False) -> None:
        self.threshold = threshold
        self.backfilled = backfilled  # True over past trades: its whales are marked backfilled
        self._open: dict[tuple[str, str], _Order] = {}

    def add(
        self,
        exchange: str,
        symbol: str,
        ts: int,
        side: Side,
        amount: float,
        value: float,
        arrived_ms: int | None = None,
    ) -> Whale | None:
        """Add one fill (ts ms, amount base units, value quote units, `arrived_ms`: when it came,
        on the local clock; None: its ts, where data time is the clock); returns the whale that
        this fill closed, if the closed order was one."""
        key = (exchange, symbol)
        order = self._open.get(key)
        arrived = ts if arrived_ms is None else arrived_ms
        if order is not None and order[TS] == ts and order[SIDE] == side:
            self._open[key] = (ts, side, order[AMOUNT] + amount, order[VALUE] + value, order[FILLS] + 1, arrived)
            return None
        self._open[key] = (ts, side, amount, value, 1, arrived)
        if order is None or order[VALUE] < self.threshold:
            return None
        return _whale(key, order, self.backfilled)

    def close_quiet(self, now_ms: int, quiet_ms: int) -> list[Whale]:
        """Close every order whose last fill ARRIVED at least `quiet_ms` before `now_ms` (live:
        both on the local clock)."""
        quiet = [key for key, order in self._open.items() if order[ARRIVED] + quiet_ms <= now_ms]
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


def _whale(key: tuple[str, str], order: _Order, backfilled: bool = False) -> Whale:
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
