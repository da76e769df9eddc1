"""Signal history from the store: past signals, newest first, filtered by grade, symbol text and
period. Consecutive scans of one signal on one symbol fold into one line (×N since HH:MM), like
the main screen's signal log. Without a store the screen says how to turn it on.

The store arrives as a `HistoryReader` (gme_tui.core.seams, `app.store`): the UI imports no other
consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from gme_tui import format as fmt
from gme_tui.core.seams import HistoryReader
from gme_tui.i18n import Catalogue
from gme_tui.i18n.catalogue import History
from gme_tui.model import EXCHANGE_SHORT, EXCHANGES, MINUTE_MS, Grade, SignalCode, StoredSignal
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.widgets.keybar import KeyBar, KeyItem

GRADES: Mapping[int, Grade | None] = {0: None, 1: Grade.A_PLUS, 2: Grade.A, 3: Grade.B, 4: Grade.C}
PERIODS: tuple[tuple[int, Callable[[History], str]], ...] = (
    (60, lambda h: h.period_1h),
    (24 * 60, lambda h: h.period_24h),
    (7 * 24 * 60, lambda h: h.period_7d),
    (90 * 24 * 60, lambda h: h.period_90d),
)
"""(minutes, its name) of the periods `t` cycles through."""
ROW_LIMIT = 2_000


def history_keys(t: Catalogue, *, store: bool) -> list[KeyItem]:
    """Without a store only leaving (and help) means anything."""
    k = t.keys
    filters = [
        KeyItem("0-4", k.grades, "grade(0)", drop=2),
        KeyItem("/", k.symbol, "search", drop=1),
        KeyItem("t", k.period, "period", drop=1),
    ]
    return [KeyItem("escape", k.back, "back"), *(filters if store else []), KeyItem("?", k.help, "app.help", drop=3)]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One signal held over `count` consecutive scans, first_ts..last_ts; figures of the last."""

    symbol: str
    grade: Grade
    code: SignalCode
    first_ts: int
    last_ts: int
    count: int
    flows: Mapping[str, float]
    coverage: Mapping[str, int] | None
    window_minutes: int


def fold_runs(signals: Sequence[StoredSignal]) -> list[HistoryEntry]:
    """Stored signals (newest first) -> entries, a run of consecutive minutes folded into one."""
    entries: list[HistoryEntry] = []
    open_runs: dict[tuple[str, SignalCode], int] = {}  # (symbol, code) -> index of the run it may extend
    for signal in signals:
        key = (signal.symbol, signal.code)
        index = open_runs.get(key)
        if index is not None and entries[index].first_ts == signal.ts + MINUTE_MS:
            run = entries[index]
            entries[index] = HistoryEntry(
                run.symbol,
                run.grade,
                run.code,
                signal.ts,
                run.last_ts,
                run.count + 1,
                run.flows,
                run.coverage,
                run.window_minutes,
            )
            continue
        open_runs[key] = len(entries)
        entries.append(
            HistoryEntry(
                signal.symbol,
                signal.grade,
                signal.code,
                signal.ts,
                signal.ts,
                1,
                signal.flows,
                signal.coverage,
                signal.window_minutes,
            )
        )
    return entries


def _when(ts: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts / 1000, zone).strftime("%m-%d %H:%M")


def _short_coverage(entry: HistoryEntry) -> str:
    if entry.coverage is None:
        return ""
    short = [
        f"{EXCHANGE_SHORT[e]} {m}/{entry.window_minutes}m"
        for e, m in entry.coverage.items()
        if m < entry.window_minutes
    ]
    return " ".join(short)


class HistoryScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "app.pop_screen", "Back", show=False),
        *[Binding(str(n), f"grade({n})", GRADES[n] or "all", show=n == 0) for n in GRADES],
        Binding("slash", "search", "Symbol"),
        Binding("t", "period", "Period"),
        Binding("question_mark", "app.help", "Help", show=False),
    ]
    DEFAULT_CSS = """
    HistoryScreen #history-head { padding: 0 1; height: auto; }
    HistoryScreen #history-off { padding: 1 2; }
    HistoryScreen #history-search { display: none; }
    HistoryScreen #history-table { height: 1fr; }
    HistoryScreen #history-empty { padding: 0 1; height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.grade = 0
        self.text = ""
        self.period = 1  # index into PERIODS: 24 h
        self.entries: list[HistoryEntry] = []
        self.fetched = 0
        self._anchor: int | None = None

    def compose(self) -> ComposeResult:
        t = gme_app(self).t
        yield Static(id="history-head")
        yield Input(placeholder=t.history.search_placeholder, id="history-search", compact=True)
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static(t.history.off, id="history-off")
        yield Static(id="history-empty")
        yield KeyBar(id="keys")

    @property
    def store(self) -> HistoryReader | None:
        return gme_app(self).store

    def on_mount(self) -> None:
        app = gme_app(self)
        h = app.t.history
        self.title = h.title
        self.query_one(KeyBar).show(history_keys(app.t, store=self.store is not None), colours=app.colours)
        table = self.query_one(DataTable)
        table.add_columns(
            h.col_time,
            h.col_grade,
            h.col_symbol,
            h.col_signal,
            h.col_held,
            *(EXCHANGE_SHORT[e] for e in EXCHANGES),
            h.col_coverage,
        )
        off = self.store is None
        self.query_one("#history-empty").display = False
        self.query_one("#history-off").display = off
        table.display = not off
        self.query_one("#history-head").display = not off
        if not off:
            self.watch(self.app, "market_version", self._on_market, init=False)
            self.app.theme_changed_signal.subscribe(self, lambda _theme: self._show())
            self.reload()
            table.focus()

    def _on_market(self, *_: object) -> None:
        scan = gme_app(self).market.scan
        if scan is not None and scan.ts != self._anchor:  # a new scan may have stored new signals
            self.reload()

    def _now(self) -> int:
        """The latest scan's time (data time in a replay), else the wall clock."""
        app = gme_app(self)
        scan = app.market.scan
        return scan.ts if scan is not None else app.now_ms()

    def reload(self) -> None:
        store = self.store
        if store is None:
            return
        now = self._now()
        self._anchor = now
        minutes, _ = PERIODS[self.period]
        try:
            rows = store.signals(
                now - minutes * MINUTE_MS, GRADES[self.grade], text=self.text, until_ms=now + 1, limit=ROW_LIMIT
            )
        except Exception as error:  # a sick store must not take the screen down
            app = gme_app(self)
            unreadable = app.t.history.unreadable.format(error=error)
            self.query_one("#history-head", Static).update(Text(unreadable, style=app.colours.warn))
            return
        self.fetched = len(rows)
        self.entries = fold_runs(rows)
        self._show()

    def _show(self) -> None:
        app = gme_app(self)
        zone, words, colours = app.zone, app.t.common, app.colours
        table = self.query_one(DataTable)
        table.clear()
        for entry in self.entries:
            since = fmt.clock(entry.first_ts, zone, seconds=False)
            held = words.repeat.format(count=entry.count, time=since) if entry.count > 1 else ""
            flows = [
                Text(fmt.money(entry.flows[e]), style=colours.signed(entry.flows[e]))
                if e in entry.flows
                else Text("-", style=colours.neutral)
                for e in EXCHANGES
            ]
            table.add_row(
                _when(entry.last_ts, zone),
                Text(f" {entry.grade} ", style=colours.badge(entry.grade, entry.code)),
                Text(entry.symbol),  # exchange text: never parsed as markup
                words.signals.get(entry.code, entry.code),
                held,
                *flows,
                Text(_short_coverage(entry), style=colours.warn),
            )
        empty = self.query_one("#history-empty", Static)
        empty.display = not self.entries
        empty.update(Text(app.t.history.empty, style=colours.neutral))
        self._show_head()

    def _show_head(self) -> None:
        app = gme_app(self)
        h = app.t.history
        _, period = PERIODS[self.period]
        grade = GRADES[self.grade] or app.t.common.grade_all
        parts = [h.last.format(period=period(h)), h.grade.format(grade=grade)]
        if self.text:
            parts.append(h.symbol.format(text=self.text))
        count = h.count.format(entries=len(self.entries), signals=self.fetched)
        if self.fetched >= ROW_LIMIT:
            count += " " + h.limit.format(limit=ROW_LIMIT)
        head = Text()
        head.append(h.title + "  ", style="bold")
        head.append(" · ".join(parts) + f"   {count}")
        self.query_one("#history-head", Static).update(head)

    # ------------------------------------------------------------ actions

    def action_grade(self, number: int) -> None:
        self.grade = number
        self.reload()

    def action_period(self) -> None:
        self.period = (self.period + 1) % len(PERIODS)
        self.reload()

    def action_search(self) -> None:
        if self.store is None:
            return
        box = self.query_one("#history-search", Input)
        box.display = True
        box.focus()

    def action_back(self) -> None:
        box = self.query_one("#history-search", Input)
        if self.store is not None and (self.text or box.display):
            box.value = ""
            box.display = False
            self.text = ""
            self.reload()
            self.query_one(DataTable).focus()
            return
        self.app.pop_screen()

    @on(Input.Changed, "#history-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.text = event.value.strip()
        self.reload()

    @on(Input.Submitted, "#history-search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.input.display = bool(event.value)
        self.query_one(DataTable).focus()
