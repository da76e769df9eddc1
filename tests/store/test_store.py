"""Schema, upserts and queries of the store."""

from __future__ import annotations

import sqlite3

import pytest

from gme_tui.model import MINUTE_MS
from gme_tui.store import SCHEMA_VERSION, Store, StoreError
from gme_tui.store.writer import rows_of
from tests.store.flows import M0, bucket, scan_with_signal, whale


def test_new_store_is_wal_at_the_current_schema(store, store_path):
    db = sqlite3.connect(store_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    db.close()
    assert store.integrity() == "ok"
    assert store.last_minute() is None


def test_reopening_keeps_data_and_does_not_migrate_again(store_path):
    first = Store(store_path)
    first.write([bucket("binance", "BTC/USDT", M0)])
    first.close()
    again = Store(store_path)
    assert again.minutes("BTC/USDT", M0, M0) == [bucket("binance", "BTC/USDT", M0)]
    again.close()


def test_a_re_emitted_minute_replaces_the_stored_one(store):
    partial = bucket("okx", "ETH/USDT", M0, covered=False)
    store.write([partial])
    complete = bucket("okx", "ETH/USDT", M0, covered=True, scale=2.0)  # the backfill completed it
    store.write([complete])
    assert store.minutes("ETH/USDT", M0 - 5, M0 + 5) == [complete]
    assert store.counts()["minutes"] == 1


def test_minutes_query_filters_by_exchange_symbol_and_range(store):
    rows = [bucket(e, s, M0 + k) for e in ("binance", "bybit") for s in ("BTC/USDT", "ETH/USDT") for k in range(5)]
    store.write(rows)
    got = store.minutes("BTC/USDT", M0 + 1, M0 + 3)
    assert [(b.exchange, b.minute) for b in got] == [("binance", M0 + k) for k in (1, 2, 3)] + [
        ("bybit", M0 + k) for k in (1, 2, 3)
    ]
    assert store.minutes("BTC/USDT", M0, M0 + 9, exchange="bybit") == [
        bucket("bybit", "BTC/USDT", M0 + k) for k in range(5)
    ]
    assert store.minutes("DOGE/USDT", M0, M0 + 9) == []
    assert store.last_minute() == M0 + 4
    assert store.last_minute("okx") is None


def test_null_close_and_zero_flow_round_trip_exactly(store):
    from gme_tui.model import MinuteBucket

    quiet = MinuteBucket("coinbase", "SOL/USDT", M0, 0.0, 0.0, 0, None, True)
    odd = MinuteBucket("coinbase", "SOL/USDT", M0 + 1, 0.1 + 0.2, 1e-300, 1, 3.0, False)
    store.write([quiet, odd])
    back = store.minutes("SOL/USDT", M0, M0 + 1)
    assert back == [quiet, odd]
    assert all(type(b.buy) is float and type(b.sell) is float for b in back)


def test_signals_are_stored_with_flows_and_coverage_and_filtered(store):
    ts = (M0 + 50) * MINUTE_MS
    events = [
        scan_with_signal(
            ts,
            "BTC/USDT",
            "A+",
            "global_sync_bullish",
            coverage={"binance": 50, "okx": 50, "bybit": 12, "coinbase": 50},
        ),
        scan_with_signal(ts + MINUTE_MS, "HBAR/USDT", "C", "single_platform_long_trap"),
        scan_with_signal(ts + 2 * MINUTE_MS, "BTC/USDT", "A", "us_institutional_accumulation"),
    ]
    _, signals, _ = rows_of(events)
    store.write(signals=signals)
    store.write(signals=signals)  # the same scan twice (a replay run again): no duplicates
    everything = store.signals(ts)
    assert [(s.symbol, s.grade) for s in everything] == [("BTC/USDT", "A"), ("HBAR/USDT", "C"), ("BTC/USDT", "A+")]
    aplus = everything[-1]
    assert aplus.flows == {"binance": 2_000.0, "okx": 1_500.0, "bybit": 500.0, "coinbase": 1_200.0}
    assert aplus.coverage == {"binance": 50, "okx": 50, "bybit": 12, "coinbase": 50}
    assert everything[1].coverage is None  # replay: coverage not tracked
    assert [s.grade for s in store.signals(ts, grade="C")] == ["C"]
    assert [s.grade for s in store.signals(ts, grade=("A+", "A"))] == ["A", "A+"]
    assert [s.grade for s in store.signals(ts, symbol="BTC/USDT")] == ["A", "A+"]
    assert [s.symbol for s in store.signals(ts, text="hb")] == ["HBAR/USDT"]
    assert store.signals(ts + MINUTE_MS, until_ms=ts + 2 * MINUTE_MS)[0].symbol == "HBAR/USDT"
    assert len(store.signals(ts, limit=1)) == 1


def test_whales_are_stored_once_and_filtered(store):
    ts = (M0 + 1) * MINUTE_MS
    whales = [whale(ts), whale(ts + 10, "okx", "ETH/USDT", 250_000.0), whale(ts + 20, "bybit", "BTC/USDT", 900_000.0)]
    store.write(whales=whales)
    store.write(whales=whales[:1])  # seen again: ignored
    assert store.whales(ts) == list(reversed(whales))
    assert store.whales(ts, symbol="BTC/USDT", min_value=700_000.0) == [whales[2]]
    assert store.whales(ts, exchange="okx") == [whales[1]]


def test_restore_items_returns_the_window_before_now_with_coverage(store):
    rows = [bucket("bybit", "BTC/USDT", M0 + k, covered=k % 3 != 0) for k in range(60)]
    store.write(rows)
    now = (M0 + 60) * MINUTE_MS + 1_234
    restored = store.restore_items(now, 50)
    assert restored == rows[60 - 51 :]  # the window plus one minute of margin, coverage as stored
    assert store.restore_items(now, 50, extra_minutes=0) == rows[10:]


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(path)


def test_a_store_from_a_newer_version_is_refused(store_path):
    Store(store_path).close()
    db = sqlite3.connect(store_path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer gme-tui"):
        Store(store_path)


def test_a_failed_write_rolls_back_entirely(store):
    good = bucket("binance", "BTC/USDT", M0)
    with pytest.raises(sqlite3.Error):
        store.write([good], signals=[("bad row",)])
    assert store.counts()["minutes"] == 0
    store.write([good])  # the pair id cache survived the rollback
    assert store.minutes("BTC/USDT", M0, M0) == [good]


def test_a_large_write_takes_few_statements_keeps_row_order_and_every_value(store):
    """Rows go in as multi-row INSERTs (a statement step per row was a GIL hand-off per row):
    5,001 minutes in three statements (4,096 + 512 + 512 of which 119 copies of the last row); a
    minute given twice keeps its later version."""
    from gme_tui.model import EXCHANGES

    inserts: list[str] = []
    store._db.set_trace_callback(
        lambda sql: inserts.append(sql) if sql.startswith("INSERT OR REPLACE INTO minutes") else None
    )
    symbols = [f"S{i:03d}/USDT" for i in range(125)]
    rows = [bucket(e, s, M0 + k) for k in range(10) for s in symbols for e in EXCHANGES]  # 5,000, minute-major
    again = bucket("okx", symbols[7], M0 + 3, covered=False, scale=3.0)  # a re-emitted minute, later in the list
    store.write([*rows, again])
    assert len(inserts) == 3
    assert store.counts()["minutes"] == 5_000
    assert store.minutes(symbols[7], M0, M0 + 9, exchange="okx") == [
        again if k == 3 else bucket("okx", symbols[7], M0 + k) for k in range(10)
    ]
    assert store.minutes(symbols[124], M0, M0 + 9) == [
        bucket(e, symbols[124], M0 + k) for e in EXCHANGES for k in range(10)
    ]


def test_new_pairs_among_known_ones_get_ids_another_connection_agrees_with(store, store_path):
    store.write([bucket("binance", "BTC/USDT", M0)])
    store.write(
        [bucket("binance", "BTC/USDT", M0 + 1), bucket("okx", "ETH/USDT", M0 + 1), bucket("okx", "SOL/USDT", M0 + 1)]
    )
    other = Store(store_path)
    try:
        assert other.minutes("ETH/USDT", M0, M0 + 1) == [bucket("okx", "ETH/USDT", M0 + 1)]
        assert other.minutes("BTC/USDT", M0, M0 + 1) == [bucket("binance", "BTC/USDT", M0 + k) for k in range(2)]
        other.write([bucket("bybit", "XRP/USDT", M0 + 2)])  # a pair the first connection has not seen
    finally:
        other.close()
    store.write([bucket("bybit", "XRP/USDT", M0 + 3), bucket("okx", "SOL/USDT", M0 + 3)])
    assert store.minutes("XRP/USDT", M0, M0 + 3) == [bucket("bybit", "XRP/USDT", M0 + k) for k in (2, 3)]
    assert store.minutes("SOL/USDT", M0, M0 + 3) == [bucket("okx", "SOL/USDT", M0 + k) for k in (1, 3)]


def test_whales_given_twice_in_one_write_are_stored_once(store):
    ts = (M0 + 1) * MINUTE_MS
    whales = [whale(ts + k, "okx" if k % 2 else "binance") for k in range(6)]
    store.write(whales=[*whales, whales[0]])  # 7 rows: statements of 4 and 4, the last padded with a copy
    assert store.whales(ts) == list(reversed(whales))
