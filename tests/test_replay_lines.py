"""Every bad line skipped whatever its shape (issue 12 item 6, SPEC §6 and §8): arrays and objects
where strings belong, far-past trades in the first data minute, duplicates that must not move data
time, non-finite values, a BOM before the meta line."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import MINUTE_MS, Liquidation, Listings, MinuteBucket, OpenInterest, PerpTrade, Scan, Trade
from gme_tui.sources.replay import BOM, BadLine, LineParser, ReplaySource

T = 29_425_500 * MINUTE_MS  # a minute-aligned ts
HOUR = 60 * MINUTE_MS
GOOD = {"ts": T + 1_000, "exchange": "binance", "symbol": "BTC/USDT", "side": "buy", "price": 100.0, "amount": 2.0}


def line(obj: object) -> bytes:
    return json.dumps(obj).encode()


def bad_reason(obj: object, parser: LineParser | None = None) -> str:
    parser = parser or LineParser()
    with pytest.raises(BadLine) as caught:
        parser.parse(obj if isinstance(obj, bytes) else line(obj))
    return str(caught.value)


def replay(
    tmp_path: Path, rows: list[object], *, window: int = 50, name: str = "t.jsonl"
) -> tuple[ReplaySource, Engine, list]:
    path = tmp_path / name
    path.write_bytes(b"\n".join(r if isinstance(r, bytes) else line(r) for r in rows) + b"\n")
    source = ReplaySource(path, window_minutes=window)
    engine = Engine(EngineConfig(window_minutes=window, rules=RuleConfig(quorum=1)))
    events = []
    for chunk in source.chunks():
        events += engine.feed_many(chunk)
    events += engine.finish()
    return source, engine, events


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"exchange": []}, "exchange is not one of binance, okx, bybit, coinbase"),
        ({"exchange": {"a": 1}}, "exchange is not one of binance, okx, bybit, coinbase"),
        ({"exchange": None}, "exchange is not one of binance, okx, bybit, coinbase"),
        ({"side": []}, "side is not buy or sell"),
        ({"side": {"buy": 1}}, "side is not buy or sell"),
        ({"symbol": []}, "symbol is not a non-empty string"),
        ({"symbol": {"a": "b"}}, "symbol is not a non-empty string"),
        ({"type": []}, "unknown type []"),
        ({"type": {"a": 1}}, "unknown type {'a': 1}"),
        ({"id": []}, "id is not a string or an integer"),
        ({"id": {"a": 1}}, "id is not a string or an integer"),
        ({"price": []}, "price is not a number"),
        ({"amount": {"a": 1}}, "amount is not a number"),
        ({"ts": []}, "ts is not an integer"),
    ],
)
def test_arrays_and_objects_where_a_value_belongs_are_bad_lines(change, reason):
    for parser in (LineParser(), _after_one_trade()):  # the first line and the fast path after it
        assert bad_reason(GOOD | change, parser) == reason


def _after_one_trade() -> LineParser:
    parser = LineParser()
    parser.parse(line(GOOD | {"ts": T}))
    return parser


def test_a_line_of_only_an_array_exchange_is_a_bad_line():
    assert bad_reason({"exchange": []}) == "exchange is not one of binance, okx, bybit, coinbase"


@pytest.mark.parametrize(
    "listings",
    [
        {"BTC/USDT": [["binance"]]},
        {"BTC/USDT": [{"binance": 1}]},
        {"BTC/USDT": [1, 2]},
        {"BTC/USDT": [None]},
        {"BTC/USDT": "binance"},
        {"": ["binance"]},
    ],
)
def test_meta_listings_whose_entries_are_not_exchange_ids_are_bad_lines(listings):
    assert bad_reason({"type": "meta", "listings": listings}).endswith("is not a list of exchange ids")


def test_a_meta_line_after_only_bad_and_blank_lines_is_still_the_first():
    parser = LineParser()
    with pytest.raises(BadLine):
        parser.parse(b'{"exchange": []}')
    assert parser.parse(b"  ") is None
    assert parser.parse(line({"type": "meta", "listings": {"X": ["okx"]}})) == Listings({"X": ("okx",)})
    assert bad_reason({"type": "meta", "listings": {}}, parser) == "meta line that is not the first line"


def test_a_price_times_amount_that_overflows_is_a_bad_line():
    reason = "price × amount is not finite"
    assert bad_reason(GOOD | {"price": 1e308, "amount": 10.0}) == reason
    assert bad_reason(GOOD | {"price": 1e308, "amount": 10}, _after_one_trade()) == reason
    assert LineParser().parse(line(GOOD | {"price": 1e308, "amount": 1.0})) is not None  # finite: fine


def test_numbers_too_large_for_a_float_are_bad_lines():
    parser = _after_one_trade()
    huge = "1" + "0" * 400  # a JSON integer past the float range
    assert bad_reason(line(GOOD)[:-1] + b', "price": ' + huge.encode() + b"}", parser)
    assert bad_reason(b'{"type": "bucket", "exchange": "okx", "symbol": "X", "minute": 1, "buy": 1e400, "sell": 1}')


def test_an_integer_id_of_any_size_is_a_string_or_a_bad_line():
    parser = _after_one_trade()
    item = parser.parse(line(GOOD | {"id": 10**30}))
    assert isinstance(item, Trade) and item.id == str(10**30)
    parser.parse(line(GOOD | {"id": "x"}))
    with pytest.raises(BadLine):
        parser.parse(line(GOOD)[:-1] + b', "id": ' + b"9" * 5_000 + b"}")


# ---------------------------------------------------------------- the BOM


def test_a_bom_before_the_meta_line_is_allowed(tmp_path):
    meta = {"type": "meta", "listings": {"BTC/USDT": ["binance", "okx"]}}
    for name, write in (("bom.jsonl", Path.write_bytes), ("bom.jsonl.gz", None)):
        body = BOM + line(meta) + b"\n" + line(GOOD) + b"\n"
        path = tmp_path / name
        if write is None:
            path.write_bytes(gzip.compress(body))
        else:
            write(path, body)
        source = ReplaySource(path)
        items = list(source.items())
        assert items[0] == Listings({"BTC/USDT": ("binance", "okx")})
        assert isinstance(items[1], Trade) and not source.summary().bad


def test_a_bom_before_a_first_trade_line_is_allowed_but_not_later():
    parser = LineParser()
    assert isinstance(parser.parse(BOM + line(GOOD)), Trade)
    assert bad_reason(BOM + line(GOOD | {"ts": T + 2_000}), parser) == "not valid JSON"


# ---------------------------------------------------------------- far in the past


@pytest.mark.parametrize("ts", [0, -(10**15), -(10**30), T - 2 * HOUR])
def test_a_far_past_trade_in_the_first_minute_is_late_and_memory_stays_bounded(tmp_path, ts):
    rows: list[object] = [GOOD | {"ts": T + 5_000}, GOOD | {"ts": ts, "id": "old"}, GOOD | {"ts": T + 70_000}]
    tracemalloc.start()
    try:
        source, engine, _ = replay(tmp_path, rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # was 1.39 GB for ts 0, a MemoryError for -10^15
    assert source.summary().late == 1 and source.summary().bad == {}
    assert engine.stats.trades == 2 and engine.stats.late == 0


@pytest.mark.parametrize("ts", [0, -(10**15)])
def test_without_the_window_the_source_still_bounds_memory(tmp_path, ts):
    """A source not told the engine's window keeps a day of minutes: late beyond that."""
    path = tmp_path / "t.jsonl"
    path.write_bytes(line(GOOD) + b"\n" + line(GOOD | {"ts": ts}) + b"\n" + line(GOOD | {"ts": T - 2 * HOUR}) + b"\n")
    source = ReplaySource(path)
    tracemalloc.start()
    try:
        engine = Engine(EngineConfig())
        for chunk in source.chunks():
            engine.feed_many(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    assert source.summary().late == 1 and engine.stats.trades == 2  # two hours back: within the day


def test_a_late_trade_in_the_first_minute_is_dropped_as_the_first_scan_would():
    """Before any scan the kept minutes are those the first scan keeps: window + margin."""
    parser = LineParser(window_minutes=3, keep_extra_minutes=1)
    parser.parse(line(GOOD | {"ts": T + 10 * MINUTE_MS}))
    assert parser.parse(line(GOOD | {"ts": T + 6 * MINUTE_MS})) is not None  # minute 6 >= 10 - 4
    assert parser.parse(line(GOOD | {"ts": T + 6 * MINUTE_MS - 1})) is None  # minute 5: late
    assert parser.late == 1


# ---------------------------------------------------------------- duplicates and data time


def test_a_duplicate_does_not_move_data_time_nor_the_24_hour_check(tmp_path):
    rows: list[object] = [
        GOOD | {"ts": T, "id": 1},
        GOOD | {"ts": T + 23 * HOUR, "id": 1},  # a duplicate: data time stays T
        GOOD | {"ts": T + 47 * HOUR, "id": 2},  # 47 h beyond data time: a bad line
    ]
    source, engine, events = replay(tmp_path, rows)
    assert events == []
    assert source.summary().bad == {"ts more than 24 h beyond data time": 1}
    assert engine.stats.duplicates == 1 and engine.stats.trades == 1 and engine.stats.scans == 0
    assert engine.data_time == T


def test_ids_are_forgotten_with_the_minutes_the_engine_forgets(tmp_path):
    """Once the engine no longer keeps the original's minute, a re-sent id counts as new in both."""
    window = 2
    rows: list[object] = [
        GOOD | {"ts": T, "id": 7},
        GOOD | {"ts": T + 10 * MINUTE_MS, "id": 8},
        GOOD | {"ts": T + 20 * MINUTE_MS, "id": 9},  # kept: minutes >= 20 - 2 - 10; minute 0 and id 7 go
        GOOD | {"ts": T + 21 * MINUTE_MS, "id": 7},  # new again: it moves data time
    ]
    source, engine, _ = replay(tmp_path, rows, window=window)
    assert engine.stats.duplicates == 0 and engine.stats.trades == 4
    assert source._parser.data_time == engine.data_time == T + 21 * MINUTE_MS


def test_the_parser_and_the_engine_agree_on_data_time_with_duplicates(tmp_path):
    rows: list[object] = [GOOD | {"ts": T + i * 7_000, "id": i % 5} for i in range(40)]
    source, engine, _ = replay(tmp_path, rows, window=3)
    assert source._parser.data_time == engine.data_time == T + 4 * 7_000
    assert engine.stats.duplicates == 35


def test_the_per_line_and_the_batch_paths_agree():
    rows = [
        GOOD | {"ts": T + i * 13_000 - (i % 3) * 40_000, "id": i % 7, "side": "buy" if i % 2 else "sell"}
        for i in range(60)
    ]
    rows[10] = {"exchange": []}
    rows[20] = GOOD | {"price": 1e308, "amount": 10.0}
    raw = [line(r) for r in rows]
    one = LineParser(window_minutes=2, keep_extra_minutes=0)
    singles: list[object] = []
    for text in raw:
        try:
            singles.append(one.parse(text))
        except BadLine as bad:
            singles.append(str(bad))
    many = LineParser(window_minutes=2, keep_extra_minutes=0)
    rejected: list[tuple[int, str]] = []
    items = many.parse_lines(raw, 1, lambda number, reason: rejected.append((number, reason)))
    assert items == [s for s in singles if s is not None and not isinstance(s, str)]
    assert rejected == [(n, s) for n, s in enumerate(singles, start=1) if isinstance(s, str)]
    assert (one.late, one.data_time) == (many.late, many.data_time)


def test_no_scan_storm_after_a_far_past_first_trade(tmp_path):
    """A first trade at ts 0 fixes data time there; the real ones after it are > 24 h ahead."""
    rows: list[object] = [GOOD | {"ts": 0}, GOOD, GOOD | {"ts": T + 60_000}]
    source, _, events = replay(tmp_path, rows)
    assert [e for e in events if isinstance(e, Scan)] == []
    assert source.summary().bad == {"ts more than 24 h beyond data time": 2}


# ---------------------------------------------------------------- derivatives lines


def test_derivatives_lines_are_valid_but_never_spot_flow():
    """SPEC §8's perp trades and buckets, oi and liquidation lines: their own items, which reach
    the engine (its perp side), never spot flow (the full replay: test_replay_derivatives.py)."""
    parser = _after_one_trade()
    bucket = {
        "type": "bucket",
        "exchange": "okx",
        "symbol": "BTC/USDT",
        "minute": T // MINUTE_MS,
        "buy": 1.0,
        "sell": 2.0,
    }
    liquidation = {"type": "liquidation", "exchange": "bybit", "symbol": "BTC/USDT", "ts": T, "side": "long"}
    perp_lines = [
        GOOD | {"market": "perp"},
        bucket | {"market": "perp"},
        {"type": "oi", "exchange": "okx", "symbol": "BTC/USDT", "ts": T, "oi": 21254.19},
        liquidation | {"price": 41900.0, "amount": 3.0, "value": 125700.0},
    ]
    items = [parser.parse(line(row)) for row in perp_lines]
    assert items == [
        PerpTrade("binance", "BTC/USDT", T + 1_000, "buy", 100.0, 2.0),
        MinuteBucket("okx", "BTC/USDT", T // MINUTE_MS, 1.0, 2.0, market="perp"),
        OpenInterest("okx", "BTC/USDT", T, 21254.19),
        Liquidation(T, "bybit", "BTC/USDT", "long", 41900.0, 3.0, 125700.0),
    ]
    assert not any(type(item) is Trade for item in items)
    assert parser.derivatives == 4 and parser.ignored == 0
    assert isinstance(parser.parse(line(GOOD | {"market": "spot", "ts": T + 9})), Trade)
    assert bad_reason(GOOD | {"market": 5}, parser) == "market is not spot or perp"
    assert bad_reason({"type": "oi", "exchange": []}, parser).startswith("exchange is not one of")
    assert bad_reason(liquidation, parser) == "price is not a number"  # strict as spot: no price, no line
    engine = Engine(EngineConfig(rules=RuleConfig(quorum=1)))
    engine.feed_many([Trade("okx", "BTC/USDT", T, "buy", 100.0, 1.0), *items])
    stats = engine.stats
    assert (stats.trades, stats.buckets) == (1, 0)  # spot: the one spot trade only
    assert (stats.perp_trades, stats.perp_buckets, stats.oi_samples, stats.liquidations) == (1, 1, 1, 1)
