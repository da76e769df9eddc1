"""The scorecard's input (a ScoreData) from a replay file or from the store (SPEC §13): the same
rows and signals either way, so the same figures for the same data."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from gme_tui.core.seams import HistoryReader
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS
from gme_tui.scorecard.data import ScoreCollector, ScoreData, ScoreDataBuilder
from gme_tui.sources.replay import ReplaySource

_FAR = 1 << 60  # minutes: "no end"
SIGNAL_LIMIT = 1 << 40  # signals of one symbol: all of them


def replay_data(
    path: Path, config: EngineConfig, *, since_ms: int | None = None, until_ms: int | None = None
) -> ScoreData:
    """Replay `path` as fast as it goes through an engine of `config` (its minutes handed out as
    the store would get them) and collect the scorecard's input. Raises ReplayError (and its
    NothingToReplay) for a file that cannot be replayed, damaged ones included."""
    source = ReplaySource(
        path,
        exchanges=config.exchanges,
        window_minutes=config.window_minutes,
        keep_extra_minutes=config.keep_extra_minutes,
        perp_venues=config.perp_venues,
    )
    source.check()
    engine = Engine(replace(config, emit_minutes=True, dedupe_trades=False))  # the parser drops duplicates
    collector = ScoreCollector(config.window_minutes)
    for chunk in source.chunks():
        collector.on_events(engine.feed_many(chunk))
    collector.on_events(engine.finish())
    return collector.data(since_ms=since_ms, until_ms=until_ms)


def history_data(
    reader: HistoryReader,
    symbols: Iterable[str],
    *,
    window_minutes: int,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> ScoreData:
    """The stored minutes and signals of `symbols`. With `since_ms`, minutes from a window before
    it (the warm-up, and the closes that price its first scans) and signals from a minute before
    it (to know whether an episode began earlier)."""
    first_minute = 0 if since_ms is None else since_ms // MINUTE_MS - window_minutes - 1
    last_minute = _FAR if until_ms is None else until_ms // MINUTE_MS
    signals_from = 0 if since_ms is None else since_ms - MINUTE_MS
    signals_until = None if until_ms is None else until_ms + 1
    builder = ScoreDataBuilder(window_minutes)
    for symbol in symbols:
        for bucket in reader.minutes(symbol, first_minute, last_minute):
            builder.add_minute(bucket)
        for signal in reader.signals(signals_from, symbol=symbol, until_ms=signals_until, limit=SIGNAL_LIMIT):
            builder.add_signal(signal.symbol, signal.ts, signal.code, signal.flows)
    return builder.build(since_ms=since_ms, until_ms=until_ms)


def stored_symbols(path: Path) -> list[str]:
    """Every symbol the store at `path` holds minutes for, read-only. (Until the store offers a
    `symbols()` of its own: replay-wiring.md asks for one.) Raises sqlite3.Error."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        rows: list[tuple[str]] = db.execute("SELECT DISTINCT symbol FROM pairs ORDER BY symbol").fetchall()
    return [symbol for (symbol,) in rows]
