"""Retention prunes exactly what is past its age, by an injected clock."""

from __future__ import annotations

from gme_tui.model import MINUTE_MS
from gme_tui.store import Retention
from gme_tui.store.store import DAY_MS
from gme_tui.store.writer import rows_of
from tests.store.flows import M0, bucket, scan_with_signal, whale


def test_minutes_older_than_bucket_days_go_and_the_boundary_minute_stays(store):
    store.write([bucket(e, "BTC/USDT", M0 + k) for k in range(20) for e in ("binance", "bybit")])
    now = (M0 + 10) * MINUTE_MS + 7 * DAY_MS  # minute M0+10 is exactly 7 days old: kept
    retention = Retention(store, bucket_days=7, history_days=90, clock=lambda: now)
    result = retention.run_once()
    assert result.minutes == 20
    assert {b.minute for b in store.minutes("BTC/USDT", M0 - 100, M0 + 100)} == set(range(M0 + 10, M0 + 20))
    now += 1  # one millisecond later M0+10 is past its age
    assert retention.run_once().minutes == 2
    assert store.minutes("BTC/USDT", M0, M0 + 10) == []
    assert retention.run_once().minutes == 0


def test_signals_and_whales_keep_history_days(store):
    ts = M0 * MINUTE_MS
    _, signals, _ = rows_of([scan_with_signal(ts + k * MINUTE_MS) for k in range(5)])
    store.write(signals=signals, whales=[whale(ts + k * MINUTE_MS) for k in range(5)])
    store.write([bucket("okx", "BTC/USDT", M0 + 4)])
    now = ts + 2 * MINUTE_MS + 90 * DAY_MS  # the third one is exactly 90 days old: kept
    result = Retention(store, bucket_days=7, history_days=90, clock=lambda: now).run_once()
    assert (result.signals, result.whales, result.minutes) == (2, 2, 1)
    assert [s.ts for s in store.signals(0)] == [ts + k * MINUTE_MS for k in (4, 3, 2)]
    assert [w.ts for w in store.whales(0)] == [ts + k * MINUTE_MS for k in (4, 3, 2)]


def test_fractional_days_are_honoured(store):
    store.write([bucket("okx", "BTC/USDT", M0 + k) for k in range(240)])
    now = (M0 + 240) * MINUTE_MS
    Retention(store, bucket_days=0.1, clock=lambda: now).run_once()  # 0.1 day = 144 minutes
    assert {b.minute for b in store.minutes("BTC/USDT", M0, M0 + 240)} == set(range(M0 + 96, M0 + 240))


def test_the_background_thread_prunes_at_start_and_stops_on_close(store):
    store.write([bucket("okx", "BTC/USDT", M0)])
    retention = Retention(store, bucket_days=1, clock=lambda: (M0 + 2_000) * MINUTE_MS, every_seconds=3_600)
    retention.start()
    retention.close()
    assert retention.runs >= 1 and store.counts()["minutes"] == 0
