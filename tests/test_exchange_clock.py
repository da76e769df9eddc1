"""The exchanges' clock as the live path estimates it (sources/session.py ExchangeClock, issue 10
clock steps): monotonic time plus the largest `ts - arrival` of recent trades, so an NTP step of
the local wall clock moves nothing; and the pipeline times live scans on it, not on the local
clock (LiveSource.exchange_now_ms through ScanReadiness). Pure: a hand-driven clock, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, HealthUpdate, Scan, SourceItem, SourceMode, Trade
from gme_tui.pipeline import Pipeline
from gme_tui.sources.session import FUTURE_RUN_FRAMES, FUTURE_RUN_MS, ExchangeClock, Session

T0 = 1_710_327_600_000  # a minute boundary


class HandClock:
    """Wall = `start + mono + step`; `step` moves the wall only (an NTP step), `mono` moves both."""

    def __init__(self, start_ms: int = T0) -> None:
        self.start_ms = start_ms
        self.mono_ms = 1_000_000
        self.step_ms = 0

    def wall_ms(self) -> int:
        return self.start_ms + self.mono_ms + self.step_ms

    def monotonic(self) -> float:
        return self.mono_ms / 1000

    async def sleep(self, seconds: float) -> None:
        self.mono_ms += round(seconds * 1000)


def test_before_any_trade_the_prior_is_the_wall_clock_at_start_and_a_step_moves_it_not():
    clock = HandClock()
    exchange = ExchangeClock(clock)
    start = clock.wall_ms()
    clock.mono_ms += 5_000
    clock.step_ms = -3_600_000
    assert exchange.now_ms() == start + 5_000
    assert exchange.offset_ms() == -3_600_000
    assert not exchange.sampled


def test_trades_set_it_latency_out_and_a_step_either_way_leaves_it_where_it_was():
    clock = HandClock()
    clock.step_ms = 30_000  # the local clock runs 30 s ahead from the start
    exchange = ExchangeClock(clock)
    exchange_now = T0 + clock.mono_ms
    exchange.sample(exchange_now - 400)  # arrived 400 ms after its stamp
    exchange.sample(exchange_now - 150)  # the quickest one sets it
    assert exchange.now_ms() == exchange_now - 150
    assert exchange.offset_ms() == 30_150
    for step in (3_600_000, -3_600_000, 30_000):
        clock.step_ms = step
        clock.mono_ms += 1_000
        exchange_now += 1_000
        assert exchange.now_ms() == exchange_now - 150, step
        assert exchange.offset_ms() == step + 150


def test_it_follows_the_exchange_falling_behind_within_two_minutes_and_keeps_it_when_quiet():
    clock = HandClock()
    exchange = ExchangeClock(clock)
    exchange.sample(T0 + clock.mono_ms - 100)  # lead: T0 - 100
    for _ in range(2):  # two more minutes of trades 2 s behind
        clock.mono_ms += MINUTE_MS
        exchange.sample(T0 + clock.mono_ms - 2_000)
    assert exchange.now_ms() == T0 + clock.mono_ms - 2_000
    clock.mono_ms += 10 * MINUTE_MS  # ten quiet minutes: the last estimate stays
    assert exchange.now_ms() == T0 + clock.mono_ms - 2_000


def test_a_run_of_frames_all_in_the_future_moves_it_and_one_bogus_stamp_does_not():
    clock = HandClock()
    exchange = ExchangeClock(clock)
    ahead = T0 + clock.mono_ms + 3_600_000  # the exchanges are an hour ahead of this clock
    assert not exchange.sample_future(ahead + 7_200_000)  # one bogus stamp
    exchange.sample(T0 + clock.mono_ms)  # an accepted frame ends any run
    moved = []
    for i in range(FUTURE_RUN_FRAMES + 1):
        clock.mono_ms += FUTURE_RUN_MS // FUTURE_RUN_FRAMES
        moved.append(exchange.sample_future(ahead + clock.mono_ms - 1_000_000 - 200 * (i % 2)))
    assert moved == [False] * FUTURE_RUN_FRAMES + [True]
    assert exchange.now_ms() == ahead + clock.mono_ms - 1_000_000


def test_a_rebased_session_starts_its_evidence_over_as_if_up_now():
    session = Session(None, 0, ["BTC/USDT"])  # type: ignore[arg-type]  # rebase needs no collector
    session.went_live(T0, 0.0, T0 - 30_000)  # up on a clock 30 s behind: minute T0-1m
    assert session.rebase(T0 + 5_000) == (T0 // MINUTE_MS, T0 // MINUTE_MS)  # T0's minute is partial
    assert (session.up_ts, session.covered_through) == (T0 + 5_000, T0 // MINUTE_MS)
    assert session.prove(T0 + MINUTE_MS + 1) is None  # its minute is never covered by the stream
    assert session.prove(T0 + 2 * MINUTE_MS) == (T0 // MINUTE_MS + 1, T0 // MINUTE_MS + 1)
    ahead = Session(None, 1, ["BTC/USDT"])  # type: ignore[arg-type]
    ahead.went_live(T0, 0.0, T0 + 3_600_000)  # up on a clock an hour ahead
    assert ahead.rebase(T0) is None  # what it planned lies ahead: the collector plans the window again
    assert ahead.covered_through == T0 // MINUTE_MS


class ExchangeTimedSource:
    """A live source whose exchanges' clock is `lag_ms` behind the local one; one empty batch per
    `steps` entry, each after the local clock moved to that time."""

    mode = SourceMode.LIVE

    def __init__(self, clock: HandClock, lag_ms: int, steps: Sequence[int]) -> None:
        self.clock = clock
        self.lag_ms = lag_ms
        self.steps = steps

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for local in self.steps:
            self.clock.mono_ms = local - self.clock.start_ms - self.clock.step_ms
            yield ()

    def ready_for_scan(self, boundary_ms: int, *, initial: bool = False) -> bool:
        return True

    def exchange_now_ms(self) -> int:
        return self.clock.wall_ms() - self.lag_ms

    def exchange_time_known(self) -> bool:
        return True

    def health(self) -> Sequence:
        return []

    async def close(self) -> None:
        pass


class Keep:
    def __init__(self) -> None:
        self.scans: list[Scan] = []
        self.events: list = []

    def on_events(self, events: Sequence) -> None:
        self.events.extend(events)
        self.scans.extend(e for e in events if isinstance(e, Scan) and not e.rescan)

    def on_health(self, update: HealthUpdate) -> None:
        pass


async def run_source(lag_ms: int, steps: list[int]) -> Keep:
    clock = HandClock()
    source = ExchangeTimedSource(clock, lag_ms, steps)
    keep = Keep()
    config = EngineConfig(exchanges=("binance",), window_minutes=3, clock="external", warmup=False)
    pipeline = Pipeline(source, Engine(config), [keep], now_ms=clock.wall_ms, monotonic_ms=lambda: clock.mono_ms)
    await pipeline.run()
    return keep


async def test_live_scans_are_due_on_the_exchanges_clock_not_the_local_one():
    """The local clock runs 30 s ahead: T0+1m is due at exchange T0+1m+2s (grace), local T0+1m+32s."""
    steps = [T0 + 10_000, T0 + MINUTE_MS + 5_000, T0 + MINUTE_MS + 31_000]  # exchange T0-20s, +35s, +61s
    held = await run_source(30_000, steps)
    assert [(s.ts - T0) // MINUTE_MS for s in held.scans] == [-1, 0]  # the local clock would have scanned +1
    due = await run_source(30_000, [*steps, T0 + MINUTE_MS + 32_000])
    assert [(s.ts - T0) // MINUTE_MS for s in due.scans] == [-1, 0, 1]


async def test_a_local_clock_an_hour_ahead_neither_bursts_nor_stalls_the_scans():
    steps = [T0 + 3_600_000 + 10_000 + i * 20_000 for i in range(10)]  # exchange T0+10s .. T0+190s
    keep = await run_source(3_600_000, steps)
    assert [(s.ts - T0) // MINUTE_MS for s in keep.scans] == [0, 1, 2, 3]


def test_the_engine_takes_exchange_time_as_given():
    """The engine has no clock: what the pipeline hands it is the time (here a trade's minute)."""
    engine = Engine(EngineConfig(exchanges=("binance",), window_minutes=3, clock="external", warmup=False))
    engine.feed(Trade("binance", "BTC/USDT", T0 + 1_000, "buy", 10.0, 1.0, "1"), arrived_ms=5)
    scans = [e for e in engine.advance(T0 + MINUTE_MS + 2_000, scan_grace_ms=2_000) if isinstance(e, Scan)]
    assert [s.ts for s in scans] == [T0 + MINUTE_MS]
    assert scans[0].symbols[0].exchanges["binance"].buy == 10.0
