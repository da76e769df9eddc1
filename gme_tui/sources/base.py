"""The one small protocol every source speaks, live exchange, replay file or simulator alike.

A source yields batches of `SourceItem`s (trades, backfilled minutes, listings, coverage). An
empty batch is a heartbeat: live sources send one at least every few hundred milliseconds so the
pipeline can advance the wall clock when the market is quiet. `health()` is polled by consumers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from gme_tui.model import ExchangeHealth, SourceItem


@runtime_checkable
class Source(Protocol):
    #: "live", "replay" or "demo": decides the engine's clock, warm-up and alert marking.
    mode: str

    def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        """Yield batches until the source is exhausted (replay) or cancelled (live, demo)."""
        ...

    def health(self) -> Sequence[ExchangeHealth]:
        """One record per enabled exchange; cheap, called once per UI tick."""
        ...

    async def close(self) -> None:
        """Release sockets and files; safe to call twice."""
        ...
