"""A property of the replay parser (SPEC §8, issue 12 item 6): files generated from SPEC's rules,
valid lines mixed with lines mutated into bad ones. Whatever the mix:
- nothing raises (no traceback);
- every bad line is counted, once;
- the events (scans, whales) and the counts (trades, duplicates, late, ignored) are those of the
  same file without its bad lines.
Valid lines include what the rules treat specially: duplicates (ids as strings or integers), late
and far-past trades, bucket lines, trades of a disabled exchange, blank lines, a meta line first,
a BOM at the start of the file, and the derivatives lines (issue 14 item 6): perp trades and buckets,
`oi` and `liquidation` lines, a meta line's `perp_listings`, some of a venue that is not a perp venue.
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import MINUTE_MS, EngineEvent
from gme_tui.sources.replay import BOM, ReplaySource, ReplaySummary

ENABLED = ("binance", "okx", "coinbase")  # bybit is disabled: its lines are ignored, not bad
PERP_VENUES = ("binance", "okx")  # coinbase and bybit derivatives lines are ignored
WINDOW, EXTRA = 3, 1
T0 = 29_425_500 * MINUTE_MS
SPAN = 40 * MINUTE_MS  # valid trades fall in T0 .. T0 + SPAN (so never 24 h ahead of data time)

exchanges = st.sampled_from(["binance", "okx", "bybit", "coinbase"])
symbols = st.sampled_from(["BTC/USDT", "ETH/USDT"])
ids = st.one_of(st.none(), st.integers(1, 12), st.integers(1, 12).map(str))
numbers = st.one_of(
    st.sampled_from([0.5, 1.0, 2.0, 1e-8, 1e12, 3]),
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False).filter(lambda v: v > 0),
)


@st.composite
def trades(draw: st.DrawFn) -> dict[str, object]:
    row: dict[str, object] = {
        "ts": T0 + draw(st.integers(0, SPAN)),
        "exchange": draw(exchanges),
        "symbol": draw(symbols),
        "side": draw(st.sampled_from(["buy", "sell"])),
        "price": draw(numbers),
        "amount": draw(numbers),
    }
    trade_id = draw(ids)
    if trade_id is not None:
        row["id"] = trade_id
    if draw(st.booleans()):
        row["type"] = "trade"
    return row


@st.composite
def far_past(draw: st.DrawFn) -> dict[str, object]:
    return draw(trades()) | {"ts": draw(st.sampled_from([0, -(10**15), T0 - 30 * MINUTE_MS, -1]))}


@st.composite
def buckets(draw: st.DrawFn) -> dict[str, object]:
    row: dict[str, object] = {
        "type": "bucket",
        "exchange": draw(exchanges),
        "symbol": draw(symbols),
        "minute": T0 // MINUTE_MS + draw(st.integers(0, SPAN // MINUTE_MS)),
        "buy": draw(st.sampled_from([0, 0.0, 1.5, 1e6])),
        "sell": draw(st.sampled_from([0, 2.5, 1e5])),
    }
    if draw(st.booleans()):
        row["count"] = draw(st.integers(0, 9))
    if draw(st.booleans()):
        row["close"] = draw(numbers)
    return row


@st.composite
def perp_trades(draw: st.DrawFn) -> dict[str, object]:
    return draw(trades()) | {"market": "perp"}


@st.composite
def perp_buckets(draw: st.DrawFn) -> dict[str, object]:
    return draw(buckets()) | {"market": "perp"}


@st.composite
def oi_lines(draw: st.DrawFn) -> dict[str, object]:
    return {
        "type": "oi",
        "exchange": draw(exchanges),
        "symbol": draw(symbols),
        "ts": T0 + draw(st.integers(-5 * MINUTE_MS, SPAN)),
        "oi": draw(st.one_of(st.just(0), numbers)),
    }


@st.composite
def liquidations(draw: st.DrawFn) -> dict[str, object]:
    row: dict[str, object] = {
        "type": "liquidation",
        "ts": T0 + draw(st.integers(0, SPAN)),
        "exchange": draw(exchanges),
        "symbol": draw(symbols),
        "side": draw(st.sampled_from(["long", "short"])),
        "price": draw(numbers),
        "amount": draw(numbers),
    }
    if draw(st.booleans()):
        row["value"] = draw(numbers)
    return row


derivatives = st.one_of(perp_trades(), perp_buckets(), oi_lines(), liquidations())

DERIVATIVE_BAD_VALUES = {
    "market": ["swap", 5, [], None, "PERP"],
    "oi": ["1", -1.0, True, [], None],
    "side": ["buy", "LONG", [], None, 1],
    "value": ["6", 0, -1.0, True, []],
}

BAD_VALUES = {
    "exchange": [[], {}, "kraken", 5, None, "", ["binance"]],
    "symbol": ["", 5, [], {}, None, True],
    "side": [[], {"buy": 1}, "BUY", None, 1, ""],
    "ts": [1.5, "1", True, [], None, {}, T0 + SPAN + 25 * 60 * MINUTE_MS],  # the last: > 24 h ahead
    "price": ["1", True, 0, -1.0, [], None, {}],
    "amount": ["2", False, 0.0, -3, [], None],
    "id": [1.5, True, [], {}, [1]],
    "type": ["quote", [], 5, None, {"a": 1}, "meta "],
}

BAD_RAW = [
    b'{"price": NaN}',
    b"[1, 2]",
    b"null",
    b"1e400",
    b'"text"',
    b"\xff\xfe\x00garbage",
    b'{"ts": 1, ',
    b'{"type": "meta", "listings": {"BTC/USDT": [["binance"]]}}',
    b'{"type": "meta", "listings": {}}',  # valid only first: generated after a valid line
    b'{"exchange": []}',
]


@st.composite
def bad_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.sampled_from(BAD_RAW))
    if kind == 1:  # a valid line cut short
        text = json.dumps(draw(trades())).encode()
        return text[: draw(st.integers(1, len(text) - 1))]
    if kind == 2:  # a BOM in the middle of the file
        return BOM + json.dumps(draw(trades())).encode()
    if kind == 3:
        row = draw(trades())
        return json.dumps(row | {"price": 1e308, "amount": 10.0}).encode()
    if kind == 4:
        row = draw(trades())
        del row[draw(st.sampled_from(["ts", "exchange", "symbol", "side", "price", "amount"]))]
        return json.dumps(row).encode()
    if kind == 6:  # a derivatives line with one bad value
        row = draw(derivatives)
        kind_of = row.get("type", "trade")
        keys = {"trade": ["market"], "bucket": ["market"], "oi": ["oi"], "liquidation": ["side", "value"]}[kind_of]
        key = draw(st.sampled_from(keys))
        return json.dumps(row | {key: draw(st.sampled_from(DERIVATIVE_BAD_VALUES[key]))}).encode()
    row = draw(st.one_of(trades(), buckets(), perp_trades(), perp_buckets()))
    key = draw(st.sampled_from(sorted(k for k in BAD_VALUES if k in row or k in ("id", "type"))))
    if row.get("type") == "bucket" and key in ("side", "ts", "price", "amount", "id"):
        key = draw(st.sampled_from(["exchange", "symbol", "type"]))
    value = draw(st.sampled_from(BAD_VALUES[key]))
    if row.get("type") == "bucket" and key == "type" and value == "meta ":
        value = "quote"
    if key == "ts" and type(value) is int:  # 24 h ahead: bad only where not ignored (an enabled exchange)
        row["exchange"] = "binance"
    return json.dumps(row | {key: value}).encode()


@st.composite
def files(draw: st.DrawFn) -> tuple[list[tuple[bytes, bool]], bool]:
    """Lines as (text, bad); the first is a valid trade, so that no later line's validity hangs on
    what precedes it (a meta line is valid first; a far-past first trade would make every later
    line 24 h ahead). Returns the lines and whether the file starts with a BOM."""
    body: list[tuple[bytes, bool]] = []
    if draw(st.booleans()):
        meta = b'{"type": "meta", "listings": {"BTC/USDT": ["binance", "bybit"], "SOL/USDT": ["okx"]}'
        if draw(st.booleans()):
            meta += b', "perp_listings": {"BTC/USDT": ["okx", "bybit"]}'
        body.append((meta + b"}", False))
    first = draw(trades()) | {"exchange": "binance"}
    body.append((json.dumps(first).encode(), False))
    valid = st.one_of(trades(), trades(), trades(), buckets(), far_past(), derivatives, far_past().map(perp_of)).map(
        lambda r: json.dumps(r).encode()
    )
    for _ in range(draw(st.integers(0, 60))):
        choice = draw(st.integers(0, 9))
        if choice < 6:
            body.append((draw(valid), False))
        elif choice == 6:
            body.append((draw(st.sampled_from([b"", b"   ", b"\t"])), False))
        elif choice == 7:  # a duplicate of an earlier valid line (not the meta one), resent as it was
            earlier = [text for text, bad in body if not bad and not text.startswith(b'{"type": "meta"')]
            body.append((draw(st.sampled_from(earlier)), False))
        else:
            body.append((draw(bad_lines()), True))
    return body, draw(st.booleans())


def perp_of(row: dict[str, object]) -> dict[str, object]:
    return row | {"market": "perp"}


def run(path: Path) -> tuple[list[EngineEvent], ReplaySummary, tuple[int, ...]]:
    source = ReplaySource(
        path, exchanges=ENABLED, window_minutes=WINDOW, keep_extra_minutes=EXTRA, perp_venues=PERP_VENUES
    )
    engine = Engine(
        EngineConfig(
            exchanges=ENABLED,
            perp_venues=PERP_VENUES,
            window_minutes=WINDOW,
            keep_extra_minutes=EXTRA,
            rules=RuleConfig(quorum=1),
            whale_threshold=1.0,
            dedupe_trades=False,  # as the cli replays: the parser drops duplicates
        )
    )
    events: list[EngineEvent] = []
    for chunk in source.chunks(size=7):  # small chunks: the batch edges move through the file
        events += engine.feed_many(chunk)
    events += engine.finish()
    stats = engine.stats
    counts = (stats.trades, stats.buckets, stats.duplicates, stats.late, stats.scans)
    perp_counts = (stats.perp_trades, stats.perp_buckets, stats.perp_duplicates, stats.perp_late, stats.perp_ignored)
    return events, source.summary(), (*counts, *perp_counts, stats.oi_samples, stats.liquidations)


def write(path: Path, lines: list[bytes], bom: bool) -> Path:
    path.write_bytes((BOM if bom else b"") + b"\n".join(lines) + b"\n")
    return path


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files())
def test_bad_lines_are_counted_and_change_nothing_else(tmp_path_factory, generated):
    body, bom = generated
    folder = tmp_path_factory.mktemp("prop")
    whole = write(folder / "whole.jsonl", [text for text, _ in body], bom)
    clean = write(folder / "clean.jsonl", [text for text, bad in body if not bad], bom)
    events, summary, counts = run(whole)
    clean_events, clean_summary, clean_counts = run(clean)
    assert summary.bad_total == sum(bad for _, bad in body) + clean_summary.bad_total
    assert clean_summary.bad_total == 0
    assert events == clean_events
    assert counts == clean_counts
    assert (summary.late, summary.ignored, summary.derivatives) == (
        clean_summary.late,
        clean_summary.ignored,
        clean_summary.derivatives,
    )
