"""Detail of one symbol: the consensus and its figures, a per-exchange table (per-minute bars on a
shared scale, net, buy/sell ratio, coverage), charts with axes and time labels (net flow per minute
of all exchanges; cumulative flow per exchange), the perpetual side (SPEC §4b: spot against perp
totals and their cumulative flow, the per-venue perp table, open interest at both ends of the
window, the window's liquidations, marked as sampled where a venue samples them), the last 24 h
from the store (when one is open), and the symbol's recent whales, liquidations and signals.
Every word from the catalogue, every colour from the theme's semantic colours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from itertools import accumulate

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from gme_tui import format as fmt
from gme_tui.i18n import Catalogue
from gme_tui.model import EXCHANGE_SHORT, EXCHANGES, MINUTE_MS, Derivatives, ExchangeWindow, MinuteBucket
from gme_tui.tui.theme import BOLD, Colours
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.view import Market, Row
from gme_tui.tui.widgets.cells import SPARKS, Piece, fit, oi_text
from gme_tui.tui.widgets.charts import FlowChart, Series
from gme_tui.tui.widgets.feeds import position_text, side_text
from gme_tui.tui.widgets.keybar import KeyBar, KeyItem

LABEL = 5  # "BIN  "
FIGURES = 34  # net, B/S and coverage after the bars


def bars(values: tuple[float, ...], width: int, peak: float, colours: Colours) -> list[Piece]:
    """One bar per column on a scale shared by all rows, so exchanges compare at a glance."""
    if not values or width <= 0:
        return []
    step = len(values) / width
    out: list[Piece] = []
    for i in range(min(width, len(values))):
        chunk = values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]
        value = sum(chunk)
        if peak <= 0 or value == 0:
            out.append(("·", colours.neutral))
        else:
            level = min(7, int(abs(value) / peak * 7.999))
            out.append((SPARKS[level], colours.up if value > 0 else colours.down))
    return out


def header_text(row: Row, t: Catalogue, colours: Colours, zone: tzinfo) -> Text:
    """Three short lines (each fits 80 columns in both languages): symbol, consensus and grades;
    price, change and volume; net flow, its share, buy/sell ratio and the window."""
    scan, d = row.scan, t.detail
    consensus = scan.consensus
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(row.symbol, style=BOLD)
    text.append("   ")
    text.append(t.common.levels.get(consensus.level, consensus.level), style=colours.level(consensus.level))
    text.append("   ")
    text.append(d.grades.format(grades=" ".join(row.grades) or "-"))
    text.append("\n")
    text.append(f"{d.price} {fmt.price(scan.price)} ")
    text.append(fmt.percent(scan.price_change), style=colours.signed(scan.price_change))
    text.append(f"   {d.volume} {fmt.money(scan.volume).lstrip('+')}\n")
    text.append(f"{d.net} ")
    text.append(fmt.money(row.total), style=colours.signed(row.total))
    if row.net_share is not None:
        text.append(" " + d.share_of_volume.format(share=f"{row.net_share * 100:+.1f}%"))
    text.append(f"   {d.ratio} {fmt.ratio(row.buy_sell)}   ")
    end = fmt.clock(consensus.ts, zone, seconds=False)
    text.append(d.window.format(minutes=consensus.window_minutes, time=end), style=colours.neutral)
    return text


def exchange_table(row: Row, t: Catalogue, colours: Colours, width: int) -> Text:
    """Per exchange: the minutes as bars on one shared scale, net, buy/sell ratio, coverage."""
    return window_table(
        row.scan.exchanges, row.scan.consensus.window_minutes, t.detail.net_per_minute, t, colours, width
    )


def window_table(
    windows: Mapping[str, ExchangeWindow], window_minutes: int, title: str, t: Catalogue, colours: Colours, width: int
) -> Text:
    """Per venue (spot or perp): the minutes as bars on one shared scale, net, buy/sell ratio,
    coverage; `title` a template with {peak} (what a full bar is worth)."""
    d = t.detail
    minutes = max((len(w.minute_nets) for w in windows.values()), default=0)
    chart_width = max(10, min(minutes or 10, width - LABEL - FIGURES))
    peak = max((max(abs(v) for v in w.minute_nets) for w in windows.values() if w.minute_nets), default=0.0)
    text = Text(no_wrap=True, overflow="ellipsis")
    axis = (
        d.axis_per_minute if chart_width >= minutes else d.axis_compressed.format(minutes=minutes, columns=chart_width)
    )
    text.append(title.format(peak=fmt.money(peak).lstrip("+")) + "\n", style=BOLD)
    text.append(" " * LABEL + fit(axis, chart_width, "left"), style=colours.neutral)
    text.append(f" {fit(d.net, 9, 'right')} {fit(d.ratio, 6, 'right')} {fit(d.coverage, 9, 'right')}\n")
    for exchange, window in windows.items():
        text.append(fit(EXCHANGE_SHORT[exchange], LABEL, "left"), style=BOLD)
        pieces = bars(window.minute_nets, chart_width, peak, colours)
        for piece, style in pieces:
            text.append(piece, style=style)
        text.append(" " * (chart_width - len(pieces)))
        text.append(f" {fmt.money(window.net):>9}", style=colours.signed(window.net))
        text.append(f" {fmt.ratio(window.ratio):>6}")
        covered = window.covered_minutes
        cover = t.common.not_available if covered is None else f"{covered}/{window_minutes}m"
        short = covered is not None and covered < window_minutes
        text.append(" " + fit(cover, 9, "right") + "\n", style=colours.warn if short else colours.neutral)
    return text


def perp_text(line: Derivatives, t: Catalogue, colours: Colours, width: int) -> Text:
    """The perpetual side of the window (SPEC §4b): spot against perp totals and ratios, the hedge
    ratio, the OI change, the liquidated long and short value (marked when sampled); then the
    per-venue perp bars and the open interest at both ends of the window."""
    d = t.detail
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(d.perp_title + "\n", style=BOLD)
    text.append(f"{d.spot} ")
    text.append(fmt.money(line.spot_total), style=colours.signed(line.spot_total))
    text.append(f" {t.columns.ratio} {fmt.ratio(line.spot_ratio)}   {d.perp} ")
    text.append(fmt.money(line.perp_total), style=colours.signed(line.perp_total))
    text.append(f" {t.columns.ratio} {fmt.ratio(line.perp_ratio)}   {d.hedge_ratio} {fmt.ratio(line.hedge_ratio)}\n")
    text.append(f"{d.oi_change} ")
    text.append(oi_text(line.oi_change_pct), style=colours.signed(line.oi_change_pct))
    text.append("   ")
    long_value = fmt.money(line.liquidated_long).lstrip("+")
    short_value = fmt.money(line.liquidated_short).lstrip("+")
    text.append(d.liquidated.format(long=long_value, short=short_value))
    if line.liquidations_sampled:
        text.append(" " + d.sampled, style=colours.warn)
    text.append("\n")
    if line.liquidations_sampled:
        text.append(d.sampled_note + "\n", style=colours.neutral)
    text.append("\n")
    text.append_text(window_table(line.windows, line.window_minutes, d.perp_per_minute, t, colours, width))
    text.append("\n")
    text.append_text(oi_table(line, t, colours))
    return text


OI_FIGURE = 10  # an OI amount: "90.70M", "1,030", "50.2k"


def oi_amount(value: float) -> str:
    """Open interest in base units, short but never rounding a change away below 10,000."""
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.2f}B"
    if size >= 1e6:
        return f"{value / 1e6:.2f}M"
    if size >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:,.0f}" if size >= 100 else f"{value:.4g}"


def oi_table(line: Derivatives, t: Catalogue, colours: Colours) -> Text:
    """Per perp venue: the OI samples at the window's start and end and their change; a venue out
    of the OI set (a sample missing or too old at either end) reads n/a and is not in the total."""
    d = t.detail
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(d.oi_title + "\n", style=BOLD)
    if not line.oi:
        text.append("  " + d.oi_none + "\n", style=colours.neutral)
        return text
    head = f"{fit(d.oi_start, OI_FIGURE, 'right')}   {fit(d.oi_end, OI_FIGURE, 'right')} {fit(d.oi_delta, 9, 'right')}"
    text.append(" " * LABEL + head + "\n", style=colours.neutral)
    for venue in (*line.windows, *(v for v in line.oi if v not in line.windows)):
        text.append(fit(EXCHANGE_SHORT.get(venue, venue), LABEL, "left"), style=BOLD)
        span = line.oi.get(venue)
        if span is None:
            text.append(fit(t.common.not_available, OI_FIGURE, "right") + "\n", style=colours.neutral)
            continue
        change = (span.end - span.start) * 100.0 / span.start if span.start else None
        text.append(f"{oi_amount(span.start):>{OI_FIGURE}} → {oi_amount(span.end):>{OI_FIGURE}}")
        text.append(f" {oi_text(change):>9}\n", style=colours.signed(change))
    return text


def legend(entries: Sequence[tuple[str, Style]]) -> Text:
    """`── BIN   ── OKX ...`: each name after a dash, in its line's colour."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for number, (name, style) in enumerate(entries):
        if number:
            text.append("   ")
        text.append("── " + name, style=style)
    return text


def _summed(windows: Iterable[ExchangeWindow]) -> tuple[float, ...]:
    """Net per minute summed over venues, oldest first."""
    nets = [w.minute_nets for w in windows if w.minute_nets]
    return tuple(map(sum, zip(*nets))) if nets else ()


LOOKBACK_MINUTES = 24 * 60


def column_sums(values: list[float], width: int) -> tuple[float, ...]:
    """`values` summed into `width` consecutive chunks (as even as integers allow)."""
    n = len(values)
    return tuple(sum(values[i * n // width : (i + 1) * n // width]) for i in range(width))


def lookback_text(
    symbol: str,
    minutes: Sequence[MinuteBucket],
    end_minute: int,
    zone: tzinfo,
    width: int,
    t: Catalogue,
    colours: Colours,
) -> Text:
    """Net flow per exchange over the LOOKBACK_MINUTES up to `end_minute` (inclusive), from the
    store's minutes. Missing minutes count as no flow and show in the coverage column."""
    d = t.detail
    first = end_minute - LOOKBACK_MINUTES + 1
    series: dict[str, list[float]] = {}
    covered: dict[str, int] = {}
    for bucket in minutes:
        if first <= bucket.minute <= end_minute:
            nets = series.setdefault(bucket.exchange, [0.0] * LOOKBACK_MINUTES)
            nets[bucket.minute - first] = bucket.buy - bucket.sell
            covered[bucket.exchange] = covered.get(bucket.exchange, 0) + bucket.covered
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(d.lookback_title + "\n", style=BOLD)
    if not series:
        text.append("  " + d.lookback_none.format(symbol=symbol) + "\n", style=colours.neutral)
        return text
    room = max(24, width - LABEL - 24)
    chart_width = max(
        d for d in range(24, min(room, LOOKBACK_MINUTES) + 1) if LOOKBACK_MINUTES % d == 0
    )  # whole minutes a column
    columns = {e: column_sums(nets, chart_width) for e, nets in series.items()}
    peak = max((abs(v) for values in columns.values() for v in values), default=0.0)
    axis = d.lookback_axis.format(minutes=f"{LOOKBACK_MINUTES / chart_width:.0f}")
    text.append(" " * LABEL + fit(axis, chart_width, "left"), style=colours.neutral)
    text.append(f" {fit(d.net_24h, 9, 'right')} {fit(d.coverage, 10, 'right')}\n", style=colours.neutral)
    for exchange in (e for e in EXCHANGE_SHORT if e in series):
        total = sum(series[exchange])
        text.append(fit(EXCHANGE_SHORT[exchange], LABEL, "left"), style=BOLD)
        for piece, style in bars(columns[exchange], chart_width, peak, colours):
            text.append(piece, style=style)
        text.append(f" {fmt.money(total):>9}", style=colours.signed(total))
        share = covered.get(exchange, 0)
        text.append(
            f" {share:>5}/{LOOKBACK_MINUTES}\n", style=colours.warn if share < LOOKBACK_MINUTES else colours.neutral
        )
    start = datetime.fromtimestamp(first * MINUTE_MS / 1000, zone).strftime("%m-%d %H:%M")
    end = datetime.fromtimestamp((end_minute + 1) * MINUTE_MS / 1000, zone).strftime("%m-%d %H:%M")
    text.append(" " * LABEL + f"{start}{end:>{max(12, chart_width - len(start))}}\n", style=colours.neutral)
    return text


def recent_text(symbol: str, market: Market, t: Catalogue, colours: Colours, zone: tzinfo) -> Text:
    """The symbol's last whales and signals of this session."""
    d, words = t.detail, t.common
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(d.recent_whales + "\n", style=BOLD)
    whales = market.whales_of(symbol, 8)
    if not whales:
        text.append("  " + d.none_in_session + "\n", style=colours.neutral)
    for whale in whales:
        side = colours.up if whale.side == "buy" else colours.down
        text.append(f"  {fmt.clock(whale.ts, zone)} {EXCHANGE_SHORT.get(whale.exchange, whale.exchange)} ")
        text.append(side_text(t, whale.side) + " ", style=side)
        text.append(f" {fmt.usd(whale.value):>12}", style=side)
        text.append(f" @ {fmt.price(whale.price)}\n", style=colours.neutral)
    liquidations = market.liquidations_of(symbol, 8)
    if liquidations:
        text.append("\n" + d.recent_liquidations + "\n", style=BOLD)
    for item in liquidations:
        side = colours.down if item.side == "long" else colours.up
        text.append(f"  {fmt.clock(item.ts, zone)} {EXCHANGE_SHORT.get(item.exchange, item.exchange)} ")
        text.append(position_text(t, item.side) + " ", style=side)
        text.append(f" {fmt.usd(item.value):>12}", style=side)
        text.append(f" @ {fmt.price(item.price)}\n", style=colours.neutral)
    text.append("\n" + d.recent_signals + "\n", style=BOLD)
    entries = market.signals.for_symbol(symbol)[:8]
    if not entries:
        text.append("  " + d.none_in_session + "\n", style=colours.neutral)
    for entry in entries:
        name = words.signals.get(entry.code, entry.code)
        since = fmt.clock(entry.first_ts, zone, seconds=False)
        repeat = " " + words.repeat.format(count=entry.count, time=since) if entry.count > 1 else ""
        text.append(f"  {fmt.clock(entry.last_ts, zone, seconds=False)} ")
        text.append(f" {entry.grade} ", style=colours.badge(entry.grade, entry.code))
        text.append(f" {name}{repeat}")
        meaning = words.signal_meanings.get(entry.code, "")
        text.append(f" - {meaning}\n" if meaning else "\n", style=colours.neutral)
    return text


def detail_keys(t: Catalogue) -> list[KeyItem]:
    return [KeyItem("escape", t.keys.back, "app.pop_screen"), KeyItem("?", t.keys.help, "app.help", drop=1)]


class DetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "app.pop_screen", "Back", show=False),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    DetailScreen Static { text-wrap: nowrap; text-overflow: ellipsis; }
    DetailScreen #chart { padding: 0 1; }
    DetailScreen .chart-title { padding: 1 1 0 1; }
    DetailScreen FlowChart { margin: 0 1; }
    DetailScreen #recent { padding: 1 1 0 1; }
    DetailScreen #perp { padding: 1 1 0 1; }
    DetailScreen #lookback { padding: 1 1 0 1; }
    """

    def __init__(self, symbol: str) -> None:
        super().__init__()
        self.symbol = symbol
        self._lookback_minutes: list[MinuteBucket] = []
        self._lookback_end: int | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="chart")
            yield Static(id="net-title", classes="chart-title")
            yield FlowChart(id="net-chart")
            yield Static(id="cumulative-title", classes="chart-title")
            yield FlowChart(id="cumulative-chart")
            yield Static(id="perp")
            yield Static(id="spot-perp-title", classes="chart-title")
            yield FlowChart(id="spot-perp-chart")
            yield Static(id="lookback")
            yield Static(id="recent")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.title = self.symbol
        self.watch(self.app, "market_version", self.redraw, init=False)
        # a theme picked from the palette over this screen: the app restyles first, then this
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self, *_: object) -> None:
        app = gme_app(self)
        t, colours, zone = app.t, app.colours, app.zone
        width = max(60, self.size.width - 2)
        self.query_one(KeyBar).show(detail_keys(t), colours=colours)
        row = app.market.rows.get(self.symbol)
        chart = self.query_one("#chart", Static)
        charts = [
            self.query_one(f"#{name}") for name in ("net-title", "net-chart", "cumulative-title", "cumulative-chart")
        ]
        for widget in charts:
            widget.display = row is not None
        self._draw_perps(row, width)
        if row is None:
            chart.update(Text(t.detail.not_in_scan.format(symbol=self.symbol), style=colours.warn))
        else:
            text = header_text(row, t, colours, zone)
            text.append("\n\n")
            text.append_text(exchange_table(row, t, colours, width))
            chart.update(text)
            self._draw_charts(row, t, colours, zone)
        self._draw_lookback(width)
        self.query_one("#recent", Static).update(recent_text(self.symbol, app.market, t, colours, zone))

    def _draw_charts(self, row: Row, t: Catalogue, colours: Colours, zone: tzinfo) -> None:
        consensus = row.scan.consensus
        first_ms = consensus.ts - consensus.window_minutes * MINUTE_MS
        d = t.detail
        self.query_one("#net-title", Static).update(Text(d.chart_net, style=BOLD))
        self.query_one("#net-chart", FlowChart).show_bars(first_ms, row.trend, colours, zone)
        windows = row.scan.exchanges
        lines = [
            Series(tuple(accumulate(w.minute_nets)), colours.series[EXCHANGES.index(e)])
            for e, w in windows.items()
            if w.minute_nets and e in EXCHANGES
        ]
        title = Text(d.chart_cumulative + "   ", style=BOLD)
        entries = [
            (EXCHANGE_SHORT[e], colours.series[EXCHANGES.index(e)])
            for e, w in windows.items()
            if w.minute_nets and e in EXCHANGES
        ]
        title.append_text(legend(entries))
        self.query_one("#cumulative-title", Static).update(title)
        self.query_one("#cumulative-chart", FlowChart).show_lines(first_ms, lines, colours, zone)

    def _draw_perps(self, row: Row | None, width: int) -> None:
        """The perpetual side and the spot-against-perp chart; a line saying there is none when
        perp venues are on but the symbol has no perp there; nothing when none is on."""
        app = gme_app(self)
        t, colours, zone = app.t, app.colours, app.zone
        box = self.query_one("#perp", Static)
        title, chart = self.query_one("#spot-perp-title", Static), self.query_one("#spot-perp-chart", FlowChart)
        line = row.scan.derivatives if row is not None else None
        box.display = row is not None and (line is not None or app.liquidations_on)
        title.display = chart.display = line is not None
        if row is None:
            return
        if line is None:
            box.update(Text(t.detail.no_perp.format(symbol=self.symbol), style=colours.neutral))
            return
        box.update(perp_text(line, t, colours, width))
        spot = _summed(row.scan.exchanges.values())
        perp = _summed(line.windows.values())
        heading = Text(t.detail.chart_spot_perp + "   ", style=BOLD)
        heading.append_text(legend([(t.detail.spot, colours.info), (t.detail.perp, colours.warn)]))
        title.update(heading)
        first_ms = line.ts - line.window_minutes * MINUTE_MS
        series = [Series(tuple(accumulate(spot)), colours.info), Series(tuple(accumulate(perp)), colours.warn)]
        chart.show_lines(first_ms, [s for s in series if s.values], colours, zone)

    def _draw_lookback(self, width: int) -> None:
        """The last 24 h from the store, read once per scan (not per UI tick); hidden without a store."""
        box = self.query_one("#lookback", Static)
        app = gme_app(self)
        store, scan = app.store, app.market.scan
        box.display = store is not None and scan is not None
        if store is None or scan is None:
            return
        end_minute = scan.ts // MINUTE_MS - 1
        if end_minute != self._lookback_end:
            try:
                self._lookback_minutes = store.minutes(self.symbol, end_minute - LOOKBACK_MINUTES + 1, end_minute)
            except Exception as error:  # a sick store must not take the screen down
                box.update(Text(app.t.detail.lookback_unreadable.format(error=error), style=app.colours.warn))
                return
            self._lookback_end = end_minute
        box.update(lookback_text(self.symbol, self._lookback_minutes, end_minute, app.zone, width, app.t, app.colours))
