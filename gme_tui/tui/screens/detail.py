"""Detail of one symbol: per-exchange net flow per minute as a chart, cumulative flow, buy/sell
ratio and coverage per exchange, the last 24 h from the store (when one is open), and the
symbol's recent whales and signals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from itertools import accumulate

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from gme_tui import format as fmt
from gme_tui.engine.rules import LEVELS, SIGNALS
from gme_tui.model import EXCHANGE_SHORT, MINUTE_MS, Language, MinuteBucket
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.view import Market, Row
from gme_tui.tui.widgets.cells import DIM, DOWN, LEVEL_STYLES, SPARKS, UP, Piece
from gme_tui.tui.widgets.feeds import SIDE_TEXT

LABEL = 5  # "BIN  "


def bars(values: tuple[float, ...], width: int, peak: float) -> list[Piece]:
    """One bar per column on a scale shared by all rows, so exchanges compare at a glance."""
    if not values or width <= 0:
        return []
    step = len(values) / width
    out: list[Piece] = []
    for i in range(min(width, len(values))):
        chunk = values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]
        value = sum(chunk)
        if peak <= 0 or value == 0:
            out.append(("·", DIM))
        else:
            level = min(7, int(abs(value) / peak * 7.999))
            out.append((SPARKS[level], UP if value > 0 else DOWN))
    return out


def line(values: tuple[float, ...], width: int, low: float, high: float) -> list[Piece]:
    """A level line: height is the position between `low` and `high`, colour the sign."""
    if not values or width <= 0:
        return []
    step = len(values) / width
    span = high - low
    out: list[Piece] = []
    for i in range(min(width, len(values))):
        value = values[min(len(values) - 1, int((i + 1) * step) - 1)]
        level = 0 if span <= 0 else min(7, int((value - low) / span * 7.999))
        out.append((SPARKS[level], UP if value > 0 else DOWN if value < 0 else DIM))
    return out


def detail_text(row: Row, language: Language, zone: tzinfo, width: int) -> Text:
    scan = row.scan
    windows = scan.exchanges
    minutes = max((len(w.minute_nets) for w in windows.values()), default=0)
    chart_width = max(10, min(minutes or 10, width - LABEL - 34))
    text = Text(no_wrap=True, overflow="ellipsis")
    window_minutes = scan.consensus.window_minutes
    level = scan.consensus.level
    text.append(f"{row.symbol}  ", style="bold")
    text.append(LEVELS[level].text(language) if level in LEVELS else level, style=LEVEL_STYLES.get(level, ""))
    text.append(f"   grades {' '.join(row.grades) or '-'}\n")
    text.append(f"price {fmt.price(scan.price)} ")
    text.append(fmt.percent(scan.price_change), style=_sign(scan.price_change))
    text.append(f"   volume {fmt.money(scan.volume).lstrip('+')}   net ")
    text.append(fmt.money(row.total), style=_sign(row.total))
    share = f" ({row.net_share * 100:+.1f}% of volume)" if row.net_share is not None else ""
    text.append(f"{share}   B/S {fmt.ratio(row.buy_sell)}   window {window_minutes}m to ")
    text.append(fmt.clock(scan.consensus.ts, zone, seconds=False) + "\n\n")

    peak = max((max(abs(v) for v in w.minute_nets) for w in windows.values() if w.minute_nets), default=0.0)
    first_ms = scan.consensus.ts - window_minutes * MINUTE_MS
    text.append(f"Net flow per minute (full bar = {fmt.money(peak).lstrip('+')})\n", style="bold")
    axis = "one column per minute" if chart_width >= minutes else f"{minutes} minutes in {chart_width} columns"
    text.append(f"{'':<{LABEL}}{axis:<{chart_width}} {'net':>9} {'B/S':>6} {'coverage':>9}\n", style="dim")
    for exchange, window in windows.items():
        text.append(f"{EXCHANGE_SHORT[exchange]:<{LABEL}}", style="bold")
        _pieces(text, bars(window.minute_nets, chart_width, peak), chart_width)
        text.append(f" {fmt.money(window.net):>9}", style=_sign(window.net))
        text.append(f" {fmt.ratio(window.ratio):>6}")
        covered = window.covered_minutes
        cover = "n/a" if covered is None else f"{covered}/{window_minutes}m"
        text.append(f" {cover:>9}\n", style="yellow" if covered is not None and covered < window_minutes else "dim")
    text.append(f"{'':<{LABEL}}{fmt.clock(first_ms, zone, seconds=False)}", style="dim")
    end = fmt.clock(scan.consensus.ts, zone, seconds=False)
    text.append(f"{end:>{max(6, chart_width - 5)}}\n\n", style="dim")

    cumulative = {e: tuple(accumulate(w.minute_nets)) for e, w in windows.items() if w.minute_nets}
    total_cum = tuple(accumulate(row.trend))
    all_values = [v for series in (*cumulative.values(), total_cum) for v in series] or [0.0]
    low, high = min(all_values), max(all_values)
    text.append(f"Cumulative net flow ({fmt.money(low)} … {fmt.money(high)})\n", style="bold")
    for exchange, series in cumulative.items():
        text.append(f"{EXCHANGE_SHORT[exchange]:<{LABEL}}", style="bold")
        _pieces(text, line(series, chart_width, low, high), chart_width)
        text.append(f" {fmt.money(series[-1]):>9}\n", style=_sign(series[-1]))
    if total_cum:
        text.append(f"{'ALL':<{LABEL}}", style="bold")
        _pieces(text, line(total_cum, chart_width, low, high), chart_width)
        text.append(f" {fmt.money(total_cum[-1]):>9}\n", style=_sign(total_cum[-1]))
    return text


LOOKBACK_MINUTES = 24 * 60


def column_sums(values: list[float], width: int) -> tuple[float, ...]:
    """`values` summed into `width` consecutive chunks (as even as integers allow)."""
    n = len(values)
    return tuple(sum(values[i * n // width : (i + 1) * n // width]) for i in range(width))


def lookback_text(symbol: str, minutes: Sequence[MinuteBucket], end_minute: int, zone: tzinfo, width: int) -> Text:
    """Net flow per exchange over the LOOKBACK_MINUTES up to `end_minute` (inclusive), from the
    store's minutes. Missing minutes count as no flow and show in the coverage column."""
    first = end_minute - LOOKBACK_MINUTES + 1
    series: dict[str, list[float]] = {}
    covered: dict[str, int] = {}
    for bucket in minutes:
        if first <= bucket.minute <= end_minute:
            nets = series.setdefault(bucket.exchange, [0.0] * LOOKBACK_MINUTES)
            nets[bucket.minute - first] = bucket.buy - bucket.sell
            covered[bucket.exchange] = covered.get(bucket.exchange, 0) + bucket.covered
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Last 24 h net flow (from the store)\n", style="bold")
    if not series:
        text.append(f"  nothing stored for {symbol} in the last 24 h\n", style="dim")
        return text
    room = max(24, width - LABEL - 24)
    chart_width = max(
        d for d in range(24, min(room, LOOKBACK_MINUTES) + 1) if LOOKBACK_MINUTES % d == 0
    )  # whole minutes a column
    columns = {e: column_sums(nets, chart_width) for e, nets in series.items()}
    peak = max((abs(v) for values in columns.values() for v in values), default=0.0)
    axis = f"{LOOKBACK_MINUTES / chart_width:.0f} minutes a column"
    text.append(f"{'':<{LABEL}}{axis:<{chart_width}} {'net 24h':>9} {'coverage':>10}\n", style="dim")
    for exchange in (e for e in EXCHANGE_SHORT if e in series):
        total = sum(series[exchange])
        text.append(f"{EXCHANGE_SHORT[exchange]:<{LABEL}}", style="bold")
        _pieces(text, bars(columns[exchange], chart_width, peak), chart_width)
        text.append(f" {fmt.money(total):>9}", style=_sign(total))
        share = covered.get(exchange, 0)
        text.append(f" {share:>5}/{LOOKBACK_MINUTES}\n", style="yellow" if share < LOOKBACK_MINUTES else "dim")
    start = datetime.fromtimestamp(first * MINUTE_MS / 1000, zone).strftime("%m-%d %H:%M")
    end = datetime.fromtimestamp((end_minute + 1) * MINUTE_MS / 1000, zone).strftime("%m-%d %H:%M")
    text.append(f"{'':<{LABEL}}{start}{end:>{max(12, chart_width - len(start))}}\n", style="dim")
    return text


def whales_and_signals_text(symbol: str, market: Market, language: Language, zone: tzinfo) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Recent whales\n", style="bold")
    whales = market.whales_of(symbol, 8)
    if not whales:
        text.append("  none in this session\n", style="dim")
    for whale in whales:
        side = "green" if whale.side == "buy" else "red"
        text.append(f"  {fmt.clock(whale.ts, zone)} {EXCHANGE_SHORT.get(whale.exchange, whale.exchange)} ")
        text.append(SIDE_TEXT[language][whale.side] + " ", style=side)
        text.append(f" {fmt.usd(whale.value):>12}", style=side)
        text.append(f" @ {fmt.price(whale.price)}\n", style="dim")
    text.append("\nSignals\n", style="bold")
    entries = market.signals.for_symbol(symbol)[:8]
    if not entries:
        text.append("  none in this session\n", style="dim")
    for entry in entries:
        label = SIGNALS.get(entry.code)
        name = label.text(language) if label else entry.code
        meaning = (label.meaning_zh if language == "zh" else label.meaning_en) if label else ""
        repeat = f" ×{entry.count} since {fmt.clock(entry.first_ts, zone, seconds=False)}" if entry.count > 1 else ""
        text.append(f"  {fmt.clock(entry.last_ts, zone, seconds=False)} [{entry.grade}] {name}{repeat}")
        text.append(f" - {meaning}\n", style="dim")
    return text


def _pieces(text: Text, pieces: list[Piece], width: int) -> None:
    for piece, style in pieces:
        text.append(piece, style=style)
    text.append(" " * (width - len(pieces)))


def _sign(value: float | None) -> str:
    if not value or value != value:
        return "dim"
    return "green" if value > 0 else "red"


class DetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "app.pop_screen", "Back", show=False),
        Binding("q", "app.pop_screen", "Back", show=False),
        Binding("question_mark", "app.help", "Help"),
    ]
    DEFAULT_CSS = """
    DetailScreen #chart { padding: 0 1; }
    DetailScreen #recent { padding: 1 1 0 1; }
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
            yield Static(id="lookback")
            yield Static(id="recent")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = self.symbol
        self.watch(self.app, "market_version", self.redraw, init=False)
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self, *_: object) -> None:
        app = gme_app(self)
        row = app.market.rows.get(self.symbol)
        language = app.settings.language
        chart = self.query_one("#chart", Static)
        if row is None:
            chart.update(Text(f"{self.symbol}: not in the latest scan", style="yellow"))
        else:
            chart.update(detail_text(row, language, app.zone, max(60, self.size.width - 2)))
        self._draw_lookback(max(60, self.size.width - 2))
        self.query_one("#recent", Static).update(whales_and_signals_text(self.symbol, app.market, language, app.zone))

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
                box.update(Text(f"Last 24 h: the store cannot be read ({error})", style="yellow"))
                return
            self._lookback_end = end_minute
        box.update(lookback_text(self.symbol, self._lookback_minutes, end_minute, app.zone, width))
