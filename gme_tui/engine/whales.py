"""Merging fills into taker orders and judging them against the whale threshold (SPEC §5).

Exchanges split one taker order into several fills. Consecutive fills of one (exchange, symbol)
with the same `ts` and `side` form one order; it closes when the next fill of that pair differs,
at the end of a replay, or (live, the engine's `advance`) after a quiet time measured on the
LOCAL clock from the arrival of its last fill: never an exchange ts against the local clock (they
differ by seconds, and frames arrive late). Each order is judged once, when it closes.

Two holders of the same rule: the stream's open orders live on the engine's pairs
(`PairFlow.order_*`, merged inline by `Engine.feed_many`, the replay's hot loop, where a call, a
dict and a tuple per trade were a fifth of the engine's trade path); `WhaleTracker` merges any
other run of fills (a backfill's past trades). tests/test_whales.py holds them to the same whales.
"""

from __future__ import annotations

from typing import Final

from gme_tui.model import Side, Whale

_Order = tuple[int, Side, float, float, int]
"""An open order: (ts, side, amount, value, fills)."""
TS: Final = 0
SIDE: Final = 1
AMOUNT: Final = 2
VALUE: Final = 3
FILLS: Final = 4


class WhaleTracker:
    """Open orders of a run of fills (of any pairs) that is not the stream: a backfill's past
    trades. `backfilled`: its whales are marked so (old news, never alerted)."""

    def __init__(self, threshold: float, *, backfilled: bool = False) -> None:
        self.threshold = threshold
        self.backfilled = backfilled
        self._open: dict[tuple[str, str], _Order] = {}

    def add(self, exchange: str, symbol: str, ts: int, side: Side, amount: float, value: float) -> Whale | None:
        """Add one fill (ts ms, amount base units, value quote units); returns the whale that this
        fill closed, if the closed order was one."""
        key = (exchange, symbol)
        order = self._open.get(key)
        if order is not None and order[TS] == ts and order[SIDE] == side:
            self._open[key] = (ts, side, order[AMOUNT] + amount, order[VALUE] + value, order[FILLS] + 1)
            return None
        self._open[key] = (ts, side, amount, value, 1)
        if order is None or order[VALUE] < self.threshold:
            return None
        return _whale(key, order, self.backfilled)

    def close_all(self) -> list[Whale]:
        """Close every open order; the whales among them, in the order they traded (ts; ties:
        the order the pairs first traded), as the engine closes the stream's."""
        whales = [
            _whale(key, order, self.backfilled) for key, order in self._open.items() if order[VALUE] >= self.threshold
        ]
        self._open.clear()
        whales.sort(key=whale_ts)
        return whales


def whale_ts(whale: Whale) -> int:
    """The sort key of whales closed at once: when the order traded (ms)."""
    return whale.ts


def _whale(key: tuple[str, str], order: _Order, backfilled: bool = False) -> Whale:
    return order_whale(key[0], key[1], order[TS], order[SIDE], order[AMOUNT], order[VALUE], order[FILLS], backfilled)


def order_whale(
    exchange: str, symbol: str, ts: int, side: Side, amount: float, value: float, fills: int, backfilled: bool = False
) -> Whale:
    """The Whale of a closed order: ts ms, amount base units, value quote units, price = value /
    amount (SPEC §5)."""
    return Whale(
        ts=ts,
        exchange=exchange,
        symbol=symbol,
        side=side,
        price=value / amount,
        amount=amount,
        value=value,
        fills=fills,
        backfilled=backfilled,
    )
