"""The UI's state as plain data: rows built from a scan, filtering, sorting, folded signals, whales.

Pure and Textual-free so it is cheap to test and to measure. Widgets only render what this holds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gme_tui.engine.rules import GRADE_ORDER
from gme_tui.i18n import Catalogue
from gme_tui.model import (
    EXCHANGES,
    EngineEvent,
    Grade,
    Level,
    Liquidation,
    Scan,
    Signal,
    SignalCode,
    SymbolScan,
    Whale,
)

GRADE_FILTERS: Mapping[int, str] = {0: "all", 1: "A+", 2: "A", 3: "B", 4: "C", 5: "any signal"}


def grade_filter_name(number: int, t: Catalogue) -> str:
    """The grade filter of key `number` as the user reads it: all / A+ / A / B / C / any signal."""
    if number == 0:
        return t.common.grade_all
    if number == 5:
        return t.common.grade_any
    return GRADE_FILTERS[number]


LEVEL_ORDER: Mapping[Level, int] = {
    Level.STRONG_BULLISH: 0,
    Level.LEAN_BULLISH: 1,
    Level.MIXED: 2,
    Level.LEAN_BEARISH: 3,
    Level.STRONG_BEARISH: 4,
}
NO_GRADE = 9


@dataclass(slots=True, eq=False)
class Row:
    """One symbol's line in the consensus table, with the figures the columns sort on.
    Built for every symbol on every scan, so the per-minute trend is only summed when shown."""

    symbol: str
    scan: SymbolScan
    grades: tuple[Grade, ...]  # distinct grades of its signals, best first
    codes: tuple[SignalCode, ...]  # per grade, the code of its first signal (for the badge's direction)
    total: float
    buy_sell: float | None  # all participating exchanges' buy / sell
    net_share: float | None  # total net as a share of window volume
    short_coverage: tuple[str, ...]  # exchanges whose covered minutes fall short of the window
    short_perp: bool = False  # a perp venue's covered minutes fall short of the window
    _trend: tuple[float, ...] | None = None

    @property
    def trend(self) -> tuple[float, ...]:
        """Net per minute summed over exchanges, oldest first."""
        if self._trend is None:
            windows = self.scan.exchanges.values()
            self._trend = tuple(map(sum, zip(*(w.minute_nets for w in windows)))) if windows else ()
        return self._trend

    @property
    def best_grade(self) -> int:
        return GRADE_ORDER[self.grades[0]] if self.grades else NO_GRADE

    @property
    def momentum(self) -> float:
        """Net flow of the last five minutes: what the sparkline's right end shows."""
        return sum(self.trend[-5:])


def build_row(item: SymbolScan, window_minutes: int) -> Row:
    windows = item.exchanges.values()
    buy = sell = 0.0
    short: list[str] = []
    for window in windows:
        buy += window.buy
        sell += window.sell
        if window.covered_minutes is not None and window.covered_minutes < window_minutes:
            short.append(window.exchange)
    signals = item.signals
    grades = tuple(sorted({s.grade for s in signals}, key=GRADE_ORDER.__getitem__)) if signals else ()
    codes = tuple(next(s.code for s in signals if s.grade == grade) for grade in grades)
    total = item.consensus.total
    perp_coverage = item.derivatives.perp_coverage if item.derivatives is not None else None
    return Row(
        symbol=item.consensus.symbol,
        scan=item,
        grades=grades,
        codes=codes,
        total=total,
        buy_sell=buy / sell if sell > 0 else (float("inf") if buy > 0 else None),
        net_share=total / item.volume if item.volume > 0 else None,
        short_coverage=tuple(short),
        short_perp=perp_coverage is not None and any(m < window_minutes for m in perp_coverage.values()),
    )


# ---------------------------------------------------------------- columns and sorting


@dataclass(frozen=True, slots=True)
class SortSpec:
    column: str = "total"
    descending: bool = True


def sort_value(column: str) -> Callable[[Row], float | str | None]:
    """The value a column sorts on; None sorts last whatever the direction."""
    if column in EXCHANGES:
        return lambda row: w.net if (w := row.scan.exchanges.get(column)) is not None else None
    return _SORT_VALUES[column]


_SORT_VALUES: dict[str, Callable[[Row], float | str | None]] = {
    "symbol": lambda row: row.symbol,
    "consensus": lambda row: LEVEL_ORDER.get(row.scan.consensus.level, 2),
    "total": lambda row: row.total,
    "ratio": lambda row: row.buy_sell,
    "signals": lambda row: row.best_grade if row.grades else None,
    "trend": lambda row: row.momentum,
    "price": lambda row: row.scan.price,
    "change": lambda row: row.scan.price_change,
    "volume": lambda row: row.scan.volume,
    "share": lambda row: row.net_share,
    "perp": lambda row: d.perp_total if (d := row.scan.derivatives) is not None else None,
    "oi": lambda row: d.oi_change_pct if (d := row.scan.derivatives) is not None else None,
}
# Columns whose natural first direction is ascending (text, ranks where 0 is best).
ASCENDING_FIRST = frozenset({"symbol", "consensus", "signals"})


def sort_rows(rows: Iterable[Row], spec: SortSpec) -> list[Row]:
    """Sorted by the spec, ties broken by symbol (ascending), missing values last."""
    value_of = sort_value(spec.column)
    by_symbol = sorted(rows, key=lambda row: row.symbol)
    present = [(value_of(row), row) for row in by_symbol]
    missing = [row for value, row in present if value is None]
    valued = [(value, row) for value, row in present if value is not None]
    valued.sort(key=lambda pair: pair[0], reverse=spec.descending)  # stable: symbol order kept in ties
    return [row for _, row in valued] + missing


def matches(row: Row, grade_filter: int, search: str) -> bool:
    if search and search not in row.symbol.casefold():
        return False
    if grade_filter == 0:
        return True
    if grade_filter == 5:
        return bool(row.grades)
    return GRADE_FILTERS[grade_filter] in row.grades


def visible_rows(
    rows: Iterable[Row], *, grade_filter: int, search: str, sort: SortSpec, pinned: Sequence[str]
) -> list[Row]:
    """What the table shows: filtered, sorted, pinned symbols on top in the same order."""
    needle = search.strip().casefold()
    kept = [row for row in rows if matches(row, grade_filter, needle)]
    ordered = sort_rows(kept, sort)
    pins = set(pinned)
    if not pins:
        return ordered
    return [row for row in ordered if row.symbol in pins] + [row for row in ordered if row.symbol not in pins]


# ---------------------------------------------------------------- signal log and whales


@dataclass(slots=True, eq=False)
class SignalEntry:
    """A signal line; repeats of the same (symbol, grade) within the cooldown fold into it."""

    symbol: str
    grade: Grade
    code: SignalCode
    first_ts: int
    last_ts: int
    count: int = 1
    seq: int = 0  # position in the log, to tell whether the deque has dropped it


class SignalLog:
    def __init__(self, max_rows: int) -> None:
        self.entries: deque[SignalEntry] = deque(maxlen=max_rows)  # newest first
        self._open: dict[tuple[str, Grade], SignalEntry] = {}
        self._added = 0

    def add(self, signal: Signal, cooldown_ms: int) -> None:
        key = (signal.symbol, signal.grade)
        entry = self._open.get(key)
        alive = entry is not None and self._added - entry.seq <= (self.entries.maxlen or 1 << 62)
        if entry is not None and alive and signal.ts - entry.first_ts < cooldown_ms:
            if signal.ts > entry.last_ts:
                entry.last_ts = signal.ts
                entry.count += 1
            return
        self._added += 1
        entry = SignalEntry(signal.symbol, signal.grade, signal.code, signal.ts, signal.ts, seq=self._added)
        self._open[key] = entry
        self.entries.appendleft(entry)

    def for_symbol(self, symbol: str) -> list[SignalEntry]:
        return [entry for entry in self.entries if entry.symbol == symbol]


@dataclass
class Market:
    """Everything the engine has told the UI so far."""

    whale_rows: int = 200
    signal_rows: int = 500
    scan: Scan | None = None
    rows: dict[str, Row] = field(default_factory=dict)
    whales: deque[Whale] = field(init=False)
    liquidations: deque[Liquidation] = field(init=False)  # newest first (SPEC §4b)
    signals: SignalLog = field(init=False)
    scans_seen: int = 0  # read by benchmarks/bench_tui.py

    def __post_init__(self) -> None:
        self.whales = deque(maxlen=self.whale_rows)
        self.liquidations = deque(maxlen=self.whale_rows)
        self.signals = SignalLog(self.signal_rows)

    def apply(self, events: Sequence[EngineEvent], cooldown_ms: int) -> None:
        """Fold one tick's events in. Only the newest scan builds rows."""
        latest: Scan | None = None
        for event in events:
            if isinstance(event, Whale):
                self._add_whale(event)
            elif isinstance(event, Liquidation):
                self.liquidations.appendleft(event)
            elif isinstance(event, Scan):
                latest = event
                self.scans_seen += 1
                for item in event.symbols:
                    for signal in item.signals:
                        self.signals.add(signal, cooldown_ms)
        if latest is not None:
            self.scan = latest
            self.rows = {item.consensus.symbol: build_row(item, latest.window_minutes) for item in latest.symbols}

    def _add_whale(self, whale: Whale) -> None:
        """Newest first. A backfilled whale is older than what streamed since: it goes to its place."""
        whales = self.whales
        if not whale.backfilled or not whales or whale.ts >= whales[0].ts:
            whales.appendleft(whale)
            return
        index = next((i for i, shown in enumerate(whales) if whale.ts >= shown.ts), len(whales))
        full = len(whales) == whales.maxlen
        if full and index == len(whales):
            return  # older than everything kept
        if full:
            whales.pop()
        whales.insert(index, whale)

    def liquidations_of(self, symbol: str, limit: int = 20) -> list[Liquidation]:
        """The symbol's latest liquidations of this session, newest first."""
        out: list[Liquidation] = []
        for item in self.liquidations:
            if item.symbol == symbol:
                out.append(item)
                if len(out) >= limit:
                    break
        return out

    def whales_of(self, symbol: str, limit: int = 20) -> list[Whale]:
        out: list[Whale] = []
        for whale in self.whales:
            if whale.symbol == symbol:
                out.append(whale)
                if len(out) >= limit:
                    break
        return out
