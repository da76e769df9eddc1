"""The signal scorecard of the running session (SPEC §13, issue 12 item 3): the figures of
`gme-tui scorecard` for what this session has seen, and a plot where a glance beats a number:
each code's mean return at one horizon (60 minutes when scored) as a bar beside the baseline's.

The screen reads a `Scorecard` through a callable the app hands it (the cli builds it from a
`gme_tui.scorecard.ScoreCollector` on the pipeline: `lambda: compute(collector.data(), horizons)`),
so it knows no source and no pipeline. `r` computes it again; it also refreshes every
REFRESH_SECONDS while shown. Only ASCII goes inside the plot (see widgets/charts.py): titles and
the legend are this screen's widgets, in the catalogue's words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static
from textual_plotext import PlotextPlot

from gme_tui.i18n import catalogue
from gme_tui.i18n.catalogue import ScorecardText
from gme_tui.model import Direction, Language, SignalCode
from gme_tui.scorecard.compute import CodeScore, Scorecard
from gme_tui.scorecard.report import baseline_rows, code_rows
from gme_tui.tui.theme import Colours
from gme_tui.tui.widgets.cells import DEFAULT_COLOURS
from gme_tui.tui.widgets.charts import rgb

REFRESH_SECONDS = 10.0
PLOT_HORIZON = 60  # minutes: the plot's horizon when the scorecard has it (else its middle one)

# ASCII labels inside the plot (plotext measures with len()): grade and the way the code points
PLOT_LABELS: dict[SignalCode, str] = {
    SignalCode.GLOBAL_SYNC_BULLISH: "A+ up",
    SignalCode.GLOBAL_SYNC_BEARISH: "A+ dn",
    SignalCode.US_INSTITUTIONAL_ACCUMULATION: "A",
    SignalCode.DERIVATIVES_HEDGE: "B",
    SignalCode.SINGLE_PLATFORM_LONG_TRAP: "C",
}
BASELINE_LABEL = "base"
NARROW = 100  # columns: below this the table's rows are led by the short label alone


def scorecard_words(language: Language) -> ScorecardText:
    """The screen's words, from the catalogue."""
    return catalogue(language).scorecard


def plot_horizon(card: Scorecard) -> int:
    """The horizon the plot shows: PLOT_HORIZON when scored, else the middle one."""
    if PLOT_HORIZON in card.horizons:
        return PLOT_HORIZON
    return card.horizons[len(card.horizons) // 2]


class ReturnsChart(PlotextPlot):
    """One bar per code: its mean return (percent) at the horizon, in the up or down colour; a
    last grey bar for the baseline's mean. Codes without a closed episode get no bar (label kept)."""

    DEFAULT_CSS = """
    ReturnsChart { height: 12; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.card: Scorecard | None = None
        self.colours: Colours = DEFAULT_COLOURS

    def show(self, card: Scorecard, colours: Colours) -> None:
        self.card, self.colours = card, colours
        self.refresh()

    def render(self) -> RenderResult:
        plot = self.plt
        plot.clear_figure()
        if self.card is not None:
            self._draw(self.card)
        return super().render()

    def _draw(self, card: Scorecard) -> None:
        plot, colours, h = self.plt, self.colours, plot_horizon(card)
        labels = [PLOT_LABELS.get(score.code, str(score.code)[:5]) for score in card.codes]
        values = [_percent(score.horizons[h].mean) for score in card.codes]
        xs = [float(x) for x in range(len(labels))]
        for sign, style in ((1, colours.up), (-1, colours.down)):
            plot.bar(xs, [v if v * sign > 0 else 0.0 for v in values], color=rgb(style), width=0.6, marker="sd")
        # the baseline: a bar of its own at the end, in the neutral colour (a line near zero
        # would hide under the zero line)
        base = _percent(card.baseline[h].mean)
        plot.bar([float(len(labels))], [base], color=rgb(colours.neutral), width=0.6, marker="sd")
        plot.hline(0.0, rgb(colours.neutral))
        low, high = min(0.0, base, *values), max(0.0, base, *values)
        if low == high:
            low, high = low - 0.1, high + 0.1
        span = high - low
        plot.ylim(low - span * 0.05, high + span * 0.05)
        ticks = sorted({low, high, 0.0})
        plot.yticks(ticks, [f"{t:+.2f}%" for t in ticks])
        plot.xticks([*xs, float(len(labels))], [*labels, BASELINE_LABEL])
        plot.xlim(-0.6, len(labels) + 0.6)


def _percent(fraction: float | None) -> float:
    """A return as a bar's height in percent; no closed episode: no bar."""
    return 0.0 if fraction is None else fraction * 100.0


class ScorecardScreen(ModalScreen[None]):
    """The running session's scorecard: the table and the plot. `score` computes it (cheap: a
    session's minutes, 0.1 s at 1M trades, benchmarks/bench_scorecard.py)."""

    DEFAULT_CSS = """
    ScorecardScreen { align: center middle; }
    ScorecardScreen > VerticalScroll { width: 100%; height: 100%; background: $surface; padding: 0 1; }
    ScorecardScreen #scorecard-title { text-style: bold; }
    ScorecardScreen .scorecard-note { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "close", show=False),
        Binding("r", "refresh_card", "refresh", show=False),
    ]

    def __init__(
        self,
        score: Callable[[], Scorecard],
        *,
        language: Language = "en",
        colours: Colours = DEFAULT_COLOURS,
        refresh_seconds: float | None = REFRESH_SECONDS,
    ) -> None:
        super().__init__()
        self._score = score
        self.words = scorecard_words(language)
        self.colours = colours
        self._refresh_seconds = refresh_seconds
        self.card: Scorecard | None = None
        self.table: Table | None = None  # the figures last shown

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.words.title, id="scorecard-title")
            yield Static("", id="scorecard-session", classes="scorecard-note")
            yield Static("", id="scorecard-plot-title")
            yield ReturnsChart(id="scorecard-plot")
            yield Static("", id="scorecard-legend", classes="scorecard-note")
            yield Static("", id="scorecard-table")
            yield Static(self.words.footer, classes="scorecard-note")

    def on_mount(self) -> None:
        self.action_refresh_card()
        if self._refresh_seconds:
            self.set_interval(self._refresh_seconds, self.action_refresh_card)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_refresh_card(self) -> None:
        self.show(self._score())

    def show(self, card: Scorecard) -> None:
        self.card = card
        words = self.words
        scanned = card.first_scan_ms is not None
        self.query_one("#scorecard-session", Static).update(
            words.session.format(scans=card.scans, symbols=card.symbols) if scanned else words.no_scan
        )
        chart = self.query_one(ReturnsChart)
        chart.display = scanned
        h = plot_horizon(card)
        self.query_one("#scorecard-plot-title", Static).update(words.plot_title.format(h=h) if scanned else "")
        self.query_one("#scorecard-legend", Static).update(words.legend.format(h=h) if scanned else "")
        if scanned:
            chart.show(card, self.colours)
        self.table = self._table(card)
        self.query_one("#scorecard-table", Static).update(self.table)

    def on_resize(self) -> None:
        if self.card is not None:  # the table's columns depend on the width
            self.show(self.card)

    def _direction(self, score: CodeScore) -> str:
        bullish, bearish, neutral = self.words.directions
        return {Direction.BULLISH: bullish, Direction.BEARISH: bearish}.get(score.direction, neutral)

    def _table(self, card: Scorecard) -> Table:
        """The figures of `gme-tui scorecard` (report.code_rows / baseline_rows), mean and median
        coloured by sign. Narrower than NARROW columns: the plot's short label (`A+ up`) stands
        for grade, signal and direction, so no figure is cut."""
        words, colours = self.words, self.colours
        narrow = 0 < self.size.width < NARROW
        table = Table(box=None, pad_edge=False, show_edge=False, expand=False, header_style="bold")
        header = (words.header[0], *words.header[3:]) if narrow else words.header
        for number, name in enumerate(header):
            table.add_column(name, justify="right" if number >= len(header) - 6 else "left", no_wrap=True)
        for score, row in code_rows(card):
            style = colours.neutral if score.direction is Direction.NEUTRAL else ""
            closed = score.horizons[int(row[3].rstrip("m"))]
            lead = [PLOT_LABELS.get(score.code, row[1])] if narrow else [row[0], row[1], self._direction(score)]
            hits = words.not_applicable if score.direction is Direction.NEUTRAL else row[6]
            cells = [Text(cell, style=style) for cell in (*lead, *row[3:6], hits, row[7])]
            cells += [
                Text(row[8], style=colours.signed(closed.mean)),
                Text(row[9], style=colours.signed(closed.median)),
            ]
            table.add_row(*cells)
        for base, row in baseline_rows(card):
            lead = [BASELINE_LABEL] if narrow else ["", words.baseline, ""]
            rate = row[7] if base.up_rate is None else words.up.format(rate=f"{base.up_rate * 100:.1f}%")
            cells = [Text(cell, style=colours.neutral) for cell in (*lead, *row[3:7], rate)]
            cells += [Text(row[8], style=colours.signed(base.mean)), Text(row[9], style=colours.signed(base.median))]
            table.add_row(*cells)
        return table
