"""Live path speed: per-trade cost (raw frame → Trade → engine) beside ccxt's own bare handler on
the same frames, per exchange; end-to-end trades/s through the fake exchange's sockets; and the
scale users run (issue 10): 600 symbols × 4 exchanges through the live pipeline, with CPU per
1,000 trades/s and the RSS after a simulated hour (`--hour`).

    python benchmarks/bench_live.py [--trades 20000] [--scale-trades 120000] [--hour]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gme_tui.core.clock import ScaledClock, SystemClock
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EXCHANGES
from gme_tui.pipeline import Pipeline
from gme_tui.sources.ccxt_common import _decode_frame
from gme_tui.sources.live import LiveSource, load_adapter
from tests.fakes.exchange import FakeExchange, make_tape
from tests.fakes.exchange_protocols import PROTOCOLS
from tests.live.conftest import SYMBOLS, Drain, make_settings


async def handler_costs(fake: FakeExchange, n: int) -> None:
    settings = make_settings(fake, EXCHANGES, SYMBOLS, backfill=False)
    source = LiveSource(settings, clock=fake.clock)
    print(f"{'exchange':10} {'ours µs/trade':>14} {'ccxt bare µs/trade':>19} {'ratio':>6} {'ours trades/s':>14}")
    for exchange in EXCHANGES:
        collector = source.collectors[exchange]
        adapter = load_adapter(exchange)
        rest = adapter.rest_client(collector.config)
        markets = await rest.load_markets()
        await rest.close()
        collector.symbol_of_id = {markets[s]["id"]: s.split("/")[0] + "/USDT" for s in markets}
        now = fake.clock.wall_ms()
        tape = make_tape(fake, exchange, SYMBOLS, n, now - 50_000, now)
        frames = [orjson.dumps(f).decode() for f in PROTOCOLS[exchange].frames(tape)]

        # ours: decode + parse + validate + ledger + Trade, then the engine
        from gme_tui.sources.collector import Session

        ours = adapter.ws_client(collector.config, Session(collector, 0, []))
        ours.set_markets(list(markets.values()))
        client = ours.client("ws://127.0.0.1:1/bench")
        sink: list = []
        collector.emit_trade = sink.append
        engine = Engine(EngineConfig(exchanges=EXCHANGES, clock="external", warmup=False, track_coverage=True))
        t0 = time.perf_counter()
        for text in frames:
            _decode_frame(client, ours, text)
        engine.feed_many(sink)
        ours_s = time.perf_counter() - t0
        assert len(sink) == n, (exchange, len(sink))

        # ccxt's own handler on the same frames (decode + parse + cache), no engine
        bare = adapter.pro_class(dict(collector.config))
        bare.set_markets(list(markets.values()))
        bare_client = bare.client("ws://127.0.0.1:1/bench")
        t0 = time.perf_counter()
        for text in frames:
            bare_client.handle_text_or_binary_message(text)
        bare_s = time.perf_counter() - t0
        await ours.close()
        await bare.close()
        print(
            f"{exchange:10} {ours_s / n * 1e6:14.2f} {bare_s / n * 1e6:19.2f} {ours_s / bare_s:6.2f} {n / ours_s:14,.0f}"
        )
    await source.close()


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
    parser.add_argument("--hour", action="store_true", help="also run 90 simulated minutes at scale (1.5 real minutes)")
    args = parser.parse_args()
    fake = await FakeExchange(SystemClock()).start()
    try:
        await handler_costs(fake, args.trades)
        await through_sockets(fake, args.trades)
    finally:
        await fake.stop()
    await at_scale(args.scale_trades, args.hour)


if __name__ == "__main__":
    asyncio.run(main())
