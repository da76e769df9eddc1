"""How each consensus-table column turns a Row into styled text pieces (no Textual here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len, set_cell_size
from rich.style import Style

from gme_tui import format as fmt
from gme_tui.engine.rules import LEVELS
from gme_tui.model import EXCHANGE_SHORT, Grade, Language, Level
from gme_tui.tui.view import Row

Piece = tuple[str, Style]

UP = Style(color="green")
UP_BOLD = Style(color="bright_green", bold=True)
DOWN = Style(color="red")
DOWN_BOLD = Style(color="bright_red", bold=True)
DIM = Style(dim=True)
PLAIN = Style()
WARN = Style(color="yellow")
PIN = Style(color="yellow", bold=True)
LEVEL_STYLES: Mapping[Level, Style] = {
    Level.STRONG_BULLISH: UP_BOLD,
    Level.LEAN_BULLISH: UP,
    Level.MIXED: Style(color="bright_black"),
    Level.LEAN_BEARISH: DOWN,
    Level.STRONG_BEARISH: DOWN_BOLD,
}
GRADE_STYLES: Mapping[Grade, Style] = {
    Grade.A_PLUS: Style(color="black", bgcolor="bright_green", bold=True),
    Grade.A: Style(color="black", bgcolor="green"),
    Grade.B: Style(color="black", bgcolor="yellow"),
    Grade.C: Style(color="black", bgcolor="magenta"),
}
SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class CellContext:
    language: Language = "zh"
    pinned: frozenset[str] = frozenset()
    muted: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # also the sort key
    title: str
    width: int
    priority: int  # columns are dropped from the highest priority number down when narrow
    align: Literal["left", "right"]
    cell: Callable[[Row, CellContext], list[Piece]]


def signed_style(value: float | None) -> Style:
    if value is None or value == 0 or value != value:
        return DIM
    return UP if value > 0 else DOWN


def fit(text: str, width: int, align: str) -> str:
    """Pad or cut to exactly `width` terminal cells, CJK-aware."""
    size = cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - size)
    return pad + text if align == "right" else text + pad


# ---------------------------------------------------------------- cells


def symbol_cell(row: Row, ctx: CellContext) -> list[Piece]:
    pin = ("*", PIN) if row.symbol in ctx.pinned else (" ", PLAIN)
    mute = ("m", DIM) if row.symbol in ctx.muted else (" ", PLAIN)
    return [pin, mute, (row.symbol, Style(bold=True))]


def consensus_cell(row: Row, ctx: CellContext) -> list[Piece]:
    level = row.scan.consensus.level
    label = LEVELS[level].text(ctx.language) if level in LEVELS else level
    return [(label, LEVEL_STYLES.get(level, PLAIN))]


def exchange_cell(exchange: str) -> Callable[[Row, CellContext], list[Piece]]:
    def cell(row: Row, ctx: CellContext) -> list[Piece]:
        window = row.scan.exchanges.get(exchange)
        if window is None:
            return [("·", DIM)]
        pieces: list[Piece] = [(fmt.money(window.net), signed_style(window.net))]
        # a partial window is marked, never passed off as a full one (SPEC §2 coverage)
        pieces.append(("~" if exchange in row.short_coverage else " ", WARN))
        return pieces

    return cell


def total_cell(row: Row, ctx: CellContext) -> list[Piece]:
    style = UP_BOLD if row.total > 0 else DOWN_BOLD if row.total < 0 else DIM
    return [(fmt.money(row.total), style)]


def ratio_cell(row: Row, ctx: CellContext) -> list[Piece]:
    value = row.buy_sell
    style = DIM if value is None else UP if value > 1 else DOWN if value < 1 else DIM
    return [(fmt.ratio(value), style)]


def signals_cell(row: Row, ctx: CellContext) -> list[Piece]:
    pieces: list[Piece] = []
    for grade in row.grades:
        if pieces:
            pieces.append((" ", PLAIN))
        pieces.append((grade, GRADE_STYLES[grade]))
    return pieces


def sparkline(values: tuple[float, ...], width: int) -> list[Piece]:
    """Net flow per minute as bars, height by size, green in / red out; `width` buckets of minutes."""
    if not values or width <= 0:
        return []
    step = len(values) / width
    sums = [sum(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)]
    peak = max(abs(v) for v in sums)
    pieces: list[Piece] = []
    for value in sums:
        if peak == 0 or value == 0:
            pieces.append((" ", DIM))
            continue
        level = min(7, int(abs(value) / peak * 7.999))
        pieces.append((SPARKS[level], UP if value > 0 else DOWN))
    return pieces


def trend_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return sparkline(row.trend, TREND_WIDTH)


def price_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return [(fmt.price(row.scan.price), PLAIN)]


def change_cell(row: Row, ctx: CellContext) -> list[Piece]:
    change = row.scan.price_change
    return [(fmt.percent(change), signed_style(change))]


def volume_cell(row: Row, ctx: CellContext) -> list[Piece]:
    return [(fmt.money(row.scan.volume).lstrip("+"), PLAIN)]


def share_cell(row: Row, ctx: CellContext) -> list[Piece]:
    share = row.net_share
    if share is None or math.isinf(share):
        return [("-", DIM)]
    return [(f"{share * 100:+.1f}%", signed_style(share))]


TREND_WIDTH = 10


def table_columns(exchanges: tuple[str, ...], language: Language) -> list[Column]:
    """Display order; priorities decide what stays on a narrow terminal (80 columns keeps the
    symbol, consensus, every exchange, total and signals)."""
    columns = [
        Column("symbol", "SYMBOL", 12, 0, "left", symbol_cell),
        Column("consensus", "CONSENSUS", 10 if language == "zh" else 14, 1, "left", consensus_cell),
    ]
    for rank, exchange in enumerate(exchanges):
        columns.append(Column(exchange, EXCHANGE_SHORT[exchange], 8, 3 + rank, "right", exchange_cell(exchange)))
    columns += [
        Column("total", "TOTAL", 8, 1, "right", total_cell),
        Column("ratio", "B/S", 5, 11, "right", ratio_cell),
        Column("signals", "SIGNAL", 6, 2, "left", signals_cell),
        Column("trend", "FLOW/WIN", TREND_WIDTH, 13, "left", trend_cell),
        Column("price", "PRICE", 10, 8, "right", price_cell),
        Column("change", "CHG", 8, 9, "right", change_cell),
        Column("volume", "VOLUME", 7, 12, "right", volume_cell),
        Column("share", "NET%", 7, 10, "right", share_cell),
    ]
    return columns


def fit_columns(columns: list[Column], width: int) -> list[Column]:
    """The columns that fit in `width` cells (one space between), keeping display order."""
    chosen: set[str] = set()
    used = -1
    for column in sorted(columns, key=lambda c: c.priority):
        if used + 1 + column.width <= width:
            chosen.add(column.key)
            used += 1 + column.width
    return [column for column in columns if column.key in chosen]
