"""A new retry attempt reaches the consumers at once (issue 13 item 7): the status bar's `try 3 in
8s` follows the collector's backoff without waiting for the once-a-second heartbeat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import ExchangeHealth, HealthState, SourceItem, SourceMode
from gme_tui.pipeline import Pipeline
from tests.test_pipeline import T0, Recorder


class Backoff:
    """okx reconnecting, one batch per (now, attempt) pair."""

    mode = SourceMode.LIVE

    def __init__(self, steps: list[tuple[int, int]]) -> None:
        self.steps = steps
        self.now_ms = T0
        self.attempt = 0

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for now, attempt in self.steps:
            self.now_ms, self.attempt = T0 + now, attempt
            yield ()

    def health(self) -> Sequence[ExchangeHealth]:
        state = HealthState.RECONNECTING if self.attempt else HealthState.LIVE
        next_try = self.now_ms + 4_000 if self.attempt else None
        return [ExchangeHealth("okx", state, T0, reason="timeout", attempt=self.attempt, next_try_ms=next_try)]

    async def close(self) -> None:
        pass


async def test_each_new_attempt_goes_out_at_once() -> None:
    source = Backoff([(0, 1), (100, 1), (200, 2), (300, 2), (400, 3)])
    recorder = Recorder()
    pipeline = Pipeline(source, Engine(EngineConfig(clock="external")), [recorder], now_ms=lambda: source.now_ms)
    await pipeline.run()
    sent = [(u.now_ms - T0, u.exchanges[0].attempt) for u in recorder.updates]
    assert sent == [(0, 1), (200, 2), (400, 3), (400, 3)]  # the last: the final update at the end
    assert recorder.updates[1].exchanges[0].next_try_ms == T0 + 200 + 4_000
