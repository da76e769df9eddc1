"""A seeded replay file for the store's full-speed tests: many pairs trading every minute (the
store's heaviest minutes), a whale now and then, and what the store should then hold."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from gme_tui.model import EXCHANGES, MINUTE_MS

T0 = 1_765_530_000_000  # 2025-12-12 09:00 UTC, a minute boundary
WHALE_VALUE = 1_000_000.0  # above the default whale threshold (200k)


@dataclass(frozen=True)
class ReplayFile:
    path: Path
    pairs_by_minute: dict[int, int]  # minute -> (exchange, symbol) pairs that traded in it


def trade_rows(trades: int, symbols: int, minutes: int, seed: int) -> Iterator[dict[str, object]]:
    """`trades` trades spread evenly over `minutes` from T0, exchange and symbol uniform (so
    nearly every pair trades every minute), one in 2,000 a whale order of WHALE_VALUE."""
    rng = random.Random(seed)
    names = [f"S{i:03d}/USDT" for i in range(symbols)]
    prices = {name: round(10 ** rng.uniform(-2, 4), 6) for name in names}
    span = minutes * MINUTE_MS
    for k in range(trades):
        name = names[rng.randrange(symbols)]
        value = WHALE_VALUE if rng.random() < 0.0005 else rng.expovariate(1 / 5_000)
        yield {
            "ts": T0 + k * span // trades,
            "exchange": EXCHANGES[rng.randrange(len(EXCHANGES))],
            "symbol": name,
            "side": "buy" if rng.random() < 0.5 else "sell",
            "price": prices[name],
            "amount": round(value / prices[name], 6),
            "id": str(k),
        }


def write_replay(path: Path, *, trades: int, symbols: int, minutes: int, seed: int = 1) -> ReplayFile:
    """Write the file (a meta line listing every symbol on the four exchanges, then the trades)."""
    pairs: dict[int, set[tuple[str, str]]] = {}
    with path.open("wb") as out:
        listings = {f"S{i:03d}/USDT": list(EXCHANGES) for i in range(symbols)}
        out.write(orjson.dumps({"type": "meta", "listings": listings}) + b"\n")
        for row in trade_rows(trades, symbols, minutes, seed):
            out.write(orjson.dumps(row) + b"\n")
            ts = row["ts"]
            assert isinstance(ts, int)
            pairs.setdefault(ts // MINUTE_MS, set()).add((str(row["exchange"]), str(row["symbol"])))
    return ReplayFile(path, {minute: len(traded) for minute, traded in pairs.items()})
