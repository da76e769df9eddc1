"""How each consensus-table column turns a Row into styled text pieces (no Textual here).

Labels come from the catalogue and colours from `Colours` (gme_tui.tui.theme), both held by the
`CellContext` the table is given: a cell reads attributes, it never builds a dict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style

from gme_tui import format as fmt
from gme_tui.i18n import Catalogue, catalogue
from gme_tui.model import EXCHANGE_SHORT
from gme_tui.tui.theme import BOLD, PLAIN, Colours, default_colours
from gme_tui.tui.view import Row

Piece = tuple[str, Style]

SPARKS = "▁▂▃▄▅▆▇█"
ELLIPSIS = "…"
EN = catalogue("en")
DEFAULT_COLOURS = default_colours()
"""What a widget draws with before the app configures it (and what pure renderers default to)."""


@dataclass(frozen=True, slots=True)
class CellContext:
    t: Catalogue = EN
    colours: Colours = DEFAULT_COLOURS
    pinned: frozenset[str] = frozenset()
    muted: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # also the sort key
    title: str
    width: int  # at least the title, its indent and the sort arrow: a sorted title is never cut
    priority: int  # columns are dropped from the highest priority number down when narrow
    align: Literal["left", "right"]
    cell: Callable[[Row, CellContext], list[Piece]]
    indent: int = 0  # the title starts over the cell's text, not over its marks


def fit(text: str, width: int, align: str) -> str:
    """Pad or cut to exactly `width` terminal cells, CJK-aware. A cut text ends in "…" right after
    its last whole character; when a wide character did not fit, the spare cell goes after the
    ellipsis (never a gap before it)."""
    if width <= 0:
        return ""
    size = cell_len(text)
    if size > width:
        if width == 1:
            return ELLIPSIS
        kept = _cut(text, width - 1)
        return kept + ELLIPSIS + " " * (width - 1 - cell_len(kept))
    pad = " " * (width - size)
    return pad + text if align == "right" else text + pad


def _cut(text: str, cells: int) -> str:
    """The longest start of `text` that fits in `cells` (a wide character is never halved)."""
    if text.isascii():
        return text[:cells]
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > cells:
            return text[:index]
    return text


def title_text(column: Column, arrow: str = "") -> str:
    """The header cell: the title (indented), the sort arrow right after it, fitted."""
    room = column.width - column.indent - len(arrow)
    title = fit(column.title, room, "left").rstrip() if cell_len(column.title) > room else column.title
    return fit(" " * column.indent + title + arrow, column.width, column.align)


# ---------------------------------------------------------------- cells


def symbol_cell(row: Row, ctx: CellContext) -> list[Piece]:
    pin = ("*", ctx.colours.pin) if row.symbol in ctx.pinned else (" ", PLAIN)
    mute = ("m", ctx.colours.neutral) if row.symbol in ctx.muted else (" ", PLAIN)
    return [pin, mute, (row.symbol, BOLD)]


def consensus_cell(row: Row, ctx: CellContext) -> list[Piece]:
    level = row.scan.consensus.level
    return [(ctx.t.common.levels.get(level, level), ctx.colours.level(level))]


def exchange_cell(exchange: str) -> Callable[[Row, CellContext], list[Piece]]:
    def cell(row: Row, ctx: CellContext) -> list[Piece]:
        window = row.scan.exchanges.get(exchange)
        if window is None:
            return [("·", ctx.colours.neutral)]
        pieces: list[Piece] = [(fmt.money(window.net), ctx.colours.signed(window.net))]
        # a partial window is marked, never passed off as a full one (SPEC §2 coverage)
        pieces.append(("~" if exchange in row.short_coverage else " ", ctx.colours.warn))
        return pieces

    return cell


def total_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return [(fmt.money(row.total), ctx.colours.signed_bold(row.total))]


def ratio_cell(row: Row, ctx: CellContext) -> list[Piece]:
    value = row.buy_sell
    centred = None if value is None else value - 1
    return [(fmt.ratio(value), ctx.colours.signed(centred))]


def signals_cell(row: Row, ctx: CellContext) -> list[Piece]:
    pieces: list[Piece] = []
    for grade, code in zip(row.grades, row.codes):
        if pieces:
            pieces.append((" ", PLAIN))
        pieces.append((grade, ctx.colours.badge(grade, code)))
    return pieces


def sparkline(values: tuple[float, ...], width: int, colours: Colours) -> list[Piece]:
    """Net flow per minute as bars, height by size, in the up colour for inflow and the down
    colour for outflow; `width` buckets of minutes."""
    if not values or width <= 0:
        return []
    step = len(values) / width
    sums = [sum(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]
    peak = max(abs(v) for v in sums)
    pieces: list[Piece] = []
    for value in sums:
        if peak == 0 or value == 0:
            pieces.append((" ", colours.neutral))
            continue
        level = min(7, int(abs(value) / peak * 7.999))
        pieces.append((SPARKS[level], colours.up if value > 0 else colours.down))
    return pieces


def trend_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return sparkline(row.trend, TREND_WIDTH, ctx.colours)


def price_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return [(fmt.price(row.scan.price), PLAIN)]


def change_cell(row: Row, ctx: CellContext) -> list[Piece]:
    change = row.scan.price_change
    return [(fmt.percent(change), ctx.colours.signed(change))]


def volume_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return [(fmt.money(row.scan.volume).lstrip("+"), PLAIN)]


def share_cell(row: Row, ctx: CellContext) -> list[Piece]:
    share = row.net_share
    if share is None or math.isinf(share):
        return [("-", ctx.colours.neutral)]
    return [(f"{share * 100:+.1f}%", ctx.colours.signed(share))]


def perp_cell(row: Row, ctx: CellContext) -> list[Piece]:
    """The perpetuals' net flow over every perp venue (SPEC §4b); `·` for a symbol without a perp."""
    line = row.scan.derivatives
    if line is None:
        return [("·", ctx.colours.neutral)]
    return [
        (fmt.money(line.perp_total), ctx.colours.signed(line.perp_total)),
        ("~" if row.short_perp else " ", ctx.colours.warn),
    ]


def oi_text(change_pct: float | None) -> str:
    """An OI change in percent (already ×100): `+2.14%`, `-12.3%`, `+154%`; `-` when unknown."""
    if change_pct is None or change_pct != change_pct:
        return "-"
    size = abs(change_pct)
    if size >= 100:
        return f"{change_pct:+.0f}%"
    return f"{change_pct:+.1f}%" if size >= 10 else f"{change_pct:+.2f}%"


def oi_cell(row: Row, ctx: CellContext) -> list[Piece]:
    line = row.scan.derivatives
    if line is None:
        return [("·", ctx.colours.neutral)]
    return [(oi_text(line.oi_change_pct), ctx.colours.signed(line.oi_change_pct))]


TREND_WIDTH = 10
SYMBOL_MARKS = 2  # the pin and mute marks before a symbol


def table_columns(exchanges: tuple[str, ...], t: Catalogue, *, perps: bool = False) -> list[Column]:
    """Display order; priorities decide what stays on a narrow terminal (80 columns keeps the
    symbol, consensus, every exchange, total and signals in both languages; 100 adds the perp flow
    and the OI change). Each width is the widest of its figures and of its title with the sort
    arrow. `perps`: the perpetual columns exist (some perp venue is on)."""
    c = t.columns
    level_width = max(cell_len(name) for name in t.common.levels.values())

    def column(
        key: str, title: str, data: int, priority: int, align: Literal["left", "right"], cell: _Cell, indent: int = 0
    ) -> Column:
        return Column(key, title, max(data, indent + cell_len(title) + 1), priority, align, cell, indent)

    columns = [
        column("symbol", c.symbol, 12, 0, "left", symbol_cell, indent=SYMBOL_MARKS),
        column("consensus", c.consensus, level_width, 1, "left", consensus_cell),
    ]
    for rank, exchange in enumerate(exchanges):
        columns.append(column(exchange, EXCHANGE_SHORT[exchange], 8, 3 + rank, "right", exchange_cell(exchange)))
    columns.append(column("total", c.total, 8, 1, "right", total_cell))
    if perps:  # next to the spot total: B compares the two
        columns.append(column("perp", c.perp, 8, 7, "right", perp_cell))
        columns.append(column("oi", c.oi_change, 7, 8, "right", oi_cell))
    columns += [
        column("ratio", c.ratio, 5, 12, "right", ratio_cell),
        column("signals", c.signals, 6, 2, "left", signals_cell),
        column("trend", c.trend, TREND_WIDTH, 14, "left", trend_cell),
        column("price", c.price, 10, 9, "right", price_cell),
        column("change", c.change, 8, 10, "right", change_cell),
        column("volume", c.volume, 7, 13, "right", volume_cell),
        column("share", c.share, 7, 11, "right", share_cell),
    ]
    return columns


_Cell = Callable[[Row, CellContext], list[Piece]]


def fit_columns(columns: list[Column], width: int) -> list[Column]:
    """The columns that fit in `width` cells (one space between), keeping display order."""
    chosen: set[str] = set()
    used = -1
    for column in sorted(columns, key=lambda c: c.priority):
        if used + 1 + column.width <= width:
            chosen.add(column.key)
            used += 1 + column.width
    return [column for column in columns if column.key in chosen]
