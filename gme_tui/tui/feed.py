"""What the UI needs from whatever feeds it: a local `Pipeline` (standalone) or a daemon's
`AttachedFeed` (gme_tui.serve.client). Both hand their consumers `on_events` / `on_health`; the
UI cannot tell them apart, so it has one data path. (A seam: it could live in gme_tui.core.seams.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gme_tui.core.seams import EventConsumer
    from gme_tui.model import SourceMode


class ModeHolder(Protocol):
    @property
    def mode(self) -> SourceMode: ...


class EventFeed(Protocol):
    """`add_consumer` before `run`; `run` until the data ends or the task is cancelled."""

    @property
    def source(self) -> ModeHolder:
        """Its mode decides how the status bar reads before the first heartbeat."""
        ...

    def add_consumer(self, consumer: EventConsumer) -> None: ...

    async def run(self) -> None: ...
