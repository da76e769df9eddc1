"""A restart through the engine: the window after it equals the window before plus the backfilled
gap; Bybit (no public history) keeps its stored minutes and shows the gap as missing coverage."""

from __future__ import annotations

from gme_tui.engine import Engine
from gme_tui.engine.minutes import missing_ranges
from gme_tui.model import MINUTE_MS, Coverage, Listings, Scan
from gme_tui.store import StoreWriter, known_by_pair, restore_window
from tests.store.flows import HISTORY, M0, SYMBOLS, bucket, live_engine, trades_of

GRACE = 2_000
EXCHANGES = (*HISTORY, "bybit")


def boundary(minute: int) -> int:
    return minute * MINUTE_MS + GRACE


def run_live(engine: Engine, writer: StoreWriter, first_stream: int, last_stream: int, bybit_from: int) -> Scan:
    """Stream minutes first_stream..last_stream: trades, Coverage after each minute closes, then
    the scan (the order of the live source and the pipeline). Bybit streams from `bybit_from`, its
    first minute partial (no Coverage for it)."""
    for minute in range(first_stream, last_stream + 1):
        batch = []
        for symbol in SYMBOLS:
            for exchange in EXCHANGES:
                if exchange == "bybit" and minute < bybit_from:
                    continue
                batch.extend(trades_of(exchange, symbol, minute))
        writer.on_events(engine.feed_many(batch))
        cover = [
            Coverage(e, s, minute, minute)
            for s in SYMBOLS
            for e in EXCHANGES
            if not (e == "bybit" and minute <= bybit_from)
        ]
        engine.feed_many(cover)
        writer.on_events(engine.advance(boundary(minute + 1), scan_grace_ms=GRACE))
    return engine.last_scan


def first_run(store, start: int, last: int, bybit_from: int) -> Scan:
    """A fresh start at minute `start`: the first scan, then the initial backfill of the window
    (history exchanges only), then streaming through minute `last`."""
    engine = live_engine()
    writer = StoreWriter(store)
    engine.feed(Listings({s: EXCHANGES for s in SYMBOLS}))
    writer.on_events(engine.advance(start * MINUTE_MS + 2_500, scan_grace_ms=GRACE))
    backfill = [bucket(e, s, m) for m in range(start - 50, start + 1) for s in SYMBOLS for e in HISTORY]
    writer.on_events(engine.feed_many(backfill))
    scan = run_live(engine, writer, start, last, bybit_from)
    writer.close()
    return scan


def windows(scan: Scan) -> dict[tuple[str, str], tuple]:
    return {
        (item.consensus.symbol, e): (w.minute_nets, w.buy, w.sell, w.trades, w.covered_minutes)
        for item in scan.symbols
        for e, w in item.exchanges.items()
    }


def test_restart_restores_the_window_and_backfills_only_the_gap(store):
    start, last, bybit_from = M0 + 50, M0 + 79, M0 + 60
    before = first_run(store, start, last, bybit_from)
    assert before.ts == (last + 1) * MINUTE_MS
    assert store.last_minute() == last  # the process dies during minute last + 1: that one is lost

    restart_minute = last + 4  # back three minutes later
    now = restart_minute * MINUTE_MS + 2_500
    restored = restore_window(store, now_ms=now, window_minutes=50, exchanges=EXCHANGES)
    engine = live_engine()
    engine.feed_many(restored)

    # what the live source must still backfill: the gap, and only the gap
    known = known_by_pair(restored)
    for symbol in SYMBOLS:
        for exchange in HISTORY:
            pair_known = known[(exchange, symbol)]
            assert pair_known == store.known_minutes(exchange, symbol, restart_minute - 51, restart_minute - 1)
            assert missing_ranges(pair_known, restart_minute - 50, restart_minute - 1) == [
                (last + 1, restart_minute - 1)
            ]
        assert missing_ranges(known[("bybit", symbol)], restart_minute - 50, restart_minute - 1) == [
            (restart_minute - 50, bybit_from - 1),  # before Bybit's stream began: never known
            (last + 1, restart_minute - 1),
        ]
    gap = [bucket(e, s, m) for m in range(last + 1, restart_minute) for s in SYMBOLS for e in HISTORY]
    engine.feed_many(gap)  # Bybit cannot backfill: its gap stays missing
    after = engine.advance(now, scan_grace_ms=GRACE)[-1]
    assert isinstance(after, Scan) and after.ts == restart_minute * MINUTE_MS

    # expected: the old window shifted by the gap, then the backfilled gap minutes
    shift = restart_minute - (last + 1)
    old, new = windows(before), windows(after)
    assert old.keys() == new.keys()
    for (symbol, exchange), (nets, *_rest) in new.items():
        old_nets = old[(symbol, exchange)][0]
        assert nets[: 50 - shift] == old_nets[shift:]
        expected_gap = tuple(
            0.0 if exchange == "bybit" else bucket(exchange, symbol, m).buy - bucket(exchange, symbol, m).sell
            for m in range(last + 1, restart_minute)
        )
        assert nets[50 - shift :] == expected_gap
    for symbol in SYMBOLS:
        for exchange in HISTORY:
            assert new[(symbol, exchange)][4] == 50  # fully covered again: stored + backfilled
        # Bybit: streamed from bybit_from (first minute partial), minus the three lost minutes
        covered_before = old[(symbol, "bybit")][4]
        assert covered_before == last - bybit_from
        assert new[(symbol, "bybit")][4] == covered_before
        assert new[(symbol, "bybit")][3] == old[(symbol, "bybit")][3]  # every streamed trade survived


def test_restored_minutes_keep_their_coverage_flags(store):
    rows = [bucket("bybit", "BTC/USDT", M0 + k, covered=k >= 10) for k in range(50)]
    store.write(rows)
    now = (M0 + 50) * MINUTE_MS + 2_500
    restored = restore_window(store, now_ms=now, window_minutes=50, exchanges=("bybit",))
    assert restored == rows
    engine = live_engine()
    engine.feed_many(restored)
    scan = engine.advance(now, scan_grace_ms=GRACE)[-1]
    window = scan.symbols[0].exchanges["bybit"]
    assert window.covered_minutes == 40
    assert window.buy == sum(b.buy for b in rows)  # uncovered minutes still add their flow


def test_disabled_exchanges_are_not_restored(store):
    store.write([bucket(e, "BTC/USDT", M0) for e in EXCHANGES])
    restored = restore_window(store, now_ms=(M0 + 1) * MINUTE_MS, window_minutes=50, exchanges=("okx", "bybit"))
    assert sorted(b.exchange for b in restored) == ["bybit", "okx"]


def test_missing_ranges_are_oldest_first_runs():
    assert missing_ranges(set(), 10, 14) == [(10, 14)]
    assert missing_ranges({10, 11, 12, 13, 14}, 10, 14) == []
    assert missing_ranges({11, 12, 14}, 10, 16) == [(10, 10), (13, 13), (15, 16)]
