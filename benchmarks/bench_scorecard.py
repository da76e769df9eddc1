"""The signal scorecard's time (SPEC §13) on a large replay file, from the file and from a store.

    python benchmarks/bench_scorecard.py [--trades 1000000] [--symbols 300] [--minutes 300]

Generates a replay file (symbols on four exchanges, prices on a random walk, flows that make
every signal grade hold now and then), then times:
  replay   replaying the file into the scorecard's input (the engine handing out its minutes);
  compute  the scorecard from that input (episodes, returns, baseline) at 15/60/240 minutes;
  store    the same input read back from a store the replay wrote (per symbol), then computed.
Times are this process's CPU seconds (`time.process_time`), as bench_replay's: other work on a shared
machine does not inflate them, and the floor is measured in the same run.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import EXCHANGES, MINUTE_MS
from gme_tui.scorecard import compute, to_json
from gme_tui.scorecard.inputs import history_data, replay_data, stored_symbols
from gme_tui.sources.replay import ReplaySource
from gme_tui.store import Store, StoreWriter

T0 = 1_765_530_000_000
_clock = time.process_time  # CPU seconds of this process (the store's writer thread included)


def generate(path: Path, trades: int, symbols: int, minutes: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    names = [f"S{i:03d}/USDT" for i in range(symbols)]
    price = {name: 10 ** rng.uniform(-1, 3) for name in names}
    mood = dict.fromkeys(names, 0.0)  # a slowly moving bias: runs of buying or selling
    per_minute = trades // minutes
    ids = dict.fromkeys(EXCHANGES, 0)
    with path.open("wb") as out:
        out.write(orjson.dumps({"type": "meta", "listings": {n: list(EXCHANGES) for n in names}}) + b"\n")
        for minute in range(minutes):
            for name in names:
                mood[name] = 0.9 * mood[name] + rng.gauss(0, 0.3)
                price[name] *= math.exp(rng.gauss(0, 0.002) + 0.0005 * mood[name])
            for n in range(per_minute):
                name = names[int(rng.paretovariate(1.1)) % symbols]
                exchange = EXCHANGES[rng.randrange(4)]
                bias = mood[name] if exchange != "coinbase" else -mood[name]
                side = "buy" if rng.random() < 1 / (1 + math.exp(-3 * bias)) else "sell"
                ids[exchange] += 1
                row = {
                    "ts": T0 + minute * MINUTE_MS + n * MINUTE_MS // per_minute,
                    "exchange": exchange,
                    "symbol": name,
                    "side": side,
                    "price": round(price[name], 8),
                    "amount": round(rng.expovariate(1 / 4000) / price[name], 8),
                    "id": str(ids[exchange]),
                }
                out.write(orjson.dumps(row) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--minutes", type=int, default=300)
    args = parser.parse_args()
    config = EngineConfig(rules=RuleConfig(quorum=4, a_min_flow=20_000.0, strong_flow=1_000.0))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.jsonl"
        generate(path, args.trades, args.symbols, args.minutes)
        size = path.stat().st_size / 1e6
        print(f"file: {args.trades:,} trades, {args.symbols} symbols x 4 exchanges, {args.minutes} min, {size:.0f} MB")

        floor_s = _floor(path)  # the baseline of this run: the least any replay of the file must do
        start = _clock()
        data = replay_data(path, config)
        replay_s = _clock() - start
        start = _clock()
        card = compute(data)
        compute_s = _clock() - start
        episodes = {str(c.code): c.episodes for c in card.codes}
        print(f"floor  : {floor_s:6.2f} s  orjson-decode every line and sum its value per (exchange, symbol, minute)")
        print(
            f"replay : {replay_s:6.2f} s  the file into the scorecard's input ({len(data.row_minutes)} minutes),"
            f" {replay_s / floor_s:.2f}x the floor"
        )
        print(f"compute: {compute_s:6.2f} s  {card.scans} scans x {card.symbols} symbols; episodes {episodes}")

        database = Path(folder) / "store.db"
        store = Store(database)
        writer = StoreWriter(store)
        engine = Engine(EngineConfig(**{**config.__dict__, "emit_minutes": True}))
        source = ReplaySource(path, window_minutes=config.window_minutes)
        for chunk in source.chunks():
            writer.on_events(engine.feed_many(chunk))
        writer.on_events(engine.finish())
        writer.close(timeout=600)
        start = _clock()
        stored = history_data(store, stored_symbols(database), window_minutes=config.window_minutes)
        read_s = _clock() - start
        start = _clock()
        same = to_json(compute(stored)) == to_json(card)
        store_compute_s = _clock() - start
        store.close()
        print(f"store  : {read_s:6.2f} s  reading it back, {store_compute_s:.2f} s computing; same figures: {same}")
        total = replay_s + compute_s
        stored_total = read_s + store_compute_s
        print(
            f"total from the file: {total:.2f} s ({total / floor_s:.2f}x the floor);"
            f" from the store: {stored_total:.2f} s ({stored_total / floor_s:.2f}x)"
        )


def _floor(path: Path) -> float:
    """Seconds of bench_replay's floor loop on `path`, best of two."""
    sums: dict[tuple[str, str, int], float] = {}
    best = math.inf
    for _ in range(2):
        start = _clock()
        with path.open("rb") as lines:
            next(lines)  # the meta line
            for line in lines:
                t = orjson.loads(line)
                key = (t["exchange"], t["symbol"], t["ts"] // 60_000)
                sums[key] = sums.get(key, 0.0) + t["price"] * t["amount"]
        best = min(best, _clock() - start)
    return best


if __name__ == "__main__":
    main()
