"""The main screen's layout and keys (SPEC §12); the actions live on the app, which owns the state.

Each binding's tooltip is its line in the help screen (and shows when the footer key is hovered).
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input

from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.view import GRADE_FILTERS
from gme_tui.tui.widgets.feeds import SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar

WIDE_FOOTER = 120  # columns from which every footer key and the palette hint fit on one line

GRADE_GROUP = Binding.Group("grade", compact=True)
SORT_HELP = "sort by the next column / reverse (a click on a header too)"


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit", tooltip="quit"),
        Binding("question_mark", "app.help", "Help", tooltip="this help"),
        Binding("slash", "app.search", "Search", tooltip="filter symbols by text; escape clears"),
        *[
            Binding(
                str(n),
                f"app.grade({n})",
                GRADE_FILTERS[n],
                group=GRADE_GROUP,
                tooltip="grade filter: all rows, A+, A, B, C, any signal",
            )
            for n in range(6)
        ],
        Binding("s", "app.sort_next", "Sort", tooltip=SORT_HELP),
        Binding("S", "app.sort_reverse", "Rev", key_display="S", tooltip=SORT_HELP),
        # ⏎ is ambiguous-width in terminals
        Binding(
            "enter",
            "app.detail",
            "Detail",
            key_display="enter",
            tooltip="detail of the selected symbol (escape returns)",
        ),
        Binding("o", "app.settings", "Settings", tooltip="settings: exchanges, window, thresholds, alerts"),
        Binding("f", "app.pin", "Pin", tooltip="pin / unpin the selected symbol (kept on top, saved)"),
        Binding("m", "app.mute", "Mute", tooltip="mute / unmute the selected symbol's alerts for a while"),
        Binding("p", "app.pause", "Pause", tooltip="pause / resume screen updates (data keeps flowing)"),
        Binding(
            "h",
            "app.history",
            "History",
            tooltip="signal history: past signals from the store, filtered by grade and symbol",
        ),
        Binding("escape", "app.clear_search", "Clear search", show=False, tooltip="clear the search"),
    ]

    def compose(self) -> ComposeResult:
        yield FlowTable(id="table")
        with Horizontal(id="feeds"):
            yield WhaleTicker(id="whales")
            yield SignalLogView(id="signals")
        yield Input(placeholder="filter symbols (enter keeps, escape clears)", id="search", compact=True)
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)

    def on_resize(self, event: events.Resize) -> None:
        # The docked "^p palette" hint only where every key fits: over keys that overflow a narrow
        # terminal it leaves a stray letter in the last column.
        footer = self.query_one(Footer)
        wide = event.size.width >= WIDE_FOOTER
        if footer.show_command_palette != wide:
            footer.show_command_palette = wide
            footer.refresh(recompose=True)  # the reactive alone does not redraw a mounted footer

    def on_mount(self) -> None:
        self.query_one("#whales").border_title = "WHALES"
        self.query_one("#signals").border_title = "SIGNALS"
        gme_app(self).start()
