"""The store's write cost per minute at 600 symbols x 4 exchanges, its size per day, and how far
its commits trail what a replay at full speed prints.

    python benchmarks/bench_store.py [--symbols 600] [--minutes 60] [--signals 50] [--whales 20]
    python benchmarks/bench_store.py --part lag [--lag-trades 600000] [--lag-symbols 300] [--lag-minutes 400]

Times, on a fresh store file in a temporary directory:
  loop     the event loop's share: StoreWriter.on_events for one minute's events (ClosedMinutes of
           2,400 buckets + a Scan with `--signals` signals + `--whales` whales): it only queues;
  write    the writer thread's transaction for that minute (median and worst over `--minutes`);
  restore  restore_items for a 50-minute window (a restart), and a 24 h lookback of one symbol;
  size     database bytes per stored minute row, extrapolated to a day (2,400 x 1,440 rows) and to
           the default retention (7 days of minutes); signal and whale rows measured the same way.
Minute figures are random floats with a realistic share of quiet (zero) minutes.
  lag      `gme-tui --replay FILE --speed 0 --headless --json --store DB` as a subprocess on a
           generated file: each scan's first consensus line is stamped when it reaches this
           process's end of stdout, and the store is polled (a read connection, every 20 ms) for
           its newest minute; a scan's lag is the time from its line printed to the commit of the
           minute that closed at it (same transaction as its signals). Negative: committed before
           printed (stdout is block-buffered in a replay). Issue 12 item 7: printed more than a few
           seconds ago must be in the store.

Lag figures (2 shared cores; p50 / p99 / max; 2 runs each; "before" is the store of f5ab5b0 on
the same tree: executemany, one commit per drain of the queue):
  300 symbols, 400 min (defaults)   before 4.64 / 10.47 / 10.75 s   after 0.48 / 0.87 / 1.03 s
  600 symbols, 150 min, 900k trades before 5.81 / 12.77 / 13.35 s   after 0.51 / 0.96 / 1.00 s
Before, the writer thread was starved of the GIL (a statement step per row, each a GIL hand-off
to the busy pipeline thread: 90k rows took 12.7 s for 0.76 s of CPU), fell behind, and the
backlog made ever bigger transactions. After: multi-row INSERTs in key order, commits at most
every 0.5 s of wall time. A lone minute's transaction (the `write` figure, uncontended) costs
SQLite a few ms more than with executemany (median 16-20 against 14-15 ms here): multi-row VALUES is slower
per row when nothing competes for the GIL, and that is the price of not starving when something does.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gme_tui.model import (
    EXCHANGES,
    MINUTE_MS,
    ClosedMinutes,
    Consensus,
    EngineEvent,
    Grade,
    Level,
    MinuteBucket,
    Scan,
    Signal,
    SignalCode,
    SymbolScan,
    Whale,
)
from gme_tui.store import Store, StoreWriter

M0 = 29_425_500


def minute_buckets(rng: random.Random, symbols: list[str], minute: int, quiet: float) -> tuple[MinuteBucket, ...]:
    out = []
    for symbol in symbols:
        for exchange in EXCHANGES:
            if rng.random() < quiet:
                out.append(MinuteBucket(exchange, symbol, minute, 0.0, 0.0, 0, None, True))
            else:
                buy, sell = rng.lognormvariate(9, 2), rng.lognormvariate(9, 2)
                out.append(
                    MinuteBucket(
                        exchange, symbol, minute, buy, sell, rng.randint(1, 900), rng.uniform(0.01, 60_000), True
                    )
                )
    return tuple(out)


def scan_with_signals(rng: random.Random, ts: int, symbols: list[str], count: int) -> Scan:
    items = []
    for symbol in rng.sample(symbols, count):
        flows: dict[str, float] = {e: rng.uniform(-5e6, 5e6) for e in EXCHANGES}
        consensus = Consensus(
            ts, symbol, Level.MIXED, flows, {e: 1.0 for e in flows}, sum(flows.values()), {e: 50 for e in EXCHANGES}
        )
        signal = Signal(ts, symbol, Grade.C, SignalCode.SINGLE_PLATFORM_LONG_TRAP, flows)
        items.append(SymbolScan(consensus, (signal,), {}, None, None, 0.0))
    return Scan(ts, 50, tuple(items))


def whales(rng: random.Random, ts: int, symbols: list[str], count: int) -> list[Whale]:
    return [
        Whale(
            ts - rng.randint(1, 59_000),
            rng.choice(EXCHANGES),
            rng.choice(symbols),
            "buy",
            1.0,
            300_000.0,
            rng.uniform(2e5, 5e6),
            3,
        )
        for _ in range(count)
    ]


def file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=600)
    parser.add_argument("--minutes", type=int, default=60, help="minutes simulated (size is extrapolated to a day)")
    parser.add_argument("--signals", type=int, default=50, help="signals per scan")
    parser.add_argument("--whales", type=int, default=20, help="whales per minute")
    parser.add_argument("--quiet", type=float, default=0.3, help="share of pairs with no trade in a minute")
    parser.add_argument("--part", choices=("write", "lag", "all"), default="all")
    parser.add_argument("--lag-trades", type=int, default=600_000, help="trades in the replayed file")
    parser.add_argument("--lag-symbols", type=int, default=300, help="symbols in the replayed file (x 4 exchanges)")
    parser.add_argument("--lag-minutes", type=int, default=400, help="data minutes the replayed file spans")
    parser.add_argument("--runs", type=int, default=2, help="replays for the lag figure (all scans pooled)")
    args = parser.parse_args()
    if args.part in ("write", "all"):
        write_figures(args)
    if args.part in ("lag", "all"):
        lag_figures(args)


def write_figures(args: argparse.Namespace) -> None:
    rng = random.Random(1)
    symbols = [f"S{i:03d}/USDT" for i in range(args.symbols)]
    pairs = args.symbols * len(EXCHANGES)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "store.sqlite3"
        store = Store(path)
        writer = StoreWriter(store)
        loop_times, write_times = [], []
        for k in range(args.minutes):
            minute = M0 + k
            ts = (minute + 1) * MINUTE_MS
            events: list[EngineEvent] = [
                ClosedMinutes(ts, minute_buckets(rng, symbols, minute, args.quiet)),
                *whales(rng, ts, symbols, args.whales),
                scan_with_signals(rng, ts, symbols, args.signals),
            ]
            started = time.perf_counter()
            writer.on_events(events)
            loop_times.append(time.perf_counter() - started)
            writer.flush()
            write_times.append(writer.stats.last_write_seconds)
        writer.close()

        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        total = file_bytes(path)
        counts = store.counts()
        signal_bytes = _table_bytes(store, "signals", "signals_by_symbol")
        whale_bytes = _table_bytes(store, "whales", "whales_by_ts", "sqlite_autoindex_whales_1")
        minute_bytes = _table_bytes(store, "minutes")
        per_row = minute_bytes / counts["minutes"]

        now = (M0 + args.minutes) * MINUTE_MS
        started = time.perf_counter()
        restored = store.restore_items(now, 50)
        restore_s = time.perf_counter() - started
        started = time.perf_counter()
        lookback = store.minutes(symbols[0], M0 + args.minutes - 1440, M0 + args.minutes - 1)
        lookback_s = time.perf_counter() - started
        store.close()

    day_rows = pairs * 1440
    print(f"pairs: {pairs} ({args.symbols} symbols x {len(EXCHANGES)} exchanges), {args.minutes} minutes simulated")
    print(
        f"event loop, on_events per minute: median {statistics.median(loop_times) * 1e6:.0f} µs, worst {max(loop_times) * 1e6:.0f} µs"
    )
    print(
        f"writer thread, one transaction per minute ({pairs} minutes + {args.signals} signals + {args.whales} whales):"
        f" median {statistics.median(write_times) * 1e3:.1f} ms, worst {max(write_times) * 1e3:.1f} ms"
        f" ({statistics.median(write_times) / 60 * 100:.2f} % of one core)"
    )
    print(
        f"restore a 50-minute window: {len(restored)} rows in {restore_s * 1e3:.0f} ms; 24 h lookback of one symbol: {len(lookback)} rows in {lookback_s * 1e3:.1f} ms"
    )
    print(
        f"minute rows: {per_row:.1f} bytes each (table + key) -> {per_row * day_rows / 1e6:.0f} MB per day, {per_row * day_rows * 7 / 1e9:.2f} GB for 7 days"
    )
    if counts["signals"]:
        print(
            f"signal rows: {signal_bytes / counts['signals']:.0f} bytes each -> {signal_bytes / counts['signals'] * args.signals * 1440 / 1e6:.1f} MB per day at {args.signals} per scan"
        )
    if counts["whales"]:
        print(
            f"whale rows: {whale_bytes / counts['whales']:.0f} bytes each -> {whale_bytes / counts['whales'] * args.whales * 1440 / 1e6:.1f} MB per day at {args.whales} per minute"
        )
    print(f"file after {args.minutes} minutes: {total / 1e6:.1f} MB")


# ---------------------------------------------------------------- lag behind a full-speed replay

T0 = 1_765_530_000_000


def generate_replay(path: Path, trades: int, symbols: int, minutes: int, seed: int = 1) -> None:
    """A replay file: `trades` trades spread evenly over `minutes`, symbols and exchanges uniform
    (every pair trades most minutes: the store's worst case per minute), one in 2,000 a whale."""
    rng = random.Random(seed)
    names = [f"S{i:03d}/USDT" for i in range(symbols)]
    prices = {name: 10 ** rng.uniform(-2, 4) for name in names}
    span = minutes * MINUTE_MS
    with path.open("wb") as out:
        out.write(orjson.dumps({"type": "meta", "listings": {n: list(EXCHANGES) for n in names}}) + b"\n")
        for k in range(trades):
            name = names[rng.randrange(symbols)]
            value = 1e6 if rng.random() < 0.0005 else rng.expovariate(1 / 5_000)
            row = {
                "ts": T0 + k * span // trades,
                "exchange": EXCHANGES[rng.randrange(4)],
                "symbol": name,
                "side": "buy" if rng.random() < 0.5 else "sell",
                "price": round(prices[name], 6),
                "amount": round(value / prices[name], 6),
                "id": str(k),
            }
            out.write(orjson.dumps(row) + b"\n")


def replay_lags(replay: Path, database: Path) -> tuple[list[float], float, int]:
    """One `--speed 0 --store` replay: (each scan's lag in s, run time in s, scans)."""
    repo = Path(__file__).resolve().parent.parent
    settings = database.parent / "settings.toml"
    settings.write_text('timezone = "UTC"\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(repo))
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "gme_tui", "--config", str(settings), "--replay", str(replay), "--speed", "0"]
        + ["--headless", "--json", "--store", str(database)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=database.parent,
    )
    printed: dict[int, float] = {}  # scan ts -> when its first line arrived here
    commits: list[tuple[float, int]] = []  # (when seen, newest stored minute)
    done = threading.Event()

    def poll() -> None:
        reader: sqlite3.Connection | None = None
        newest = -1
        while not done.is_set():
            if reader is None and database.exists():
                reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1.0)
            if reader is not None:
                try:
                    row = reader.execute(
                        "SELECT max((SELECT max(minute) FROM minutes WHERE pair = p.id)) FROM pairs p"
                    ).fetchone()
                except sqlite3.OperationalError:  # the schema is being created
                    row = None
                if row and row[0] is not None and row[0] > newest:
                    newest = row[0]
                    commits.append((time.monotonic(), newest))
            done.wait(0.02)
        if reader is not None:
            reader.close()

    poller = threading.Thread(target=poll)
    poller.start()
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith(b'{"type":"consensus"'):
            ts = orjson.loads(line)["ts"]
            printed.setdefault(ts, time.monotonic())
    child.wait()
    elapsed = time.monotonic() - started
    done.set()
    poller.join()
    lags = []
    for ts, at in printed.items():
        closed = ts // MINUTE_MS - 1  # the minute handed out with this scan, in its transaction
        committed = next((seen for seen, newest in commits if newest >= closed), None)
        if committed is not None:
            lags.append(committed - at)
    return lags, elapsed, len(printed)


def lag_figures(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        replay = Path(folder) / "replay.jsonl"
        generate_replay(replay, args.lag_trades, args.lag_symbols, args.lag_minutes)
        lags: list[float] = []
        times: list[float] = []
        scans = 0
        for run in range(args.runs):
            database = Path(folder) / f"store{run}.sqlite3"
            run_lags, elapsed, run_scans = replay_lags(replay, database)
            lags += run_lags
            times.append(elapsed)
            scans += run_scans
    lags.sort()
    positive = [max(0.0, lag) for lag in lags]
    print(
        f"lag behind a --speed 0 replay ({args.lag_trades:,} trades, {args.lag_symbols} symbols x 4 exchanges,"
        f" {args.lag_minutes} min; {args.runs} runs of {statistics.median(times):.1f} s, {scans} scans):"
    )
    if not lags:
        print("  no scan committed")
        return
    print(
        f"  printed -> committed: p50 {_pct(positive, 50):.2f} s, p99 {_pct(positive, 99):.2f} s,"
        f" max {positive[-1]:.2f} s; {sum(1 for lag in lags if lag <= 0)} of {len(lags)} committed before printed"
    )


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _table_bytes(store: Store, *names: str) -> int:
    """Bytes of the pages of these tables and indexes (dbstat when SQLite has it, else a share of
    the file by row count)."""
    try:
        rows = store._query(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({','.join('?' * len(names))})", names)
        return int(rows[0][0] or 0)
    except Exception:
        return file_bytes(store.path)


if __name__ == "__main__":
    main()
