"""Pacing and warm-up of a replay (SPEC §8, issue 12 item 1): history lines load at once, pacing
follows trades; warm-up progress; a file shorter than a window says so; nothing valid is an error."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import MINUTE_MS, EngineEvent, HealthUpdate, MinuteBucket, Scan, Trade
from gme_tui.pipeline import Pipeline
from gme_tui.sources.replay import NothingToReplay, ReplaySource, WarmUp, short_file_line

M0 = 29_425_500  # the first bucket's minute
W = 50


def bucket(minute: int) -> dict[str, object]:
    return {"type": "bucket", "exchange": "binance", "symbol": "BTC/USDT", "minute": minute, "buy": 3.0, "sell": 1.0}


def trade(ts: int, n: int) -> dict[str, object]:
    return {
        "ts": ts,
        "exchange": "binance",
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": 10.0,
        "amount": 1.0,
        "id": str(n),
    }


def write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


class FakeClock:
    """Seconds that move only when the source sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


class ScanTimes:
    """A consumer noting at which fake second each reported scan came out."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.scans: list[tuple[float, int]] = []

    def on_events(self, events: Sequence[EngineEvent]) -> None:
        self.scans.extend((self.clock.now, e.ts) for e in events if isinstance(e, Scan))

    def on_health(self, update: HealthUpdate) -> None:
        return None


async def run_paced(path: Path, clock: FakeClock, speed: float = 1.0) -> ScanTimes:
    source = ReplaySource(path, speed=speed, window_minutes=W, clock=clock, sleep=clock.sleep)
    engine = Engine(EngineConfig(exchanges=("binance",), window_minutes=W, rules=RuleConfig(quorum=1)))
    times = ScanTimes(clock)
    pipeline = Pipeline(source, engine, [times], now_ms=lambda: int(clock.now * 1000))
    await pipeline.run()
    return times


@pytest.mark.parametrize(
    ("first_trade", "first_scan_after"),
    [
        ((M0 + 49) * MINUTE_MS + 30_000, 30.0),  # inside the last backfilled minute: the scan at its end
        ((M0 + 50) * MINUTE_MS + 20_000, 0.0),  # after it: the full window is there with the first trade
    ],
)
async def test_a_recording_with_a_backfilled_window_reports_at_the_first_boundary_after_its_first_trade(
    tmp_path, first_trade, first_scan_after
):
    rows: list[object] = [{"type": "meta", "listings": {"BTC/USDT": ["binance"]}}]
    rows += [bucket(M0 + m) for m in range(W)]
    rows += [trade(first_trade + k * 10_000, k) for k in range(18)]  # three minutes of trades
    clock = FakeClock()
    times = await run_paced(write(tmp_path / "rec.jsonl", rows), clock)
    start = 1_000.0
    first_boundary = (first_trade // MINUTE_MS + 1) * MINUTE_MS
    # the window's 50 minutes of history never had to be waited through
    assert times.scans[0] == (start + first_scan_after, (M0 + W) * MINUTE_MS)
    later = [(round(at - start, 3), ts) for at, ts in times.scans if ts == first_boundary]
    assert later == [((first_boundary - first_trade) / 1000, first_boundary)]
    assert clock.slept and sum(clock.slept) <= 17 * 10 + 0.001  # only the trades' own 170 s


async def test_history_loads_at_once_and_pacing_follows_trades(tmp_path):
    rows: list[object] = [bucket(M0 + m) for m in range(3)]
    rows += [trade((M0 + 3) * MINUTE_MS + off, i) for i, off in enumerate((0, 4_000, 10_000))]
    clock = FakeClock()
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), speed=2.0, clock=clock, sleep=clock.sleep)
    batches = [[type(i).__name__ for i in b] async for b in source.batches()]
    assert batches == [["MinuteBucket"] * 3 + ["Trade"], ["Trade"], ["Trade"]]
    assert clock.slept == [2.0, 3.0]  # 4 s then 6 s of trades at speed 2; nothing for the buckets


async def test_buckets_after_the_first_trade_do_not_pace(tmp_path):
    rows: list[object] = [trade(M0 * MINUTE_MS, 1), bucket(M0 + 30), trade(M0 * MINUTE_MS + 1_000, 2)]
    clock = FakeClock()
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), speed=1.0, clock=clock, sleep=clock.sleep)
    items = [i async for b in source.batches() for i in b]
    assert [type(i) for i in items] == [Trade, MinuteBucket, Trade]
    assert clock.slept == [1.0]


# ---------------------------------------------------------------- warm-up progress


def test_warm_up_progress_counts_data_minutes(tmp_path):
    rows = [trade(M0 * MINUTE_MS + m * MINUTE_MS + 5, m) for m in range(13)]
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), window_minutes=W)
    assert source.warmup() == WarmUp(0, W)
    seen = []
    for item in source.items():
        assert isinstance(item, Trade)
        warmup = source.warmup()
        assert warmup is not None
        seen.append(warmup.text())
    assert seen[-1] == "window 12/50m" and not source.warmup().done  # type: ignore[union-attr]
    assert ReplaySource(tmp_path / "r.jsonl").warmup() is None  # the window unknown: no progress


def test_warm_up_is_done_once_a_full_window_of_history_loaded(tmp_path):
    rows: list[object] = [bucket(M0 + m) for m in range(W)] + [trade((M0 + W) * MINUTE_MS, 1)]
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), window_minutes=W)
    list(source.items())
    assert source.warmup() == WarmUp(W, W) and source.warmup().done  # type: ignore[union-attr]
    assert WarmUp(60, 50).text() == "window 50/50m"


def test_headless_logs_carry_the_warm_up_progress(tmp_path, caplog):
    rows = [trade(M0 * MINUTE_MS + m * MINUTE_MS, m) for m in range(55)]
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), window_minutes=W)
    with caplog.at_level(logging.INFO, logger="gme_tui.sources.replay"):
        for _ in source.chunks(size=1):
            pass
    progress = [r.getMessage() for r in caplog.records if "warm-up" in r.getMessage()]
    assert progress == [f"replay warm-up: window {m}/50m" for m in (10, 20, 30, 40)] + [
        "replay warm-up: window 50/50m: scans report from now on"
    ]


# ---------------------------------------------------------------- short and empty files


def test_a_file_shorter_than_a_window_says_so_in_one_line(tmp_path, caplog):
    rows = [trade(M0 * MINUTE_MS + m * MINUTE_MS + 5, m) for m in range(12)]
    source = ReplaySource(write(tmp_path / "short.jsonl", rows), window_minutes=W)
    with caplog.at_level(logging.WARNING, logger="gme_tui.sources.replay"):
        list(source.items())
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "the replay ended before a full window: its data covers 12 minutes, a scan needs 50; no scan was reported"
    ]
    assert source.summary().covered_minutes == 12


def test_a_file_of_exactly_a_window_reports_its_final_scan_and_says_nothing(tmp_path, caplog):
    rows = [trade(M0 * MINUTE_MS + m * MINUTE_MS + 5, m) for m in range(W)]
    path = write(tmp_path / "w.jsonl", rows)
    source = ReplaySource(path, window_minutes=W)
    engine = Engine(EngineConfig(window_minutes=W, rules=RuleConfig(quorum=1)))
    with caplog.at_level(logging.WARNING, logger="gme_tui.sources.replay"):
        for chunk in source.chunks():
            engine.feed_many(chunk)
    scans = [e for e in engine.finish() if isinstance(e, Scan)]
    assert [s.ts for s in scans] == [(M0 + W) * MINUTE_MS]
    assert caplog.records == [] and short_file_line(source.summary()) is None


def test_meta_only_and_disabled_only_files_say_why_nothing_was_scanned(tmp_path):
    meta = write(tmp_path / "meta.jsonl", [{"type": "meta", "listings": {"X/USDT": ["okx"]}}])
    source = ReplaySource(meta, window_minutes=W)
    list(source.items())
    assert short_file_line(source.summary()) == "the replay holds no trade or bucket line: there was nothing to scan"
    other = write(tmp_path / "bybit.jsonl", [trade(M0 * MINUTE_MS, 1) | {"exchange": "bybit"}])
    source = ReplaySource(other, exchanges=("binance",), window_minutes=W)
    source.check()  # valid lines, of a disabled exchange: not unusable
    list(source.items())
    assert short_file_line(source.summary()) == (
        "the replay holds no trade of an enabled exchange (1 line of disabled exchanges)"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the file is empty"),
        (b"\n  \n", "the file holds only blank lines"),
        (b'{"exchange": []}\n[1]\n[2]\n', "no valid line in 3 lines (2 not a JSON object, 1 exchange is not one of"),
    ],
)
def test_nothing_valid_is_an_error_naming_the_reasons_early_and_at_the_end(tmp_path, body, reason):
    path = tmp_path / "x.jsonl"
    path.write_bytes(body)
    with pytest.raises(NothingToReplay, match=f"^{path}: nothing to replay: " + reason.replace("(", r"\(")):
        ReplaySource(path).check()
    with pytest.raises(NothingToReplay, match="nothing to replay"):
        list(ReplaySource(path).items())


async def test_nothing_valid_ends_the_batches_with_the_error(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"nope\n")
    with pytest.raises(NothingToReplay):
        async for _ in ReplaySource(path).batches():
            pass


async def test_a_duplicate_far_ahead_is_not_waited_for(tmp_path):
    """Pacing follows data time: a duplicate 23 h ahead does not move it (SPEC §6, §8)."""
    t = M0 * MINUTE_MS
    rows = [trade(t, 1), trade(t + 23 * 3_600_000, 1), trade(t + 10_000, 2)]
    clock = FakeClock()
    source = ReplaySource(write(tmp_path / "r.jsonl", rows), speed=1.0, clock=clock, sleep=clock.sleep)
    items = [i async for b in source.batches() for i in b]
    assert len(items) == 3 and clock.slept == [10.0]
