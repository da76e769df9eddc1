"""Live path speed: per-trade cost (raw frame → Trade → engine) beside ccxt's own bare handler on
the same frames, per exchange, spot and perp venues; end-to-end trades/s through the fake
exchange's sockets; and the scale users run (issues 10, 14): 600 symbols × 4 exchanges through the
live pipeline, then the same with the perpetuals of Binance, OKX and Bybit (600 swaps each, their
liquidation feeds and the open-interest poller at its real pace), with CPU per 1,000 trades/s
beside what ccxt's own parse of the same trades would cost alone; the Binance USDⓈ-M REST weight
per minute in steady state at 600 symbols (the OI poll, counted by the fake venue and read back
from X-MBX-USED-WEIGHT-1M); and the RSS after a simulated hour (`--hour`).

    python benchmarks/bench_live.py [--trades 20000] [--scale-trades 120000] [--perp-trades 90000] [--hour]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import math
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gme_tui.core.clock import ScaledClock, SystemClock
from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.engine import PERP_VENUES as DEFAULT_PERP_VENUES
from gme_tui.model import EXCHANGES, MINUTE_MS
from gme_tui.pipeline import Pipeline
from gme_tui.settings import DerivativeSettings
from gme_tui.sources.ccxt_common import ExchangeAdapter, _decode_frame
from gme_tui.sources.collector import IP_WEIGHT_PER_MINUTE, Collector, Session
from gme_tui.sources.live import LiveSource, load_adapter
from gme_tui.sources.perp.common import PerpAdapter
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.exchange_protocols import PROTOCOLS
from tests.fakes.perp_exchange import FakePerpExchange, PerpTapeTrade, _trade_frame
from tests.live.conftest import SYMBOLS, Drain, make_settings

PERP_VENUES = DEFAULT_PERP_VENUES  # binance, okx, bybit: Coinbase's perp-style futures are off by default
NO_LIMITER = {v: {"enableRateLimit": False} for v in PERP_VENUES}
"""ccxt's rate limiter counts real seconds: off where the clock runs fast (the fake counts weight)."""


REPEATS = 3
"""Each per-trade cost is the best of this many runs on fresh tapes (two shared cores are noisy)."""


def timed(run: Callable[[], object]) -> float:
    """Seconds `run` takes, after a full collection (so no earlier garbage is paid for here)."""
    gc.collect()
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def cost_header(what: str) -> None:
    print(f"{what:10} {'ours µs/trade':>14} {'ccxt bare µs/trade':>19} {'ratio':>6} {'ours trades/s':>14}")


def cost_line(name: str, n: int, ours_s: float, bare_s: float) -> None:
    print(f"{name:10} {ours_s / n * 1e6:14.2f} {bare_s / n * 1e6:19.2f} {ours_s / bare_s:6.2f} {n / ours_s:14,.0f}")


def feed_ours(client: Any, ours: Any, frames: list[str], sink: list[Any], engine: Engine) -> None:
    for text in frames:
        _decode_frame(client, ours, text)
    engine.feed_many(sink)


def feed_bare(client: Any, frames: list[str]) -> None:
    for text in frames:
        client.handle_text_or_binary_message(text)


async def parse_costs(
    name: str,
    collector: Collector,
    adapter: ExchangeAdapter,
    markets: list[Any],
    tapes: Callable[[], list[str]],
    n: int,
) -> float:
    """ours (decode + parse (+ contract size) + validate + ledger + Trade/PerpTrade, then the
    engine) beside ccxt's own handler on the same frames (decode + parse + cache, no engine), best
    of REPEATS on fresh tapes; prints the line and returns ccxt's µs/trade."""
    ours_s = bare_s = math.inf
    for _ in range(REPEATS):
        frames = tapes()
        ours = adapter.ws_client(collector.config, Session(collector, 0, []))
        ours.set_markets(markets)
        client = ours.client("ws://127.0.0.1:1/bench")
        sink: list[Any] = []
        collector.emit_trade = sink.append
        engine = Engine(
            EngineConfig(
                exchanges=EXCHANGES, perp_venues=PERP_VENUES, clock="external", warmup=False, track_coverage=True
            )
        )
        ours_s = min(ours_s, timed(functools.partial(feed_ours, client, ours, frames, sink, engine)))
        assert len(sink) == n, (name, len(sink))
        stats = engine.stats
        assert stats.trades + stats.perp_trades == n, (name, stats)

        bare = adapter.pro_class(dict(collector.config))
        bare.set_markets(markets)
        bare_client = bare.client("ws://127.0.0.1:1/bench")
        bare_s = min(bare_s, timed(functools.partial(feed_bare, bare_client, frames)))
        await ours.close()
        await bare.close()
    cost_line(name, n, ours_s, bare_s)
    return bare_s / n * 1e6


async def handler_costs(fake: FakeExchange, n: int) -> dict[str, float]:
    """Per spot exchange: ours beside ccxt's bare handler; returns ccxt's µs/trade per exchange."""
    bare_us: dict[str, float] = {}
    settings = make_settings(fake, EXCHANGES, SYMBOLS, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    cost_header("exchange")
    for exchange in EXCHANGES:
        collector = source.collectors[exchange]
        adapter = load_adapter(exchange)
        rest = adapter.rest_client(collector.config)
        markets = await rest.load_markets()
        await rest.close()
        collector.symbol_of_id = {markets[s]["id"]: s.split("/")[0] + "/USDT" for s in markets}

        def tapes(exchange: str = exchange) -> list[str]:
            now = fake.clock.wall_ms()
            tape = make_tape(fake, exchange, SYMBOLS, n, now - 50_000, now)
            return [orjson.dumps(f).decode() for f in PROTOCOLS[exchange].frames(tape)]

        bare_us[exchange] = await parse_costs(exchange, collector, adapter, list(markets.values()), tapes, n)
    await source.close()
    return bare_us


def perp_tape(perp: FakePerpExchange, venue: str, bases: list[str], n: int, now: int, seed: int) -> list[PerpTapeTrade]:
    """n trades of `venue` over the last 50 s, on random swaps, in the venue's units."""
    rng = random.Random(seed)
    return [
        perp.trade(
            venue,
            rng.choice(bases),
            now - 50_000 + i * 50_000 // n,
            "buy" if rng.random() < 0.5 else "sell",
            round(rng.uniform(1.0, 100.0), 2),
            float(rng.randint(1, 50)),
        )
        for i in range(n)
    ]


async def perp_handler_costs(n: int) -> dict[str, float]:
    """Per perp venue, on the fake venue's own frames at 600 swaps: ours (decode, parse, contract
    size, ledger, PerpTrade, then the engine) beside ccxt's bare handler (decode, parse, cache, no
    engine); returns ccxt's µs/trade per venue."""
    clock = SystemClock()
    spot = await FakeExchange(clock, SCALE_BASES).start()
    perp = await FakePerpExchange(clock, SCALE_BASES).start()
    symbols = [f"{b}/USDT" for b in SCALE_BASES]
    bare_us: dict[str, float] = {}
    print(f"\nperp venues, {len(SCALE_BASES)} swaps each, the fake venues' frames:")
    cost_header("venue")
    try:
        settings = make_settings(spot, PERP_VENUES, symbols, backfill=False, perp=perp, perp_overrides=NO_LIMITER)
        source = LiveSource(settings, clock=clock)
        for venue in PERP_VENUES:
            collector = source.perp_collectors[venue]
            rest = collector.adapter.rest_client(collector.config)
            markets = await rest.load_markets()
            await rest.close()
            adapter = collector.adapter
            assert isinstance(adapter, PerpAdapter)
            mapped = adapter.perp_markets(symbols, markets)
            collector.adapter = adapter.bind(mapped.values())
            collector.symbol_of_id = {m.id: s for s, m in mapped.items()}
            seeds = iter(range(100 * len(bare_us), 100 * len(bare_us) + REPEATS))

            def tapes(venue: str = venue, seeds: Iterator[int] = seeds) -> list[str]:
                tape = perp_tape(perp, venue, SCALE_BASES, n, clock.wall_ms(), seed=next(seeds))
                return [orjson.dumps(_trade_frame(t)).decode() for t in tape]

            bare_us[venue] = await parse_costs(venue, collector, collector.adapter, list(markets.values()), tapes, n)
        await source.close()
    finally:
        await perp.stop()
        await spot.stop()
    return bare_us


async def through_sockets(fake: FakeExchange, n: int) -> None:
    print("\nend to end through the fake's sockets (server and client share this process/core):")
    for exchange in EXCHANGES:
        settings = make_settings(fake, (exchange,), SYMBOLS, backfill=False)
        source = LiveSource(settings, clock=fake.clock)
        drain = Drain(source)
        await fake.wait_subscribed(exchange, len(SYMBOLS))
        now = fake.clock.wall_ms()
        tape = make_tape(fake, exchange, SYMBOLS, n, now - 50_000, now)
        t0 = time.perf_counter()
        await fake.publish(tape)
        await drain.until(lambda d=drain: len(d.trades()) >= n, timeout=120)
        elapsed = time.perf_counter() - t0
        print(f"  {exchange:10} {n:,} trades in {elapsed:.2f}s = {n / elapsed:,.0f} trades/s (fake server included)")
        await drain.stop()


def rss_mb() -> float:
    """This process's resident set, MB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


SCALE_BASES = [f"B{i:03d}" for i in range(600)]


async def at_scale(n: int, hour: bool) -> None:
    """600 symbols on each of the four exchanges through LiveSource → Pipeline → Engine."""
    print(f"\nscale: {len(SCALE_BASES)} symbols x {len(EXCHANGES)} exchanges through the live pipeline")
    clock = ScaledClock(speed=60.0)
    fake = await FakeExchange(clock, SCALE_BASES).start()
    symbols = [f"{b}/USDT" for b in SCALE_BASES]
    # Watchdog 600 s: the whole tape is published at once, so the process is far behind its
    # sockets for a while; a subscription check could take one that is only behind for dead.
    settings = make_settings(fake, EXCHANGES, symbols, window=50, watchdog=600, backfill=False)
    source = LiveSource(settings, clock=clock)
    engine = Engine(EngineConfig.from_settings(settings, live=True))
    pipeline = Pipeline(source, engine, [], now_ms=clock.wall_ms)
    task = asyncio.create_task(pipeline.run())
    try:
        t0 = time.perf_counter()
        for exchange in EXCHANGES:
            await fake.wait_subscribed(exchange, len(symbols), timeout=120)
        print(f"  subscribed 4 x 600 in {time.perf_counter() - t0:.1f}s; RSS {rss_mb():.0f} MB")
        per_exchange = n // len(EXCHANGES)
        now = clock.wall_ms()
        tapes = [make_tape(fake, e, symbols, per_exchange, now - 50_000, now, seed=i) for i, e in enumerate(EXCHANGES)]
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for start in range(0, per_exchange, 2_000):
            for tape in tapes:
                await fake.publish(tape[start : start + 2_000])
        while engine.stats.trades < per_exchange * len(EXCHANGES):
            await asyncio.sleep(0.01)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        total = per_exchange * len(EXCHANGES)
        print(
            f"  {total:,} trades in {wall:.2f}s = {total / wall:,.0f} trades/s end to end; "
            f"CPU {cpu / total * 1e6:.1f} µs/trade = {cpu / total * 1000 * 100:.1f}% of a core per 1,000 trades/s "
            "(fake server included)"
        )
        if hour:
            await simulated_hour(fake, clock, engine, symbols)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await fake.stop()


async def at_scale_with_perps(n_spot: int, n_perp: int, bare_us: dict[tuple[str, str], float]) -> None:
    """600 symbols spot on the four exchanges and 600 swaps on each perp venue (their liquidation
    feeds too, the OI poller at its real pace: the clock runs at 1x) through LiveSource → Pipeline
    → Engine; beside it, what ccxt's own parse of the same mix of trades costs alone."""
    print(
        f"\nscale with perps: {len(SCALE_BASES)} symbols x {len(EXCHANGES)} spot exchanges"
        f" + {len(SCALE_BASES)} swaps x {len(PERP_VENUES)} perp venues through the live pipeline"
    )
    clock = ScaledClock(speed=1.0)
    spot = await FakeExchange(clock, SCALE_BASES).start()
    perp = await FakePerpExchange(clock, SCALE_BASES).start()
    symbols = [f"{b}/USDT" for b in SCALE_BASES]
    now = clock.wall_ms()
    for venue in PERP_VENUES:
        for base in SCALE_BASES:
            perp.set_oi(venue, perp.market_id(venue, base), now, 1000.0)
    settings = make_settings(
        spot,
        EXCHANGES,
        symbols,
        window=50,
        watchdog=600,
        backfill=False,
        perp=perp,
        derivatives=DerivativeSettings(oi_history=False),  # a start-up cost, not the steady state's
        perp_overrides=NO_LIMITER,
    )
    source = LiveSource(settings, clock=clock)
    engine = Engine(EngineConfig.from_settings(settings, live=True))
    pipeline = Pipeline(source, engine, [], now_ms=clock.wall_ms)
    task = asyncio.create_task(pipeline.run())
    try:
        t0 = time.perf_counter()
        for exchange in EXCHANGES:
            await spot.wait_subscribed(exchange, len(symbols), timeout=120)
        await perp.wait_for(
            lambda: all(len(perp.subscribed(v)) == len(symbols) and perp.on_liquidations(v) for v in PERP_VENUES),
            timeout=120,
        )
        print(f"  subscribed 4 x 600 spot + 3 x 600 perp in {time.perf_counter() - t0:.1f}s; RSS {rss_mb():.0f} MB")
        per_spot, per_perp = n_spot // len(EXCHANGES), n_perp // len(PERP_VENUES)
        now = clock.wall_ms()
        spot_tapes = [make_tape(spot, e, symbols, per_spot, now - 50_000, now, seed=i) for i, e in enumerate(EXCHANGES)]
        perp_tapes = [perp_tape(perp, v, SCALE_BASES, per_perp, now, seed=10 + i) for i, v in enumerate(PERP_VENUES)]
        spot_total, perp_total = per_spot * len(EXCHANGES), per_perp * len(PERP_VENUES)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for start in range(0, max(per_spot, per_perp), 2_000):
            for tape in spot_tapes:
                await spot.publish(tape[start : start + 2_000])
            for ptape in perp_tapes:
                await perp.publish(ptape[start : start + 2_000])
        while engine.stats.trades < spot_total or engine.stats.perp_trades < perp_total:
            await asyncio.sleep(0.01)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        total = spot_total + perp_total
        print(
            f"  {spot_total:,} spot + {perp_total:,} perp trades in {wall:.2f}s = {total / wall:,.0f} trades/s"
            f" end to end; CPU {cpu / total * 1e6:.1f} µs/trade = {cpu / total * 1000 * 100:.1f}% of a core"
            " per 1,000 trades/s (fake servers included)"
        )
        spot_bare = sum(bare_us[("spot", e)] for e in EXCHANGES) * per_spot
        perp_bare = sum(bare_us[("perp", v)] for v in PERP_VENUES) * per_perp
        bare = (spot_bare + perp_bare) / total
        print(
            f"  ccxt's own parse of the same trades, alone (no socket, no engine): {bare:.1f} µs/trade ="
            f" {bare / 10:.1f}% of a core per 1,000 trades/s; our whole path costs {cpu / total * 1e6 / bare:.2f}x that"
        )
        stats = engine.stats
        print(f"  engine: {stats.trades:,} spot, {stats.perp_trades:,} perp, {stats.oi_samples:,} OI samples")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await perp.stop()
        await spot.stop()


async def binance_weight(minutes: int = 7, steady_minutes: int = 3) -> None:
    """Binance USDⓈ-M REST weight per minute at 600 swaps in steady state (default settings: the
    OI poll of every swap each minute, liquidations, backfill on): what the fake venue counted in
    each of its minutes, and what X-MBX-USED-WEIGHT-1M said after each poll (the status bar's
    figure). A 30x clock, ccxt's limiter off (it spaces requests in real seconds); no trades, so
    the quiet sessions' liveness checks count too (the busiest case)."""
    clock = ScaledClock(speed=30.0, start_ms=(ScaledClock(1.0).wall_ms() // MINUTE_MS + 1) * MINUTE_MS - 2_000)
    spot = await FakeExchange(clock, SCALE_BASES).start()
    perp = await FakePerpExchange(clock, SCALE_BASES).start()
    symbols = [f"{b}/USDT" for b in SCALE_BASES]
    for base in SCALE_BASES:
        perp.set_oi("binance", perp.market_id("binance", base), clock.wall_ms(), 1000.0)
    settings = make_settings(spot, ("binance",), symbols, window=50, watchdog=600, perp=perp, perp_overrides=NO_LIMITER)
    source = LiveSource(settings, clock=clock)
    drain = Drain(source)
    collector = source.perp_collectors["binance"]
    headers: list[int] = []
    try:
        start_minute = clock.wall_ms() // MINUTE_MS
        while clock.wall_ms() // MINUTE_MS < start_minute + minutes:
            polls = collector.oi_polls
            await clock.sleep(0.5)
            if collector.oi_polls > polls and collector.weight_used is not None:
                headers.append(collector.weight_used)
        weights = dict(perp.binance_weight)
    finally:
        await drain.stop()
        await perp.stop()
        await spot.stop()
    counted = [weights.get(m, 0) for m in range(start_minute, start_minute + minutes)]
    steady = counted[-steady_minutes:]  # before: markets, the klines backfill of the window, OI history
    print(
        f"\nBinance USDⓈ-M REST weight at {len(SCALE_BASES)} swaps, per minute (limit {IP_WEIGHT_PER_MINUTE},"
        f" OI budget {settings.derivatives.binance_weight_budget}):"
    )
    print(f"  counted by the venue, each minute from the start (backfill and OI history first): {counted}")
    print(
        f"  steady state (the last {steady_minutes} minutes): {max(steady)}/{IP_WEIGHT_PER_MINUTE} per minute at most"
        f" ({min(steady)} at least)"
    )
    print(f"  X-MBX-USED-WEIGHT-1M after each poll (the status bar's figure): {headers}")


async def simulated_hour(fake: FakeExchange, clock: ScaledClock, engine: Engine, symbols: list[str]) -> None:
    """90 minutes of the 60x clock (a minute and a half), 100 trades/s per exchange: the RSS grows
    while the window fills (50 minutes plus its 10 of margin) and then stays flat."""
    start = clock.wall_ms()
    seed, marks = 1_000, {30: "", 60: "", 90: ""}
    print(f"  simulated 90 minutes at 400 trades/s, RSS at start {rss_mb():.0f} MB:", end="", flush=True)
    while clock.wall_ms() < start + 90 * 60_000:
        now = clock.wall_ms()
        for exchange in EXCHANGES:
            await fake.publish(make_tape(fake, exchange, symbols, 100, now - 1_000, now, seed=seed))
            seed += 1
        fake.history.clear()  # the fake's own tape would grow; ours must not
        await clock.sleep(1.0)
        minute = (clock.wall_ms() - start) // 60_000
        if minute in marks and not marks[minute]:
            marks[minute] = f"{rss_mb():.0f} MB"
            print(f" {minute} min {marks[minute]}", end="", flush=True)
    print(f"; {engine.stats.trades:,} trades")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--scale-trades", type=int, default=120_000)
    parser.add_argument("--perp-trades", type=int, default=90_000, help="perp trades in the scale run with perps")
    parser.add_argument("--hour", action="store_true", help="also run 90 simulated minutes at scale (1.5 real minutes)")
    args = parser.parse_args()
    fake = await FakeExchange(SystemClock()).start()
    try:
        spot_bare = await handler_costs(fake, args.trades)
        await through_sockets(fake, args.trades)
    finally:
        await fake.stop()
    perp_bare = await perp_handler_costs(args.trades)
    await at_scale(args.scale_trades, args.hour)
    bare = {("spot", e): us for e, us in spot_bare.items()} | {("perp", v): us for v, us in perp_bare.items()}
    await at_scale_with_perps(args.scale_trades, args.perp_trades, bare)
    await binance_weight()


if __name__ == "__main__":
    asyncio.run(main())
