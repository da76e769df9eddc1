"""The whale ticker and the signal log: newest first, line API, only visible lines rendered."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, tzinfo
from typing import Generic, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gme_tui import format as fmt
from gme_tui.engine.rules import SIGNALS
from gme_tui.model import EXCHANGE_SHORT, Language, Side, Whale
from gme_tui.tui.view import SignalEntry
from gme_tui.tui.widgets.cells import DIM, DOWN, GRADE_STYLES, PLAIN, UP, Piece, fit

SIDE_TEXT: Mapping[Language, Mapping[Side, str]] = {
    "zh": {"buy": "买入", "sell": "卖出"},
    "en": {"buy": "BUY ", "sell": "SELL"},
}

ItemT = TypeVar("ItemT")


class LineList(ScrollView, Generic[ItemT]):
    """A scrollable list of items, each drawn as one line of styled pieces by `pieces()`."""

    DEFAULT_CSS = """
    LineList { overflow-x: hidden; scrollbar-size-vertical: 1; }
    """
    EMPTY = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: Sequence[ItemT] = ()
        self._strips: dict[tuple[Hashable, int], Strip] = {}

    def show(self, items: Sequence[ItemT]) -> None:
        self.items = items
        if len(self._strips) > 4 * max(50, self.size.height):
            self._strips.clear()
        self.virtual_size = Size(self.size.width, len(items))
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self.virtual_size = Size(event.size.width, len(self.items))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def cache_key(self, item: ItemT) -> Hashable:
        """What decides whether an item's cached line is still right."""
        return id(item)

    def pieces(self, item: ItemT, width: int) -> list[Piece]:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = round(self.scroll_offset.y) + y
        if index >= len(self.items):
            if index == 0 and self.EMPTY:
                return Strip([Segment(fit(self.EMPTY, width, "left"), base + DIM)])
            return Strip.blank(width, base)
        item = self.items[index]
        key = (self.cache_key(item), width)
        strip = self._strips.get(key)
        if strip is None:
            segments: list[Segment] = []
            for text, style in self.pieces(item, width):
                segments.append(Segment(text, base + style))
            strip = self._strips[key] = Strip(segments).adjust_cell_length(width, base)
        return strip


class WhaleTicker(LineList[Whale]):
    EMPTY = "no whale orders yet"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zone: tzinfo = UTC  # until the app configures it, before anything is shown
        self.language: Language = "zh"
        self.notify_threshold = 500_000.0

    def configure(self, zone: tzinfo, language: Language, notify_threshold: float) -> None:
        if (zone, language, notify_threshold) != (self.zone, self.language, self.notify_threshold):
            self.zone, self.language, self.notify_threshold = zone, language, notify_threshold
            self._strips.clear()
            self.refresh()

    def pieces(self, whale: Whale, width: int) -> list[Piece]:
        side_style = UP if whale.side == "buy" else DOWN
        # tiers: at or above the notify threshold bold, four times it inverted
        if whale.value >= 4 * self.notify_threshold:
            value_style = side_style + Style(bold=True, reverse=True)
        elif whale.value >= self.notify_threshold:
            value_style = side_style + Style(bold=True)
        else:
            value_style = side_style
        value = fmt.usd(whale.value) if width >= 46 else fmt.money(whale.value).lstrip("+")
        pieces: list[Piece] = [
            (fmt.clock(whale.ts, self.zone) + " ", DIM),
            (EXCHANGE_SHORT.get(whale.exchange, whale.exchange[:3].upper()) + " ", PLAIN),
            (fit(whale.symbol, 10, "left") + " ", Style(bold=True)),
            (SIDE_TEXT[self.language][whale.side] + " ", side_style),
            (fit(value, 11 if width >= 46 else 6, "right"), value_style),
        ]
        price = " @ " + fmt.price(whale.price)
        if sum(cell_len(text) for text, _ in pieces) + len(price) <= width:  # whole or not at all
            pieces.append((price, DIM))
        return _clip(pieces, width)


class SignalLogView(LineList[SignalEntry]):
    EMPTY = "no signals yet"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.zone: tzinfo = UTC  # until the app configures it, before anything is shown
        self.language: Language = "zh"

    def configure(self, zone: tzinfo, language: Language) -> None:
        if (zone, language) != (self.zone, self.language):
            self.zone, self.language = zone, language
            self._strips.clear()
            self.refresh()

    def cache_key(self, entry: SignalEntry) -> Hashable:
        return (id(entry), entry.count, entry.last_ts)

    def pieces(self, entry: SignalEntry, width: int) -> list[Piece]:
        label = SIGNALS.get(entry.code)
        name = label.text(self.language) if label else entry.code
        meaning = (label.meaning_zh if self.language == "zh" else label.meaning_en) if label else ""
        pieces: list[Piece] = [
            ("🚨" if width >= 60 else "", PLAIN),
            (fmt.clock(entry.last_ts, self.zone, seconds=False) + " ", DIM),
            (f"{entry.grade:<2}", GRADE_STYLES.get(entry.grade, PLAIN)),
            (" ", PLAIN),
            (entry.symbol + " ", Style(bold=True)),
            (name, PLAIN),
        ]
        if entry.count > 1:
            since = fmt.clock(entry.first_ts, self.zone, seconds=False)
            pieces.append((f" ×{entry.count} since {since}", Style(color="yellow")))
        if meaning:
            pieces.append((" - " + meaning, DIM))
        return _clip(pieces, width)


def _clip(pieces: list[Piece], width: int) -> list[Piece]:
    out: list[Piece] = []
    used = 0
    for text, style in pieces:
        size = cell_len(text)
        if used + size > width:
            room = width - used
            if room > 0:
                out.append((fit(text, room, "left"), style))
            break
        out.append((text, style))
        used += size
    return out
