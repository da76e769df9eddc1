"""Whales are taker ORDERS (SPEC §5): consecutive fills of one (exchange, symbol) with the same ts
and side merge; the order is judged once, when it closes, against `value ≥ threshold`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gme_tui.engine import Engine, EngineConfig, scans_in, whales_in
from gme_tui.engine.whales import WhaleTracker
from gme_tui.model import Scan, Trade, Whale

MIN = 60_000
BASE = 29_425_520 * MIN
TS = BASE + 7_000


def buy(ts: int, price: float, amount: float, *, exchange: str = "binance", symbol: str = "BTC/USDT", id=None) -> Trade:
    return Trade(exchange, symbol, ts, "buy", price, amount, id)


def sell(
    ts: int, price: float, amount: float, *, exchange: str = "binance", symbol: str = "BTC/USDT", id=None
) -> Trade:
    return Trade(exchange, symbol, ts, "sell", price, amount, id)


def engine(**kwargs) -> Engine:
    return Engine(EngineConfig(**kwargs))


def test_exactly_the_threshold_is_a_whale() -> None:
    e = engine()
    assert e.add_trade(buy(TS, 100_000.0, 2.0)) == []  # still open
    whales = whales_in(e.finish())
    assert whales == [
        Whale(
            ts=TS,
            exchange="binance",
            symbol="BTC/USDT",
            side="buy",
            price=100_000.0,
            amount=2.0,
            value=200_000.0,
            fills=1,
        )
    ]
    assert e.stats.whales == 1


def test_a_cent_below_the_threshold_is_not() -> None:
    e = engine()
    e.add_trade(sell(TS, 199_999.99, 1.0))
    assert whales_in(e.finish()) == []
    assert e.stats.whales == 0


def test_three_fills_of_one_order_merge_and_report_once_when_closed() -> None:
    e = engine()
    fills = [buy(TS, 50_000.0, 1.5), buy(TS, 50_400.0, 1.25), buy(TS, 50_800.0, 1.25)]  # 75,000 + 63,000 + 63,500
    for fill in fills:
        assert whales_in(e.add_trade(fill)) == []
    closing = e.add_trade(buy(TS + 1, 50_000.0, 0.5))  # next fill of the pair, another ts
    assert whales_in(closing) == [
        Whale(
            ts=TS,
            exchange="binance",
            symbol="BTC/USDT",
            side="buy",
            price=50_375.0,
            amount=4.0,
            value=201_500.0,
            fills=3,
        )
    ]
    assert whales_in(e.add_trade(buy(TS + 2, 50_000.0, 0.5))) == []
    assert whales_in(e.finish()) == []  # never again
    assert e.stats.whales == 1


def test_merged_order_closed_by_finish() -> None:
    e = engine()
    e.add_trade(sell(TS, 40_000.0, 2.5))
    e.add_trade(sell(TS, 40_000.0, 2.5))
    (whale,) = whales_in(e.finish())
    assert (whale.side, whale.value, whale.amount, whale.price, whale.fills) == ("sell", 200_000.0, 5.0, 40_000.0, 2)
    assert whales_in(e.finish()) == []


def test_fills_interleaved_with_other_pairs_still_merge() -> None:
    e = engine()
    e.add_trade(buy(TS, 50_000.0, 2.0))
    e.add_trade(sell(TS + 5, 3_000.0, 1.0, symbol="ETH/USDT"))  # same exchange, other symbol
    e.add_trade(buy(TS + 5, 50_000.0, 1.0, exchange="okx"))  # same symbol, other exchange
    e.add_trade(buy(TS, 50_000.0, 2.0))
    (whale,) = whales_in(e.finish())
    assert (whale.exchange, whale.symbol, whale.value, whale.fills) == ("binance", "BTC/USDT", 200_000.0, 2)


def test_other_side_at_the_same_ts_closes_the_order() -> None:
    e = engine()
    e.add_trade(buy(TS, 50_000.0, 2.0))
    e.add_trade(buy(TS, 50_000.0, 2.0))
    closed = whales_in(e.add_trade(sell(TS, 50_000.0, 4.0)))
    assert [(w.side, w.value, w.fills) for w in closed] == [("buy", 200_000.0, 2)]
    assert [(w.side, w.value, w.fills) for w in whales_in(e.finish())] == [("sell", 200_000.0, 1)]


def test_same_ts_again_after_another_ts_is_another_order() -> None:
    e = engine()
    e.add_trade(buy(TS, 50_000.0, 2.0))
    e.add_trade(buy(TS + 1, 50_000.0, 1.0))
    e.add_trade(buy(TS, 50_000.0, 2.0))  # not consecutive with the first: 100,000 each
    assert whales_in(e.finish()) == []


def test_duplicate_fill_is_not_merged_twice() -> None:
    e = engine()
    e.add_trade(buy(TS, 50_000.0, 2.0, id="1"))
    e.add_trade(buy(TS, 50_000.0, 2.0, id="1"))  # re-sent: skipped
    assert whales_in(e.finish()) == []
    assert e.stats.duplicates == 1


def test_whales_are_reported_during_warm_up_and_before_the_scan_they_precede() -> None:
    e = engine()  # window 50, warm-up on: no scan reported for 50 minutes
    e.add_trade(buy(TS, 100_000.0, 2.0))
    events = e.add_trade(buy(BASE + MIN + 1, 10.0, 1.0))  # next minute: closes the order
    assert [type(x) for x in events] == [Whale]
    assert scans_in(e.finish()) == []


def test_whale_event_comes_before_the_scans_its_closing_fill_triggers() -> None:
    e = engine(window_minutes=1, warmup=False)
    e.add_trade(buy(TS, 100_000.0, 2.0))
    events = e.add_trade(buy(BASE + 3 * MIN, 10.0, 1.0))
    assert [type(x) for x in events] == [Whale, Scan, Scan, Scan]
    assert events[0].ts < events[1].ts


def test_disabled_exchange_is_never_a_whale() -> None:
    e = engine(exchanges=("binance", "okx"))
    e.add_trade(buy(TS, 1_000_000.0, 1.0, exchange="coinbase"))
    assert whales_in(e.finish()) == []
    assert e.stats.ignored == 1


def test_custom_threshold() -> None:
    e = engine(whale_threshold=1_000.0)
    e.add_trade(buy(TS, 500.0, 2.0))
    assert [w.value for w in whales_in(e.finish())] == [1_000.0]


def test_live_quiet_close_reports_once() -> None:
    e = engine(clock="external", warmup=False, whale_quiet_ms=1_500)
    e.add_trade(buy(TS, 100_000.0, 1.0))
    e.add_trade(buy(TS, 100_000.0, 1.0))
    assert whales_in(e.advance(TS + 1_499)) == []
    assert e.open_whale_orders() == 1
    (whale,) = whales_in(e.advance(TS + 1_500))
    assert (whale.value, whale.fills) == (200_000.0, 2)
    assert e.open_whale_orders() == 0
    assert whales_in(e.advance(TS + 60_000)) == []
    assert e.stats.whales == 1


def test_quiet_close_leaves_younger_orders_open() -> None:
    e = engine(clock="external", warmup=False, whale_quiet_ms=1_500)
    e.add_trade(buy(TS, 250_000.0, 1.0))
    e.add_trade(buy(TS + 1_000, 300_000.0, 1.0, exchange="okx"))
    assert [w.exchange for w in whales_in(e.advance(TS + 2_000))] == ["binance"]
    assert [w.exchange for w in whales_in(e.advance(TS + 2_500))] == ["okx"]


def test_tracker_alone() -> None:
    tracker = WhaleTracker(200_000.0)
    assert tracker.add("bybit", "X/USDT", 5, "sell", 1.0, 199_999.99) is None
    assert tracker.add("bybit", "X/USDT", 6, "sell", 2.0, 200_000.0) is None  # closed the first: too small
    whale = tracker.add("bybit", "X/USDT", 7, "sell", 1.0, 1.0)
    assert whale == Whale(
        ts=6, exchange="bybit", symbol="X/USDT", side="sell", price=100_000.0, amount=2.0, value=200_000.0, fills=1
    )
    assert tracker.close_all() == []
    assert tracker.close_all() == []


# ---------------------------------------------------------------- whales of backfilled minutes


def test_past_trades_merge_into_backfilled_whales_and_skip_what_streamed() -> None:
    from gme_tui.model import PastTrades

    e = engine(clock="external", warmup=False)
    e.add_trade(buy(TS + 5_000, 150_000.0, 2.0, id="s1"))  # the stream already delivered this order
    past = PastTrades(
        "binance",
        "BTC/USDT",
        (
            buy(TS, 100_000.0, 1.0, id="h1"),
            buy(TS, 100_000.0, 0.5, id="h2"),
            buy(TS, 100_000.0, 0.5, id="h3"),  # three fills of one taker order: 200,000
            buy(TS + 5_000, 150_000.0, 2.0, id="s1"),  # streamed: skipped, not a second whale
            buy(TS + 9_000, 50_000.0, 1.0, id="h4"),
        ),
    )
    (whale,) = whales_in(e.feed(past))
    assert (whale.ts, whale.value, whale.amount, whale.fills, whale.backfilled) == (TS, 200_000.0, 2.0, 3, True)
    assert e.open_whale_orders() == 1  # the stream's own open order is untouched


def test_past_trades_of_a_disabled_exchange_are_ignored() -> None:
    from gme_tui.model import PastTrades

    e = engine(exchanges=("okx",))
    assert e.feed(PastTrades("binance", "BTC/USDT", (buy(TS, 300_000.0, 1.0),))) == []


# ---------------------------------------------------------------- the two holders of the rule

fill = st.tuples(
    st.sampled_from([("binance", "BTC/USDT"), ("okx", "BTC/USDT"), ("binance", "ETH/USDT")]),
    st.integers(0, 3),  # ts step: 0 merges with the pair's previous fill when the side matches
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 300_000),  # value
)


@settings(max_examples=200, deadline=None)
@given(st.lists(fill, max_size=40), st.sampled_from([1.0, 150_000.0, 200_000.0]))
def test_the_streams_orders_on_pairs_and_the_tracker_find_the_same_whales(fills, threshold) -> None:
    """The stream's open orders live on the engine's pairs (merged inline); WhaleTracker merges
    past trades: over any run of fills both must report the same whales, in the same order."""
    e = engine(whale_threshold=threshold)
    tracker = WhaleTracker(threshold)
    ts = TS
    for (exchange, symbol), step, side, value in fills:
        ts += step
        trade = Trade(exchange, symbol, ts, side, float(value), 1.0)
        found = whales_in(e.add_trade(trade))
        whale = tracker.add(exchange, symbol, ts, side, 1.0, float(value))
        assert found == ([] if whale is None else [whale])
    assert whales_in(e.finish()) == tracker.close_all()
    assert e.open_whale_orders() == 0


def test_an_exchange_switched_off_takes_its_open_order_with_its_minutes() -> None:
    """Reconfigure drops a disabled exchange's pairs at once (issue 13), their open orders too: a
    whale of an exchange the trader just switched off is never reported later."""
    e = engine(whale_threshold=1_000.0)
    e.add_trade(buy(TS, 1_000.0, 2.0, exchange="okx"))
    e.add_trade(buy(TS, 1_000.0, 2.0))
    e.reconfigure(EngineConfig(exchanges=("binance", "bybit", "coinbase"), whale_threshold=1_000.0))
    assert [w.exchange for w in whales_in(e.finish())] == ["binance"]
