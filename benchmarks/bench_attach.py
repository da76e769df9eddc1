"""Attaching to a daemon that carries 600 symbols: time to a full table, and the daemon's CPU with
five attached clients against none.

The daemon is a process of its own (this script with --daemon): the real Pipeline and Engine on a
synthetic market of N symbols on four exchanges (a 50-minute backfill, then `--rate` trades per
second of real time, data time running `--data-speed` times faster, so a full scan of every
symbol is served every 60 / data-speed seconds: 2 s by default, 30 times the live rate), with the
real StateServer on a Unix socket. Prints:

- attach: from starting the attached TUI (the real AttachedApp, headless) to its table holding
  all N rows; and from connecting to the snapshot decoded (protocol only). Target: <= 1 s.
- CPU: the daemon's user+system CPU (from /proc) over `--seconds` with no client, then with five
  attached feeds (each folding into a Market as the TUI does), as % of one core. Target: the
  extra <= 5 %.

    python benchmarks/bench_attach.py [--symbols 600] [--seconds 20] [--rate 2000] [--data-speed 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gme_tui.engine import Engine, EngineConfig  # noqa: E402
from gme_tui.model import (  # noqa: E402
    EXCHANGES,
    ExchangeHealth,
    HealthState,
    Listings,
    MinuteBucket,
    SourceItem,
    SourceMode,
    Trade,
)
from gme_tui.pipeline import Pipeline  # noqa: E402
from gme_tui.serve.client import AttachedFeed, connect  # noqa: E402
from gme_tui.serve.protocol import Address, Snapshot  # noqa: E402
from gme_tui.serve.server import DaemonFacts, ServeConfig, StateServer  # noqa: E402
from gme_tui.settings import Settings, UiSettings  # noqa: E402

START_MINUTE = 29_425_500
WINDOW = 50


class SyntheticMarket:
    """A Source: a full backfilled window of N symbols, then a steady stream of trades."""

    mode = SourceMode.DEMO

    def __init__(self, symbols: list[str], rate: int, data_speed: float, batch_ms: int = 100) -> None:
        self.symbols = symbols
        self.rate = rate
        self.data_speed = data_speed
        self.batch_ms = batch_ms
        self.rng = random.Random(7)

    async def batches(self) -> AsyncIterator[Sequence[SourceItem]]:
        rng = self.rng
        items: list[SourceItem] = [Listings({s: EXCHANGES for s in self.symbols})]
        for k in range(WINDOW):
            for symbol in self.symbols:
                for exchange in EXCHANGES:
                    volume = rng.uniform(1e4, 1e6)
                    net = rng.uniform(-0.3, 0.3) * volume
                    minute = START_MINUTE + k
                    items.append(
                        MinuteBucket(exchange, symbol, minute, (volume + net) / 2, (volume - net) / 2, 5, 10.0)
                    )
        for i in range(0, len(items), 20_000):
            yield items[i : i + 20_000]
            await asyncio.sleep(0)
        per_batch = max(1, self.rate * self.batch_ms // 1000)
        data_ms = (START_MINUTE + WINDOW) * 60_000
        step = int(self.data_speed * self.batch_ms)
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        n = 0
        while True:
            batch: list[SourceItem] = []
            for i in range(per_batch):
                n += 1
                amount = rng.expovariate(1 / 500) if n % 2000 else 40_000.0  # a whale now and then
                side = "buy" if rng.random() < 0.5 else "sell"
                symbol = self.symbols[n % len(self.symbols)]
                ts = data_ms + i * step // per_batch
                batch.append(Trade(EXCHANGES[n % 4], symbol, ts, side, 10.0, amount, str(n)))
            data_ms += step
            yield batch
            next_at += self.batch_ms / 1000
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def health(self) -> list[ExchangeHealth]:
        return [ExchangeHealth(e, HealthState.SIMULATED, 0, None, self.rate / 4) for e in EXCHANGES]

    async def close(self) -> None:
        pass


# ---------------------------------------------------------------- the daemon process


async def daemon(socket_path: Path, symbols: int, rate: int, data_speed: float) -> None:
    settings = Settings()
    source = SyntheticMarket([f"S{i:03d}/USDT" for i in range(symbols)], rate, data_speed)
    pipeline = Pipeline(source, Engine(EngineConfig.from_settings(settings, live=False)))
    facts = DaemonFacts(SourceMode.DEMO, WINDOW, EXCHANGES)
    server = StateServer(ServeConfig(unix=socket_path), facts)
    await server.start()
    pipeline.add_consumer(server)
    task = asyncio.ensure_future(pipeline.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await server.close()


# ---------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_for_full_scan(address: Address, symbols: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = await connect(address)
            snapshot = await connection.receive(timeout=30)
            await connection.close()
            if isinstance(snapshot, Snapshot) and snapshot.scan is not None and len(snapshot.scan.symbols) == symbols:
                return
        except Exception:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit("the daemon never served a full scan")


async def snapshot_seconds(address: Address) -> float:
    start = time.perf_counter()
    connection = await connect(address)
    message = await connection.receive(timeout=30)
    elapsed = time.perf_counter() - start
    await connection.close()
    assert isinstance(message, Snapshot)
    return elapsed


async def table_seconds(address: Address, symbols: int) -> float:
    from gme_tui.tui.attach import AttachedApp

    settings = Settings(ui=UiSettings(refresh_ms=1000))
    feed = AttachedFeed(address)
    start = time.perf_counter()
    app = AttachedApp(settings, feed)
    async with app.run_test(size=(160, 50)) as pilot:
        while app._rows_shown < symbols:
            await pilot.pause(0.005)
        elapsed = time.perf_counter() - start
    return elapsed


class Folding:
    """A client as the TUI is one: every batch folded into a Market."""

    def __init__(self) -> None:
        from gme_tui.tui.view import Market

        self.market = Market()
        self.batches = 0

    def on_events(self, events) -> None:  # type: ignore[no-untyped-def]
        self.market.apply(events, 30 * 60_000)
        self.batches += 1

    def on_health(self, update) -> None:  # type: ignore[no-untyped-def]
        pass


async def cpu_with_clients(pid: int, address: Address, clients: int, seconds: float) -> float:
    feeds = [AttachedFeed(address) for _ in range(clients)]
    folds = [Folding() for _ in feeds]
    for feed, fold in zip(feeds, folds):
        feed.add_consumer(fold)
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    try:
        while not all(feed.status.attached for feed in feeds):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the snapshots are sent: measure the steady state
        before, start = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(seconds)
        used, elapsed = cpu_seconds(pid) - before, time.monotonic() - start
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if clients:
        assert all(fold.batches > 1 for fold in folds), "a client got no increments"
    return 100.0 * used / elapsed


async def measure(args: argparse.Namespace) -> None:
    directory = Path(tempfile.mkdtemp(prefix="gtb", dir="/tmp"))
    path = directory / "bench.sock"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--daemon",
        str(path),
        "--symbols",
        str(args.symbols),
        "--rate",
        str(args.rate),
        "--data-speed",
        str(args.data_speed),
    )
    address = Address("unix", path)
    try:
        await wait_for_full_scan(address, args.symbols)
        protocol = [await snapshot_seconds(address) for _ in range(5)]
        tables = [await table_seconds(address, args.symbols) for _ in range(3)]
        print(
            f"daemon: {args.symbols} symbols x 4 exchanges, {args.rate} trades/s, a full scan every {60 / args.data_speed:.1f} s"
        )
        print(
            f"attach, connect -> snapshot decoded: median {statistics.median(protocol) * 1000:.0f} ms, max {max(protocol) * 1000:.0f} ms"
        )
        print(
            f"attach, TUI start -> table of {args.symbols} rows: median {statistics.median(tables) * 1000:.0f} ms, max {max(tables) * 1000:.0f} ms (target <= 1000 ms)"
        )
        idle = await cpu_with_clients(process.pid, address, 0, args.seconds)
        five = await cpu_with_clients(process.pid, address, 5, args.seconds)
        idle_again = await cpu_with_clients(process.pid, address, 0, args.seconds)
        base = (idle + idle_again) / 2
        print(f"daemon CPU, no client: {idle:.1f} % / {idle_again:.1f} % of one core (before / after)")
        print(
            f"daemon CPU, five attached clients: {five:.1f} %: extra {five - base:+.1f} points of a core, {100 * (five - base) / base:+.1f} % relative (target <= 5 %)"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--symbols", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--data-speed", type=float, default=30.0)
    args = parser.parse_args()
    if args.daemon:
        asyncio.run(daemon(Path(args.daemon), args.symbols, args.rate, args.data_speed))
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
