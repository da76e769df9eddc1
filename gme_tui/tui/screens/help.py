"""The keys (SPEC §12) and what the screen's marks mean.

The key table is generated from the bindings gme-tui declares (the app's, the main screen's and
the consensus table's): each line's keys are the bound keys, its meaning the first binding's
tooltip, so the help cannot drift from what the keys do. LAYOUT only orders and groups the lines;
a binding it does not name still gets a line of its own at the end. Textual's own defaults (tab
focus, ctrl+q, ctrl+c) are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.typed_app import gme_app
from gme_tui.tui.widgets.flow_table import FlowTable


@dataclass(frozen=True, slots=True)
class HelpLine:
    """One line of the key table: the keys bound to `actions` (names without "app." or
    arguments), one action's keys joined by a space, the actions' by `sep`."""

    actions: tuple[str, ...]
    sep: str = " / "


LAYOUT: tuple[HelpLine, ...] = (
    HelpLine(("grade",)),
    HelpLine(("search", "clear_search"), "  "),
    HelpLine(("sort_next", "sort_reverse")),
    HelpLine(("cursor", "page"), " "),
    HelpLine(("edge",), " "),
    HelpLine(("detail",)),
    HelpLine(("settings",)),
    HelpLine(("pin",)),
    HelpLine(("mute",)),
    HelpLine(("pause",)),
    HelpLine(("history",)),
    HelpLine(("help",)),
    HelpLine(("command_palette",)),
    HelpLine(("quit",)),
)
KEY_NAMES = {
    "question_mark": "?",
    "slash": "/",
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
}


def action_name(action: str) -> str:
    """`app.grade(3)` -> `grade`: the bindings of one action share a line."""
    return action.removeprefix("app.").split("(", 1)[0]


def key_name(binding: Binding) -> str:
    return binding.key_display or KEY_NAMES.get(binding.key, binding.key)


def key_lines(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, meaning) per line of the key table: LAYOUT's lines, then one per action it misses."""
    by_action: dict[str, list[Binding]] = {}
    for binding in Binding.make_bindings(bindings):  # "up,k" becomes two bindings
        if not binding.system:
            by_action.setdefault(action_name(binding.action), []).append(binding)
    placed = {action for line in LAYOUT for action in line.actions}
    lines = [*LAYOUT, *(HelpLine((action,)) for action in by_action if action not in placed)]
    out: list[tuple[str, str]] = []
    for line in lines:
        groups = [by_action[action] for action in line.actions if action in by_action]
        if not groups:
            continue
        keys = line.sep.join(" ".join(dict.fromkeys(key_name(b) for b in group)) for group in groups)
        first = groups[0][0]
        out.append((keys, first.tooltip or first.description))
    return out


def main_bindings(app_bindings: Sequence[BindingType]) -> list[BindingType]:
    """Every key of the main screen that gme-tui declares: the app's, the screen's, the table's."""
    return [*app_bindings, *MainScreen.BINDINGS, *FlowTable.BINDINGS]


MARKS = (
    ("*", "pinned symbol"),
    ("m", "alerts muted for this symbol"),
    ("+500k~", "this exchange covered less than the window (header: BYB~12m)"),
    ("A+ A B C", "signal grades that hold at the last scan"),
    ("FLOW/WIN", "net flow per minute across the window, green in, red out"),
    ("NET%", "net flow as a share of the window's volume"),
)


def help_table(keys: Sequence[tuple[str, str]]) -> Table:
    """The key lines (from `key_lines`), then the marks."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    for key, meaning in keys:
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
            app_bindings = type(gme_app(self)).BINDINGS
            yield Static(help_table(key_lines(main_bindings(app_bindings))))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
