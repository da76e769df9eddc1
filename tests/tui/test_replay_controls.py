"""The replay's controls in the TUI (issue 12 items 1 and 2): pause stops the replay's data time,
the speed keys change the speed shown, `n` plays to the next signal, warm-up progress shows until a
window is full, and the skip summary shows at the end. The source's clock and sleep are injected:
a sleep returns only when the test hands it a token, so nothing here waits on wall time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import msgspec

from gme_tui import format as fmt
from gme_tui.engine import Engine, EngineConfig
from gme_tui.model import MINUTE_MS, Listings, MinuteBucket
from gme_tui.pipeline import Pipeline
from gme_tui.settings import Settings
from gme_tui.sources.replay import ReplaySource
from gme_tui.tui.app import GmeApp
from gme_tui.tui.replay import faster, slower
from gme_tui.tui.widgets.keybar import KeyBar
from gme_tui.tui.widgets.status import StatusBar, status_text
from tests.tui.market import NOW_MS, START_MINUTE, WINDOW, market_items

BOUND = 2_000  # pilot turns any wait below may take at most


class GatedClock:
    """Seconds that move only when a sleep is let through: `release(n)` lets n sleeps finish."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.tokens: asyncio.Queue[None] | None = None
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    def release(self, count: int = 1) -> None:
        queue = self._queue()
        for _ in range(count):
            queue.put_nowait(None)

    def _queue(self) -> asyncio.Queue[None]:
        if self.tokens is None:
            self.tokens = asyncio.Queue()
        return self.tokens

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await self._queue().get()
        self.now += seconds


def lines_of(items: list[object]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for item in items:
        if isinstance(item, Listings):
            rows.append({"type": "meta", "listings": {s: list(e) for s, e in item.symbols.items()}})
        elif isinstance(item, MinuteBucket):
            row: dict[str, object] = {"type": "bucket", "exchange": item.exchange, "symbol": item.symbol}
            row.update(minute=item.minute, buy=item.buy, sell=item.sell, count=item.count)
            if item.close is not None:
                row["close"] = item.close
            rows.append(row)
    return rows


def trade_line(minute: int, n: int, symbol: str = "BTC/USDT") -> dict[str, object]:
    ts = minute * MINUTE_MS + 5_000
    return {
        "ts": ts,
        "exchange": "binance",
        "symbol": symbol,
        "side": "buy",
        "price": 42_000.0,
        "amount": 0.01,
        "id": str(n),
    }


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def signal_file(tmp_path: Path, trades: int = 6) -> Path:
    """A window of backfilled minutes whose scans carry signals, then one trade a minute."""
    rows = lines_of(list(market_items()))
    rows += [trade_line(START_MINUTE + WINDOW + k, k) for k in range(trades)]
    return write(tmp_path / "signals.jsonl", rows)


def warmup_file(tmp_path: Path, minutes: int = WINDOW + 3) -> Path:
    """Trades only: the first window fills as the replay plays."""
    return write(tmp_path / "warmup.jsonl", [trade_line(START_MINUTE + k, k) for k in range(minutes)])


def replay_app(settings: Settings, path: Path, clock: GatedClock, speed: float = 1.0) -> tuple[GmeApp, ReplaySource]:
    source = ReplaySource(
        path,
        speed=speed,
        exchanges=settings.enabled_exchanges,
        window_minutes=settings.window.minutes,
        keep_extra_minutes=settings.window.keep_extra_minutes,
        clock=clock,
        sleep=clock.sleep,
        language=settings.language,
    )
    source.check()
    pipeline = Pipeline(source, Engine(EngineConfig.from_settings(settings, live=False)))
    source.engine_stats = lambda: pipeline.engine.stats
    return GmeApp(settings, pipeline, replay=source, now_ms=lambda: NOW_MS), source


async def until(pilot, app: GmeApp, condition: Callable[[], bool]) -> None:
    """Run the app's loop until `condition` holds (bounded), then one tick."""
    for _ in range(BOUND):
        if condition():
            app.tick()
            await pilot.pause()
            return
        await pilot.pause()
    raise AssertionError("the condition never held")


def clock_text(ts: int) -> str:
    return fmt.clock(ts, fmt.zone("UTC"))


def status_line(app: GmeApp) -> str:
    info = app.query_one(StatusBar).info
    assert info is not None
    return status_text(info).plain


# ---------------------------------------------------------------- the speed steps


def test_speed_steps():
    assert [faster(s, allow_max=False) for s in (1, 2, 5, 10, 30, 60, 120, 300, 600)] == [
        2,
        5,
        10,
        30,
        60,
        120,
        300,
        600,
        600,
    ]
    assert faster(600, allow_max=True) == 0
    assert faster(0, allow_max=True) == 0
    assert faster(3, allow_max=False) == 5
    assert [slower(s) for s in (0, 600, 300, 2, 1, 3)] == [600, 300, 120, 1, 1, 2]


# ---------------------------------------------------------------- the app


async def test_pause_stops_the_replays_data_time(tui_settings: Settings, tmp_path: Path):
    clock = GatedClock()
    app, source = replay_app(tui_settings, warmup_file(tmp_path), clock)
    first = (START_MINUTE * MINUTE_MS) + 5_000
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, app, lambda: source.data_time() == first and clock.sleeps == 1)
        assert f"data {clock_text(first)} " in status_line(app)
        await pilot.press("space")
        assert source.paused
        await until(pilot, app, lambda: "REPLAY PAUSED" in status_line(app))
        clock.release(3)  # the sleep was cut short by the pause: nothing takes these while paused
        for _ in range(50):
            await pilot.pause()
        assert source.data_time() == first
        assert clock.tokens is not None and clock.tokens.qsize() == 3
        await pilot.press("space")
        assert not source.paused
        await until(pilot, app, lambda: (source.data_time() or 0) >= first + 3 * MINUTE_MS)
        assert "REPLAY PAUSED" not in status_line(app)


async def test_the_speed_keys_change_the_speed_shown(tui_settings: Settings, tmp_path: Path):
    clock = GatedClock()
    app, source = replay_app(tui_settings, warmup_file(tmp_path), clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, app, lambda: clock.sleeps == 1)
        assert "×1 " in status_line(app)
        for key, shown in (("plus", 2.0), ("plus", 5.0), ("minus", 2.0), ("minus", 1.0), ("minus", 1.0)):
            await pilot.press(key)
            assert source.speed == shown
            app.tick()
            assert f"×{shown:g} " in status_line(app)
        keys = app.query_one(KeyBar).line(200).plain
        assert "space Play/pause" in keys and "n Next signal" in keys
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert {"Play/pause", "Faster", "Slower", "Next signal"} <= set(titles)


async def test_replay_keys_are_hidden_without_a_replay(make_app):
    app = make_app()
    async with app.run_test(size=(200, 30)) as pilot:
        await pilot.pause()
        assert "Next signal" not in app.query_one(KeyBar).line(200).plain
        assert app.check_action("next_signal", ()) is False
        assert "Next signal" not in [command.title for command in app.get_system_commands(app.screen)]
        await pilot.press("n")  # inactive: nothing happens, nothing fails
        assert app.replay is None


async def test_next_signal_plays_to_a_signal_then_at_the_speed_before(tui_settings: Settings, tmp_path: Path):
    clock = GatedClock()
    app, source = replay_app(tui_settings, signal_file(tmp_path, trades=8), clock, speed=10)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, app, lambda: clock.sleeps == 1)  # the first trade is in, the second waits
        seen = app.market.scans_seen
        await pilot.press("n")
        assert "→ next signal" in status_line(app) or source.speed == 10
        await until(pilot, app, lambda: app.market.scans_seen > seen and clock.sleeps >= 2)
        scan = app.market.scan
        assert scan is not None and any(item.signals for item in scan.symbols)  # it landed on a signal
        assert source.speed == 10  # and plays on at the speed before
        assert "×10 " in status_line(app)
        data_time = source.data_time()
        assert data_time is not None and scan.ts <= data_time < scan.ts + MINUTE_MS
        assert not source.finished  # it stopped at the signal, not at the end of the file


async def test_warm_up_shows_then_goes_and_the_summary_shows_at_the_end(tui_settings: Settings, tmp_path: Path):
    clock = GatedClock()
    app, _source = replay_app(tui_settings, warmup_file(tmp_path), clock)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, app, lambda: clock.sleeps == 1)
        assert f"window 0/{WINDOW}m" in status_line(app)
        clock.release(10)
        await until(pilot, app, lambda: clock.sleeps == 11)
        assert f"window 10/{WINDOW}m" in status_line(app)
        clock.release(100)
        await until(pilot, app, lambda: app.pipeline_finished)
        line = status_line(app)
        assert "window " not in line
        assert "replay finished: " in line and "53 lines" in line
        assert "100%" in line
        await pilot.pause()
        assert any("53 lines" in str(n.message) for n in app._notifications)


def test_snapshot_of_the_replay_status_bar_in_chinese(tui_settings: Settings, tmp_path: Path, snap_compare):
    """Paused on the first scan of a replay at ×10: data time, speed, progress, the pause mark."""
    clock = GatedClock()
    settings = msgspec.structs.replace(tui_settings, language="zh")
    app, _source = replay_app(settings, signal_file(tmp_path), clock, speed=10)

    async def run_before(pilot) -> None:
        await until(pilot, app, lambda: clock.sleeps == 1)
        await pilot.press("space")
        await until(pilot, app, lambda: app.replay is not None and app.replay.paused)

    assert snap_compare(app, run_before=run_before, terminal_size=(100, 30))
