"""The writer: the event loop only queues; one transaction per drained batch; close flushes."""

from __future__ import annotations

import threading
import time

from gme_tui.model import EXCHANGES, MINUTE_MS
from gme_tui.store import StoreWriter
from tests.store.flows import M0, bucket, minutes_event, scan_with_signal, whale


def count_commits(store) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


def full_minute(minute: int, symbols: int = 600) -> list:
    return [bucket(e, f"S{i:03d}/USDT", minute) for i in range(symbols) for e in EXCHANGES]


def test_a_minute_of_2400_pairs_with_its_signals_and_whales_is_one_transaction(store):
    commits = count_commits(store)
    writer = StoreWriter(store)
    ts = (M0 + 1) * MINUTE_MS
    writer.on_events([minutes_event(M0 + 1, full_minute(M0)), whale(ts - 5), scan_with_signal(ts)])
    assert writer.flush()
    assert len(commits) == 1
    assert store.counts() == {"minutes": 2_400, "signals": 1, "whales": 1}
    stats = writer.stats
    assert (stats.transactions, stats.minutes, stats.signals, stats.whales, stats.errors) == (1, 2_400, 1, 1, 0)
    writer.close()


def test_event_lists_queued_while_the_writer_is_busy_share_one_transaction(store):
    commits = count_commits(store)
    writer = StoreWriter(store, start=False)  # the thread has not picked anything up yet
    for k in range(5):
        writer.on_events([minutes_event(M0 + k + 1, [bucket("binance", "BTC/USDT", M0 + k)])])
        writer.on_events([whale((M0 + k) * MINUTE_MS + 1)])
    assert store.counts()["minutes"] == 0  # on_events only queued
    writer.start()
    assert writer.flush()
    assert len(commits) == 1
    assert store.counts() == {"minutes": 5, "signals": 0, "whales": 5}
    writer.close()


def test_events_without_store_content_cost_no_transaction(store):
    commits = count_commits(store)
    writer = StoreWriter(store)
    writer.on_events([])
    writer.on_events([scan_with_signal(M0 * MINUTE_MS).__class__(M0 * MINUTE_MS, 50, ())])  # a scan without signals
    assert writer.flush()
    assert commits == []
    writer.close()


def test_on_events_is_quick_even_for_a_full_minute(store):
    writer = StoreWriter(store, start=False)
    events = [minutes_event(M0 + 1, full_minute(M0)), scan_with_signal((M0 + 1) * MINUTE_MS)]
    started = time.perf_counter()
    for _ in range(100):
        writer.on_events(events)
    per_call = (time.perf_counter() - started) / 100
    assert per_call < 0.001  # queues a reference: no per-row work on the event loop
    writer.close()


def test_close_writes_what_is_queued_and_later_events_are_refused(store):
    writer = StoreWriter(store, start=False)
    writer.on_events([minutes_event(M0 + 1, [bucket("okx", "BTC/USDT", M0)])])
    writer.start()
    writer.close()
    assert store.counts()["minutes"] == 1
    writer.on_events([minutes_event(M0 + 2, [bucket("okx", "BTC/USDT", M0 + 1)])])
    assert writer.stats.dropped == 1
    assert store.counts()["minutes"] == 1


def test_a_full_queue_drops_and_counts_instead_of_blocking(store):
    writer = StoreWriter(store, max_queue=2, start=False)
    for k in range(4):
        writer.on_events([whale(M0 * MINUTE_MS + k)])
    assert writer.stats.dropped == 2
    writer.start()
    writer.close()
    assert store.counts()["whales"] == 2


def test_a_failing_write_is_counted_and_the_writer_goes_on(store, caplog):
    writer = StoreWriter(store)
    store._db.execute("PRAGMA query_only=1")  # every write now fails, like a read-only disk
    writer.on_events([whale(M0 * MINUTE_MS)])
    assert writer.flush()
    assert writer.stats.errors == 1 and "store write failed" in caplog.text
    store._db.execute("PRAGMA query_only=0")
    writer.on_events([whale(M0 * MINUTE_MS + 1)])
    assert writer.flush()
    assert store.counts()["whales"] == 1
    writer.close()


def watch_commits(store) -> threading.Semaphore:
    """Released once per transaction the store has committed (on the writer thread)."""
    committed = threading.Semaphore(0)
    write = store.write

    def counted(*args, **kwargs):
        write(*args, **kwargs)
        committed.release()

    store.write = counted  # the instance's, for this test only
    return committed


def three_pairs(minute: int) -> list:
    return [minutes_event(minute + 1, [bucket(e, "BTC/USDT", minute) for e in ("binance", "okx", "bybit")])]


def test_the_first_list_after_a_quiet_spell_commits_at_once_and_the_next_ones_are_grouped(store):
    committed = watch_commits(store)
    writer = StoreWriter(store, commit_every=60.0)  # the next commit is a minute away unless flushed
    writer.on_events(three_pairs(M0))
    assert committed.acquire(timeout=10)  # at once: neither a flush nor data time was waited for
    for k in range(1, 5):
        writer.on_events(three_pairs(M0 + k))
    assert writer.flush()
    assert committed.acquire(timeout=0)  # the four lists that came while the writer gathered: one commit
    assert not committed.acquire(timeout=0)
    assert store.counts()["minutes"] == 15
    assert writer.stats.transactions == 2
    writer.close()


def test_max_rows_pending_commit_without_waiting_for_the_cadence_and_a_list_is_never_split(store):
    committed = watch_commits(store)
    writer = StoreWriter(store, commit_every=60.0, max_rows=5, start=False)
    for k in range(4):
        writer.on_events(three_pairs(M0 + k))  # 3 rows each: two lists reach max_rows
    writer.start()
    assert committed.acquire(timeout=10)
    assert committed.acquire(timeout=10)  # the backlog's second half did not wait 60 s
    assert store.counts()["minutes"] == 12
    big = [minutes_event(M0 + 11, [bucket(e, f"S{i:03d}/USDT", M0 + 10) for i in range(5) for e in EXCHANGES])]
    writer.on_events(big)  # 20 rows, more than max_rows: still one transaction
    assert writer.flush()
    assert committed.acquire(timeout=0) and not committed.acquire(timeout=0)
    assert store.counts()["minutes"] == 32
    writer.close()
