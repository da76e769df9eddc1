"""Mute state, in one place: symbols muted in settings (`alerts.muted`, until unmuted there) and
symbols muted for a while from the TUI (key `m`, `alerts.mute_minutes`). The alert policy asks it
before it renders anything; the table marks what it says is muted."""

from __future__ import annotations

import math
from collections.abc import Iterable


class Mutes:
    """Which symbols' alerts are muted at a given time. Times are wall ms UTC."""

    def __init__(self, configured: Iterable[str] = ()) -> None:
        self._configured: frozenset[str] = frozenset(configured)
        self._until: dict[str, int] = {}

    def set_configured(self, symbols: Iterable[str]) -> None:
        """The settings file's list (applied again when settings are saved)."""
        self._configured = frozenset(symbols)

    def mute(self, symbol: str, until_ms: int) -> None:
        self._until[symbol] = until_ms

    def unmute(self, symbol: str) -> None:
        """Ends a temporary mute; a symbol muted in settings stays muted until removed there."""
        self._until.pop(symbol, None)

    def is_muted(self, symbol: str, now_ms: int) -> bool:
        return symbol in self._configured or self._until.get(symbol, 0) > now_ms

    def until(self, symbol: str, now_ms: int) -> float | None:
        """When the mute ends (ms), +inf for a configured one, None when not muted."""
        if symbol in self._configured:
            return math.inf
        until = self._until.get(symbol, 0)
        return until if until > now_ms else None

    def muted(self, now_ms: int) -> frozenset[str]:
        """Every symbol muted at `now_ms`; expired temporary mutes are forgotten."""
        for symbol in [s for s, until in self._until.items() if until <= now_ms]:
            del self._until[symbol]
        return self._configured | frozenset(self._until)
