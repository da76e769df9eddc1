"""Merging fills into taker orders and judging them against the whale threshold (SPEC §5).

Exchanges split one taker order into several fills. Consecutive fills of one (exchange, symbol)
with the same `ts` and `side` form one order; it closes when the next fill of that pair differs,
at the end of a replay, or (live) after a quiet time. Each order is judged once, when it closes.
"""

from __future__ import annotations

from typing import Iterator

from gme_tui.model import Whale


class _OpenOrder:
    __slots__ = ("exchange", "symbol", "ts", "side", "amount", "value", "fills")

    def __init__(self, exchange: str, symbol: str, ts: int, side: str, amount: float, value: float) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.ts = ts
        self.side = side
        self.amount = amount
        self.value = value
        self.fills = 1


class WhaleTracker:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._open: dict[tuple[str, str], _OpenOrder] = {}

    def add(self, exchange: str, symbol: str, ts: int, side: str, amount: float, value: float) -> Whale | None:
        """Add one fill; returns the whale that this fill closed, if the closed order was one."""
        key = (exchange, symbol)
        order = self._open.get(key)
        if order is not None and order.ts == ts and order.side == side:
            order.amount += amount
            order.value += value
            order.fills += 1
            return None
        self._open[key] = _OpenOrder(exchange, symbol, ts, side, amount, value)
        return self._judge(order) if order is not None else None

    def close_quiet(self, now_ms: int, quiet_ms: int) -> list[Whale]:
        """Close every order whose last fill is at least `quiet_ms` old (live mode)."""
        quiet = [key for key, order in self._open.items() if order.ts + quiet_ms <= now_ms]
        return list(self._close_keys(quiet))

    def close_all(self) -> list[Whale]:
        """Close every open order, in the order the pairs first traded (end of a replay)."""
        return list(self._close_keys(list(self._open)))

    def _close_keys(self, keys: list[tuple[str, str]]) -> Iterator[Whale]:
        for key in keys:
            whale = self._judge(self._open.pop(key))
            if whale is not None:
                yield whale

    def _judge(self, order: _OpenOrder) -> Whale | None:
        if order.value < self.threshold:
            return None
        return Whale(
            ts=order.ts,
            exchange=order.exchange,
            symbol=order.symbol,
            side=order.side,  # type: ignore[arg-type]
            price=order.value / order.amount,
            amount=order.amount,
            value=order.value,
            fills=order.fills,
        )
