"""Deterministic minutes, trades and engines for the store tests."""

from __future__ import annotations

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, ClosedMinutes, Consensus, MinuteBucket, Scan, Signal, SymbolScan, Trade, Whale

M0 = 29_425_500  # 2025-12-12 07:00 UTC
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
HISTORY = ("binance", "okx", "coinbase")  # exchanges that can backfill


def bucket(exchange: str, symbol: str, minute: int, covered: bool = True, scale: float = 1.0) -> MinuteBucket:
    """A minute whose figures depend on all of its keys, so a mix-up shows."""
    seed = (minute * 7 + len(symbol) * 13 + sum(map(ord, exchange))) % 97
    return MinuteBucket(
        exchange,
        symbol,
        minute,
        1_000.0 * (seed + 1) * scale,
        750.0 * (97 - seed) * scale,
        seed + 1,
        10.0 + seed,
        covered,
    )


def trades_of(exchange: str, symbol: str, minute: int) -> list[Trade]:
    """Three trades inside the minute; values differ per key."""
    seed = (minute * 5 + len(symbol) + sum(map(ord, exchange))) % 53
    base = minute * MINUTE_MS
    return [
        Trade(exchange, symbol, base + 5_000, "buy", 100.0 + seed, 3.0 + seed % 7, f"{minute}-a"),
        Trade(exchange, symbol, base + 25_000, "sell", 101.0 + seed, 2.5 + seed % 5, f"{minute}-b"),
        Trade(exchange, symbol, base + 55_000, "buy", 99.5 + seed, 1.25, f"{minute}-c"),
    ]


def live_engine(window: int = 50) -> Engine:
    return Engine(
        EngineConfig(clock="external", warmup=False, track_coverage=True, emit_minutes=True, window_minutes=window)
    )


def minutes_event(ts_minute: int, buckets) -> ClosedMinutes:
    return ClosedMinutes(ts=ts_minute * MINUTE_MS, buckets=tuple(buckets))


def scan_with_signal(
    ts: int, symbol: str = "BTC/USDT", grade: str = "A+", code: str = "global_sync_bullish", coverage=None
) -> Scan:
    flows = {"binance": 2_000.0, "okx": 1_500.0, "bybit": 500.0, "coinbase": 1_200.0}
    consensus = Consensus(ts, symbol, "strong_bullish", flows, {e: 1.3 for e in flows}, sum(flows.values()), coverage)
    signal = Signal(ts, symbol, grade, code, flows)
    item = SymbolScan(consensus, (signal,), {}, None, None, 0.0)
    return Scan(ts, 50, (item,))


def whale(ts: int, exchange: str = "binance", symbol: str = "BTC/USDT", value: float = 600_000.0) -> Whale:
    return Whale(ts, exchange, symbol, "buy", value / 10.0, 10.0, value, 2)


def signal_scan(
    ts: int, grade: str, code: str, flows: dict[str, float], coverage: dict[str, int] | None = None
) -> Scan:
    """A live scan of BTC/USDT at `ts` whose one signal is `code` on these spot flows."""
    consensus = Consensus(ts, "BTC/USDT", "mixed", flows, {e: 1.0 for e in flows}, sum(flows.values()), coverage)
    item = SymbolScan(consensus, (Signal(ts, "BTC/USDT", grade, code, flows),), {}, None, None, 0.0)  # type: ignore[arg-type]
    return Scan(ts, 50, (item,))
