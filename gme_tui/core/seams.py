"""The Protocols the layers meet at. A layer that needs another's object names it by one of these
(imports made only for types may cross layers; runtime imports still point one way).

- `Source`: what every source speaks (live exchanges, replay files, the simulator).
- `EventConsumer`: what the pipeline feeds (UI inbox, headless printer, alert dispatcher, store).
- `HistoryReader`: what the UI reads from the store (detail and history screens).
- `AlertsView`: what the UI needs from the alert dispatcher (robot status, start and stop).
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
