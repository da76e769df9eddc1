"""A soak of the live path (issue 10 "Also"): all four fake exchanges trade for a stretch of the
test clock with faults injected at random (seeded): duplicated, swapped and late frames, forced
disconnects and reconnect storms, a dead subscription, a skewed exchange clock, Binance's
connection lifetime (24 h, here 5 minutes), rate-limit answers during the backfill. At the end, every minute the program handed out as covered equals the tape,
every whale of a covered minute was reported exactly once (and none twice anywhere), nothing
crashed, and the engine kept its memory bounded.

The short run (CI) is 12 minutes of market on a 60x clock; `GME_SOAK_MINUTES=N` runs a longer one
(e.g. 1440 for a day, with `--timeout=0`) and prints its figures.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
from collections import Counter
from dataclasses import dataclass, field

from gme_tui.model import EXCHANGES, MINUTE_MS, ClosedMinutes
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.exchange_protocols import TapeTrade
from tests.fakes.faults import FrameFaults
from tests.fakes.harness import LiveRun, background, fake_exchange, pinned_clock
from tests.live.conftest import make_settings

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
W = 3
WHALE = 300_000.0


@dataclass
class Soak:
    """What the market did and which faults it injected."""

    tape: list[TapeTrade] = field(default_factory=list)
    whales: list[TapeTrade] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    log: list[tuple[int, str, str]] = field(default_factory=list)  # (local ms, exchange, fault kind)


async def market(fake: FakeExchange, soak: Soak, rng: random.Random, every_s: float = 2.0) -> None:
    """Trades on every exchange every `every_s`, now and then a single-fill whale (one trade, so
    no frame fault can split it), forever."""
    seed = 1
    while True:
        for exchange in EXCHANGES:
            now = fake.exchange_ms(exchange)
            burst = make_tape(fake, exchange, SYMBOLS, 3, now - 20, now, seed=seed)
            seed += 1
            if rng.random() < 0.03:
                whale = TapeTrade(
                    exchange, rng.choice(SYMBOLS), now - 5, rng.choice(("buy", "sell")), 50_000.0, 6.0, fake.new_id()
                )
                soak.whales.append(whale)
                burst.append(whale)
            soak.tape.extend(burst)
            await fake.publish(burst)
        await fake.clock.sleep(every_s)


async def faults(fake: FakeExchange, soak: Soak, rng: random.Random, minutes: int) -> None:
    """A fault every 20-70 s of the clock, at random, until the end."""
    end = fake.clock.wall_ms() + minutes * MINUTE_MS
    while fake.clock.wall_ms() < end:
        await fake.clock.sleep(rng.uniform(20, 70))
        exchange = rng.choice(EXCHANGES)
        kind = rng.choice(("drop", "storm", "frames", "mute", "limit", "calm"))
        soak.faults[kind] += 1
        soak.log.append((fake.clock.wall_ms(), exchange, kind))
        if kind == "drop":
            await fake.drop(exchange)
        elif kind == "storm":
            fake.drop_every(exchange, 10.0, 3)
        elif kind == "frames":
            fake.faults[exchange] = FrameFaults(
                duplicate_every=rng.randint(3, 9),
                swap_every=rng.randint(4, 9),
                late_every=rng.randint(5, 15),
                late_s=1.5,
            )
        elif kind == "mute":
            fake.mute(exchange)  # a dead subscription: the watchdog's REST check must find it
        elif kind == "limit":
            path = {"binance": "klines", "okx": "trades", "bybit": "instruments", "coinbase": "/trades"}[exchange]
            kinds = {"binance": "binance-429", "okx": "okx-50011", "bybit": "bybit-10006", "coinbase": "coinbase-429"}
            fake.rate_limit(exchange, kinds[exchange], times=2, path=path, wait_s=2.0)  # type: ignore[arg-type]
        else:
            fake.faults.pop(exchange, None)


async def run_soak(
    minutes: int, seed: int = 7
) -> tuple[Soak, LiveRun, dict[tuple[str, str, int], tuple[float, float, bool]]]:
    rng = random.Random(seed)
    soak = Soak()
    clock = pinned_clock(17.0, speed=60.0)
    async with fake_exchange(clock) as fake:
        fake.skew_ms["okx"] = -1_200  # the local clock 1.2 s ahead of OKX's
        fake.connection_lifetime_s["binance"] = 5 * 60.0  # Binance closes every socket after 24 h: here 5 min
        start = clock.wall_ms()
        for i, exchange in enumerate(EXCHANGES):  # the market traded before the start
            history = make_tape(fake, exchange, SYMBOLS, 30, start - (W + 1) * MINUTE_MS, start - 500, seed=50 + i)
            soak.tape += history
        fake.add_history(soak.tape)
        settings = make_settings(fake, EXCHANGES, SYMBOLS, window=W)
        run = LiveRun(settings, clock, emit_minutes=True).start()
        try:
            async with background(market(fake, soak, rng)), background(faults(fake, soak, rng, minutes)):
                await run.until_clock(start + minutes * MINUTE_MS, timeout=minutes * 2 + 30)
            for exchange in EXCHANGES:
                fake.faults.pop(exchange, None)
            # the last gaps backfilled, the last minute closed and handed out
            await run.until_clock(clock.wall_ms() + 2 * MINUTE_MS + 5_000, timeout=30)
        finally:
            await run.stop()
        stored: dict[tuple[str, str, int], tuple[float, float, bool]] = {}
        for event in run.recorder.events:
            if isinstance(event, ClosedMinutes):
                for b in event.buckets:
                    stored[(b.exchange, b.symbol, b.minute)] = (b.buy, b.sell, b.covered)
    return soak, run, stored


def tape_flows(tape: list[TapeTrade]) -> dict[tuple[str, str, int], tuple[float, float]]:
    """(exchange, symbol, minute) -> (taker-buy, taker-sell) value, summed in tape order: what
    `minute_flows` gives for each minute (the same additions in the same order), in one pass, so
    a day's tape (half a million trades) is checked in a second, not in hours."""
    sums: dict[tuple[str, str, int], list[float]] = {}
    for t in tape:
        pair = sums.setdefault((t.exchange, t.symbol, t.ts // MINUTE_MS), [0.0, 0.0])
        if t.side == "buy":
            pair[0] += t.value
        else:
            pair[1] += t.value
    return {key: (buy, sell) for key, (buy, sell) in sums.items()}


def verdict(soak: Soak, run: LiveRun, stored: dict[tuple[str, str, int], tuple[float, float, bool]]) -> list[str]:
    problems = []
    covered = {key for key, (_, _, is_covered) in stored.items() if is_covered}
    flows = tape_flows(soak.tape)
    for exchange, symbol, minute in sorted(covered):
        got = stored[(exchange, symbol, minute)][:2]
        expected = flows.get((exchange, symbol, minute), (0.0, 0.0))
        if got != expected:
            problems.append(f"{exchange} {symbol} minute {minute}: covered with {got}, the tape says {expected}")
    reported = Counter((w.exchange, w.symbol, w.ts, w.side) for w in run.recorder.whales())
    for whale in soak.whales:
        key = (whale.exchange, whale.symbol, whale.ts, whale.side)
        if (whale.exchange, whale.symbol, whale.ts // MINUTE_MS) in covered and reported[key] != 1:
            problems.append(f"whale {key} of a covered minute reported {reported[key]} times")
    problems += [f"whale {key} reported {n} times" for key, n in reported.items() if n > 1]
    if run.task is not None and run.task.done() and not run.task.cancelled() and run.task.exception():
        problems.append(f"the pipeline crashed: {run.task.exception()!r}")
    return problems


async def test_a_soak_with_random_faults_keeps_every_covered_minute_and_whale_right():
    minutes = int(os.environ.get("GME_SOAK_MINUTES", "12"))
    seed = int(os.environ.get("GME_SOAK_SEED", "7"))
    soak, run, stored = await run_soak(minutes, seed=seed)
    problems = verdict(soak, run, stored)
    covered = sum(1 for *_, c in stored.values() if c)
    kept = sum(len(p.buys) for p in run.engine._pairs.values())
    print(
        f"\nsoak: {minutes} min (seed {seed}), {covered} covered minutes compared with the tape "
        f"({len(stored)} handed out), {sum(soak.faults.values())} faults {dict(soak.faults)}, "
        f"{len(soak.tape)} trades, {len(soak.whales)} whales ({len(run.recorder.whales())} reported), "
        f"engine keeps {kept} minute slots, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
        f"{len(problems)} problems"
    )
    assert not problems, "\n".join(problems[:20])
    assert covered >= len(EXCHANGES) * len(SYMBOLS) * (minutes // 2), "most minutes are covered"
    assert kept <= len(EXCHANGES) * len(SYMBOLS) * (W + 10 + 3)  # the window plus its margin, per pair
    assert sum(soak.faults.values()) >= minutes // 2
    await asyncio.sleep(0)
