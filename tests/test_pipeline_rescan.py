"""Settings applied at once (issue 13 item 3): `Pipeline.rescan_now` re-scans the last boundary
under the config just handed to `reconfigure` and hands it to every consumer as a `Scan` with
`rescan=True`, while the source runs (live clock) and after it ended (a finished replay)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import (
    MINUTE_MS,
    EngineEvent,
    ExchangeHealth,
    HealthState,
    HealthUpdate,
    Level,
    Scan,
    SourceItem,
    SourceMode,
    Trade,
)
from gme_tui.pipeline import Pipeline

T0 = 29_425_500 * MINUTE_MS  # a minute boundary
EXCHANGES = ("binance", "okx", "bybit")
# net per minute (all buys) per exchange: Binance carries the symbol
NET = {"binance": 300_000.0, "okx": 20_000.0, "bybit": 10_000.0}


def buys(minutes: range, price: float = 10.0) -> list[Trade]:
    return [
        Trade(exchange, "ETH/USDT", T0 + m * MINUTE_MS + 1_000, "buy", price, NET[exchange] / price, f"{exchange}{m}")
        for m in minutes
        for exchange in EXCHANGES
    ]


class Recorder:
    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.scanned = asyncio.Event()

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        self.events.extend(events)
        if any(isinstance(e, Scan) for e in events):
            self.scanned.set()

    def on_health(self, update: HealthUpdate) -> None:
        pass

    @property
    def scans(self) -> list[Scan]:
        return [e for e in self.events if isinstance(e, Scan)]


class Batches:
    """A source fed by the test: each `put` is one batch; `None` ends it. Live or replay."""

    def __init__(self, mode: SourceMode) -> None:
        self.mode = mode
        self.queue: asyncio.Queue[Sequence[SourceItem] | None] = asyncio.Queue()
        self.closed = False

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        while (batch := await self.queue.get()) is not None:
            yield batch

    def health(self) -> Sequence[ExchangeHealth]:
        return [ExchangeHealth(e, HealthState.LIVE, T0) for e in EXCHANGES]

    async def close(self) -> None:
        self.closed = True


def config(**changes: object) -> EngineConfig:
    base = EngineConfig(exchanges=EXCHANGES, window_minutes=3, keep_extra_minutes=2)
    return replace(base, **changes)  # type: ignore[arg-type]


def total(scan: Scan) -> float:
    (item,) = scan.symbols
    return item.consensus.total


async def test_a_finished_replay_is_rescanned_at_once_under_the_new_settings() -> None:
    source = Batches(SourceMode.REPLAY)
    recorder = Recorder()
    pipeline = Pipeline(source, Engine(config()), [recorder])
    for batch in (buys(range(0, 3)), buys(range(3, 6))):
        source.queue.put_nowait(batch)
    source.queue.put_nowait(None)
    await pipeline.run()
    last = recorder.scans[-1]
    scans_before = pipeline.engine.stats.scans
    assert total(last) == 3 * sum(NET.values()) and not last.rescan

    pipeline.reconfigure(config(exchanges=("okx", "bybit")))  # Binance switched off
    rescan = pipeline.rescan_now()

    assert rescan is not None and recorder.scans[-1] is rescan  # handed to the consumers at once
    assert rescan.rescan and rescan.ts == last.ts and rescan.window_minutes == 3
    (item,) = rescan.symbols
    assert set(item.exchanges) == {"okx", "bybit"} and set(item.consensus.flows) == {"okx", "bybit"}
    assert total(rescan) == 3 * (NET["okx"] + NET["bybit"])
    assert pipeline.engine.stats.scans == scans_before  # not a new scan

    pipeline.reconfigure(config(exchanges=("okx", "bybit"), window_minutes=2))  # a shorter window
    shorter = pipeline.rescan_now()
    assert shorter is not None and shorter.window_minutes == 2 and total(shorter) == 2 * (NET["okx"] + NET["bybit"])


async def test_a_new_threshold_changes_the_consensus_at_once() -> None:
    source = Batches(SourceMode.REPLAY)
    recorder = Recorder()
    pipeline = Pipeline(source, Engine(config()), [recorder])
    source.queue.put_nowait(buys(range(0, 6)))
    source.queue.put_nowait(None)
    await pipeline.run()
    before = recorder.scans[-1].symbols[0].consensus.level
    pipeline.reconfigure(config(exchanges=("binance", "okx", "bybit", "coinbase")))  # quorum 4: not met
    rescan = pipeline.rescan_now()
    assert rescan is not None
    assert before == Level.STRONG_BULLISH and rescan.symbols[0].consensus.level != before


async def test_no_scan_yet_nothing_to_rescan() -> None:
    source = Batches(SourceMode.REPLAY)
    recorder = Recorder()
    pipeline = Pipeline(source, Engine(config()), [recorder])
    source.queue.put_nowait(buys(range(0, 2)))  # shorter than the window: warm-up, no scan
    source.queue.put_nowait(None)
    await pipeline.run()
    pipeline.reconfigure(config(exchanges=("okx",)))
    assert pipeline.rescan_now() is None
    assert recorder.scans == []
    assert pipeline.engine.config.exchanges == ("okx",)  # the settings are applied all the same


async def test_a_live_pipeline_is_rescanned_between_batches_and_scans_on_as_before() -> None:
    clock = [T0 + 6 * MINUTE_MS + 5_000]
    source = Batches(SourceMode.LIVE)
    recorder = Recorder()
    live = config(clock="external", warmup=False, track_coverage=True)
    pipeline = Pipeline(source, Engine(live), [recorder], scan_grace_ms=2_000, now_ms=lambda: clock[0])
    task = asyncio.ensure_future(pipeline.run())
    source.queue.put_nowait(buys(range(0, 6)))
    await recorder.scanned.wait()
    first = recorder.scans[-1]
    assert first.ts == T0 + 6 * MINUTE_MS and total(first) == 3 * sum(NET.values())

    pipeline.reconfigure(replace(live, exchanges=("okx", "bybit")))
    rescan = pipeline.rescan_now()  # the source is waiting for its next batch: the loop is ours
    assert rescan is not None and rescan.rescan and rescan.ts == first.ts
    assert total(rescan) == 3 * (NET["okx"] + NET["bybit"]) and recorder.scans[-1] is rescan

    recorder.scanned.clear()
    clock[0] += MINUTE_MS  # the next minute's scan: a regular one, under the new settings
    source.queue.put_nowait(buys(range(6, 7)))
    await recorder.scanned.wait()
    following = recorder.scans[-1]
    assert following.ts == first.ts + MINUTE_MS and not following.rescan
    assert total(following) == 3 * (NET["okx"] + NET["bybit"])
    source.queue.put_nowait(None)
    await task
    assert source.closed
