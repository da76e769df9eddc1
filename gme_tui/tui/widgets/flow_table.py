"""The consensus table on Textual's line API: only the visible rows are rendered, each row's Strip
is cached until its data changes, and the header stays fixed on line 0.

DataTable redraws every visible cell on any change (~50 ms for 600×10); this renders ~40 rows of
pre-styled segments instead. The table holds no market logic: it is given rows and renders them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gme_tui.i18n import catalogue
from gme_tui.tui.view import Row, SortSpec
from gme_tui.tui.widgets.cells import CellContext, Column, fit, fit_columns, title_text

TIPS = catalogue("en").tips  # Textual's tooltips; the help screen shows the catalogue's, in the language


class FlowTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"flow-table--header", "flow-table--cursor", "flow-table--sorted"}
    DEFAULT_CSS = """
    FlowTable { overflow-x: hidden; scrollbar-size-vertical: 1; }
    FlowTable > .flow-table--header { text-style: bold; background: $panel; }
    FlowTable > .flow-table--sorted { text-style: bold reverse; }
    FlowTable > .flow-table--cursor { background: $row-cursor; }
    FlowTable:focus > .flow-table--cursor { background: $row-cursor; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, tooltip=TIPS.move),
        Binding("down,j", "cursor(1)", "Down", show=False, tooltip=TIPS.move),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip=TIPS.move),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip=TIPS.move),
        Binding("home", "edge(0)", "Top", show=False, tooltip=TIPS.edge),
        Binding("end", "edge(1)", "Bottom", show=False, tooltip=TIPS.edge),
    ]

    class HeaderClicked(Message):
        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    class RowSelected(Message):
        """The cursor moved onto `symbol` (by key or click)."""

        def __init__(self, symbol: str | None) -> None:
            super().__init__()
            self.symbol = symbol

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.all_columns: list[Column] = []
        self.columns: list[Column] = []
        self.rows: list[Row] = []
        self.context = CellContext()
        self.sort = SortSpec()
        self.cursor = 0
        self.header_note: dict[str, str] = {}  # column key -> title override (coverage marks)
        self.empty_text = ""  # said under the header when no row is shown
        self._strips: dict[tuple[int, bool], Strip] = {}
        self._header: Strip | None = None
        self._fitted_width = -1

    # ------------------------------------------------------------ state in

    def show(
        self,
        rows: Sequence[Row],
        *,
        columns: list[Column],
        context: CellContext,
        sort: SortSpec,
        selected: str | None,
        header_note: dict[str, str] | None = None,
        empty_text: str = "",
    ) -> str | None:
        """Replace what is shown; the cursor follows `selected` when it is still there, else keeps
        its index; `empty_text` is said when there is no row. Returns the symbol now under the cursor."""
        if columns is not self.all_columns or context != self.context:
            self.all_columns = columns
            self._fitted_width = -1
        self.context = context
        self.sort = sort
        self.header_note = header_note or {}
        self.empty_text = empty_text
        self.rows = list(rows)
        self._strips.clear()
        self._header = None
        index = next((i for i, row in enumerate(self.rows) if row.symbol == selected), None)
        self.cursor = index if index is not None else max(0, min(self.cursor, len(self.rows) - 1))
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self._scroll_cursor_into_view()
        self.refresh()
        return self.selected

    @property
    def selected(self) -> str | None:
        return self.rows[self.cursor].symbol if 0 <= self.cursor < len(self.rows) else None

    # ------------------------------------------------------------ actions

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        self._move_to(len(self.rows) - 1 if end else 0)

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        if index == self.cursor:
            return
        self._strips.pop((self.cursor, True), None)
        self._strips.pop((index, False), None)
        self.cursor = index
        self._scroll_cursor_into_view()
        self.refresh()
        self.post_message(self.RowSelected(self.selected))

    def _scroll_cursor_into_view(self) -> None:
        body = max(1, self.size.height - 1)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + body:
            self.scroll_to(y=self.cursor - body + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.HeaderClicked(column.key))
            return
        self._move_to(round(self.scroll_offset.y) + offset.y - 1)

    def _column_at(self, x: int) -> Column | None:
        left = 0
        for column in self._fitted():
            if left <= x < left + column.width + 1:
                return column
            left += column.width + 1
        return None

    # ------------------------------------------------------------ rendering

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows) + 1)
        self._strips.clear()
        self._header = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._header = None

    def _fitted(self) -> list[Column]:
        width = self.scrollable_content_region.width
        if width != self._fitted_width:
            self.columns = fit_columns(self.all_columns, width)
            self._fitted_width = width
        return self.columns

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            if self._header is None:
                self._header = self._render_header(width)
            return self._header
        index = round(self.scroll_offset.y) + y - 1
        if index >= len(self.rows):
            if index == 0 and self.empty_text:
                return _finish([Segment(" " + self.empty_text, base + self.context.colours.neutral)], width, base)
            return Strip.blank(width, base)
        key = (index, index == self.cursor)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._render_row(self.rows[index], width, key[1])
        return strip

    def _render_header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("flow-table--header")
        sorted_style = style + self.get_component_rich_style("flow-table--sorted", partial=True)
        segments: list[Segment] = []
        for column in self._fitted():
            shown = replace(column, title=self.header_note.get(column.key, column.title))
            is_sorted = column.key == self.sort.column
            arrow = ("↓" if self.sort.descending else "↑") if is_sorted else ""
            segments.append(Segment(title_text(shown, arrow), sorted_style if is_sorted else style))
            segments.append(Segment(" ", style))
        return _finish(segments, width, style)

    def _render_row(self, row: Row, width: int, is_cursor: bool) -> Strip:
        base = self.rich_style
        if is_cursor:
            base = base + self.get_component_rich_style("flow-table--cursor")
        context = self.context
        segments: list[Segment] = []
        for column in self._fitted():
            pieces = column.cell(row, context)
            segments.extend(_cell_segments(pieces, column, base))
            segments.append(Segment(" ", base))
        return _finish(segments, width, base)


def _cell_segments(pieces: list[tuple[str, Style]], column: Column, base: Style) -> list[Segment]:
    if len(pieces) == 1:
        text, style = pieces[0]
        fitted = fit(text, column.width, column.align)
        if not style.bgcolor:
            return [Segment(fitted, base + style)]
    used = 0
    out: list[Segment] = []
    for text, style in pieces:
        room = column.width - used
        if room <= 0:
            break
        cells = len(text) if text.isascii() else _cells(text)
        if cells > room:
            text, cells = fit(text, room, "left"), room
        used += cells
        out.append(Segment(text, base + style))
    pad = Segment(" " * max(0, column.width - used), base)
    return [pad, *out] if column.align == "right" else [*out, pad]


def _cells(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _finish(segments: list[Segment], width: int, style: Style) -> Strip:
    return Strip(segments).adjust_cell_length(width, style)
