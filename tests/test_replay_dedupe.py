"""A replay's duplicates are dropped once, by the parser (issue 12 item 5): an engine that keeps no
trade ids (EngineConfig.dedupe_trades=False, as the cli's replay runs) must see what an engine
that deduplicates by itself sees when fed the same trades directly: the same scans, whales and
counts, whatever the duplicates, late trades, out-of-order minutes and chunk edges."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.buckets import PairFlow
from gme_tui.model import DuplicateTrades, EngineEvent, Trade
from gme_tui.sources.recorder import trade_line
from gme_tui.sources.replay import ReplaySource
from tests.test_buckets import EXTRA, PAIRS, WINDOW, build_stream

T0 = 1_765_530_000_000

# As tests/test_buckets.py's trades, late by at most the kept minutes (window + margin): a trade
# further in the past than that inside the first data minute is the parser's to drop (SPEC §8,
# memory stays bounded), where an engine fed directly has not scanned yet and would keep it.
raw_trade = st.tuples(
    st.integers(0, 11),  # minute
    st.integers(0, 59_999),  # ms inside the minute
    st.sampled_from(range(len(PAIRS))),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 1_000),  # price
    st.integers(1, 8),  # amount
    st.one_of(st.none(), st.integers(0, 25)),  # id: a small pool makes duplicates common
    st.integers(0, WINDOW + EXTRA),  # minutes it arrives late: some beyond the kept ones
)

CONFIG = EngineConfig(
    window_minutes=WINDOW, keep_extra_minutes=EXTRA, warmup=False, whale_threshold=1_500.0, emit_minutes=True
)


def write(path: Path, stream: list[Trade]) -> Path:
    """The trades as the recorder writes them (the lines the parser decodes straight into Trades)."""
    path.write_bytes(b"".join(trade_line(t) + b"\n" for t in stream))
    return path


def replayed(path: Path, chunk: int) -> tuple[list[EngineEvent], Engine]:
    engine = Engine(replace(CONFIG, dedupe_trades=False))
    events: list[EngineEvent] = []
    for items in ReplaySource(path, window_minutes=WINDOW, keep_extra_minutes=EXTRA).chunks(size=chunk):
        events += engine.feed_many(items)
    return events + engine.finish(), engine


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(raw_trade, min_size=1, max_size=60), st.integers(1, 9))
def test_an_engine_without_ids_behind_the_parser_sees_what_a_deduplicating_engine_sees(
    tmp_path_factory, raws: list[tuple], chunk: int
) -> None:
    stream = build_stream(raws)
    direct = Engine(CONFIG)
    expected = direct.feed_many(stream) + direct.finish()
    events, engine = replayed(write(tmp_path_factory.mktemp("dedupe") / "r.jsonl", stream), chunk)
    assert events == expected
    assert engine.stats == direct.stats


def test_duplicates_reach_the_engine_as_a_count_and_no_id_is_kept(tmp_path: Path) -> None:
    first = Trade("okx", "BTC/USDT", T0, "buy", 10.0, 2.0, "7")
    path = write(tmp_path / "r.jsonl", [first, first, msgspec.structs.replace(first, id="8"), first])
    items = list(ReplaySource(path, window_minutes=WINDOW).items())
    assert items == [first, DuplicateTrades(1), msgspec.structs.replace(first, id="8"), DuplicateTrades(1)]
    _, engine = replayed(path, chunk=500)
    assert (engine.stats.trades, engine.stats.duplicates) == (2, 2)
    pair = engine._pairs[("okx", "BTC/USDT")]
    assert isinstance(pair, PairFlow) and pair.ids == set() and pair.ids_by_minute == {}


def test_perp_duplicates_are_counted_as_perp_duplicates() -> None:
    engine = Engine(replace(CONFIG, dedupe_trades=False))
    engine.feed_many([DuplicateTrades(3, market="perp"), DuplicateTrades(2)])
    assert (engine.stats.perp_duplicates, engine.stats.duplicates) == (3, 2)
