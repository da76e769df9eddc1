"""Replaying derivatives lines (issue 14 item 6, SPEC §8 and §4b): perp trades and buckets, `oi`
and `liquidation` lines and the meta line's `perp_listings` reach the engine's perp side as their
own items; spot flow is exactly that of the same file without them. Figures worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import (
    MINUTE_MS,
    EngineEvent,
    Grade,
    Liquidation,
    Listings,
    OpenInterest,
    PerpTrade,
    Scan,
    SignalCode,
    Trade,
)
from gme_tui.sources.replay import BadLine, LineParser, NothingToReplay, ReplaySource, short_file_line

M0 = 29_425_500  # the first data minute
T0 = M0 * MINUTE_MS
WINDOW = 3
BTC = "BTC/USDT"


def line(obj: object) -> bytes:
    return json.dumps(obj).encode()


def spot(ts: int, exchange: str, side: str, price: float, amount: float, trade_id: str | None = None) -> dict:
    row: dict[str, object] = {
        "ts": ts,
        "exchange": exchange,
        "symbol": BTC,
        "side": side,
        "price": price,
        "amount": amount,
    }
    if trade_id is not None:
        row["id"] = trade_id
    return row


def perp(ts: int, exchange: str, side: str, price: float, amount: float, trade_id: str | None = None) -> dict:
    return spot(ts, exchange, side, price, amount, trade_id) | {"market": "perp"}


def oi(ts: int, exchange: str, value: float) -> dict:
    return {"type": "oi", "exchange": exchange, "symbol": BTC, "ts": ts, "oi": value}


def liquidation(ts: int, exchange: str, side: str, price: float, amount: float) -> dict:
    return {
        "type": "liquidation",
        "ts": ts,
        "exchange": exchange,
        "symbol": BTC,
        "side": side,
        "price": price,
        "amount": amount,
        "value": price * amount,
    }


META = {"type": "meta", "listings": {BTC: ["binance", "okx"]}, "perp_listings": {BTC: ["binance", "bybit"]}}
SPOT_ROWS: list[dict] = [
    spot(T0 + 1_000, "binance", "buy", 100.0, 20_000.0, "1"),  # 2,000,000 bought
    spot(T0 + 2_000, "okx", "sell", 100.0, 1_000.0, "1"),  # 100,000 sold (same id, other exchange)
    spot(T0 + 62_000, "binance", "buy", 101.0, 100.0, "2"),  # 10,100; close 101
    spot(T0 + 3 * MINUTE_MS + 5, "binance", "buy", 102.0, 1.0, "3"),  # minute 3: after the first window
]
PERP_ROWS: list[dict] = [
    oi(T0 - MINUTE_MS, "binance", 1_000.0),  # history: the OI at the window start
    oi(T0 - MINUTE_MS, "bybit", 500.0),
    perp(T0 + 1_500, "binance", "sell", 100.0, 30_000.0, "1"),  # 3,000,000 sold; id "1" as a spot one
    perp(T0 + 1_600, "binance", "sell", 100.0, 30_000.0, "1"),  # a perp duplicate
    perp(T0 + 2_500, "bybit", "buy", 100.0, 1_000.0),  # 100,000 bought
    {
        "type": "bucket",
        "market": "perp",
        "exchange": "bybit",
        "symbol": BTC,
        "minute": M0 + 1,
        "buy": 0.0,
        "sell": 50.0,
    },
    liquidation(T0 + 30_000, "bybit", "long", 99.0, 10.0),  # 990 of longs
    liquidation(T0 + 40_000, "binance", "short", 101.0, 2.0),  # 202 of shorts (Binance: sampled)
    oi(T0 + 2 * MINUTE_MS + 59_000, "binance", 1_020.0),  # the OI at the window end
    perp(T0 + 2 * MINUTE_MS + 59_500, "binance", "buy", 100.0, 1.0),  # last perp price 100
]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_bytes(b"\n".join(line(r) for r in rows) + b"\n")
    return path


def replay(path: Path, **source: object) -> tuple[ReplaySource, Engine, list[EngineEvent]]:
    replay_source = ReplaySource(path, window_minutes=WINDOW, keep_extra_minutes=1, **source)  # type: ignore[arg-type]
    engine = Engine(EngineConfig(window_minutes=WINDOW, keep_extra_minutes=1, rules=RuleConfig(quorum=1)))
    events: list[EngineEvent] = []
    for chunk in replay_source.chunks(size=3):  # the fast loop's edges move through the file
        events += engine.feed_many(chunk)
    events += engine.finish()
    return replay_source, engine, events


def mixed(rows_spot: list[dict], rows_perp: list[dict]) -> list[dict]:
    """Spot and perp rows in time order (oi lines by ts, a bucket at its minute)."""

    def at(row: dict) -> int:
        return row["minute"] * MINUTE_MS if row.get("type") == "bucket" else row["ts"]

    return sorted([*rows_spot, *rows_perp], key=at)


def scans(events: list[EngineEvent]) -> list[Scan]:
    return [e for e in events if isinstance(e, Scan)]


def test_perp_flow_reaches_the_engine_and_never_spot_flow(tmp_path):
    both = write(tmp_path / "both.jsonl", [META, *mixed(SPOT_ROWS, PERP_ROWS)])
    only_spot = write(tmp_path / "spot.jsonl", [{"type": "meta", "listings": META["listings"]}, *SPOT_ROWS])
    source, engine, events = replay(both)
    _, spot_engine, spot_events = replay(only_spot)
    first, *_ = scans(events)
    spot_first, *_ = scans(spot_events)
    assert first.ts == spot_first.ts == T0 + 3 * MINUTE_MS
    symbol, spot_symbol = first.symbols[0], spot_first.symbols[0]
    # spot: the very same figures, whatever the perp lines said
    assert symbol.consensus == spot_symbol.consensus
    assert symbol.exchanges == spot_symbol.exchanges
    assert symbol.consensus.flows == {"binance": 2_010_100.0, "okx": -100_000.0}
    assert spot_symbol.derivatives is None
    # perp: the window's perp flow, OI change and liquidations, by hand
    d = symbol.derivatives
    assert d is not None
    assert d.perp_flows == {"binance": 100.0 - 3_000_000.0, "bybit": 100_000.0 - 50.0}
    assert d.perp_total == -2_999_900.0 + 99_950.0
    assert (d.windows["binance"].trades, d.windows["bybit"].trades) == (2, 1)  # the duplicate: not counted
    # the OI set: binance 1000 -> 1020, bybit 500 (its start sample is also its latest, 4 min old)
    start, end = 1_000.0 * 100.0 + 500.0 * 100.0, 1_020.0 * 100.0 + 500.0 * 100.0
    assert d.oi_change_pct == (end - start) * 100.0 / start
    assert (d.liquidated_long, d.liquidated_short, d.liquidations_sampled) == (990.0, 202.0, True)
    liquidations = [e for e in events if isinstance(e, Liquidation)]
    assert liquidations == [
        Liquidation(T0 + 30_000, "bybit", BTC, "long", 99.0, 10.0, 990.0),
        Liquidation(T0 + 40_000, "binance", BTC, "short", 101.0, 2.0, 202.0),
    ]
    stats = engine.stats
    assert (stats.trades, stats.duplicates) == (spot_engine.stats.trades, 0)  # a perp "1" is no spot duplicate
    assert (stats.perp_trades, stats.perp_duplicates, stats.perp_buckets) == (3, 1, 1)
    assert (stats.oi_samples, stats.liquidations) == (3, 2)
    assert source.summary().derivatives == len(PERP_ROWS)
    assert source.summary().bad == {}


def test_the_b_signal_from_a_replay(tmp_path):
    """Spot 1,910,100 net (ratio 20.1), perp −2,899,950 (ratio 0.033), OI +1.33 %: B."""
    _, _, events = replay(write(tmp_path / "b.jsonl", [META, *mixed(SPOT_ROWS, PERP_ROWS)]))
    signals = [s for s in scans(events)[0].symbols[0].signals if s.code is SignalCode.DERIVATIVES_HEDGE]
    assert [s.grade for s in signals] == [Grade.B]
    # without the OI at the window end, the one at its start is also its end: a change of 0, no B
    rows = [r for r in PERP_ROWS if not (r.get("type") == "oi" and r["ts"] > T0)]
    _, _, events = replay(write(tmp_path / "no-b.jsonl", [META, *mixed(SPOT_ROWS, rows)]))
    symbol = scans(events)[0].symbols[0]
    assert symbol.derivatives is not None and symbol.derivatives.oi_change_pct == 0.0
    assert SignalCode.DERIVATIVES_HEDGE not in [s.code for s in symbol.signals]


def test_meta_perp_listings_are_perp_listings():
    parser = LineParser(perp_venues=("binance", "okx"))
    items = parser.parse_items(line(META))
    assert items == [
        Listings({BTC: ("binance", "okx")}),
        Listings({BTC: ("binance",)}, market="perp"),  # bybit: not a perp venue here
    ]


def test_perp_lines_of_a_venue_that_is_off_are_ignored(tmp_path):
    """Coinbase has no perp venue by default (SPEC §4b); a venue switched off likewise."""
    rows = [
        spot(T0, "binance", "buy", 1.0, 1.0),
        perp(T0 + 1, "coinbase", "buy", 1.0, 1.0),
        oi(T0 + 2, "coinbase", 5.0),
        liquidation(T0 + 3, "coinbase", "long", 1.0, 1.0),
        perp(T0 + 4, "okx", "buy", 1.0, 1.0),
    ]
    source, engine, _ = replay(write(tmp_path / "off.jsonl", rows), perp_venues=("binance", "bybit"))
    assert source.summary().ignored == 4
    assert engine.stats.perp_trades == 0 and engine.stats.perp_ignored == 0  # never reached the engine


def test_a_perp_trade_moves_data_time_as_the_engine_does():
    """The 24-h check follows perp trades too (the engine's data time does); OI and liquidations
    move neither."""
    parser = LineParser()
    parser.parse(line(perp(T0, "okx", "buy", 1.0, 1.0)))
    assert parser.data_time == T0
    parser.parse(line(oi(T0 + 60 * MINUTE_MS, "okx", 5.0)))
    parser.parse(line(liquidation(T0 + 70 * MINUTE_MS, "okx", "short", 1.0, 1.0)))
    assert parser.data_time == T0
    day = 24 * 60 * MINUTE_MS
    for row in (spot(T0 + day + 1, "okx", "buy", 1.0, 1.0), oi(T0 + day + 1, "okx", 1.0)):
        with pytest.raises(BadLine, match="24 h beyond"):
            parser.parse(line(row))


def test_a_far_past_perp_trade_is_late_here():
    """As for spot (issue 12 item 6): memory stays bounded, the trade is counted as late."""
    parser = LineParser(window_minutes=WINDOW, keep_extra_minutes=1)
    parser.parse(line(perp(T0, "okx", "buy", 1.0, 1.0)))
    assert parser.parse(line(perp(0, "okx", "buy", 1.0, 1.0))) is None
    assert parser.late == 1


def test_perp_ids_are_their_own():
    parser = LineParser()
    items = [
        parser.parse(line(row)) for row in (spot(T0, "okx", "buy", 1.0, 1.0, "7"), perp(T0, "okx", "buy", 1.0, 1.0, 7))
    ]
    assert items == [Trade("okx", BTC, T0, "buy", 1.0, 1.0, "7"), PerpTrade("okx", BTC, T0, "buy", 1.0, 1.0, "7")]
    assert parser.duplicates == 0
    parser.parse(line(perp(T0 + 5, "okx", "buy", 1.0, 1.0, "7")))
    assert parser.duplicates == 1 and parser.data_time == T0  # a duplicate does not move data time


OI = oi(T0, "okx", 1.0)
LIQ = liquidation(T0, "bybit", "long", 2.0, 3.0)
PERP = perp(T0, "okx", "buy", 1.0, 1.0)
PERP_BUCKET = {
    "type": "bucket",
    "market": "perp",
    "exchange": "okx",
    "symbol": BTC,
    "minute": M0,
    "buy": 1.0,
    "sell": 0.0,
}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (PERP | {"price": 0}, "price is not greater than 0"),
        (PERP | {"amount": "2"}, "amount is not a number"),
        (PERP | {"side": "long"}, "side is not buy or sell"),
        (PERP | {"ts": 1.5}, "ts is not an integer"),
        (PERP | {"price": 1e308, "amount": 10.0}, "price × amount is not finite"),
        (PERP | {"market": "swap"}, "market is not spot or perp"),
        (PERP | {"exchange": ["okx"]}, "exchange is not one of binance, okx, bybit, coinbase"),
        (PERP_BUCKET | {"sell": -1.0}, "sell is negative"),
        (PERP_BUCKET | {"minute": "1"}, "minute is not a non-negative integer"),
        (OI | {"oi": -1.0}, "oi is negative"),
        (OI | {"oi": "5"}, "oi is not a number"),
        (OI | {"oi": True}, "oi is not a number"),
        ({k: v for k, v in OI.items() if k != "oi"}, "oi is not a number"),
        (OI | {"ts": None}, "ts is not an integer"),
        (OI | {"symbol": ""}, "symbol is not a non-empty string"),
        (LIQ | {"side": "buy"}, "side is not long or short"),
        (LIQ | {"side": ["long"]}, "side is not long or short"),
        (LIQ | {"value": 0.0}, "value is not greater than 0"),
        (LIQ | {"value": "6"}, "value is not a number"),
        (LIQ | {"price": -2.0}, "price is not greater than 0"),
        (LIQ | {"amount": 1e308, "price": 10.0, "value": None}, "price × amount is not finite"),
        ({"type": "meta", "listings": {}, "perp_listings": []}, "meta perp_listings is not an object"),
        (
            {"type": "meta", "listings": {}, "perp_listings": {BTC: [["okx"]]}},
            "meta perp listing for 'BTC/USDT' is not a list of exchange ids",
        ),
    ],
)
def test_bad_derivatives_lines(row, reason):
    with pytest.raises(BadLine) as caught:
        LineParser().parse(line(row))
    assert str(caught.value) == reason


def test_a_liquidation_without_a_value_is_priced_here():
    parser = LineParser()
    row = {k: v for k, v in LIQ.items() if k != "value"}
    assert parser.parse(line(row)) == Liquidation(T0, "bybit", BTC, "long", 2.0, 3.0, 6.0)
    assert parser.parse(line(OI | {"oi": 0})) == OpenInterest("okx", BTC, T0, 0.0)  # a figure, not a bad line


def test_a_file_of_oi_lines_only_replays_but_scans_nothing(tmp_path):
    source, engine, events = replay(write(tmp_path / "oi.jsonl", [OI, oi(T0 + 1, "bybit", 2.0)]))
    assert scans(events) == [] and engine.stats.oi_samples == 2
    line_text = short_file_line(source.summary())
    assert line_text is not None and "2 derivatives lines" in line_text


def test_a_file_of_bad_derivatives_lines_is_nothing_to_replay(tmp_path):
    path = write(tmp_path / "bad.jsonl", [OI | {"oi": "x"}, LIQ | {"side": "sell"}])
    with pytest.raises(NothingToReplay, match="oi is not a number"):
        ReplaySource(path).check()


def test_headless_json_replay_prints_derivatives_and_liquidations(tmp_path, run_cli):
    """End to end (SPEC §7, §8): the replayed perp side shows as `derivatives` and `liquidation`
    lines; the consensus is that of the spot lines alone."""
    settings = tmp_path / "settings.toml"
    settings.write_text(f'language = "en"\ntimezone = "UTC"\n[window]\nminutes = {WINDOW}\n', encoding="utf-8")
    both = write(tmp_path / "both.jsonl", [META, *mixed(SPOT_ROWS, PERP_ROWS)])
    only_spot = write(tmp_path / "spot.jsonl", [{"type": "meta", "listings": META["listings"]}, *SPOT_ROWS])
    runs = [
        run_cli("--config", str(settings), "--replay", str(path), "--headless", "--json") for path in (both, only_spot)
    ]
    assert [done.returncode for done in runs] == [0, 0], runs[0].stderr
    lines, spot_lines = ([json.loads(text) for text in done.stdout.splitlines()] for done in runs)
    kinds = [row["type"] for row in lines]
    assert kinds.count("liquidation") == 2 and "derivatives" in kinds
    derivatives = next(row for row in lines if row["type"] == "derivatives")
    assert derivatives["perp_flows"] == {"binance": -2_999_900.0, "bybit": 99_950.0}
    assert [r for r in lines if r["type"] == "consensus"] == [r for r in spot_lines if r["type"] == "consensus"]
    assert "derivatives_hedge" in [r.get("code") for r in lines]


async def test_pacing_follows_perp_trades_and_history_loads_at_once(tmp_path):
    """SPEC §8: oi lines before the first trade are history (no wait); a perp trade is a trade
    line, so pacing follows it; liquidations and later oi lines never make the replay wait."""
    rows = [
        oi(T0 - 30 * MINUTE_MS, "okx", 1.0),  # history, half an hour before the data
        perp(T0, "okx", "buy", 1.0, 1.0),
        liquidation(T0 + 50_000, "okx", "long", 1.0, 1.0),  # no wait for this one
        perp(T0 + 10_000, "okx", "sell", 1.0, 1.0),  # 10 s of data after the first trade
        oi(T0 + 20 * MINUTE_MS, "okx", 2.0),  # never waited for
        spot(T0 + 30_000, "okx", "buy", 1.0, 1.0),  # 30 s after the first trade
    ]
    slept: list[float] = []
    now = [1_000.0]

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    source = ReplaySource(write(tmp_path / "paced.jsonl", rows), speed=1.0, clock=lambda: now[0], sleep=sleep)
    items = [item for batch in [b async for b in source.batches()] for item in batch]
    assert [type(item).__name__ for item in items] == [
        "OpenInterest",
        "PerpTrade",
        "Liquidation",
        "PerpTrade",
        "OpenInterest",
        "Trade",
    ]
    assert slept == [10.0, 20.0]
