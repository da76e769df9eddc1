"""The Engine's clock, dedupe, late trades, buckets, participation, coverage and memory (SPEC §2, §6, §8).

Times are built from BASE, a minute boundary; `at(m, s)` is second s of minute BASE + m.
"""

from __future__ import annotations

import random

import pytest

from gme_tui.engine import Engine, EngineConfig, RuleConfig, scans_in, whales_in
from gme_tui.model import ClosedMinutes, Coverage, Listings, MinuteBucket, Scan, SymbolScan, Trade

MIN = 60_000
M0 = 29_425_520  # a minute number
BASE = M0 * MIN
BTC = "BTC/USDT"


def at(minute: int, second: float = 0.0) -> int:
    return BASE + minute * MIN + int(second * 1000)


def trade(
    minute: int,
    second: float,
    side: str = "buy",
    value: float = 100.0,
    *,
    exchange: str = "binance",
    symbol: str = BTC,
    id: str | None = None,
) -> Trade:
    return Trade(exchange, symbol, at(minute, second), side, value, 1.0, id)  # amount 1: value = price


def small(window: int = 2, **kwargs) -> Engine:
    return Engine(EngineConfig(window_minutes=window, warmup=False, **kwargs))


def only(scan: Scan, symbol: str = BTC) -> SymbolScan:
    (item,) = [s for s in scan.symbols if s.consensus.symbol == symbol]
    return item


def flow(scan: Scan, exchange: str = "binance", symbol: str = BTC) -> float:
    return only(scan, symbol).consensus.flows[exchange]


# ---------------------------------------------------------------- dedupe


def test_duplicate_id_is_skipped_counted_and_moves_nothing() -> None:
    e = small()
    e.add_trade(trade(0, 1, value=300.0, id="5"))
    assert e.data_time == at(0, 1)
    # the same id again, even stamped later than the next boundary: no data time, no scan
    assert e.add_trade(trade(1, 30, value=300.0, id="5")) == []
    assert e.add_trade(trade(0, 1, value=300.0, id="5")) == []
    assert e.data_time == at(0, 1)
    assert (e.stats.duplicates, e.stats.trades, e.stats.scans) == (2, 1, 0)
    (scan,) = scans_in(e.finish())
    assert scan.ts == at(1)
    assert flow(scan) == 300.0
    assert only(scan).exchanges["binance"].trades == 1


def test_ids_are_per_exchange_and_symbol_and_missing_ids_never_dedupe() -> None:
    e = small()
    e.add_trade(trade(0, 1, id="5"))
    e.add_trade(trade(0, 1, id="5", exchange="okx"))
    e.add_trade(trade(0, 1, id="5", symbol="ETH/USDT"))
    e.add_trade(trade(0, 2))
    e.add_trade(trade(0, 2))
    assert (e.stats.duplicates, e.stats.trades) == (0, 5)
    (scan,) = scans_in(e.finish())
    assert flow(scan) == 300.0
    assert flow(scan, "okx") == 100.0
    assert flow(scan, symbol="ETH/USDT") == 100.0


# ---------------------------------------------------------------- data clock


def test_out_of_order_trades_inside_a_minute_give_the_same_sums() -> None:
    trades = [
        trade(0, s, side, v)
        for s, side, v in [
            (1, "buy", 250.0),
            (5, "sell", 75.5),
            (9, "buy", 1_024.0),
            (30, "sell", 0.25),
            (59, "buy", 3.0),
        ]
    ]
    results = []
    for seed in range(3):
        shuffled = trades[:]
        random.Random(seed).shuffle(shuffled)
        e = small()
        e.feed_many(shuffled)
        assert e.data_time == at(0, 59)
        (scan,) = scans_in(e.finish())
        window = only(scan).exchanges["binance"]
        results.append((window.buy, window.sell, window.net, window.trades))
    assert results == [(1_277.0, 75.75, 1_201.25, 5)] * 3


def test_every_boundary_is_scanned_in_order_including_empty_minutes() -> None:
    e = small(window=2)
    e.add_trade(trade(0, 10, value=100.0))
    events = e.add_trade(trade(5, 0, value=7.0))  # ts exactly on a boundary: that boundary is scanned first
    scans = scans_in(events)
    assert [s.ts for s in scans] == [at(1), at(2), at(3), at(4), at(5)]
    assert [flow(s) for s in scans] == [100.0, 100.0, 0.0, 0.0, 0.0]
    assert only(scans[1]).exchanges["binance"].minute_nets == (100.0, 0.0)
    (last,) = scans_in(e.finish())
    assert last.ts == at(6)  # (data_time // 60000 + 1) * 60000
    assert flow(last) == 7.0
    assert e.stats.scans == 6


def test_final_scan_when_data_time_sits_on_a_boundary_or_just_before() -> None:
    e = small()
    e.add_trade(trade(3, 0))
    assert [s.ts for s in scans_in(e.finish())] == [at(4)]
    assert e.finish() == []  # nothing more
    e = small()
    e.add_trade(Trade("binance", BTC, at(4) - 1, "buy", 1.0, 1.0))
    assert [s.ts for s in scans_in(e.finish())] == [at(4)]


def test_warm_up_reports_the_first_scan_exactly_at_t0_plus_window() -> None:
    e = Engine(EngineConfig())  # window 50, warm-up on
    reported: list[int] = []
    e.add_trade(trade(0, 42))  # T0 = BASE
    e.add_trade(trade(-3, 0))  # older ts later in the file: T0 stays the first trade's minute
    for minute in range(1, 53):
        reported += [s.ts for s in scans_in(e.add_trade(trade(minute, 1)))]
    reported += [s.ts for s in scans_in(e.finish())]
    assert reported == [at(50), at(51), at(52), at(53)]
    assert e.stats.scans == 4


def test_warm_up_t0_counts_a_bucket_line() -> None:
    e = Engine(EngineConfig(window_minutes=3))
    e.add_bucket(MinuteBucket("binance", BTC, M0, 10.0, 4.0))
    e.add_trade(trade(2, 0))
    scans = scans_in(e.add_trade(trade(3, 30)))
    assert [s.ts for s in scans] == [at(3)]
    assert flow(scans[0]) == 106.0


# ---------------------------------------------------------------- late trades


def test_late_trade_still_kept_lands_and_later_windows_see_it() -> None:
    e = small(window=3, keep_extra_minutes=1)
    for minute in range(6):
        e.add_trade(trade(minute, 0, value=1.0))
    assert e.last_scan is not None and e.last_scan.ts == at(5)  # window minutes 2..4, kept from 1
    e.add_trade(trade(4, 30, value=1_000.0))  # a minute before the last scan, in later windows
    e.add_trade(trade(1, 30, value=2_000.0))  # the oldest kept minute: lands, outside later windows
    e.add_trade(trade(0, 30, value=4_000.0))  # older than kept: dropped
    assert (e.stats.late, e.stats.trades) == (1, 8)
    pair = e._pairs[("binance", BTC)]
    assert pair.minutes[M0 + 1][0] == 2_001.0 and M0 not in pair.minutes
    scans = scans_in(e.add_trade(trade(7, 0, value=1.0)))
    assert [(s.ts, flow(s)) for s in scans] == [(at(6), 1_003.0), (at(7), 1_002.0)]


def test_late_bucket_is_dropped_too() -> None:
    e = small(window=1, keep_extra_minutes=0)
    e.add_trade(trade(0, 0))
    e.add_trade(trade(3, 0))  # last scan at minute 3: kept from minute 2
    assert e.add_bucket(MinuteBucket("okx", BTC, M0 + 1, 5.0, 0.0)) == []
    assert (e.stats.late, e.stats.buckets) == (1, 0)


# ---------------------------------------------------------------- buckets


def test_bucket_counts_like_trades_and_its_duplicate_is_skipped() -> None:
    e = small(window=2)
    e.add_bucket(MinuteBucket("binance", BTC, M0, buy=300.0, sell=100.0, count=7))
    assert e.data_time == BASE
    e.add_trade(trade(0, 30, "sell", 50.0))
    assert e.add_bucket(MinuteBucket("binance", BTC, M0, buy=999.0, sell=0.0, count=1)) == []
    e.add_bucket(MinuteBucket("okx", BTC, M0, buy=0.0, sell=100.0))  # another exchange: not a duplicate
    assert (e.stats.buckets, e.stats.duplicates, e.stats.trades) == (2, 1, 1)
    scans = scans_in(e.add_bucket(MinuteBucket("binance", BTC, M0 + 1, buy=1.0, sell=0.0)))
    assert [s.ts for s in scans] == [at(1)]  # the bucket is a trade at minute * 60000: the boundary ran
    window = only(scans[0]).exchanges["binance"]
    assert (window.buy, window.sell, window.net, window.trades) == (300.0, 150.0, 150.0, 8)
    assert flow(scans[0], "okx") == -100.0


def test_bucket_replace_supersedes_the_stream_minute() -> None:
    e = small(window=1, clock="external")
    e.add_trade(trade(0, 5, value=40.0))
    e.add_bucket(MinuteBucket("binance", BTC, M0, buy=70.0, sell=20.0, count=3), replace=True)
    e.advance(at(0, 30))
    (scan,) = scans_in(e.advance(at(1)))
    assert flow(scan) == 50.0


# ---------------------------------------------------------------- participation


def test_disabled_exchange_is_ignored_entirely() -> None:
    e = small(exchanges=("binance", "okx", "bybit"))
    e.feed(Listings({BTC: ("binance", "coinbase"), "XRP/USDT": ("coinbase",)}))
    e.add_trade(trade(0, 1))
    assert e.add_trade(trade(9, 0, exchange="coinbase", id="x")) == []  # no scan, no data time
    assert e.add_bucket(MinuteBucket("coinbase", BTC, M0 + 9, 1.0, 0.0)) == []
    assert e.data_time == at(0, 1)
    assert (e.stats.ignored, e.stats.trades) == (2, 1)
    (scan,) = scans_in(e.finish())
    assert [s.consensus.symbol for s in scan.symbols] == [BTC]  # XRP has no participant left
    assert set(only(scan).consensus.flows) == {"binance"}


def test_listings_participate_from_the_start_with_zero_flow() -> None:
    e = small(rules=RuleConfig(quorum=4))
    e.feed(Listings({BTC: ("binance", "okx", "bybit", "coinbase"), "DOGE/USDT": ("okx",)}))
    e.add_trade(trade(0, 1, value=2_000.0))
    (scan,) = scans_in(e.finish())
    assert [s.consensus.symbol for s in scan.symbols] == [BTC, "DOGE/USDT"]
    assert only(scan).consensus.flows == {"binance": 2_000.0, "okx": 0.0, "bybit": 0.0, "coinbase": 0.0}
    assert only(scan, "DOGE/USDT").consensus.flows == {"okx": 0.0}
    assert only(scan, "DOGE/USDT").consensus.level == "mixed"


def test_an_exchange_participates_from_its_first_trade_listed_or_not() -> None:
    e = small(window=1)
    e.feed(Listings({BTC: ("binance",)}))
    e.add_trade(trade(0, 1))
    scans = scans_in(e.add_trade(trade(1, 1, exchange="bybit", value=5.0)) + e.finish())
    assert [set(only(s).consensus.flows) for s in scans] == [{"binance"}, {"binance", "bybit"}]


# ---------------------------------------------------------------- live: external clock, coverage


def test_external_clock_scans_after_the_grace_and_late_trades_land_first() -> None:
    e = Engine(EngineConfig(window_minutes=2, clock="external", warmup=False))
    # The first call scans the boundary just passed at once (live numbers show from the start).
    assert [s.ts for s in scans_in(e.advance(at(0, 10), scan_grace_ms=2_000))] == [at(0)]
    e.add_trade(trade(0, 20, value=100.0))
    assert scans_in(e.advance(at(1) + 1_999, scan_grace_ms=2_000)) == []
    e.add_trade(trade(0, 59.5, value=30.0))  # arrives inside the grace: counted in the scan at minute 1
    e.add_trade(trade(1, 1, value=5_000.0))  # next minute's: not in it
    (scan,) = scans_in(e.advance(at(1) + 2_000, scan_grace_ms=2_000))
    assert (scan.ts, flow(scan)) == (at(1), 130.0)
    assert e.data_time is None  # the data clock is off
    scans = scans_in(e.advance(at(4) + 2_000, scan_grace_ms=2_000))
    assert [(s.ts, flow(s)) for s in scans] == [(at(2), 5_130.0), (at(3), 5_000.0), (at(4), 0.0)]
    assert scans_in(e.advance(at(4) + 3_000, scan_grace_ms=2_000)) == []


def test_coverage_counts_only_covered_minutes_inside_the_window() -> None:
    e = Engine(EngineConfig(window_minutes=5, clock="external", warmup=False, track_coverage=True))
    e.advance(at(0, 30))
    e.feed(Listings({BTC: ("binance", "coinbase")}))  # coverage alone does not make a participant
    e.feed(Coverage("binance", BTC, M0 - 20, M0 + 3))  # backfilled and streamed: minutes 1..3 of the window
    e.feed(Coverage("bybit", BTC, M0 + 2, M0 + 2))
    e.add_bucket(MinuteBucket("bybit", BTC, M0 + 3, 1.0, 0.0))  # a bucket is covered too
    e.add_trade(trade(1, 0, exchange="okx"))  # streamed but never reported as covered
    e.feed(Coverage("coinbase", BTC, M0 + 6, M0 + 9))  # after the window
    scans = scans_in(e.advance(at(4)))
    assert [s.ts for s in scans] == [at(1), at(2), at(3), at(4)]
    scan = scans[-1]  # window: minutes -1..3
    item = only(scan)
    assert item.consensus.coverage == {"binance": 5, "okx": 0, "bybit": 2, "coinbase": 0}
    assert item.exchanges["binance"].covered_minutes == 5
    assert item.consensus.window_minutes == 5


def test_coverage_is_none_when_not_tracked() -> None:
    e = small()
    e.add_trade(trade(0, 1))
    (scan,) = scans_in(e.finish())
    assert only(scan).consensus.coverage is None
    assert only(scan).exchanges["binance"].covered_minutes is None


def test_a_huge_coverage_range_does_not_blow_memory() -> None:
    e = Engine(EngineConfig(window_minutes=50, keep_extra_minutes=10, clock="external", track_coverage=True))
    e.feed(Coverage("binance", BTC, 0, M0))  # from 1970: must not become 29 million minutes
    assert len(e._pairs[("binance", BTC)].covered) <= 61


# ---------------------------------------------------------------- memory bound


def test_memory_holds_only_window_plus_margin_after_hours_of_data() -> None:
    e = Engine(EngineConfig())  # window 50, keep 10 extra
    hours = 6
    for index in range(hours * 60 * 4):  # a trade every 15 s on two exchanges
        ts_second = index * 15
        for exchange in ("binance", "okx"):
            e.add_trade(trade(0, ts_second, value=1.0, exchange=exchange, id=f"{exchange}-{index}"))
        if index % 240 == 0:
            for pair in e._pairs.values():
                assert len(pair.minutes) <= 50 + 10 + 1 and len(pair.ids) <= (50 + 10 + 1) * 4
    e.finish()
    for pair in e._pairs.values():
        assert len(pair.minutes) == 60
        assert sorted(pair.minutes) == list(range(M0 + hours * 60 - 60, M0 + hours * 60))
        assert len(pair.ids) == 60 * 4 and len(pair.ids_by_minute) == 60
    assert e.stats.trades == hours * 60 * 4 * 2
    assert e.stats.scans == hours * 60 - 50 + 1


# ---------------------------------------------------------------- the scan's other figures


def test_window_figures_price_change_and_volume() -> None:
    e = small(window=2)
    e.add_trade(trade(0, 1, "buy", 100.0))
    e.add_trade(trade(0, 50, "sell", 80.0))
    e.add_trade(trade(1, 10, "sell", 120.0, exchange="okx"))
    e.add_trade(trade(1, 20, "buy", 125.0))
    scans = scans_in(e.finish())
    item = only(scans[-1])
    assert item.exchanges["binance"].minute_nets == (20.0, 125.0)
    assert item.exchanges["binance"].ratio == 225.0 / 80.0
    assert item.exchanges["okx"].ratio == 0.0
    assert item.price == 125.0  # last price on the first participating exchange, display order
    assert item.price_change == 125.0 / 80.0 - 1  # from the first minute's close
    assert item.volume == 100.0 + 80.0 + 120.0 + 125.0


def test_feed_rejects_what_is_not_a_source_item() -> None:
    with pytest.raises(TypeError):
        small().feed("not a trade")  # type: ignore[arg-type]


def test_feed_many_concatenates_events() -> None:
    e = small(window=1)
    events = e.feed_many([trade(0, 1, value=300_000.0), trade(1, 1), trade(2, 1)])
    assert [type(x).__name__ for x in events] == ["Whale", "Scan", "Scan"]
    assert len(whales_in(events)) == 1 and len(scans_in(events)) == 2


# ---------------------------------------------------------------- configuration from settings


def test_config_from_settings_quorum_follows_the_enabled_exchanges() -> None:
    import msgspec

    from gme_tui.settings import ExchangeSettings, Settings

    defaults = Settings()
    three = msgspec.structs.replace(
        defaults, exchanges={**defaults.exchanges, "coinbase": ExchangeSettings(enabled=False)}
    )
    live = EngineConfig.from_settings(three, live=True)
    assert live.exchanges == ("binance", "okx", "bybit")
    assert live.rule_config == RuleConfig(quorum=3)
    assert (live.clock, live.warmup, live.track_coverage) == ("external", False, True)
    replay = EngineConfig.from_settings(defaults, live=False)
    assert replay.rule_config.quorum == 4
    assert (replay.clock, replay.warmup, replay.track_coverage) == ("data", True, False)
    assert (replay.window_minutes, replay.keep_extra_minutes, replay.whale_threshold) == (50, 10, 200_000.0)
    assert EngineConfig(exchanges=("okx", "bybit")).rule_config.quorum == 2


# ---------------------------------------------------------------- closed minutes for the store


def _closed(events) -> list[list[tuple[str, int, float, float, bool]]]:
    return [
        [(b.exchange, b.minute - M0, b.buy, b.sell, b.covered) for b in e.buckets]
        for e in events
        if isinstance(e, ClosedMinutes)
    ]


def test_closed_minutes_hand_out_each_minute_once_and_late_changes_again() -> None:
    e = Engine(EngineConfig(window_minutes=2, warmup=False, emit_minutes=True))
    events = e.add_trade(trade(0, 1, value=10.0))
    events += e.add_trade(trade(1, 1, "sell", 10.0, exchange="okx"))
    events += e.add_trade(trade(0, 2, "sell", 20.0))  # late: minute 0 was already handed out
    events += e.add_trade(trade(2, 1, "sell", 10.0, exchange="okx"))
    events += e.finish()
    assert _closed(events) == [
        [("binance", 0, 10.0, 0.0, False)],
        [("binance", 0, 10.0, 20.0, False), ("okx", 1, 0.0, 10.0, False)],
        [("okx", 2, 0.0, 10.0, False)],
    ]


def test_the_first_hand_out_includes_a_backfill_fed_before_it() -> None:
    e = Engine(EngineConfig(window_minutes=3, clock="external", warmup=False, track_coverage=True, emit_minutes=True))
    for minute in range(-3, 0):
        e.add_bucket(MinuteBucket("okx", BTC, M0 + minute, 5.0, 1.0))
    e.cover(Coverage("binance", BTC, M0 - 3, M0 - 1))  # covered, nothing traded: zero minutes
    (closed,) = _closed(e.advance(at(0, 3), scan_grace_ms=2_000))
    assert closed == [("binance", m, 0.0, 0.0, True) for m in (-3, -2, -1)] + [
        ("okx", m, 5.0, 1.0, True) for m in (-3, -2, -1)
    ]
    assert _closed(e.advance(at(1, 3), scan_grace_ms=2_000)) == [[]]  # nothing is known of minute 0


def test_reconfigure_keeps_emitting_minutes() -> None:
    e = Engine(EngineConfig(window_minutes=2, warmup=False, emit_minutes=True))
    e.reconfigure(EngineConfig(window_minutes=3))
    assert e.config.emit_minutes and e.config.window_minutes == 3
    e.add_trade(trade(0, 1))
    assert _closed(e.add_trade(trade(1, 1))) == [[("binance", 0, 100.0, 0.0, False)]]
