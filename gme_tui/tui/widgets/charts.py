"""Charts with axes for the detail screen, on textual-plotext: net flow per minute as signed bars,
cumulative flow as lines, a time axis in the display zone and money ticks (`+523k`, `-2.02M`).

Only ASCII goes inside a plot (plotext measures text with len(), so a CJK title would break its
frame): titles and legends are drawn by the screen, in the catalogue's words. The figure is
rebuilt on every render from the data last given, so it always fits the widget's current size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo

from rich.style import Style
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from gme_tui import format as fmt
from gme_tui.model import MINUTE_MS
from gme_tui.tui.theme import Colours
from gme_tui.tui.widgets.cells import DEFAULT_COLOURS

Rgb = tuple[int, int, int]
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720)  # minutes between time labels
TIME_LABEL_CELLS = 8  # "07:10" and room to breathe


def rgb(style: Style) -> Rgb:
    """The style's foreground as an RGB triplet (every Colours style has a truecolour one)."""
    color = style.color
    triplet = color.triplet if color is not None else None
    if triplet is None:
        return (224, 224, 224)
    return (triplet.red, triplet.green, triplet.blue)


def time_ticks(first_ms: int, minutes: int, width: int, zone: tzinfo) -> tuple[list[float], list[str]]:
    """Positions (minute index) and HH:MM labels for a time axis of `minutes` points in `width`
    cells: the smallest round step whose labels do not crowd, aligned to whole minutes of the hour."""
    if minutes <= 0:
        return [], []
    fits = max(2, width // TIME_LABEL_CELLS)
    step = next((s for s in TICK_STEPS if minutes / s <= fits), TICK_STEPS[-1])
    first_minute = first_ms // MINUTE_MS
    indexes = [k for k in range(minutes) if (first_minute + k) % step == 0]
    labels = [fmt.clock(first_ms + k * MINUTE_MS, zone, seconds=False) for k in indexes]
    return [float(k) for k in indexes], labels


def money_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Ticks at the extremes and at zero (when inside), labelled as the table writes money."""
    values = sorted({low, high, 0.0} if low < 0 < high else {low, high})
    return values, [fmt.money(v) if v else "0" for v in values]


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a line chart: its values (oldest first) and its colour."""

    values: tuple[float, ...]
    style: Style


class FlowChart(PlotextPlot):
    """Either signed bars (`show_bars`) or lines (`show_lines`) over the minutes from `first_ms`."""

    DEFAULT_CSS = """
    FlowChart { height: 10; width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.first_ms = 0
        self.zone: tzinfo = UTC
        self.colours: Colours = DEFAULT_COLOURS
        self.bars: tuple[float, ...] = ()
        self.lines: tuple[Series, ...] = ()

    def show_bars(self, first_ms: int, values: Sequence[float], colours: Colours, zone: tzinfo) -> None:
        """Per-minute net flow, each bar from zero in the up or down colour."""
        self.first_ms, self.zone, self.colours = first_ms, zone, colours
        self.bars, self.lines = tuple(values), ()
        self.refresh()

    def show_lines(self, first_ms: int, series: Sequence[Series], colours: Colours, zone: tzinfo) -> None:
        self.first_ms, self.zone, self.colours = first_ms, zone, colours
        self.bars, self.lines = (), tuple(series)
        self.refresh()

    def render(self) -> RenderResult:
        plot = self.plt
        plot.clear_figure()
        minutes = len(self.bars) or max((len(s.values) for s in self.lines), default=0)
        if minutes:
            self._draw(minutes)
        return super().render()

    def _draw(self, minutes: int) -> None:
        plot, colours = self.plt, self.colours
        xs = list(range(minutes))
        if self.bars:
            # two series over every minute, so each bar has one colour (inflow up from zero, outflow
            # down from it); the zero line last, over the empty bars of the other sign
            for sign, style in ((1, colours.up), (-1, colours.down)):
                heights = [v if v * sign > 0 else 0.0 for v in self.bars]
                plot.bar(xs, heights, color=rgb(style), width=0.8, marker="sd")
            plot.hline(0.0, rgb(colours.neutral))
            values = list(self.bars)
        else:
            values = []
            for line in self.lines:
                plot.plot(xs[: len(line.values)], list(line.values), color=rgb(line.style), marker="braille")
                values.extend(line.values)
        low, high = min(0.0, *values), max(0.0, *values)
        if low == high:
            high = low + 1.0
        plot.ylim(low, high)
        plot.yticks(*money_ticks(low, high))
        plot.xlim(-0.5, minutes - 0.5)
        plot.xticks(*time_ticks(self.first_ms, minutes, max(20, self.size.width - 10), self.zone))
