"""The pipeline: events and the source's health to every consumer, on the pipeline's own heartbeat
(at most once a second, at once on a change of state or reason, a last one when the source ends);
one consumer that raises does not stop the others. The headless printer logs live health."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.format import zone
from gme_tui.headless import HeadlessPrinter
from gme_tui.model import (
    EngineEvent,
    ExchangeHealth,
    HealthState,
    HealthUpdate,
    SourceItem,
    SourceMode,
    Trade,
    Whale,
)
from gme_tui.pipeline import Pipeline

T0 = 1_765_530_000_000


@dataclass(frozen=True)
class Step:
    """One batch of the script: the pipeline's clock and each exchange's state when it arrives."""

    now_ms: int
    states: dict[str, tuple[HealthState, str]]
    items: tuple[SourceItem, ...] = ()


@dataclass
class ScriptedSource:
    """Yields one batch per step; its health and the pipeline's clock follow the script. After the
    last step it reports every exchange DONE, as a finished replay does."""

    steps: list[Step]
    mode: SourceMode = SourceMode.REPLAY
    now_ms: int = 0
    states: dict[str, tuple[HealthState, str]] = field(default_factory=dict)
    health_reads: int = 0
    closed: bool = False
    broken_health: bool = False

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for step in self.steps:
            self.now_ms, self.states = step.now_ms, step.states
            yield step.items
        self.states = {exchange: (HealthState.DONE, "") for exchange in self.states}

    def health(self) -> Sequence[ExchangeHealth]:
        self.health_reads += 1
        if self.broken_health:
            raise RuntimeError("health is broken")
        return [
            ExchangeHealth(exchange, state, since_ms=T0, reason=reason)
            for exchange, (state, reason) in self.states.items()
        ]

    async def close(self) -> None:
        self.closed = True


class Recorder:
    def __init__(self) -> None:
        self.updates: list[HealthUpdate] = []
        self.events: list[EngineEvent] = []

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        self.events.extend(events)

    def on_health(self, update: HealthUpdate) -> None:
        self.updates.append(update)


class Raising:
    def __init__(self) -> None:
        self.calls = 0

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        self.calls += 1
        raise RuntimeError("a broken consumer")

    def on_health(self, update: HealthUpdate) -> None:
        self.calls += 1
        raise RuntimeError("a broken consumer")


def script(times: list[int], change_at: int) -> list[Step]:
    """okx reconnects (with a reason) from `change_at` on; binance stays live."""
    steps = []
    for now in times:
        okx = (HealthState.RECONNECTING, "connection refused") if now >= change_at else (HealthState.LIVE, "")
        steps.append(Step(T0 + now, {"binance": (HealthState.LIVE, ""), "okx": okx}))
    return steps


async def run(source: ScriptedSource, *consumers: object) -> None:
    pipeline = Pipeline(source, Engine(EngineConfig()), consumers, now_ms=lambda: source.now_ms)
    await pipeline.run()


async def test_health_goes_out_once_a_second_at_once_on_a_change_and_at_the_end() -> None:
    times = [0, 200, 400, 600, 800, 1_000, 1_200, 1_300, 1_400, 2_200, 2_300, 2_400]
    source = ScriptedSource(script(times, change_at=1_300))
    recorder = Recorder()
    await run(source, recorder)
    assert [u.now_ms - T0 for u in recorder.updates] == [0, 1_000, 1_300, 2_300, 2_400]
    assert all(u.mode == SourceMode.REPLAY for u in recorder.updates)
    okx = [next(h for h in u.exchanges if h.exchange == "okx") for u in recorder.updates]
    assert [(h.state, h.reason) for h in okx] == [
        (HealthState.LIVE, ""),
        (HealthState.LIVE, ""),
        (HealthState.RECONNECTING, "connection refused"),  # the change, at once and once
        (HealthState.RECONNECTING, "connection refused"),
        (HealthState.DONE, ""),  # the last one, when the source ended
    ]
    assert source.closed


async def test_a_change_of_reason_alone_goes_out_at_once() -> None:
    steps = [
        Step(T0, {"okx": (HealthState.DOWN, "DNS lookup failed")}),
        Step(T0 + 100, {"okx": (HealthState.DOWN, "DNS lookup failed")}),
        Step(T0 + 200, {"okx": (HealthState.DOWN, "connection refused")}),
        Step(T0 + 300, {"okx": (HealthState.DOWN, "connection refused")}),
    ]
    recorder = Recorder()
    await run(ScriptedSource(steps), recorder)
    assert [(u.now_ms - T0, u.exchanges[0].reason) for u in recorder.updates] == [
        (0, "DNS lookup failed"),
        (200, "connection refused"),
        (300, ""),  # the end: DONE
    ]


async def test_a_raising_consumer_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    whale = Trade("binance", "BTC/USDT", T0 + 1, "buy", 1_000.0, 300.0, "1")  # 300k: a whale once closed
    after = Trade("binance", "BTC/USDT", T0 + 2, "sell", 1_000.0, 1.0, "2")
    steps = script([0, 500, 1_000, 1_500], change_at=500)
    steps[1] = Step(steps[1].now_ms, steps[1].states, (whale, after))
    source = ScriptedSource(steps)
    before, after_it = Recorder(), Recorder()
    broken = Raising()
    with caplog.at_level(logging.ERROR, logger="gme_tui.pipeline"):
        await run(source, before, broken, after_it)
    for recorder in (before, after_it):
        assert [u.now_ms - T0 for u in recorder.updates] == [0, 500, 1_500, 1_500]
        assert [e for e in recorder.events if isinstance(e, Whale)] == [
            Whale(T0 + 1, "binance", "BTC/USDT", "buy", 1_000.0, 300.0, 300_000.0)
        ]
    assert broken.calls == 4 + 1  # four health updates, one event list (the whale)
    assert "consumer Raising failed on health" in caplog.text and "consumer Raising failed" in caplog.text


async def test_a_broken_health_stops_no_data_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    trade = Trade("binance", "BTC/USDT", T0 + 1, "buy", 1_000.0, 300.0, "1")
    steps = [Step(T0 + i * 2_000, {"okx": (HealthState.LIVE, "")}, (trade,) if i == 0 else ()) for i in range(3)]
    source = ScriptedSource(steps, broken_health=True)
    recorder = Recorder()
    with caplog.at_level(logging.ERROR, logger="gme_tui.pipeline"):
        await run(source, recorder)
    assert recorder.updates == [] and source.health_reads == 4
    assert [e for e in recorder.events if isinstance(e, Whale)]  # the data went on
    assert caplog.text.count("source health() failed") == 1


# ---------------------------------------------------------------- the headless printer's health log


def update(now: int, mode: SourceMode, *records: ExchangeHealth) -> HealthUpdate:
    return HealthUpdate(now_ms=T0 + now, mode=mode, exchanges=records)


def health(exchange: str, state: HealthState, reason: str = "", done: int = 0, total: int = 0) -> ExchangeHealth:
    return ExchangeHealth(exchange, state, since_ms=T0, reason=reason, backfill_done=done, backfill_total=total)


def test_headless_logs_each_state_change_and_backfill_progress_every_five_seconds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    printer = HeadlessPrinter(_Sink(), as_json=True, tz=zone("UTC"), flush_each=True, language="en")
    live = SourceMode.LIVE
    with caplog.at_level(logging.INFO, logger="gme_tui.headless"):
        printer.on_health(update(0, live, health("okx", HealthState.CONNECTING)))
        printer.on_health(update(1_000, live, health("okx", HealthState.CONNECTING)))
        for second in range(2, 9):
            printer.on_health(
                update(second * 1_000, live, health("okx", HealthState.BACKFILLING, done=second, total=30))
            )
        printer.on_health(update(9_000, live, health("okx", HealthState.LIVE)))
        printer.on_health(update(10_000, live, health("okx", HealthState.RECONNECTING, "connection refused")))
        printer.on_health(update(11_000, live, health("okx", HealthState.RECONNECTING, "connection refused")))
    assert [r.getMessage() for r in caplog.records] == [
        "okx: connecting",
        "okx: backfilling",
        "okx: backfill 2/30 symbols",
        "okx: backfill 7/30 symbols",  # five seconds later
        "okx: live",
        "okx: reconnecting (connection refused)",
    ]
    assert printer.out.written == b""  # health goes to the log, never to stdout


def test_headless_health_lines_in_chinese(caplog: pytest.LogCaptureFixture) -> None:
    """The default settings' language: the trader reads these on stderr (issue 13)."""
    printer = HeadlessPrinter(_Sink(), as_json=False, tz=zone("UTC"), flush_each=True, language="zh")
    live = SourceMode.LIVE
    with caplog.at_level(logging.INFO, logger="gme_tui.headless"):
        printer.on_health(update(0, live, health("okx", HealthState.BACKFILLING, done=2, total=30)))
        printer.on_health(update(1_000, live, health("okx", HealthState.LIVE)))
        printer.on_health(update(2_000, live, health("okx", HealthState.RECONNECTING, "connection refused")))
    assert [r.getMessage() for r in caplog.records] == [
        "okx：回补中",
        "okx：回补 2/30 个币种",
        "okx：实时",
        "okx：重连中（connection refused）",
    ]


def test_headless_logs_no_health_in_a_replay_or_the_demo(caplog: pytest.LogCaptureFixture) -> None:
    printer = HeadlessPrinter(_Sink(), as_json=False, tz=zone("UTC"), flush_each=False, language="zh")
    with caplog.at_level(logging.INFO, logger="gme_tui.headless"):
        printer.on_health(update(0, SourceMode.REPLAY, health("okx", HealthState.REPLAY)))
        printer.on_health(update(0, SourceMode.DEMO, health("okx", HealthState.SIMULATED)))
        printer.on_health(update(1, SourceMode.REPLAY, health("okx", HealthState.DONE)))
    assert caplog.records == []


class _Sink:
    """A binary stream that remembers what was written."""

    def __init__(self) -> None:
        self.written = b""

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def flush(self) -> None:
        pass
