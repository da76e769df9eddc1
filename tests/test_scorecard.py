"""The signal scorecard (SPEC §13, issue 12 item 3) on a small file whose figures are worked out
by hand below: episodes (a run of consecutive scans counts once), hits per direction, open
horizons left out, neutral codes without hits, the baseline; the same figures from the replay
and from a store holding the same data."""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path

import pytest

from gme_tui.engine import EngineConfig
from gme_tui.model import MINUTE_MS, SignalCode
from gme_tui.scorecard import (
    HorizonScore,
    PriceSeries,
    ScoreData,
    SignalMark,
    SymbolHistory,
    compute,
    scan_times,
    to_json,
)
from gme_tui.scorecard.command import parse_since, run_scorecard
from gme_tui.scorecard.inputs import history_data, replay_data, stored_symbols
from gme_tui.settings import Settings, load_settings
from gme_tui.store import Store

M0 = 29_425_500
TS0 = M0 * MINUTE_MS  # 2025-12-12 09:00 UTC
H = (1, 2, 3)  # horizons in minutes: small, so a ten-minute file closes them

# Binance's one trade of minute k is at price P[k]; its side and coinbase's make the signal the
# scan after that minute holds (window: 1 minute, so scan T_(k+1) reads minute k only).
P = [100.0, 101.0, 103.0, 102.0, 99.0, 104.0, 104.0, 101.0, 100.0, 98.0]
SIDES = ["++", "++", "+-", "--", "++", "+-", "+-", "--", "++", "+-"]  # binance, coinbase
# scan:   T1 A+   T2 A+   T3 C    T4 A+b  T5 A+,A T6 C    T7 C    T8 A+b  T9 A+   T10 C (the last scan)


def lines() -> list[str]:
    rows: list[dict[str, object]] = []
    for k, (price, sides) in enumerate(zip(P, SIDES, strict=True)):
        ts = TS0 + k * MINUTE_MS
        rows.append(_trade(ts + 1_000, "binance", sides[0], price, 1.0, f"b{k}"))
        amount = 20_000.0 if k == 4 else 1.0  # minute 4: coinbase buys 2M, so A holds at T5
        rows.append(_trade(ts + 2_000, "coinbase", sides[1], 100.0, amount, f"c{k}"))
    return [json.dumps(r) for r in rows]


def _trade(ts: int, exchange: str, sign: str, price: float, amount: float, trade_id: str) -> dict[str, object]:
    side = "buy" if sign == "+" else "sell"
    return {
        "ts": ts,
        "exchange": exchange,
        "symbol": "BTC/USDT",
        "side": side,
        "price": price,
        "amount": amount,
        "id": trade_id,
    }


def r(a: float, b: float) -> float:
    """The forward return from a close of `a` to a close of `b`."""
    return b / a - 1


# Worked out by hand. An episode at scan T_k prices at p0 = P[k-1] (the last binance close before
# T_k) and at T_k + h on P[k+h-1]; T_k + h after T10 (k + h > 10) is open.
EXPECTED_RETURNS = {
    # A+ bullish: T1 (T2 continues it), T5, T9 (open at 2 and 3)
    SignalCode.GLOBAL_SYNC_BULLISH: {
        1: [r(100, 101), r(99, 104), r(100, 98)],
        2: [r(100, 103), r(99, 104)],
        3: [r(100, 102), r(99, 101)],
    },
    # A+ bearish: T4, T8 (open at 3)
    SignalCode.GLOBAL_SYNC_BEARISH: {
        1: [r(102, 99), r(101, 100)],
        2: [r(102, 104), r(101, 98)],
        3: [r(102, 104)],
    },
    # A: T5
    SignalCode.US_INSTITUTIONAL_ACCUMULATION: {1: [r(99, 104)], 2: [r(99, 104)], 3: [r(99, 101)]},
    # C: T3, T6 (T7 continues it), T10 (open at every horizon)
    SignalCode.SINGLE_PLATFORM_LONG_TRAP: {
        1: [r(103, 102), r(104, 104)],
        2: [r(103, 99), r(104, 101)],
        3: [r(103, 104), r(104, 100)],
    },
    SignalCode.DERIVATIVES_HEDGE: {1: [], 2: [], 3: []},
}
EXPECTED_HITS = {  # bullish: r > 0; bearish: r < 0 (a return of exactly 0 is no hit)
    SignalCode.GLOBAL_SYNC_BULLISH: {1: 2, 2: 2, 3: 2},
    SignalCode.GLOBAL_SYNC_BEARISH: {1: 2, 2: 1, 3: 0},
    SignalCode.US_INSTITUTIONAL_ACCUMULATION: {1: 1, 2: 1, 3: 1},
    SignalCode.SINGLE_PLATFORM_LONG_TRAP: {1: 1, 2: 2, 3: 1},
}
EXPECTED_EPISODES = {  # started in the data, open ones included
    SignalCode.GLOBAL_SYNC_BULLISH: 3,
    SignalCode.GLOBAL_SYNC_BEARISH: 2,
    SignalCode.US_INSTITUTIONAL_ACCUMULATION: 1,
    SignalCode.SINGLE_PLATFORM_LONG_TRAP: 3,
    SignalCode.DERIVATIVES_HEDGE: 0,
}
# Baseline: every scan T1..T10 of BTC/USDT, closed when k + h <= 10.
BASELINE = {
    1: [r(P[k - 1], P[k]) for k in range(1, 10)],
    2: [r(P[k - 1], P[k + 1]) for k in range(1, 9)],
    3: [r(P[k - 1], P[k + 2]) for k in range(1, 8)],
}
BASELINE_UP = {1: 3, 2: 4, 3: 4}  # counted by hand from P


@pytest.fixture
def tape(tmp_path: Path) -> Path:
    path = tmp_path / "tape.jsonl"
    path.write_text("\n".join(lines()) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text('timezone = "UTC"\n[window]\nminutes = 1\n[consensus]\nmin_exchanges = 2\n', encoding="utf-8")
    return path


def config(settings_file: Path) -> EngineConfig:
    return EngineConfig.from_settings(load_settings(settings_file), live=False)


def test_the_figures_worked_out_by_hand(tape, settings_file):
    card = compute(replay_data(tape, config(settings_file)), H)
    assert card.horizons == H and card.scans == 10 and card.symbols == 1
    assert card.first_scan_ms == TS0 + MINUTE_MS and card.last_scan_ms == TS0 + 10 * MINUTE_MS
    for score in card.codes:
        assert score.episodes == EXPECTED_EPISODES[score.code], score.code
        for h in H:
            returns = EXPECTED_RETURNS[score.code][h]
            got = score.horizons[h]
            assert got.episodes == len(returns), (score.code, h)
            if not returns:
                assert got == HorizonScore(0, None, None, None, None)
                continue
            hits = EXPECTED_HITS[score.code][h]
            assert (got.hits, got.hit_rate) == (hits, round(hits / len(returns), 4)), (score.code, h)
            assert got.mean == pytest.approx(statistics.fmean(returns), abs=1e-15)
            assert got.median == pytest.approx(statistics.median(returns), abs=1e-15)
    for h in H:
        base = card.baseline[h]
        assert base.scans == len(BASELINE[h])
        assert base.up_rate == round(BASELINE_UP[h] / len(BASELINE[h]), 4)
        assert base.mean == pytest.approx(statistics.fmean(BASELINE[h]), abs=1e-15)
        assert base.median == pytest.approx(statistics.median(BASELINE[h]), abs=1e-15)


def test_a_few_figures_spelled_out(tape, settings_file):
    """The same, for a reader: A+ bullish at 1 minute has 3 closed episodes, 2 hits."""
    card = compute(replay_data(tape, config(settings_file)), H)
    bullish = next(c for c in card.codes if c.code == SignalCode.GLOBAL_SYNC_BULLISH)
    assert bullish.horizons[1].hit_rate == 0.6667 and bullish.horizons[1].median == pytest.approx(0.01)
    assert bullish.horizons[2].episodes == 2  # T9 + 2 minutes is after the last scan: open
    trap = next(c for c in card.codes if c.code == SignalCode.SINGLE_PLATFORM_LONG_TRAP)
    assert [trap.horizons[h].episodes for h in H] == [2, 2, 2]  # T10's episode is open everywhere
    assert card.baseline[1].up_rate == 0.3333


def test_the_same_figures_from_a_store_holding_the_same_data(tmp_path, tape, settings_file, run_cli):
    database = tmp_path / "history.db"
    done = run_cli("--config", str(settings_file), "--replay", str(tape), "--json", "--store", str(database))
    assert done.returncode == 0, done.stderr
    from_replay = replay_data(tape, config(settings_file))
    store = Store(database)
    try:
        from_store = history_data(store, stored_symbols(database), window_minutes=1)
    finally:
        store.close()
    assert from_store == from_replay  # the one input shape, built alike
    assert to_json(compute(from_store, H)) == to_json(compute(from_replay, H))
    out = io.StringIO()
    settings = load_settings(settings_file)
    assert run_scorecard(settings, store=str(database), as_json=True, out=out, horizons=H) == 0
    replayed = io.StringIO()
    assert run_scorecard(settings, replay=tape, as_json=True, out=replayed, horizons=H) == 0
    assert json.loads(out.getvalue()) == json.loads(replayed.getvalue())


def test_the_json_is_shaped_as_spec_shows(tape, settings_file):
    out = io.StringIO()
    assert run_scorecard(load_settings(settings_file), replay=tape, as_json=True, out=out) == 0
    text = out.getvalue()
    assert text.count("\n") == 1  # one object, one line
    card = json.loads(text)
    assert list(card) == ["horizons", "codes", "baseline"] and card["horizons"] == [15, 60, 240]
    assert list(card["codes"]) == [
        "global_sync_bullish",
        "global_sync_bearish",
        "us_institutional_accumulation",
        "derivatives_hedge",
        "single_platform_long_trap",
    ]
    bullish = card["codes"]["global_sync_bullish"]
    assert bullish["direction"] == "bullish" and list(bullish) == ["direction", "15", "60", "240"]
    # ten minutes of data: every horizon of 15 minutes or more is open
    assert bullish["15"] == {"episodes": 0, "hits": None, "hit_rate": None, "mean": None, "median": None}
    assert card["codes"]["derivatives_hedge"]["direction"] == "neutral"
    assert card["baseline"]["15"] == {"scans": 0, "up_rate": None, "mean": None, "median": None}


def test_the_table(tape, settings_file):
    out = io.StringIO()
    assert run_scorecard(load_settings(settings_file), replay=tape, out=out, horizons=H) == 0
    text = out.getvalue().splitlines()
    assert text[0] == (
        f"signal scorecard of {tape}: scans 2025-12-12 09:01 to 2025-12-12 09:10 UTC, 10 scans of 1 symbols"
    )
    header = text[1].split()
    assert header[:4] == ["grade", "signal", "direction", "h"]
    row = next(line for line in text if "global_sync_bullish" in line and " 1m " in line)
    assert row.split() == ["A+", "global_sync_bullish", "bullish", "1m", "3", "2", "66.7%", "+1.350%", "+1.000%"]
    open_row = next(line for line in text if "global_sync_bullish" in line and " 2m " in line)
    assert open_row.split()[4:7] == ["2", "1", "2"]  # 2 closed, 1 open, 2 hits
    base = next(line for line in text if "baseline" in line and " 1m " in line)
    assert "up 33.3%" in base


# ---------------------------------------------------------------- on hand-built data


def _series(first: int, closes: dict[int, float]) -> PriceSeries:
    return PriceSeries(first, sorted(closes), [closes[m] for m in sorted(closes)])


def test_neutral_codes_report_returns_without_hits():
    prices = {"binance": _series(0, {m: 100.0 + m for m in range(10)})}
    marks = (SignalMark(3 * MINUTE_MS, SignalCode.DERIVATIVES_HEDGE, ("binance",)),)
    data = ScoreData(1, tuple(range(10)), (SymbolHistory("X/USDT", prices, marks),))
    score = next(c for c in compute(data, (2,)).codes if c.code == SignalCode.DERIVATIVES_HEDGE)
    assert score.horizons[2] == HorizonScore(1, None, None, r(102, 104), r(102, 104))


def test_the_reference_exchange_is_binance_when_it_participates_else_the_first():
    prices = {
        "okx": _series(0, {m: 10.0 for m in range(10)} | {5: 20.0}),
        "binance": _series(4, {4: 100.0, 5: 110.0, 6: 120.0}),
        "coinbase": _series(0, {m: 1.0 for m in range(10)}),
    }
    marks = (
        SignalMark(2 * MINUTE_MS, SignalCode.GLOBAL_SYNC_BULLISH, ("okx", "coinbase")),  # before binance
        SignalMark(6 * MINUTE_MS, SignalCode.GLOBAL_SYNC_BULLISH, ("okx", "binance", "coinbase")),
    )
    data = ScoreData(1, tuple(range(10)), (SymbolHistory("X/USDT", prices, marks),))
    score = compute(data, (1,)).codes[0]
    assert score.horizons[1].mean == pytest.approx(statistics.fmean([r(10, 10), r(110, 120)]))


def test_no_reference_price_before_t_leaves_the_episode_unpriced():
    prices = {"binance": _series(0, {5: 100.0, 6: 101.0})}
    marks = (SignalMark(3 * MINUTE_MS, SignalCode.GLOBAL_SYNC_BULLISH, ("binance",)),)
    data = ScoreData(1, tuple(range(10)), (SymbolHistory("X/USDT", prices, marks),))
    score = compute(data, (1,)).codes[0]
    assert (score.episodes, score.unpriced, score.horizons[1].episodes) == (1, 1, 0)


def test_scans_start_after_the_warm_up_and_within_the_period():
    data = ScoreData(3, (10, 11, 12, 13, 14, 20), (), since_ms=14 * MINUTE_MS, until_ms=21 * MINUTE_MS)
    assert scan_times(data) == [14 * MINUTE_MS, 15 * MINUTE_MS, 21 * MINUTE_MS]


def test_since_limits_the_episodes_and_the_baseline(tape, settings_file):
    since = TS0 + 5 * MINUTE_MS
    card = compute(replay_data(tape, config(settings_file), since_ms=since), H)
    bullish = next(c for c in card.codes if c.code == SignalCode.GLOBAL_SYNC_BULLISH)
    assert bullish.episodes == 2  # T5 and T9; T1's is before
    assert card.baseline[1].scans == 5  # T5..T9


def test_horizons_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        compute(ScoreData(1, (), ()), (0, 15))


# ---------------------------------------------------------------- the command


def test_parse_since():
    from datetime import UTC

    now = TS0 + 60 * MINUTE_MS
    assert parse_since("90m", UTC, now) == now - 90 * MINUTE_MS
    assert parse_since("24h", UTC, now) == now - 24 * 60 * MINUTE_MS
    assert parse_since("1.5d", UTC, now) == now - 36 * 60 * MINUTE_MS
    assert parse_since("2025-12-12", UTC, now) == TS0 - 9 * 60 * MINUTE_MS
    assert parse_since("2025-12-12 09:00", UTC, now) == TS0
    assert parse_since("2025-12-12T17:00+08:00", UTC, now) == TS0


def test_unusable_input_is_one_line_and_exit_2(tmp_path):
    settings = Settings()
    err = io.StringIO()
    assert run_scorecard(settings, replay=tmp_path / "nope.jsonl", err=err) == 2
    assert err.getvalue() == f"gme-tui scorecard: replay file not found: {tmp_path / 'nope.jsonl'}\n"
    err = io.StringIO()
    assert run_scorecard(settings, store=str(tmp_path / "none.db"), err=err) == 2
    assert err.getvalue().startswith(f"gme-tui scorecard: no store at {tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()
    err = io.StringIO()
    assert run_scorecard(settings, store=str(tmp_path / "none.db"), since="yesterday", err=err) == 2
    assert err.getvalue().startswith("gme-tui scorecard: --since 'yesterday': not a date")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    err = io.StringIO()
    assert run_scorecard(settings, replay=empty, err=err) == 2
    assert err.getvalue() == f"gme-tui scorecard: {empty}: nothing to replay: the file is empty\n"
