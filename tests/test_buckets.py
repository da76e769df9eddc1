"""Minute buckets of one (exchange, symbol), and a property: the Engine's window sums equal a
brute-force recomputation from the raw trades, whatever the duplicates and out-of-order minutes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gme_tui.engine import Engine, EngineConfig, scans_in
from gme_tui.engine.buckets import PairFlow
from gme_tui.model import MINUTE_MS, Trade

M = 29_425_520  # a minute number
MIN = MINUTE_MS


def test_window_sums_nets_and_first_close() -> None:
    pair = PairFlow()
    pair.add(M, True, 300.0, 10.0, M * MIN + 1)
    pair.add(M, False, 100.0, 11.0, M * MIN + 2)
    pair.add(M + 2, False, 50.0, 12.0, (M + 2) * MIN)
    sums = pair.window(M - 1, M + 2)
    assert (sums.buy, sums.sell, sums.trades) == (300.0, 150.0, 3)
    assert sums.minute_nets == (0.0, 200.0, 0.0, -50.0)
    assert sums.first_close == 11.0  # the close of the first minute that has trades
    assert pair.last_price == 12.0
    empty = pair.window(M + 3, M + 5)
    assert (empty.buy, empty.sell, empty.trades, empty.minute_nets, empty.first_close) == (
        0.0,
        0.0,
        0,
        (0.0,) * 3,
        None,
    )


def test_close_is_the_latest_ts_not_the_latest_arrival() -> None:
    pair = PairFlow()
    pair.add(M, True, 1.0, 20.0, M * MIN + 9_000)
    pair.add(M, True, 1.0, 19.0, M * MIN + 3_000)  # arrives later, happened earlier
    assert pair.minutes[M][3] == 20.0
    assert pair.last_price == 20.0


def test_bucket_minute_adds_or_replaces_and_is_covered() -> None:
    pair = PairFlow()
    pair.add(M, True, 40.0, 5.0, M * MIN)
    pair.set_minute(M, 70.0, 20.0, 3, 6.0, replace=True)
    assert pair.window(M, M).buy == 70.0 and pair.window(M, M).trades == 3
    pair.set_minute(M, 1.0, 2.0, 1, None, replace=False)
    sums = pair.window(M, M)
    assert (sums.buy, sums.sell, sums.trades, sums.covered) == (71.0, 22.0, 4, 1)
    assert M in pair.bucket_minutes


def test_trade_after_a_bucket_without_close_sets_the_close() -> None:
    pair = PairFlow()
    pair.set_minute(M, 10.0, 5.0, 2, None, replace=False)
    pair.add(M, True, 1.0, 42.0, M * MIN + 5_000)
    assert pair.window(M, M).first_close == 42.0


def test_prune_forgets_minutes_ids_buckets_and_coverage() -> None:
    pair = PairFlow()
    for minute in range(M, M + 5):
        pair.add(minute, True, 1.0, 1.0, minute * MIN, f"id{minute}")
    pair.set_minute(M + 1, 1.0, 0.0, 1, None, replace=False)
    pair.cover(M, M + 4, keep_from=M)
    pair.prune(M + 3)
    assert sorted(pair.minutes) == [M + 3, M + 4]
    assert pair.ids == {f"id{M + 3}", f"id{M + 4}"} and sorted(pair.ids_by_minute) == [M + 3, M + 4]
    assert f"id{M}" not in pair.ids and f"id{M + 4}" in pair.ids
    assert pair.bucket_minutes == set() and pair.covered == {M + 3, M + 4}


def test_cover_starts_at_keep_from() -> None:
    pair = PairFlow()
    pair.cover(M - 100, M + 1, keep_from=M)
    assert pair.covered == {M, M + 1}
    assert pair.window(M - 5, M + 5).covered == 2


# ---------------------------------------------------------------- property: sums vs brute force

WINDOW, EXTRA = 3, 1
PAIRS = [("binance", "BTC/USDT"), ("okx", "BTC/USDT"), ("binance", "ETH/USDT")]

raw_trade = st.tuples(
    st.integers(0, 11),  # minute
    st.integers(0, 59_999),  # ms inside the minute
    st.sampled_from(range(len(PAIRS))),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 1_000),  # price: integers keep every sum exact
    st.integers(1, 8),  # amount
    st.one_of(st.none(), st.integers(0, 25)),  # id: a small pool makes duplicates common
    st.one_of(st.integers(0, 2), st.integers(5, 9)),  # minutes it may arrive late: some beyond the kept ones
)


def build_stream(raws: list[tuple]) -> list[Trade]:
    """A re-sent id carries the same trade (as exchanges re-send); arrival order is ts order
    shuffled by up to nine minutes, so minutes arrive out of order and some too late."""
    by_id: dict[tuple[int, int], Trade] = {}
    keyed: list[tuple[int, int, Trade]] = []
    for index, (minute, ms, pair_index, side, price, amount, raw_id, delay) in enumerate(raws):
        exchange, symbol = PAIRS[pair_index]
        made = Trade(
            exchange,
            symbol,
            (M + minute) * MIN + ms,
            side,
            float(price),
            float(amount),
            None if raw_id is None else str(raw_id),
        )
        if raw_id is not None:
            made = by_id.setdefault((pair_index, raw_id), made)
        keyed.append((made.minute + delay, index, made))
    return [t for _, _, t in sorted(keyed, key=lambda k: (k[0], k[1]))]


def accepted_flags(stream: list[Trade]) -> tuple[list[bool], int, int]:
    """SPEC §2/§6 from first principles: a trade older than the kept minutes (window + margin
    before the last scan) is late; otherwise a re-sent id is a duplicate. Returns per trade
    whether it counts, and the late and duplicate totals."""
    flags: list[bool] = []
    ids: set[tuple[str, str, str]] = set()
    first_minute = data_time = None
    late = duplicates = 0
    for item in stream:
        keep_from = None
        if data_time is not None and data_time // MIN > first_minute:  # a scan has run
            keep_from = data_time // MIN - WINDOW - EXTRA
        key = None if item.id is None else (item.exchange, item.symbol, item.id)
        if keep_from is not None and item.minute < keep_from:
            late += 1
            flags.append(False)
        elif key is not None and key in ids:
            duplicates += 1
            flags.append(False)
        else:
            if key is not None:
                ids.add(key)
            if first_minute is None:
                first_minute = item.minute
            data_time = item.ts if data_time is None else max(data_time, item.ts)
            flags.append(True)
    return flags, late, duplicates


def brute_force(stream: list[Trade], flags: list[bool], scan_ms: int, arrived: int) -> dict:
    """Buy and sell sums per pair over the scan's window, from the first `arrived` trades."""
    sums: dict[tuple[str, str], list[float]] = {}
    last = scan_ms // MIN - 1
    for item, counted in zip(stream[:arrived], flags):
        if not counted:
            continue
        pair = sums.setdefault((item.exchange, item.symbol), [0.0, 0.0])
        if last - WINDOW + 1 <= item.minute <= last:
            pair[0 if item.side == "buy" else 1] += item.value
    return {key: (b, s) for key, (b, s) in sums.items()}


@settings(max_examples=150, deadline=None)
@given(st.lists(raw_trade, min_size=1, max_size=60))
def test_window_sums_equal_brute_force(raws: list[tuple]) -> None:
    stream = build_stream(raws)
    engine = Engine(EngineConfig(window_minutes=WINDOW, keep_extra_minutes=EXTRA, warmup=False))
    scans: list[tuple[int, object]] = []  # (trades arrived before the scan, scan)
    for arrived, item in enumerate(stream):
        for scan in scans_in(engine.add_trade(item)):
            scans.append((arrived, scan))
    for scan in scans_in(engine.finish()):
        scans.append((len(stream), scan))

    flags, late, duplicates = accepted_flags(stream)
    assert (engine.stats.late, engine.stats.duplicates, engine.stats.trades) == (late, duplicates, sum(flags))
    first_minute = stream[0].minute
    data_time = max(t.ts for t, counted in zip(stream, flags) if counted)
    assert engine.data_time == data_time
    assert [s.ts for _, s in scans] == list(range((first_minute + 1) * MIN, (data_time // MIN + 2) * MIN, MIN))
    for arrived, scan in scans:
        expected = brute_force(stream, flags, scan.ts, arrived)
        got = {
            (exchange, item.consensus.symbol): (window.buy, window.sell)
            for item in scan.symbols
            for exchange, window in item.exchanges.items()
        }
        assert got == expected
        for item in scan.symbols:
            for exchange, flow in item.consensus.flows.items():
                buy, sell = expected[(exchange, item.consensus.symbol)]
                assert flow == buy - sell
