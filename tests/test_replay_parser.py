"""Replay line validation (SPEC §8), one rule at a time, and the source's pacing."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import DuplicateTrades, Listings, MinuteBucket, Trade
from gme_tui.sources.replay import YOUNG_GC_THRESHOLD, BadLine, LineParser, ReplaySource

GOOD = {
    "ts": 1765530000123,
    "exchange": "binance",
    "symbol": "BTC/USDT",
    "side": "buy",
    "price": 42150.0,
    "amount": 0.5,
    "id": "123",
}


def parse(obj, parser: LineParser | None = None):
    parser = parser or LineParser()
    return parser.parse(
        json.dumps(obj).encode()
        if not isinstance(obj, (bytes, str))
        else (obj if isinstance(obj, bytes) else obj.encode())
    )


def test_a_good_trade_line():
    assert parse(GOOD) == Trade("binance", "BTC/USDT", 1765530000123, "buy", 42150.0, 0.5, "123")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"price": "42150.0"}, "price is not a number"),
        ({"amount": True}, "amount is not a number"),
        ({"price": 0}, "price is not greater than 0"),
        ({"amount": -1.0}, "amount is not greater than 0"),
        ({"ts": 1765530000123.0}, "ts is not an integer"),
        ({"ts": "1765530000123"}, "ts is not an integer"),
        ({"ts": True}, "ts is not an integer"),
        ({"side": "BUY"}, "side is not buy or sell"),
        ({"exchange": "kraken"}, "exchange is not one of binance, okx, bybit, coinbase"),
        ({"symbol": ""}, "symbol is not a non-empty string"),
        ({"symbol": 5}, "symbol is not a non-empty string"),
        ({"id": 1.5}, "id is not a string or an integer"),
        ({"id": False}, "id is not a string or an integer"),
        ({"type": "quote"}, "unknown type 'quote'"),
    ],
)
def test_invalid_trade_fields_are_bad_lines(change, reason):
    with pytest.raises(BadLine, match=f"^{reason}$".replace("(", r"\(").replace(")", r"\)")):
        parse(GOOD | change)


def test_integer_ids_become_strings_so_5_and_quoted_5_are_one_trade():
    parser = LineParser()
    a = parse(GOOD | {"id": 5}, parser)
    b = parse(GOOD | {"id": "5"}, parser)
    assert a.id == "5" and b == DuplicateTrades(1)  # dropped by the parser, handed on as a count
    assert parser.duplicates == 1
    for dedupe in (True, False):  # the engine counts it, whether it keeps ids or not
        engine = Engine(EngineConfig(window_minutes=1, warmup=False, dedupe_trades=dedupe))
        engine.feed_many([a, b])
        assert engine.stats.trades == 1 and engine.stats.duplicates == 1


def test_nan_and_broken_json_are_bad_lines():
    with pytest.raises(BadLine, match="not valid JSON"):
        parse(b'{"price": NaN}')
    with pytest.raises(BadLine, match="not valid JSON"):
        parse(b'{"ts": 1, ')
    with pytest.raises(BadLine, match="not a JSON object"):
        parse(b"[1]")
    with pytest.raises(BadLine, match="not valid JSON"):  # 1e400 overflows to infinity
        parse(b'{"ts": 1765530000123, "exchange": "okx", "symbol": "X", "side": "buy", "price": 1e400, "amount": 1}')


def test_blank_lines_are_ignored():
    assert parse(b"   \n") is None


def test_far_future_ts_is_a_bad_line_and_does_not_move_data_time():
    parser = LineParser()
    parse(GOOD, parser)
    day = 24 * 3600 * 1000
    # (each trade its own id: a duplicate would not move data time, SPEC §8)
    assert parse(GOOD | {"ts": GOOD["ts"] + day, "id": "124"}, parser).ts == GOOD["ts"] + day  # exactly 24 h: fine
    with pytest.raises(BadLine, match="24 h"):
        parse(GOOD | {"ts": GOOD["ts"] + 2 * day + 1, "id": "125"}, parser)
    assert parser.data_time == GOOD["ts"] + day


def test_meta_only_as_first_line():
    parser = LineParser()
    meta = {"type": "meta", "listings": {"BTC/USDT": ["binance", "okx"]}}
    assert parse(meta, parser) == Listings({"BTC/USDT": ("binance", "okx")})
    with pytest.raises(BadLine, match="not the first line"):
        parse(meta, parser)
    late = LineParser()
    parse(GOOD, late)
    with pytest.raises(BadLine, match="not the first line"):
        parse(meta, late)


def test_meta_with_unknown_exchange_is_bad():
    with pytest.raises(BadLine, match="not a list of exchange ids"):
        parse({"type": "meta", "listings": {"BTC/USDT": ["kraken"]}})


def test_bucket_lines():
    line = {"type": "bucket", "exchange": "okx", "symbol": "BTC/USDT", "minute": 29425520, "buy": 1.0, "sell": 2.0}
    assert parse(line) == MinuteBucket("okx", "BTC/USDT", 29425520, 1.0, 2.0, 0, None)
    with pytest.raises(BadLine, match="buy is negative"):
        parse(line | {"buy": -1.0})
    with pytest.raises(BadLine, match="minute is not a non-negative integer"):
        parse(line | {"minute": "29425520"})
    with pytest.raises(BadLine, match="sell is not a number"):
        parse(line | {"sell": None})


def test_disabled_exchange_lines_are_ignored_not_bad():
    parser = LineParser(exchanges=("binance", "okx"))
    assert parse(GOOD | {"exchange": "bybit"}, parser) is None
    assert parser.ignored == 1 and not parser.bad
    assert parser.data_time is None  # ignored entirely: no data time


async def test_speed_paces_batches_by_data_time(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [GOOD | {"ts": GOOD["ts"] + offset, "id": str(offset)} for offset in (0, 10, 4_000, 4_020, 10_000)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    now = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    source = ReplaySource(path, speed=2.0, clock=lambda: now[0], sleep=fake_sleep)
    batches = [[t.ts - GOOD["ts"] for t in batch] async for batch in source.batches()]
    assert batches == [[0, 10], [4_000, 4_020], [10_000]]
    assert slept == [2.0, 3.0]  # 4 s of data at speed 2, then 6 s more


async def test_speed_zero_never_sleeps(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(GOOD | {"ts": GOOD["ts"] + i * 60_000, "id": str(i)}) for i in range(5)))

    async def forbidden(_: float) -> None:
        raise AssertionError("speed 0 must not sleep")

    source = ReplaySource(path, speed=0, sleep=forbidden)
    items = [item async for batch in source.batches() for item in batch]
    assert len(items) == 5
    await source.close()
    await asyncio.sleep(0)


@pytest.mark.parametrize("speed", [0.0, 1000.0])
async def test_a_truncated_gzip_yields_every_line_read_once_then_fails(tmp_path, speed):
    import gzip

    from gme_tui.sources.replay import ReplayError

    rows = [GOOD | {"ts": GOOD["ts"] + i * 1_000, "id": str(i)} for i in range(3_000)]
    whole = gzip.compress("\n".join(json.dumps(r) for r in rows).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])

    async def no_sleep(_: float) -> None:
        return None

    source = ReplaySource(path, speed=speed, sleep=no_sleep)
    seen: list[str] = []
    with pytest.raises(ReplayError, match="truncated or corrupt"):
        async for batch in source.batches():
            seen.extend(item.id for item in batch)
    assert seen == [str(i) for i in range(len(seen))] and len(seen) > 1_000  # in order, none twice


def test_young_collections_are_relaxed_while_files_are_read_and_restored_once(tmp_path):
    """While replays read their files the young GC threshold is raised (YOUNG_GC_THRESHOLD);
    overlapping replays restore CPython's threshold once, when the last one ends."""
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(GOOD | {"id": str(i), "ts": GOOD["ts"] + i}) for i in range(5)) + "\n")
    before = gc.get_threshold()
    one, two = ReplaySource(path).chunks(size=1), ReplaySource(path).chunks(size=1)
    next(one)
    next(two)
    assert gc.get_threshold()[0] == max(before[0], YOUNG_GC_THRESHOLD)
    assert sum(map(len, one)) == 4  # the first replay ends: the second still reads
    assert gc.get_threshold()[0] == max(before[0], YOUNG_GC_THRESHOLD)
    assert sum(map(len, two)) == 4
    assert gc.get_threshold() == before
