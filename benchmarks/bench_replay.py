"""Replay throughput of the engine against a floor measured in the same run.

    python benchmarks/bench_replay.py [--trades 600000] [--symbols 300] [--minutes 90]

Generates a replay file (hundreds of symbols on four exchanges, with duplicates and multi-fill
orders), then times:
  floor   a bare loop: orjson-decode each line, add price × amount into a dict keyed by
          (exchange, symbol, minute): the least any replay must do;
  source  ReplaySource alone: reading, parsing and validating every line (SPEC §8), items discarded;
  engine  the real path: ReplaySource's chunks into Engine.feed_many, as the pipeline feeds them at
          speed 0 (the parser deduplicating, the engine keeping no ids): bucketing, merging whales
          and scanning every minute (results discarded); its split into source and engine time is
          printed too;
  cli     `gme-tui --replay FILE --json` end to end, output to /dev/null (subprocess).
Prints lines/s for each and the ratio to the floor (target, issue 12: engine within 3x of the floor).

Fairness: one file, one process; each repeat runs floor, source and engine back to back and the
best of each is kept, so a slow stretch of the machine hits all three alike. Times are this
process's CPU time (`time.process_time`; the cli's: its child's, from getrusage), which other
work on a shared machine does not inflate; the wall time of the engine path is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import EXCHANGES
from gme_tui.sources.replay import ReplaySource

T0 = 1_765_530_000_000


def generate(path: Path, trades: int, symbols: int, minutes: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    names = [f"S{i:03d}/USDT" for i in range(symbols)]
    prices = {name: 10 ** rng.uniform(-2, 4) for name in names}
    span = minutes * 60_000
    with path.open("wb") as out:
        out.write(orjson.dumps({"type": "meta", "listings": {n: list(EXCHANGES) for n in names}}) + b"\n")
        ids = {e: 0 for e in EXCHANGES}
        written = 0
        while written < trades:
            ts = T0 + written * span // trades
            exchange = EXCHANGES[rng.randrange(4)]
            name = names[int(rng.paretovariate(1.2)) % symbols]
            side = "buy" if rng.random() < 0.5 else "sell"
            fills = 3 if rng.random() < 0.02 else 1  # a split taker order
            for _ in range(fills):
                ids[exchange] += 1
                row = {
                    "ts": ts,
                    "exchange": exchange,
                    "symbol": name,
                    "side": side,
                    "price": round(prices[name], 6),
                    "amount": round(rng.expovariate(1 / 50) / prices[name] * 100, 6),
                    "id": str(ids[exchange]),
                }
                line = orjson.dumps(row) + b"\n"
                out.write(line)
                if rng.random() < 0.001:
                    out.write(line)  # a duplicate
                written += 1


def floor(path: Path) -> int:
    sums: dict[tuple[str, str, int], float] = {}
    loads = orjson.loads
    count = 0
    with path.open("rb") as fh:
        next(fh)
        for line in fh:
            t = loads(line)
            key = (t["exchange"], t["symbol"], t["ts"] // 60_000)
            sums[key] = sums.get(key, 0.0) + t["price"] * t["amount"]
            count += 1
    return count


def source_only(path: Path) -> int:
    items = 0
    for chunk in ReplaySource(path, window_minutes=50).chunks():
        items += len(chunk)
    return items


def engine_replay(path: Path) -> tuple[int, int, float]:
    """The real path; returns (trades + duplicates, scans, seconds spent in the engine)."""
    config = EngineConfig(dedupe_trades=False)  # as the cli's replay: the parser drops duplicates
    engine = Engine(config)
    source = ReplaySource(path, window_minutes=config.window_minutes, keep_extra_minutes=config.keep_extra_minutes)
    feed_many = engine.feed_many
    clock = time.process_time
    in_engine = 0.0
    for chunk in source.chunks():
        start = clock()
        feed_many(chunk)
        in_engine += clock() - start
    start = clock()
    engine.finish()
    in_engine += clock() - start
    return engine.stats.trades + engine.stats.duplicates, engine.stats.scans, in_engine


def timed(fn, *args):
    """(CPU seconds of this process, wall seconds, result) of fn(*args)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn(*args)
    return time.process_time() - cpu, time.perf_counter() - wall, result


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=600_000)
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--minutes", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.jsonl"
        generate(path, args.trades, args.symbols, args.minutes)
        size = path.stat().st_size / 1e6
        print(f"file: {args.trades:,} trades, {args.symbols} symbols x 4 exchanges, {args.minutes} min, {size:.0f} MB")
        floors, sources, engines = [], [], []
        for _ in range(args.repeat):  # interleaved: floor, source and engine see the same machine
            floors.append(timed(floor, path))
            sources.append(timed(source_only, path))
            engines.append(timed(engine_replay, path))
        floor_s, _, lines = min(floors, key=lambda run: run[0])
        source_s = min(run[0] for run in sources)
        engine_s, engine_wall, (_, scans, in_engine) = min(engines, key=lambda run: run[0])
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        start = child_cpu()
        with open(os.devnull, "wb") as sink:
            subprocess.run(
                [sys.executable, "-m", "gme_tui", "--replay", str(path), "--json"],
                stdout=sink,
                stderr=subprocess.DEVNULL,
                env=env,
                check=True,
            )
        cli_s = child_cpu() - start
    print(f"floor : {floor_s:6.2f} s  {lines / floor_s:10,.0f} lines/s  (CPU seconds, best of {args.repeat})")
    print(
        f"source: {source_s:6.2f} s  {lines / source_s:10,.0f} lines/s  ratio {source_s / floor_s:.2f}x (parsing alone)"
    )
    print(
        f"engine: {engine_s:6.2f} s  {lines / engine_s:10,.0f} lines/s  ratio {engine_s / floor_s:.2f}x the floor"
        f" ({scans} scans; {engine_s - in_engine:.2f} s source, {in_engine:.2f} s engine; wall {engine_wall:.2f} s)"
    )
    print(
        f"cli   : {cli_s:6.2f} s  {lines / cli_s:10,.0f} lines/s  ratio {cli_s / floor_s:.2f}x (includes start-up and JSON output)"
    )


if __name__ == "__main__":
    main()
