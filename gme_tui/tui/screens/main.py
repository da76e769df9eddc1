"""The main screen's layout and keys (SPEC §12); the actions live on the app, which owns the state."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input

from gme_tui.tui.view import GRADE_FILTERS
from gme_tui.tui.widgets.feeds import SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.status import StatusBar

WIDE_FOOTER = 120  # columns from which every footer key and the palette hint fit on one line

GRADE_GROUP = Binding.Group("grade", compact=True)


class MainScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        Binding("slash", "app.search", "Search"),
        *[Binding(str(n), f"app.grade({n})", GRADE_FILTERS[n], group=GRADE_GROUP) for n in range(6)],
        Binding("s", "app.sort_next", "Sort"),
        Binding("S", "app.sort_reverse", "Rev", key_display="S"),
        Binding("enter", "app.detail", "Detail", key_display="enter"),  # ⏎ is ambiguous-width in terminals
        Binding("o", "app.settings", "Settings"),
        Binding("f", "app.pin", "Pin"),
        Binding("m", "app.mute", "Mute"),
        Binding("p", "app.pause", "Pause"),
        Binding("h", "app.history", "History"),
        Binding("escape", "app.clear_search", "Clear search", show=False),
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
        self.query_one(Footer).show_command_palette = event.size.width >= WIDE_FOOTER

    def on_mount(self) -> None:
        self.query_one("#whales").border_title = "WHALES"
        self.query_one("#signals").border_title = "SIGNALS"
        self.app.start()
