"""Injectable time: wall time (ms UTC) for minutes and stamps, monotonic time and sleeps for timers
(watchdog, backoff, bans, backfill due times, alert retries).

`ScaledClock` runs `speed` times faster than real time, so a test covers minutes of outage in
milliseconds; the fake exchange stamps its trades with the same clock so minute boundaries agree.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


def wall_ms() -> int:
    """The wall clock in integer ms since the epoch (UTC)."""
    return time.time_ns() // 1_000_000


class Clock(Protocol):
    def wall_ms(self) -> int:
        """Wall time, ms UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def wall_ms(self) -> int:
        return wall_ms()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Virtual time = start + speed × real elapsed time."""

    def __init__(self, speed: float = 100.0, start_ms: int | None = None) -> None:
        self.speed = speed
        self._real0 = time.monotonic()
        self._start_ms = wall_ms() if start_ms is None else start_ms

    def monotonic(self) -> float:
        return (time.monotonic() - self._real0) * self.speed

    def wall_ms(self) -> int:
        return self._start_ms + int(self.monotonic() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)
