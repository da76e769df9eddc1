"""The store's write cost per minute at 600 symbols x 4 exchanges, and its size per day.

    python benchmarks/bench_store.py [--symbols 600] [--minutes 60] [--signals 50] [--whales 20]

Times, on a fresh store file in a temporary directory:
  loop     the event loop's share: StoreWriter.on_events for one minute's events (ClosedMinutes of
           2,400 buckets + a Scan with `--signals` signals + `--whales` whales): it only queues;
  write    the writer thread's transaction for that minute (median and worst over `--minutes`);
  restore  restore_items for a 50-minute window (a restart), and a 24 h lookback of one symbol;
  size     database bytes per stored minute row, extrapolated to a day (2,400 x 1,440 rows) and to
           the default retention (7 days of minutes); signal and whale rows measured the same way.
Minute figures are random floats with a realistic share of quiet (zero) minutes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gme_tui.model import EXCHANGES, MINUTE_MS, ClosedMinutes, Consensus, MinuteBucket, Scan, Signal, SymbolScan, Whale
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
        flows = {e: rng.uniform(-5e6, 5e6) for e in EXCHANGES}
        consensus = Consensus(
            ts, symbol, "mixed", flows, {e: 1.0 for e in flows}, sum(flows.values()), {e: 50 for e in EXCHANGES}
        )
        items.append(
            SymbolScan(consensus, (Signal(ts, symbol, "C", "single_platform_long_trap", flows),), {}, None, None, 0.0)
        )
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
    args = parser.parse_args()
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
            events = [
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
