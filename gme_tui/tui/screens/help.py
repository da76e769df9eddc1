"""The keys (SPEC §12) and what the screen's marks mean.

The key table is generated from the bindings gme-tui declares (the app's, the main screen's and
the consensus table's): each line's keys are the bound keys, its meaning the first binding's
tooltip, so the help cannot drift from what the keys do. LAYOUT only orders and groups the lines;
a binding it does not name still gets a line of its own at the end. Textual's own defaults (tab
focus, ctrl+q, ctrl+c) are not listed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from gme_tui.i18n import Catalogue, catalogue
from gme_tui.i18n.catalogue import Tips
from gme_tui.tui.screens.main import MainScreen
from gme_tui.tui.theme import BOLD
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
    HelpLine(("toggle_liquidations",)),
    HelpLine(("replay_pause",)),
    HelpLine(("faster", "slower")),
    HelpLine(("next_signal",)),
    HelpLine(("history",)),
    HelpLine(("scorecard",)),
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


# What each action means, in the labels' language; a binding not named here says its own tooltip.
MEANINGS: Mapping[str, Callable[[Tips], str]] = {
    "grade": lambda tips: tips.grade,
    "search": lambda tips: tips.search,
    "clear_search": lambda tips: tips.clear_search,
    "sort_next": lambda tips: tips.sort,
    "sort_reverse": lambda tips: tips.sort,
    "cursor": lambda tips: tips.move,
    "page": lambda tips: tips.move,
    "edge": lambda tips: tips.edge,
    "detail": lambda tips: tips.detail,
    "settings": lambda tips: tips.settings,
    "pin": lambda tips: tips.pin,
    "mute": lambda tips: tips.mute,
    "pause": lambda tips: tips.pause,
    "toggle_liquidations": lambda tips: tips.liquidations,
    "replay_pause": lambda tips: tips.replay_pause,
    "faster": lambda tips: tips.speed,
    "slower": lambda tips: tips.speed,
    "next_signal": lambda tips: tips.next_signal,
    "history": lambda tips: tips.history,
    "scorecard": lambda tips: tips.scorecard,
    "help": lambda tips: tips.help,
    "command_palette": lambda tips: tips.palette,
    "quit": lambda tips: tips.quit,
}


def action_name(action: str) -> str:
    """`app.grade(3)` -> `grade`: the bindings of one action share a line."""
    return action.removeprefix("app.").split("(", 1)[0]


def key_name(binding: Binding) -> str:
    return binding.key_display or KEY_NAMES.get(binding.key, binding.key)


def key_lines(bindings: Iterable[BindingType], t: Catalogue | None = None) -> list[tuple[str, str]]:
    """(keys, meaning) per line of the key table: LAYOUT's lines, then one per action it misses.
    Meanings in `t`'s language (default English). The replay's keys are listed always (their
    meanings say they drive a replay); the key bar shows them only with one."""
    tips = (t or catalogue("en")).tips
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
        meaning = MEANINGS.get(action_name(first.action))
        out.append((keys, meaning(tips) if meaning else first.tooltip or first.description))
    return out


def main_bindings(app_bindings: Sequence[BindingType]) -> list[BindingType]:
    """Every key of the main screen that gme-tui declares: the app's, the screen's, the table's."""
    return [*app_bindings, *MainScreen.BINDINGS, *FlowTable.BINDINGS]


def marks(t: Catalogue, red_up: bool) -> list[tuple[str, str]]:
    """What the table's marks mean; the trend's colours as the convention in force draws them."""
    h, words = t.help, t.common
    up, down = (words.red, words.green) if red_up else (words.green, words.red)
    return [
        ("*", h.mark_pinned),
        ("m", h.mark_muted),
        ("+500k~", h.mark_partial.format(example="BYB~12m")),
        ("A+ A B C", h.mark_grades),
        (t.columns.trend, h.mark_trend.format(up=up, down=down)),
        (t.columns.share, h.mark_share),
        (t.columns.perp, h.mark_perp),
        (t.columns.oi_change, h.mark_oi),
    ]


def help_table(
    keys: Sequence[tuple[str, str]], t: Catalogue | None = None, *, red_up: bool = False, key_style: Style = BOLD
) -> Table:
    """The key lines (from `key_lines`), then the marks."""
    t = t or catalogue("en")
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    for key, meaning in keys:
        table.add_row(Text(key, style=key_style), meaning)
    table.add_row("", "")
    table.add_row(Text(t.help.mark, style=BOLD), Text(t.help.meaning, style=BOLD))
    for mark, meaning in marks(t, red_up):
        table.add_row(Text(mark, style=key_style), meaning)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 100%; height: 28; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    HelpScreen Static { width: 100%; height: auto; }
    """

    def compose(self) -> ComposeResult:
        app = gme_app(self)
        t = app.t
        with VerticalScroll() as box:
            box.border_title = t.help.title
            box.border_subtitle = t.help.closes
            lines = key_lines(main_bindings(type(app).BINDINGS), t)
            yield Static(help_table(lines, t, red_up=app.convention == "red-up", key_style=app.colours.key))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
