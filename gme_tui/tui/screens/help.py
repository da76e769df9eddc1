"""The keys (SPEC §12) and what the screen's marks mean."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = (
    ("0 1 2 3 4 5", "grade filter: all rows, A+, A, B, C, any signal"),
    ("/  text", "filter symbols by text; escape clears"),
    ("s / S", "sort by the next column / reverse (a click on a header too)"),
    ("↑ ↓ PgUp PgDn", "move the cursor"),
    ("enter", "detail of the selected symbol (escape returns)"),
    ("o", "settings: exchanges, window, thresholds, alerts"),
    ("f", "pin / unpin the selected symbol (kept on top, saved)"),
    ("m", "mute / unmute the selected symbol's alerts for a while"),
    ("p", "pause / resume screen updates (data keeps flowing)"),
    ("h", "signal history: past signals from the store, filtered by grade and symbol"),
    ("?", "this help"),
    ("ctrl+p", "command palette"),
    ("q", "quit"),
)
MARKS = (
    ("*", "pinned symbol"),
    ("m", "alerts muted for this symbol"),
    ("+500k~", "this exchange covered less than the window (header: BYB~12m)"),
    ("A+ A B C", "signal grades that hold at the last scan"),
    ("FLOW/WIN", "net flow per minute across the window, green in, red out"),
    ("NET%", "net flow as a share of the window's volume"),
)


def help_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, meaning in KEYS:
        table.add_row(key, meaning)
    table.add_row("", "")
    table.add_row(Text("mark", style="bold"), Text("meaning", style="bold"))
    for mark, meaning in MARKS:
        table.add_row(mark, meaning)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 86; max-width: 100%; height: 26; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    HelpScreen Static { width: 100%; height: auto; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "gme-tui keys"
            box.border_subtitle = "escape closes"
            yield Static(help_table())

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
