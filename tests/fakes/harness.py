"""Deterministic live runs against the fake exchange: a clock pinned to a chosen phase of the
minute, the product's own path (LiveSource -> Pipeline -> consumers) and awaitable conditions.

Used by tests/live/test_faults_*.py. The clock is a ScaledClock whose start is pinned: every
test says where in the minute it starts, so no result depends on when the suite happens to run.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from gme_tui.core.clock import ScaledClock
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, Scan, Whale
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings
from gme_tui.sources.live import LiveSource
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.exchange_protocols import TapeTrade

# 2024-03-13T11:00:00Z, a minute boundary: every pinned run starts at BASE_MINUTE + a phase.
BASE_MINUTE = 1_710_327_600_000 // MINUTE_MS


def pinned_clock(phase_s: float, speed: float, minute: int = BASE_MINUTE) -> ScaledClock:
    """A ScaledClock that starts `phase_s` seconds into `minute` (ms UTC = minute * 60000)."""
    return ScaledClock(speed=speed, start_ms=minute * MINUTE_MS + round(phase_s * 1000))


@asynccontextmanager
async def fake_exchange(clock: ScaledClock, bases: Iterable[str] | None = None) -> AsyncIterator[FakeExchange]:
    fake = await (FakeExchange(clock) if bases is None else FakeExchange(clock, bases)).start()
    try:
        yield fake
    finally:
        await fake.stop()


class Recorder:
    """A pipeline consumer that keeps every engine event and lets a test await a condition."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.health: list[Any] = []  # HealthUpdates, where the pipeline sends them
        self._changed = asyncio.Event()

    def on_events(self, events: Sequence[Any]) -> None:
        self.events.extend(events)
        self._changed.set()

    def on_health(self, update: Any) -> None:
        self.health.append(update)
        del self.health[:-100]  # bounded

    def scans(self) -> list[Scan]:
        return [e for e in self.events if isinstance(e, Scan)]

    def whales(self) -> list[Whale]:
        return [e for e in self.events if isinstance(e, Whale)]

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async def wait() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)


class LiveRun:
    """The product's live path on a test clock: LiveSource + Engine + Pipeline, as gme_tui.cli
    wires them (scan grace from the settings), with a Recorder among the consumers."""

    def __init__(
        self,
        settings: Settings,
        clock: ScaledClock,
        *,
        settle_seconds: float | None = None,
        emit_minutes: bool = False,
        known_minutes: dict | None = None,
        consumers: Sequence[Any] = (),
    ) -> None:
        self.clock = clock
        self.source = LiveSource(settings, clock=clock, settle_seconds=settle_seconds, known_minutes=known_minutes)
        config = EngineConfig.from_settings(settings, live=True)
        self.engine = Engine(dataclasses.replace(config, emit_minutes=True) if emit_minutes else config)
        self.recorder = Recorder()
        self.pipeline = Pipeline(
            self.source,
            self.engine,
            [self.recorder, *consumers],
            scan_grace_ms=int(settings.window.scan_grace_seconds * 1000),
            now_ms=clock.wall_ms,
            monotonic_ms=lambda: int(clock.monotonic() * 1000),
        )
        self.task: asyncio.Task | None = None

    def start(self) -> LiveRun:
        self.task = asyncio.create_task(self.pipeline.run())
        return self

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until `predicate()` holds, checked after every batch the pipeline handles (at least
        every heartbeat, 250 ms of real time)."""

        async def wait() -> None:
            while not predicate():
                if self.task is not None and self.task.done():
                    self.task.result()
                    raise AssertionError("the pipeline ended")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(wait(), timeout)

    async def until_clock(self, wall_ms: int, timeout: float = 10.0) -> None:
        await self.until(lambda: self.clock.wall_ms() >= wall_ms, timeout)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.source.close()


async def run_market(
    fake: FakeExchange,
    exchanges: Sequence[str],
    symbols: list[str],
    tape: list[TapeTrade],
    *,
    every_s: float = 3.0,
    per_burst: int = 3,
    seed: int = 100,
) -> None:
    """A market that trades on every exchange every `every_s` (fake clock), forever (cancel it);
    every published trade is appended to `tape`. Stamps follow each exchange's clock."""
    while True:
        for exchange in exchanges:
            now = fake.exchange_ms(exchange)
            burst = make_tape(fake, exchange, symbols, per_burst, now - 20, now, seed=seed)
            seed += 1
            tape.extend(burst)
            await fake.publish(burst)
        await fake.clock.sleep(every_s)


def minute_flows(tape: Iterable[TapeTrade], exchange: str, symbol: str, minute: int) -> tuple[float, float]:
    """(taker-buy value, taker-sell value) of one minute of the tape, summed in tape order."""
    buy = sell = 0.0
    for t in tape:
        if t.exchange == exchange and t.symbol == symbol and t.ts // MINUTE_MS == minute:
            if t.side == "buy":
                buy += t.value
            else:
                sell += t.value
    return buy, sell


@asynccontextmanager
async def background(coroutine: Any) -> AsyncIterator[asyncio.Task]:
    """Run a coroutine for the duration of a `with` block, then cancel it."""
    task = asyncio.create_task(coroutine)
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
