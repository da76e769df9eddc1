"""The engine on the live (external) clock: whale orders close on the arrival of their last
fill (local clock, SPEC §5; issue 10 item 1), and a stop hands the store the minutes changed
since the last scan (issue 10 item 10)."""

from __future__ import annotations

from gme_tui.engine import Engine, EngineConfig, whales_in
from gme_tui.model import MINUTE_MS, ClosedMinutes, Trade

M = 29_425_520  # a minute (ts // 60000)
T = M * MINUTE_MS


def live(**kwargs) -> Engine:
    return Engine(EngineConfig(exchanges=("binance",), clock="external", warmup=False, whale_quiet_ms=1_500, **kwargs))


def fill(ts: int, price: float, amount: float, trade_id: str) -> Trade:
    return Trade("binance", "BTC/USDT", ts, "buy", price, amount, trade_id)


def test_a_split_order_closes_on_its_last_fill_arrival_not_on_its_exchange_ts() -> None:
    engine = live()
    local = T + 1_400 + 10_000  # the local clock 1.4 s ahead, plus 10 s of whatever
    order_ts = local - 1_400 - 150  # the exchange's ts, 150 ms before the frames arrive
    assert engine.feed_many([fill(order_ts, 50_000.0, 3.0, "1")], arrived_ms=local) == []
    assert whales_in(engine.advance(local + 200)) == []  # 1.75 s after its ts: still open
    engine.feed_many([fill(order_ts, 50_020.0, 2.0, "2")], arrived_ms=local + 200)
    assert whales_in(engine.advance(local + 200 + 1_499)) == []
    (whale,) = whales_in(engine.advance(local + 200 + 1_500))
    assert (whale.value, whale.fills, whale.ts) == (250_040.0, 2, order_ts)


def test_without_an_arrival_the_ts_is_the_clock_as_before() -> None:
    engine = live()
    engine.feed_many([fill(T, 100_000.0, 1.0, "1"), fill(T, 100_000.0, 1.0, "2")])
    assert whales_in(engine.advance(T + 1_499)) == []
    assert [w.value for w in whales_in(engine.advance(T + 1_500))] == [200_000.0]


def test_a_stop_hands_out_the_minutes_changed_since_the_last_scan_and_not_the_open_one() -> None:
    engine = live(emit_minutes=True)
    engine.feed_many([fill(T + 1_000, 100.0, 1.0, "1")])
    engine.advance((M + 1) * MINUTE_MS + 2_000, scan_grace_ms=2_000)  # scan at M+1 hands out minute M
    assert engine.flush_minutes((M + 1) * MINUTE_MS + 3_000) == []  # nothing changed since
    engine.feed_many([fill(T + 59_700, 200.0, 1.0, "late"), fill((M + 1) * MINUTE_MS + 2_500, 7.0, 1.0, "open")])
    (flushed,) = engine.flush_minutes((M + 1) * MINUTE_MS + 4_000)
    assert isinstance(flushed, ClosedMinutes) and flushed.ts == (M + 1) * MINUTE_MS + 4_000
    assert [(b.minute, b.buy) for b in flushed.buckets] == [(M, 300.0)]
    assert engine.flush_minutes((M + 1) * MINUTE_MS + 5_000) == []  # handed out once


def test_no_flush_without_emit_minutes() -> None:
    engine = live()
    engine.feed_many([fill(T, 1.0, 1.0, "1")])
    engine.advance(T + MINUTE_MS + 2_000)
    engine.feed_many([fill(T + 5, 1.0, 1.0, "2")])
    assert engine.flush_minutes(T + MINUTE_MS + 3_000) == []
