"""The store and the derivatives (issue 14): the store has no market column, so perp minutes never
reach it (they would overwrite the spot rows of their pair); liquidations are not stored; a
re-scan of a boundary (Scan.rescan, issue 13) writes no second signal rows; B and the bearish A+
are stored as every signal is (code, grade, direction, spot flows and coverage), B's derivatives
figures are not (SPEC asks the store for minutes, signals and whales only: §13, ARCHITECTURE)."""

from __future__ import annotations

from dataclasses import replace

from gme_tui.model import MINUTE_MS, ClosedMinutes, Liquidation, MinuteBucket, OpenInterest, PerpTrade, Trade
from gme_tui.store import StoreWriter
from gme_tui.store.writer import rows_of
from tests.store.flows import M0, bucket, live_engine, minutes_event, scan_with_signal, signal_scan

SYMBOL = "BTC/USDT"


def test_perp_minutes_never_reach_closed_minutes_and_spot_rows_stay_spot(store) -> None:
    engine = live_engine(window=2)
    writer = StoreWriter(store)
    base = M0 * MINUTE_MS
    events = engine.feed_many(
        [
            Trade("binance", SYMBOL, base + 1_000, "buy", 2.0, 3.0, "s1"),  # spot: buy 6
            PerpTrade("binance", SYMBOL, base + 2_000, "sell", 2.0, 50.0, "p1"),  # perp: sell 100
            MinuteBucket("okx", SYMBOL, M0, 7.0, 9.0, 1, market="perp"),
            OpenInterest("binance", SYMBOL, base, 1_000.0),
            Liquidation(base + 3_000, "binance", SYMBOL, "long", 2.0, 1.0, 2.0),
        ]
    )
    events += engine.advance((M0 + 1) * MINUTE_MS)
    # a late perp trade into the handed-out minute must not mark it dirty as a spot change either
    events += engine.feed(PerpTrade("binance", SYMBOL, base + 4_000, "buy", 2.0, 1.0, "p2"))
    events += engine.flush_minutes((M0 + 1) * MINUTE_MS + 5)
    handed_out = [b for e in events if isinstance(e, ClosedMinutes) for b in e.buckets]
    assert handed_out  # the spot minute went out
    assert {(b.exchange, b.market) for b in handed_out} == {("binance", "spot")}
    assert [(b.minute, b.buy, b.sell) for b in handed_out] == [(M0, 6.0, 0.0)]
    writer.on_events(events)
    assert writer.flush()
    assert [(m.exchange, m.buy, m.sell) for m in store.minutes(SYMBOL, M0, M0)] == [("binance", 6.0, 0.0)]
    assert store.counts() == {"minutes": 1, "signals": 0, "whales": 0}
    writer.close()


def test_a_perp_bucket_handed_to_the_writer_is_not_written_over_its_spot_row(store) -> None:
    spot = bucket("binance", SYMBOL, M0)
    perp = replace(spot, buy=1.0, sell=2.0, market="perp")
    minutes, _, _ = rows_of([minutes_event(M0 + 1, [spot, perp])])
    assert minutes == [spot]
    writer = StoreWriter(store)
    writer.on_events([minutes_event(M0 + 1, [spot, perp])])
    assert writer.flush()
    assert store.minutes(SYMBOL, M0, M0, "binance")[0].buy == spot.buy
    writer.close()


def test_a_rescan_writes_no_second_signal_rows_and_liquidations_are_not_stored(store) -> None:
    commits: list[str] = []
    store._db.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    writer = StoreWriter(store)
    ts = (M0 + 1) * MINUTE_MS
    first = scan_with_signal(ts)
    writer.on_events([first])
    assert writer.flush()
    again = replace(scan_with_signal(ts, grade="A", code="us_institutional_accumulation"), rescan=True)
    writer.on_events([again, Liquidation(ts + 1, "bybit", SYMBOL, "short", 2.0, 1.0, 2.0)])
    assert writer.flush()
    assert store.counts() == {"minutes": 0, "signals": 1, "whales": 0}
    assert len(commits) == 1  # nothing for the store in the second list: no transaction
    assert [s.code for s in store.signals(since_ms=0)] == ["global_sync_bullish"]
    _, signals, _ = rows_of([again])
    assert signals == []
    writer.close()


def test_b_and_the_bearish_a_plus_are_stored_like_every_signal(store) -> None:
    writer = StoreWriter(store)
    ts = (M0 + 1) * MINUTE_MS
    flows = {"binance": 2_000_000.0, "okx": 1_000_000.0}
    coverage = {"binance": 50, "okx": 48}
    writer.on_events([signal_scan(ts, "B", "derivatives_hedge", flows, coverage)])
    bearish = {"binance": -3_000.0, "okx": -1_000.0}
    writer.on_events([signal_scan(ts + MINUTE_MS, "A+", "global_sync_bearish", bearish, coverage)])
    assert writer.flush()
    stored = store.signals(since_ms=0)
    assert [(s.code, s.grade, s.direction) for s in stored] == [
        ("global_sync_bearish", "A+", "bearish"),
        ("derivatives_hedge", "B", "neutral"),
    ]
    assert dict(stored[1].flows) == flows and dict(stored[1].coverage or {}) == coverage
    assert [s.code for s in store.signals(since_ms=0, grade="B")] == ["derivatives_hedge"]
    writer.close()
