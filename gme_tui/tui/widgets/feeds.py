"""The whale ticker, the liquidation feed and the signal log: newest first, line API, only visible
lines rendered."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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
from gme_tui.i18n import Catalogue, catalogue
from gme_tui.model import EXCHANGE_SHORT, Liquidation, Whale
from gme_tui.tui.theme import BOLD, PLAIN, Colours, default_colours
from gme_tui.tui.view import SignalEntry
from gme_tui.tui.widgets.cells import Piece, fit


def side_text(t: Catalogue, side: str) -> str:
    """BUY / SELL (买入 / 卖出), padded to one width so the figures after it line up."""
    words = t.common
    width = max(cell_len(words.buy), cell_len(words.sell))
    return fit(words.buy if side == "buy" else words.sell, width, "left")


def position_text(t: Catalogue, side: str) -> str:
    """LONG / SHORT (多单 / 空单): the position a liquidation closed, padded to one width."""
    words = t.common
    width = max(cell_len(words.long), cell_len(words.short))
    return fit(words.long if side == "long" else words.short, width, "left")


def value_tier(style: Style, value: float, threshold: float) -> Style:
    """From `threshold` bold, from four times it inverted: the big ones stand out."""
    if value >= 4 * threshold:
        return style + Style(bold=True, reverse=True)
    if value >= threshold:
        return style + Style(bold=True)
    return style


ItemT = TypeVar("ItemT")


class LineList(ScrollView, Generic[ItemT]):
    """A scrollable list of items, each drawn as one line of styled pieces by `pieces()`."""

    DEFAULT_CSS = """
    LineList { overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: Sequence[ItemT] = ()
        self._strips: dict[tuple[Hashable, int], Strip] = {}
        self.zone: tzinfo = UTC  # until the app configures it, before anything is shown
        self.t: Catalogue = catalogue("en")
        self.colours: Colours = default_colours()

    @property
    def empty_text(self) -> str:
        """What the list says while it holds nothing."""
        return ""

    def configure(self, zone: tzinfo, t: Catalogue, colours: Colours) -> None:
        """The zone, labels and colours lines are drawn in; a change redraws every line."""
        if (zone, t, colours) != (self.zone, self.t, self.colours):
            self.zone, self.t, self.colours = zone, t, colours
            self._strips.clear()
            self.refresh()

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
            if index == 0 and self.empty_text:
                return Strip([Segment(fit(self.empty_text, width, "left"), base + self.colours.neutral)])
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
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.notify_threshold = 500_000.0

    @property
    def empty_text(self) -> str:
        return self.t.main.whales_empty

    def set_threshold(self, notify_threshold: float) -> None:
        """Whales from this value are drawn bold, from four times it inverted."""
        if notify_threshold != self.notify_threshold:
            self.notify_threshold = notify_threshold
            self._strips.clear()
            self.refresh()

    def pieces(self, whale: Whale, width: int) -> list[Piece]:
        colours = self.colours
        side_style = colours.up if whale.side == "buy" else colours.down
        value_style = value_tier(side_style, whale.value, self.notify_threshold)
        value = fmt.usd(whale.value) if width >= 46 else fmt.money(whale.value).lstrip("+")
        pieces: list[Piece] = [
            (fmt.clock(whale.ts, self.zone) + " ", colours.neutral),
            (EXCHANGE_SHORT.get(whale.exchange, whale.exchange[:3].upper()) + " ", PLAIN),
            (fit(whale.symbol, 10, "left") + " ", BOLD),
            (side_text(self.t, whale.side) + " ", side_style),
            (fit(value, 11 if width >= 46 else 6, "right"), value_style),
        ]
        price = " @ " + fmt.price(whale.price)
        if sum(cell_len(text) for text, _ in pieces) + len(price) <= width:  # whole or not at all
            pieces.append((price, colours.neutral))
        return _clip(pieces, width)


class LiquidationTicker(LineList[Liquidation]):
    """Forced liquidations (SPEC §4b), as the whale ticker draws whales. A liquidated long is a
    forced sell (the down colour), a liquidated short a forced buy (the up colour)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.notify_threshold = 1_000_000.0

    @property
    def empty_text(self) -> str:
        return self.t.main.liquidations_empty

    def set_threshold(self, notify_threshold: float) -> None:
        """Liquidations from this value are drawn bold, from four times it inverted."""
        if notify_threshold != self.notify_threshold:
            self.notify_threshold = notify_threshold
            self._strips.clear()
            self.refresh()

    def pieces(self, item: Liquidation, width: int) -> list[Piece]:
        colours = self.colours
        side_style = colours.down if item.side == "long" else colours.up
        value_style = value_tier(side_style, item.value, self.notify_threshold)
        value = fmt.usd(item.value) if width >= 46 else fmt.money(item.value).lstrip("+")
        pieces: list[Piece] = [
            (fmt.clock(item.ts, self.zone) + " ", colours.neutral),
            (EXCHANGE_SHORT.get(item.exchange, item.exchange[:3].upper()) + " ", PLAIN),
            (fit(item.symbol, 10, "left") + " ", BOLD),
            (position_text(self.t, item.side) + " ", side_style),
            (fit(value, 11 if width >= 46 else 6, "right"), value_style),
        ]
        price = " @ " + fmt.price(item.price)
        if sum(cell_len(text) for text, _ in pieces) + len(price) <= width:  # whole or not at all
            pieces.append((price, colours.neutral))
        return _clip(pieces, width)


class SignalLogView(LineList[SignalEntry]):
    @property
    def empty_text(self) -> str:
        return self.t.main.signals_empty

    def cache_key(self, entry: SignalEntry) -> Hashable:
        return (id(entry), entry.count, entry.last_ts)

    def pieces(self, entry: SignalEntry, width: int) -> list[Piece]:
        words, colours = self.t.common, self.colours
        name = words.signals.get(entry.code, entry.code)
        meaning = words.signal_meanings.get(entry.code, "")
        pieces: list[Piece] = [
            ("🚨 " if width >= 60 else "", PLAIN),
            (fmt.clock(entry.last_ts, self.zone, seconds=False) + " ", colours.neutral),
            (f"{entry.grade:<2}", colours.badge(entry.grade, entry.code)),
            (" ", PLAIN),
            (entry.symbol + " ", BOLD),
            (name, PLAIN),
        ]
        if entry.count > 1:
            since = fmt.clock(entry.first_ts, self.zone, seconds=False)
            pieces.append((" " + words.repeat.format(count=entry.count, time=since), colours.warn))
        if meaning:
            pieces.append((" - " + meaning, colours.neutral))
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
