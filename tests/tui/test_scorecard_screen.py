"""The scorecard screen (issue 12 item 3, SPEC §13): the running session's figures, the same as
`gme-tui scorecard` prints, collected by a ScoreCollector on the engine's events, and a plot of each
code's mean return against the baseline. Pilot tests and snapshots at 80 and 160 columns."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Static

from gme_tui.engine import Engine, EngineConfig
from gme_tui.engine.rules import RuleConfig
from gme_tui.model import MINUTE_MS, Trade
from gme_tui.scorecard import Scorecard, ScoreCollector, compute
from gme_tui.scorecard.report import baseline_rows, code_rows
from gme_tui.tui.screens.scorecard import ReturnsChart, ScorecardScreen, plot_horizon, scorecard_words

M0 = 29_425_500
TS0 = M0 * MINUTE_MS
H = (1, 2, 3)
# as tests/test_scorecard.py: Binance's close of minute k is P[k]; the sides make the signals
P = [100.0, 101.0, 103.0, 102.0, 99.0, 104.0, 104.0, 101.0, 100.0, 98.0]
SIDES = ["++", "++", "+-", "--", "++", "+-", "+-", "--", "++", "+-"]


def session(minutes: int = len(P)) -> ScoreCollector:
    """A session of `minutes` minutes through an engine, its events into a ScoreCollector (as the
    pipeline hands them to any consumer)."""
    engine = Engine(EngineConfig(window_minutes=1, rules=RuleConfig(quorum=2), emit_minutes=True))
    collector = ScoreCollector(window_minutes=1)
    for k in range(minutes):
        ts = TS0 + k * MINUTE_MS
        sides = ["buy" if s == "+" else "sell" for s in SIDES[k]]
        amount = 20_000.0 if k == 4 else 1.0
        collector.on_events(
            engine.feed_many(
                [
                    Trade("binance", "BTC/USDT", ts + 1_000, sides[0], P[k], 1.0, f"b{k}"),  # type: ignore[arg-type]
                    Trade("coinbase", "BTC/USDT", ts + 2_000, sides[1], 100.0, amount, f"c{k}"),  # type: ignore[arg-type]
                ]
            )
        )
    collector.on_events(engine.finish())
    return collector


class ScorecardApp(App[None]):
    """A test app showing the screen over an empty one; `calls` counts computations."""

    def __init__(self, collector: ScoreCollector, language: str = "en") -> None:
        super().__init__()
        self.collector = collector
        self.language = language
        self.calls = 0

    def score(self) -> Scorecard:
        self.calls += 1
        return compute(self.collector.data(), H)

    def on_mount(self) -> None:
        self.push_screen(ScorecardScreen(self.score, language=self.language, refresh_seconds=None))  # type: ignore[arg-type]


def text_of(static: Static) -> str:
    return str(static.render())


async def test_the_screen_shows_the_commands_figures():
    app = ScorecardApp(session())
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ScorecardScreen) and screen.card is not None
        card = screen.card
        assert card == compute(session().data(), H)  # the session's figures, as the command computes them
        assert card.scans == 10 and card.symbols == 1
        words = scorecard_words("en")
        assert text_of(screen.query_one("#scorecard-session", Static)) == "10 scans of 1 symbols"
        assert text_of(screen.query_one("#scorecard-plot-title", Static)) == words.plot_title.format(h=2)
        assert screen.table is not None
        cells = [[str(cell) for cell in column.cells] for column in screen.table.columns]
        rows = [row for _, row in code_rows(card)] + [
            tuple(words.baseline if i == 1 else c for i, c in enumerate(row)) for _, row in baseline_rows(card)
        ]
        assert [tuple(column[i] for column in cells) for i in range(len(rows))] == rows
        assert screen.query_one(ReturnsChart).display
        await pilot.press("r")
        assert app.calls == 2
        await pilot.press("escape")
        assert not isinstance(app.screen, ScorecardScreen)


async def test_before_a_full_window_it_says_so():
    app = ScorecardApp(ScoreCollector(window_minutes=50))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ScorecardScreen)
        assert text_of(screen.query_one("#scorecard-session", Static)) == scorecard_words("en").no_scan
        assert not screen.query_one(ReturnsChart).display


def test_the_plot_horizon_is_60_minutes_when_scored():
    card = compute(session().data(), (15, 60, 240))
    assert plot_horizon(card) == 60
    assert plot_horizon(compute(session().data(), H)) == 2


def test_the_collector_skips_a_rescan():
    """A re-scan under new settings (Scan.rescan) is not data: the figures stay the session's."""
    engine = Engine(EngineConfig(window_minutes=1, rules=RuleConfig(quorum=2), emit_minutes=True))
    collector = ScoreCollector(window_minutes=1)
    trades = [Trade("binance", "BTC/USDT", TS0 + k * MINUTE_MS, "buy", 100.0 + k, 1.0, f"b{k}") for k in range(3)]
    collector.on_events(engine.feed_many(trades))
    before = collector.data()
    engine.reconfigure(EngineConfig(window_minutes=1, rules=RuleConfig(quorum=1), emit_minutes=True))
    rescan = engine.rescan()
    assert rescan is not None and rescan.rescan and rescan.symbols[0].signals  # quorum 1: A+ now holds
    collector.on_events([rescan])
    assert collector.data() == before


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("language", ["en", "zh"])
def test_scorecard_snapshot(snap_compare, language, size):
    assert snap_compare(ScorecardApp(session(), language), terminal_size=size)
