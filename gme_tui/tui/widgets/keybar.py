"""The key bar at the bottom of each screen: `key label` pairs in the labels' language.

Textual's Footer lays its keys out itself: at 80 columns it cut `h History` to `h Hist`, left a
stray `m` of a key that did not fit, and joined the grade group to the next key so `s` vanished.
This bar shows whole pairs only: when the width is short, the least useful pairs go (each has a
`drop` rank), and the `^p` palette hint shows only when everything else fits. A click on a pair
runs its action, as the Footer did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.widget import Widget

from gme_tui.tui.theme import PLAIN, Colours, default_colours

GAP = "  "


@dataclass(frozen=True, slots=True)
class KeyItem:
    """One pair: `keys` as shown (`0-5`, `enter`), `label`, the action a click runs (namespaced as
    a binding's: `app.quit`, or the screen's own), and its `drop` rank (higher goes first; 0 stays)."""

    keys: str
    label: str
    action: str
    drop: int = 0


def fit_items(items: Sequence[KeyItem], width: int) -> list[KeyItem]:
    """The items that fit in `width` cells, in their order, dropping the highest rank first."""
    kept = list(items)

    def size() -> int:
        return sum(cell_len(f"{item.keys} {item.label}") for item in kept) + len(GAP) * max(0, len(kept) - 1)

    for item in sorted((i for i in kept if i.drop), key=lambda i: -i.drop):
        if size() <= width:
            break
        kept.remove(item)
    while kept and size() > width:  # even the essential ones do not fit: keep what does
        kept.pop()
    return kept


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[KeyItem, ...] = ()
        self.palette = ""  # "^p palette": shown at the right when every item fits beside it
        self.colours: Colours = default_colours()
        self._shown: list[tuple[int, int, KeyItem]] = []  # (start, end, item) of the last render

    def show(self, items: Sequence[KeyItem], *, colours: Colours, palette: str = "") -> None:
        items = tuple(items)
        if (items, colours, palette) != (self.items, self.colours, self.palette):
            self.items, self.colours, self.palette = items, colours, palette
            self.refresh()

    def line(self, width: int) -> Text:
        """The bar's text at `width` cells (also what a test reads)."""
        kept = fit_items(self.items, width)
        text = Text(no_wrap=True, overflow="crop", end="")
        self._shown = []
        for number, item in enumerate(kept):
            if number:
                text.append(GAP)
            start = text.cell_len
            text.append(item.keys, self.colours.key)
            text.append(" " + item.label, PLAIN)
            self._shown.append((start, text.cell_len, item))
        hint = self.palette
        if hint and len(kept) == len(self.items) and text.cell_len + len(GAP) + cell_len(hint) <= width:
            text.append(" " * (width - text.cell_len - cell_len(hint)))
            text.append(hint, self.colours.neutral)
        return text

    def render(self) -> RenderResult:
        return self.line(max(1, self.content_size.width))

    async def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for start, end, item in self._shown:
            if start <= offset.x < end:
                await self.app.run_action(item.action, self.screen)
                return
