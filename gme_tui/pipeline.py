"""Wires one source to the engine and fans the engine's events out to consumers.

Arrows point one way: the source knows nothing of consumers, consumers nothing of sources.
Consumers' `on_events` must be quick and must not raise (the UI posts a message; the alert
dispatcher enqueues); a consumer that raises is logged and the run goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from gme_tui.core.clock import wall_ms
from gme_tui.core.seams import Source
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EngineEvent, SourceItem

log = logging.getLogger(__name__)


class Consumer(Protocol):
    def on_events(self, events: Sequence[EngineEvent]) -> None: ...


class Pipeline:
    def __init__(
        self,
        source: Source,
        engine: Engine,
        consumers: Sequence[Consumer] = (),
        *,
        scan_grace_ms: int = 2_000,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.source = source
        self.engine = engine
        self.consumers = list(consumers)
        self.scan_grace_ms = scan_grace_ms
        self.now_ms = now_ms
        self._pending_config: EngineConfig | None = None
        self.finished = False

    @property
    def live(self) -> bool:
        return self.engine.config.clock == "external"

    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers.append(consumer)

    async def run(self) -> None:
        """Until the source ends (replay) or the task is cancelled (live, demo)."""
        engine = self.engine
        try:
            async for batch in self.source.batches():
                events = self._step(batch)
                if events:
                    self._publish(events)
        except Exception:
            if not self.live:  # a damaged file ends the replay: still report what was read
                self._publish(engine.finish())
            raise
        else:
            if not self.live:
                self._publish(engine.finish())
        finally:
            self.finished = True
            await self.source.close()

    def reconfigure(self, config: EngineConfig) -> None:
        """Hand the engine new settings; applied before the next batch."""
        self._pending_config = config

    def _step(self, batch: Sequence[SourceItem]) -> list[EngineEvent]:
        if self._pending_config is not None:
            config, self._pending_config = self._pending_config, None
            self.engine.reconfigure(config)
        events = self.engine.feed_many(batch) if batch else []
        if self.live:
            events.extend(self.engine.advance(self.now_ms(), scan_grace_ms=self.scan_grace_ms))
        return events

    def _publish(self, events: list[EngineEvent]) -> None:
        if not events:
            return
        for consumer in self.consumers:
            try:
                consumer.on_events(events)
            except BrokenPipeError:  # stdout's reader left: nothing more to do
                raise
            except Exception:  # one broken consumer must not stop the others or the data
                log.exception("consumer %s failed", type(consumer).__name__)
