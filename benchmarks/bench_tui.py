"""How long the UI blocks the event loop with 600 symbols while trades stream at 20k/s.

Runs the real GmeApp headless on a synthetic source: a 50-minute backfill of 600 symbols on four
exchanges, then 20,000 trades per second of real time in 50 ms batches, data time running 60×
faster so that every UI tick carries a fresh scan of all 600 symbols (the worst case). Prints:

- tick: the UI tick (drain + state update + table/ticker/log/status handed new data), per tick;
- render: the table's render_line work per refresh (only visible rows are rendered);
- loop lag: how late a 5 ms sleeper wakes up, i.e. the longest single block of the loop from
  any cause (engine batches and scans included);
- key latency: from pressing `s` to the table's header drawn with the new sort.

    python benchmarks/bench_tui.py [--seconds 10] [--symbols 600] [--refresh-ms 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgspec
from textual import events

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EXCHANGES, ExchangeHealth, HealthState, Listings, MinuteBucket, SourceItem, SourceMode, Trade
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings, UiSettings
from gme_tui.tui.app import GmeApp
from gme_tui.tui.widgets.flow_table import FlowTable

START_MINUTE = 29_425_500
WINDOW = 50


class StreamingSource:
    mode = SourceMode.DEMO

    def __init__(self, symbols: list[str], seconds: float, rate: int, data_speed: float, batch_ms: int = 50) -> None:
        self.data_speed = data_speed
        self.gc_freeze = False
        self.symbols = symbols
        self.seconds = seconds
        self.rate = rate
        self.batch_ms = batch_ms
        self.sent = 0
        self.started = asyncio.Event()
        self.rng = random.Random(7)

    def _backfill(self) -> list[list[SourceItem]]:
        items: list[SourceItem] = [Listings({s: EXCHANGES for s in self.symbols})]
        for k in range(WINDOW):
            for symbol in self.symbols:
                for exchange in EXCHANGES:
                    volume = self.rng.uniform(1e4, 1e6)
                    net = self.rng.uniform(-0.3, 0.3) * volume
                    items.append(
                        MinuteBucket(
                            exchange, symbol, START_MINUTE + k, (volume + net) / 2, (volume - net) / 2, 5, 10.0
                        )
                    )
        return [items[i : i + 20_000] for i in range(0, len(items), 20_000)]

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        for chunk in self._backfill():
            yield chunk
            await asyncio.sleep(0)
        if self.gc_freeze:
            import gc

            gc.collect()
            gc.freeze()  # long-lived backfill objects out of the collector's way
        self.started.set()
        per_batch = self.rate * self.batch_ms // 1000
        data_ms = (START_MINUTE + WINDOW) * 60_000
        step = int(self.data_speed * self.batch_ms)  # 60: data time runs 60x, one scan per real second
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        end_at = next_at + self.seconds
        rng = self.rng
        symbols = self.symbols
        n = 0
        if per_batch == 0:  # the baseline: one trade to make the first scan, then a still market
            yield [Trade(EXCHANGES[0], symbols[0], data_ms, "buy", 10.0, 1.0, "0")]
            await asyncio.sleep(max(0.0, end_at - loop.time()))
            return
        while loop.time() < end_at:
            batch = []
            for i in range(per_batch):
                n += 1
                price = 10.0 * (1 + rng.uniform(-0.01, 0.01))
                amount = rng.expovariate(1 / 500) if n % 2000 else 40_000.0  # a whale now and then
                batch.append(
                    Trade(
                        EXCHANGES[n % 4],
                        symbols[n % len(symbols)],
                        data_ms + i * step // per_batch,
                        "buy" if rng.random() < 0.5 else "sell",
                        price,
                        amount,
                        str(n),
                    )
                )
            data_ms += step
            self.sent += len(batch)
            yield batch
            next_at += self.batch_ms / 1000
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def health(self) -> list[ExchangeHealth]:
        return [ExchangeHealth(e, HealthState.SIMULATED, 0, None, self.rate / 4) for e in EXCHANGES]

    async def close(self) -> None:
        pass


class BenchApp(GmeApp):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tick_ms: list[float] = []
        self.ticks_with_scan = 0

    def tick(self) -> None:
        start = time.perf_counter()
        scans_before = self.market.scans_seen
        super().tick()
        if self._started and self.market.scans_seen != scans_before:
            self.tick_ms.append((time.perf_counter() - start) * 1000)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:<34} (no samples)"
    return (
        f"{name:<34} n={len(values):<5} p50={statistics.median(values):6.2f}  "
        f"p99={percentile(values, 0.99):6.2f}  max={max(values):6.2f} ms"
    )


async def run(args: argparse.Namespace) -> None:
    symbols = [f"S{i:03d}/USDT" for i in range(args.symbols)]
    settings = msgspec.structs.replace(
        Settings(timezone="UTC", language="en"),
        ui=UiSettings(refresh_ms=args.refresh_ms),
        source_path=Path("/nonexistent"),
    )
    source = StreamingSource(symbols, args.seconds, args.rate, args.data_speed)
    source.gc_freeze = args.gc_freeze
    pipeline = Pipeline(source, Engine(EngineConfig.from_settings(settings, live=False)))
    app = BenchApp(settings, pipeline)

    render_ms: list[float] = []
    header_drawn: list[float] = []
    original_render_line = FlowTable.render_line
    frame = {"start": None, "total": 0.0}

    def timed_render_line(table: FlowTable, y: int):
        start = time.perf_counter()
        strip = original_render_line(table, y)
        elapsed = time.perf_counter() - start
        if y == 0:
            header_drawn.append(time.perf_counter())
            if frame["start"] is not None:
                render_ms.append(frame["total"] * 1000)
            frame["start"], frame["total"] = start, 0.0
        frame["total"] += elapsed
        return strip

    FlowTable.render_line = timed_render_line  # measuring only; restored below
    lags: list[float] = []
    key_ms: list[float] = []
    try:
        async with app.run_test(size=(args.width, args.height)):
            await source.started.wait()
            stop = asyncio.get_running_loop().time() + args.seconds

            async def probe() -> None:
                loop = asyncio.get_running_loop()
                while loop.time() < stop:
                    before = time.perf_counter()
                    await asyncio.sleep(0.005)
                    lags.append(max(0.0, (time.perf_counter() - before) * 1000 - 5))

            probe_task = asyncio.create_task(probe())
            await asyncio.sleep(1.5)  # let the first scans land
            while asyncio.get_running_loop().time() < stop - 0.5:
                drawn = len(header_drawn)
                sort_before = app.sort
                pressed = time.perf_counter()
                # As a terminal delivers a key: straight to the driver. (pilot.press also waits for
                # the whole process to go idle, which never happens while trades stream.)
                app._driver.send_message(events.Key("s", "s"))
                while len(header_drawn) == drawn or app.sort == sort_before:
                    await asyncio.sleep(0.001)
                key_ms.append((header_drawn[-1] - pressed) * 1000)
                await asyncio.sleep(0.25)
            await probe_task
            rows = len(app.table.rows)
            streamed = source.sent
    finally:
        FlowTable.render_line = original_render_line

    label = "no trades streaming (baseline)" if args.rate == 0 else "trades streaming"
    print(
        f"gme-tui TUI benchmark, {label}: {rows} symbols, {streamed / args.seconds:,.0f} trades/s for "
        f"{args.seconds:.0f} s, {args.width}x{args.height}, refresh {args.refresh_ms} ms, data time x{args.data_speed:g}"
    )
    print(line("UI tick with a scan (target 16)", app.tick_ms))
    print(line("table render per refresh", render_ms))
    print(line("event-loop lag, any cause", lags))
    print(line("key press to redraw (target 100)", key_ms))
    return statistics.median(key_ms) if key_ms else float("nan"), percentile(key_ms, 0.99) if key_ms else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--symbols", type=int, default=600)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--refresh-ms", type=int, default=1000)
    parser.add_argument(
        "--data-speed", type=float, default=60, help="data time per real time (60: a scan every second)"
    )
    parser.add_argument("--gc-freeze", action="store_true", help="gc.freeze() after the backfill")
    parser.add_argument("--width", type=int, default=200)
    parser.add_argument("--height", type=int, default=60)
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline run (the same UI, no trades)")
    args = parser.parse_args()
    rate = args.rate
    results = {}
    for run_rate in [rate] if args.no_baseline else [0, rate]:
        args.rate = run_rate
        results[run_rate] = asyncio.run(run(args))
        print()
    if len(results) == 2:
        (base50, base99), (load50, load99) = results[0], results[rate]
        print(
            f"key latency with {rate:,} trades/s vs none: p50 {load50:.1f} / {base50:.1f} ms ({load50 / base50:.2f}x), "
            f"p99 {load99:.1f} / {base99:.1f} ms ({load99 / base99:.2f}x)"
        )


if __name__ == "__main__":
    main()
