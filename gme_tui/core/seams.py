"""The Protocols the layers meet at. A layer that needs another's object names it by one of these
(imports made only for types may cross layers; runtime imports still point one way).

- `Source`: what every source speaks (live exchanges, replay files, the simulator).
- `EventConsumer`: what the pipeline feeds (UI inbox, headless printer, alert dispatcher, store).
- `HistoryReader`: what the UI reads from the store (detail and history screens).
- `AlertsView`: what the UI needs from the alert dispatcher (robot status, start and stop).
- `ReplayControl`: what the UI drives of a replay (pause, speed, progress, warm-up, summary).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from gme_tui.model import (
    EngineEvent,
    ExchangeHealth,
    HealthUpdate,
    MinuteBucket,
    RobotStatus,
    SourceItem,
    SourceMode,
    StoredSignal,
)


@runtime_checkable
class Source(Protocol):
    """A source yields batches of `SourceItem`s (trades, backfilled minutes, listings, coverage).
    An empty batch is a heartbeat: live sources send one at least every few hundred milliseconds
    so the pipeline can advance the wall clock when the market is quiet."""

    #: decides the engine's clock, warm-up and alert marking.
    mode: SourceMode

    def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        """Yield batches until the source is exhausted (replay) or cancelled (live, demo)."""
        ...

    def health(self) -> Sequence[ExchangeHealth]:
        """One record per enabled exchange; cheap, read by the pipeline on its heartbeat."""
        ...

    async def close(self) -> None:
        """Release sockets and files; safe to call twice."""
        ...


class EventConsumer(Protocol):
    """Receives the engine's events and the source's health, in order, on the pipeline's loop.

    Both calls must be quick and must not raise: a consumer that needs I/O queues the work
    (the UI posts a message, the dispatcher enqueues, the store hands rows to its thread).
    """

    def on_events(self, events: Sequence[EngineEvent]) -> None: ...

    def on_health(self, update: HealthUpdate) -> None:
        """The pipeline's heartbeat (about once a second, and at once on a change)."""
        ...


class HistoryReader(Protocol):
    """Read side of the store (SPEC §13 scorecard, the detail and history screens)."""

    def minutes(
        self, symbol: str, since_minute: int, until_minute: int, exchange: str | None = None
    ) -> list[MinuteBucket]:
        """Stored minutes since_minute..until_minute (inclusive, minute = ts // 60000) of a symbol,
        ordered by exchange then minute."""
        ...

    def signals(
        self,
        since_ms: int,
        grade: str | Sequence[str] | None = None,
        symbol: str | None = None,
        *,
        text: str = "",
        until_ms: int | None = None,
        limit: int = 1_000,
    ) -> list[StoredSignal]:
        """Signals since `since_ms` (ms UTC), newest first."""
        ...


class AlertsView(Protocol):
    """What the UI uses of the alert dispatcher."""

    async def start(self) -> None: ...

    async def close(self, timeout: float = 5.0) -> None: ...

    def status(self) -> Mapping[str, RobotStatus]:
        """Per configured robot (key: robot name), for the status bar."""
        ...


class ReplayControl(Protocol):
    """What the UI drives of a replay source (SPEC §8, issue 12): its pacing, not only the screen.
    Live and demo sources have none; the UI then hides the replay keys."""

    @property
    def paused(self) -> bool:
        """True while pacing holds the next item back."""
        ...

    @property
    def speed(self) -> float:
        """Data-time seconds per wall second; 0 = as fast as possible."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def set_speed(self, speed: float) -> None:
        """From the next item on; the data time already handed out stays (no jump back)."""
        ...

    def progress(self) -> float | None:
        """0..1 through the file (bytes read / file size); None when unknown."""
        ...

    def data_time(self) -> int | None:
        """ms UTC of the newest item handed out; None before the first."""
        ...

    def warmup_minutes(self) -> tuple[int, int] | None:
        """(minutes of data seen, minutes a window needs) while the first window is not yet full,
        for `window 12/50m` in the labels' language; None once it is full (or the window unknown)."""
        ...

    def summary_text(self) -> str | None:
        """Once the file has ended: the skip summary (finished line, then the short-file line if
        any, newline-separated); None before."""
        ...
