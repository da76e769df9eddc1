"""The main screen's layout and keys (SPEC §12); the actions live on the app, which owns the state.

Each binding's tooltip is its English meaning (Textual shows it on hover); the help screen and the
key bar show the catalogue's words in the labels' language.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Input

from gme_tui.i18n import Catalogue, catalogue
from gme_tui.tui.theme import BOLD
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.view import GRADE_FILTERS
from gme_tui.tui.widgets.feeds import LiquidationTicker, SignalLogView, WhaleTicker
from gme_tui.tui.widgets.flow_table import FlowTable
from gme_tui.tui.widgets.keybar import KeyBar, KeyItem
from gme_tui.tui.widgets.status import StatusBar

TIPS = catalogue("en").tips
KEYS = catalogue("en").keys

REPLAY_ACTIONS = frozenset({"replay_pause", "faster", "slower", "next_signal"})
"""The replay's keys: active and shown only with a replay (GmeApp.check_action, the key bar, help)."""
WIDE_FEEDS = 140
"""From this width whales, liquidations and signals show side by side; below it the liquidations
take the whales' place at `l` (and give it back at `l`)."""


def replay_keys(t: Catalogue) -> list[KeyItem]:
    """The replay's pairs in the key bar: on a narrow terminal they stay longer than pin, mute or
    reverse sort (a replay is watched, not traded from)."""
    k = t.keys
    return [
        KeyItem("space", k.replay_pause, "app.replay_pause", drop=4),
        KeyItem("+/-", f"{k.faster}/{k.slower}", "app.faster", drop=4),
        KeyItem("n", k.next_signal, "app.next_signal", drop=6),
    ]


def main_keys(t: Catalogue, *, replay: bool = False) -> list[KeyItem]:
    """The key bar of the main screen; on a narrow terminal Rev, Mute, Pin, Detail, ... go first
    (with a replay, its pairs come first). The `l` key is shown in the title of the pane it swaps."""
    k = t.keys
    return [
        *(replay_keys(t) if replay else []),
        KeyItem("q", k.quit, "app.quit"),
        KeyItem("?", k.help, "app.help"),
        KeyItem("/", k.search, "app.search", drop=3),
        KeyItem("0-5", k.grades, "app.grade(0)", drop=2),
        KeyItem("s", k.sort, "app.sort_next", drop=2),
        KeyItem("S", k.reverse, "app.sort_reverse", drop=9),
        KeyItem("enter", k.detail, "app.detail", drop=6),
        KeyItem("o", k.settings, "app.settings", drop=1),
        KeyItem("f", k.pin, "app.pin", drop=7),
        KeyItem("m", k.mute, "app.mute", drop=8),
        KeyItem("p", k.pause, "app.pause", drop=5),
        KeyItem("h", k.history, "app.history", drop=4),
    ]


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", KEYS.quit, tooltip=TIPS.quit),
        Binding("question_mark", "app.help", KEYS.help, tooltip=TIPS.help),
        Binding("slash", "app.search", KEYS.search, tooltip=TIPS.search),
        *[Binding(str(n), f"app.grade({n})", GRADE_FILTERS[n], tooltip=TIPS.grade) for n in range(6)],
        Binding("s", "app.sort_next", KEYS.sort, tooltip=TIPS.sort),
        Binding("S", "app.sort_reverse", KEYS.reverse, key_display="S", tooltip=TIPS.sort),
        # ⏎ is ambiguous-width in terminals
        Binding("enter", "app.detail", KEYS.detail, key_display="enter", tooltip=TIPS.detail),
        Binding("o", "app.settings", KEYS.settings, tooltip=TIPS.settings),
        Binding("f", "app.pin", KEYS.pin, tooltip=TIPS.pin),
        Binding("m", "app.mute", KEYS.mute, tooltip=TIPS.mute),
        Binding("p", "app.pause", KEYS.pause, tooltip=TIPS.pause),
        Binding("h", "app.history", KEYS.history, tooltip=TIPS.history),
        Binding("space", "app.replay_pause", KEYS.replay_pause, tooltip=TIPS.replay_pause),
        Binding("plus,equals_sign", "app.faster", KEYS.faster, key_display="+", tooltip=TIPS.speed),
        Binding("minus", "app.slower", KEYS.slower, key_display="-", tooltip=TIPS.speed),
        Binding("n", "app.next_signal", KEYS.next_signal, tooltip=TIPS.next_signal),
        Binding("l", "app.toggle_liquidations", KEYS.liquidations, tooltip=TIPS.liquidations),
        Binding("c", "app.scorecard", KEYS.scorecard, tooltip=TIPS.scorecard),
        Binding("escape", "app.clear_search", KEYS.clear_search, show=False, tooltip=TIPS.clear_search),
    ]

    def compose(self) -> ComposeResult:
        yield FlowTable(id="table")
        with Horizontal(id="feeds"):
            yield WhaleTicker(id="whales")
            yield LiquidationTicker(id="liquidations")
            yield SignalLogView(id="signals")
        yield Input(id="search", compact=True)
        yield StatusBar(id="status")
        yield KeyBar(id="keys")

    _mounted = False

    def on_mount(self) -> None:
        self._mounted = True
        self.relabel()
        gme_app(self).start()

    def on_resize(self, event: events.Resize) -> None:
        if self._mounted:  # a resize may come before the widgets are mounted
            self.relabel()

    @property
    def shared_feed(self) -> bool:
        """Whales and liquidations share one place (a narrow screen with perp venues on)."""
        return gme_app(self).liquidations_on and self.size.width < WIDE_FEEDS

    def relabel(self) -> None:
        """Titles, placeholder, which feeds show and the key bar, in the app's current language,
        colours and width."""
        if len(self.query("#whales, #liquidations, #signals, #search, KeyBar")) < 5:
            return  # the app is quitting: its widgets are going (a last tick may still publish)
        app = gme_app(self)
        t = app.t
        whales, liquidations = self.query_one("#whales"), self.query_one("#liquidations")
        shared = self.shared_feed
        swapped = shared and app.show_liquidations
        whales.display = not swapped
        liquidations.display = app.liquidations_on and (swapped or not shared)
        whales.border_title = self._title(t.main.whales_title, t.main.liquidations_title if shared else "")
        liquidations.border_title = self._title(t.main.liquidations_title, t.main.whales_title if shared else "")
        self.query_one("#signals").border_title = t.main.signals_title
        self.query_one("#search", Input).placeholder = t.main.search_placeholder
        keys = main_keys(t, replay=app.replay is not None)
        self.query_one(KeyBar).show(keys, colours=app.colours, palette=f"^p {t.keys.palette}")

    def _title(self, title: str, other: str) -> Text:
        """A pane's title; where two panes share a place, `l` and the other one's name after it."""
        text = Text(title, style=BOLD)
        if other:
            colours = gme_app(self).colours
            text.append("  l ", style=colours.key)
            text.append(other, style=colours.neutral)
        return text
